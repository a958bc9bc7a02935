#!/usr/bin/env bash
# Device protocols against peers nobody here wrote (PyPI):
# - Modbus/SunSpec: pymodbus serves SunSpec devices laid out from the model
#   files pysunspec2 ships, and pysunspec2 reads them as the reference client
#   (scripts/modbus_e2e.py: probe, telemetry, dispatch confirmed by
#   read-back, drop-off and recovery);
# - OCPP 2.0.1: the `ocpp` package plays a charging station against vpp's
#   CSMS, checking every message against the OCPP JSON schemas
#   (scripts/ocpp_e2e.py: auth, boot, meter values, a transaction, the
#   vehicle's charging needs, SetChargingProfile accepted and confirmed by
#   GetCompositeSchedule, and rejected, ClearChargingProfile at the end,
#   reconnect, and security profile 2 over TLS with a secret-reference
#   password).
# Installs the peers into target/devices-venv.
#
#   VPP_BIN=target/release/vpp scripts/devices-vs-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/devices-venv
if ! "$venv/bin/python" -c 'import pymodbus, sunspec2, ocpp, websockets' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-devices.txt
fi
"$venv/bin/python" scripts/modbus_e2e.py --vpp "${VPP_BIN:-target/release/vpp}"
"$venv/bin/python" scripts/ocpp_e2e.py --vpp "${VPP_BIN:-target/release/vpp}"
