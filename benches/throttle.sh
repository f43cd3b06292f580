#!/usr/bin/env bash
#
# benches/throttle.sh — what the login throttle costs a login: POST
# /auth/jwt/login on the example server with LOGIN_THROTTLE=5/300 (its
# default) against LOGIN_THROTTLE=off, in one run (issue 15's acceptance:
# throttled logins at 0.98 of the others or better).
#
# On this machine's loopback only, in each of ROUNDS rounds, two example
# servers (release build, both pinned to core $SERVER_CPU, each on a fresh
# SQLite file of its own, the same SECRET), started for the round: "on" with
# LOGIN_THROTTLE=$THROTTLE and "off" with LOGIN_THROTTLE=off. One user (a new
# one each round) is registered on each, and the script checks that the
# settings took: N+1 wrong passwords for another address answer N 400s and a
# 429 on "on", N+1 400s on "off" (N from $THROTTLE). Then the same phase on
# each server:
#   POST /auth/jwt/login with the user's right password  (oha, CONNECTIONS)
# "on" first (and started first) in odd rounds, "off" in even ones; the idle
# server waits beside the measured one. The ratio on/off of the successful
# logins per second is taken within each round. Fresh servers every round:
# two processes of one binary can differ by several percent in login rate for
# as long as they live (a 6-round run with the same two processes throughout
# gave "on" 3.5-9% ahead in every round, an earlier one "on" 4-8% behind);
# restarting turns that into noise that averages out over the rounds instead
# of a bias.
#
# The throttle counts every attempt for an address before its password is
# checked, and a completed login clears the count. So no more than
# CONNECTIONS attempts of the one user are ever counted at once (a connection
# sends its next login only after its previous one cleared the count), and
# CONNECTIONS must not exceed N, or "on" answers 429s by design. Four
# connections keep the server's core busy: a login is an argon2id
# verification (about 30 ms of one core), which the server runs on hashing
# threads of its own, one per core it may use (one here).
#
# Prints per round logins/s, p50, p99, the CPU of the server process and how
# busy the server's core was over the measured window (more than the server
# used: someone else ran there), and logins per second of server CPU; then
# the mean, median and spread (min–max) over the rounds of each rate and of
# the ratios on/off (aim ≥ 0.98 on the mean of the per-round ratios of
# logins/s: a PASS/MISS line; the ratio per server CPU-second, less sensitive
# to a neighbour on the machine, for information). Exits non-zero on errors only (any
# answer but 200 in a measured phase, a transport error, a failed set-up or
# check), never on a figure: a missed aim is reported (`aims missed: N`).
#
# Environment (all optional):
#   DURATION=15            seconds measured per phase
#   ROUNDS=3               rounds (one phase per server in each)
#   WARMUP=3               seconds of warm-up before each measured phase
#   CONNECTIONS=4          oha connections (at most N of THROTTLE)
#   THROTTLE=5/300         LOGIN_THROTTLE of the "on" server (N/S)
#   AIM=0.98               aim of the ratio on/off (mean over the rounds)
#   REDIS_URL              when set, given to both servers: "on" then counts
#                          in Redis (RedisThrottle, two round trips per
#                          login) instead of its memory
#   SERVER_BIN             an example server built elsewhere (an older commit,
#                          for before/after figures) instead of this tree's
#   SERVER_CPU=0 LOADGEN_CPU=1
#   CARGO_TARGET_DIR       build dir (default ~/.cache/axum-users-bench-target)
#   RESULTS_DIR            keep oha's JSON reports there (default: a temp
#                          dir, removed)

set -euo pipefail

DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-4}
THROTTLE=${THROTTLE:-5/300}
AIM=${AIM:-0.98}
REDIS_URL=${REDIS_URL:-}
GIVEN_SERVER_BIN=${SERVER_BIN:-}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/axum-users-bench-target}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/axum-users-throttle.XXXXXX")
KEEP_RESULTS=${RESULTS_DIR:+1}
RESULTS_DIR=${RESULTS_DIR:-$WORK/results}
mkdir -p "$RESULTS_DIR"

log() { printf '[throttle.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer, not '$CONNECTIONS'"
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 2)); then
    die "DURATION=$DURATION: whole seconds, at least 2"
