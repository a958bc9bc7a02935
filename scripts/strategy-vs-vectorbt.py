#!/usr/bin/env python3
"""The percentile rule strategy of `vpp bench strategy`, written for
vectorbt, on the same prices.

    cargo run --release -- bench strategy --export /tmp/strategy
    python3 scripts/strategy-vs-vectorbt.py /tmp/strategy    # pip install vectorbt

The rules: per delivery day, rank each quarter-hour's forecast among the
day's forecasts (mid-rank, cheapest 0, dearest 100); at or below 20 buy
1 MW for the quarter-hour at the price, at or above 80 sell 1 MW. The
battery in vpp's run (100 MWh, lossless, no wear) never binds, so the cash
must agree. Prints the median of 5 timed runs after a warm-up (numba
compiles on the first call) and the cash against vpp's figure.
"""
import statistics
import sys
import time

import numpy as np
import pandas as pd
import vectorbt as vbt


def run(df: pd.DataFrame):
    ranks = df.groupby("day").forecast.rank(method="average")
    counts = df.groupby("day").forecast.transform("count")
    pct = (ranks - 1) / (counts - 1) * 100
    size = np.where(pct <= 20, 0.25, np.where(pct >= 80, -0.25, 0.0))  # MWh per quarter-hour at 1 MW
    pf = vbt.Portfolio.from_orders(
        close=df.price,
        size=size,
        size_type="amount",
        direction="both",
        init_cash=1e9,
        fees=0.0,
        freq="15min",
    )
    return pf, size


def main(directory: str) -> None:
    df = pd.read_csv(f"{directory}/prices.csv")
    df.index = pd.to_datetime(df.start, unit="us", utc=True)
    t = time.perf_counter()
    pf, size = run(df)
    first = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(5):
        t = time.perf_counter()
        pf, size = run(df)
        cash = pf.cash().iloc[-1] - 1e9
        times.append((time.perf_counter() - t) * 1000)
    charged = int((size > 0).sum())
    discharged = int((size < 0).sum())
    print(
        f"vectorbt {vbt.__version__}: net {cash:.2f} € ({charged} buying, {discharged} selling intervals); "
        f"median {statistics.median(times):.2f} ms over 5 runs (first call {first:.0f} ms with compilation)"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/strategy")
