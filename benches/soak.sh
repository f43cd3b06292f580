#!/usr/bin/env bash
#
# benches/soak.sh — soak test of axum-users' example server on PostgreSQL and
# Redis (issue 18): SOAK_SECONDS (600) of mixed traffic, no 5xx, memory flat.
#
# Builds the example server (release), creates a fresh database on the
# PostgreSQL server (soak_<random>, dropped at exit, so the test database is
# never touched), starts the server on it with REDIS_URL set (Redis sessions
# at /auth/redis), LOGIN_THROTTLE=off and MAIL_CAP=off (the traffic logs the
# same accounts in over and over, and asks for many reset mails), RUST_LOG=warn
# and no SMTP_URL: the server prints its mails to stdout, where the driver
# reads the reset tokens. Then benches/soak_traffic.py drives WORKERS
# concurrent clients through a weighted mix for SOAK_SECONDS: registrations,
# password logins on /auth/jwt, /auth/token and /auth/redis, GET /users/me
# with the three kinds of bearer token, rotating refreshes on
# /auth/token/refresh (always the newest refresh token), forgot-password +
# reset-password with the mailed token, logouts, and MFA logins (a password
# step answered LOGIN_MFA_REQUIRED, then /auth/jwt/login/mfa with a TOTP code
# computed by the driver, for accounts enrolled on the way).
#
# The server's RSS (VmRSS) is sampled every 10 s. Prints per operation the
# statuses, p50 and p99 of the first and the last window (minute; the first
# and last fifth of a run shorter than five minutes), the RSS samples and
# first vs last window, and a PASS/FAIL line. Exit status: 0 only when no
# answer was a 5xx (nor a connection error, nor another status than expected)
# and the RSS at the end is within RSS_TOLERANCE % of the RSS after the first
# fifth of the run (warm-up does not count); 1 otherwise.
#
# Environment (all optional):
#   SOAK_SECONDS=600       length of the run (60 is a sensible smoke test)
#   WORKERS=4              concurrent clients (threads, one keep-alive
#                          connection each)
#   RSS_TOLERANCE=10       allowed RSS growth after the first fifth, in %
#   SEED                   seeds the clients' choices
#   AXUM_USERS_TEST_POSTGRES_URL  PostgreSQL server where the fresh database is
#                          created (default postgres://postgres@127.0.0.1:5432/test;
#                          CREATE DATABASE runs in the database it names)
#   AXUM_USERS_TEST_REDIS_URL     Redis (default redis://127.0.0.1:6379). The
#                          example server has no key prefix: the run's Redis
#                          sessions are logged out by the driver at the end
#                          (any left over expire on their own)
#   SERVER_BIN             an example server built elsewhere (an older commit)
#                          instead of this tree's
#   CARGO_TARGET_DIR       build dir (default ~/.cache/axum-users-bench-target)
#   KEEP_LOGS              a directory where the server's stdout (mails) and
#                          stderr (warnings) are copied at exit

set -euo pipefail

