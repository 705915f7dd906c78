#!/usr/bin/env bash
# Style and contract checks: `buf lint` and `buf format` on proto/, and
# clang-format on every C++/CUDA source. With --tidy also runs clang-tidy
# (.clang-tidy) over the C++ sources; that needs a built tree (bazel build
# //...) for the generated headers and takes minutes, so it is opt-in.
#
# Usage: tools/lint.sh [--tidy]
set -euo pipefail
cd "$(dirname "$0")/.."

buf=tools/node_modules/.bin/buf
[[ -x $buf ]] || { echo "lint: $buf missing: run tools/setup.sh" >&2; exit 1; }

echo "lint: buf lint proto"
"$buf" lint proto
echo "lint: buf format proto"
"$buf" format --diff --exit-code proto

# Every C++/CUDA file the project tracks (or, outside git, every one found).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t sources < <(git ls-files -co --exclude-standard -- '*.cc' '*.h' '*.cu' '*.cuh' | sort)
else
  mapfile -t sources < <(find cli engine kernels service storage tests bench proto \
    -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' 2>/dev/null | sort)
fi
existing=()
for f in "${sources[@]}"; do [[ -f $f ]] && existing+=("$f"); done
echo "lint: clang-format (${#existing[@]} files)"
clang-format --dry-run --Werror "${existing[@]}"

if [[ ${1:-} == --tidy ]]; then
  bin=$(bazel info bazel-bin 2>/dev/null)
  flags=(-std=c++17 -I. -Iproto "-I$bin/proto" "-I$bin/external/grpc_proto"
         -I/usr/local/cuda/include -DGTEST_HAS_PTHREAD=1)
  cc_files=()
  for f in "${existing[@]}"; do [[ $f == *.cc ]] && cc_files+=("$f"); done
  echo "lint: clang-tidy (${#cc_files[@]} files)"
  clang-tidy --quiet "${cc_files[@]}" -- "${flags[@]}"
fi
echo "lint: ok"
