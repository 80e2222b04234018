#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh clone: uv, the Python workspace (from the
# committed lock file), the build-time npm tools, the pinned Airflow UI assets.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv"
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen --quiet
if command -v npm >/dev/null 2>&1 && { [ ! -x node_modules/.bin/buf ] || [ ! -x node_modules/.bin/esbuild ]; }; then
  # `npm install`, not `npm ci`: npm 11 writes a lock without other platforms'
  # optional packages (buf ships one per platform) and `npm ci` then refuses it.
  # The versions are pinned exactly in package.json and the lock is respected.
  npm install --no-audit --no-fund --silent
fi
if [ -x scripts/fetch-ui.sh ]; then scripts/fetch-ui.sh; fi
# Lite's /ide editor (CodeMirror, bundled with esbuild) into var/ide; Lite works without it.
if [ -x node_modules/.bin/esbuild ]; then scripts/build-ide.sh || echo "could not build the /ide editor" >&2; fi
# docker-compose: tests/contract/test_deploy_compose.py validates docker-compose.dev.yml
# with `docker-compose config` (Debian's package; no engine needed for that). Only
# where apt-get is available and we are root; elsewhere install it yourself.
if ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  echo "installing docker-compose"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null) \
    || echo "could not install docker-compose: tests/contract/test_deploy_compose.py will fail" >&2
fi
# Chromium for the browser test of the Airflow UI (tests/e2e/test_ui_browser.py drives
# Debian's /usr/bin/chromium through Playwright; `playwright install` is never used).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  echo "installing chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium: tests/e2e/test_ui_browser.py will fail" >&2
fi
