#!/usr/bin/env bash
#
# benches/refresh.sh — the refresh-token backend (/auth/token) of the example
# server on SQLite, against the plain JWT backend (/auth/jwt), in one run
# (issue 14's acceptance).
#
# On this machine's loopback only, one example server (release build, pinned
# to core $SERVER_CPU) on a fresh SQLite file; one user registered and logged
# in on /auth/jwt/login (a JWT) and on /auth/token/login (an access token, a
# JWT naming its session in a claim `sid`, read from the store on every
# request). Then, in ROUNDS rounds, these three phases:
#   jwt      GET /users/me with the /auth/jwt token            (oha, CONNECTIONS)
#   token    GET /users/me with the /auth/token access token   (oha, CONNECTIONS)
#   refresh  POST /auth/token/refresh in CHAINS concurrent chains, each
#            presenting the refresh token its previous refresh answered
#            (benches/refresh_chain.py: refresh tokens are single-use, so oha
#            cannot replay one request)
# jwt first in odd rounds and token first in even ones, refresh last in every
# round (whatever its writes leave behind then meets jwt and token in turn),
# each ratio taken within its round. The server runs on one core, so
# refreshes/s is refreshes per second per core.
#
# Prints per round req/s, p50, p99, and the CPU of the server and of the load
# generator (process and core, from /proc, over the measured window), then the
# mean, median and spread (min–max) over the rounds of req/s and of the ratios
# token/jwt (aim ≥ 0.7 on the mean: a PASS/MISS line) and refreshes/jwt (for
# information). Near the aim, three rounds are too few for a verdict (see
# benches/README.md): use ROUNDS=10. Exits non-zero on errors only (any answer
# but 200 in a measured phase, a transport error, a failed set-up), never on
# a figure: a missed aim is reported (`aims missed: N`), as load.sh reports
# its targets.
#
# Environment (all optional):
#   DURATION=10            seconds measured per phase
#   ROUNDS=3               rounds (jwt, token and refresh phases in each)
#   WARMUP=2               seconds of warm-up before each measured phase
#   CONNECTIONS=64         oha connections of the GET /users/me phases
#   CHAINS=16              concurrent refresh chains (one connection each)
#   AIM=0.7                aim of the ratio token/jwt (mean over the rounds)
#   SERVER_BIN             an example server built elsewhere (an older commit,
#                          for before/after figures) instead of this tree's
#   SERVER_CPU=0 LOADGEN_CPU=1
#   CARGO_TARGET_DIR       build dir (default ~/.cache/axum-users-bench-target)
#   RESULTS_DIR            keep oha's JSON reports and the driver's outputs
#                          there (default: a temp dir, removed)

set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
CHAINS=${CHAINS:-16}
AIM=${AIM:-0.7}
GIVEN_SERVER_BIN=${SERVER_BIN:-}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/axum-users-bench-target}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/axum-users-refresh.XXXXXX")
KEEP_RESULTS=${RESULTS_DIR:+1}
RESULTS_DIR=${RESULTS_DIR:-$WORK/results}
mkdir -p "$RESULTS_DIR"

log() { printf '[refresh.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CHAINS =~ ^[1-9][0-9]*$ ]] || die "CHAINS must be a positive integer, not '$CHAINS'"
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 2)); then
    die "DURATION=$DURATION: whole seconds, at least 2"
fi

PIDS=()
# shellcheck disable=SC2317 # invoked by the trap
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
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Tools: oha (load generator), jq (reading its JSON), curl, taskset, python3.
# ---------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
need_apt=()
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v python3 >/dev/null || need_apt+=(python3)
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
# Build: the example server, release mode (the dev-dependency on the crate
# itself enables the sqlite feature for the examples, as for load.sh).
# ---------------------------------------------------------------------------
cd "$ROOT"
if [[ -n $GIVEN_SERVER_BIN ]]; then
    SERVER_BIN=$GIVEN_SERVER_BIN
else
    log "building (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    cargo build --release --example server --message-format=json-render-diagnostics >"$WORK/build.json"
    SERVER_BIN=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "server" and .executable != null) | .executable' \
        "$WORK/build.json" | tail -n 1)
fi
[[ -n $SERVER_BIN && -x $SERVER_BIN ]] || die "the example server is missing ('$SERVER_BIN')"

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

