// Drives the example server's /demo page (examples/demo.html) in headless
// Chromium, with a virtual WebAuthn authenticator: register, password login,
// TOTP enrolment, a passkey, passkey login, two-factor login with TOTP and
// with recovery codes, sessions listed and ended from another browser, logout.
//
//   node demo.test.mjs          (or: node --test)       from tests/browser
//   scripts/browser-test.sh                             builds, installs, runs
//
// Environment (all optional):
//   SERVER_BIN            the built example server; default `cargo run --example server`
//   CHROMIUM              the Chromium executable; default /usr/bin/chromium
//   SERVER_START_TIMEOUT  seconds to wait for the server (default 120, 900 with cargo run)
//   KEEP_SERVER_LOG       1: print the server's log even when the test passes

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT = 20_000; // one click's answer

// --- TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps) ------------------------

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of text.toUpperCase().replace(/[\s=]/g, '')) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function totpAt(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

// RFC 6238 appendix B, SHA-1, T = 59 s: 94287082, of which the last 6 digits.
if (totpAt(Buffer.from('12345678901234567890'), 1) !== '287082') {
  throw new Error('the TOTP implementation fails RFC 6238 test vector');
}

const currentStep = () => Math.floor(Date.now() / 30_000);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// The server accepts each step's code once, and steps now-1..now+1: use the
// current step, or the one after the last used, waiting when that is too
// far ahead.
let lastStep = -1;
async function nextTotp(secret) {
  for (;;) {
    const now = currentStep();
    const step = Math.max(now, lastStep + 1);
    if (step <= now + 1) {
      lastStep = step;
      return totpAt(base32Decode(secret), step);
    }
    const wait = (now + 1) * 30_000 - Date.now() + 250;
    console.log(`  (waiting ${Math.ceil(wait / 1000)} s for the next TOTP step)`);
    await sleep(wait);
  }
}

// A 6-digit code no step near now has: a wrong code for sure.
function wrongTotp(secret) {
  const key = base32Decode(secret);
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totpAt(key, currentStep() + d)));
  for (let n = 0; ; n++) {
    const code = String(n * 137_137 % 1_000_000).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

// --- The example server ---------------------------------------------------------

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function startServer(logFile) {
  const port = await freePort();
  const env = {
    ...process.env,
    BIND: `127.0.0.1:${port}`,
    DATABASE_URL: 'memory://',
    SECRET: randomBytes(48).toString('base64url'), // 64 characters
    WEBAUTHN_RP_ID: 'localhost',
    WEBAUTHN_ORIGIN: `http://localhost:${port}`,
    LOGIN_THROTTLE: 'off',
    RUST_LOG: process.env.RUST_LOG || 'info',
  };
  // Whatever the caller's environment holds, no SMTP (mails are printed),
  // no Redis, no OAuth providers, no admin.
  for (const name of Object.keys(env)) {
    if (/^(SMTP_URL|REDIS_URL|ADMIN_|OAUTH_|OIDC_|GITHUB_|GOOGLE_|TRUSTED_ORIGINS|USERNAMES|INVITE_ONLY)/.test(name)) {
      delete env[name];
    }
  }
  const [command, args] = process.env.SERVER_BIN
    ? [process.env.SERVER_BIN, []]
    : ['cargo', ['run', '--quiet', '--example', 'server']];
  const log = openSync(logFile, 'a');
  // Its own process group, so that cargo and the server it runs both stop.
  const child = spawn(command, args, { cwd: repoRoot, env, detached: true, stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, signal) => { exited = signal || `exit code ${code}`; });
  child.on('error', (err) => { exited = err.message; });

  const defaultTimeout = process.env.SERVER_BIN ? 120 : 900;
  const deadline = Date.now() + Number(process.env.SERVER_START_TIMEOUT || defaultTimeout) * 1000;
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (exited) throw new Error(`the server stopped before answering (${exited}); its log:\n${readFileSync(logFile, 'utf8')}`);
    try {
      await fetch(`${base}/openapi.json`, { signal: AbortSignal.timeout(2000) });
      break; // any answer will do
    } catch {
      if (Date.now() > deadline) throw new Error(`the server did not answer on ${base} in time`);
      await sleep(200);
    }
  }
  return { child, port, stop: () => stopServer(child, () => exited) };
}

