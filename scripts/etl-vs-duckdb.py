#!/usr/bin/env python3
"""Compare `vpp etl forecasts` with DuckDB on the same forecast file.

Usage: scripts/etl-vs-duckdb.py FILE.parquet|FILE.csv [--vpp target/release/vpp] [--runs 5]

Needs `pip install duckdb`. Both compute, from rows (asset_id, delivery_start,
version, power_kw): the latest and the latest tradeable version (issued at or
before delivery start - 15 min) per asset and interval, and the portfolio
sums of both. Two figures, each the median of --runs runs:

- after load: DuckDB over a table already in memory, against the `compute`
  seconds vpp reports (its fold over the rows plus the sums);
- end to end: file in, both result files out, as whole commands.

The script also checks that both give the same portfolio sums.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import duckdb

GATE = "INTERVAL 15 MINUTE"

# One scan computing both views, then the two portfolio sums.
PER_ASSET = f"""
SELECT asset_id, delivery_start,
       max(version) AS latest_version,
       arg_max(power_kw, version) AS latest_kw,
       max(version) FILTER (WHERE version <= delivery_start - {GATE}) AS tradeable_version,
       arg_max(power_kw, version) FILTER (WHERE version <= delivery_start - {GATE}) AS tradeable_kw
FROM {{src}} GROUP BY asset_id, delivery_start
"""
PORTFOLIO = """
SELECT epoch_us(delivery_start) AS start_us, sum(latest_kw) AS latest_kw, count(latest_kw) AS latest_assets,
       sum(tradeable_kw) AS tradeable_kw, count(tradeable_kw) AS tradeable_assets
FROM per_asset GROUP BY delivery_start ORDER BY delivery_start
"""


def reader(path):
    return f"read_parquet('{path}')" if path.endswith(".parquet") else f"read_csv('{path}', header = true)"


def duckdb_after_load(path, runs):
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(f"CREATE TABLE f AS SELECT * FROM {reader(path)}")
    load = time.perf_counter() - t
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE per_asset AS {PER_ASSET.format(src='f')}")
        portfolio = con.execute(PORTFOLIO).fetchall()
        times.append(time.perf_counter() - t)
    return load, statistics.median(times), portfolio


def duckdb_end_to_end(path, out_dir, runs):
    ext = "parquet" if path.endswith(".parquet") else "csv"
    fmt = "(FORMAT parquet)" if ext == "parquet" else "(FORMAT csv, HEADER)"
    times = []
    for _ in range(runs):
        con = duckdb.connect()
        t = time.perf_counter()
        con.execute(f"CREATE TEMP TABLE per_asset AS {PER_ASSET.format(src=reader(path))}")
        con.execute(
            "COPY (SELECT asset_id, delivery_start, tradeable_version AS version, tradeable_kw AS power_kw "
            f"FROM per_asset WHERE tradeable_kw IS NOT NULL ORDER BY 1, 2) TO '{out_dir}/duck_a.{ext}' {fmt}"
        )
        con.execute(
            "COPY (SELECT delivery_start, sum(tradeable_kw) AS power_kw, count(tradeable_kw) AS assets "
            f"FROM per_asset GROUP BY 1 HAVING count(tradeable_kw) > 0 ORDER BY 1) TO '{out_dir}/duck_p.{ext}' {fmt}"
        )
        times.append(time.perf_counter() - t)
        con.close()
    return statistics.median(times)


def vpp_runs(vpp, path, out_dir, runs):
    ext = "parquet" if path.endswith(".parquet") else "csv"
    reports, walls = [], []
    for _ in range(runs):
        cmd = [vpp, "etl", "forecasts", "--input", path, "--tradeable",
               "--asset-forecasts-out", f"{out_dir}/vpp_a.{ext}", "--portfolio-forecast-out", f"{out_dir}/vpp_p.{ext}"]
        t = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        walls.append(time.perf_counter() - t)
        reports.append(json.loads(out))
    compute = statistics.median(r["seconds"]["compute"] for r in reports)
    rss = max(r["peak_rss_mib"] or 0 for r in reports)
    return compute, statistics.median(walls), rss, f"{out_dir}/vpp_p.{ext}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--vpp", default="target/release/vpp")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    path = os.path.abspath(args.file)
    with tempfile.TemporaryDirectory() as out_dir:
        vpp_compute, vpp_wall, vpp_rss, vpp_portfolio = vpp_runs(args.vpp, path, out_dir, args.runs)
        duck_load, duck_compute, portfolio = duckdb_after_load(path, args.runs)
        duck_wall = duckdb_end_to_end(path, out_dir, args.runs)
        ours = duckdb.sql(f"SELECT sum(power_kw), sum(assets) FROM {reader(vpp_portfolio)}").fetchall()[0]
        theirs = (sum(p[3] or 0 for p in portfolio), sum(p[4] for p in portfolio))
        same = abs(ours[0] - theirs[0]) <= 1e-6 * max(1.0, abs(theirs[0])) and ours[1] == theirs[1]
    rows = duckdb.sql(f"SELECT count(*) FROM {reader(path)}").fetchall()[0][0]
    print(f"file: {args.file} ({rows:,} rows), medians of {args.runs} runs, DuckDB {duckdb.__version__}")
    print(f"after load : vpp {vpp_compute * 1000:8.1f} ms   DuckDB {duck_compute * 1000:8.1f} ms"
          f"   DuckDB/vpp {duck_compute / vpp_compute:5.1f}x   (DuckDB load {duck_load:.2f} s)")
    print(f"end to end : vpp {vpp_wall:8.2f} s    DuckDB {duck_wall:8.2f} s    DuckDB/vpp {duck_wall / vpp_wall:5.1f}x")
    print(f"vpp peak RSS {vpp_rss:.0f} MiB; same portfolio sums: {same}")
    if not same:
        raise SystemExit(f"portfolio sums differ: vpp {ours}, DuckDB {theirs}")


if __name__ == "__main__":
    main()
