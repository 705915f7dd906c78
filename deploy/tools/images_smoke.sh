#!/usr/bin/env bash
# Smoke test of the built CPU images together, on the host's network: the
# store, two workers on 127.0.0.2 and 127.0.0.3, and the router, which finds
# the workers by name as in Kubernetes (router.sh resolving a name with two
# addresses). Checks each container's user and HEALTHCHECK, runs a stream
# through the router, kills the worker that holds it, resumes it through the
# router on the other worker and compares the tokens with an uninterrupted
# stream. Not part of the test run: it needs a container engine and the
# images (deploy/README.md, "Images").
#
# Usage: deploy/tools/images_smoke.sh [SCRATCH_DIR]
# Environment: ENGINE (podman), ENGINE_FLAGS (extra flags for `run`, e.g.
# "--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096"),
# IMAGES (localhost/gander), TAG (0.1.0).
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=${ENGINE:-podman}
read -r -a flags <<<"${ENGINE_FLAGS:-}"
images=${IMAGES:-localhost/gander}
tag=${TAG:-0.1.0}
dir=${1:-$(mktemp -d)}
buf=tools/node_modules/.bin/buf
[[ -x $buf ]] || { echo "FAIL: $buf missing: run tools/setup.sh" >&2; exit 1; }
curl_grpc() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }
ids() { grep -o '"tokenId": [0-9]*' | sed 's/"tokenId": //' | tr '\n' ' '; }
url=http://127.0.0.1:25080
open_resume='{"open":{"resume":{"streamId":"smoke"},"seed":"5"}}'
run() { "$engine" run -d --network host --read-only --tmpfs /tmp "${flags[@]}" "$@" >/dev/null; }
cleanup() { "$engine" rm -f gander-smoke-store gander-smoke-w2 gander-smoke-w3 gander-smoke-router >/dev/null 2>&1 || true; }
trap cleanup EXIT

mkdir -p "$dir/store"
chmod 0777 "$dir" "$dir/store"
"$engine" run --rm "${flags[@]}" -v "$dir:/work" "$images/worker-cpu:$tag" init-random \
  --layers 2 --embd 128 --vocab 1024 --seed 9 --out /work/model.safetensors >/dev/null
run --name gander-smoke-store -v "$dir/store:/var/lib/gander-store" "$images/store:$tag" \
  store-server --listen=127.0.0.1:50052 --metrics-listen= --data-dir=/var/lib/gander-store
for i in 2 3; do
  run --name "gander-smoke-w$i" -e "GANDER_HEALTH_ADDR=127.0.0.$i:50051" -v "$dir:/work:ro" \
    "$images/worker-cpu:$tag" serve --model=/work/model.safetensors --store=127.0.0.1:50052 \
    "--listen=127.0.0.$i:50051" --metrics-listen= "--worker-id=w$i" --lease-ttl=3s \
    --threads=1 --shutdown-grace=5s
done
run --name gander-smoke-router --add-host workers:127.0.0.2 --add-host workers:127.0.0.3 \
  -e GANDER_ROUTER_TLS=off -e GANDER_WORKERS_HOST=workers -e GANDER_WORKER_PORT=50051 \
  -e GANDER_ROUTER_LISTEN=127.0.0.1:25080 -e GANDER_ROUTER_HEALTH_LISTEN=127.0.0.1:25081 \
  "$images/router:$tag"
sleep 4
for c in store w2 w3 router; do
  health=failed
  if timeout 20 "$engine" healthcheck run "gander-smoke-$c" >/dev/null 2>&1; then health=healthy; fi
  echo "$c: uid $("$engine" exec "gander-smoke-$c" id -u), HEALTHCHECK $health"
done
"$engine" logs gander-smoke-router 2>&1 | grep '"event"'
echo "health through the router: $(curl_grpc -d '{}' "$url/grpc.health.v1.Health/Check" | tr -d ' \n')"
first=$(printf '%s\n' '{"open":{"create":{"streamId":"smoke"},"seed":"5"}}' \
  '{"appendInput":{"tokenIds":{"ids":[1,2,3]}}}' '{"generate":{"maxTokens":12}}' |
  curl_grpc -H 'x-gander-stream-id: smoke' -d @- "$url/gander.v1.Sessions/Stream")
echo "create + 12 tokens: $(ids <<<"$first")"

# Which worker the router picks: hold the stream open through the router and
# ask each worker directly; the holder answers "... on this worker".
( { echo "$open_resume"; sleep 8; } |
  timeout 10 "$buf" curl --protocol grpc --http2-prior-knowledge -H 'x-gander-stream-id: smoke' \
    -d @- "$url/gander.v1.Sessions/Stream" >/dev/null 2>&1 ) &
holding=$!
sleep 2
holder=""
for i in 2 3; do
  out=$(echo "$open_resume" | curl_grpc -d @- "http://127.0.0.$i:50051/gander.v1.Sessions/Stream" 2>&1 || true)
  if grep -q "on this worker" <<<"$out"; then holder=$i; fi
done
[[ -n $holder ]] || { echo "FAIL: no worker holds the stream" >&2; exit 1; }
echo "the router sends stream smoke to worker 127.0.0.$holder: killing it while it holds the stream"
killed_at=$(date +%s%N)
"$engine" kill "gander-smoke-w$holder" >/dev/null
tries=0
until out=$(printf '%s\n' "$open_resume" '{"generate":{"maxTokens":6}}' |
  curl_grpc -H 'x-gander-stream-id: smoke' -d @- "$url/gander.v1.Sessions/Stream" 2>&1); do
  tries=$((tries + 1))
  grep -q aborted <<<"$out" || { echo "FAIL: $out" >&2; exit 1; }
  sleep 0.1
done
echo "resumed through the router $(( ($(date +%s%N) - killed_at) / 1000000 )) ms after the kill" \
  "($tries ABORTED refusals first): $(ids <<<"$out")"
ref=$(printf '%s\n' '{"open":{"create":{"streamId":"smoke-reference"},"seed":"5"}}' \
  '{"appendInput":{"tokenIds":{"ids":[1,2,3]}}}' '{"generate":{"maxTokens":18}}' |
  curl_grpc -H 'x-gander-stream-id: smoke-reference' -d @- "$url/gander.v1.Sessions/Stream")
echo "reference, 18 tokens uninterrupted: $(ids <<<"$ref")"
wait "$holding" || true
"$engine" stop -t 10 gander-smoke-router gander-smoke-store "gander-smoke-w$((5 - holder))" >/dev/null 2>&1
for c in store "w$((5 - holder))" router; do
  echo "$c stopped (SIGTERM): exit $("$engine" inspect "gander-smoke-$c" --format '{{.State.ExitCode}}')"
done
if [[ "$(ids <<<"$first")$(ids <<<"$out")" != "$(ids <<<"$ref")" ]]; then
  echo "FAIL: the resumed stream differs from the reference" >&2
  exit 1
fi
echo "PASS: 12 + 6 resumed tokens equal the reference's 18"
