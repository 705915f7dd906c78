#!/usr/bin/env bash
# The service against the engine alone, in one run on one machine:
#   1. decode tokens/s of the engine (bench/engine_benchmark, BM_Decode at
#      B = 1, 16, 64, bf16 weights, 0.1B shape);
#   2. the same model served by `gander serve` (embedded store, checkpoint
#      after every generation), driven by bench/loadgen with 1, 16 and 64
#      concurrent streams: generated tokens/s, time to first token and
#      inter-token latency;
#   3. many open streams on a small model: the server's resident memory with
#      every state in memory, and with --max-resident-streams bounding it.
# Prints a Markdown table for bench/RESULTS.md.
#
# Usage: bench/service_benchmark.sh [--quick]   (--quick: tiny model, few tokens)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ ${1:-} == --quick ]] && quick=1

bazel build -c opt //cli:gander //bench:engine_benchmark //bench/loadgen:gander_loadgen >&2
gander=bazel-bin/cli/gander
loadgen=bazel-bin/bench/loadgen/gander_loadgen
work=$(mktemp -d)
server=""
cleanup() {
  [[ -n $server ]] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ((quick)); then
  shape=tiny layers=2 embd=128 vocab=1024 gen=16 open_streams=100 small_layers=2 small_embd=256
else
  shape=0.1b layers=12 embd=768 vocab=65536 gen=64 open_streams=1000 small_layers=4 small_embd=512
fi

# 1. The engine alone.
bazel-bin/bench/engine_benchmark --shape=$shape --benchmark_filter='BM_Decode/(1|16|64)/0' \
  --benchmark_min_time=2 --benchmark_format=json >"$work/engine.json" 2>/dev/null
engine_tps() {
  python3 -c "import json,sys
d=json.load(open('$work/engine.json'))
for b in d['benchmarks']:
    if b['name'].startswith('BM_Decode/$1/0/'):
        print('%.1f' % b['tokens_per_s'])" 2>/dev/null
}

# Starts `gander serve` on a model; sets $port.
start_server() {
  local model=$1
  shift
  rm -f "$work/ready"
  "$gander" serve --model "$model" --listen 127.0.0.1:0 --metrics-listen= \
    --data-dir "$work/data-$RANDOM" --ready-file "$work/ready" "$@" 2>>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 1200); do
    [[ -s $work/ready ]] && break
    sleep 0.05
  done
  port=$(sed -n 's/^grpc_port=//p' "$work/ready")
}
stop_server() {
  kill -TERM "$server"
  wait "$server" || true
  server=""
}
field() { python3 -c "import json; d=json.load(open('$1')); print($2)"; }

# 2. The service.
"$gander" init-random --layers $layers --embd $embd --vocab $vocab --seed 1 \
  --out "$work/model.pth" >/dev/null
start_server "$work/model.pth" --max-running 64 --max-queued 256 --max-open-streams 2048
echo "| concurrent streams | engine tokens/s | service tokens/s | overhead | TTFT p50 / p99 (ms) | inter-token p50 / p99 (ms) | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for n in 1 16 64; do
  "$loadgen" --server 127.0.0.1:$port --streams $n --channels $(((n + 15) / 16)) \
    --prompt-tokens 1 --gen-tokens $gen --rounds 2 --json-out "$work/load-$n.json" >/dev/null
  e=$(engine_tps $n)
  s=$(field "$work/load-$n.json" "'%.1f' % d['tokens_per_s']")
  overhead=$(python3 -c "print('%.1f%%' % (100 * (1 - $s / $e)))")
  ttft=$(field "$work/load-$n.json" "'%.1f / %.1f' % (d['ttft_ms']['p50'], d['ttft_ms']['p99'])")
  itl=$(field "$work/load-$n.json" "'%.1f / %.1f' % (d['itl_ms']['p50'], d['itl_ms']['p99'])")
  errors=$(field "$work/load-$n.json" "d['errors'] or 'none'")
  echo "| $n | $e | $s | $overhead | $ttft | $itl | $errors |"
done
stop_server

# 3. Many open streams on a small model (full run: L=4, C=512, 536 KiB of
# state each; --quick: L=2, C=256, 133 KiB).
"$gander" init-random --layers $small_layers --embd $small_embd --vocab 1024 --seed 2 \
  --out "$work/small.pth" >/dev/null
echo
echo "| open streams | --max-resident-streams | states in memory | server RSS, all open and idle (MiB) | per open stream (KiB) | peak RSS (MiB) | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for resident in $open_streams 64; do
  start_server "$work/small.pth" --max-open-streams $((open_streams + 16)) \
    --max-resident-streams $resident --max-running 64 --max-queued 4096 --metrics-listen 127.0.0.1:0
  metrics=$(sed -n 's/^metrics_port=//p' "$work/ready")
  base=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
  # Each stream appends, generates and checkpoints, then stays open (idle)
  # for 60 s, so all of them are open together (and evictions settle).
  "$loadgen" --server 127.0.0.1:$port --streams $open_streams --channels 16 \
    --prompt-tokens 8 --gen-tokens 4 --rounds 2 --hold 60s --json-out "$work/open.json" >/dev/null &
  load=$!
  peak=$base settled=0 held=0
  while kill -0 $load 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
    ((rss > peak)) && peak=$rss
    sample=$(curl -s "127.0.0.1:$metrics/metrics")
    open=$(awk '/^gander_open_streams / {print int($2)}' <<<"$sample")
    active=$(awk '/^gander_active_generations / {print int($2)}' <<<"$sample")
    # The last sample with every stream open and none generating.
    if [[ $open == "$open_streams" && $active == 0 ]]; then
      settled=$rss
      held=$(awk '/^gander_resident_streams / {print int($2)}' <<<"$sample")
    fi
    sleep 0.25
  done
  wait $load || true
  errors=$(field "$work/open.json" "d['errors'] or 'none'")
  echo "| $open_streams | $resident | $held | $((settled / 1024)) | $(((settled - base) / open_streams)) | $((peak / 1024)) | $errors |"
  stop_server
done
