#!/usr/bin/env bash
#
# benches/load.sh — load benchmark of axum-users' example server.
#
# Measures, on this machine's loopback only, in ROUNDS paired rounds:
#   1. GET /users/me (JWT bearer) on the example server against a bare axum
#      baseline (benches/baseline_server.rs): req/s, p50, p99, and the ratio of
#      the two throughputs — for each store (memory://, SQLite);
#   2. POST /auth/jwt/login throughput on one core against the rate of the
#      library's own argon2id verification on one thread
#      (benches/argon2_verify.rs, PasswordHasher::verify_blocking);
#   3. the p99 of a rate-limited GET /users/me while a login flood runs beside
#      it, and while a stream of writes (registrations, password changes,
#      benches/write_stream.py) does, against the same p99 alone;
#   4. GET /users/me with the database-session cookie against the JWT path;
#   5. on SQLite, GET /users/me of FastAPI Users' own example app
#      (benches/fastapi_users_app.py, FastAPI Users 15.0.5 under uvicorn, one
#      worker on the same core, its own SQLite file) against the crate.
# The stores are memory://, SQLite in a file and PostgreSQL (a fresh database
# on the machine's server, dropped at exit).
# Each round runs the two sides of every comparison back to back, the order
# rotating between rounds (crate / login / idle first in odd rounds, baseline /
# raw verify / flood first in even ones), and takes the ratio within the round;
# the output gives every round's figures, then per ratio the median and the
# spread (min–max) over the rounds, and a summary table of the medians with
# their targets.
#
# Servers run pinned to core $SERVER_CPU (0), load generators to core
# $LOADGEN_CPU (1). Every phase has a fixed duration; the servers are killed on
# exit. See benches/README.md for how to read the output.
#
# Environment (all optional):
#   DURATION=5             seconds measured per phase
#   ROUNDS=3               paired rounds per comparison
#   REF_ROUNDS=$ROUNDS     rounds of the reference (0: no reference)
#   WARMUP=2               seconds of warm-up before each measured oha phase
#   CONNECTIONS=64         connections for the GET /users/me throughput phases
#   LOGIN_CONNECTIONS=16   connections for the login phases
#   WRITE_THREADS=4        client threads of the write stream
#   ME_RATE=500            req/s of the rate-limited GET /users/me (p99 phases)
#   ME_RATE_CONNECTIONS=8  connections of the rate-limited GET /users/me
#   STORES="memory sqlite postgres" stores to measure
#   PG_URL                 a PostgreSQL server to use (trust auth), for example
#                          postgres://postgres@127.0.0.1:5432 with PG_ADMIN_DB=test
#                          (where CREATE DATABASE runs). Unset: the script starts
#                          a private cluster (initdb, pg_ctl) pinned to core
#                          $LOADGEN_CPU, so that PostgreSQL never runs on the
#                          server's core, and removes it at exit
#   FASTAPI=1              measure FastAPI Users on SQLite (0: leave it out); its
#                          virtualenv goes to ~/.cache/axum-users-fastapi-venv
#   SERVER_BIN             an example server built elsewhere (an older commit,
#                          for before/after figures) instead of this tree's
#   SERVER_CPU=0 LOADGEN_CPU=1
#   CARGO_TARGET_DIR       build dir (default ~/.cache/axum-users-bench-target)
#   RESULTS_DIR            keep oha's JSON reports and argon2_verify's output
#                          there (default: a temp dir, removed)

set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
REF_ROUNDS=${REF_ROUNDS:-$ROUNDS}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
LOGIN_CONNECTIONS=${LOGIN_CONNECTIONS:-16}
WRITE_THREADS=${WRITE_THREADS:-4}
PG_URL=${PG_URL:-}
PG_ADMIN_DB=${PG_ADMIN_DB:-test}
PG_OWN=
GIVEN_SERVER_BIN=${SERVER_BIN:-}
FASTAPI=${FASTAPI:-1}
FASTAPI_VENV=${FASTAPI_VENV:-$HOME/.cache/axum-users-fastapi-venv}
ME_RATE=${ME_RATE:-500}
ME_RATE_CONNECTIONS=${ME_RATE_CONNECTIONS:-8}
STORES=${STORES:-memory sqlite postgres}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/axum-users-bench-target}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 1; }
[[ $REF_ROUNDS =~ ^[0-9]+$ ]] || { echo "REF_ROUNDS must be a non-negative integer, not '$REF_ROUNDS'" >&2; exit 1; }

# Targets of the summary table.
declare -A TARGET_ME_RATIO=([memory]=0.9 [sqlite]=0.6) # crate / baseline GET /users/me req/s, at least
declare -A TARGET_FASTAPI_RATIO=([sqlite]=100) # crate / FastAPI Users GET /users/me req/s, at least
TARGET_LOGIN_RATIO=0.95  # login req/s / raw argon2 verifies/s, at least
TARGET_FLOOD_RATIO=2     # p99 under login flood / idle p99, at most
TARGET_WRITES_RATIO=2    # p99 beside a stream of writes / idle p99, at most

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/axum-users-bench.XXXXXX")
KEEP_RESULTS=${RESULTS_DIR:+1}
RESULTS_DIR=${RESULTS_DIR:-$WORK/results}
mkdir -p "$RESULTS_DIR"

