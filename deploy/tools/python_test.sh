#!/usr/bin/env bash
# Runs a Python check with Debian's interpreter (/usr/bin/python3), which is
# the one with PyYAML; Bazel's Python rules may pick another.
#
# Usage: python_test.sh SCRIPT [ARGS...]
set -euo pipefail
python=/usr/bin/python3
if [[ ! -x $python ]]; then
  echo "FAIL: $python not found (Debian's python3)" >&2
  exit 1
fi
exec "$python" "$@"
