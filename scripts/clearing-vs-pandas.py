#!/usr/bin/env python3
"""The day-ahead clearing rule written plainly in pandas, for comparison
with vpp's `clear_uniform` on the same book.

    cargo run --release -- bench clearing --export /tmp/clearing
    python3 scripts/clearing-vs-pandas.py /tmp/clearing

The rule (same as crates/vpp-domain/src/market/auction.rs): per slot, the
traded volume Q is the largest min(supply at or below p, demand at or above
p) over the step prices p; the equilibrium prices are the step prices where
sells strictly below p and buys strictly above p each fit in Q and both
sides can deliver Q; the clearing price is floor((lowest + highest) / 2).
Prints the median of 5 runs and checks every slot's price against vpp's.
"""
import statistics
import sys
import time

import numpy as np
import pandas as pd

EPS = 1e-6


def clear_slot(g: pd.DataFrame):
    sells = g[g.side == "sell"].groupby("price_ticks").quantity_mw.sum().sort_index()
    buys = g[g.side == "buy"].groupby("price_ticks").quantity_mw.sum().sort_index()
    if sells.empty or buys.empty:
        return pd.Series({"price_ticks": np.nan, "volume_mw": 0.0})
    prices = np.union1d(sells.index.values, buys.index.values)
    s_cum = np.concatenate([[0.0], sells.cumsum().values])
    # Supply at or below p, and strictly below p.
    s_le = s_cum[np.searchsorted(sells.index.values, prices, side="right")]
    s_lt = s_cum[np.searchsorted(sells.index.values, prices, side="left")]
    b_total = buys.sum()
    b_cum = np.concatenate([[0.0], buys.cumsum().values])
    # Demand at or above p, and strictly above p.
    d_ge = b_total - b_cum[np.searchsorted(buys.index.values, prices, side="left")]
    d_gt = b_total - b_cum[np.searchsorted(buys.index.values, prices, side="right")]
    q = np.minimum(s_le, d_ge).max()
    if q <= EPS:
        return pd.Series({"price_ticks": np.nan, "volume_mw": 0.0})
    ok = (s_lt <= q + EPS) & (d_gt <= q + EPS) & (s_le >= q - EPS) & (d_ge >= q - EPS)
    eq = prices[ok]
    return pd.Series({"price_ticks": (eq.min() + eq.max()) // 2, "volume_mw": q})


def main(directory: str) -> None:
    book = pd.read_csv(f"{directory}/book.csv")
    vpp = pd.read_csv(f"{directory}/prices.csv")
    times = []
    result = None
    for _ in range(5):
        t = time.perf_counter()
        result = book.groupby("slot").apply(clear_slot, include_groups=False)
        times.append((time.perf_counter() - t) * 1000)
    merged = vpp.set_index("slot").join(result.add_suffix("_pandas"))
    mismatched = merged[
        ~((merged.price_ticks == merged.price_ticks_pandas) | (merged.price_ticks.isna() & merged.price_ticks_pandas.isna()))
    ]
    print(f"pandas {pd.__version__}: {len(book)} steps over {book.slot.nunique()} slots, median {statistics.median(times):.1f} ms over 5 runs")
    print(f"prices equal to vpp's in {len(merged) - len(mismatched)} of {len(merged)} slots")
    if len(mismatched):
        print(mismatched.head())
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/clearing")
