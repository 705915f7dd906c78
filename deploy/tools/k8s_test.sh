#!/usr/bin/env bash
# Checks of deploy/k8s, run from Bazel (deploy/BUILD.bazel), one per MODE:
#   render      `kubectl kustomize` builds the base and every overlay, and
#               each overlay holds the expected kinds of objects
#   invariants  check_manifests.py passes on every rendered overlay
#   checker     check_manifests_test.py: the checker reports each broken
#               invariant (mutated rendered manifests)
#   yamllint    yamllint --strict with deploy/yamllint.yaml on deploy/
#
# Usage: k8s_test.sh MODE [GANDER_BINARY]
# The tools are the system's, outside the sandbox: /usr/bin/kubectl (Debian's
# kubernetes-client, or any kubectl with the kustomize subcommand),
# /usr/bin/yamllint, /usr/bin/python3 with PyYAML (python3-yaml).
set -euo pipefail

mode=$1
gander=${2:-}
kubectl=/usr/bin/kubectl
python=/usr/bin/python3
tmp=${TEST_TMPDIR:-$(mktemp -d)}

need() {
  if [[ ! -x $1 ]]; then
    echo "FAIL: $1 not found: install Debian's $2 (tools/setup.sh installs it)" >&2
    exit 1
  fi
}

# kustomize refuses files reached through symlinks that leave the
# kustomization's root, and Bazel's runfiles are symlinks: render a copy.
render() {
  need "$kubectl" kubernetes-client
  if [[ ! -d $tmp/k8s ]]; then
    cp -rL deploy/k8s "$tmp/k8s"
  fi
  local dir=$1 out=$2
  if ! "$kubectl" kustomize "$tmp/k8s/$dir" >"$out" 2>"$out.err"; then
    echo "FAIL: kubectl kustomize deploy/k8s/$dir:" >&2
    cat "$out.err" >&2
    exit 1
  fi
}

case $mode in
  render)
    "$kubectl" version --client 2>/dev/null | head -n 2 || true
    render base "$tmp/base.yaml"
    for overlay in deploy/k8s/overlays/*/; do
      name=$(basename "$overlay")
      out="$tmp/$name.yaml"
      render "overlays/$name" "$out"
      for kind in StatefulSet Deployment Service ConfigMap PodDisruptionBudget \
        HorizontalPodAutoscaler NetworkPolicy PersistentVolumeClaim; do
        if ! grep -q "^kind: $kind$" "$out"; then
          echo "FAIL: overlay $name renders no $kind" >&2
          exit 1
        fi
      done
      if ! grep -q "^  namespace: gander$" "$out"; then
        echo "FAIL: overlay $name does not set the namespace gander" >&2
        exit 1
      fi
      echo "rendered overlay $name: $(grep -c '^kind:' "$out") objects"
    done
    ;;
  invariants | checker)
    need "$python" python3
    if ! "$python" -c "import yaml" 2>/dev/null; then
      echo "FAIL: $python has no PyYAML: install Debian's python3-yaml" >&2
      exit 1
    fi
    render overlays/cpu "$tmp/cpu.yaml"
    render overlays/gpu "$tmp/gpu.yaml"
    if [[ $mode == invariants ]]; then
      for overlay in cpu gpu; do
        "$python" deploy/tools/check_manifests.py --overlay="$overlay" --gander="$gander" \
          "$tmp/$overlay.yaml"
      done
    else
      RENDERED_CPU="$tmp/cpu.yaml" RENDERED_GPU="$tmp/gpu.yaml" GANDER_BINARY="$gander" \
        "$python" deploy/tools/check_manifests_test.py -v
    fi
    ;;
  yamllint)
    need /usr/bin/yamllint yamllint
    /usr/bin/yamllint --version
    /usr/bin/yamllint -c deploy/yamllint.yaml --strict deploy
    echo "yamllint: clean"
    ;;
  *)
    echo "usage: k8s_test.sh render|invariants|checker|yamllint [GANDER_BINARY]" >&2
    exit 2
    ;;
esac