# Stops one process started by this script.
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
# Counts an error (the script then exits 1 after printing the figures) when a
# report holds anything but 200 answers, or errors other than oha's aborts at
# the deadline.
ERRORS=0
check_codes() {
    local bad
    bad=$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key != "200") | "\(.key)x\(.value)"] | join(" ")' "$1")
    if [[ -n $bad ]]; then
        log "error: $2 answered other than 200: $bad"
        ERRORS=$((ERRORS + 1))
    fi
    bad=$(jq -r '[(.errorDistribution // {}) | to_entries[] | select(.key != "aborted due to deadline") | "\(.key)x\(.value)"] | join("; ")' "$1")
    if [[ -n $bad ]]; then
        log "error: $2 had errors: $bad"
        ERRORS=$((ERRORS + 1))
    fi
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.3f", a / b }'; }
fmt() { awk -v a="$1" "BEGIN { if (a == \"nan\" || a == \"\") print \"nan\"; else printf \"$2\", a }"; }
# Mean, median and spread of the numbers given ("nan" and empty ones left
# out): prints "mean median min max count".
stats() {
    printf '%s\n' "$@" | awk '$1 != "nan" && $1 != "" { v[n++] = $1 + 0; s += $1 }
        END {
            if (n == 0) { print "nan nan nan nan 0"; exit }
            for (i = 1; i < n; i++) {
                x = v[i]
                for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]
                v[j + 1] = x
            }
            m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf "%.3f %.3f %.3f %.3f %d\n", s / n, m, v[0], v[n - 1], n
        }'
}
# "mean X, median M (min–max A–B, n rounds)" from the output of stats; $2 is
# the format of the figures (default %.3f).
spread_text() {
    local mean m lo hi n f=${2:-%.3f}
    read -r mean m lo hi n <<<"$1"
    echo "mean $(fmt "$mean" "$f"), median $(fmt "$m" "$f") (min–max $(fmt "$lo" "$f")–$(fmt "$hi" "$f"), $n rounds)"
}
first_side_first() { if (($1 % 2 == 1)); then echo 1; fi; }

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
# "busy total" ticks of core $1, counted as busy_percent counts them.
core_ticks() {
    local u n s idle io irq sirq
    read -r _ u n s idle io irq sirq _ < <(grep "^cpu$1 " /proc/stat)
    echo "$((u + n + s + irq + sirq)) $((u + n + s + irq + sirq + idle + io))"
}
# utime + stime (all threads) of process $1, 0 once it is gone.
proc_ticks() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    read -r -a f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}
CLK_TCK=$(getconf CLK_TCK)
# $1 ticks over $2 nanoseconds, in % of one core.
percent_of_core() { awk -v t="$1" -v hz="$CLK_TCK" -v ns="$2" 'BEGIN { printf "%.1f", 100 * t / hz / (ns / 1e9) }'; }
# Busy % of a core between two core_ticks readings.
core_percent() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
        if (t > 0) printf "%.1f", 100 * (y[1] - x[1]) / t; else print "nan" }'
}
# Rate $1 per second of server CPU, the server having used $2 % of a core.
per_cpu_second() { awk -v r="$1" -v p="$2" 'BEGIN { if (r == "nan" || p == "nan" || p == 0) print "nan"; else printf "%.1f", r * 100 / p }'; }

# GET /users/me throughput phase: warm-up, then DURATION seconds measured, oha's
# JSON report to $RESULTS_DIR/$1.json; oha's arguments after. Also records,
# over the steady part of the measured phase (0.5 s after its start to 0.5 s
# before its end, leaving out the connections oha opens and aborts at the
# edges), the busy % of the server's core and of the load generator's, and
# the CPU of the server process and of oha in % of one core.
declare -A R
measure() {
    local name=$1 oha_pid c0 c1 l0 l1 o0 o1 s0 s1 t0 t1
    shift
    run_oha /dev/null -z "${WARMUP}s" "$@"
    taskset -c "$LOADGEN_CPU" oha --no-tui --output-format json --worker-threads 1 \
        -z "${DURATION}s" "$@" >"$RESULTS_DIR/$name.json" &
    oha_pid=$!
    PIDS+=("$oha_pid")
    sleep 0.5
    c0=$(core_ticks "$SERVER_CPU")
    l0=$(core_ticks "$LOADGEN_CPU")
    o0=$(proc_ticks "$oha_pid")
    s0=$(proc_ticks "$SERVER_PID")
    t0=$(date +%s%N)
    sleep "$((DURATION - 1))"
    t1=$(date +%s%N)
    c1=$(core_ticks "$SERVER_CPU")
    l1=$(core_ticks "$LOADGEN_CPU")
    o1=$(proc_ticks "$oha_pid")
    s1=$(proc_ticks "$SERVER_PID")
    wait "$oha_pid" || die "oha failed ($name)"
    stop_server "$oha_pid"
    check_codes "$RESULTS_DIR/$name.json" "GET /users/me ($name)"
    R[$name,rps]=$(ok_rps "$RESULTS_DIR/$name.json")
    R[$name,p50]=$(p50_ms "$RESULTS_DIR/$name.json")
    R[$name,p99]=$(p99_ms "$RESULTS_DIR/$name.json")
    R[$name,core]=$(core_percent "$c0" "$c1")
    R[$name,lgcore]=$(core_percent "$l0" "$l1")
    R[$name,oha]=$(percent_of_core "$((o1 - o0))" "$((t1 - t0))")
    R[$name,server]=$(percent_of_core "$((s1 - s0))" "$((t1 - t0))")
    R[$name,percpu]=$(per_cpu_second "${R[$name,rps]}" "${R[$name,server]}")
}