PIDS=()
DATABASES=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for db in "${DATABASES[@]}"; do
        psql -q "$PG_URL/$PG_ADMIN_DB" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [[ -n $PG_OWN ]]; then
        "${AS_POSTGRES[@]}" "$PG_OWN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[load.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------------------
# Tools: oha (load generator), jq (reading its JSON), curl.
# ---------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
need_apt=()
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v python3 >/dev/null || need_apt+=(python3)
if [[ " $STORES " == *" postgres "* ]] && ! command -v psql >/dev/null; then
    need_apt+=(postgresql-client)
fi
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]} from Debian"
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! oha --version >/dev/null 2>&1; then
    log "oha not found: cargo install oha --locked (takes a few minutes)"
    cargo install oha --locked
fi
log "$(oha --version)"
if [[ $FASTAPI == 1 && " $STORES " == *" sqlite "* ]]; then
    if ! "$FASTAPI_VENV/bin/python" -c 'import fastapi_users, uvicorn, aiosqlite' 2>/dev/null; then
        log "installing FastAPI Users 15.0.5 and uvicorn into $FASTAPI_VENV"
        python3 -m venv "$FASTAPI_VENV" || {
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$FASTAPI_VENV"
        }
        "$FASTAPI_VENV/bin/pip" install -q "fastapi-users[sqlalchemy]==15.0.5" "uvicorn==0.38.0" "aiosqlite==0.21.0" >&2
    fi
    log "FastAPI Users $("$FASTAPI_VENV/bin/python" -c 'import fastapi_users; print(fastapi_users.__version__)')"
fi

# ---------------------------------------------------------------------------
# Build: the example server, the baseline and the argon2 bench, release mode.
# ---------------------------------------------------------------------------
cd "$ROOT"
log "building (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --example server --bench baseline_server --bench argon2_verify \
    --message-format=json-render-diagnostics >"$WORK/build.json"
executable() {
    jq -r --arg name "$1" \
        'select(.reason == "compiler-artifact" and .target.name == $name and .executable != null) | .executable' \
        "$WORK/build.json" | tail -n 1
}
SERVER_BIN=${GIVEN_SERVER_BIN:-$(executable server)}
BASELINE_BIN=$(executable baseline_server)
ARGON2_BIN=$(executable argon2_verify)
for bin in "$SERVER_BIN" "$BASELINE_BIN" "$ARGON2_BIN"; do
    [[ -n $bin && -x $bin ]] || die "a binary is missing after the build (server='$SERVER_BIN' baseline='$BASELINE_BIN' argon2='$ARGON2_BIN')"
done

# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------
# First port in 18080..18099 with nothing listening on 127.0.0.1, not in $1...
free_port() {
    local p taken
    for p in $(seq 18080 18099); do
        taken=0
        for t in "$@"; do [[ $t == "$p" ]] && taken=1; done
        ((taken)) && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    die "no free port in 18080-18099"
}

# Waits until $1 answers anything over HTTP (a 404 is fine); $2 is the server pid.
wait_ready() {
    local url=$1 pid=$2 code
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" || true)
        [[ $code != 000 ]] && return 0
        sleep 0.1
    done
    return 1
}

# Stops one server started by this script.
stop_server() {
    local pid=$1 keep=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# oha on the load-generator core, JSON report to $1; the rest are oha's arguments.
run_oha() {
    local out=$1
    shift
    taskset -c "$LOADGEN_CPU" oha --no-tui --output-format json --worker-threads 1 "$@" >"$out"
}

# Figures from an oha JSON report: successful (2xx) req/s, p50 and p99 in ms.
ok_rps() { jq -r '([.statusCodeDistribution | to_entries[] | select(.key | startswith("2")) | .value] | add // 0) / .summary.total' "$1"; }
p50_ms() { jq -r '(.latencyPercentiles.p50 // 0) * 1000' "$1"; }
p99_ms() { jq -r '(.latencyPercentiles.p99 // 0) * 1000' "$1"; }
# Warns when a report holds anything but 2xx answers (errors and deadline aborts aside).
check_codes() {
    local bad
    bad=$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | "\(.key)x\(.value)"] | join(" ")' "$1")
    [[ -z $bad ]] || log "warning: $2 answered non-2xx: $bad"
    bad=$(jq -r '[(.errorDistribution // {}) | to_entries[] | select(.key != "aborted due to deadline") | "\(.key)x\(.value)"] | join("; ")' "$1")
    [[ -z $bad ]] || log "warning: $2 had errors: $bad"
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.3f", a / b }'; }
fmt() { awk -v a="$1" "BEGIN { printf \"$2\", a }"; }
# Median and spread of the numbers given ("nan" and empty ones left out):
# prints "median min max count".
stats() {
    printf '%s\n' "$@" | awk '$1 != "nan" && $1 != "" { v[n++] = $1 + 0 }
        END {
            if (n == 0) { print "nan nan nan 0"; exit }
            for (i = 1; i < n; i++) {
                x = v[i]
                for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]
                v[j + 1] = x
            }
            m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf "%.3f %.3f %.3f %d\n", m, v[0], v[n - 1], n
        }'
}
# "median X (min–max A–B, n rounds)" from the output of stats.
spread_text() {
    local m lo hi n
    read -r m lo hi n <<<"$1"
    echo "median $m (min–max $lo–$hi, $n rounds)"
}

