#!/usr/bin/env bash
# Runs the bundle made by tools/gpu/bundle.sh on a GPU machine: the CUDA test
# binaries, compute-sanitizer (memcheck, racecheck) on the kernel tests and a
# short cut of the backend test, then the CUDA benchmark when it was bundled.
# Needs no Bazel and no -dev libraries: only the GPU driver, a CUDA 13
# installation providing cuBLAS, and (for the sanitizer step)
# compute-sanitizer.
#
# Usage, from the repository root, with .gpu/ present:
#   OUT=/some/dir bash tools/gpu/run.sh
#
# Results (at most 7 files) go to $OUT (a fresh temporary folder if unset):
#   summary.txt     one line per step; the same lines end stdout
#   env.txt         bundle manifest, library resolution, GPU and CUDA found
#   nvidia-smi.txt  nvidia-smi and a CSV query of the GPU
#   tests.log       full gtest output of every test binary
#   sanitizer.log   full compute-sanitizer output
#   bench.md        the benchmark's stdout: a markdown section for
#                   bench/RESULTS.md (GPU, date, command, table)
#   bench.log       the benchmark's progress (stderr)
#
# Knobs (environment):
#   GANDER_GPU_BUDGET_S      total seconds for all steps (default 540)
#   GANDER_GPU_STEPS         steps to run, any of: tests sanitizers bench
#                            (default all three)
#   GANDER_GPU_SANITIZERS    compute-sanitizer tools (default "memcheck racecheck")
#   GANDER_GPU_BACKEND_FILTER  --gtest_filter for cuda_backend_test under the
#                            sanitizers (default: fp32 one-token/prefill and
#                            mixed batches)
#   GANDER_GPU_BENCH_ARGS    arguments for cuda_benchmark (default none)
#   CUDA_HOME / CUDA_PATH    where to look first for the CUDA libraries
#
# Time: the steps share GANDER_GPU_BUDGET_S; each gets its own `timeout`
# (a test binary 150 s, a sanitizer run 120 s, the benchmark 240 s, all cut to
# what is left). When the benchmark is bundled, the sanitizer runs stop 240 s
# before the budget's end so that it still gets its time.
#
# Exit status: 0 when every test binary passed, every sanitizer run was
# clean and the benchmark (when bundled) exited 0; 1 otherwise, including a
# step that timed out or had no time left. A GPU test that reports "skipped:
# no CUDA device" on a machine where nvidia-smi lists a GPU counts as failed.
# Without a GPU (or without compute-sanitizer) the sanitizer step is reported
# as not run, and the benchmark is only started (a loader error still
# fails), so the script can be tried on any machine.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
readonly ROOT="$PWD"
readonly BUNDLE="$ROOT/.gpu"
readonly BUDGET_S="${GANDER_GPU_BUDGET_S:-540}"
readonly STEPS="${GANDER_GPU_STEPS:-tests sanitizers bench}"
readonly SANITIZERS="${GANDER_GPU_SANITIZERS:-memcheck racecheck}"
readonly BACKEND_FILTER="${GANDER_GPU_BACKEND_FILTER:-Weights/CudaBackendTest.OneTokenAndPrefill/fp32:Weights/CudaBackendTest.MixedBatchesWithEvictionAndGraphs/fp32}"
readonly TEST_TIMEOUT_S=150
readonly SANITIZER_TIMEOUT_S=120
readonly BENCH_TIMEOUT_S=240
START=$SECONDS

if [[ ! -f "$BUNDLE/binaries.tsv" ]]; then
  echo "run: $BUNDLE/binaries.tsv missing: build the bundle with tools/gpu/bundle.sh and carry .gpu" >&2
  exit 1
fi
if [[ -z "${OUT:-}" ]]; then
  OUT="$(mktemp -d)"
  echo "run: OUT not set; results go to $OUT"
fi
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

SUMMARY="$OUT/summary.txt"
ENV_TXT="$OUT/env.txt"
TESTS_LOG="$OUT/tests.log"
SAN_LOG="$OUT/sanitizer.log"
: >"$SUMMARY"
: >"$TESTS_LOG"
: >"$SAN_LOG"
failures=0

note() { echo "run: $*"; }
summary() {
  echo "$*" >>"$SUMMARY"
  echo "run: $*"
}
want_step() { [[ " $STEPS " == *" $1 "* ]]; }

# Seconds a step may use: `want`, cut to what is left before `deadline`
# (seconds from the start); 0 when under 5 s remain.
step_timeout() {
  local want=$1 deadline=$2
  local left=$((deadline - (SECONDS - START)))
  ((left < want)) && want=$left
  ((want < 5)) && want=0
  echo "$want"
}