# The refresh phase: benches/refresh_chain.py on the load-generator core; its
# output to $RESULTS_DIR/$1.txt, its figures into R[$1,…].
refresh_phase() {
    local name=$1 out="$RESULTS_DIR/$1.txt" key
    if ! taskset -c "$LOADGEN_CPU" python3 "$ROOT/benches/refresh_chain.py" "$BASE" "$EMAIL" "$PASSWORD" \
        --chains "$CHAINS" --warmup "$WARMUP" --duration "$DURATION" \
        --server-pid "$SERVER_PID" --server-cpu "$SERVER_CPU" --loadgen-cpu "$LOADGEN_CPU" >"$out" 2>&1; then
        log "error: the refresh chains failed ($name):"
        sed 's/^/    /' "$out" >&2
        ERRORS=$((ERRORS + 1))
    fi
    for key in refreshes_per_sec p50_ms p99_ms server_cpu_pct server_core_busy_pct driver_cpu_pct \
        loadgen_core_busy_pct login_seconds ok bad; do
        R[$name,$key]=$(sed -n "s/^$key=//p" "$out")
        [[ -n ${R[$name,$key]} ]] || R[$name,$key]=nan
    done
    R[$name,reuse]=$(sed -n 's/^reuse_check=//p' "$out")
    R[$name,percpu]=$(per_cpu_second "${R[$name,refreshes_per_sec]}" "${R[$name,server_cpu_pct]}")
    R[$name,limit]=$(limited_by "${R[$name,driver_cpu_pct]}" "${R[$name,loadgen_core_busy_pct]}" \
        "${R[$name,server_core_busy_pct]}")
}

# What limited a phase's rate, from the CPU of the load generator ($1, % of
# one core), the busy % of its core ($2) and of the server's core ($3):
#   "load generator"  it used 90% of its core or more: the rate is a lower bound;
#   "loadgen core"    its core was 95% busy or more (others' work on it) while
#                     the server's core was not saturated: a lower bound too;
#   "server core"     the server's core was 90% busy or more;
#   "neither"         neither core saturated: latency-bound (the round trips,
#                     the SQLite write lock, fsync).
limited_by() {
    awk -v d="$1" -v l="$2" -v s="$3" 'BEGIN {
        if (d == "nan" || s == "nan") print "n/a"
        else if (d + 0 >= 90) print "load generator"
        else if (l + 0 >= 95 && s + 0 < 90) print "loadgen core"
        else if (s + 0 >= 90) print "server core"
        else print "neither"
    }'
}
measure_limit() { # oha phase name
    R[$1,limit]=$(limited_by "${R[$1,oha]}" "${R[$1,lgcore]}" "${R[$1,core]}")
}

BUSY_BEFORE=$(busy_percent)
if ((BUSY_BEFORE > 10)); then
    log "warning: the machine is ${BUSY_BEFORE}% busy before the run; the figures will be noisy"
fi

# ---------------------------------------------------------------------------
# The server on a fresh SQLite file; one user, logged in on /auth/jwt and
# /auth/token.
# ---------------------------------------------------------------------------
SECRET="bench-secret-$(date +%s)-$(printf %05d%05d%05d $RANDOM $RANDOM $RANDOM)" # 39 bytes: at least 32
EMAIL="bench-user@example.com"
PASSWORD="Bench-pass-8472!"
FORM="username=bench-user%40example.com&password=Bench-pass-8472%21"

