#!/usr/bin/env bash
# Builds the Helm v3 client that renders and lints deploy/helm/patchbay, into a per-user cache
# directory, and prints the binary's path. Idempotent: when the binary is already there it only
# prints the path.
#
# Helm is built from its Go module rather than downloaded as a release archive so that the only
# network dependency is the Go module proxy, which CI reaches like every other machine.
set -euo pipefail

VERSION="v3.22.0"
TOOLS_DIR="${PATCHBAY_TOOLS_DIR:-$HOME/.cache/patchbay/tools}"
# The suffix changes whenever the build flags do, so a binary built the old way is not reused.
DEST_DIR="$TOOLS_DIR/helm-$VERSION-k8s1.37"
BIN="$DEST_DIR/helm"
LINK="$TOOLS_DIR/helm"

if [ -x "$BIN" ]; then
  ln -sfn "$BIN" "$LINK"
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    echo "build-helm: Go toolchain not found (need go on PATH or in /usr/local/go/bin)" >&2
    exit 1
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/helm-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$DEST_DIR"
# The release Makefile sets these through ldflags; without them `helm version` prints a placeholder
# and `helm template` assumes Kubernetes 1.20, older than the chart's kubeVersion. The Kubernetes
# version is the one of the k8s.io modules this Helm release is built with.
K8S_MAJOR=1
K8S_MINOR=37
(CGO_ENABLED=0 GOBIN="$WORK" go install -trimpath \
  -ldflags "-X helm.sh/helm/v3/internal/version.version=$VERSION -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$K8S_MAJOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$K8S_MAJOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR" \
  "helm.sh/helm/v3/cmd/helm@$VERSION") >&2
# Move into place last so an interrupted build never leaves a half-written binary at $BIN.
mv "$WORK/helm" "$BIN.tmp.$$"
mv "$BIN.tmp.$$" "$BIN"
ln -sfn "$BIN" "$LINK"
echo "$BIN"
