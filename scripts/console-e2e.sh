#!/usr/bin/env bash
# Browser test of the web console: installs Debian's Chromium if it is
# missing, runs a release `vpp demo` (as users run it) on a fresh database and
# a free port, and drives the console with playwright-core
# (web/e2e/console.mjs). Screenshots land in target/e2e-shots. First it
# checks that the console's generated API types (web/src/api/schema.d.ts)
# match the OpenAPI document the server serves.
#
#   VPP_E2E_AT=HH:MM  runs the demo, the test and the browser as if it were
#                     that time of day (UTC) today, through libfaketime
#                     (Debian's faketime): every clock is shifted by the
#                     same offset and runs on, so steps that depend on the
#                     time of day (gate closures, yesterday's meter data)
#                     can be tried at any hour.
#   VPP_BIN=path      tests that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)"
  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
# Chinese pages drawn with real glyphs in the screenshots, not boxes.
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
  echo "installing fonts-noto-cjk (Debian package)"
  apt-get install -y -q fonts-noto-cjk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q fonts-noto-cjk >/dev/null; }
fi

vpp=${VPP_BIN:-target/release/vpp}
if [ -z "${VPP_BIN:-}" ]; then
  cargo build -q --release -p vpp-cli
fi
if [ -n "${VPP_E2E_AT:-}" ]; then
  command -v faketime >/dev/null || apt-get install -y -q faketime >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q faketime >/dev/null; }
  offset=$(( $(date -u -d "today $VPP_E2E_AT" +%s) - $(date -u +%s) ))
  lib=$(dpkg -L libfaketime | grep '/libfaketime.so.1$')
  export LD_PRELOAD="$lib" FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME="$( [ $offset -ge 0 ] && echo +)$offset"
  echo "clocks shifted by $FAKETIME s: now $(date -u '+%F %H:%M') UTC"
fi

tmp=$(mktemp -d)
trap 'kill ${demo:-} 2>/dev/null || true; rm -rf "$tmp"' EXIT
. scripts/demo-lib.sh
start_demo "$vpp" "$tmp/e2e.db" "$tmp/demo.log"
password() { sed -n "s/^demo login: $1 \/ \([^ ]*\) .*/\1/p" "$tmp/demo.log"; }

# The console's API types must be those of the document this server serves.
if [ -z "${VPP_E2E_AT:-}" ]; then
  (cd web && VPP_OPENAPI="http://127.0.0.1:$port/api/v1/openapi.json" VPP_API_TYPES="$tmp/schema.d.ts" \
    npm run -s gen:api 2>/dev/null)
  if ! cmp -s "$tmp/schema.d.ts" web/src/api/schema.d.ts; then
    diff "$tmp/schema.d.ts" web/src/api/schema.d.ts | head -20
    echo "web/src/api/schema.d.ts differs from the served OpenAPI document: run" \
      "VPP_OPENAPI=http://127.0.0.1:8080/api/v1/openapi.json npm run gen:api in web/ against a running vpp and commit it" >&2
    exit 1
  fi
  echo "console API types match the served OpenAPI document"
fi

cd web
VPP_URL="http://127.0.0.1:$port" \
VPP_ADMIN_PASSWORD="$(password admin)" \
VPP_VIEWER_PASSWORD="$(password viewer)" \
VPP_OPERATOR_PASSWORD="$(password operator)" \
VPP_TRADER_PASSWORD="$(password trader)" \
VPP_E2E_SHOTS="../target/e2e-shots" \
  node e2e/console.mjs
