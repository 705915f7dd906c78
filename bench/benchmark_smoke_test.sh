#!/usr/bin/env bash
# Runs a Google Benchmark binary briefly and checks that every benchmark
# reported a throughput. Usage: benchmark_smoke_test.sh BINARY [ARGS...]
set -euo pipefail
binary=$1
shift
out="${TEST_TMPDIR:-/tmp}/benchmark.json"
"$binary" --benchmark_min_time=0.01 --benchmark_format=json \
  --benchmark_filter=/16777216/ "$@" >"$out"
runs=$(grep -c '"run_name"' "$out" || true)
rates=$(grep -c '"bytes_per_second"' "$out" || true)
echo "benchmarks run: $runs, with throughput: $rates"
if [[ $runs -eq 0 || $runs -ne $rates ]]; then
  cat "$out"
  exit 1
fi
