#!/usr/bin/env bash
# Packs Gander's CUDA test binaries (and the CUDA benchmark, when that target
# exists) with the shared libraries they need into .gpu/, so that a GPU
# machine without Bazel or the Debian -dev libraries can run them with
# tools/gpu/run.sh.
#
# Usage (from anywhere in the repository, on the build machine):
#   tools/gpu/bundle.sh
#   GANDER_GPU_NO_BENCH=1 tools/gpu/bundle.sh   # tests only
#
# The benchmark (//bench/cuda:cuda_benchmark) is included when its package
# and target exist; when they exist but do not build, the bundle fails (set
# GANDER_GPU_NO_BENCH=1 to bundle the tests alone).
#
# What lands in .gpu/ (git ignores it):
#   bin/           the test binaries and cuda_benchmark
#   lib/           every non-system shared library they load: Bazel's own
#                  (_solib_k8) libraries, abseil, xxhash, ...
#   lib/compat/    libstdc++ and libgcc_s from this machine; run.sh adds them
#                  only when the GPU machine's own are too old
#   lib/cuda/      small CUDA toolkit libraries (libcudart) as a fallback; run.sh
#                  puts them after the GPU machine's CUDA library directory
#   runfiles/      data files the binaries declare (none today)
#   binaries.tsv   name, Bazel label, role (test/bench), whether it loads CUDA
#   MANIFEST.txt   commit, libraries and their origin, what the GPU machine
#                  must provide, glibc needed, sizes
#
# Not bundled: the glibc family (libc, libm, libpthread, libdl, librt, the
# loader) because it must match the GPU machine's loader; libcuda.so (the
# driver, always the GPU machine's); CUDA toolkit libraries larger than
# CUDA_LIB_COPY_MAX (cuBLAS and cuBLASLt: about 52 and 517 MiB), which come
# from the GPU machine's CUDA 13 installation.
#
# Fails when a build fails, a library does not resolve here, or the bundle
# exceeds 60 MiB (the device machine accepts 64 MiB of carried files).
set -euo pipefail

readonly BUNDLE_LIMIT_BYTES=$((60 * 1024 * 1024))
readonly CUDA_LIB_COPY_MAX=$((8 * 1024 * 1024))
readonly BENCH_LABEL="//bench/cuda:cuda_benchmark"
readonly TEST_QUERY='kind(cc_test, //kernels/cuda/... + //engine/cuda/...)'

cd "$(dirname "$0")/../.."
readonly ROOT="$PWD"
readonly DEST="$ROOT/.gpu"
BAZEL="${BAZEL:-bazel}"

log() { echo "bundle: $*" >&2; }
die() {
  echo "bundle: error: $*" >&2
  exit 1
}

