#!/usr/bin/env bash
# Builds the FerretDB server (a MongoDB-wire server backed by SQLite) that the read-store integration
# tests run against, into a per-user cache directory, and prints the binary's path.
# Idempotent: when the binary is already there it only prints the path.
#
# Why not `go install .../cmd/ferretdb@v1.24.2`: that build lacks build/version/version.txt and the
# binary panics at start, so the module source is copied to a writable place and the version file
# written before `go build`.
set -euo pipefail

VERSION="v1.24.2"
TOOLS_DIR="${PATCHBAY_TOOLS_DIR:-$HOME/.cache/patchbay/tools}"
DEST_DIR="$TOOLS_DIR/ferretdb-$VERSION"
BIN="$DEST_DIR/ferretdb"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    echo "build-ferretdb: Go toolchain not found (need go on PATH or in /usr/local/go/bin)" >&2
    exit 1
  fi
fi

MOD_DIR="$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$MOD_DIR" ] || [ ! -d "$MOD_DIR" ]; then
  echo "build-ferretdb: could not download github.com/FerretDB/FerretDB@$VERSION" >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")"
trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cp -R "$MOD_DIR" "$WORK/src"
chmod -R u+w "$WORK/src"
mkdir -p "$WORK/src/build/version"
printf '%s' "$VERSION" > "$WORK/src/build/version/version.txt"

mkdir -p "$DEST_DIR"
(cd "$WORK/src" && CGO_ENABLED=0 go build -trimpath -o "$WORK/ferretdb" ./cmd/ferretdb) >&2
# Move into place last so an interrupted build never leaves a half-written binary at $BIN.
mv "$WORK/ferretdb" "$BIN.tmp.$$"
mv "$BIN.tmp.$$" "$BIN"
echo "$BIN"
