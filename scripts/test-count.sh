# Sourced (not run) by .ci/run and scripts/validate-openapi.sh: runs a
# `cargo test` command and checks how many tests it ran, so that a filter that
# matches nothing (a test renamed, a feature off) fails instead of passing on
# zero tests.
#
#   expect_tests LABEL MIN cargo test ARGS...
#
# Sums the "N passed" of every "test result:" line the harnesses print (one per
# test binary and the doc-tests; `--quiet` keeps them), then prints
# "LABEL: N passed, 0 failed" and fails when N is 0 or below MIN. The command's
# own failure is returned as it is. Tests that skip count as passed: the
# callers run with AXUM_USERS_REQUIRE_SERVICES=1, where a test that cannot run
# fails instead of skipping (tests/it/common/services.rs).

expect_tests() {
    local label="$1" min="$2" log rc passed
    shift 2
    log="$(mktemp)"
    set +e
    "$@" 2>&1 | tee "$log"
    rc="${PIPESTATUS[0]}"
    set -e
    passed="$(sed -n 's/^test result: [A-Za-z]*\. \([0-9][0-9]*\) passed;.*/\1/p' "$log" |
        awk '{ n += $1 } END { print n + 0 }')"
    rm -f "$log"
    if [ "$rc" -ne 0 ]; then
        echo "$label: the test command failed (exit code $rc)" >&2
        return "$rc"
    fi
    echo "$label: $passed passed, 0 failed"
    if [ "$passed" -eq 0 ] || [ "$passed" -lt "$min" ]; then
        echo "$label: $passed test(s) ran, at least $min expected (\`$*\`): a filter that" \
            "matches nothing, a test renamed or removed, or a feature left off" >&2
        return 1
    fi
}
