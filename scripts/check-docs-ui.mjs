// Opens the example server's /docs (Swagger UI) in headless Chromium and
// checks it: every operation of /openapi.json rendered (count, method and
// path; at least one), no request off loopback attempted (every one is
// refused and recorded), no console error; saves a full-page screenshot.
// Run by scripts/check-docs-ui.sh, which starts the server and installs
// playwright-core (pinned) under ~/.cache/axum-users-docs-check.
//
// Environment:
//   DOCS_BASE_URL     the server, e.g. http://127.0.0.1:18001
//   DOCS_SCREENSHOT   where to save the PNG
//   DOCS_NODE_DIR     the folder where playwright-core is installed
//   DOCS_CHROMIUM     the Chromium executable (default /usr/bin/chromium)
//   DOCS_TIMEOUT_MS   how long Swagger UI may take to render (default 30000)

import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`check-docs-ui.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const base = required('DOCS_BASE_URL').replace(/\/+$/, '');
const screenshot = required('DOCS_SCREENSHOT');
const nodeDir = required('DOCS_NODE_DIR');
const executablePath = process.env.DOCS_CHROMIUM || '/usr/bin/chromium';
// How long Swagger UI may take to render.
const TIMEOUT = Number(process.env.DOCS_TIMEOUT_MS || 30_000);

// playwright-core lives outside the repository.
const require = createRequire(join(nodeDir, 'package.json'));
const { chromium } = require('playwright-core');

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const offLoopback = new Set(); // requests off loopback, refused: "METHOD url"
const consoleErrors = [];
const failedRequests = [];
const problems = [];

function isLoopback(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return true; // not network
  return (parsed.protocol === 'http:' || parsed.protocol === 'https:' || parsed.protocol === 'ws:')
    && LOOPBACK.has(parsed.hostname);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'axum-users-docs-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });

  // Refuse, and record, every request that is not to loopback.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    offLoopback.add(`${route.request().method()} ${url}`);
    return route.abort('blockedbyclient');
  });
  // Also what the route handler may not see (service workers, websockets).
  context.on('request', (request) => {
    const url = request.url();
    if (!isLoopback(url)) offLoopback.add(`${request.method()} ${url}`);
  });
  context.on('requestfailed', (request) => {
    if (isLoopback(request.url())) {
      failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
    }
  });

  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  page.on('websocket', (ws) => {
    if (!isLoopback(ws.url())) offLoopback.add(`WEBSOCKET ${ws.url()}`);
  });

  // The document, as the server serves it.
  const documentResponse = await page.request.get(`${base}/openapi.json`);
  if (!documentResponse.ok()) throw new Error(`GET /openapi.json: ${documentResponse.status()}`);
  const doc = await documentResponse.json();
  const expected = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      if (item[method]) expected.push(`${method.toUpperCase()} ${path}`);
    }
  }
  const tags = (doc.tags ?? []).map((t) => t.name);
  const schemes = Object.keys(doc.components?.securitySchemes ?? {});
  const schemaNames = Object.keys(doc.components?.schemas ?? {});

  const started = Date.now();
  const pageResponse = await page.goto(`${base}/docs`, { waitUntil: 'load' });
  if (!pageResponse?.ok()) throw new Error(`GET /docs: ${pageResponse?.status()}`);
  // Swagger UI fetches the document, then renders one .opblock per operation.
  await page.waitForSelector('.swagger-ui .information-container .title', { timeout: TIMEOUT });
  await page.waitForFunction(
    (n) => document.querySelectorAll('.swagger-ui .opblock').length >= n,
    expected.length,
    { timeout: TIMEOUT },
  ).catch(() => {});
  await page.waitForLoadState('networkidle');
  const renderMs = Date.now() - started;

  const rendered = await page.evaluate(() => {
    const text = (el) => (el ? el.textContent.trim() : null);
    return {
      title: text(document.querySelector('.swagger-ui .information-container .title')),
      documentTitle: document.title,
      operations: [...document.querySelectorAll('.swagger-ui .opblock')].map((op) => {
        const summary = op.querySelector('.opblock-summary-path');
        const path = summary?.getAttribute('data-path') ?? text(summary);
        return `${text(op.querySelector('.opblock-summary-method'))} ${path?.replace(/\u200b/g, '')}`;
      }),
      tags: [...document.querySelectorAll('.swagger-ui .opblock-tag-section .opblock-tag')].map(
        (el) => el.getAttribute('data-tag') ?? text(el),
      ),
      authorize: !!document.querySelector('.swagger-ui .auth-wrapper .btn.authorize'),
      locks: document.querySelectorAll('.swagger-ui .opblock .authorization__btn').length,
      // OpenAPI 3.1: one top-level JSON Schema 2020-12 article per schema.
      schemas: [...document.querySelectorAll(
        '.swagger-ui section.models article[data-json-schema-level="0"] .json-schema-2020-12__title',
      )].filter((el) => el.closest('article[data-json-schema-level="0"]').parentElement.closest('article') === null)
        .map((el) => el.textContent.trim()),
      errors: text(document.querySelector('.swagger-ui .errors-wrapper')),
    };
  });

  // The Authorize dialog: one entry per security scheme.
  let dialogSchemes = [];
  if (rendered.authorize) {
    await page.click('.swagger-ui .auth-wrapper .btn.authorize');
    await page.waitForSelector('.swagger-ui .dialog-ux .modal-ux', { timeout: 10_000 });
    dialogSchemes = await page.$$eval('.swagger-ui .dialog-ux .auth-container h4', (els) =>
      els.map((el) => el.textContent.replace(/\s+/g, ' ').trim()),
    );
    await page.click('.swagger-ui .dialog-ux .btn-done, .swagger-ui .dialog-ux .close-modal');
    await page.waitForSelector('.swagger-ui .dialog-ux .modal-ux', { state: 'detached', timeout: 10_000 });
  }

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });

  // Checks.
  const renderedSet = new Set(rendered.operations);
  const missing = expected.filter((op) => !renderedSet.has(op));
  const extra = rendered.operations.filter((op) => !expected.includes(op));
  // Equal counts prove nothing when both are zero (an empty document, or a
  // page that never rendered): at least one operation must be there.
  if (expected.length === 0) problems.push('/openapi.json has no operation');
  if (rendered.operations.length === 0) problems.push('no operation rendered (.opblock)');
  if (rendered.operations.length !== expected.length) {
    problems.push(`${rendered.operations.length} operations rendered, ${expected.length} in /openapi.json`);
  }
  if (missing.length) problems.push(`not rendered: ${missing.join(', ')}`);
  if (extra.length) problems.push(`rendered but not in the document: ${extra.join(', ')}`);
  if (rendered.errors) problems.push(`Swagger UI shows errors: ${rendered.errors}`);
  if (!rendered.authorize && schemes.length) problems.push('no Authorize button');
  if (dialogSchemes.length !== schemes.length) {
    problems.push(`the Authorize dialog lists ${dialogSchemes.length} schemes, the document has ${schemes.length}`);
  }
  if (rendered.schemas.length !== schemaNames.length) {
    problems.push(`${rendered.schemas.length} schemas listed, ${schemaNames.length} in the document`);
  }
  if (offLoopback.size) problems.push(`${offLoopback.size} request(s) off loopback attempted`);
  if (consoleErrors.length) problems.push(`${consoleErrors.length} console error(s)`);
  if (failedRequests.length) problems.push(`${failedRequests.length} loopback request(s) failed`);

  console.log(`page title: ${rendered.documentTitle}; API title: ${rendered.title}`);
  console.log(`operations: ${rendered.operations.length} rendered (.opblock), ${expected.length} in /openapi.json`);
  console.log(`tags: ${rendered.tags.join(', ')} (document: ${tags.join(', ')})`);
  console.log(`security schemes: ${schemes.length} in the document; Authorize dialog: ${dialogSchemes.join(' | ')}`);
  console.log(`lock icons on operations: ${rendered.locks}; schemas listed: ${rendered.schemas.length} `
    + `(document: ${schemaNames.length}): ${rendered.schemas.join(', ')}`);
  console.log(`rendered in ${renderMs} ms`);
  console.log(`screenshot: ${screenshot}`);
} catch (error) {
  problems.push(`error: ${error.stack ?? error}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}

// Printed whatever happened above.
console.log(`requests off loopback attempted: ${offLoopback.size}`);
for (const r of offLoopback) console.log(`  refused: ${r}`);
console.log(`console errors: ${consoleErrors.length}`);
for (const e of consoleErrors) console.log(`  ${e}`);
console.log(`loopback requests failed: ${failedRequests.length}`);
for (const f of failedRequests) console.log(`  ${f}`);
if (!problems.some((p) => p.includes('off loopback')) && offLoopback.size) {
  problems.push(`${offLoopback.size} request(s) off loopback attempted`);
}
if (!problems.some((p) => p.includes('console error')) && consoleErrors.length) {
  problems.push(`${consoleErrors.length} console error(s)`);
}

if (problems.length) {
  console.log('FAILED:');
  for (const p of problems) console.log(`  - ${p}`);
  process.exit(1);
}
console.log('docs UI: OK');
