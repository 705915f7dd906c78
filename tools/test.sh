#!/usr/bin/env bash
# Runs every check of the project, from a fresh clone, offline:
#   1. tools/setup.sh (installs what is missing),
#   2. tools/lint.sh (buf lint/format on proto/, clang-format),
#   3. bazel build //... and bazel test //... (the CPU build),
#   4. where a CUDA toolkit exists: bazel build --config=cuda //... and the CUDA tests
#      (which skip on a machine without a GPU: compile and link are checked).
# Fails if anything fails. Prints "tests: N passed, N failed" at the end.
#
# Usage: tools/test.sh [extra bazel test flags]
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
tools/lint.sh

bazel_flags=()
test_flags=()
# Reference data beside the project (the real RWKV World vocabulary, ...):
# tests that can use it read $GANDER_SHARED_DATA and skip when it is unset.
if [[ -d ../shared/data ]]; then
  test_flags+=("--test_env=GANDER_SHARED_DATA=$(cd ../shared/data && pwd)")
fi
if [[ -n ${CI:-} ]]; then
  bazel_flags+=(--curses=no --color=no --show_progress_rate_limit=30)
fi

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

# Runs bazel, keeps its output in $log_dir/$1.log and refuses any download
# (.bazelrc disables them; this proves from the log that none was tried).
run_bazel() {
  local name=$1
  shift
  local rc=0
  bazel "$@" 2>&1 | tee "$log_dir/$name.log" || rc=$?
  if grep -Eiq "download(ing)? (from|is disabled)|Failed to download" "$log_dir/$name.log"; then
    echo "test: bazel tried to download something (see above)" >&2
    return 1
  fi
  return "$rc"
}

run_bazel build build --announce_rc "${bazel_flags[@]}" //...
grep -q -- "--experimental_repository_disable_download" "$log_dir/build.log" ||
  { echo "test: downloads are not disabled in .bazelrc" >&2; exit 1; }

test_rc=0
run_bazel test test "${bazel_flags[@]}" "${test_flags[@]}" --test_summary=short //... "$@" || test_rc=$?

cuda_rc=0
# Whether a CUDA toolkit is here is decided once, by the @local_cuda
# repository rule (third_party/cuda/cuda_configure.bzl), and read back.
cuda_defs="$(bazel info output_base 2>/dev/null)/external/local_cuda/defs.bzl"
if grep -q "CUDA_FOUND = True" "$cuda_defs" 2>/dev/null; then
  echo "test: CUDA toolkit found ($(grep CUDA_PATH "$cuda_defs")): building --config=cuda"
  run_bazel cuda_build build --config=cuda "${bazel_flags[@]}" //... || cuda_rc=$?
  if [[ $cuda_rc -eq 0 ]]; then
    run_bazel cuda_test test --config=cuda "${bazel_flags[@]}" --test_summary=short \
      //kernels/cuda/... //engine/cuda/... || cuda_rc=$?
  fi
else
  echo "test: no CUDA toolkit: skipping the CUDA build (the CPU build needs none)"
fi

# One summary line over all test targets that ran (CPU and CUDA runs).
summary=$(cat "$log_dir"/test.log "$log_dir"/cuda_test.log 2>/dev/null |
  grep -E '^//[^ ]+ +.*(PASSED|FAILED|TIMEOUT|NO STATUS|FLAKY|INCOMPLETE)' || true)
passed=$(grep -c 'PASSED' <<<"$summary" || true)
failed=$(grep -Ec 'FAILED|TIMEOUT|NO STATUS|FLAKY|INCOMPLETE' <<<"$summary" || true)
echo "tests: $passed passed, $failed failed"

if [[ $test_rc -ne 0 || $cuda_rc -ne 0 || $failed -ne 0 ]]; then
  exit 1
fi