# --- which targets -----------------------------------------------------------
# `bazel query` does not read build configs (--config=cuda would be rejected);
# kind() does not depend on them, and the build below uses --config=cuda.
mapfile -t tests < <("$BAZEL" query --noshow_progress "$TEST_QUERY" 2>/dev/null | sort)
[[ ${#tests[@]} -gt 0 ]] || die "no cc_test found for: $TEST_QUERY"
log "tests: ${tests[*]}"

bench=()
bench_pkg="${BENCH_LABEL#//}"
bench_pkg="${bench_pkg%%:*}"
if [[ -n "${GANDER_GPU_NO_BENCH:-}" ]]; then
  log "benchmark: left out (GANDER_GPU_NO_BENCH is set)"
elif [[ -f "$bench_pkg/BUILD.bazel" || -f "$bench_pkg/BUILD" ]]; then
  if query_err=$("$BAZEL" query --noshow_progress "$BENCH_LABEL" 2>&1 >/dev/null); then
    bench=("$BENCH_LABEL")
    log "benchmark: $BENCH_LABEL"
  else
    log "benchmark: $BENCH_LABEL not found; skipped. bazel query said:"
    printf '%s\n' "$query_err" | grep -E 'ERROR' | head -5 >&2 || true
  fi
else
  log "benchmark: package //$bench_pkg does not exist; skipped"
fi

# --- build ---------------------------------------------------------------------
log "building with --config=cuda"
"$BAZEL" build --config=cuda --noshow_progress "${tests[@]}" "${bench[@]}"
bin_dir="$("$BAZEL" info --config=cuda bazel-bin 2>/dev/null)"
[[ -d "$bin_dir" ]] || die "bazel-bin not found: $bin_dir"

cuda_root=""
for candidate in "${CUDA_PATH:-}" /usr/local/cuda; do
  if [[ -n "$candidate" && -d "$candidate" ]]; then
    cuda_root="$(readlink -f "$candidate")"
    break
  fi
done

# --- copy binaries -----------------------------------------------------------
rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/lib/compat" "$DEST/lib/cuda"

label_path() {  # //a/b:c -> a/b/c
  local label="${1#//}"
  echo "${label%%:*}/${label##*:}"
}

printf 'name\tlabel\trole\tcuda\n' >"$DEST/binaries.tsv"
declare -a built_bins=()
for label in "${tests[@]}" "${bench[@]}"; do
  rel="$(label_path "$label")"
  src="$bin_dir/$rel"
  [[ -x "$src" ]] || die "built binary missing: $src (label $label)"
  name="$(basename "$rel")"
  [[ ! -e "$DEST/bin/$name" ]] || die "two binaries named $name"
  cp -L "$src" "$DEST/bin/$name"
  chmod 755 "$DEST/bin/$name"
  built_bins+=("$src")
  role="test"
  [[ "$label" == "$BENCH_LABEL" ]] && role=bench
  uses_cuda=no
  if grep -q 'NEEDED.*libcudart' <<<"$(readelf -d "$src")"; then uses_cuda=yes; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$label" "$role" "$uses_cuda" >>"$DEST/binaries.tsv"

  # Runfiles data: every manifest entry except the binary itself and the
  # shared libraries (bundled below from ldd).
  manifest="$src.runfiles_manifest"
  if [[ -f "$manifest" ]]; then
    while read -r rpath apath; do
      case "$rpath" in
        */_solib_*/* | "gander/$rel") continue ;;
      esac
      mkdir -p "$DEST/runfiles/$(dirname "$rpath")"
      if [[ -n "$apath" ]]; then
        cp -L "$apath" "$DEST/runfiles/$rpath"
      else
        : >"$DEST/runfiles/$rpath"
      fi
      log "runfile: $rpath"
    done <"$manifest"
  fi
done

# --- copy shared libraries -----------------------------------------------------
is_glibc() {
  [[ "$1" =~ ^(linux-vdso|linux-gate|ld-linux)|^lib(c|m|mvec|pthread|dl|rt|resolv|util|anl|nsl|BrokenLocale|thread_db|nss_[a-z]+)\.so ]]
}
is_driver() { [[ "$1" =~ ^lib(cuda|nvidia-[a-z-]+)\.so ]]; }
is_compat() { [[ "$1" =~ ^lib(stdc\+\+|gcc_s)\.so ]]; }
is_cuda_toolkit() {
  local soname="$1" path="$2"
  [[ -n "$cuda_root" && "$(readlink -f "$path")" == "$cuda_root"/* ]] ||
    [[ "$soname" =~ ^lib(cudart|cublas|cublasLt|cufft|curand|cusparse|cusolver|nvrtc|nvJitLink|npp[a-z]*)\.so ]]
}

declare -A seen=()
declare -a remote_libs=() bundled_libs=()
# ldd runs on the binaries in bazel-bin: their RUNPATH ($ORIGIN/../_solib_k8)
# finds Bazel's libraries only there.
for bin in "${built_bins[@]}"; do
  ldd_out="$(ldd "$bin")" || die "ldd failed on $bin"
  if grep -q 'not found' <<<"$ldd_out"; then
    die "unresolved library for $(basename "$bin"):"$'\n'"$(grep 'not found' <<<"$ldd_out")"
  fi
  while read -r soname path; do
    [[ -n "$soname" && -z "${seen[$soname]:-}" ]] || continue
    seen[$soname]=1
    path="$(realpath -s "$path")"
    shown="${path/#$bin_dir/bazel-bin}"
    if is_glibc "$soname"; then
      continue
    elif is_driver "$soname"; then
      die "$(basename "$bin") links the driver library $soname directly; it must come from the GPU machine"
    elif is_compat "$soname"; then
      cp -L "$path" "$DEST/lib/compat/$soname"
      bundled_libs+=("lib/compat/$soname <- $shown")
    elif is_cuda_toolkit "$soname" "$path"; then
      size=$(stat -L -c %s "$path")
      if ((size <= CUDA_LIB_COPY_MAX)); then
        cp -L "$path" "$DEST/lib/cuda/$soname"
        bundled_libs+=("lib/cuda/$soname <- $shown (fallback)")
      else
        remote_libs+=("$soname ($((size / 1024 / 1024)) MiB here: $shown)")
      fi
    else
      cp -L "$path" "$DEST/lib/$soname"
      bundled_libs+=("lib/$soname <- $shown")
    fi
  done < <(awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$ldd_out")
done
chmod 644 "$DEST"/lib/*.so* "$DEST"/lib/*/*.so* 2>/dev/null || true

# --- glibc / libstdc++ requirements ---------------------------------------------
max_version() {  # prefix, files...: highest symbol version of that prefix needed
  local prefix="$1"
  shift
  objdump -T "$@" 2>/dev/null | grep -o "(${prefix}_[0-9.]*)" | tr -d '()' | sort -uV | tail -1
}
# lib/compat is left out of the libstdc++ figure: libstdc++ itself defines
# those versions.
mapfile -t own_elf_files < <(find "$DEST/bin" "$DEST/lib" -maxdepth 1 -type f)
mapfile -t all_elf_files < <(find "$DEST/bin" "$DEST/lib" -type f)
glibc_needed="$(max_version GLIBC "${all_elf_files[@]}")"
glibcxx_needed="$(max_version GLIBCXX "${own_elf_files[@]}")"

# --- manifest and size ---------------------------------------------------------
total=$(du -sb "$DEST" | cut -f1)
{
  echo "Gander GPU bundle"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (working tree has changes)')"
  echo "build: bazel build --config=cuda (compilation mode from .bazelrc)"
  echo "cuda toolkit here: ${cuda_root:-none} ($("$cuda_root/bin/nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*' || echo unknown))"
  echo "needs on the GPU machine: glibc >= ${glibc_needed#GLIBC_}; libstdc++ with ${glibcxx_needed} (else lib/compat is used)"
  echo
  echo "binaries:"
  tail -n +2 "$DEST/binaries.tsv" | sed 's/^/  /'
  echo
  echo "bundled libraries:"
  printf '  %s\n' "${bundled_libs[@]}"
  echo
  echo "from the GPU machine's CUDA installation (too large to carry):"
  if [[ ${#remote_libs[@]} -gt 0 ]]; then printf '  %s\n' "${remote_libs[@]}"; else echo "  (none)"; fi
  echo "  libcuda.so.1 (driver)"
  echo
  echo "sizes (bytes):"
  for part in bin lib runfiles; do
    if [[ -d "$DEST/$part" ]]; then
      printf '  %-9s %s\n' "$part/" "$(du -sb "$DEST/$part" | cut -f1)"
    fi
  done
  printf '  %-9s %s\n' "total" "$total"
} >"$DEST/MANIFEST.txt"

cat "$DEST/MANIFEST.txt" >&2
log "bundle size: $total bytes ($((total / 1024 / 1024)) MiB; limit $((BUNDLE_LIMIT_BYTES / 1024 / 1024)) MiB)"
if ((total > BUNDLE_LIMIT_BYTES)); then
  die "bundle is $total bytes, over the $BUNDLE_LIMIT_BYTES byte limit"
fi
log "done: carry .gpu to the GPU machine and run: bash tools/gpu/run.sh"
