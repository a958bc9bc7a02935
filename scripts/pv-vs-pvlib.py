#!/usr/bin/env python3
"""vpp's physical PV model against pvlib, side by side on the same inputs.

    cargo build --release
    python3 scripts/pv-vs-pvlib.py            # pip install -r scripts/requirements-physics.txt

Accuracy: a year of hourly synthetic weather for Berlin (scripts/weather_year.py)
and five PV configurations, through the same model chain on both sides:
solar position (pvlib: NREL SPA; vpp: Meeus/NOAA), Spencer extraterrestrial
irradiance, Erbs decomposition, Hay-Davies transposition with albedo 0.25,
ASHRAE incidence-angle loss on the beam, Faiman cell temperature, PVWatts DC
with 14 % losses and the PVWatts inverter with clipping. The error is vpp's
mean absolute difference from pvlib's own output, over every hour, as a
share of the plant's AC capacity.

Speed: a year of 15-minute steps for --copies × 5 plants (1,000 by default),
each copy at its own site; the sides alternate for --rounds rounds, the
median time of each is compared, and the fleet's energy must agree within 1 %.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import pvlib

sys.path.insert(0, os.path.dirname(__file__))
import weather_year  # noqa: E402

SYSTEMS = [
    {"name": "roof-south-30", "peak_kw": 100.0, "inverter_kw": 90.0, "tilt_deg": 30.0, "azimuth_deg": 180.0},
    {"name": "field-south-20-overbuilt", "peak_kw": 1300.0, "inverter_kw": 1000.0, "tilt_deg": 20.0, "azimuth_deg": 180.0},
    {"name": "roof-east-15", "peak_kw": 250.0, "inverter_kw": 240.0, "tilt_deg": 15.0, "azimuth_deg": 90.0},
    {"name": "facade-west-90", "peak_kw": 40.0, "inverter_kw": 40.0, "tilt_deg": 90.0, "azimuth_deg": 270.0},
    {"name": "flat-5", "peak_kw": 500.0, "inverter_kw": 480.0, "tilt_deg": 5.0, "azimuth_deg": 160.0},
]
ETA, GAMMA, LOSSES, ALBEDO = 0.96, -0.0037, 0.14, 0.25


def pvlib_plant(times, weather, lat, lon, system):
    """AC kW of one plant by pvlib's functions, the chain spelt out."""
    sp = pvlib.solarposition.get_solarposition(times, lat, lon, altitude=weather_year.SITE["altitude_m"])
    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    ghi = weather["ghi"]
    split = pvlib.irradiance.erbs(ghi, sp["apparent_zenith"], times)
    poa = pvlib.irradiance.get_total_irradiance(
        system["tilt_deg"], system["azimuth_deg"], sp["apparent_zenith"], sp["azimuth"],
        split["dni"], ghi, split["dhi"], dni_extra=dni_extra, model="haydavies", albedo=ALBEDO,
    )
    aoi = pvlib.irradiance.aoi(system["tilt_deg"], system["azimuth_deg"], sp["apparent_zenith"], sp["azimuth"])
    effective = poa["poa_direct"] * pvlib.iam.ashrae(aoi) + poa["poa_diffuse"]
    cell = pvlib.temperature.faiman(poa["poa_global"], weather["temp_air"], weather["wind_speed"])
    dc = pvlib.pvsystem.pvwatts_dc(effective, cell, system["peak_kw"], GAMMA) * (1 - LOSSES)
    ac = pvlib.inverter.pvwatts(dc, system["inverter_kw"] / ETA, eta_inv_nom=ETA)
    return np.nan_to_num(np.asarray(ac, dtype=float))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vpp", default="target/release/vpp")
    parser.add_argument("--copies", type=int, default=200, help="copies of the 5 plants in the speed run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pv-vs-pvlib-")
    assets = os.path.join(work, "assets.json")
    with open(assets, "w") as f:
        json.dump({"site": weather_year.SITE, "wind_height_m": 10.0, "roughness_m": 0.15,
                   "pv": [dict(s, inverter_efficiency=ETA, gamma_per_k=GAMMA, losses=LOSSES, albedo=ALBEDO)
                          for s in SYSTEMS]}, f)

    hourly, ours = weather_year.vpp_year(args.vpp, work, assets)
    shares = []
    for s in SYSTEMS:
        theirs = pvlib_plant(hourly.index, hourly, weather_year.SITE["latitude"], weather_year.SITE["longitude"], s)
        mine = ours[s["name"]].to_numpy()
        mae = np.abs(mine - theirs).mean()
        day = theirs > 0
        share = mae / s["inverter_kw"] * 100
        shares.append(share)
        print(f"{s['name']:<26} yield vpp {mine.sum() / s['peak_kw']:7.1f} pvlib {theirs.sum() / s['peak_kw']:7.1f} kWh/kWp"
              f"  MAE {share:.3f} % of capacity (daytime {np.abs(mine - theirs)[day].mean() / s['inverter_kw'] * 100:.3f} %)"
              f"  max {np.abs(mine - theirs).max() / s['inverter_kw'] * 100:.2f} %")

    quarter, quarter_csv = weather_year.written(15, work, "quarter.csv")

    def pvlib_fleet():
        total = 0.0
        for k in range(args.copies):
            lat, lon = weather_year.moved(k)
            for s in SYSTEMS:
                total += pvlib_plant(quarter.index, quarter, lat, lon, s).sum() * 0.25
        return total

    ours_ms, theirs_ms, diff = weather_year.speed_run(
        args.rounds, lambda: weather_year.run_vpp(args.vpp, quarter_csv, assets, args.copies), pvlib_fleet)
    weather_year.verdict("pvlib", f"{args.copies * len(SYSTEMS)} plants", len(quarter), args.rounds,
                         ours_ms, theirs_ms, diff, max(shares))

if __name__ == "__main__":
    main()
