#!/usr/bin/env bash
# gander_loadgen's command line: --help lists the flags, bad flags are usage
# errors (exit 2), and a server that cannot be reached makes the run fail
# (exit 1) with the gRPC status code, without hanging.
set -euo pipefail
loadgen=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

"$loadgen" --help > help.txt || fail "--help exited non-zero"
for flag in --server --token --streams --prompt-tokens --gen-tokens --rounds --duration \
            --json-out --seed --temperature --tls-ca; do
  grep -q -- "$flag" help.txt || fail "--help does not list $flag"
done

set +e
"$loadgen" --streams=0 2>err.txt; code=$?
set -e
[ "$code" = 2 ] || fail "--streams=0 exited $code, expected 2"
grep -q "streams" err.txt || fail "--streams=0 message: $(cat err.txt)"

set +e
"$loadgen" --no-such-flag 2>err.txt; code=$?
set -e
[ "$code" = 2 ] || fail "unknown flag exited $code, expected 2"

set +e
timeout 60 "$loadgen" --server=127.0.0.1:1 --timeout=5s 2>err.txt; code=$?
set -e
[ "$code" = 1 ] || fail "unreachable server exited $code, expected 1"
grep -q "UNAVAILABLE" err.txt || fail "unreachable server message: $(cat err.txt)"
echo "gander_loadgen smoke: ok"