# Throughput phase: warm-up, then DURATION seconds; JSON report to $1, oha args after.
measure() {
    local out=$1
    shift
    run_oha /dev/null -z "${WARMUP}s" "$@"
    run_oha "$out" -z "${DURATION}s" "$@"
}

# Percentage of the machine's CPU time used by others over one second.
busy_percent() {
    local a b
    read -r _ a1 a2 a3 a4 a5 a6 a7 _ </proc/stat
    sleep 1
    read -r _ b1 b2 b3 b4 b5 b6 b7 _ </proc/stat
    a=$(((b1 - a1) + (b2 - a2) + (b3 - a3) + (b6 - a6) + (b7 - a7)))
    b=$((a + (b4 - a4) + (b5 - a5)))
    echo $((b > 0 ? 100 * a / b : 0))
}
# ---------------------------------------------------------------------------
# PostgreSQL: unless PG_URL names one, a private cluster for the run, started
# under taskset on the load-generator core. Its backends then never take CPU
# from the server's core (the machine's own server runs wherever the kernel
# puts it, which made the PostgreSQL figures vary by a factor of two between
# rounds), and the server's core does only the server's work, as for the
# other stores.
# ---------------------------------------------------------------------------
AS_POSTGRES=()
if [[ " $STORES " == *" postgres "* && -z $PG_URL ]]; then
    bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [[ -x $bindir/initdb ]] || die "no initdb under /usr/lib/postgresql (apt-get install postgresql), or set PG_URL"
    mkdir -p "$WORK/pg"
    if ((EUID == 0)); then
        # PostgreSQL refuses to run as root.
        chmod 755 "$WORK"
        chown postgres "$WORK/pg"
        AS_POSTGRES=(runuser -u postgres --)
    fi
    pg_port=$(free_port)
    "${AS_POSTGRES[@]}" "$bindir/initdb" -D "$WORK/pg/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -n 5 "$WORK/initdb.log")"
    PG_OWN=$bindir
    taskset -c "$LOADGEN_CPU" "${AS_POSTGRES[@]}" "$bindir/pg_ctl" -D "$WORK/pg/data" -w -l "$WORK/pg/log" \
        -o "-p $pg_port -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null ||
        die "PostgreSQL did not start: $(tail -n 5 "$WORK/pg/log")"
    PG_URL="postgres://postgres@127.0.0.1:$pg_port"
    PG_ADMIN_DB=postgres
    log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $pg_port, pinned to core $LOADGEN_CPU"
fi

BUSY_BEFORE=$(busy_percent)
if ((BUSY_BEFORE > 10)); then
    log "warning: the machine is ${BUSY_BEFORE}% busy before the run; the figures will be noisy"
fi

# ---------------------------------------------------------------------------
# Raw argon2id verify rate on the server core: the library's own verification
# (PasswordHasher::verify_blocking) on one thread, DURATION seconds; the whole
# output to $1, the rate on stdout.
# ---------------------------------------------------------------------------
raw_verify() {
    local out=$1 rate
    taskset -c "$SERVER_CPU" "$ARGON2_BIN" "$DURATION" >"$out"
    rate=$(sed -n 's/^verifies_per_sec=//p' "$out")
    [[ -n $rate ]] || die "argon2_verify printed no rate (its output is in $out)"
    echo "$rate"
}

# Round r's order: "1" when the first side of every comparison (crate, login,
# idle) goes first, "" when the second one (baseline, raw verify, flood) does.
first_side_first() { if (($1 % 2 == 1)); then echo 1; fi; }

