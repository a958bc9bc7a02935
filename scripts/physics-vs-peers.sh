#!/usr/bin/env bash
# The physical models against pvlib and windpowerlib (third-party reference
# implementations from PyPI), small: the accuracy runs in full (a year of
# hourly weather, 5 PV plants, 3 turbines) and each script fails past 1 %
# of capacity; the speed part runs with 2 copies only (the full speed figures
# are in docs/benchmarks.md). Installs the peers into target/physics-venv.
#
#   VPP_BIN=target/release/vpp scripts/physics-vs-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/physics-venv
if ! "$venv/bin/python" -c 'import pvlib, windpowerlib' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-physics.txt
fi
bin="${VPP_BIN:-target/release/vpp}"
"$venv/bin/python" scripts/pv-vs-pvlib.py --vpp "$bin" --copies 2 --rounds 1
"$venv/bin/python" scripts/wind-vs-windpowerlib.py --vpp "$bin" --copies 2 --rounds 1
