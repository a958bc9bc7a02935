"""A deterministic synthetic weather year for the physical-model comparisons
(scripts/pv-vs-pvlib.py, scripts/wind-vs-windpowerlib.py), and what both
share: running `vpp bench physical`, the alternating speed run, the verdict.

Irradiance is pvlib's clear sky (Ineichen, Linke turbidity 3) dimmed by a
cloud index that drifts hour to hour; temperature follows the seasons and the
day; wind speed at 10 m follows a slowly changing weather pattern with gusts;
pressure drifts around 1013 hPa. The same seed gives the same year on every
machine. Each row is the middle of its interval, the instant both sides model.
"""
import numpy as np
import pandas as pd
import pvlib

SITE = {"latitude": 52.52, "longitude": 13.405, "altitude_m": 34.0}  # Berlin


def year(step_minutes: int, seed: int = 7) -> pd.DataFrame:
    step = pd.Timedelta(minutes=step_minutes)
    times = pd.date_range("2025-01-01", "2026-01-01", freq=step, tz="UTC", inclusive="left") + step / 2
    n = len(times)
    rng = np.random.default_rng(seed)
    loc = pvlib.location.Location(SITE["latitude"], SITE["longitude"], altitude=SITE["altitude_m"])
    clear = loc.get_clearsky(times, model="ineichen", linke_turbidity=3.0)
    per_hour = 60 // step_minutes
    # Cloud index: an AR(1) process per hour, held within the hour.
    hours = n // per_hour + 1
    cloud = np.empty(hours)
    c = 0.6
    for h in range(hours):
        c = 0.9 * c + 0.1 * 0.6 + 0.15 * rng.standard_normal()
        cloud[h] = c
    index = np.clip(np.repeat(cloud, per_hour)[:n], 0.05, 1.05)
    ghi = clear["ghi"].to_numpy() * index
    doy = times.dayofyear.to_numpy()
    hour = (times.hour + times.minute / 60).to_numpy()
    temp = 9.5 - 9.0 * np.cos(2 * np.pi * (doy - 20) / 365) - 4.0 * np.cos(2 * np.pi * (hour - 3) / 24)
    temp += np.repeat(rng.normal(0, 1.5, hours), per_hour)[:n]
    pattern = np.empty(hours)
    w = 5.0
    for h in range(hours):
        w = max(0.0, 0.97 * w + 0.03 * 5.0 + 0.6 * rng.standard_normal())
        pattern[h] = w
    wind = np.clip(np.repeat(pattern, per_hour)[:n] * (1 + 0.1 * rng.standard_normal(n)), 0, 35)
    # Highs and lows passing every five days.
    pressure = 101325 + 800 * np.sin(2 * np.pi * np.arange(n) / (per_hour * 24 * 5))
    return pd.DataFrame(
        {
            "time_unix_s": (times - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1),
            "ghi": ghi.round(3),
            "temp_air": temp.round(3),
            "wind_speed": wind.round(3),
            "pressure": pressure.round(1),
        },
        index=times,
    )


def moved(k: int):
    """Copy k of the site (itself for k = 0), moved as `vpp bench physical --copies` moves it."""
    if k == 0:
        return SITE["latitude"], SITE["longitude"]
    dlat = ((k * 7919) % 401) / 100 - 2.0
    dlon = ((k * 104729) % 401) / 100 - 2.0
    return SITE["latitude"] + dlat, SITE["longitude"] + dlon


def median(values):
    return float(np.median(values))


def run_vpp(binary, weather_csv, assets_json, copies, out=None):
    """`vpp bench physical` once: (compute ms, fleet energy kWh)."""
    import subprocess

    cmd = [binary, "bench", "physical", "--weather", weather_csv, "--assets", assets_json,
           "--copies", str(copies), "--runs", "1"]
    if out:
        cmd += ["--out", out]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(text.split("compute ")[1].split(" ms")[0]), float(text.split("energy_kwh_total ")[1].split()[0])


def speed_run(rounds, ours, theirs):
    """Alternates the sides for `rounds` rounds. `ours()` returns (ms, kWh);
    `theirs()` returns the fleet's kWh and is timed here. Returns the medians
    and the relative energy difference, %."""
    import time

    ours_ms, theirs_ms = [], []
    for r in range(rounds):
        for side in ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours"):
            if side == "ours":
                ms, our_energy = ours()
                ours_ms.append(ms)
            else:
                started = time.perf_counter()
                their_energy = theirs()
                theirs_ms.append((time.perf_counter() - started) * 1000)
    diff = abs(our_energy - their_energy) / their_energy * 100
    return median(ours_ms), median(theirs_ms), diff


def verdict(peer, units, steps, rounds, ours_ms, theirs_ms, diff, worst_share):
    """Prints the speed line and the closing line; exits non-zero past the targets."""
    import os
    import sys

    print(f"speed run: {units} x {steps} steps; vpp {ours_ms:.0f} ms, {peer} {theirs_ms:.0f} ms"
          f" (medians of {rounds}); energy differs {diff:.4f} % on {os.cpu_count()} cores,"
          f" load average {os.getloadavg()[0]:.2f}")
    if diff > 1.0:
        sys.exit(f"the fleet's energy differs by {diff:.2f} %")
    print(f"normalised MAE {worst_share:.4f} % of capacity; speed {theirs_ms / ours_ms:.1f}x {peer}")
    if worst_share > 1.0:
        sys.exit(f"vpp is more than 1 % of capacity from {peer}")


def written(step_minutes, work, name):
    """The weather year at `step_minutes`, and the CSV it was written to in `work`."""
    import os

    frame = year(step_minutes)
    path = os.path.join(work, name)
    frame.to_csv(path, index=False)
    return frame, path


def vpp_year(binary, work, assets_json):
    """The hourly year and vpp's power per asset on it (one column per asset name)."""
    import os

    hourly, hourly_csv = written(60, work, "hourly.csv")
    out = os.path.join(work, "vpp.csv")
    run_vpp(binary, hourly_csv, assets_json, 1, out)
    return hourly, pd.read_csv(out)
