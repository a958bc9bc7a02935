#!/usr/bin/env bash
# One delivery day of a wind and solar portfolio, every file as its sender
# delivers it (examples/delivered/, written by scripts/gen-delivered-day.py),
# into a new SQLite database with no flags but the file kinds: technical
# data, the inbox folder (meter final, live infeed, forecast, redispatch
# flags; each routed to the asset its name or key names), the regulator's
# imbalance prices, own and public trades, CRM contracts, the DSO's
# redispatch compensation; then the June invoices, which price market
# contracts by the public trades' VWAP, and the day's performance report of
# the portfolio (a VPP of the three assets).
#   VPP_BIN=path of vpp (default target/debug/vpp); VPP_DB=sqlite URL (default a temp file).
set -euo pipefail
cd "$(dirname "$0")/.."
vpp_bin="${VPP_BIN:-target/debug/vpp}"
dir=examples/delivered
db="${VPP_DB:-sqlite://$(mktemp -d)/vpp.db}"
vpp() { "$vpp_bin" --database-url "$db" "$@"; }
vpp migrate >/dev/null
echo "== technical data"; vpp import technical-data "$dir/technical_data_2025-06-07T12-30-00Z.json" >/dev/null
echo "== the portfolio"; portfolio=$(vpp vpp create "Delivered portfolio" --member WP-07 --member WP-08 --member PV-03)
echo "== inbox"; vpp import series "$dir/inbox" >/dev/null
echo "== market files"
vpp import market --connector "EPEX files" --create --kind imbalance "$dir/market/reBAP_2025-06-08.csv" >/dev/null
vpp import market --connector "EPEX files" --kind trades --vpp "$portfolio" "$dir/market/trades_2025-06-08.csv" >/dev/null
vpp import market --connector "EPEX files" --kind public_trades "$dir/market/public_trades_2025-06-08.csv" >/dev/null
echo "== contracts"; vpp import contracts "$dir/contracts_2025-06-08.csv"
echo "== redispatch compensation"; vpp import compensation "$dir/redispatch/compensation_2025-06-08.csv" >/dev/null
echo "== invoices for June 2025"; vpp invoice --month 2025-06 --table
echo "== performance of 2025-06-08"; vpp report performance --vpp "Delivered portfolio" --day 2025-06-08 --format csv
