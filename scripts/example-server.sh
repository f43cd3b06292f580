# Sourced (not run) by scripts/fuzz-api.sh and scripts/check-docs-ui.sh: starts
# the loopback OpenID Connect provider (tests/oidc) and the example server with
# it, in a clean environment.
#
#   start_example_server LOGDIR CLIENT_ID
#
# Needs: $server_bin (the built example server), $tmp (a scratch directory),
# node, python3, curl. Sets: base, issuer, idp_pid, server_pid, admin_email,
# admin_password. Writes LOGDIR/provider.log, LOGDIR/server.log,
# LOGDIR/server.stdout.log and LOGDIR/openapi.json. The caller stops the two
# processes (its EXIT trap kills $server_pid and $idp_pid).

start_example_server() {
    local logdir="$1" client_id="$2" port client_secret secret
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:$port"
    client_secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
    secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
    admin_email="$client_id-admin@example.com"
    admin_password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"

    OIDC_CLIENT_ID="$client_id" OIDC_CLIENT_SECRET="$client_secret" \
    OIDC_REDIRECT_URIS="$base/auth/oidc/callback $base/auth/associate/oidc/callback" \
        node tests/oidc/provider.mjs >"$tmp/idp.out" 2>"$logdir/provider.log" </dev/null &
    idp_pid=$!
    issuer=""
    for _ in $(seq 1 200); do
        if [ -s "$tmp/idp.out" ]; then
            issuer="$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' "$tmp/idp.out" 2>/dev/null || true)"
            [ -n "$issuer" ] && break
        fi
        if ! kill -0 "$idp_pid" 2>/dev/null; then
            echo "the OpenID Connect provider exited:" >&2
            cat "$logdir/provider.log" >&2
            return 1
        fi
        sleep 0.1
    done
    [ -n "$issuer" ] || { echo "the OpenID Connect provider printed no issuer in 20 s" >&2; cat "$logdir/provider.log" >&2; return 1; }
    echo "provider: $issuer"

    # A clean environment: only the OpenID Connect provider, whatever the
    # caller's environment holds (no SMTP_URL: mails are printed, which the
    # fuzz hooks read; no REDIS_URL nor OAUTH_* presets).
    env -i PATH="$PATH" HOME="$HOME" \
    BIND="127.0.0.1:$port" DATABASE_URL="memory://" SECRET="$secret" \
    ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
    OIDC_ISSUER_URL="$issuer" OIDC_CLIENT_ID="$client_id" OIDC_CLIENT_SECRET="$client_secret" \
    OAUTH_REDIRECT_BASE="$base" RUST_LOG="${RUST_LOG:-info}" \
        "$server_bin" >"$logdir/server.stdout.log" 2>"$logdir/server.log" </dev/null &
    server_pid=$!
    for _ in $(seq 1 300); do
        if curl -sf -o "$logdir/openapi.json" "$base/openapi.json" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "the server exited:" >&2
            cat "$logdir/server.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "the server did not answer /openapi.json in 30 s" >&2
    tail -50 "$logdir/server.log" >&2
    return 1
}
