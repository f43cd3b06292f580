#!/usr/bin/env bash
#
# benches/sessions.sh — GET /users/me throughput with revocable sessions.
#
# On this machine's loopback only, one example server (release build, pinned
# to core $SERVER_CPU) on a fresh PostgreSQL database and the machine's Redis;
# one user logged in three ways:
#   jwt      bearer JWT from /auth/jwt/login (the user is still read from PostgreSQL)
#   session  cookie fastapiuserssession from /auth/session/login (database
#            strategy: the token's digest is looked up in PostgreSQL)
#   redis    bearer opaque token from /auth/redis/login (Redis strategy)
# then GET /users/me with each, same connections and duration, in one run. The
# JWT phase runs first and again last; the ratios redis/jwt and session/jwt are
# taken against the mean of the two JWT phases, whose spread shows the drift.
# A second server on memory:// gives the JWT path without any database as a
# reference. The PostgreSQL and Redis servers are the machine's services: they
# are not pinned and run wherever the kernel puts them, competing with both the
# server's core and the load generator's.
#
# The database (axum_users_bench_<random>) is created on 127.0.0.1 and dropped
# at exit; the Redis session is logged out at the end (its key would otherwise
# expire after an hour). Servers are killed on exit.
#
# Environment (all optional):
#   DURATION=10            seconds measured per phase
#   WARMUP=2               seconds of warm-up before each measured phase
#   CONNECTIONS=32         connections of every phase
#   MEMORY_REFERENCE=1     0 skips the memory-store JWT reference
#   SERVER_CPU=0 LOADGEN_CPU=1
#   PG_PORT=5432 PG_USER=postgres PG_ADMIN_DB=test   PostgreSQL on 127.0.0.1 (trust)
#   REDIS_PORT=6379        Redis on 127.0.0.1
#   CARGO_TARGET_DIR       build dir (default ~/.cache/axum-users-bench-target)
#   RESULTS_DIR            keep oha's JSON reports there (default: a temp dir, removed)

set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
MEMORY_REFERENCE=${MEMORY_REFERENCE:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_ADMIN_DB=${PG_ADMIN_DB:-test}
REDIS_PORT=${REDIS_PORT:-6379}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/axum-users-bench-target}
STEP_TIMEOUT=30 # seconds for any one set-up step (psql, start-up)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/axum-users-sessions.XXXXXX")
KEEP_RESULTS=${RESULTS_DIR:+1}
RESULTS_DIR=${RESULTS_DIR:-$WORK/results}
mkdir -p "$RESULTS_DIR"

log() { printf '[sessions.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 2)); then
    die "DURATION=$DURATION: whole seconds, at least 2"
fi

# psql on the machine's PostgreSQL, maintenance database; the rest are psql's arguments.
pg_admin() {
    PGCONNECT_TIMEOUT=5 timeout "$STEP_TIMEOUT" \
        psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_ADMIN_DB" -v ON_ERROR_STOP=1 -Atq "$@"
}

PIDS=()
DB=""         # the database this script created, dropped at exit
REDIS_LOGOUT=() # curl arguments of the Redis logout, while the session is alive
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
    local pid
    if ((${#REDIS_LOGOUT[@]})); then
        curl -s -o /dev/null -m 2 "${REDIS_LOGOUT[@]}" || true
    fi
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $DB ]]; then
        if pg_admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"; then
            log "dropped database $DB"
        else
            log "warning: could not drop database $DB; drop it by hand"
        fi
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Tools: oha (load generator), jq, curl, taskset, psql; redis-cli is optional
# (only to find the Redis server's pid for its CPU figure).
# ---------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
need_apt=()
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v psql >/dev/null || need_apt+=(postgresql-client)
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]} from Debian"
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! oha --version >/dev/null 2>&1; then
    log "oha not found: cargo install oha --locked (takes a few minutes)"
    cargo install oha --locked
fi
log "$(oha --version)"

# ---------------------------------------------------------------------------
# The services: the machine's PostgreSQL and Redis, on loopback.
# ---------------------------------------------------------------------------
pg_admin -c "SELECT 1" >/dev/null ||
    die "no PostgreSQL at $PG_USER@127.0.0.1:$PG_PORT/$PG_ADMIN_DB (trust authentication expected)"
