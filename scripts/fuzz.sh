#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD for SECONDS each, seeded with the shared vectors and with
# tests/fuzz/seeds/<target>/ when it exists.
# Fails if any target finds a crash, a leak or a sanitizer error.
set -euo pipefail
build=$1
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
vectors=${VECTORS:-$root/../shared/vectors}
status=0
for fuzzer in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$fuzzer" ] || continue
    name=$(basename "$fuzzer")
    corpus="$build/corpus/$name"
    mkdir -p "$corpus"
    seeds=()
    [ -d "$root/tests/fuzz/seeds/$name" ] && seeds=("$root/tests/fuzz/seeds/$name")
    echo "== $name: ${seconds}s"
    if ! "$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
        -artifact_prefix="$build/$name-" "$corpus" "${seeds[@]}" "$vectors" >"$build/$name.log" 2>&1; then
        echo "!! $name found a problem; see $build/$name.log"
        tail -n 30 "$build/$name.log"
        status=1
    else
        grep -E '^(#[0-9]+.*DONE|Done )' "$build/$name.log" | tail -n 1 || true
    fi
done
exit $status
