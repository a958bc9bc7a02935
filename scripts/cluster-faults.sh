#!/usr/bin/env bash
# Two `vpp serve` nodes on one PostgreSQL database, and what happens to the
# leases of singleton work (market clearing, the control loop, ingestion,
# forecasts) when a node dies, pauses or stops:
#
#   1. kill -9 the holder: the other node takes every lease within the
#      lease time and a third of it (printed: the takeover time);
#   2. SIGSTOP the new holder past its lease, then SIGCONT it: the other
#      node has taken the leases under new tokens, and the woken node says
#      it lost them and stops its jobs (one holder per lease throughout);
#   3. stop a node gracefully (SIGINT): it gives its leases up, and the
#      other node takes them at its next renewal, without waiting.
#
# Uses database `vpp_cluster` (dropped and created), ports 18201-18202.
#
#   VPP_BIN=target/ci/vpp scripts/cluster-faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VPP_BIN:-target/release/vpp}
pg=${VPP_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
db="${pg%/*}/vpp_cluster"
ttl=6
logs=target/cluster-faults
mkdir -p "$logs"
rm -f "$logs"/*.log
psql -q "$pg" -c 'DROP DATABASE IF EXISTS vpp_cluster WITH (FORCE)' -c 'CREATE DATABASE vpp_cluster'
export VPP_ADMIN_PASSWORD=cluster-faults-admin-pw

declare -A pids tokens
start() { # name port
  "$bin" --database-url "$db" serve --bind "127.0.0.1:$2" --node-id "$1" --lease-ttl-s $ttl \
    --physical-forecast-interval-min 0 --modbus-links false >"$logs/$1.log" 2>&1 &
  pids[$1]=$!
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$2/readyz" >/dev/null; then
      tokens[$2]=$(login "$2")
      return 0
    fi
    sleep 0.2
  done
  echo "node $1 did not start:"; cat "$logs/$1.log"; exit 1
}
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

login() { # port
  curl -sf "http://127.0.0.1:$1/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$VPP_ADMIN_PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
# The token of node $1 (port), from its login in start(): a lookup only, as
# the callers run in subshells where a cache would not stick.
token() { echo "${tokens[$1]}"; }
# Holders of the leases as node $1 (port) reads them: "lease=holder:token ...".
holders() {
  curl -sf "http://127.0.0.1:$1/api/v1/vpp/cluster" -H "authorization: Bearer $(token "$1")" | python3 -c '
import json, sys, datetime
c = json.load(sys.stdin)
now = datetime.datetime.now(datetime.timezone.utc)
def holder(l):
    held = l["holder"] and datetime.datetime.fromisoformat(l["expires_at"].replace("Z", "+00:00")) >= now
    return l["holder"] if held else "-"
print(" ".join("%s=%s:%s" % (l["name"], holder(l), l["token"]) for l in c["leases"]))'
}
# Waits until every lease read through port $1 is held by node $2; prints the seconds waited.
wait_all_held_by() {
  local t0=$SECONDS deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    local h; h=$(holders "$1" || true)
    if [ -n "$h" ] && ! echo "$h" | tr ' ' '\n' | grep -vq "=$2:"; then
      echo "$h"; return 0
    fi
    sleep 0.25
  done
  echo "leases not all held by $2 after $3 s: $(holders "$1" || true)" >&2; return 1
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

start a 18201
wait_all_held_by 18201 a 10 >/dev/null
start b 18202
sleep $((ttl / 3 + 1))
both=$(holders 18202)
echo "two nodes: $both"
[ -n "$both" ] || { echo "FAIL: node b cannot list the leases"; exit 1; }
if echo "$both" | tr ' ' '\n' | grep -vq "=a:"; then echo "FAIL: node b took a lease a holds"; exit 1; fi

echo "1. kill -9 the holder (a)"
t0=$(date +%s%N)
kill -9 "${pids[a]}"; unset 'pids[a]'
after=$(wait_all_held_by 18202 b $((ttl * 2 + 3)))
took=$(ms_since "$t0")
echo "   b holds every lease after $took ms (lease $ttl s, renewal every $((ttl / 3)) s): $after"
[ "$took" -le 15000 ] || { echo "FAIL: takeover took $took ms, more than 15 s"; exit 1; }

echo "2. SIGSTOP the holder (b) past its lease, then SIGCONT it"
start c 18201
kill -STOP "${pids[b]}"
after=$(wait_all_held_by 18201 c $((ttl * 2 + 3)))
echo "   c holds every lease while b sleeps: $after"
kill -CONT "${pids[b]}"
for _ in $(seq 1 $((ttl * 4))); do
  grep -q "lease lost to another node" "$logs/b.log" && break
  sleep 0.25
done
grep -q "lease lost to another node" "$logs/b.log" || { echo "FAIL: b did not notice it lost its leases"; tail -20 "$logs/b.log"; exit 1; }
echo "   b woke, found its leases taken and stopped its jobs ($(grep -c 'lease lost to another node' "$logs/b.log") leases)"
sleep $((ttl / 3 + 1))
after=$(holders 18202)
[ -n "$after" ] || { echo "FAIL: node b cannot list the leases"; exit 1; }
if echo "$after" | tr ' ' '\n' | grep -vq "=c:"; then echo "FAIL: after b woke, not every lease is c's: $after"; exit 1; fi
echo "   still one holder: $after"

echo "3. stop the holder (c) gracefully"
t0=$(date +%s%N)
kill -INT "${pids[c]}"
wait "${pids[c]}" || true; unset 'pids[c]'
after=$(wait_all_held_by 18202 b $((ttl + 3)))
took=$(ms_since "$t0")
echo "   b holds every lease $took ms after c was told to stop: $after"
left=$(psql -tA "$db" -c "SELECT count(*) FROM leases WHERE holder = 'c'")
[ "$left" = 0 ] || { echo "FAIL: c still holds $left leases after it stopped"; exit 1; }
[ "$took" -le $(( (ttl / 3 + 2) * 1000 )) ] || { echo "FAIL: a released lease took $took ms to be taken"; exit 1; }
echo "cluster faults: all passed"
