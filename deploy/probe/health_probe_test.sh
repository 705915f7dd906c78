#!/usr/bin/env bash
# gander-health-probe against a real `gander serve`: SERVING exits 0; a port
# nobody listens on exits 1; a bad flag exits 2; once the server shuts down
# (SIGTERM) it no longer answers SERVING.
#
# Usage: health_probe_test.sh GANDER_BINARY PROBE_BINARY
set -euo pipefail
gander=$1
probe=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}

fail() {
  echo "FAIL: $*" >&2
  cat "$tmp/serve.log" >&2 || true
  exit 1
}

"$gander" init-random --layers 1 --embd 64 --vocab 256 --seed 5 --out "$tmp/model.pth" >/dev/null
"$gander" serve --model "$tmp/model.pth" --listen 127.0.0.1:0 --metrics-listen= \
  --data-dir "$tmp/data" --ready-file "$tmp/ready" --threads 1 --shutdown-grace 5s \
  2>"$tmp/serve.log" &
server=$!
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  [[ -s $tmp/ready ]] && break
  sleep 0.05
done
port=$(sed -n 's/^grpc_port=//p' "$tmp/ready")
[[ -n $port ]] || fail "server not ready"

"$probe" --addr="127.0.0.1:$port" || fail "probe of a serving server exited $?"
GANDER_HEALTH_ADDR="127.0.0.1:$port" "$probe" || fail "probe of \$GANDER_HEALTH_ADDR exited $?"

# A closed port (the discard port: nothing listens there).
rc=0
"$probe" --addr=127.0.0.1:9 --timeout=1s 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "probe of a closed port exited $rc, expected 1"

rc=0
"$probe" --addr="127.0.0.1:$port" --timeout=soon 2>/dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "probe with a bad --timeout exited $rc, expected 2"
rc=0
"$probe" --no-such-flag 2>/dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "probe with an unknown flag exited $rc, expected 2"

kill -TERM $server
wait $server || fail "the server exited $? on SIGTERM"
rc=0
"$probe" --addr="127.0.0.1:$port" --timeout=1s 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "probe of a stopped server exited $rc, expected 1"
echo "PASS"