async function stopServer(child, exited) {
  const signal = (name) => { try { process.kill(-child.pid, name); } catch { /* gone */ } };
  if (exited()) return;
  signal('SIGTERM');
  for (let i = 0; i < 100 && !exited(); i++) await sleep(100);
  if (!exited()) signal('SIGKILL');
}

// --- Driving the page -----------------------------------------------------------

// Clicks `selector` and waits for the status line's next final message
// (not "busy"); checks its kind ("ok" or "error") and text.
async function act(page, selector, kind, pattern) {
  const status = page.locator('#status');
  const before = await status.getAttribute('data-seq');
  await page.click(selector);
  try {
    await page.waitForFunction(
      (seq) => {
        const s = document.getElementById('status');
        return s.dataset.seq !== seq && s.className !== 'busy';
      },
      before,
      { timeout: STEP_TIMEOUT },
    );
  } catch {
    throw new Error(`${selector}: no answer in the status line within ${STEP_TIMEOUT} ms (it says "${await status.textContent()}")`);
  }
  const got = await status.getAttribute('class');
  const text = await status.textContent();
  if (got !== kind || (pattern && !pattern.test(text))) {
    throw new Error(`${selector}: expected a status of kind "${kind}" matching ${pattern}, got ${got}: "${text}"`);
  }
  return text;
}