fi
[[ $THROTTLE =~ ^([1-9][0-9]*)/([1-9][0-9]*)$ ]] || die "THROTTLE must be N/S (N attempts per S seconds), not '$THROTTLE'"
LIMIT=${BASH_REMATCH[1]}
((CONNECTIONS <= LIMIT)) ||
    die "CONNECTIONS=$CONNECTIONS exceeds the throttle's N ($THROTTLE): concurrent logins of the one user would be locked out (429) by design"

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
# Tools: oha (load generator), jq (reading its JSON), curl, taskset.
# ---------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
need_apt=()
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
command -v taskset >/dev/null || need_apt+=(util-linux)
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
# Build: the example server, release mode (as load.sh and refresh.sh).
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
# Helpers (as in load.sh and refresh.sh).
# ---------------------------------------------------------------------------
# First port in 18080..18099 with nothing listening on 127.0.0.1, not in $1...
free_port() {
    local p t taken
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
# report holds anything but 200 answers (a 429 of the throttle included), or
# errors other than oha's aborts at the deadline.
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
# "busy total" ticks of core $1, counted as busy_percent counts them.
core_ticks() {
    local u n s idle io irq sirq
    read -r _ u n s idle io irq sirq _ < <(grep "^cpu$1 " /proc/stat)
    echo "$((u + n + s + irq + sirq)) $((u + n + s + irq + sirq + idle + io))"
}
# Busy % of a core between two core_ticks readings.
core_percent() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
        if (t > 0) printf "%.1f", 100 * (y[1] - x[1]) / t; else print "nan" }'
}
# Rate $1 per second of server CPU, the server having used $2 % of a core.
per_cpu_second() { awk -v r="$1" -v p="$2" 'BEGIN { if (r == "nan" || p == "nan" || p == 0) print "nan"; else printf "%.2f", r * 100 / p }'; }

BUSY_BEFORE=$(busy_percent)
if ((BUSY_BEFORE > 10)); then
    log "warning: the machine is ${BUSY_BEFORE}% busy before the run; the figures will be noisy"
fi

# ---------------------------------------------------------------------------
# The two servers, started afresh in every round, each on a fresh SQLite file
# with one user.
# ---------------------------------------------------------------------------
SECRET="bench-secret-$(date +%s)-$(printf %05d%05d%05d $RANDOM $RANDOM $RANDOM)" # 39 bytes: at least 32
PASSWORD="Bench-pass-8472!"
declare -A BASE SERVER_PID
counters=memory
[[ -n $REDIS_URL ]] && counters="Redis ($REDIS_URL)"

# Stops one process started by this script.
stop_server() {
    local pid=$1 keep=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# The settings took: N+1 wrong passwords for another address ($2) answer N
# 400s and a 429 on "on", N+1 400s on "off".
check_throttle() { # side probe-address
    local expected codes=() i code
    for ((i = 0; i <= LIMIT; i++)); do
        code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'content-type: application/x-www-form-urlencoded' \
            -d "username=${2/@/%40}&password=wrong-password" "${BASE[$1]}/auth/jwt/login")
        codes+=("$code")
    done
    expected=$(printf '400 %.0s' $(seq 1 "$LIMIT"))
    if [[ $1 == on ]]; then expected+=429; else expected+=400; fi
    [[ ${codes[*]} == "$expected" ]] ||
        die "$1: $((LIMIT + 1)) wrong passwords answered '${codes[*]}', not '$expected'"
    log "$1: $((LIMIT + 1)) wrong passwords for another address answered ${codes[*]}"
}

# Starts the servers of round $1, "on" first in odd rounds: a user of the
# round's own on each (its address in EMAIL, its login form in FORM; a user
# per round, so that no count of an earlier round, in Redis, meets it).
start_servers() {
    local r=$1 side setting port ports=() order=(on off)
    [[ -z $(first_side_first "$r") ]] && order=(off on)
    EMAIL="throttle-bench-$$-r$r@example.com"
    FORM="username=${EMAIL/@/%40}&password=Bench-pass-8472%21"
    for side in "${order[@]}"; do
        port=$(free_port "${ports[@]}")
        ports+=("$port")
        BASE[$side]="http://127.0.0.1:$port"
        setting=$THROTTLE
        [[ $side == off ]] && setting=off
        rm -f "$WORK/$side.db"*
        env BIND="127.0.0.1:$port" SECRET="$SECRET" DATABASE_URL="sqlite://$WORK/$side.db" RUST_LOG=warn \
            LOGIN_THROTTLE="$setting" ${REDIS_URL:+REDIS_URL="$REDIS_URL"} \
            taskset -c "$SERVER_CPU" "$SERVER_BIN" >"$WORK/server-$side.log" 2>&1 &
        SERVER_PID[$side]=$!
        PIDS+=("${SERVER_PID[$side]}")
        if ! wait_ready "${BASE[$side]}/openapi.json" "${SERVER_PID[$side]}"; then
            tail -n 30 "$WORK/server-$side.log" >&2
            die "the $side server did not come up (its log is above)"
        fi
        code=$(curl -s -m 10 -o "$WORK/register.json" -w '%{http_code}' -H 'content-type: application/json' \
            -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "${BASE[$side]}/auth/register")
        [[ $code == 201 ]] || die "$side: register answered $code: $(cat "$WORK/register.json")"
        code=$(curl -s -m 10 -o "$WORK/login.json" -w '%{http_code}' \
            -H 'content-type: application/x-www-form-urlencoded' -d "$FORM" "${BASE[$side]}/auth/jwt/login")
        [[ $code == 200 ]] || die "$side: login answered $code: $(cat "$WORK/login.json")"
        log "round $r/$ROUNDS: $side server on ${BASE[$side]}, LOGIN_THROTTLE=$setting, core $SERVER_CPU"
        check_throttle "$side" "probe-$$-r$r@example.com"
    done
}