# ---------------------------------------------------------------------------
# Reference for the flood phases: the bare baseline's rate-limited p99, idle
# and beside one busy argon2 thread on its core, in REF_ROUNDS rounds (idle
# first in odd rounds, busy first in even ones). This is what the kernel's
# scheduler alone does to a latency when a CPU-bound thread shares the core.
# ---------------------------------------------------------------------------
declare -A REF
if ((REF_ROUNDS > 0)); then
    rport=$(free_port)
    BIND="127.0.0.1:$rport" SECRET=reference-secret \
        taskset -c "$SERVER_CPU" "$BASELINE_BIN" >"$WORK/baseline-reference.log" 2>&1 &
    ref_pid=$!
    PIDS+=("$ref_pid")
    wait_ready "http://127.0.0.1:$rport/users/me" "$ref_pid" || die "baseline server did not come up"
    ref_token=$(sed -n 's/^token=//p' "$WORK/baseline-reference.log")
    ref_rated=(-c "$ME_RATE_CONNECTIONS" -q "$ME_RATE" --latency-correction
        -H "authorization: Bearer $ref_token" "http://127.0.0.1:$rport/users/me")
    ref_idle() {
        log "reference, round $1/$REF_ROUNDS: baseline GET /users/me at $ME_RATE req/s, idle"
        measure "$RESULTS_DIR/reference-r$1-idle.json" "${ref_rated[@]}"
        check_codes "$RESULTS_DIR/reference-r$1-idle.json" "reference baseline, idle"
    }
    ref_busy() {
        local burner_pid
        log "reference, round $1/$REF_ROUNDS: baseline GET /users/me at $ME_RATE req/s, beside argon2_verify on core $SERVER_CPU"
        taskset -c "$SERVER_CPU" "$ARGON2_BIN" "$((WARMUP + DURATION + 1))" >/dev/null &
        burner_pid=$!
        PIDS+=("$burner_pid")
        measure "$RESULTS_DIR/reference-r$1-busy.json" "${ref_rated[@]}"
        check_codes "$RESULTS_DIR/reference-r$1-busy.json" "reference baseline, busy core"
        stop_server "$burner_pid"
    }
    for ((r = 1; r <= REF_ROUNDS; r++)); do
        if [[ -n $(first_side_first "$r") ]]; then
            ref_idle "$r"
            ref_busy "$r"
        else
            ref_busy "$r"
            ref_idle "$r"
        fi
        REF[$r,idle]=$(p99_ms "$RESULTS_DIR/reference-r$r-idle.json")
        REF[$r,busy]=$(p99_ms "$RESULTS_DIR/reference-r$r-busy.json")
        REF[$r,ratio]=$(div "${REF[$r,busy]}" "${REF[$r,idle]}")
    done
    stop_server "$ref_pid"
    ratios=()
    for ((r = 1; r <= REF_ROUNDS; r++)); do ratios+=("${REF[$r,ratio]}"); done
    REF[stats]=$(stats "${ratios[@]}")
fi

SECRET="bench-secret-$(date +%s)-$(printf %05d%05d%05d $RANDOM $RANDOM $RANDOM)" # 39 bytes: at least 32
EMAIL="bench-user@example.com"
PASSWORD="Bench-pass-8472!"
FORM="username=bench-user%40example.com&password=Bench-pass-8472%21"
declare -A R

# Printing helpers of the per-store tables.
row_head() { printf '%-13s %-9s %11s %8s %8s' "" first "$1 req/s" "p50 ms" "p99 ms"; }
figures() { # store round key [rps format]
    printf ' %11s %8s %8s' "$(fmt "${R[$1,$2,$3,rps]}" "${4:-%.0f}")" \
        "$(fmt "${R[$1,$2,$3,p50]}" %.3f)" "$(fmt "${R[$1,$2,$3,p99]}" %.3f)"
}