redis_ping() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || return 1
    printf 'PING\r\n' >&3
    read -r -t 2 line <&3 || line=""
    exec 3<&- 3>&-
    [[ $line == "+PONG"* ]]
}
redis_ping 2>/dev/null || die "no Redis answering PING at 127.0.0.1:$REDIS_PORT"
REDIS_PID=""
if command -v redis-cli >/dev/null; then
    REDIS_PID=$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server 2>/dev/null |
        sed -n 's/^process_id:\([0-9]*\).*/\1/p' || true)
fi
[[ -n $REDIS_PID && -r /proc/$REDIS_PID/stat ]] || {
    log "note: Redis server's pid unknown (no redis-cli, or not in this pid namespace): no Redis CPU figure"
    REDIS_PID=""
}

# ---------------------------------------------------------------------------
# Build: the example server, release mode.
# ---------------------------------------------------------------------------
cd "$ROOT"
log "building (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --example server --message-format=json-render-diagnostics >"$WORK/build.json"
SERVER_BIN=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "server" and .executable != null) | .executable' \
    "$WORK/build.json" | tail -n 1)
[[ -n $SERVER_BIN && -x $SERVER_BIN ]] || die "the example server is missing after the build ('$SERVER_BIN')"

# ---------------------------------------------------------------------------
# Helpers (free_port … busy_percent as in load.sh).
# ---------------------------------------------------------------------------
# First port in 18080..18099 with nothing listening on 127.0.0.1.
free_port() {
    local p
    for p in $(seq 18080 18099); do
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

# --- CPU accounting of one measured phase ----------------------------------
# Busy ticks of the whole machine (user nice system irq softirq, as busy_percent).
machine_busy_ticks() {
    local u n s irq sirq
    read -r _ u n s _ _ irq sirq _ </proc/stat
    echo $((u + n + s + irq + sirq))
}
# "pid ticks" (utime + stime, all threads) for each live pid given.
proc_ticks() {
    local pid stat f
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        read -r -a f <<<"${stat##*) }"
        echo "$pid $((f[11] + f[12]))"
    done
}
# Ticks used between two proc_ticks files: by the pids of the second, minus what
# they had used in the first (a pid absent from the first was born in between).
ticks_delta() { awk 'NR == FNR { a[$1] = $2; next } { s += $2 - a[$1] } END { print s + 0 }' "$1" "$2"; }
# PostgreSQL backends serving the bench database right now.
pg_backends() { pg_admin -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"; }
# Connections ever opened to the bench database (PostgreSQL 14+; 0 before).
pg_sessions() { pg_admin -c "SELECT coalesce((SELECT sessions FROM pg_stat_database WHERE datname = '$DB'), 0)" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)

# Throughput phase: warm-up, then DURATION seconds measured, JSON report to
# $RESULTS_DIR/$1.json; $2 is the server's pid; oha's arguments after. Also
# records the CPU used over the steady part of the measured phase (from 0.5 s
# after its start to 0.5 s before its end, so that the connections oha opens
# and aborts at the edges don't count) by the server, the bench database's
# PostgreSQL backends, the Redis server and oha (% of one core), by the rest
# of the machine (% of all cores), and how many connections the server opened
# to PostgreSQL meanwhile.
declare -A R
measure() {
    local name=$1 server=$2 oha_pid pg_pids=() pg_end=() s0=0 t0 t1 m0 m1 elapsed ours g used
    shift 2
    run_oha /dev/null -z "${WARMUP}s" "$@"
    taskset -c "$LOADGEN_CPU" oha --no-tui --output-format json --worker-threads 1 \
        -z "${DURATION}s" "$@" >"$RESULTS_DIR/$name.json" &
    oha_pid=$!
    PIDS+=("$oha_pid")
    sleep 0.5
    if [[ $name != memory-* ]]; then
        mapfile -t pg_pids < <(pg_backends)
        s0=$(pg_sessions)
    fi
    proc_ticks "$server" >"$WORK/server.0"
    proc_ticks "${pg_pids[@]}" >"$WORK/pg.0"
    proc_ticks ${REDIS_PID:+"$REDIS_PID"} >"$WORK/redis.0"
    proc_ticks "$oha_pid" >"$WORK/oha.0"
    m0=$(machine_busy_ticks)
    t0=$(date +%s%N)
    sleep "$((DURATION - 1))"
    t1=$(date +%s%N)
    m1=$(machine_busy_ticks)
    proc_ticks "$server" >"$WORK/server.1"
    proc_ticks ${REDIS_PID:+"$REDIS_PID"} >"$WORK/redis.1"
    proc_ticks "$oha_pid" >"$WORK/oha.1"
    # Backends born in the window count in full; one that came and went within
    # it would be missed (the "pg conn" column tells whether there were any).
    if [[ $name != memory-* ]]; then
        mapfile -t pg_end < <(pg_backends)
        R[$name,pgconn]=$(($(pg_sessions) - s0))
    else
        R[$name,pgconn]="-"
    fi
    proc_ticks "${pg_pids[@]}" "${pg_end[@]}" | sort -u -k1,1 >"$WORK/pg.1"
    wait "$oha_pid" || die "oha failed ($name)"
    stop_server "$oha_pid"
    check_codes "$RESULTS_DIR/$name.json" "GET /users/me ($name)"

    R[$name,rps]=$(ok_rps "$RESULTS_DIR/$name.json")
    R[$name,p50]=$(p50_ms "$RESULTS_DIR/$name.json")
    R[$name,p99]=$(p99_ms "$RESULTS_DIR/$name.json")
    elapsed=$(((t1 - t0) / 1000000)) # ms
    ours=0
    for g in server pg redis oha; do
        used=$(ticks_delta "$WORK/$g.0" "$WORK/$g.1")
        ours=$((ours + used))
        R[$name,$g%]=$(awk -v t="$used" -v hz="$CLK_TCK" -v ms="$elapsed" \
            'BEGIN { printf "%.0f", 100 * t / hz / (ms / 1000) }')
    done
    [[ $name != memory-* ]] || R[$name,pg%]="-"
    [[ -n $REDIS_PID ]] || R[$name,redis%]="-"
    R[$name,others%]=$(awk -v t="$((m1 - m0 - ours))" -v hz="$CLK_TCK" -v ms="$elapsed" -v n="$NCPU" \
        'BEGIN { v = 100 * t / hz / (ms / 1000) / n; printf "%.0f", v < 0 ? 0 : v }')
}

# Starts the example server on a free port with DATABASE_URL=$1 (and REDIS_URL
# when $2 is set); sets SERVER_PID and BASE.
start_server() {
    local db_url=$1 redis_url=$2 port logname=$3
    port=$(free_port)
    BASE="http://127.0.0.1:$port"
    log "example server on $BASE (DATABASE_URL=$db_url${redis_url:+, REDIS_URL=$redis_url})"
    BIND="127.0.0.1:$port" SECRET="$SECRET" DATABASE_URL="$db_url" REDIS_URL="$redis_url" RUST_LOG=warn \
        taskset -c "$SERVER_CPU" "$SERVER_BIN" >"$WORK/server-$logname.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    if ! wait_ready "$BASE/openapi.json" "$SERVER_PID"; then
        tail -n 30 "$WORK/server-$logname.log" >&2
        die "example server did not come up (its log is above)"
    fi
}

# POST $BASE$1 with the login form; answer body in $WORK/login.json, headers in
# $WORK/login.headers; fails unless the status is $2.
login() {
    local code
    code=$(curl -s -m 10 -D "$WORK/login.headers" -o "$WORK/login.json" -w '%{http_code}' \
        -H 'content-type: application/x-www-form-urlencoded' -d "$FORM" "$BASE$1")
    [[ $code == "$2" ]] || die "POST $1 answered $code: $(cat "$WORK/login.json")"
}

# GET /users/me with the header $1; prints the user's id.
me_id() {
    local code
    code=$(curl -s -m 10 -o "$WORK/me.json" -w '%{http_code}' -H "$1" "$BASE/users/me")
    [[ $code == 200 ]] || die "GET /users/me with '${1%%:*}' answered $code: $(cat "$WORK/me.json")"
    jq -r .id "$WORK/me.json"
}

BUSY_BEFORE=$(busy_percent)
if ((BUSY_BEFORE > 10)); then
    log "warning: the machine is ${BUSY_BEFORE}% busy before the run; the figures will be noisy"
fi

SECRET="bench-secret-$(date +%s)-$RANDOM$RANDOM"
EMAIL="bench-user@example.com"
PASSWORD="Bench-pass-8472!"
FORM="username=bench-user%40example.com&password=Bench-pass-8472%21"
REDIS_URL_BENCH="redis://127.0.0.1:$REDIS_PORT"

# ---------------------------------------------------------------------------
# A fresh database, the server on it, one user logged in three ways.
# ---------------------------------------------------------------------------
name="axum_users_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
pg_admin -c "CREATE DATABASE \"$name\"" || die "could not create database $name"
DB=$name
log "created database $DB"

start_server "postgres://$PG_USER@127.0.0.1:$PG_PORT/$DB" "$REDIS_URL_BENCH" postgres
pg_server=$SERVER_PID

code=$(curl -s -m 10 -o "$WORK/register.json" -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/auth/register")
[[ $code == 201 ]] || die "register answered $code: $(cat "$WORK/register.json")"

login /auth/jwt/login 200
jwt_token=$(jq -r .access_token "$WORK/login.json")
login /auth/session/login 204
session_token=$(tr -d '\r' <"$WORK/login.headers" |
    sed -n 's/^[Ss]et-[Cc]ookie: *fastapiuserssession=\([^;]*\).*/\1/p' | tail -n 1)
[[ -n $session_token ]] || die "no fastapiuserssession cookie in the session login's answer"
login /auth/redis/login 200
redis_token=$(jq -r .access_token "$WORK/login.json")
[[ -n $redis_token && $redis_token != null ]] || die "no access_token in the Redis login's answer"
REDIS_LOGOUT=(-X POST -H "authorization: Bearer $redis_token" "$BASE/auth/redis/logout")

jwt_auth="authorization: Bearer $jwt_token"
session_auth="cookie: fastapiuserssession=$session_token"
redis_auth="authorization: Bearer $redis_token"
id_jwt=$(me_id "$jwt_auth")
id_session=$(me_id "$session_auth")
id_redis=$(me_id "$redis_auth")
[[ $id_jwt == "$id_session" && $id_jwt == "$id_redis" ]] ||
    die "the three tokens name different users ($id_jwt, $id_session, $id_redis)"
log "user $id_jwt logged in with a JWT, a database session and a Redis session"

# ---------------------------------------------------------------------------
# GET /users/me, each way: jwt, session, redis, jwt again.
# ---------------------------------------------------------------------------
me="$BASE/users/me"
log "GET /users/me, JWT (first), $CONNECTIONS connections"
measure jwt1 "$pg_server" -c "$CONNECTIONS" -H "$jwt_auth" "$me"
log "GET /users/me, database session on PostgreSQL, $CONNECTIONS connections"
measure session "$pg_server" -c "$CONNECTIONS" -H "$session_auth" "$me"
log "GET /users/me, Redis session, $CONNECTIONS connections"
measure redis "$pg_server" -c "$CONNECTIONS" -H "$redis_auth" "$me"
log "GET /users/me, JWT (last), $CONNECTIONS connections"
measure jwt2 "$pg_server" -c "$CONNECTIONS" -H "$jwt_auth" "$me"

code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "${REDIS_LOGOUT[@]}")
[[ $code == 204 ]] || log "warning: the Redis logout answered $code (the key expires within an hour anyway)"
REDIS_LOGOUT=()
stop_server "$pg_server"

# ---------------------------------------------------------------------------
# Reference: the JWT path on the memory store (no database at all).
# ---------------------------------------------------------------------------
if [[ $MEMORY_REFERENCE == 1 ]]; then
    start_server "memory://" "" memory
    mem_server=$SERVER_PID
    code=$(curl -s -m 10 -o "$WORK/register.json" -w '%{http_code}' -H 'content-type: application/json' \
        -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/auth/register")
    [[ $code == 201 ]] || die "register (memory) answered $code: $(cat "$WORK/register.json")"
    login /auth/jwt/login 200
    mem_auth="authorization: Bearer $(jq -r .access_token "$WORK/login.json")"
    me_id "$mem_auth" >/dev/null
    log "GET /users/me, JWT on the memory store, $CONNECTIONS connections"
    measure memory-jwt "$mem_server" -c "$CONNECTIONS" -H "$mem_auth" "$BASE/users/me"
    stop_server "$mem_server"
fi

# ---------------------------------------------------------------------------
# Figures.
# ---------------------------------------------------------------------------
JWT_RPS=$(awk -v a="${R[jwt1,rps]}" -v b="${R[jwt2,rps]}" 'BEGIN { print (a + b) / 2 }')
RATIO_REDIS=$(div "${R[redis,rps]}" "$JWT_RPS")
RATIO_SESSION=$(div "${R[session,rps]}" "$JWT_RPS")
DRIFT=$(div "${R[jwt2,rps]}" "${R[jwt1,rps]}")

row() {
    local label=$1 k=$2
    printf '%-42s %8s %8s %8s %8s %5s %7s %5s %8s %8s\n' "  $label" "$(fmt "${R[$k,rps]}" %.0f)" \
        "$(fmt "${R[$k,p50]}" %.3f)" "$(fmt "${R[$k,p99]}" %.3f)" \
        "${R[$k,server%]}" "${R[$k,pg%]}" "${R[$k,redis%]}" "${R[$k,oha%]}" "${R[$k,others%]}" "${R[$k,pgconn]}"
}
echo
echo "== GET /users/me, example server on PostgreSQL + Redis ($CONNECTIONS conn, ${DURATION}s per phase) =="
printf '%-42s %8s %8s %8s %8s %5s %7s %5s %8s %8s\n' "" "req/s" "p50 ms" "p99 ms" "server%" "pg%" "redis%" "oha%" "others%" "pg conn"
row "jwt (first)" jwt1
row "session (database strategy, PostgreSQL)" session
row "redis (Redis strategy)" redis
row "jwt (last)" jwt2
printf '%-42s %8s\n' "  jwt, mean of first and last" "$(fmt "$JWT_RPS" %.0f)"
printf '%-42s %8s\n' "  ratio redis/jwt (req/s)" "$RATIO_REDIS"
printf '%-42s %8s\n' "  ratio session(PostgreSQL)/jwt (req/s)" "$RATIO_SESSION"
printf '%-42s %8s\n' "  drift jwt last/first (req/s)" "$DRIFT"
if [[ $MEMORY_REFERENCE == 1 ]]; then
    echo
    echo "== reference: JWT on the memory store (no database) =="
    row "jwt (memory store)" memory-jwt
    printf '%-42s %8s\n' "  ratio jwt PostgreSQL/memory (req/s)" "$(div "$JWT_RPS" "${R[memory-jwt,rps]}")"
fi

echo
echo "== summary (DURATION=${DURATION}s, WARMUP=${WARMUP}s, server on core $SERVER_CPU, load on core $LOADGEN_CPU) =="
echo "   $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $NCPU cores, $(oha --version)"
echo "   $(pg_admin -c 'SHOW server_version' | sed 's/^/PostgreSQL /'), Redis on 127.0.0.1:$REDIS_PORT${REDIS_PID:+ (pid $REDIS_PID)}"
echo "   CPU used by others: ${BUSY_BEFORE}% before the run, $(busy_percent)% after (above a few %, figures are noisy)"
echo "   PostgreSQL and Redis are the machine's services, NOT pinned: they run on either core,"
echo "   competing with the server (core $SERVER_CPU) and oha (core $LOADGEN_CPU). The jwt path reads the user"
echo "   from PostgreSQL too. server%, pg% (the bench database's backends), redis%, oha% = CPU"
echo "   over the steady part of each phase, % of one core; others% = the rest of the machine,"
echo "   % of all $NCPU cores; pg conn = connections the server opened to PostgreSQL meanwhile."
printf '%-42s %8s\n' "ratio redis/jwt (req/s)" "$RATIO_REDIS"
printf '%-42s %8s\n' "ratio session(PostgreSQL)/jwt (req/s)" "$RATIO_SESSION"
[[ -n $KEEP_RESULTS ]] && log "oha JSON reports kept in $RESULTS_DIR"
exit 0