# Stops the servers of a round, counting an error for one that died.
stop_servers() {
    local side
    for side in on off; do
        if ! kill -0 "${SERVER_PID[$side]}" 2>/dev/null; then
            ERRORS=$((ERRORS + 1))
            log "error: the $side server is gone: $(tail -n 20 "$WORK/server-$side.log")"
        fi
        stop_server "${SERVER_PID[$side]}"
    done
}

# ---------------------------------------------------------------------------
# The rounds.
# ---------------------------------------------------------------------------
declare -A R
login_phase() { # round side
    local name="r$1-$2" oha_pid c0 c1 s0 s1 t0 t1
    local args=(-c "$CONNECTIONS" -m POST -T application/x-www-form-urlencoded -d "$FORM" "${BASE[$2]}/auth/jwt/login")
    log "round $1/$ROUNDS: POST /auth/jwt/login, throttle $2, $CONNECTIONS connections"
    run_oha "$RESULTS_DIR/$name-warmup.json" -z "${WARMUP}s" "${args[@]}"
    check_codes "$RESULTS_DIR/$name-warmup.json" "the warm-up of $name"
    taskset -c "$LOADGEN_CPU" oha --no-tui --output-format json --worker-threads 1 \
        -z "${DURATION}s" "${args[@]}" >"$RESULTS_DIR/$name.json" &
    oha_pid=$!
    PIDS+=("$oha_pid")
    sleep 0.5
    c0=$(core_ticks "$SERVER_CPU")
    s0=$(proc_ticks "${SERVER_PID[$2]}")
    t0=$(date +%s%N)
    sleep "$((DURATION - 1))"
    t1=$(date +%s%N)
    c1=$(core_ticks "$SERVER_CPU")
    s1=$(proc_ticks "${SERVER_PID[$2]}")
    wait "$oha_pid" || die "oha failed ($name)"
    stop_server "$oha_pid"
    check_codes "$RESULTS_DIR/$name.json" "POST /auth/jwt/login ($name)"
    R[$name,rps]=$(ok_rps "$RESULTS_DIR/$name.json")
    R[$name,p50]=$(p50_ms "$RESULTS_DIR/$name.json")
    R[$name,p99]=$(p99_ms "$RESULTS_DIR/$name.json")
    R[$name,server]=$(percent_of_core "$((s1 - s0))" "$((t1 - t0))")
    R[$name,core]=$(core_percent "$c0" "$c1")
    R[$name,percpu]=$(per_cpu_second "${R[$name,rps]}" "${R[$name,server]}")
}
for ((r = 1; r <= ROUNDS; r++)); do
    start_servers "$r"
    if [[ -n $(first_side_first "$r") ]]; then
        login_phase "$r" on
        login_phase "$r" off
    else
        login_phase "$r" off
        login_phase "$r" on
    fi
    stop_servers
    R[$r,ratio]=$(div "${R[r$r-on,rps]}" "${R[r$r-off,rps]}")
    R[$r,cpu_ratio]=$(div "${R[r$r-on,percpu]}" "${R[r$r-off,percpu]}")
    log "round $r/$ROUNDS: on/off ${R[$r,ratio]} (per server CPU-second ${R[$r,cpu_ratio]})"
done

