#!/usr/bin/env bash
# Builds kube-validate (deploy/scripts/kube-validate: strict decoding of manifests into the
# Kubernetes API types) into the per-user tools cache and prints the binary's path. Idempotent:
# the binary is keyed by a hash of its source, so it is rebuilt only when the source changes.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/kube-validate" && pwd)"
TOOLS_DIR="${PATCHBAY_TOOLS_DIR:-$HOME/.cache/patchbay/tools}"
HASH="$(cat "$SRC_DIR/main.go" "$SRC_DIR/go.mod" "$SRC_DIR/go.sum" | sha256sum | cut -c1-12)"
DEST_DIR="$TOOLS_DIR/kube-validate-$HASH"
BIN="$DEST_DIR/kube-validate"
LINK="$TOOLS_DIR/kube-validate"

if [ -x "$BIN" ]; then
  ln -sfn "$BIN" "$LINK"
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    echo "build-kube-validate: Go toolchain not found (need go on PATH or in /usr/local/go/bin)" >&2
    exit 1
  fi
fi

mkdir -p "$DEST_DIR"
# Build into a temporary name and move into place last, so an interrupted build never leaves a
# half-written binary at $BIN.
(cd "$SRC_DIR" && CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp.$$" .) >&2
mv "$BIN.tmp.$$" "$BIN"
ln -sfn "$BIN" "$LINK"
echo "$BIN"
