#!/usr/bin/env bash
#
# benches/forgot_timing.sh — do forgot-password and request-verify-token answer
# as fast for an existing account as for an unknown address?
#
# On this machine's loopback only: starts an SMTP sink (aiosmtpd, from PyPI)
# and the example server in release mode with SQLite and SMTP_URL set, registers
# one (unverified) user, then times, client-side, REQUESTS requests per case to
# POST /auth/forgot-password and, separately, to POST /auth/request-verify-token:
# known address and unknown address interleaved (pairs in random order), after
# WARMUP pairs that are not counted. Prints the median, p90 and the ratio of
# the medians known/unknown for each route (target 0.9–1.1), and checks that
# the sink received one mail per request for the known address.
#
# Environment (all optional):
#   REQUESTS=400           measured requests per case and route (at least 200)
#   WARMUP=50              unmeasured pairs before each route
#   PAUSE_MS=20            pause after each request, so that the mail sent for a
#                          known address is out before the next request
#                          (PAUSE_MS=0 times back-to-back requests)
#   SEED=1                 seed of the pair order
#   DATABASE_URL           the server's store (default SQLite in a temporary
#                          file; memory:// for a comparison)
#   SERVER_CPU=0 CLIENT_CPU=1 SMTP_CPU=$CLIENT_CPU  cores of the server, the
#                          client and the SMTP sink (pinned only with taskset
#                          and 2+ cores; the sink stands for a mail server on
#                          another machine, so it stays off the server's core)
#   CARGO_TARGET_DIR       build dir (default ~/.cache/axum-users-bench-target)

set -euo pipefail

REQUESTS=${REQUESTS:-400}
WARMUP=${WARMUP:-50}
PAUSE_MS=${PAUSE_MS:-20}
SEED=${SEED:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SMTP_CPU=${SMTP_CPU:-$CLIENT_CPU}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/axum-users-bench-target}
VENV=$HOME/.cache/axum-users-bench-venv
STEP_TIMEOUT=60 # seconds for any one wait (start-up, mails)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/axum-users-forgot-timing.XXXXXX")

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[forgot_timing.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

((REQUESTS >= 200)) || die "REQUESTS=$REQUESTS: at least 200 per case"

# ---------------------------------------------------------------------------
# Tools: python3 with aiosmtpd (into a venv when missing), curl.
# ---------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || {
    log "installing curl from Debian"
    apt-get update -qq && apt-get install -y -qq curl >/dev/null
}
PYTHON=python3
if ! python3 -m aiosmtpd --version >/dev/null 2>&1; then
    if ! "$VENV/bin/python" -m aiosmtpd --version >/dev/null 2>&1; then
        log "installing aiosmtpd into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet aiosmtpd
    fi
    PYTHON=$VENV/bin/python
fi
log "$("$PYTHON" -m aiosmtpd --version)"

PIN_SERVER=()
PIN_CLIENT=()
PIN_SMTP=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
    PIN_SMTP=(taskset -c "$SMTP_CPU")
fi

# ---------------------------------------------------------------------------
# Build: the example server, release mode.
# ---------------------------------------------------------------------------
cd "$ROOT"
log "building the example server (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --quiet --release --example server
SERVER_BIN=$CARGO_TARGET_DIR/release/examples/server
[[ -x $SERVER_BIN ]] || die "$SERVER_BIN is missing after the build"

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 answers anything over HTTP; $2 is the server's pid.
wait_http() {
    local url=$1 pid=$2 code
    for _ in $(seq 1 $((STEP_TIMEOUT * 10))); do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" || true)
        [[ $code != 000 ]] && return 0
        sleep 0.1
    done
    return 1
}

