#!/usr/bin/env bash
# Validates the OpenAPI documents that axum-users generates with
# openapi-spec-validator (PyPI), in a virtualenv of its own:
#   1. the example app's document (`cargo run --example openapi -- --print`);
#   2. the validator test of tests/it/openapi.rs and the OAuth unit test with
#      AXUM_USERS_OPENAPI_VALIDATOR set, which validate the documents of their
#      test apps. The two tests are picked by name: the run fails unless both
#      ran (scripts/test-count.sh), and with AXUM_USERS_REQUIRE_SERVICES=1 each
#      fails rather than skip without the validator.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axum-users/target}"
venv="${AXUM_USERS_OPENAPI_VENV:-$HOME/.cache/axum-users-openapi-venv}"
validator_version="0.9.0"

if ! "$venv/bin/python" -c "import openapi_spec_validator" >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "openapi-spec-validator==$validator_version"
fi

doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
cargo run --quiet --example openapi -- --print > "$doc"
"$venv/bin/python" -m openapi_spec_validator --schema 3.1 --validation-errors all "$doc"

source scripts/test-count.sh
# One test in the library (the OAuth document), one in the integration tests'
# binary (tests/it/openapi.rs); both filters go to both binaries.
AXUM_USERS_OPENAPI_VALIDATOR="$venv/bin/python" \
    expect_tests "OpenAPI validator tests" 2 \
    cargo test --quiet --lib --test it -- --nocapture \
    openapi::the_validator_accepts_the_documents oauth_routes_are_documented
