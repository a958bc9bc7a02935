#!/usr/bin/env python3
"""MSTL with an AutoETS trend and weekly seasonal naive in statsforecast,
cross-validated like `vpp bench forecast` on the same series.

    cargo run --release -- bench forecast --export /tmp/forecast
    python3 scripts/forecast-vs-statsforecast.py /tmp/forecast    # pip install statsforecast

Both sides: 10 rolling origins 96 steps apart, 192 steps ahead, the last
origin 192 steps before the end, each fit on everything before its origin.
Prints MAE, RMSE and WAPE over all origins and the wall time of the whole
cross-validation (after a small warm-up run, since numba compiles first).
"""
import sys
import time

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, SeasonalNaive


def main(directory: str) -> None:
    df = pd.read_csv(f"{directory}/series.csv")
    df = pd.DataFrame({"unique_id": "price", "ds": pd.to_datetime(df.ds, unit="us"), "y": df.y})
    warm = StatsForecast(models=[SeasonalNaive(season_length=96)], freq="15min")
    warm.cross_validation(df=df.tail(4 * 672), h=96, step_size=96, n_windows=2)
    for name, model in [
        ("SEASONAL_NAIVE", SeasonalNaive(season_length=672)),
        ("MSTL", MSTL(season_length=[96, 672], trend_forecaster=AutoETS(model="ZZN"))),
    ]:
        sf = StatsForecast(models=[model], freq="15min")
        t = time.perf_counter()
        cv = sf.cross_validation(df=df, h=192, step_size=96, n_windows=10)
        ms = (time.perf_counter() - t) * 1000
        col = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")][0]
        err = cv.y - cv[col]
        mae = err.abs().mean()
        rmse = np.sqrt((err**2).mean())
        wape = err.abs().sum() / cv.y.abs().sum()
        print(f"statsforecast {name:<15} MAE {mae:6.2f}  RMSE {rmse:6.2f}  WAPE {wape:6.3f}  CV {ms:8.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/forecast")
