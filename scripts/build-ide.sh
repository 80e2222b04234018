#!/usr/bin/env bash
# Build Lite's /ide editor (CodeMirror 6, bundled with esbuild) from
# src/leoflow/ide/frontend into var/ide/ (gitignored), where the api-gateway serves
# it (LEOFLOW_GATEWAY_IDE_DIR). Needs Node.js and `npm ci` (bootstrap.sh runs both).
# Idempotent: nothing is rebuilt while the sources and package-lock.json are unchanged.
#
# Usage: scripts/build-ide.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

SRC="src/leoflow/ide/frontend"
TARGET="${LEOFLOW_IDE_DIR:-var/ide}"
STAMP="$TARGET/.built"
ESBUILD="node_modules/.bin/esbuild"

if [ ! -x "$ESBUILD" ]; then
  echo "build-ide: $ESBUILD is missing: run 'npm ci' first (needs Node.js)" >&2
  exit 1
fi
digest="$(cat "$SRC"/* package-lock.json | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != "--force" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$digest" ] && [ -f "$TARGET/assets/editor.js" ]; then
  exit 0
fi

work="$(mktemp -d "${TARGET%/*}/.ide-build.XXXXXX" 2>/dev/null || mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/assets"
"$ESBUILD" "$SRC/main.js" --bundle --minify --format=iife --target=es2020 --log-level=warning \
  --legal-comments=linked --outfile="$work/assets/editor.js"
cp "$SRC/index.html" "$work/index.html"
cp "$SRC/editor.css" "$work/assets/editor.css"
echo "$digest" > "$work/.built"
mkdir -p "$(dirname "$TARGET")"
rm -rf "$TARGET.old"
[ -d "$TARGET" ] && mv "$TARGET" "$TARGET.old"
mv "$work" "$TARGET"
rm -rf "$TARGET.old"
trap - EXIT
echo "build-ide: built $TARGET ($(du -sh "$TARGET/assets/editor.js" | cut -f1) of JavaScript)"
