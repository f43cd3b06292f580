#!/usr/bin/env bash
# Fuzz smoke: builds every cargo-fuzz target of fuzz/ once (nightly, address
# sanitizer) and runs each for a bounded time from a copy of its seed corpus
# (fuzz/corpus/<target>/seed-*), so the clone stays clean. Fails when a target
# crashes (a panic, a 5xx, a broken invariant), times out or runs out of
# memory; the crashing input stays under the output directory, printed.
#
#   scripts/fuzz-smoke.sh                 # from anywhere in the repository
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh login_form tokens
#
# Installs what it needs: the nightly toolchain (rustup, minimal profile) and
# cargo-fuzz (pinned below), when missing or of another version.
#
# Environment (all optional):
#   FUZZ_SECONDS     seconds per target (default 20)
#   FUZZ_TARGET_DIR  the build, outside the clone (default ~/.cache/axum-users/fuzz-target)
#   FUZZ_OUT         logs and crash artefacts (default ~/.cache/axum-users/fuzz-smoke)
# Arguments: the targets to run (default: all of them).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_fuzz_version="0.13.2"
seconds="${FUZZ_SECONDS:-20}"
out="${FUZZ_OUT:-$HOME/.cache/axum-users/fuzz-smoke}"
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

started=$SECONDS
# One build of every target (cargo fuzz's defaults: release, debug
# assertions, address sanitizer).
cargo +nightly fuzz build
echo "fuzz build: $((SECONDS - started)) s"
bin_dir="$CARGO_TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
failed=()
printf '\n%-16s %10s %8s %11s  %s\n' target runs exec/s seed result
for target in "${targets[@]}"; do
    seeds=(fuzz/corpus/"$target"/seed-*)
    if [ ! -e "${seeds[0]}" ]; then
        echo "$target: no seed corpus in fuzz/corpus/$target" >&2
        exit 1
    fi
    corpus="$work/$target"
    artifacts="$out/$target/artifacts"
    log="$out/$target/log.txt"
    mkdir -p "$corpus" "$artifacts"
    rm -f "$artifacts"/*
    cp "${seeds[@]}" "$corpus/"
    status=0
    # -timeout: one input may take 25 s at most (a hang is a finding);
    # -rss_limit_mb: libFuzzer's default, said out loud.
    "$bin_dir/$target" "$corpus" \
        -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    seed="$(sed -n 's/^INFO: Seed: *//p' "$log" | head -n 1)"
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $status): $(ls "$artifacts" | head -n 1)"
        failed+=("$target")
    fi
    printf '%-16s %10s %8s %11s  %s\n' "$target" "${runs:-?}" "${speed:-?}" "${seed:-?}" "$result"
done
echo "fuzz smoke: ${#targets[@]} targets, $seconds s each, $((SECONDS - started)) s in all"

if [ "${#failed[@]}" -gt 0 ]; then
    for target in "${failed[@]}"; do
        echo
        echo "==> $target: the end of $out/$target/log.txt"
        grep -v '^#[0-9]' "$out/$target/log.txt" | tail -n 40
        echo "reproduce: cargo +nightly fuzz run $target $out/$target/artifacts/<file>"
        echo "(the run's libFuzzer seed is in the table above: -seed=<seed> replays its choices)"
    done
    exit 1
fi
