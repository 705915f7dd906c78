#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, builds the
# `gander` binary and runs it (help, then `gander doctor`, which checks this
# machine end to end: libraries, a durable RocksDB round trip, CUDA).
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