port=$(free_port)
BASE="http://127.0.0.1:$port"
DB_URL="sqlite://$WORK/bench.db"
log "example server on $BASE (DATABASE_URL=$DB_URL), core $SERVER_CPU"
BIND="127.0.0.1:$port" SECRET="$SECRET" DATABASE_URL="$DB_URL" RUST_LOG=warn \
    taskset -c "$SERVER_CPU" "$SERVER_BIN" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
if ! wait_ready "$BASE/openapi.json" "$SERVER_PID"; then
    tail -n 30 "$WORK/server.log" >&2
    die "example server did not come up (its log is above)"
fi

code=$(curl -s -m 10 -o "$WORK/register.json" -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/auth/register")
[[ $code == 201 ]] || die "register answered $code: $(cat "$WORK/register.json")"
# POST $BASE$1 with the login form; prints the access token.
login() {
    local code token
    code=$(curl -s -m 10 -o "$WORK/login.json" -w '%{http_code}' \
        -H 'content-type: application/x-www-form-urlencoded' -d "$FORM" "$BASE$1")
    [[ $code == 200 ]] || die "POST $1 answered $code: $(cat "$WORK/login.json")"
    token=$(jq -r .access_token "$WORK/login.json")
    [[ -n $token && $token != null ]] || die "no access_token in the answer of $1: $(cat "$WORK/login.json")"
    echo "$token"
}
# GET /users/me with the bearer token $1; prints the user's id.
me_id() {
    local code
    code=$(curl -s -m 10 -o "$WORK/me.json" -w '%{http_code}' -H "authorization: Bearer $1" "$BASE/users/me")
    [[ $code == 200 ]] || die "GET /users/me answered $code: $(cat "$WORK/me.json")"
    jq -r .id "$WORK/me.json"
}
jwt_token=$(login /auth/jwt/login)
token_token=$(login /auth/token/login)
[[ $(jq -r .refresh_token "$WORK/login.json") != null ]] || die "/auth/token/login answered no refresh_token"
id_jwt=$(me_id "$jwt_token")
id_token=$(me_id "$token_token")
[[ $id_jwt == "$id_token" ]] || die "the two tokens name different users ($id_jwt, $id_token)"
log "user $id_jwt logged in on /auth/jwt and /auth/token"

# ---------------------------------------------------------------------------
# The rounds.
# ---------------------------------------------------------------------------
me_phase() { # round jwt|token
    local credential=$jwt_token
    [[ $2 == token ]] && credential=$token_token
    log "round $1/$ROUNDS: GET /users/me, $2, $CONNECTIONS connections"
    measure "r$1-$2" -c "$CONNECTIONS" -H "authorization: Bearer $credential" "$BASE/users/me"
    measure_limit "r$1-$2"
}
chains_phase() { # round
    log "round $1/$ROUNDS: POST /auth/token/refresh, $CHAINS chains (logins first, not measured)"
    refresh_phase "r$1-refresh"
}
for ((r = 1; r <= ROUNDS; r++)); do
    if [[ -n $(first_side_first "$r") ]]; then
        me_phase "$r" jwt
        me_phase "$r" token
    else
        me_phase "$r" token
        me_phase "$r" jwt
    fi
    chains_phase "$r"
    R[$r,me_ratio]=$(div "${R[r$r-token,rps]}" "${R[r$r-jwt,rps]}")
    R[$r,cpu_ratio]=$(div "${R[r$r-token,percpu]}" "${R[r$r-jwt,percpu]}")
    R[$r,refresh_ratio]=$(div "${R[r$r-refresh,refreshes_per_sec]}" "${R[r$r-jwt,rps]}")
    log "round $r/$ROUNDS: token/jwt ${R[$r,me_ratio]}, refreshes/jwt ${R[$r,refresh_ratio]}"
done
kill -0 "$SERVER_PID" 2>/dev/null || {
    ERRORS=$((ERRORS + 1))
    log "error: the server is gone: $(tail -n 20 "$WORK/server.log")"
}
stop_server "$SERVER_PID"

collect() { # key of R[r<n>-<key>] or R[<n>,<key>] ($2 = "round")
    local vals=() r
    for ((r = 1; r <= ROUNDS; r++)); do
        if [[ ${2:-} == round ]]; then vals+=("${R[$r,$1]:-nan}"); else vals+=("${R[r$r-$1]:-nan}"); fi
    done
    stats "${vals[@]}"
}
S_JWT=$(collect jwt,rps)
S_TOKEN=$(collect token,rps)
S_REFRESH=$(collect refresh,refreshes_per_sec)
S_ME_RATIO=$(collect me_ratio round)
S_CPU_RATIO=$(collect cpu_ratio round)
S_JWT_CPU=$(collect jwt,percpu)
S_TOKEN_CPU=$(collect token,percpu)
S_REFRESH_CPU=$(collect refresh,percpu)
S_REFRESH_RATIO=$(collect refresh_ratio round)

# ---------------------------------------------------------------------------
# Figures.
# ---------------------------------------------------------------------------
figures() { # phase name
    printf ' %11s %8s %8s' "$(fmt "${R[$1,rps]}" %.0f)" "$(fmt "${R[$1,p50]}" %.3f)" "$(fmt "${R[$1,p99]}" %.3f)"
}
cpu_figures() { # phase name
    printf ' %5s %5s %5s %5s %9s %-14s' "$(fmt "${R[$1,server]}" %.0f)" "$(fmt "${R[$1,core]}" %.0f)" \
        "$(fmt "${R[$1,oha]}" %.0f)" "$(fmt "${R[$1,lgcore]}" %.0f)" "$(fmt "${R[$1,percpu]}" %.0f)" "${R[$1,limit]}"
}
first_of() { [[ -n $(first_side_first "$1") ]] && echo jwt || echo token; }
echo
echo "== GET /users/me on SQLite ($CONNECTIONS conn, ${DURATION}s per phase): /auth/token access token vs /auth/jwt =="
printf '%-11s %-7s %11s %8s %8s %11s %8s %8s %7s\n' "" first "jwt req/s" "p50 ms" "p99 ms" \
    "token req/s" "p50 ms" "p99 ms" ratio
for ((r = 1; r <= ROUNDS; r++)); do
    printf '%-11s %-7s' "  round $r" "$(first_of "$r")"
    figures "r$r-jwt"
    figures "r$r-token"
    printf ' %7s\n' "${R[$r,me_ratio]}"
done
echo "  jwt req/s:   $(spread_text "$S_JWT" %.0f)"
echo "  token req/s: $(spread_text "$S_TOKEN" %.0f)"
echo "  ratio token/jwt (req/s): $(spread_text "$S_ME_RATIO")"
echo "CPU over each measured window (% of one core): srv = server process, core = server's core busy,"
echo "oha = load generator, lg = its core busy; req/cpu-s = req/s per second of server CPU"
printf '%-11s %-7s %5s %5s %5s %5s %9s %-14s %5s %5s %5s %5s %9s %-14s %7s\n' "" first \
    srv% core% oha% lg% req/cpu-s "jwt limited by" srv% core% oha% lg% req/cpu-s "token limited" ratio
for ((r = 1; r <= ROUNDS; r++)); do
    printf '%-11s %-7s' "  round $r" "$(first_of "$r")"
    cpu_figures "r$r-jwt"
    cpu_figures "r$r-token"
    printf ' %7s\n' "${R[$r,cpu_ratio]}"
done
echo "  ratio token/jwt (req per server CPU-second): $(spread_text "$S_CPU_RATIO")"

echo
echo "== POST /auth/token/refresh on SQLite ($CHAINS chains, ${DURATION}s per phase): refreshes per second on one core =="
printf '%-11s %10s %8s %8s %9s %7s %5s %5s %7s %5s %9s %-14s %7s\n' "" refresh/s "p50 ms" "p99 ms" \
    "jwt req/s" "rf/jwt" srv% core% driver% lg% rf/cpu-s "limited by" "login s"
for ((r = 1; r <= ROUNDS; r++)); do
    n="r$r-refresh"
    printf '%-11s %10s %8s %8s %9s %7s %5s %5s %7s %5s %9s %-14s %7s\n' "  round $r" \
        "$(fmt "${R[$n,refreshes_per_sec]}" %.0f)" "$(fmt "${R[$n,p50_ms]}" %.3f)" "$(fmt "${R[$n,p99_ms]}" %.3f)" \
        "$(fmt "${R[r$r-jwt,rps]}" %.0f)" "${R[$r,refresh_ratio]}" \
        "$(fmt "${R[$n,server_cpu_pct]}" %.0f)" "$(fmt "${R[$n,server_core_busy_pct]}" %.0f)" \
        "$(fmt "${R[$n,driver_cpu_pct]}" %.0f)" "$(fmt "${R[$n,loadgen_core_busy_pct]}" %.0f)" \
        "$(fmt "${R[$n,percpu]}" %.0f)" "${R[$n,limit]}" "${R[$n,login_seconds]}"
done
echo "  refreshes/s (per core): $(spread_text "$S_REFRESH" %.0f)"
echo "  refreshes per second of server CPU: $(spread_text "$S_REFRESH_CPU" %.0f)"
echo "  ratio refreshes/s / jwt GET /users/me req/s: $(spread_text "$S_REFRESH_RATIO")"
echo "  every refresh answered 200 with a new refresh token: $(
    bad=0
    for ((r = 1; r <= ROUNDS; r++)); do [[ ${R[r$r-refresh,bad]} == 0 ]] || bad=1; done
    ((bad)) && echo NO || echo yes
)"
echo "  rotation check (round 1, chain 0): ${R[r1-refresh,reuse]:-n/a}"
saturated=0
for ((r = 1; r <= ROUNDS; r++)); do
    if [[ ${R[r$r-refresh,limit]} == load* ]]; then saturated=$((saturated + 1)); fi