# --- binaries (copied when the carried files lost their execute bit) ------------
BIN="$BUNDLE/bin"
for f in "$BIN"/*; do
  if [[ ! -x "$f" ]]; then
    mkdir -p "$WORK/bin"
    cp "$BIN"/* "$WORK/bin/" && chmod +x "$WORK/bin"/*
    BIN="$WORK/bin"
    break
  fi
done

# name label role cuda, one per line, header dropped.
mapfile -t ROWS < <(tail -n +2 "$BUNDLE/binaries.tsv")
field() { cut -f"$2" <<<"$1"; }

# --- CUDA libraries ------------------------------------------------------------
# Directories holding the toolkit libraries the bundle leaves to this machine.
find_lib_dir() {  # soname -> directory (empty when the loader cache has it or none)
  local soname="$1" dir
  local -a candidates=()
  for dir in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-13*; do
    [[ -n "$dir" ]] && candidates+=("$dir/lib64" "$dir/lib" "$dir/targets/x86_64-linux/lib")
  done
  for dir in "${candidates[@]}"; do
    if [[ -e "$dir/$soname" ]]; then
      echo "$dir"
      return
    fi
  done
  if command -v ldconfig >/dev/null && grep -q "^[[:space:]]*$soname " <<<"$(ldconfig -p 2>/dev/null)"; then
    return  # the system loader finds it without help
  fi
  # CUDA from Python wheels (nvidia-* packages).
  for dir in /usr/local/lib/python3*/dist-packages/nvidia/*/lib /usr/local/lib/python3*/site-packages/nvidia/*/lib \
    /usr/lib/python3*/dist-packages/nvidia/*/lib "$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib; do
    if [[ -e "$dir/$soname" ]]; then
      echo "$dir"
      return
    fi
  done
}

cuda_dirs=()
for soname in libcublasLt.so.13 libcublas.so.13 libcudart.so.13; do
  dir="$(find_lib_dir "$soname")"
  if [[ -n "$dir" && " ${cuda_dirs[*]:-} " != *" $dir "* ]]; then cuda_dirs+=("$dir"); fi
done

lib_path_with() {  # compat: yes|no
  local path="$BUNDLE/lib"
  [[ "$1" == yes ]] && path+=":$BUNDLE/lib/compat"
  local dir
  for dir in "${cuda_dirs[@]}"; do path+=":$dir"; done
  path+=":$BUNDLE/lib/cuda"
  [[ -n "${LD_LIBRARY_PATH:-}" ]] && path+=":$LD_LIBRARY_PATH"
  echo "$path"
}

# Unresolved libraries or symbol versions of every binary under a path.
unresolved() {  # LD_LIBRARY_PATH value
  local f
  for f in "$BIN"/*; do
    LD_LIBRARY_PATH="$1" ldd "$f" 2>&1 | grep 'not found' | sed "s|^|$(basename "$f"): |"
  done
}

use_compat=no
LIB_PATH="$(lib_path_with no)"
if command -v ldd >/dev/null; then
  missing="$(unresolved "$LIB_PATH")"
  if [[ -n "$missing" ]]; then
    use_compat=yes
    LIB_PATH="$(lib_path_with yes)"
    missing="$(unresolved "$LIB_PATH")"
  fi
else
  missing="(ldd not available: not checked)"
fi
export LD_LIBRARY_PATH="$LIB_PATH"

export TEST_TMPDIR="$WORK/tmp"
mkdir -p "$TEST_TMPDIR"
if [[ -d "$BUNDLE/runfiles" ]]; then
  export TEST_SRCDIR="$BUNDLE/runfiles" TEST_WORKSPACE=gander
fi
export GTEST_COLOR=no

have_gpu=no
if command -v nvidia-smi >/dev/null; then
  timeout 30 nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
  {
    echo
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv 2>&1
  } >>"$OUT/nvidia-smi.txt"
  if grep -q '^GPU ' <<<"$(timeout 30 nvidia-smi -L 2>/dev/null)"; then have_gpu=yes; fi
else
  echo "nvidia-smi not found" >"$OUT/nvidia-smi.txt"
fi

SANITIZER=""
for candidate in "$(command -v compute-sanitizer 2>/dev/null)" "${CUDA_HOME:-/nonexistent}/bin/compute-sanitizer" \
  /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
  /usr/local/cuda-13*/bin/compute-sanitizer; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    SANITIZER="$candidate"
    break
  fi
done

