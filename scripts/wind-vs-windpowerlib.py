#!/usr/bin/env python3
"""vpp's physical wind model against windpowerlib, side by side on the same inputs.

    cargo build --release
    python3 scripts/wind-vs-windpowerlib.py   # pip install -r scripts/requirements-physics.txt

Accuracy: a year of hourly synthetic weather (scripts/weather_year.py: wind at
10 m, temperature at 2 m, surface pressure) and three turbines with the power
curves windpowerlib ships (its bundled OpenEnergy database extract), through
the same chain on both sides: logarithmic wind profile (roughness 0.15 m),
linear temperature gradient, ideal-gas density, density-corrected power curve.
The error is vpp's mean absolute difference from windpowerlib's own output,
over every hour, as a share of the turbine's rated power. The one place the
two differ by design: vpp stops a turbine at its cut-out speed whatever the
air density, while windpowerlib's density correction moves the end of the
curve (and so the cut-out) with the density; hours with hub-height wind just
above the cut-out speed in thin air therefore differ by the full rating.

Speed: a year of 15-minute steps for --copies × 3 turbines (999 by default);
the sides alternate for --rounds rounds, the median of each is compared, and
the fleet's energy must agree within 1 %.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import pandas as pd
from windpowerlib import ModelChain, WindTurbine

sys.path.insert(0, os.path.dirname(__file__))
import weather_year  # noqa: E402

TURBINES = [("E-126/4200", 135.0), ("V90/2000", 105.0), ("AD116/5000", 90.0)]
ROUGHNESS = 0.15


def windpowerlib_weather(w: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            ("wind_speed", 10): w["wind_speed"].to_numpy(),
            ("temperature", 2): w["temp_air"].to_numpy() + 273.15,
            ("pressure", 0): w["pressure"].to_numpy(),
            ("roughness_length", 0): np.full(len(w), ROUGHNESS),
        },
        index=w.index,
    )
    frame.columns.names = ["variable_name", "height"]
    return frame


def chain(turbine: WindTurbine, weather: pd.DataFrame) -> np.ndarray:
    mc = ModelChain(
        turbine,
        wind_speed_model="logarithmic",
        temperature_model="linear_gradient",
        density_model="ideal_gas",
        power_output_model="power_curve",
        density_correction=True,
        obstacle_height=0,
    ).run_model(weather)
    return mc.power_output.to_numpy() / 1000.0  # W → kW


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vpp", default="target/release/vpp")
    parser.add_argument("--copies", type=int, default=333, help="copies of the 3 turbines in the speed run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="wind-vs-windpowerlib-")
    turbines = [WindTurbine(hub_height=hub, turbine_type=name) for name, hub in TURBINES]
    specs = []
    for (name, hub), t in zip(TURBINES, turbines):
        curve = t.power_curve
        points = [[float(v), float(p) / 1000.0] for v, p in zip(curve["wind_speed"], curve["value"])]
        # windpowerlib gives nothing beyond the curve's last point: that is the cut-out.
        specs.append({"name": name, "hub_height_m": hub, "curve": points, "cut_out_ms": points[-1][0] + 1e-6})
    assets = os.path.join(work, "assets.json")
    with open(assets, "w") as f:
        json.dump({"site": weather_year.SITE, "wind_height_m": 10.0, "roughness_m": ROUGHNESS, "wind": specs}, f)

    hourly, ours = weather_year.vpp_year(args.vpp, work, assets)
    weather = windpowerlib_weather(hourly)
    shares = []
    for spec, turbine in zip(specs, turbines):
        theirs = chain(turbine, weather)
        mine = ours[spec["name"]].to_numpy()
        rated = turbine.nominal_power / 1000.0
        share = np.abs(mine - theirs).mean() / rated * 100
        shares.append(share)
        print(f"{spec['name']:<12} hub {spec['hub_height_m']:5.0f} m  full-load hours vpp {mine.sum() / rated:6.0f}"
              f" windpowerlib {theirs.sum() / rated:6.0f}  MAE {share:.4f} % of rated"
              f"  max {np.abs(mine - theirs).max() / rated * 100:.3f} %")

    quarter, quarter_csv = weather_year.written(15, work, "quarter.csv")
    quarter_weather = windpowerlib_weather(quarter)

    def windpowerlib_fleet():
        # The weather is the same for every copy (one site), as on vpp's side.
        return sum(chain(t, quarter_weather).sum() * 0.25 for _ in range(args.copies) for t in turbines)

    ours_ms, theirs_ms, diff = weather_year.speed_run(
        args.rounds, lambda: weather_year.run_vpp(args.vpp, quarter_csv, assets, args.copies), windpowerlib_fleet)
    weather_year.verdict("windpowerlib", f"{args.copies * len(turbines)} turbines", len(quarter), args.rounds,
                         ours_ms, theirs_ms, diff, max(shares))

if __name__ == "__main__":
    main()
