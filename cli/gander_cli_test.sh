#!/usr/bin/env bash
# The gander binary: help lists the commands, unknown commands and backends
# fail with a clear message, and doctor passes on a machine set up by tools/setup.sh.
set -euo pipefail
gander=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gander" --help | grep -q "doctor" || fail "--help does not list doctor"
"$gander" version | grep -Eq '^gander [0-9]+\.[0-9]+\.[0-9]+' || fail "version format"

if "$gander" no-such-command 2>err.txt; then fail "unknown command succeeded"; fi
grep -q "unknown command 'no-such-command'" err.txt || fail "unknown command message"

if "$gander" >/dev/null 2>&1; then fail "no command should exit non-zero"; fi

# Backend selection fails early and says why.
if "$gander" serve --model=/nonexistent.pth --backend=tpu 2>err.txt; then fail "--backend=tpu"; fi
grep -q -- "--backend must be cpu or cuda, got tpu" err.txt || fail "unknown backend message"
if "$gander" serve --model=/nonexistent.pth --backend=cuda 2>err.txt; then fail "--backend=cuda"; fi
# Without CUDA support built in, the message says so; with it, loading the
# missing model file fails first.
grep -Eq "built without CUDA|nonexistent.pth" err.txt || fail "--backend=cuda message: $(cat err.txt)"

"$gander" doctor "${TEST_TMPDIR:-/tmp}" | tee doctor.txt
grep -q "^rocksdb.roundtrip *ok" doctor.txt || fail "doctor round trip"
grep -q "^rocksdb.zstd *ok" doctor.txt || fail "doctor zstd"
echo "gander cli: ok"