{
  echo "== bundle"
  cat "$BUNDLE/MANIFEST.txt" 2>/dev/null || echo "(no MANIFEST.txt)"
  echo
  echo "== this machine"
  uname -a
  grep PRETTY_NAME /etc/os-release 2>/dev/null
  echo "glibc: $(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)"
  echo "GPU listed by nvidia-smi: $have_gpu"
  echo "CUDA library directories found: ${cuda_dirs[*]:-(none; relying on the loader cache)}"
  echo "libcuda.so.1 in the loader cache: $(ldconfig -p 2>/dev/null | grep -m1 'libcuda\.so\.1 ' | sed 's/.*=> //' || true)"
  echo "bundled libstdc++/libgcc_s used: $use_compat"
  echo "compute-sanitizer: ${SANITIZER:-not found}"
  [[ -n "$SANITIZER" ]] && "$SANITIZER" --version 2>&1 | tail -2
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  echo
  echo "== unresolved libraries"
  echo "${missing:-(none)}"
  echo
  echo "== where each binary's libraries resolve"
  for f in "$BIN"/*; do
    echo "-- $(basename "$f")"
    ldd "$f" 2>&1 | sed 's/ (0x[0-9a-f]*)$//'
  done
} >"$ENV_TXT" 2>&1

note "GPU: $have_gpu; compute-sanitizer: ${SANITIZER:-not found}; bundled libstdc++: $use_compat"
if [[ -n "$missing" && "$missing" != "(ldd"* ]]; then
  note "WARNING: unresolved libraries (see env.txt):"
  echo "$missing" | head -10
fi

# --- gtest output ------------------------------------------------------------------
count() {  # file, gtest tag -> the number on the tag's summary line (0 if none)
  local n
  n="$(grep -m1 -E "^\[  $2 *\] [0-9]+ tests?" "$1" | grep -oE '\] [0-9]+' | grep -oE '[0-9]+')"
  echo "${n:-0}"
}

# --- 1. tests ----------------------------------------------------------------------------
if want_step tests; then
  for row in "${ROWS[@]}"; do
    name="$(field "$row" 1)"
    label="$(field "$row" 2)"
    [[ "$(field "$row" 3)" == test ]] || continue
    log="$WORK/$name.log"
    t="$(step_timeout "$TEST_TIMEOUT_S" "$BUDGET_S")"
    if ((t == 0)); then
      summary "test $name: NOT RUN (time budget spent)"
      failures=$((failures + 1))
      continue
    fi
    began=$SECONDS
    timeout -k 5 "$t" "$BIN/$name" >"$log" 2>&1
    rc=$?
    took=$((SECONDS - began))
    {
      echo "===== $name ($label) rc=$rc ${took}s"
      cat "$log"
      echo
    } >>"$TESTS_LOG"
    passed="$(count "$log" PASSED)"
    failed="$(count "$log" FAILED)"
    skipped="$(count "$log" SKIPPED)"
    no_device="$(grep -cE '^(skipped: )?no (usable )?CUDA device' "$log")"
    if ((rc == 124 || rc == 137)); then
      status="TIMEOUT after ${t}s"
    elif ((rc != 0 || failed > 0)); then
      status="FAILED (exit $rc)"
    elif ! grep -qE '^\[==========\] [0-9]+ tests? from .* ran\.' "$log"; then
      status="FAILED (no gtest result; exit $rc)"
    elif [[ "$have_gpu" == yes && "$no_device" -gt 0 ]]; then
      status="FAILED ($no_device tests found no CUDA device on a machine with a GPU)"
    else
      status="ok"
    fi
    [[ "$status" == ok ]] || failures=$((failures + 1))
    summary "test $name: $status: passed $passed, failed $failed, skipped $skipped (${took}s)"
  done
fi

# --- 2. compute-sanitizer -------------------------------------------------------------
bench_row=""
for row in "${ROWS[@]}"; do
  [[ "$(field "$row" 3)" == bench ]] && bench_row="$row"
done
san_deadline=$BUDGET_S
if want_step bench && [[ -n "$bench_row" ]]; then san_deadline=$((BUDGET_S - BENCH_TIMEOUT_S)); fi

if want_step sanitizers; then
  if [[ -z "$SANITIZER" ]]; then
    summary "sanitizers: NOT RUN (compute-sanitizer not found on PATH or under /usr/local/cuda*/bin)"
    echo "compute-sanitizer not found" >>"$SAN_LOG"
  elif [[ "$have_gpu" != yes ]]; then
    summary "sanitizers: NOT RUN (no GPU listed by nvidia-smi)"
    echo "no GPU" >>"$SAN_LOG"
  else
    # Kernel tests in full; the backend test cut to a few cases.
    targets=()
    for row in "${ROWS[@]}"; do
      name="$(field "$row" 1)"
      label="$(field "$row" 2)"
      [[ "$(field "$row" 3)" == test && "$(field "$row" 4)" == yes ]] || continue
      if [[ "$label" == //kernels/cuda:* ]]; then
        targets+=("$name")
      elif [[ "$name" == cuda_backend_test ]]; then
        targets+=("$name --gtest_filter=$BACKEND_FILTER")
      fi
    done
    for tool in $SANITIZERS; do
      for target in "${targets[@]}"; do
        read -r -a argv <<<"$target"
        name="${argv[0]}"
        t="$(step_timeout "$SANITIZER_TIMEOUT_S" "$san_deadline")"
        if ((t == 0)); then
          summary "$tool $name: NOT RUN (time budget spent)"
          failures=$((failures + 1))
          continue
        fi
        log="$WORK/$tool-$name.log"
        began=$SECONDS
        timeout -k 5 "$t" "$SANITIZER" --tool "$tool" --error-exitcode 1 --print-limit 50 \
          "$BIN/$name" "${argv[@]:1}" >"$log" 2>&1
        rc=$?
        took=$((SECONDS - began))
        {
          echo "===== $tool $target rc=$rc ${took}s"
          cat "$log"
          echo
        } >>"$SAN_LOG"
        errors="$(grep -m1 -oE 'ERROR SUMMARY: [0-9]+' "$log" | grep -oE '[0-9]+$')"
        tests_failed="$(count "$log" FAILED)"
        if ((rc == 124 || rc == 137)); then
          status="TIMEOUT after ${t}s"
        elif [[ -z "$errors" ]]; then
          status="FAILED (no sanitizer summary; exit $rc)"
        elif ((rc != 0 || errors > 0 || tests_failed > 0)); then
          status="FAILED (exit $rc)"
        else
          status="clean"
        fi
        [[ "$status" == clean ]] || failures=$((failures + 1))
        summary "$tool $name: $status: ${errors:-?} sanitizer errors, $tests_failed gtest failures (${took}s)"
      done
    done
  fi
fi

# --- 3. benchmark --------------------------------------------------------------
# cuda_benchmark prints a markdown section for bench/RESULTS.md on stdout and
# its progress on stderr: stdout goes to bench.md as it is (after an HTML
# comment naming the command), stderr to bench.log.
if want_step bench; then
  if [[ -z "$bench_row" ]]; then
    summary "bench: NOT RUN (cuda_benchmark not in the bundle)"
  else
    name="$(field "$bench_row" 1)"
    want_s=$BENCH_TIMEOUT_S
    [[ "$have_gpu" == yes ]] || want_s=30
    t="$(step_timeout "$want_s" "$BUDGET_S")"
    if ((t == 0)); then
      summary "bench $name: NOT RUN (time budget spent)"
      failures=$((failures + 1))
    else
      read -r -a bench_args <<<"${GANDER_GPU_BENCH_ARGS:-}"
      began=$SECONDS
      timeout -k 5 "$t" "$BIN/$name" "${bench_args[@]}" >"$WORK/bench.out" 2>"$OUT/bench.log"
      rc=$?
      took=$((SECONDS - began))
      {
        echo "<!-- tools/gpu/run.sh: .gpu/bin/$name ${GANDER_GPU_BENCH_ARGS:-} -> exit $rc in ${took}s;"
        echo "     $(grep -m1 '^commit:' "$BUNDLE/MANIFEST.txt" 2>/dev/null) -->"
        cat "$WORK/bench.out"
      } >"$OUT/bench.md"
      if ((rc == 124 || rc == 137)); then
        status="TIMEOUT after ${t}s"
      elif ((rc == 126 || rc == 127)); then
        status="FAILED (could not start: exit $rc, see bench.log)"
      elif [[ "$have_gpu" != yes ]]; then
        status="started without a GPU (exit $rc; not counted)"
      elif ((rc != 0)); then
        status="FAILED (exit $rc, see bench.log)"
      else
        status="ok"
      fi
      [[ "$status" == ok || "$status" == started* ]] || failures=$((failures + 1))
      summary "bench $name: $status (${took}s; bench.md, bench.log)"
    fi
  fi
fi

if ((failures == 0)); then
  summary "RESULT: PASS ($((SECONDS - START))s)"
  exit 0
fi
summary "RESULT: FAIL: $failures step(s) failed ($((SECONDS - START))s)"
exit 1