# Waits until the SMTP sink on port $1 greets; $2 is its pid.
wait_smtp() {
    local port=$1 pid=$2
    for _ in $(seq 1 $((STEP_TIMEOUT * 10))); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Mails the sink has printed so far.
mail_count() { grep -c -- '---------- MESSAGE FOLLOWS ----------' "$WORK/smtp.log" || true; }

# ---------------------------------------------------------------------------
# The SMTP sink and the server.
# ---------------------------------------------------------------------------
SMTP_PORT=$(free_port)
"${PIN_SMTP[@]}" "$PYTHON" -m aiosmtpd -n -u -l "127.0.0.1:$SMTP_PORT" >"$WORK/smtp.log" 2>&1 &
SMTP_PID=$!
PIDS+=("$SMTP_PID")
wait_smtp "$SMTP_PORT" "$SMTP_PID" || die "aiosmtpd did not start: $(cat "$WORK/smtp.log")"

HTTP_PORT=$(free_port)
SECRET=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')
BIND=127.0.0.1:$HTTP_PORT \
    DATABASE_URL=${DATABASE_URL:-sqlite://$WORK/bench.db} \
    SECRET=$SECRET \
    SMTP_URL=smtp://127.0.0.1:$SMTP_PORT \
    MAIL_CAP=off \
    RUST_LOG=warn \
    "${PIN_SERVER[@]}" "$SERVER_BIN" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_http "http://127.0.0.1:$HTTP_PORT/openapi.json" "$SERVER_PID" ||
    die "the server did not start: $(cat "$WORK/server.log")"

KNOWN=timing-known@example.com
code=$(curl -s -o "$WORK/register.json" -w '%{http_code}' -m 10 \
    -H 'Content-Type: application/json' \
    -d "{\"email\": \"$KNOWN\", \"password\": \"timing-password-1\"}" \
    "http://127.0.0.1:$HTTP_PORT/auth/register")
[[ $code == 201 ]] || die "register answered $code: $(cat "$WORK/register.json")"

# ---------------------------------------------------------------------------
# The client: one keep-alive connection, each request timed alone.
# ---------------------------------------------------------------------------
cat >"$WORK/client.py" <<'PY'
import http.client, json, math, random, statistics, sys, time

port, route, known, requests, warmup, pause_ms, seed = sys.argv[1:8]
requests, warmup, pause = int(requests), int(warmup), int(pause_ms) / 1000
rng = random.Random(f"{seed}-{route}")
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
headers = {"Content-Type": "application/json"}
unknown_count = 0


def once(email):
    body = json.dumps({"email": email})
    start = time.perf_counter()
    conn.request("POST", route, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    if response.status != 202:
        sys.exit(f"{route} {email}: {response.status}")
    if pause:
        time.sleep(pause)
    return elapsed


def pair(times):
    global unknown_count
    order = ["known", "unknown"]
    rng.shuffle(order)
    for case in order:
        if case == "known":
            email = known
        else:
            unknown_count += 1
            email = f"nobody-{unknown_count}@example.com"
        elapsed = once(email)
        if times is not None:
            times[case].append(elapsed)


for _ in range(warmup):
    pair(None)
times = {"known": [], "unknown": []}
for _ in range(requests):
    pair(times)


def p90(values):
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


known_median = statistics.median(times["known"])
unknown_median = statistics.median(times["unknown"])
ratio = known_median / unknown_median
verdict = "ok" if 0.9 <= ratio <= 1.1 else "MISSED"
print(f"{route}")
print(f"  {'case':<10}{'n':>6}{'median ms':>12}{'p90 ms':>10}{'mean ms':>10}")
for case in ("known", "unknown"):
    values = times[case]
    print(
        f"  {case:<10}{len(values):>6}{statistics.median(values) * 1e3:>12.3f}"
        f"{p90(values) * 1e3:>10.3f}{statistics.fmean(values) * 1e3:>10.3f}"
    )
print(f"  difference of medians known-unknown: {(known_median - unknown_median) * 1e6:+.0f} us")
print(f"  ratio of medians known/unknown: {ratio:.3f} (target 0.9-1.1: {verdict})")
PY

BUSY_BEFORE=$(awk '{ print $1 }' /proc/loadavg)
MISSED=0
for route in /auth/forgot-password /auth/request-verify-token; do
    before=$(mail_count)
    log "timing $route: $WARMUP warm-up pairs, then $REQUESTS pairs, ${PAUSE_MS} ms apart"
    "${PIN_CLIENT[@]}" "$PYTHON" "$WORK/client.py" "$HTTP_PORT" "$route" "$KNOWN" \
        "$REQUESTS" "$WARMUP" "$PAUSE_MS" "$SEED" | tee "$WORK/result.txt"
    grep -q 'MISSED' "$WORK/result.txt" && MISSED=$((MISSED + 1))
    # One mail per request for the known address, none for the others.
    expected=$((before + WARMUP + REQUESTS))
    for _ in $(seq 1 $((STEP_TIMEOUT * 10))); do
        (($(mail_count) >= expected)) && break
        sleep 0.1
    done
    sleep 0.5
    got=$(($(mail_count) - before))
    if ((got != WARMUP + REQUESTS)); then
        die "$route: the sink got $got mails, expected $((WARMUP + REQUESTS)); server log: $(tail -n 5 "$WORK/server.log")"
    fi
    echo "  mails received: $got (one per known-address request)"
done
if grep -q 'user hook failed' "$WORK/server.log"; then
    die "the server logged failed mails: $(grep 'user hook failed' "$WORK/server.log" | head -3)"
fi
echo "load average (1 min) before the run: $BUSY_BEFORE on $(nproc) cores"
echo "targets missed: $MISSED"