collect() { # key of R[r<n>-<key>] or R[<n>,<key>] ($2 = "round")
    local vals=() r
    for ((r = 1; r <= ROUNDS; r++)); do
        if [[ ${2:-} == round ]]; then vals+=("${R[$r,$1]:-nan}"); else vals+=("${R[r$r-$1]:-nan}"); fi
    done
    stats "${vals[@]}"
}
S_ON=$(collect on,rps)
S_OFF=$(collect off,rps)
S_RATIO=$(collect ratio round)
S_ON_CPU=$(collect on,percpu)
S_OFF_CPU=$(collect off,percpu)
S_CPU_RATIO=$(collect cpu_ratio round)
read -r mean_on _ <<<"$S_ON"
read -r mean_off _ <<<"$S_OFF"
POOLED=$(div "$mean_on" "$mean_off")

# ---------------------------------------------------------------------------
# Figures.
# ---------------------------------------------------------------------------
figures() { # phase name
    printf ' %9s %8s %8s %5s %5s' "$(fmt "${R[$1,rps]}" %.2f)" "$(fmt "${R[$1,p50]}" %.1f)" \
        "$(fmt "${R[$1,p99]}" %.1f)" "$(fmt "${R[$1,server]}" %.0f)" "$(fmt "${R[$1,core]}" %.0f)"
}
echo
echo "== POST /auth/jwt/login on SQLite ($CONNECTIONS conn, ${DURATION}s per phase, one core): LOGIN_THROTTLE=$THROTTLE ($counters counters) vs off =="
printf '%-11s %-5s %9s %8s %8s %5s %5s %9s %8s %8s %5s %5s %7s %8s\n' "" first "on rq/s" "p50 ms" "p99 ms" \
    srv% core% "off rq/s" "p50 ms" "p99 ms" srv% core% ratio "cpu rat."
for ((r = 1; r <= ROUNDS; r++)); do
    printf '%-11s %-5s' "  round $r" "$([[ -n $(first_side_first "$r") ]] && echo on || echo off)"
    figures "r$r-on"
    figures "r$r-off"
    printf ' %7s %8s\n' "${R[$r,ratio]}" "${R[$r,cpu_ratio]}"
done
echo "  srv% = the server process's CPU over the measured window, core% = how busy its core was"
echo "  (both in % of one core; core% well above srv%: something else ran on the server's core);"
echo "  cpu rat. = the ratio on/off of logins per second of server CPU"

echo
echo "== summary (ROUNDS=$ROUNDS, DURATION=${DURATION}s, CONNECTIONS=$CONNECTIONS, SQLite, server on core $SERVER_CPU, load on core $LOADGEN_CPU) =="
echo "   $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(oha --version)"
echo "   CPU used by others: ${BUSY_BEFORE}% before the run, $(busy_percent)% after (above a few %, figures are noisy)"
printf '%-40s %9s %9s %17s %7s %6s\n' figure mean median "min–max" aim ok
row() { # label stats format aim
    local mean m lo hi ok=info aim=${4:-}
    read -r mean m lo hi _ <<<"$2"
    if [[ -n $aim ]]; then
        ok=$(awk -v v="$mean" -v t="$aim" 'BEGIN { if (v == "nan") print "n/a"; else print (v + 0 >= t + 0) ? "PASS" : "MISS" }')
        aim=">= $aim"
    fi
    printf '%-40s %9s %9s %17s %7s %6s\n' "$1" "$(fmt "$mean" "$3")" "$(fmt "$m" "$3")" \
        "$(fmt "$lo" "$3")–$(fmt "$hi" "$3")" "${aim:--}" "$ok"
}
row "logins/s, throttle on" "$S_ON" %.2f
row "logins/s, throttle off" "$S_OFF" %.2f
row "ratio on/off (per round)" "$S_RATIO" %.3f "$AIM"
row "logins per server CPU-s, throttle on" "$S_ON_CPU" %.2f
row "logins per server CPU-s, throttle off" "$S_OFF_CPU" %.2f
row "ratio on/off per server CPU-s" "$S_CPU_RATIO" %.3f
echo "ratio of the mean rates on/off: $POOLED"
read -r mean _ <<<"$S_RATIO"
verdict=$(awk -v v="$mean" -v t="$AIM" 'BEGIN { if (v == "nan") print "n/a"; else print (v + 0 >= t + 0) ? "PASS" : "MISS" }')
echo "$verdict: throttled logins at $(fmt "$mean" %.3f)× the unthrottled rate (mean of $ROUNDS per-round ratios; aim ≥ $AIM)"
[[ -n $KEEP_RESULTS ]] && log "oha JSON reports kept in $RESULTS_DIR"
echo
echo "aims missed: $([[ $verdict == MISS ]] && echo 1 || echo 0)"
if ((ERRORS)); then
    log "$ERRORS error(s) above: failing"
    exit 1
fi
