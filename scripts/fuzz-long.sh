#!/usr/bin/env bash
# Long fuzzing: every cargo-fuzz target of fuzz/ in turn, round after round,
# for FUZZ_HOURS in all. One job at a time (this machine has two cores, and
# the build and the rest of the machine need one). The corpora live under
# ~/.cache, grow from run to run (seeded from fuzz/corpus/<target>/seed-* the
# first time, and after each slice minimised with -merge), and the clone is
# never written to.
#
#   scripts/fuzz-long.sh                      # 8 hours
#   FUZZ_HOURS=1 FUZZ_SLICE_MINUTES=5 scripts/fuzz-long.sh webauthn oauth_callback
#
# A crash (a panic, a 5xx, a broken invariant), a hang or an out-of-memory
# is kept under $FUZZ_HOME/artifacts/<target>/ and reported at the end (exit
# status 1); the target keeps its turn in later rounds. Reproduce one with
#   cargo +nightly fuzz run <target> <artifact>
#
# Installs what it needs as scripts/fuzz-smoke.sh does.
#
# Environment (all optional):
#   FUZZ_HOURS          total time (default 8; fractions allowed)
#   FUZZ_SLICE_MINUTES  time per target per round (default 10)
#   FUZZ_HOME           corpora, artefacts and logs (default ~/.cache/axum-users/fuzz-long)
#   FUZZ_TARGET_DIR     the build (default ~/.cache/axum-users/fuzz-target)
# Arguments: the targets to run (default: all of them).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_fuzz_version="0.13.2"
hours="${FUZZ_HOURS:-8}"
slice_minutes="${FUZZ_SLICE_MINUTES:-10}"
home="${FUZZ_HOME:-$HOME/.cache/axum-users/fuzz-long}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/axum-users/fuzz-target}"
export CARGO_TERM_COLOR=never

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal --no-self-update
fi
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $cargo_fuzz_version" ]; then
    cargo install --locked --quiet "cargo-fuzz@$cargo_fuzz_version"
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
bin_dir="$CARGO_TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

total=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
slice=$(awk -v m="$slice_minutes" 'BEGIN { printf "%d", m * 60 }')
deadline=$((SECONDS + total))
for target in "${targets[@]}"; do
    mkdir -p "$home/corpus/$target" "$home/artifacts/$target" "$home/logs"
    # The seeds join the corpus (again after a merge renamed them): without
    # overwriting, and without failing on what is there already.
    for seed in fuzz/corpus/"$target"/seed-*; do
        [ -e "$home/corpus/$target/${seed##*/}" ] || cp "$seed" "$home/corpus/$target/"
    done
done

echo "fuzzing ${#targets[@]} targets for $hours h, $slice_minutes min each per round, in $home"
round=0
while [ "$SECONDS" -lt "$deadline" ]; do
    round=$((round + 1))
    for target in "${targets[@]}"; do
        left=$((deadline - SECONDS))
        [ "$left" -gt 0 ] || break
        time=$((left < slice ? left : slice))
        log="$home/logs/$target.round$round.txt"
        status=0
        # Value profiling helps the fuzzer through comparisons (token
        # formats, JSON keys); -timeout flags a hang; one job.
        "$bin_dir/$target" "$home/corpus/$target" \
            -max_total_time="$time" -timeout=25 -rss_limit_mb=2048 -use_value_profile=1 \
            -print_final_stats=1 -artifact_prefix="$home/artifacts/$target/" \
            >"$log" 2>&1 || status=$?
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
        cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)"
        printf 'round %d  %-16s %10s runs  %-10s exit %d  (%s)\n' \
            "$round" "$target" "${runs:-?}" "${cov:-cov: ?}" "$status" "$(date -u +%H:%M:%S)"
        # Keep the corpus small: what adds coverage only.
        merged="$home/corpus/$target.merged"
        rm -rf "$merged"
        mkdir -p "$merged"
        if "$bin_dir/$target" -merge=1 "$merged" "$home/corpus/$target" >/dev/null 2>&1; then
            rm -rf "$home/corpus/$target"
            mv "$merged" "$home/corpus/$target"
        else
            rm -rf "$merged"
        fi
    done
done

found=0
for target in "${targets[@]}"; do
    for artifact in "$home/artifacts/$target"/*; do
        [ -e "$artifact" ] || continue
        found=$((found + 1))
        echo "FOUND: $target: $artifact"
    done
done
echo "fuzz long: $round rounds in $((SECONDS / 60)) min; $found crash, hang or OOM artefacts"
[ "$found" -eq 0 ]