done
if ((saturated)); then
    echo "  the load generator limited the rate in $saturated of $ROUNDS rounds: refreshes/s is a lower bound there"
else
    echo "  the load generator was not the bottleneck in any round (the driver below 90% of its core, its core not saturated while the server's was not)"
fi

# ---------------------------------------------------------------------------
# Summary.
# ---------------------------------------------------------------------------
echo
echo "== summary (ROUNDS=$ROUNDS, DURATION=${DURATION}s, CONNECTIONS=$CONNECTIONS, CHAINS=$CHAINS, SQLite, server on core $SERVER_CPU, load on core $LOADGEN_CPU) =="
echo "   $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(oha --version), $(python3 --version)"
echo "   CPU used by others: ${BUSY_BEFORE}% before the run, $(busy_percent)% after (above a few %, figures are noisy)"
printf '%-44s %9s %9s %19s %7s %6s\n' figure mean median "min–max" aim ok
row() { # label stats format aim
    local mean m lo hi n ok=info aim=${4:-}
    read -r mean m lo hi n <<<"$2"
    if [[ -n $aim ]]; then
        ok=$(awk -v v="$mean" -v t="$aim" 'BEGIN { if (v == "nan") print "n/a"; else print (v + 0 >= t + 0) ? "PASS" : "MISS" }')
        aim=">= $aim"
    fi
    printf '%-44s %9s %9s %19s %7s %6s\n' "$1" "$(fmt "$mean" "$3")" "$(fmt "$m" "$3")" \
        "$(fmt "$lo" "$3")–$(fmt "$hi" "$3")" "${aim:--}" "$ok"
}
row "GET /users/me jwt req/s" "$S_JWT" %.0f
row "GET /users/me token req/s" "$S_TOKEN" %.0f
row "ratio token/jwt (req/s)" "$S_ME_RATIO" %.3f "$AIM"
row "GET /users/me jwt req per server CPU-s" "$S_JWT_CPU" %.0f
row "GET /users/me token req per server CPU-s" "$S_TOKEN_CPU" %.0f
row "ratio token/jwt (req per server CPU-s)" "$S_CPU_RATIO" %.3f
row "refreshes/s per core" "$S_REFRESH" %.0f
row "refreshes per server CPU-s" "$S_REFRESH_CPU" %.0f
row "ratio refreshes/s / jwt req/s" "$S_REFRESH_RATIO" %.3f
read -r mean _ <<<"$S_ME_RATIO"
verdict=$(awk -v v="$mean" -v t="$AIM" 'BEGIN { if (v == "nan") print "n/a"; else print (v + 0 >= t + 0) ? "PASS" : "MISS" }')
echo "$verdict: GET /users/me with an /auth/token access token at $(fmt "$mean" %.3f)× the /auth/jwt path (mean over $ROUNDS rounds; aim ≥ $AIM)"
[[ -n $KEEP_RESULTS ]] && log "oha JSON reports and driver outputs kept in $RESULTS_DIR"
echo
echo "aims missed: $([[ $verdict == MISS ]] && echo 1 || echo 0)"
if ((ERRORS)); then
    log "$ERRORS error(s) above: failing"
    exit 1
fi
