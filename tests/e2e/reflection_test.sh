#!/usr/bin/env bash
# A generic gRPC client (buf curl, which knows no Gander .proto file) drives
# a real `gander serve` through server reflection: it lists the services,
# checks health, lists models and runs a whole Sessions.Stream call.
#
# Usage: reflection_test.sh GANDER_BINARY TOOLS_PACKAGE_JSON
set -euo pipefail

gander=$1
# The runfile is a symlink into the source tree; buf is installed beside it.
buf="$(dirname "$(readlink -f "$2")")/node_modules/.bin/buf"
if [[ ! -x $buf ]]; then
  echo "FAIL: buf not found at $buf (run tools/setup.sh)" >&2
  exit 1
fi

tmp=${TEST_TMPDIR:-$(mktemp -d)}
"$gander" init-random --layers 1 --embd 64 --vocab 256 --seed 3 --out "$tmp/model.pth" >/dev/null
"$gander" serve --model "$tmp/model.pth" --listen 127.0.0.1:0 --metrics-listen= \
  --data-dir "$tmp/data" --ready-file "$tmp/ready" --threads 1 2>"$tmp/serve.log" &
server=$!
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  [[ -s $tmp/ready ]] && break
  sleep 0.05
done
port=$(sed -n 's/^grpc_port=//p' "$tmp/ready")
[[ -n $port ]] || { echo "FAIL: server not ready"; cat "$tmp/serve.log"; exit 1; }
url="http://127.0.0.1:$port"
curl_grpc() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

methods=$(curl_grpc --list-methods "$url")
for m in gander.v1.Sessions/Stream gander.v1.Streams/ListStreams gander.v1.Models/ListModels \
  grpc.health.v1.Health/Check; do
  grep -qx "$m" <<<"$methods" || fail "reflection does not list $m: $methods"
done

health=$(curl_grpc -d '{}' "$url/grpc.health.v1.Health/Check")
grep -q '"status": "SERVING"' <<<"$health" || fail "health: $health"

models=$(curl_grpc -d '{}' "$url/gander.v1.Models/ListModels")
grep -q '"vocabSize": 256' <<<"$models" || fail "models: $models"

# One bidirectional call: open, append, generate 3 tokens, checkpoint.
events=$(printf '%s\n' '{"open":{"create":{"streamId":"generic"},"seed":"9"}}' \
  '{"appendInput":{"tokenIds":{"ids":[1,2,3]}}}' '{"generate":{"maxTokens":3}}' |
  curl_grpc -d @- "$url/gander.v1.Sessions/Stream")
[[ $(grep -c '"tokenId"' <<<"$events") -eq 3 ]] || fail "expected 3 tokens: $events"
grep -q '"reason": "FINISH_REASON_MAX_TOKENS"' <<<"$events" || fail "no finish: $events"
grep -q '"durable": true' <<<"$events" || fail "no durable checkpoint: $events"

# And an error status comes back as such.
if out=$(curl_grpc -d '{"open":{"resume":{"streamId":"missing"}}}' \
  "$url/gander.v1.Sessions/Stream" 2>&1); then
  fail "resume of a missing stream succeeded: $out"
fi
grep -q 'not_found' <<<"$out" || fail "expected not_found: $out"

curl_grpc -d '{}' "$url/gander.v1.Streams/ListStreams" | grep -q '"id": "generic"' ||
  fail "the stream is not listed"
echo "PASS"
