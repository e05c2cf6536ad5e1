#!/usr/bin/env bash
# Run every libFuzzer target for a bounded time: fuzz/run.sh BUILD_DIR [SECONDS].
# Each target starts from its seed corpus (fuzz/corpus/TARGET, never written)
# in a scratch copy; a crash, leak or failed check fails the run and leaves
# the input in BUILD_DIR/fuzz/artifacts/. Prints the executions per target.
set -euo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
seconds=${2:-${FUZZ_SECONDS:-20}}
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz/artifacts"
total=0
for t in addr repr args port; do
    mkdir -p "$work/$t"
    log="$work/$t.log"
    if ! "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$build/fuzz/artifacts/$t-" -max_len=512 \
        "$work/$t" "$src/corpus/$t" >"$log" 2>&1; then
        grep -v "^INFO:\|^#[0-9]" "$log" | tail -25
        echo "fuzz_$t: FAILED (input in $build/fuzz/artifacts/)"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz_$t: ${execs:-?} executions in ${seconds} s, ${cov:-cov: ?}, corpus $(ls "$work/$t" | wc -l), no defect"
    total=$((total + ${execs:-0}))
done
echo "fuzz: $total executions in all"
