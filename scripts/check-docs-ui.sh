#!/usr/bin/env bash
# Checks the example server's /docs (the vendored Swagger UI) in headless
# Chromium (scripts/check-docs-ui.mjs): every operation of /openapi.json
# rendered, no request off loopback attempted (each is refused and listed),
# no console error; saves a full-page screenshot.
#
#   scripts/check-docs-ui.sh       # from the repository root
#
# Installs what it needs: Debian's chromium when /usr/bin/chromium is missing
# (apt-get, as root), playwright-core (pinned, npm) under
# ~/.cache/axum-users-docs-check (never in the repository), and
# tests/oidc/node_modules when missing (the OAuth operations are shown too).
#
# Environment (optional):
#   DOCS_SCREENSHOT  where the PNG goes (default $CARGO_TARGET_DIR/docs-ui.png)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axum-users/target}"
playwright_version="1.64.1"
node_dir="${AXUM_USERS_DOCS_CHECK_DIR:-$HOME/.cache/axum-users-docs-check}"
screenshot="${DOCS_SCREENSHOT:-$CARGO_TARGET_DIR/docs-ui.png}"
chromium=/usr/bin/chromium

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "Chromium (Debian)"
if [ ! -x "$chromium" ]; then
    apt_started=$SECONDS
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    echo "installed in $((SECONDS - apt_started)) s"
fi
"$chromium" --version 2>/dev/null || true

step "playwright-core $playwright_version ($node_dir)"
command -v node >/dev/null 2>&1 || { echo "node is required" >&2; exit 1; }
installed="$(node -p 'require(process.argv[1]).version' "$node_dir/node_modules/playwright-core/package.json" 2>/dev/null || true)"
if [ "$installed" != "$playwright_version" ]; then
    mkdir -p "$node_dir"
    [ -f "$node_dir/package.json" ] || echo '{"name": "axum-users-docs-check", "private": true}' >"$node_dir/package.json"
    npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error --save-exact \
        "playwright-core@$playwright_version"
fi
echo "present"

step "OpenID Connect provider (tests/oidc)"
if [ ! -f tests/oidc/node_modules/oidc-provider/package.json ]; then
    npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
fi
echo "present"

step "build the example server"
cargo build --quiet --all-features --example server
server_bin="$CARGO_TARGET_DIR/debug/examples/server"

tmp="$(mktemp -d)"
server_pid=""
idp_pid=""
cleanup() {
    local pid
    for pid in "$server_pid" "$idp_pid"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
client_id="axum-users-docs"
client_secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"

step "start the provider and the server on $base"
OIDC_CLIENT_ID="$client_id" OIDC_CLIENT_SECRET="$client_secret" \
OIDC_REDIRECT_URIS="$base/auth/oidc/callback $base/auth/associate/oidc/callback" \
    node tests/oidc/provider.mjs >"$tmp/idp.out" 2>"$tmp/provider.log" </dev/null &
idp_pid=$!
issuer=""
for _ in $(seq 1 200); do
    if [ -s "$tmp/idp.out" ]; then
        issuer="$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' "$tmp/idp.out" 2>/dev/null || true)"
        [ -n "$issuer" ] && break
    fi
    if ! kill -0 "$idp_pid" 2>/dev/null; then
        echo "the OpenID Connect provider exited:" >&2
        cat "$tmp/provider.log" >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$issuer" ] || { echo "the OpenID Connect provider printed no issuer in 20 s" >&2; cat "$tmp/provider.log" >&2; exit 1; }
echo "provider: $issuer"

# A clean environment: only the OpenID Connect provider (no REDIS_URL, no
# OAUTH_* presets), whatever the caller's environment holds.
env -i PATH="$PATH" HOME="$HOME" \
BIND="127.0.0.1:$port" DATABASE_URL="memory://" \
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" \
ADMIN_EMAIL="docs-admin@example.com" ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" \
OIDC_ISSUER_URL="$issuer" OIDC_CLIENT_ID="$client_id" OIDC_CLIENT_SECRET="$client_secret" \
OAUTH_REDIRECT_BASE="$base" \
    "$server_bin" >"$tmp/server.stdout.log" 2>"$tmp/server.log" </dev/null &
server_pid=$!
ready=""
for _ in $(seq 1 300); do
    if curl -sf -o /dev/null "$base/openapi.json" 2>/dev/null; then
        ready=1
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$ready" ] || { echo "the server did not answer /openapi.json in 30 s" >&2; tail -50 "$tmp/server.log" >&2; exit 1; }
echo "server ready"

step "Swagger UI in headless Chromium"
set +e
DOCS_BASE_URL="$base" DOCS_SCREENSHOT="$screenshot" DOCS_NODE_DIR="$node_dir" DOCS_CHROMIUM="$chromium" \
    node scripts/check-docs-ui.mjs
rc=$?
set -e
echo "run time $((SECONDS - started)) s"
exit "$rc"
