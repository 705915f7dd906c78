#!/usr/bin/env bash
# The gander binary: help lists the commands, unknown commands fail with a
# clear message, and doctor passes on a machine set up by tools/setup.sh.
set -euo pipefail
gander=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gander" --help | grep -q "doctor" || fail "--help does not list doctor"
"$gander" version | grep -Eq '^gander [0-9]+\.[0-9]+\.[0-9]+' || fail "version format"

if "$gander" no-such-command 2>err.txt; then fail "unknown command succeeded"; fi
grep -q "unknown command 'no-such-command'" err.txt || fail "unknown command message"

if "$gander" >/dev/null 2>&1; then fail "no command should exit non-zero"; fi

"$gander" doctor "${TEST_TMPDIR:-/tmp}" | tee doctor.txt
grep -q "^rocksdb.roundtrip *ok" doctor.txt || fail "doctor round trip"
grep -q "^rocksdb.zstd *ok" doctor.txt || fail "doctor zstd"
echo "gander cli: ok"
