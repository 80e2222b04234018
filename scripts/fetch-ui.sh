#!/usr/bin/env bash
# Fetch the Airflow 3.2.2 web UI that the api-gateway serves, unmodified.
#
# Downloads the apache-airflow-core 3.2.2 wheel (pip download, no install),
# checks its pinned sha256, and extracts into var/airflow-ui/ (gitignored):
#   ui/       <- airflow/ui/dist/**                              (the UI)
#   auth/     <- airflow/api_fastapi/auth/managers/simple/ui/dist/**  (login page)
#   openapi/  <- the wheel's OpenAPI specs (the gateway's contract tests read them)
#   LICENSE, NOTICE (Apache-2.0, from the wheel's dist-info) and THIRD-PARTY-NOTICES
# Nothing of the UI is committed. Idempotent: an install of the same wheel is kept.
#
# Usage: scripts/fetch-ui.sh [--force]      (LEOFLOW_UI_DIR overrides the target)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="3.2.2"
WHEEL="apache_airflow_core-${VERSION}-py3-none-any.whl"
SHA256="877be429d59193b5e9aab1ae69f44066134bf483c633e9f7c59a9220ebfcc013"
TARGET="${LEOFLOW_UI_DIR:-var/airflow-ui}"
STAMP="${TARGET}/.installed"

if [ "${1:-}" != "--force" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SHA256" ] \
   && [ -f "$TARGET/ui/index.html" ] && [ -f "$TARGET/auth/index.html" ]; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-ui: downloading apache-airflow-core==${VERSION} (UI assets only, not installed)"
download() { "$@" download --quiet --no-deps --only-binary=:all: "apache-airflow-core==${VERSION}" -d "$work"; }
if ! download python3 -m pip 2>"$work/pip.err"; then
  # No pip in this python: run pip through uv, which bootstrap.sh installs.
  if command -v uvx >/dev/null 2>&1; then
    download uvx pip
  else
    cat "$work/pip.err" >&2
    echo "fetch-ui: neither 'python3 -m pip' nor 'uvx pip' can download the wheel" >&2
    exit 1
  fi
fi

actual="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$work/$WHEEL")"
if [ "$actual" != "$SHA256" ]; then
  echo "fetch-ui: sha256 mismatch for $WHEEL: expected $SHA256, got $actual" >&2
  exit 1
fi

staging="$work/airflow-ui"
python3 - "$work/$WHEEL" "$staging" "$VERSION" <<'PY'
import sys
import zipfile
from pathlib import Path

wheel, out, version = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
dist_info = f"apache_airflow_core-{version}.dist-info/licenses/"
# (prefix in the wheel, directory under the target; "" keeps the file name only)
mapping = [
    ("airflow/ui/dist/", "ui/"),
    ("airflow/api_fastapi/auth/managers/simple/ui/dist/", "auth/"),
    ("airflow/api_fastapi/core_api/openapi/", "openapi/"),
    ("airflow/api_fastapi/auth/managers/simple/openapi/", "openapi/"),
    (dist_info, ""),
]
count = 0
with zipfile.ZipFile(wheel) as zf:
    for name in zf.namelist():
        if name.endswith("/"):
            continue
        for prefix, target in mapping:
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if target == "openapi/" and not rest.endswith(".yaml"):
                continue
            if ".." in Path(rest).parts:
                raise SystemExit(f"fetch-ui: refusing path {name!r}")
            dest = out / target / rest
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(name))
            count += 1
for required in ("ui/index.html", "auth/index.html", "LICENSE", "NOTICE", "openapi/v2-rest-api-generated.yaml"):
    if not (out / required).is_file():
        raise SystemExit(f"fetch-ui: {required} missing from {wheel}")
print(f"fetch-ui: extracted {count} files")
PY

cat > "$staging/THIRD-PARTY-NOTICES" <<'TXT'
Third-party software in the Apache Airflow 3.2.2 web UI (ui/ and auth/)

The files in ui/ and auth/ are the built Airflow UI, taken unmodified from the
apache-airflow-core 3.2.2 wheel and licensed under the Apache License 2.0 (see
LICENSE and NOTICE beside this file). Leoflow's gateway changes nothing in them
except the `{{ backend_server_base_url }}` placeholder of the two index.html
pages, which it fills in with the base path when serving them.

The minified JavaScript bundles include the following libraries, whose license
comments were stripped by the build. Their licenses apply to those portions:

  React, React DOM, React Router (Meta Platforms, Inc. and Remix Software) - MIT
  Chakra UI (Segun Adebayo) ........................................... MIT
  Emotion ............................................................. MIT
  Monaco Editor (Microsoft Corporation) ............................... MIT
  @xyflow/react (webkid GmbH) ......................................... MIT
  TanStack Query ...................................................... MIT
  axios ............................................................... MIT
  i18next, react-i18next .............................................. MIT
  dayjs ............................................................... MIT
  chart.js, react-chartjs-2 ........................................... MIT
  anser / ANSI parsing ................................................ MIT
  elkjs (Eclipse Layout Kernel, Eclipse Foundation and contributors)
      ........................... EPL-2.0 OR GPL-3.0-or-later
      Source: https://github.com/kieler/elkjs and https://github.com/eclipse/elk
  @guanmingchiu/sqlparser-ts (sqlparser-rs compiled to WebAssembly)
      ......................................................... Apache-2.0

License texts:
  MIT        https://opensource.org/license/mit
  Apache-2.0 https://www.apache.org/licenses/LICENSE-2.0 (also in LICENSE)
  EPL-2.0    https://www.eclipse.org/legal/epl-2.0/
TXT
echo "$SHA256" > "$staging/.installed"

mkdir -p "$(dirname "$TARGET")"
rm -rf "$TARGET.old"
if [ -e "$TARGET" ]; then mv "$TARGET" "$TARGET.old"; fi
mv "$staging" "$TARGET"
rm -rf "$TARGET.old"
echo "fetch-ui: Airflow UI ${VERSION} installed in $TARGET"
