#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, builds the
# `gander` binary and runs it:
#   1. `gander --help`, then `gander doctor` (libraries, a durable RocksDB
#      round trip, CUDA);
#   2. the engine end to end: writes a small random RWKV-7 model in the
#      official .pth layout and generates text from it (with the RWKV World
#      vocabulary from ../shared/data or $GANDER_VOCAB when present; otherwise
#      `gander eval` on token ids). A random model's text is gibberish: this
#      shows the machinery, not a language model.
#
# Usage: tools/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
bazel build //cli:gander
gander=bazel-bin/cli/gander

"$gander" --help
echo
"$gander" doctor
echo

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gander" init-random --layers 4 --embd 256 --vocab 65536 --seed 1 --out "$work/model.pth"
echo "wrote a random model: $work/model.pth ($(du -h "$work/model.pth" | cut -f1))"

vocab=${GANDER_VOCAB:-../shared/data/rwkv_vocab_v20230424.txt}
if [[ -f $vocab ]]; then
  echo "gander generate (vocabulary $vocab):"
  "$gander" generate --model "$work/model.pth" --vocab "$vocab" \
    --prompt $'User: Tell me about geese.\n\nAssistant:' --max-tokens 48 --seed 7
else
  echo "no vocabulary found (set GANDER_VOCAB): running gander eval on token ids"
  "$gander" eval --model "$work/model.pth" --tokens 510,33,2,9000 --logits-out "$work/logits.npy"
  echo "wrote the last position's logits to $work/logits.npy"
fi
