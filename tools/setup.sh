#!/usr/bin/env bash
# Installs everything Gander needs to build and test, from Debian's packages
# and the npm registry. Idempotent: when everything is present it only checks
# and returns in about a second.
#
# Usage: tools/setup.sh            (run as root, or with sudo available)
set -euo pipefail

cd "$(dirname "$0")/.."

# Debian packages the build and the tests use. Keep this list exact: it is the
# project's whole system dependency set (see docs/building.md).
DEB_PACKAGES=(
  bazel-bootstrap bazel-rules-java pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev librocksdb-dev libzstd-dev liblz4-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev
  clang-format clang-tidy
  python3-numpy
  yamllint python3-yaml nginx openssl
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" for a fully installed package.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# Node.js and npm may come from another packager (and npm with Node.js): only
# ask Debian for them when the commands are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# kubectl renders the Kubernetes manifests (`kubectl kustomize`); any kubectl
# with that subcommand will do, so Debian's is installed only when none is.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm tools, pinned in tools/package.json / package-lock.json, installed into
# tools/node_modules (ignored by git).
if [[ ! -x tools/node_modules/.bin/buf ]]; then
  echo "setup: installing npm tools (buf)"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "setup: ok"
