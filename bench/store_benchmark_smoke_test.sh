#!/usr/bin/env bash
# Runs store_benchmark at a tiny scale and checks its report: the binary
# exits 1 when one of its own checks fails (a fork that stores a new
# checkpoint, an exact codec or a restored history that is not bit-exact);
# here every table must have its rows, and the forks must have added no
# stored checkpoint and no checkpoint bytes.
# Usage: store_benchmark_smoke_test.sh BINARY
set -euo pipefail
binary=$1
out="${TEST_TMPDIR:-/tmp}/store_benchmark.md"
"$binary" --layers=2 --embd=128 --vocab=512 --prompt=16 --shapes=2:128,4:256 --forks=10 \
  --commits=3 --histories=32 --prefill_runs=1 --restore_runs=3 --threads=1 >"$out"
cat "$out"
fail() {
  echo "FAIL: $*"
  exit 1
}
for table in "Checksum speed" "Fork" "Commit, synced" "Restore (" "Size per codec" \
  "Restore vs re-prefill"; do
  grep -qF "### $table" "$out" || fail "no table \"$table\""
done
grep -q '^| RocksDB CRC32C' "$out" || fail "no CRC32C row"
for shape in "L=2 C=128" "L=4 C=256"; do
  # One fork row per shape: one checkpoint before and after, the same bytes,
  # 1 + 10 + 10 references (the commit, the unmeasured and the measured forks).
  grep -Eq "^\| $shape \([0-9.]+ MB\) \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| 1 → 1 \| ([0-9]+) → \1 \| 21 \|" \
    "$out" || fail "fork row for $shape missing or wrong"
  for codec in raw lossless bf16 int8; do
    n=$(grep -c "^| $shape ([0-9.]* MB) | $codec | " "$out" || true)
    [[ $n -eq 3 ]] || fail "$shape $codec: $n rows, want 3 (commit, restore, size)"
  done
done
grep -Eq '^\| 32 \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| \*\*[0-9]+x\*\* \|$' \
  "$out" || fail "no restore vs re-prefill row for 32 tokens"
echo PASS
