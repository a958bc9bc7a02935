"""Scheduled ingestion against locations nobody here wrote.

moto's S3 server (PyPI) is the S3-compatible bucket, Python's http.server
the URL. The example delivery day (examples/delivered/) goes in through
ingestion sources, S3 credentials by secret reference:
- technical data, meter and forecast files, contracts from the bucket;
- own and public trades from URLs.

Then:
- the bucket's series files have moved to done/;
- a second look takes nothing;
- the June invoices equal those of the direct imports (scripts/delivered-day.sh);
- a file uploaded while `vpp serve` runs goes in within seconds, by schedule.

  python scripts/ingestion_e2e.py --vpp target/release/vpp --moto target/ingestion-venv/bin/moto_server
"""
import argparse
import functools
import json
import http.server
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3

from peer_lib import free_port, wait_for

ROOT = pathlib.Path(__file__).resolve().parent.parent
DAY = ROOT / "examples" / "delivered"


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request."""

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vpp", default="target/release/vpp")
    ap.add_argument("--moto", default="moto_server")
    args = ap.parse_args()
    vpp_bin = str((ROOT / args.vpp).resolve()) if not os.path.isabs(args.vpp) else args.vpp
    work = pathlib.Path(tempfile.mkdtemp(prefix="vpp-ingest-"))
    env = dict(os.environ, INGEST_S3_KEY_ID="testing", INGEST_S3_SECRET="testing-secret")

    s3_port, http_port = free_port(), free_port()
    moto = subprocess.Popen([args.moto, "-H", "127.0.0.1", "-p", str(s3_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    handler = functools.partial(Quiet, directory=str(DAY / "market"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = None
    try:
        endpoint = f"http://127.0.0.1:{s3_port}"
        wait_for("moto's S3 server", lambda: urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).status == 200)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-central-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing-secret")
        s3.create_bucket(Bucket="dso-files", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        techdata = next(DAY.glob("technical_data_*.json"))
        s3.upload_file(str(techdata), "dso-files", f"techdata/{techdata.name}")
        series_files = sorted((DAY / "inbox").iterdir())
        for f in series_files:
            s3.upload_file(str(f), "dso-files", f"meter/{f.name}")
        contracts = next(DAY.glob("contracts_*.csv"))
        s3.upload_file(str(contracts), "dso-files", f"crm/{contracts.name}")
        compensation = DAY / "redispatch" / "compensation_2025-06-08.csv"
        s3.upload_file(str(compensation), "dso-files", f"redispatch/{compensation.name}")

        # The direct imports, for the invoices to compare with.
        direct_db = f"sqlite://{work}/direct.db"
        direct = subprocess.run(["scripts/delivered-day.sh"], cwd=ROOT, capture_output=True, text=True,
                                env=dict(env, VPP_BIN=vpp_bin, VPP_DB=direct_db), check=True).stdout
        direct_invoices = direct.split("== invoices for June 2025", 1)[1].split("== performance", 1)[0]

        db = f"sqlite://{work}/ingested.db"

        def vpp(*a, check=True):
            r = subprocess.run([vpp_bin, "--database-url", db, *a], capture_output=True, text=True, env=env)
            if check and r.returncode != 0:
                sys.exit(f"FAIL: vpp {' '.join(a)}\n{r.stdout}\n{r.stderr}")
            return r.stdout

        vpp("migrate")
        # The regulator's imbalance file creates the file connector the trade sources name.
        vpp("import", "market", "--connector", "EPEX files", "--create", "--kind", "imbalance",
            str(DAY / "market" / "reBAP_2025-06-08.csv"))
        s3_flags = ["--endpoint", endpoint, "--region", "eu-central-1",
                    "--access-key-id", "env:INGEST_S3_KEY_ID", "--secret-access-key", "env:INGEST_S3_SECRET", "--settle-s", "0"]
        daily = ["--schedule", "30 12 * * *"]
        vpp("ingest", "add", "--name", "technical data", "--target", "technical_data",
            "--location", "s3://dso-files/techdata", *daily, *s3_flags)
        vpp("ingest", "add", "--name", "meter", "--target", "series", "--location", "s3://dso-files/meter",
            "--after", "move", *daily, *s3_flags)
        vpp("ingest", "add", "--name", "crm", "--target", "contracts", "--location", "s3://dso-files/crm",
            "--schedule", "0 7 * * SUN", *s3_flags)
        vpp("ingest", "add", "--name", "dso compensation", "--target", "redispatch_compensation",
            "--location", "s3://dso-files/redispatch", *daily, *s3_flags)
        seen = {}

        def run(source):
            out = vpp("ingest", "run", source)
            print(out, end="")
            for line in out.splitlines():
                if line.startswith(f"{source}: "):
                    seen[line.split(": ", 1)[1].split(" ")[0]] = line

        # The assets come first; then the portfolio the trades belong to.
        run("technical data")
        portfolio = vpp("vpp", "create", "Delivered portfolio", "--member", "WP-07", "--member", "WP-08",
                        "--member", "PV-03").strip()
        for name, kind in [("trades", "trades"), ("public_trades", "public_trades")]:
            extra = ["--vpp", portfolio] if kind == "trades" else []
            vpp("ingest", "add", "--name", name, "--target", kind, "--connector", "EPEX files", *extra,
                "--location", f"http://127.0.0.1:{http_port}/{name}_2025-06-08.csv", "--schedule", "0 23 * * *")
        for source in ["meter", "trades", "public_trades", "crm", "dso compensation"]:
            run(source)
        want = [techdata.name, contracts.name, compensation.name, "trades_2025-06-08.csv", "public_trades_2025-06-08.csv",
                *(f.name for f in series_files)]
        for name in want:
            if " imported (" not in seen.get(name, ""):
                sys.exit(f"FAIL: {name} was not imported: {seen.get(name)}")
        print(f"ok: {len(want)} files ingested from the bucket and the URLs, every row accepted")

        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="dso-files", Prefix="meter/").get("Contents", [])]
        moved = sorted(k for k in keys if k.startswith("meter/done/"))
        if len(moved) != len(series_files) or len(keys) != len(series_files):
            sys.exit(f"FAIL: the bucket's series files were not moved to meter/done/: {keys}")
        print("ok: the bucket's series files moved to meter/done/; the others left in place")

        again = vpp("ingest", "run")
        if again.count("nothing new") != 6:
            sys.exit(f"FAIL: a second look took files again:\n{again}")
        print("ok: a second look takes nothing (by name and checksum)")

        invoices = vpp("invoice", "--month", "2025-06", "--table")
        if invoices.strip() != direct_invoices.strip():
            sys.exit(f"FAIL: invoices differ\n-- ingested --\n{invoices}\n-- direct --\n{direct_invoices}")
        print("ok: the June invoices equal the direct imports' to the cent")

        def totals(database):
            out = subprocess.run([vpp_bin, "--database-url", database, "report", "performance", "--vpp",
                                  "Delivered portfolio", "--day", "2025-06-08"], capture_output=True, text=True,
                                 check=True).stdout
            return json.loads(out)["total"]

        mine, theirs = totals(db), totals(direct_db)
        if mine != theirs:
            sys.exit(f"FAIL: the day's performance differs\n-- ingested --\n{mine}\n-- direct --\n{theirs}")
        print(f"ok: the day's performance report equals the direct imports' (production {mine['production_mwh']} MWh, "
              f"redispatch payout {mine['redispatch_payout']} EUR, imbalance {mine['imbalance_cost']} EUR)")

        # By schedule: a file uploaded while the server runs goes in within seconds.
        vpp("ingest", "add", "--name", "late meter", "--target", "series", "--location", "s3://dso-files/late",
            "--schedule", "*/2 * * * * *", *s3_flags)
        port = free_port()
        log = open(work / "serve.log", "w")
        server = subprocess.Popen([vpp_bin, "--database-url", db, "serve", "--bind", f"127.0.0.1:{port}",
                                   "--physical-forecast-interval-min", "0"], stdout=log, stderr=log, env=env)
        wait_for("vpp serve", lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200)
        late = "timestamp;value (kW)\n2025-06-09 00:00:00 UTC;812,5\n2025-06-09 00:15:00 UTC;790\n"
        s3.put_object(Bucket="dso-files", Key="late/WP-08_live_2025-06-09.csv", Body=late.encode())
        dropped = time.monotonic()
        wait_for("the late file to be ingested by schedule",
                 lambda: "imported (2 in" in vpp("ingest", "runs", "--source", "late meter"), timeout=30)
        print(f"ok: a file uploaded to the bucket went in by schedule after {time.monotonic() - dropped:.1f} s")
    finally:
        if server:
            server.terminate()
            server.wait(10)
        httpd.shutdown()
        moto.terminate()
        moto.wait(10)


if __name__ == "__main__":
    main()
