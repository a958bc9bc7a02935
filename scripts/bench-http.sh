#!/usr/bin/env bash
# End-to-end benchmark: wrk against GET aggregated-params of a 10,000-member
# VPP, release server on SQLite. Needs `wrk` (Debian package).
# Usage: scripts/bench-http.sh [members] [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
members="${1:-10000}"
connections="${2:-64}"
seconds="${3:-10}"
port="${VPP_BENCH_PORT:-18080}"

command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release -p vpp-cli
dir=$(mktemp -d)
db="sqlite://$dir/bench.db"
bin=target/release/vpp
echo "seeding $members resources into $dir/bench.db"
start=$(date +%s)
vpp_id=$(VPP_LOG=warn "$bin" --database-url "$db" bench seed --resources "$members")
echo "seeded in $(( $(date +%s) - start )) s; VPP $vpp_id"
password="bench-admin-password-$$"
VPP_LOG=warn VPP_ADMIN_PASSWORD="$password" "$bin" --database-url "$db" serve --bind "127.0.0.1:$port" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
token=$(curl -sf -XPOST -H 'content-type: application/json' "http://127.0.0.1:$port/api/v1/auth/login" \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
url="http://127.0.0.1:$port/api/v1/vpp/vpps/$vpp_id/aggregated-params"
curl -sf -H "Authorization: Bearer $token" "$url" | head -c 300; echo
wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$url"
