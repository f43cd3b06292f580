// A real OpenID Connect provider (oidc-provider 8) on loopback, for the OAuth
// tests. The Rust side is tests/common/oidc.rs; install with
// `npm ci --prefix tests/oidc`.
//
//   OIDC_CLIENT_ID=app OIDC_CLIENT_SECRET=secret \
//   OIDC_REDIRECT_URIS='http://127.0.0.1:3000/cb http://localhost:3000/cb' \
//   node tests/oidc/provider.mjs
//
// Listens on 127.0.0.1, on a port of the system's choosing, and prints one
// line to stdout once it listens: {"issuer":"http://127.0.0.1:<port>"}.
//
// - One confidential client (client_secret_basic, authorization code with
//   PKCE S256 required, refresh tokens), scopes `openid email`, RS256 ID
//   tokens signed with an RSA key generated at startup.
// - No pages: GET /interaction/:uid completes the interaction at once, signing
//   in the account named by the authorize request's `login_hint` and granting
//   what was asked; `login_hint=deny` ends it with `access_denied`.
// - Accounts: `<sub>@example.com`, verified, unless set otherwise through
//   POST /__test/accounts.
// - Test control (JSON), before the provider's own routes:
//     POST /__test/accounts     {"sub", "email": string|null, "email_verified"}
//     GET  /__test/stats        {"token_requests", "userinfo_requests"}
//     POST /__test/reset-stats
//     POST /__test/fail         {"token": bool, "userinfo": bool} (503 while set)
//
// Quiet: oidc-provider's development notices are dropped unless
// OIDC_PROVIDER_DEBUG=1; errors go to stderr. With OIDC_EXIT_ON_STDIN_EOF=1 the
// process exits when its stdin closes (the test process that started it died).

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

const debug = process.env.OIDC_PROVIDER_DEBUG === '1';

// oidc-provider prints its development-only notices with console.info (to
// stdout, where only the issuer line belongs) and console.warn.
if (!debug) {
  const quiet = (write) => (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider ')) return;
    write(...args);
  };
  console.info = quiet((...args) => console.error(...args));
  console.warn = quiet(console.warn.bind(console));
} else {
  console.info = (...args) => console.error(...args);
}

function required(name) {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value.trim();
}

const clientId = required('OIDC_CLIENT_ID');
const clientSecret = required('OIDC_CLIENT_SECRET');
const redirectUris = required('OIDC_REDIRECT_URIS').split(/\s+/).filter(Boolean);

if (process.env.OIDC_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

// Imported after console is quietened: the import itself may print notices.
const { default: Provider } = await import('oidc-provider');

const SCOPES = ['openid', 'email', 'offline_access'];

// Accounts set through POST /__test/accounts: sub -> { email, email_verified }.
const accounts = new Map();

function accountClaims(sub) {
  const account = accounts.get(sub) ?? { email: `${sub}@example.com`, email_verified: true };
  const claims = { sub };
  if (account.email !== null && account.email !== undefined) claims.email = account.email;
  claims.email_verified = account.email_verified;
  return claims;
}

const stats = { token_requests: 0, userinfo_requests: 0 };
const failing = { token: false, userinfo: false };

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  use: 'sig',
  alg: 'RS256',
};

const routes = { token: '/token', userinfo: '/me' };

function configuration() {
  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // Plain http on loopback: no SameSite=None (it wants Secure).
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    pkce: { methods: ['S256'], required: () => true },
    responseTypes: ['code'],
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    routes,
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    clientBasedCORS: () => true,
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return accountClaims(sub);
        },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

let provider;
let providerCallback;

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw Object.assign(new Error(error.message), {
      expose: true,
      statusCode: 400,
      error: 'invalid_json',
      error_description: error.message,
    });
  }
}

// The test-control endpoints.
async function control(req, res, path) {
  if (req.method === 'GET' && path === '/__test/stats') {
    return sendJson(res, 200, stats);
  }
  if (req.method === 'POST' && path === '/__test/reset-stats') {
    stats.token_requests = 0;
    stats.userinfo_requests = 0;
    return sendJson(res, 200, stats);
  }
  if (req.method === 'POST' && path === '/__test/fail') {
    const body = await readJson(req);
    failing.token = body.token === true;
    failing.userinfo = body.userinfo === true;
    return sendJson(res, 200, failing);
  }
  if (req.method === 'POST' && path === '/__test/accounts') {
    const body = await readJson(req);
    if (typeof body.sub !== 'string' || body.sub === '') {
      return sendJson(res, 400, { error: 'sub must be a non-empty string' });
    }
    if (body.email !== null && typeof body.email !== 'string') {
      return sendJson(res, 400, { error: 'email must be a string or null' });
    }
    if (typeof body.email_verified !== 'boolean') {
      return sendJson(res, 400, { error: 'email_verified must be a boolean' });
    }
    accounts.set(body.sub, { email: body.email, email_verified: body.email_verified });
    return sendJson(res, 200, accountClaims(body.sub));
  }
  return sendJson(res, 404, { error: `no test-control endpoint ${req.method} ${path}` });
}

// GET /interaction/:uid: sign in `login_hint` and grant what was asked, at once.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const accountId = params.login_hint ?? session?.accountId;

  if (accountId === 'deny') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'denied by test' },
      { mergeWithLastSubmission: false },
    );
  }
  if (typeof accountId !== 'string' || accountId === '') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'login_required', error_description: 'no login_hint (the test names the account)' },
      { mergeWithLastSubmission: false },
    );
  }

  let grant;
  if (details.grantId) grant = await provider.Grant.find(details.grantId);
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  const requested = String(params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));
  if (requested.length > 0) grant.addOIDCScope(requested.join(' '));
  const missing = prompt?.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();

  return provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

async function handle(req, res) {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;

  if (path.startsWith('/__test/')) return control(req, res, path);

  for (const endpoint of ['token', 'userinfo']) {
    if (path === routes[endpoint]) {
      stats[`${endpoint}_requests`] += 1;
      if (failing[endpoint]) {
        return sendJson(res, 503, {
          error: 'temporarily_unavailable',
          error_description: `the ${endpoint} endpoint fails (POST /__test/fail)`,
        });
      }
    }
  }

  if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(path)) return interaction(req, res);

  return providerCallback(req, res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    // oidc-provider's own errors (such as an interaction without its cookie)
    // are answers, not failures of this script.
    if (error?.expose && error.statusCode && !res.headersSent) {
      return sendJson(res, error.statusCode, {
        error: error.error ?? error.message,
        error_description: error.error_description,
      });
    }
    console.error('provider.mjs:', error);
    if (!res.headersSent) {
      sendJson(res, 500, { error: 'server_error', error_description: String(error?.message ?? error) });
    } else {
      res.destroy();
    }
  });
});

server.on('error', (error) => {
  console.error('provider.mjs: server error:', error);
  process.exit(1);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = new Provider(issuer, configuration());
  provider.on('server_error', (ctx, error) => {
    console.error('provider.mjs: oidc-provider server_error:', error);
  });
  providerCallback = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