async function fill(page, fields) {
  for (const [selector, value] of Object.entries(fields)) await page.fill(selector, value);
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// Password login that meets the second factor: the code field appears, then
// `code` (TOTP or recovery code) is sent; `kind`/`pattern` are for that answer.
async function loginWithCode(page, email, password, code, kind = 'ok', pattern = /Logged in as .*second factor/) {
  await fill(page, { '#login-email': email, '#login-password': password });
  await act(page, '#login-submit', 'ok', /enter a code/);
  expect(await page.isVisible('#mfa-code'), 'LOGIN_MFA_REQUIRED, but the code field is not shown');
  await page.fill('#mfa-code', code);
  return act(page, '#mfa-submit', kind, pattern);
}

// Opens /demo in a context of its own; records page errors and CSP
// violations, which fail the test.
async function openDemo(browser, base, userAgent, problems) {
  const context = await browser.newContext({ userAgent });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`${userAgent}: page error: ${err.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`${userAgent}: ${message.text()}`);
    }
  });
  const response = await page.goto(`${base}/demo`);
  expect(response.status() === 200, `GET /demo answered ${response.status()}`);
  await page.waitForFunction(() => document.getElementById('me').textContent === 'Not logged in.');
  return { context, page };
}

// --- The flow -------------------------------------------------------------------

test('the demo page in Chromium: passwords, TOTP, recovery codes, passkeys, sessions', { timeout: 20 * 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'axum-users-browser-'));
  const logFile = join(tmp, 'server.log');
  let server = null;
  let browser = null;
  let passed = false;
  const stopOnSignal = async (signal) => {
    if (server) await server.stop();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  let stepName = 'start';
  const step = async (name, body) => {
    stepName = name;
    const started = Date.now();
    await body();
    console.log(`ok  ${name} (${Date.now() - started} ms)`);
  };

  try {
    await step('start the example server', async () => {
      server = await startServer(logFile);
    });
    const base = `http://localhost:${server.port}`; // localhost: a secure context for WebAuthn
    const problems = [];
    let page;
    await step(`launch Chromium (${executablePath}) and open ${base}/demo`, async () => {
      browser = await chromium.launch({ executablePath, headless: true });
      ({ page } = await openDemo(browser, base, 'demo-test first browser', problems));
    });

    // The page's WebAuthn calls go to a virtual authenticator: a platform
    // authenticator with resident keys that verifies its user by itself.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    const email = `demo-${randomBytes(4).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    let secret = '';
    let recovery = [];

    await step('register (and a second time: REGISTER_USER_ALREADY_EXISTS)', async () => {
      await fill(page, { '#register-email': email, '#register-password': 'short' });
      await act(page, '#register-submit', 'error', /REGISTER_INVALID_PASSWORD/);
      await page.fill('#register-password', password);
      await act(page, '#register-submit', 'ok', new RegExp(`Registered ${email}`));
      await act(page, '#register-submit', 'error', /REGISTER_USER_ALREADY_EXISTS/);
    });

    await step('log in with a password (a wrong one first: LOGIN_BAD_CREDENTIALS)', async () => {
      await fill(page, { '#login-email': email, '#login-password': `${password}x` });
      await act(page, '#login-submit', 'error', /LOGIN_BAD_CREDENTIALS/);
      await page.fill('#login-password', password);
      await act(page, '#login-submit', 'ok', new RegExp(`Logged in as ${email}`));
      await act(page, '#me-button', 'ok', new RegExp(`You are ${email}`));
      expect((await page.textContent('#me')).includes(email), '#me does not show the address');
    });

    await step('two-factor status: all off', async () => {
      await act(page, '#mfa-status-button', 'ok', /app: off, recovery codes left: 0, passkeys: 0/);
    });

    await step('enrol TOTP: secret shown, code computed here, 10 recovery codes', async () => {
      await page.fill('#totp-password', 'not the password');
      await act(page, '#totp-start', 'error', /INVALID_CURRENT_PASSWORD/);
      await page.fill('#totp-password', password);
      await act(page, '#totp-start', 'ok', /confirm it with a code/);
      secret = (await page.textContent('#totp-secret')).trim();
      expect(/^[A-Z2-7]{26,}=*$/i.test(secret), `#totp-secret is not a base32 secret of 128 bits or more: "${secret}"`);
      expect((await page.textContent('#totp-url')).startsWith('otpauth://totp/'), '#totp-url is not an otpauth URL');
      await page.fill('#totp-code', wrongTotp(secret));
      await act(page, '#totp-confirm', 'error', /MFA_BAD_CODE/);
      await page.fill('#totp-code', await nextTotp(secret));
      await act(page, '#totp-confirm', 'ok', /recovery codes/);
      recovery = await page.locator('#recovery-codes li').allTextContents();
      expect(recovery.length === 10, `expected 10 recovery codes, got ${recovery.length}`);
      expect(new Set(recovery).size === 10, 'the recovery codes are not all different');
      await act(page, '#mfa-status-button', 'ok', /app: on, recovery codes left: 10, passkeys: 0/);
    });

    await step('add a passkey (virtual authenticator)', async () => {
      await page.fill('#passkey-name', 'test key');
      await act(page, '#passkey-add', 'ok', /Passkey "test key" added/);
      const items = await page.locator('#passkeys li').allTextContents();
      expect(items.length === 1 && items[0].includes('test key') && items[0].includes('not used yet'), `#passkeys lists ${JSON.stringify(items)}`);
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials.length === 1 && credentials[0].isResidentCredential,
        `the authenticator holds ${credentials.length} credential(s), expected 1 resident one`);
      await act(page, '#mfa-status-button', 'ok', /passkeys: 1/);
    });

    await step('log out', async () => {
      await act(page, '#logout', 'ok', /Logged out/);
      await act(page, '#me-button', 'error', /\(401\)/);
      expect(await page.textContent('#me') === 'Not logged in.', '#me still shows a user');
    });

    await step('log in with the passkey', async () => {
      await act(page, '#passkey-login', 'ok', new RegExp(`Logged in as ${email} with a passkey`));
      await act(page, '#me-button', 'ok', new RegExp(`You are ${email}`));
      await act(page, '#passkeys-refresh', 'ok', /1 passkey/);
      const [item] = await page.locator('#passkeys li').allTextContents();
      expect(/last used/.test(item), `the passkey has no last use after logging in with it: "${item}"`);
      await act(page, '#logout', 'ok', /Logged out/);
    });

    await step('log in with password + TOTP (a wrong code first: MFA_BAD_CODE)', async () => {
      await fill(page, { '#login-email': email, '#login-password': password });
      await act(page, '#login-submit', 'ok', /enter a code/);
      await page.fill('#mfa-code', wrongTotp(secret));
      await act(page, '#mfa-submit', 'error', /MFA_BAD_CODE/);
      await page.fill('#mfa-code', await nextTotp(secret));
      await act(page, '#mfa-submit', 'ok', new RegExp(`Logged in as ${email} \\(second factor checked\\)`));
      expect(await page.isHidden('#mfa-form'), 'the code field is still shown after the login');
    });

    // Two more browsers log in (with recovery codes), so that there are
    // other sessions to end.
    const second = await openDemo(browser, base, 'demo-test second browser', problems);
    const third = await openDemo(browser, base, 'demo-test third browser', problems);
    await step('two other browsers log in with recovery codes', async () => {
      await loginWithCode(second.page, email, password, recovery[1]);
      await loginWithCode(third.page, email, password, recovery[2]);
    });

    await step('list sessions, end one, then all others', async () => {
      await act(page, '#sessions-refresh', 'ok', /3 session/);
      const current = page.locator('#sessions tr[data-current="true"]');
      expect(await current.count() === 1, 'not exactly one session is marked current');
      expect((await current.textContent()).includes('demo-test first browser'), 'the current session is not this browser\'s');
      const row = page.locator('#sessions tr', { hasText: 'demo-test second browser' });
      expect(await row.count() === 1, 'the second browser\'s session is not listed');
      await act(page, '#sessions tr:has-text("demo-test second browser") button.session-end', 'ok', /Session ended/);
      expect(await page.locator('#sessions tr').count() === 2, 'the ended session is still listed');
      await act(second.page, '#me-button', 'error', /\(401\)/);
      await act(third.page, '#me-button', 'ok', new RegExp(`You are ${email}`));
      await act(page, '#sessions-end-others', 'ok', /Every other session ended/);
      expect(await page.locator('#sessions tr').count() === 1, 'sessions other than this one are still listed');
      await act(third.page, '#me-button', 'error', /\(401\)/);
      await act(page, '#me-button', 'ok', new RegExp(`You are ${email}`));
      await act(page, '#logout', 'ok', /Logged out/);
    });

    await step('log in with password + a recovery code; it works once', async () => {
      await loginWithCode(page, email, password, recovery[0]);
      await act(page, '#mfa-status-button', 'ok', /app: on, recovery codes left: 7, passkeys: 1/);
      await act(page, '#logout', 'ok', /Logged out/);
      await loginWithCode(page, email, password, recovery[0], 'error', /MFA_BAD_CODE/);
      await act(page, '#me-button', 'error', /\(401\)/);
      // The same second step still takes a good code (another recovery
      // code: a third TOTP code could mean waiting for the next step).
      await page.fill('#mfa-code', recovery[3]);
      await act(page, '#mfa-submit', 'ok', /second factor checked/);
    });

    await step('delete the passkey', async () => {
      await act(page, '#passkeys-refresh', 'ok', /1 passkey/);
      await act(page, '#passkeys button.passkey-delete', 'ok', /Passkey "test key" deleted/);
      expect(await page.locator('#passkeys li').count() === 0, 'the deleted passkey is still listed');
      await act(page, '#mfa-status-button', 'ok', /passkeys: 0/);
      await act(page, '#logout', 'ok', /Logged out/);
    });

    stepName = 'page errors';
    expect(problems.length === 0, `the page reported errors:\n${problems.join('\n')}`);
    passed = true;
  } catch (err) {
    err.message = `step "${stepName}" failed: ${err.message}`;
    throw err;
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    if (!passed || process.env.KEEP_SERVER_LOG === '1') {
      let log = '';
      try { log = readFileSync(logFile, 'utf8'); } catch { /* none */ }
      console.log(`--- server log (last 60 lines) ---\n${log.split('\n').slice(-60).join('\n')}`);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
});
