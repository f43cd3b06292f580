#!/usr/bin/env bash
# Fuzzes the example server's HTTP surface with schemathesis (PyPI), driven by
# the server's own /openapi.json: every operation, the OAuth ones included
# (with the loopback OpenID Connect provider of tests/oidc), the authenticated
# ones with a throwaway account per test case (scripts/fuzz_hooks.py).
#
#   scripts/fuzz-api.sh            # from the repository root
#
# Checks: not_a_server_error, response_schema_conformance,
# status_code_conformance. Exits non-zero when schemathesis reports a failure
# or an error, after printing its summary and a per-check table, and when a
# success path was never reached: a login (POST /auth/<backend>/login 200 or
# 204), a password reset (POST /auth/reset-password 200) and an OAuth callback
# (GET /auth/oidc/callback or /auth/associate/oidc/callback 200) must each have
# been answered at least once (counted from schemathesis' events.ndjson).
#
# Installs what it needs: schemathesis (pinned) in a virtualenv under
# ~/.cache/axum-users-fuzz-venv, and tests/oidc/node_modules (npm ci) when
# missing; needs cargo, python3, node and npm, curl.
#
# Environment (all optional):
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 50, at least 30)
#   FUZZ_SEED          the seed of schemathesis and of the hooks (default: random, printed)
#   FUZZ_WORKERS       schemathesis workers (default 2)
#   FUZZ_OUT           where the reports and logs go (default $CARGO_TARGET_DIR/fuzz-api)
#   FUZZ_CHECKS        schemathesis' checks, comma-separated (default: the three above)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/axum-users/target}"
schemathesis_version="4.32.5"
venv="${AXUM_USERS_FUZZ_VENV:-$HOME/.cache/axum-users-fuzz-venv}"
max_examples="${FUZZ_MAX_EXAMPLES:-50}"
seed="${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
workers="${FUZZ_WORKERS:-2}"
out="${FUZZ_OUT:-$CARGO_TARGET_DIR/fuzz-api}"
checks="${FUZZ_CHECKS:-not_a_server_error,response_schema_conformance,status_code_conformance}"

if [ "$max_examples" -lt 30 ]; then
    echo "FUZZ_MAX_EXAMPLES must be at least 30" >&2
    exit 2
fi

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "schemathesis $schemathesis_version (virtualenv $venv)"
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" != "st, version $schemathesis_version" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
"$venv/bin/st" --version
if ! "$venv/bin/python" -c "import openapi_spec_validator" >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==0.9.0"
fi

step "OpenID Connect provider (tests/oidc)"
command -v node >/dev/null 2>&1 || { echo "node is required (the OAuth operations are fuzzed too)" >&2; exit 1; }
if [ ! -f tests/oidc/node_modules/oidc-provider/package.json ]; then
    npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
fi
echo "present"

step "build the example server"
cargo build --quiet --all-features --example server
server_bin="$CARGO_TARGET_DIR/debug/examples/server"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out"/{events.ndjson,report.json,junit.xml,hooks-stats.json,openapi.json,server.log,server.stdout.log,provider.log}
hooks="$PWD/scripts/fuzz_hooks.py"
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
start_example_server "$out" axum-users-fuzz
python3 - "$out/openapi.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
ops = [(m.upper(), p) for p, item in doc["paths"].items() for m in item]
secured = sum(1 for p, item in doc["paths"].items() for op in item.values() if op.get("security"))
oauth = sum(1 for _, p in ops if "/oidc/" in p)
print(f"server ready: {len(ops)} operations, {secured} authenticated, {oauth} OAuth")
if oauth == 0:
    sys.exit("the document has no OAuth operation: is the OIDC provider configured?")
EOF

step "openapi-spec-validator 0.9.0: the server's /openapi.json as OpenAPI 3.1"
"$venv/bin/python" -m openapi_spec_validator --schema 3.1 --validation-errors all "$out/openapi.json"

step "schemathesis: $max_examples examples per operation, seed $seed, $workers workers"
set +e
# From $out: schemathesis and Hypothesis keep their caches (.schemathesis,
# .hypothesis) in the working directory.
(cd "$out" && SCHEMATHESIS_HOOKS="$hooks" \
FUZZ_BASE_URL="$base" FUZZ_ADMIN_EMAIL="$admin_email" FUZZ_ADMIN_PASSWORD="$admin_password" \
FUZZ_SEED="$seed" FUZZ_STATS="$out/hooks-stats.json" FUZZ_MAIL_LOG="$out/server.stdout.log" \
    "$venv/bin/st" run "$base/openapi.json" \
        --checks "$checks" \
        --mode all \
        --max-examples "$max_examples" \
        --seed "$seed" \
        --workers "$workers" \
        --request-timeout 30 \
        --generation-database none \
        --no-color \
        --report ndjson,json,junit \
        --report-ndjson-path "$out/events.ndjson" \
        --report-json-path "$out/report.json" \
        --report-junit-path "$out/junit.xml" \
        --report-dir "$out")
st_rc=$?
set -e