for store in $STORES; do
    case $store in
    memory) db_url="memory://" ;;
    sqlite) db_url="sqlite://$WORK/bench-$$.db" ;;
    postgres)
        db="axum_users_bench_$$_$RANDOM"
        psql -q "$PG_URL/$PG_ADMIN_DB" -c "CREATE DATABASE $db" >/dev/null ||
            die "CREATE DATABASE $db on $PG_URL/$PG_ADMIN_DB failed"
        DATABASES+=("$db")
        db_url="$PG_URL/$db"
        ;;
    *) die "unknown store '$store' (memory, sqlite or postgres)" ;;
    esac
    rm -f "$WORK/bench-$$.db"*

    # --- the example server --------------------------------------------------
    # LOGIN_THROTTLE=off: the login phases send LOGIN_CONNECTIONS concurrent
    # logins of one user, more than the default throttle (5/300) lets
    # through at once, since it counts every attempt before checking the
    # password. What the throttle costs a login, benches/throttle.sh measures.
    port=$(free_port)
    base="http://127.0.0.1:$port"
    log "[$store] example server on $base (DATABASE_URL=$db_url)"
    BIND="127.0.0.1:$port" SECRET="$SECRET" DATABASE_URL="$db_url" RUST_LOG=warn LOGIN_THROTTLE=off \
        ADMIN_EMAIL="bench-admin@example.com" ADMIN_PASSWORD="Admin-pass-5931!" \
        taskset -c "$SERVER_CPU" "$SERVER_BIN" >"$WORK/server-$store.log" 2>&1 &
    server_pid=$!
    PIDS+=("$server_pid")
    if ! wait_ready "$base/openapi.json" "$server_pid"; then
        tail -n 30 "$WORK/server-$store.log" >&2
        die "example server did not come up (its log is above)"
    fi

    code=$(curl -s -o "$WORK/register.json" -w '%{http_code}' -H 'content-type: application/json' \
        -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$base/auth/register")
    [[ $code == 201 ]] || die "register answered $code: $(cat "$WORK/register.json")"
    code=$(curl -s -o "$WORK/login.json" -w '%{http_code}' \
        -H 'content-type: application/x-www-form-urlencoded' -d "$FORM" "$base/auth/jwt/login")
    [[ $code == 200 ]] || die "login answered $code: $(cat "$WORK/login.json")"
    token=$(jq -r .access_token "$WORK/login.json")
    code=$(curl -s -o "$WORK/me.json" -w '%{http_code}' -H "authorization: Bearer $token" "$base/users/me")
    [[ $code == 200 ]] || die "GET /users/me answered $code: $(cat "$WORK/me.json")"
    user_id=$(jq -r .id "$WORK/me.json")
    code=$(curl -s -o /dev/null -D "$WORK/session.headers" -w '%{http_code}' \
        -H 'content-type: application/x-www-form-urlencoded' -d "$FORM" "$base/auth/session/login")
    [[ $code == 204 ]] || die "session login answered $code"
    session_cookie=$(sed -n 's/^set-cookie: *\(fastapiuserssession=[^;]*\).*/\1/ip' "$WORK/session.headers" | head -n 1)
    [[ -n $session_cookie ]] || die "session login set no fastapiuserssession cookie"
    log "[$store] user $user_id logged in"

    # --- the baseline, knowing the same user and secret ----------------------
    # It stays up (idle) through the rounds, beside the example server.
    bport=$(free_port "$port")
    bbase="http://127.0.0.1:$bport"
    BIND="127.0.0.1:$bport" SECRET="$SECRET" BENCH_USER_ID="$user_id" BENCH_USER_EMAIL="$EMAIL" \
        taskset -c "$SERVER_CPU" "$BASELINE_BIN" >"$WORK/baseline-$store.log" 2>&1 &
    baseline_pid=$!
    PIDS+=("$baseline_pid")
    wait_ready "$bbase/users/me" "$baseline_pid" || die "baseline server did not come up"
    code=$(curl -s -o "$WORK/me-baseline.json" -w '%{http_code}' -H "authorization: Bearer $token" "$bbase/users/me")
    [[ $code == 200 ]] || die "baseline GET /users/me answered $code: $(cat "$WORK/me-baseline.json")"

    # --- FastAPI Users' example app on its own SQLite file, same user -------
    with_fastapi=
    if [[ $FASTAPI == 1 && $store == sqlite ]]; then
        with_fastapi=1
        fport=$(free_port "$port" "$bport")
        fbase="http://127.0.0.1:$fport"
        SECRET="$SECRET" DATABASE_URL="sqlite+aiosqlite:///$WORK/fastapi-$$.db" \
            taskset -c "$SERVER_CPU" "$FASTAPI_VENV/bin/uvicorn" --app-dir "$ROOT/benches" \
            fastapi_users_app:app --host 127.0.0.1 --port "$fport" --log-level warning \
            --no-access-log >"$WORK/fastapi.log" 2>&1 &
        fastapi_pid=$!
        PIDS+=("$fastapi_pid")
        wait_ready "$fbase/openapi.json" "$fastapi_pid" || die "FastAPI Users did not come up: $(tail -n 20 "$WORK/fastapi.log")"
        code=$(curl -s -o "$WORK/f-register.json" -w '%{http_code}' -H 'content-type: application/json' \
            -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$fbase/auth/register")
        [[ $code == 201 ]] || die "FastAPI Users register answered $code: $(cat "$WORK/f-register.json")"
        code=$(curl -s -o "$WORK/f-login.json" -w '%{http_code}' \
            -H 'content-type: application/x-www-form-urlencoded' -d "$FORM" "$fbase/auth/jwt/login")
        [[ $code == 200 ]] || die "FastAPI Users login answered $code: $(cat "$WORK/f-login.json")"
        fastapi_token=$(jq -r .access_token "$WORK/f-login.json")
        log "[$store] FastAPI Users on $fbase"
    fi

    auth=(-H "authorization: Bearer $token")
    login=(-m POST -T application/x-www-form-urlencoded -d "$FORM" "$base/auth/jwt/login")
    rated=(-c "$ME_RATE_CONNECTIONS" -q "$ME_RATE" --latency-correction "${auth[@]}" "$base/users/me")

    # The phases of one round ($1), each writing $RESULTS_DIR/$store-r$1-<key>.json.
    me_phase() { # round crate|baseline|session|fastapi
        local url=$base/users/me credential=("${auth[@]}")
        [[ $2 == baseline ]] && url=$bbase/users/me
        [[ $2 == session ]] && credential=(-H "cookie: $session_cookie")
        if [[ $2 == fastapi ]]; then
            [[ -n $with_fastapi ]] || return 0
            url=$fbase/users/me
            credential=(-H "authorization: Bearer $fastapi_token")
        fi
        log "[$store] round $1/$ROUNDS: GET /users/me, $2, $CONNECTIONS connections"
        measure "$RESULTS_DIR/$store-r$1-me-$2.json" -c "$CONNECTIONS" "${credential[@]}" "$url"
        check_codes "$RESULTS_DIR/$store-r$1-me-$2.json" "$2 GET /users/me"
    }
    login_phase() {
        log "[$store] round $1/$ROUNDS: POST /auth/jwt/login, $LOGIN_CONNECTIONS connections"
        measure "$RESULTS_DIR/$store-r$1-login.json" -c "$LOGIN_CONNECTIONS" "${login[@]}"
        check_codes "$RESULTS_DIR/$store-r$1-login.json" "login"
    }
    raw_phase() {
        log "[$store] round $1/$ROUNDS: raw argon2id verify (library), ${DURATION}s on core $SERVER_CPU"
        R[$store,$1,raw]=$(raw_verify "$RESULTS_DIR/$store-r$1-argon2.txt")
    }
    idle_phase() {
        log "[$store] round $1/$ROUNDS: GET /users/me at $ME_RATE req/s, idle"
        measure "$RESULTS_DIR/$store-r$1-me-idle.json" "${rated[@]}"
        check_codes "$RESULTS_DIR/$store-r$1-me-idle.json" "idle rate-limited GET /users/me"
    }
    flood_phase() {
        local flood_pid
        log "[$store] round $1/$ROUNDS: GET /users/me at $ME_RATE req/s, beside a login flood"
        run_oha "$RESULTS_DIR/$store-r$1-flood-login.json" -z "$((WARMUP + DURATION + 1))s" \
            -c "$LOGIN_CONNECTIONS" "${login[@]}" &
        flood_pid=$!
        PIDS+=("$flood_pid")
        measure "$RESULTS_DIR/$store-r$1-me-flood.json" "${rated[@]}"
        wait "$flood_pid" || die "the login flood failed"
        stop_server "$flood_pid"
        check_codes "$RESULTS_DIR/$store-r$1-me-flood.json" "rate-limited GET /users/me under flood"
    }
    writes_phase() {
        local writer_pid
        log "[$store] round $1/$ROUNDS: GET /users/me at $ME_RATE req/s, beside a stream of writes"
        taskset -c "$LOADGEN_CPU" python3 "$ROOT/benches/write_stream.py" "$base" \
            "$((WARMUP + DURATION + 1))" "$WRITE_THREADS" >"$RESULTS_DIR/$store-r$1-writes.txt" &
        writer_pid=$!
        PIDS+=("$writer_pid")
        measure "$RESULTS_DIR/$store-r$1-me-writes.json" "${rated[@]}"
        wait "$writer_pid" || die "the write stream failed: $(cat "$RESULTS_DIR/$store-r$1-writes.txt")"
        stop_server "$writer_pid"
        check_codes "$RESULTS_DIR/$store-r$1-me-writes.json" "rate-limited GET /users/me beside writes"
        R[$store,$1,writes]=$(sed -n 's/^writes_per_sec=//p' "$RESULTS_DIR/$store-r$1-writes.txt")
    }

    for ((r = 1; r <= ROUNDS; r++)); do
        # 1. GET /users/me throughput, 2. login against raw verify, 3. p99
        # idle and under a login flood; each pair back to back, its order
        # rotating with the round.
        if [[ -n $(first_side_first "$r") ]]; then
            me_phase "$r" crate
            me_phase "$r" baseline
            me_phase "$r" session
            me_phase "$r" fastapi
            login_phase "$r"
            raw_phase "$r"
            idle_phase "$r"
            flood_phase "$r"
            writes_phase "$r"
        else
            me_phase "$r" fastapi
            me_phase "$r" session
            me_phase "$r" baseline
            me_phase "$r" crate
            raw_phase "$r"
            login_phase "$r"
            writes_phase "$r"
            flood_phase "$r"
            idle_phase "$r"
        fi
        for k in me-crate me-baseline me-session me-idle me-flood me-writes login flood-login; do
            f="$RESULTS_DIR/$store-r$r-$k.json"
            R[$store,$r,$k,rps]=$(ok_rps "$f")
            R[$store,$r,$k,p50]=$(p50_ms "$f")
            R[$store,$r,$k,p99]=$(p99_ms "$f")
        done
        R[$store,$r,me_ratio]=$(div "${R[$store,$r,me-crate,rps]}" "${R[$store,$r,me-baseline,rps]}")
        R[$store,$r,login_ratio]=$(div "${R[$store,$r,login,rps]}" "${R[$store,$r,raw]}")
        R[$store,$r,flood_ratio]=$(div "${R[$store,$r,me-flood,p99]}" "${R[$store,$r,me-idle,p99]}")
        R[$store,$r,writes_ratio]=$(div "${R[$store,$r,me-writes,p99]}" "${R[$store,$r,me-idle,p99]}")
        R[$store,$r,session_ratio]=$(div "${R[$store,$r,me-session,rps]}" "${R[$store,$r,me-crate,rps]}")
        R[$store,$r,fastapi_ratio]=nan
        if [[ -n $with_fastapi ]]; then
            f="$RESULTS_DIR/$store-r$r-me-fastapi.json"
            R[$store,$r,me-fastapi,rps]=$(ok_rps "$f")
            R[$store,$r,me-fastapi,p50]=$(p50_ms "$f")
            R[$store,$r,me-fastapi,p99]=$(p99_ms "$f")
            R[$store,$r,fastapi_ratio]=$(div "${R[$store,$r,me-crate,rps]}" "${R[$store,$r,me-fastapi,rps]}")
        fi
        log "[$store] round $r/$ROUNDS: crate/baseline ${R[$store,$r,me_ratio]}," \
            "session/jwt ${R[$store,$r,session_ratio]}, login/raw ${R[$store,$r,login_ratio]}," \
            "p99 flood/idle ${R[$store,$r,flood_ratio]}, p99 writes/idle ${R[$store,$r,writes_ratio]}"
    done

    stop_server "$baseline_pid"
    if [[ -n $with_fastapi ]]; then stop_server "$fastapi_pid"; fi
    stop_server "$server_pid"
    rm -f "$WORK/bench-$$.db"*

    for key in me_ratio session_ratio fastapi_ratio login_ratio flood_ratio writes_ratio; do
        ratios=()
        for ((r = 1; r <= ROUNDS; r++)); do ratios+=("${R[$store,$r,$key]}"); done
        R[$store,$key]=$(stats "${ratios[@]}")
    done

    # --- figures ---------------------------------------------------------------
    echo
    echo "== store: $store ($ROUNDS rounds, ${DURATION}s per phase) =="
    echo "GET /users/me ($CONNECTIONS conn), crate vs bare baseline"
    printf '%s' "$(row_head crate)"
    printf ' %11s %8s %8s %8s\n' "base req/s" "p50 ms" "p99 ms" ratio
    for ((r = 1; r <= ROUNDS; r++)); do
        printf '%-13s %-9s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo crate || echo baseline)"
        figures "$store" "$r" me-crate
        figures "$store" "$r" me-baseline
        printf ' %8s\n' "${R[$store,$r,me_ratio]}"
    done
    echo "  ratio crate/baseline (req/s): $(spread_text "${R[$store,me_ratio]}")"
    echo "GET /users/me ($CONNECTIONS conn), database session (cookie) vs JWT, crate"
    printf '%s %11s %8s\n' "$(row_head session)" "jwt req/s" ratio
    for ((r = 1; r <= ROUNDS; r++)); do
        printf '%-13s %-9s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo jwt || echo session)"
        figures "$store" "$r" me-session
        printf ' %11s %8s\n' "$(fmt "${R[$store,$r,me-crate,rps]}" %.0f)" "${R[$store,$r,session_ratio]}"
    done
    echo "  ratio session/jwt (req/s): $(spread_text "${R[$store,session_ratio]}")"
    if [[ -n $with_fastapi ]]; then
        echo "GET /users/me ($CONNECTIONS conn), crate vs FastAPI Users 15.0.5 (uvicorn, 1 worker, SQLite)"
        printf '%s %11s %8s\n' "$(row_head fastapi)" "crate req/s" ratio
        for ((r = 1; r <= ROUNDS; r++)); do
            printf '%-13s %-9s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo crate || echo fastapi)"
            figures "$store" "$r" me-fastapi
            printf ' %11s %8s\n' "$(fmt "${R[$store,$r,me-crate,rps]}" %.0f)" "${R[$store,$r,fastapi_ratio]}"
        done
        echo "  ratio crate/FastAPI Users (req/s): $(spread_text "${R[$store,fastapi_ratio]}")"
    fi
    echo "POST /auth/jwt/login ($LOGIN_CONNECTIONS conn, 1 core) vs raw argon2id verify (library, 1 thread)"
    printf '%s' "$(row_head login)"
    printf ' %11s %8s\n' "raw verif/s" ratio
    for ((r = 1; r <= ROUNDS; r++)); do
        printf '%-13s %-9s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo login || echo raw)"
        printf ' %11s %8s %8s' "$(fmt "${R[$store,$r,login,rps]}" %.2f)" \
            "$(fmt "${R[$store,$r,login,p50]}" %.1f)" "$(fmt "${R[$store,$r,login,p99]}" %.1f)"
        printf ' %11s %8s\n' "$(fmt "${R[$store,$r,raw]}" %.2f)" "${R[$store,$r,login_ratio]}"
    done
    echo "  ratio login/raw verify: $(spread_text "${R[$store,login_ratio]}")"
    echo "GET /users/me at $ME_RATE req/s ($ME_RATE_CONNECTIONS conn), idle vs beside a login flood ($LOGIN_CONNECTIONS conn)"
    printf '%s' "$(row_head idle)"
    printf ' %11s %8s %8s %8s %8s\n' "flood req/s" "p50 ms" "p99 ms" logins/s ratio
    for ((r = 1; r <= ROUNDS; r++)); do
        printf '%-13s %-9s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo idle || echo flood)"
        figures "$store" "$r" me-idle
        figures "$store" "$r" me-flood
        printf ' %8s %8s\n' "$(fmt "${R[$store,$r,flood-login,rps]}" %.2f)" "${R[$store,$r,flood_ratio]}"
    done
    echo "  ratio p99 flood/idle: $(spread_text "${R[$store,flood_ratio]}")"
    echo "GET /users/me at $ME_RATE req/s ($ME_RATE_CONNECTIONS conn), idle vs beside a stream of writes ($WRITE_THREADS threads)"
    printf '%s' "$(row_head idle)"
    printf ' %11s %8s %8s %8s %8s\n' "writes rq/s" "p50 ms" "p99 ms" writes/s ratio
    for ((r = 1; r <= ROUNDS; r++)); do
        printf '%-13s %-9s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo idle || echo writes)"
        figures "$store" "$r" me-idle
        figures "$store" "$r" me-writes
        printf ' %8s %8s\n' "$(fmt "${R[$store,$r,writes]:-nan}" %.2f)" "${R[$store,$r,writes_ratio]}"
    done
    echo "  ratio p99 writes/idle: $(spread_text "${R[$store,writes_ratio]}")"
done

# ---------------------------------------------------------------------------
# Summary.
# ---------------------------------------------------------------------------
# verdict VALUE OP TARGET -> PASS/FAIL
verdict() {
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
        if (v == "nan") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
        print ok ? "PASS" : "FAIL"
    }'
}
if ((REF_ROUNDS > 0)); then
    echo
    echo "== reference: bare baseline at $ME_RATE req/s, its core shared with one argon2 thread =="
    printf '%-13s %-9s %12s %12s %8s\n' "" first "p99 idle ms" "p99 busy ms" ratio
    for ((r = 1; r <= REF_ROUNDS; r++)); do
        printf '%-13s %-9s %12s %12s %8s\n' "  round $r" \
            "$([[ -n $(first_side_first "$r") ]] && echo idle || echo busy)" \
            "$(fmt "${REF[$r,idle]}" %.3f)" "$(fmt "${REF[$r,busy]}" %.3f)" "${REF[$r,ratio]}"
    done
    echo "  ratio busy/idle p99 (scheduler floor of flood/idle): $(spread_text "${REF[stats]}")"
fi

echo
echo "== summary (ROUNDS=$ROUNDS paired rounds, DURATION=${DURATION}s, server on core $SERVER_CPU, load on core $LOADGEN_CPU) =="
echo "   $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(oha --version)"
echo "   CPU used by others: ${BUSY_BEFORE}% before the run, $(busy_percent)% after (above a few %, figures are noisy)"
echo "   value = median of the per-round ratios; spread = their min–max over the rounds"
printf '%-8s %-38s %8s %8s %6s  %s\n' store ratio median target ok "spread (rounds)"
fails=0
for store in $STORES; do
    rows=(
        "me_ratio|GET /users/me crate/baseline req/s|>=|${TARGET_ME_RATIO[$store]:-info}"
        "session_ratio|GET /users/me session/jwt req/s|>=|info"
        "fastapi_ratio|GET /users/me crate/FastAPI Users req/s|>=|${TARGET_FASTAPI_RATIO[$store]:-info}"
        "login_ratio|login req/s / raw argon2 verifies/s|>=|$TARGET_LOGIN_RATIO"
        "flood_ratio|/users/me p99 flood/idle|<=|$TARGET_FLOOD_RATIO"
        "writes_ratio|/users/me p99 writes/idle|<=|$TARGET_WRITES_RATIO"
    )
    for row in "${rows[@]}"; do
        IFS='|' read -r key label op target <<<"$row"
        read -r v lo hi n <<<"${R[$store,$key]}"
        [[ $n == 0 ]] && continue # not measured for this store
        if [[ $target == info ]]; then
            ok="(info)" # no target: shown for comparison
        else
            ok=$(verdict "$v" "$op" "$target")
            [[ $ok == FAIL ]] && fails=$((fails + 1))
        fi
        printf '%-8s %-38s %8s %8s %6s  %s\n' "$store" "$label" "$v" "$op $target" "$ok" "$lo–$hi ($n)"
    done
done
[[ -n $KEEP_RESULTS ]] && log "oha JSON reports and argon2_verify outputs kept in $RESULTS_DIR"
echo
echo "targets missed: $fails"
