#!/usr/bin/env bash
# Browser test of the web console: installs Debian's Chromium if it is
# missing, runs a release `vpp demo` (as users run it) on a fresh database and
# a free port, and drives the console with playwright-core
# (web/e2e/console.mjs). Screenshots land in target/e2e-shots.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)"
  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi

cargo build -q --release -p vpp-cli
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/vpp --database-url "sqlite://$tmp/e2e.db" demo --bind "127.0.0.1:$port" >"$tmp/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null || true; rm -rf "$tmp"' EXIT

for _ in $(seq 1 180); do
  if grep -q "demo login: viewer" "$tmp/demo.log" && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then break; fi
  if ! kill -0 $demo 2>/dev/null; then cat "$tmp/demo.log"; echo "the demo stopped" >&2; exit 1; fi
  sleep 1
done
password() { sed -n "s/^demo login: $1 \/ \([^ ]*\) .*/\1/p" "$tmp/demo.log"; }

cd web
VPP_URL="http://127.0.0.1:$port" \
VPP_ADMIN_PASSWORD="$(password admin)" \
VPP_VIEWER_PASSWORD="$(password viewer)" \
VPP_OPERATOR_PASSWORD="$(password operator)" \
VPP_TRADER_PASSWORD="$(password trader)" \
VPP_E2E_SHOTS="../target/e2e-shots" \
  node e2e/console.mjs
