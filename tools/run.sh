#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, builds the
# `gander` binary and runs it:
#   1. `gander --help`, then `gander doctor` (libraries, a durable RocksDB
#      round trip, CUDA);
#   2. `gander demo`, the showcase: starts a real `gander serve`, streams a
#      generation, forks it into two branches, kills the server with SIGKILL
#      mid-generation, restarts it on the same store and checks that both
#      branches continue token for token (exit status 1 if not).
#      The model is the official RWKV-7 World 0.1B when it can be downloaded
#      (cached in ~/.cache/gander, SHA-256 verified); without network, a
#      random model, which the demo says plainly: its text is noise. The
#      RWKV World vocabulary is taken from ../shared/data or $GANDER_VOCAB
#      when present.
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

"$gander" demo
