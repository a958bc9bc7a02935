#!/usr/bin/env bash
# The REST API against its own OpenAPI document, checked by third parties:
# a release `vpp demo` (seeded portfolio, live telemetry) on a fresh SQLite
# database and a free port; openapi-spec-validator on the served document;
# then schemathesis (examples, coverage, fuzzing and stateful phases),
# authenticated as admin, for a bounded time. It fails on any validator
# error, any 5xx, any answer whose status, content type or body the
# document does not declare, and any panic in the server's log.
#
#   VPP_BIN=path               tests that binary instead of building one.
#   VPP_SCHEMATHESIS_S=seconds time budget of schemathesis (default 180).
#
# The checkers are installed from PyPI at the versions pinned in
# scripts/requirements-api.txt, in target/api-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/api-venv
if ! "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-api.txt
fi

vpp=${VPP_BIN:-target/release/vpp}
if [ -z "${VPP_BIN:-}" ]; then
  cargo build -q --release -p vpp-cli
fi

tmp=$(mktemp -d)
out=target/api-contract
mkdir -p "$out"
password=api-contract-admin-password
trap 'kill ${demo:-} 2>/dev/null || true; rm -rf "$tmp"' EXIT
. scripts/demo-lib.sh
start_demo "$vpp" "$tmp/api.db" "$tmp/demo.log" --admin-password "$password"
base="http://127.0.0.1:$port"

echo "-- openapi-spec-validator"
"$venv/bin/python" scripts/check-openapi.py "$base/api/v1/openapi.json"

echo "-- schemathesis for ${VPP_SCHEMATHESIS_S:-180} s"
token=$(curl -sf -X POST -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/api/v1/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
# A request may wait 30 s (schemathesis' default is 10): on a busy 2-core CI
# machine a write can queue behind the demo's and the other worker's SQLite
# writes, which is slow, not a contract failure (one CI run reported a
# single error on an import; neither a full local run nor 4,198 cases of the
# import operations alone with a 2 s timeout brought it back). A request still unanswered after 30 s fails.
# Left out: the calls that end the admin's own session or account (they
# would leave the rest of the run unauthenticated). Their answers are
# covered by the API tests.
status=0
"$venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing,stateful --max-time "${VPP_SCHEMATHESIS_S:-180}" \
  --exclude-operation-id revoke_sessions --exclude-operation-id reset_password --exclude-operation-id update_user \
  --workers 2 --suppress-health-check all --seed 1 --no-color --request-timeout 30 >"$out/schemathesis.log" 2>&1 || status=$?
cp "$tmp/demo.log" "$out/demo.log"
sed -n '/=== SUMMARY ===/,$p' "$out/schemathesis.log"
if grep -q "panicked" "$out/demo.log"; then
  grep -A3 "panicked" "$out/demo.log" | awk 'NR <= 40'
  echo "the server panicked under schemathesis" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  grep -E '^(_{5,}|- ST|\[[0-9]{3}\]|    curl)' "$out/schemathesis.log" | awk 'NR <= 120'
  # An error (as against a failed check) is a request schemathesis could
  # not make or finish: its section says which and why.
  sed -n '/=== ERRORS ===/,/=== \(FAILURES\|SUMMARY\|WARNINGS\) ===/p' "$out/schemathesis.log" | awk 'NR <= 80'
  grep -E ' (ERROR|WARN) ' "$out/demo.log" | awk 'NR <= 20'
  echo "schemathesis found failures (exit $status); the whole report: $out/schemathesis.log" >&2
  exit "$status"
fi