step "per-check figures"
set +e
"$venv/bin/python" - "$out/events.ndjson" "$out/report.json" "$out/hooks-stats.json" "$checks" <<'EOF'
import collections, json, sys

events, report_path, stats_path, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
checks = collections.defaultdict(collections.Counter)
statuses = collections.defaultdict(collections.Counter)
cases = collections.Counter()
failed_cases = 0
errors = 0
operations = None
with open(events) as lines:
    for line in lines:
        event = json.loads(line)
        if "LoadingFinished" in event:
            operations = event["LoadingFinished"]["statistic"]["operations"]
        if "NonFatalError" in event or "FatalError" in event:
            errors += 1
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        phase = finished["phase"]
        for case_id, results in recorder.get("checks", {}).items():
            if any(r["status"] == "failure" for r in results):
                failed_cases += 1
            for result in results:
                checks[result["name"]][result["status"]] += 1
        for case_id, interaction in recorder.get("interactions", {}).items():
            request = interaction["request"]
            response = interaction.get("response") or {}
            case = recorder.get("cases", {}).get(case_id, {}).get("value", {})
            # Per documented operation (the coverage phase also tries undocumented methods).
            label = f'{request["method"]} {case.get("path", "?")}'
            statuses[label][response.get("status_code", "no response")] += 1
            cases[phase] += 1

if operations:
    print(f'operations: {operations["selected"]} selected / {operations["total"]} total')
print("requests sent, by phase: " + ", ".join(f"{p} {n}" for p, n in cases.items())
      + f" (total {sum(cases.values())})")
print(f"{'check':32} {'passed':>8} {'failed':>8}")
for name in wanted:
    counts = checks.get(name, collections.Counter())
    print(f"{name:32} {counts['success']:>8} {counts['failure']:>8}")
print("\nresponses per operation (status: count):")
for label in sorted(statuses):
    method = label.split(" ", 1)[0]
    codes = statuses[label]
    if set(codes) == {405}:
        continue  # an undocumented method, tried by the coverage phase
    print(f"  {label:42} " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items(), key=str)))
try:
    with open(stats_path) as f:
        hooks = json.load(f)
    print(f'\nthrowaway accounts: {hooks["accounts"]} registered, {hooks["superusers"]} promoted '
          f'to superuser, {hooks["id_substitutions"]} /users/{{id}} cases given a real id, '
          f'{hooks.get("token_substitutions", 0)} verify/reset cases given a real token, '
          f'{hooks.get("oauth_substitutions", 0)} OAuth callback cases given a real authorization response, '
          f'{hooks.get("login_substitutions", 0)} login cases given real credentials, '
          f'{hooks.get("register_substitutions", 0)} register cases given a fresh address; '
          'logins by scheme: ' + ", ".join(f"{k} {v}" for k, v in hooks["by_scheme"].items()))
except OSError:
    pass

# The success paths that the hooks open (real credentials, mailed tokens, a
# real authorization response) must each have been reached at least once, as
# schemathesis recorded the answers to its own requests (the hooks' setup
# requests are not in events.ndjson): otherwise their 2xx answers went
# unchecked (a hook broken by a changed route, mail or provider) while the run
# looked green.
SUCCESS_PATHS = {
    "login": [("POST /auth/jwt/login", 200), ("POST /auth/cookie/login", 204),
              ("POST /auth/session/login", 204)],
    "reset password": [("POST /auth/reset-password", 200)],
    "OAuth callback": [("GET /auth/oidc/callback", 200), ("GET /auth/associate/oidc/callback", 200)],
}
print("\nsuccess paths reached (answers recorded by schemathesis):")
unreached = []
for name, wanted_answers in SUCCESS_PATHS.items():
    counts = [(label, status, statuses.get(label, {}).get(status, 0)) for label, status in wanted_answers]
    total = sum(n for _, _, n in counts)
    print(f"  {name:16} {total:>4}  (" + ", ".join(f"{l} {s}: {n}" for l, s, n in counts) + ")")
    if total == 0:
        unreached.append(name)

failures = sum(c["failure"] for c in checks.values())
with open(report_path) as f:
    report = json.load(f)["test_cases"]
generated, with_failures = report["generated"], report["with_failures"]
print(f'\ntest cases: {generated} generated, {with_failures} with failures '
      f'({report["unique_failures"]} unique), {report["errored"]} errored')
print(f"fuzz: {generated - with_failures} passed, {with_failures} failed")
if unreached:
    print("FAILED: success path(s) never reached: " + ", ".join(unreached)
          + " (see the hooks' substitution counts above, and scripts/fuzz_hooks.py)")
sys.exit(1 if failures or errors or with_failures or report["errored"] or unreached else 0)
EOF
summary_rc=$?
set -e

echo
echo "reports and logs: $out (events.ndjson, report.json, junit.xml, server.log, provider.log)"
echo "schemathesis exit code $st_rc; run time $((SECONDS - started)) s"
if grep -q 'panicked' "$out/server.log"; then
    echo "the server panicked (see $out/server.log)" >&2
    exit 1
fi
if [ "$st_rc" -ne 0 ] || [ "$summary_rc" -ne 0 ]; then
    exit 1
fi
