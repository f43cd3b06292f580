#!/usr/bin/env bash
# Checks the example server's /docs (the vendored Swagger UI) in headless
# Chromium (scripts/check-docs-ui.mjs): every operation of /openapi.json
# rendered (at least one: an empty document or page fails), no request off
# loopback attempted (each is refused and listed), no console error; saves a
# full-page screenshot.
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

step "start the provider and the server"
source scripts/example-server.sh
start_example_server "$tmp" axum-users-docs
echo "server ready"

step "Swagger UI in headless Chromium"
set +e
DOCS_BASE_URL="$base" DOCS_SCREENSHOT="$screenshot" DOCS_NODE_DIR="$node_dir" DOCS_CHROMIUM="$chromium" \
    node scripts/check-docs-ui.mjs
rc=$?
set -e
echo "run time $((SECONDS - started)) s"
exit "$rc"
