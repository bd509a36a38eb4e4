#!/usr/bin/env bash
# Fuzzes the wire: framing, every message type, the screen decoder.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
# Needs a nightly toolchain and cargo-fuzz (installed here if missing).
# Starts from the committed seeds in fuzz/corpus/TARGET; what libFuzzer
# finds goes to a scratch directory, crashes to fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in framing messages screen_decoder; do
    mkdir -p "$scratch/$target"
    echo "== $target: ${secs} s"
    cargo +nightly fuzz run "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 2>&1 |
        grep -E "^(stat::|==|SUMMARY|INFO: Running|Done)|panicked|ERROR" || true
    if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
        echo "$target: crash inputs in fuzz/artifacts/$target" >&2
        exit 1
    fi
done
echo "fuzzing done: no crash"