SOAK_SECONDS=${SOAK_SECONDS:-600}
WORKERS=${WORKERS:-4}
RSS_TOLERANCE=${RSS_TOLERANCE:-10}
SEED=${SEED:-}
PG_URL=${AXUM_USERS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS_URL=${AXUM_USERS_TEST_REDIS_URL:-redis://127.0.0.1:6379}
GIVEN_SERVER_BIN=${SERVER_BIN:-}
KEEP_LOGS=${KEEP_LOGS:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/axum-users-bench-target}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/axum-users-soak.XXXXXX")

log() { printf '[soak.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
if ! [[ $SOAK_SECONDS =~ ^[0-9]+$ ]] || ((SOAK_SECONDS < 20)); then
    die "SOAK_SECONDS=$SOAK_SECONDS: whole seconds, at least 20"
fi
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer, not '$WORKERS'"
[[ $RSS_TOLERANCE =~ ^[0-9]+([.][0-9]+)?$ ]] || die "RSS_TOLERANCE must be a number (percent), not '$RSS_TOLERANCE'"
[[ -z $SEED || $SEED =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer, not '$SEED'"
# postgres://user@host:port/db[?query]: the server part, the admin database
# (where CREATE DATABASE runs) and the query, kept for the fresh database's URL.
[[ $PG_URL =~ ^(postgres(ql)?://[^/?]+)(/([^?]*))?(\?.*)?$ ]] ||
    die "AXUM_USERS_TEST_POSTGRES_URL is not a postgres:// URL: '$PG_URL'"
PG_SERVER=${BASH_REMATCH[1]}
PG_ADMIN_DB=${BASH_REMATCH[4]:-postgres}
PG_QUERY=${BASH_REMATCH[5]:-}
PG_ADMIN_URL="$PG_SERVER/$PG_ADMIN_DB$PG_QUERY"

SERVER_PID=
DATABASE=
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n $KEEP_LOGS ]]; then
        mkdir -p "$KEEP_LOGS"
        cp "$WORK"/server.out "$WORK"/server.err "$KEEP_LOGS"/ 2>/dev/null || true
    fi
    if [[ -n $DATABASE ]]; then
        psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 ||
            log "warning: could not drop the database $DATABASE"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Tools: psql (the fresh database), curl, jq (the build's output), python3.
# ---------------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
need_apt=()
command -v psql >/dev/null || need_apt+=(postgresql-client)
command -v curl >/dev/null || need_apt+=(curl)
command -v jq >/dev/null || need_apt+=(jq)
command -v python3 >/dev/null || need_apt+=(python3)
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]} from Debian"
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------
# Build: the example server, release mode (as load.sh and throttle.sh).
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
# Helpers (as in load.sh and throttle.sh).
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

# ---------------------------------------------------------------------------
# PostgreSQL: a fresh database for the run.
# ---------------------------------------------------------------------------
psql -q "$PG_ADMIN_URL" -tAc 'SELECT 1' >/dev/null 2>"$WORK/psql.err" ||
    die "PostgreSQL at $PG_ADMIN_URL does not answer: $(head -n 3 "$WORK/psql.err") (set AXUM_USERS_TEST_POSTGRES_URL)"
name="soak_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $name" >/dev/null 2>"$WORK/psql.err" ||
    die "CREATE DATABASE $name failed: $(head -n 3 "$WORK/psql.err")"
DATABASE=$name
DATABASE_URL="$PG_SERVER/$DATABASE$PG_QUERY"
log "PostgreSQL $(psql -tAc 'SHOW server_version' "$PG_ADMIN_URL" | awk '{print $1}'): database $DATABASE (dropped at exit)"

# ---------------------------------------------------------------------------
# The example server.
# ---------------------------------------------------------------------------
port=$(free_port)
SECRET=$(od -An -N48 -tx1 /dev/urandom | tr -d ' \n')
# No SMTP_URL (mails to stdout), nor any other setting of the caller's
# environment that would change the routes (usernames, invite-only, OAuth).
unset_env=()
for var in SMTP_URL FRONTEND_URL ADMIN_EMAIL ADMIN_PASSWORD INVITE_ONLY USERNAMES TRUSTED_ORIGINS \
    ALLOW_SHORT_SECRET OIDC_ISSUER_URL $(compgen -e | grep '^OAUTH_' || true); do
    unset_env+=(-u "$var")
done
env "${unset_env[@]}" BIND="127.0.0.1:$port" DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL" \
    SECRET="$SECRET" LOGIN_THROTTLE=off MAIL_CAP=off RUST_LOG=warn \
    "$SERVER_BIN" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
BASE="http://127.0.0.1:$port"
wait_ready "$BASE/openapi.json" "$SERVER_PID" ||
    die "the example server did not start: $(tail -n 5 "$WORK/server.err")"
# Redis answers? The server starts without it, and its Redis routes then
# answer 503, which would fail the run for the wrong reason: a probe account
# logs in on /auth/redis (200) and out (204).
probe="soak-probe-$DATABASE@example.com"
probe_password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
code=$(curl -s -o "$WORK/probe" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"email\": \"$probe\", \"password\": \"$probe_password\"}" "$BASE/auth/register" || true)
[[ $code == 201 ]] || die "POST /auth/register answered $code: $(head -c 300 "$WORK/probe")"
code=$(curl -s -o "$WORK/probe" -w '%{http_code}' --data-urlencode "username=$probe" \
    --data-urlencode "password=$probe_password" "$BASE/auth/redis/login" || true)
[[ $code == 200 ]] ||
    die "POST /auth/redis/login answered $code, not 200: is Redis up at $REDIS_URL? ($(head -c 200 "$WORK/probe"); $(tail -n 3 "$WORK/server.err"))"
token=$(jq -r .access_token "$WORK/probe")
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "$BASE/auth/redis/logout" || true)
[[ $code == 204 ]] || die "POST /auth/redis/logout answered $code, not 204"
log "example server pid $SERVER_PID on $BASE (PostgreSQL, Redis at $REDIS_URL)"
log "soak: ${SOAK_SECONDS}s, $WORKERS workers, RSS every 10 s (RSS_TOLERANCE=$RSS_TOLERANCE %)"

args=("$BASE" --seconds "$SOAK_SECONDS" --server-pid "$SERVER_PID" --mail-log "$WORK/server.out"
    --workers "$WORKERS" --rss-tolerance "$RSS_TOLERANCE")
[[ -n $SEED ]] && args+=(--seed "$SEED")
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') =="
status=0
python3 "$ROOT/benches/soak_traffic.py" "${args[@]}" || status=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "error: the server is gone: $(tail -n 5 "$WORK/server.err")"
    status=1
fi
# The server's warnings, but the expected one about the console mailer.
grep -v -e '^\s*$' -e 'SMTP_URL is not set' "$WORK/server.err" >"$WORK/warnings" || true
warnings=$(wc -l <"$WORK/warnings")
if ((warnings)); then
    log "the server logged $warnings lines (RUST_LOG=warn); the last ones:"
    tail -n 10 "$WORK/warnings" >&2
else
    log "the server logged no warning or error (RUST_LOG=warn; the console mailer's aside)"
fi
exit "$status"
