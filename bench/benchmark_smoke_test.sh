#!/usr/bin/env bash
# Runs a Google Benchmark binary briefly and checks that every benchmark
# reported a throughput counter.
# Usage: benchmark_smoke_test.sh BINARY [--counter=NAME] [ARGS...]
#   NAME defaults to bytes_per_second; ARGS go to the benchmark (the last
#   --benchmark_filter wins over this script's default).
set -euo pipefail
binary=$1
shift
counter=bytes_per_second
if [[ ${1:-} == --counter=* ]]; then
  counter=${1#--counter=}
  shift
fi
out="${TEST_TMPDIR:-/tmp}/benchmark.json"
"$binary" --benchmark_min_time=0.01 --benchmark_format=json \
  --benchmark_filter=/16777216/ "$@" >"$out"
runs=$(grep -c '"run_name"' "$out" || true)
rates=$(grep -c "\"$counter\"" "$out" || true)
echo "benchmarks run: $runs, with $counter: $rates"
if [[ $runs -eq 0 || $runs -ne $rates ]]; then
  cat "$out"
  exit 1
fi
