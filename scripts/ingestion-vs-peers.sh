#!/usr/bin/env bash
# Scheduled ingestion against locations nobody here wrote: moto's S3 server
# (PyPI) as an S3-compatible bucket, and Python's http.server as a URL
# (scripts/ingestion_e2e.py). The example delivery day goes in through
# ingestion sources and must give the same invoices as the direct imports
# of scripts/delivered-day.sh. Installs the peers into target/ingestion-venv.
#
#   VPP_BIN=target/release/vpp scripts/ingestion-vs-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/ingestion-venv
if ! "$venv/bin/python" -c 'import moto, boto3, flask' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-ingestion.txt
fi
"$venv/bin/python" scripts/ingestion_e2e.py --vpp "${VPP_BIN:-target/release/vpp}" --moto "$venv/bin/moto_server"
