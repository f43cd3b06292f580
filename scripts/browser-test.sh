#!/usr/bin/env bash
# The demo page (examples/demo.html, served at /demo) in headless Chromium,
# with a virtual WebAuthn authenticator (tests/browser/demo.test.mjs):
# register, password login, TOTP enrolment, passkeys, two-factor logins with
# TOTP and recovery codes, sessions listed and ended, logout.
#
#   scripts/browser-test.sh       # from anywhere in the repository
#
# Needs node (20+), npm and Chromium at /usr/bin/chromium (or $CHROMIUM);
# builds the example server and installs playwright-core from
# tests/browser/package-lock.json (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axum-users/target}"

echo "==> build the example server"
cargo build --quiet --example server

echo "==> playwright-core (npm ci, tests/browser)"
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

echo "==> /demo in headless Chromium"
cd tests/browser
SERVER_BIN="$CARGO_TARGET_DIR/debug/examples/server" node --test-reporter=spec demo.test.mjs
