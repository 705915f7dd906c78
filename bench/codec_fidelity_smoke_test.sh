#!/usr/bin/env bash
# Runs codec_fidelity on a tiny model and checks its report: one table row
# per codec, raw and lossless exact (the binary's --check), and the lossy
# codecs measurably inexact. Usage: codec_fidelity_smoke_test.sh BINARY
set -euo pipefail
binary=$1
out="${TEST_TMPDIR:-/tmp}/codec_fidelity.txt"
"$binary" --layers=2 --embd=128 --vocab=512 --prompt=16 --continue=32 --threads=1 --check \
  >"$out"
cat "$out"
for codec in raw lossless bf16 int8; do
  if ! grep -q "^| $codec | " "$out"; then
    echo "no row for $codec"
    exit 1
  fi
done
# A lossy codec with a max KL of exactly zero would mean the restored state
# was not the lossy one.
for codec in bf16 int8; do
  if grep -q "^| $codec | [0-9]* | [0-9.]* | [0-9.e+-]* | 0.000e+00 |" "$out"; then
    echo "$codec shows no loss at all"
    exit 1
  fi
done
