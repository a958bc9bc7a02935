#!/usr/bin/env python3
"""Compare `vpp optimise` with the same models in pyomo + HiGHS.

Usage: scripts/schedule-vs-pyomo.py [--vpp target/release/vpp] [--runs 20]

Needs `pip install pyomo highspy`. Two problems, 96 quarter-hours:

- one battery (200 kWh, 100 kW, 95 % each way, SOC 10..90 %, back to 50 %,
  wear 0.01 EUR/kWh) against a day of prices;
- one site: that battery, an EV charger (40 kWh in the last six hours),
  a heat pump (120 kWh over the day, 2..15 kW), curtailable PV and a
  120 kW grid limit both ways, with a feed-in price 10 EUR/MWh below import.

Times are model build plus solve, median of --runs, both in-process (vpp's
`median_ms` excludes process start; pyomo's excludes Python start). The
objectives must agree to 1e-6 relative.
"""

import argparse
import json
import math
import statistics
import subprocess
import tempfile
import time

import pyomo.environ as pyo

N = 96
DT = 0.25


def prices():
    out = []
    for t in range(N):
        h = t * 24.0 / N
        out.append(60.0 + 40.0 * math.sin((h - 8.0) / 24.0 * 2 * math.pi) + 25.0 * max(math.cos((h - 18.0) / 3.0), 0.0))
    return out


BATTERY = {
    "capacity_kwh": 200.0, "charge_kw": 100.0, "discharge_kw": 100.0,
    "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
    "soc_start_pct": 50.0, "soc_min_pct": 10.0, "soc_max_pct": 90.0, "soc_target_pct": 50.0,
    "cycle_cost_per_kwh": 0.01,
}
EV = {"energy_kwh": 40.0, "min_kw": 0.0, "max_kw": 11.0, "window_start": 72, "window_end": 96}
HEAT_PUMP = {"energy_kwh": 120.0, "min_kw": 2.0, "max_kw": 15.0, "window_start": 0, "window_end": 96}
PV = [80.0 * max(math.sin((t / 4.0 - 6.0) / 12.0 * math.pi), 0.0) for t in range(N)]


def problem(site_case):
    p = prices()
    members = [{"id": "bess", "asset": {"kind": "battery", **BATTERY}}]
    site = {"import_price": p, "export_price": [x - 10.0 for x in p], "base_load_kw": [30.0] * N}
    if site_case:
        members += [
            {"id": "ev", "asset": {"kind": "flexible_load", **EV}},
            {"id": "heat-pump", "asset": {"kind": "flexible_load", **HEAT_PUMP}},
            {"id": "pv", "asset": {"kind": "curtailable", "forecast_kw": PV}},
        ]
        site["import_limit_kw"] = 120.0
        site["export_limit_kw"] = 120.0
    return {"horizon": {"steps": N, "step_s": 900}, "site": site, "members": members, "objective": "cost"}


def pyomo_model(site_case):
    p = prices()
    ep = [x - 10.0 for x in p]
    m = pyo.ConcreteModel()
    T = range(N)
    lim = 120.0 if site_case else None
    m.imp = pyo.Var(T, bounds=(0, lim))
    m.exp = pyo.Var(T, bounds=(0, lim))
    b = BATTERY
    cap = b["capacity_kwh"]
    m.ch = pyo.Var(T, bounds=(0, b["charge_kw"]))
    m.dis = pyo.Var(T, bounds=(0, b["discharge_kw"]))
    m.e = pyo.Var(T, bounds=(b["soc_min_pct"] / 100 * cap, b["soc_max_pct"] / 100 * cap))
    start = b["soc_start_pct"] / 100 * cap
    m.soc = pyo.Constraint(T, rule=lambda m, t: m.e[t] == (start if t == 0 else m.e[t - 1])
                           + b["charge_efficiency"] * DT * m.ch[t] - DT / b["discharge_efficiency"] * m.dis[t])
    m.target = pyo.Constraint(expr=m.e[N - 1] >= b["soc_target_pct"] / 100 * cap)
    injection = {t: m.dis[t] - m.ch[t] for t in T}
    if site_case:
        for name, load in (("ev", EV), ("hp", HEAT_PUMP)):
            inside = lambda t, load=load: load["window_start"] <= t < load["window_end"]
            var = pyo.Var(T, bounds=lambda m, t, load=load, inside=inside: (load["min_kw"], load["max_kw"]) if inside(t) else (0, 0))
            m.add_component(name, var)
            m.add_component(name + "_energy", pyo.Constraint(expr=sum(DT * var[t] for t in T) == load["energy_kwh"]))
            for t in T:
                injection[t] = injection[t] - var[t]
        m.pv = pyo.Var(T, bounds=lambda m, t: (0, PV[t]))
        for t in T:
            injection[t] = injection[t] + m.pv[t]
    m.balance = pyo.Constraint(T, rule=lambda m, t: m.imp[t] - m.exp[t] == 30.0 - injection[t])
    m.obj = pyo.Objective(expr=sum(p[t] * DT / 1000 * m.imp[t] - ep[t] * DT / 1000 * m.exp[t]
                                   + b["cycle_cost_per_kwh"] * DT * (m.ch[t] + m.dis[t]) for t in T))
    return m


def run_pyomo(site_case, runs):
    solver = pyo.SolverFactory("appsi_highs")
    times, objective = [], None
    for _ in range(runs):
        t = time.perf_counter()
        m = pyomo_model(site_case)
        result = solver.solve(m)
        times.append(time.perf_counter() - t)
        assert str(result.solver.termination_condition) == "optimal", result
        objective = pyo.value(m.obj)
    return statistics.median(times) * 1000, objective


def run_vpp(vpp, site_case, runs):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(problem(site_case), f)
        path = f.name
    out = subprocess.run([vpp, "optimise", path, "--repeat", str(runs)], check=True, capture_output=True, text=True)
    report = json.loads(out.stdout)
    return report["median_ms"], report["schedule"]["breakdown"]["total"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vpp", default="target/release/vpp")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    for name, site_case in (("1 battery, 96 steps", False), ("site: battery, EV, heat pump, PV, grid limit", True)):
        vpp_ms, vpp_obj = run_vpp(args.vpp, site_case, args.runs)
        py_ms, py_obj = run_pyomo(site_case, args.runs)
        rel = abs(vpp_obj - py_obj) / max(abs(py_obj), 1e-9)
        print(f"{name:48s} vpp {vpp_ms:8.2f} ms  pyomo+HiGHS {py_ms:8.2f} ms  ratio {py_ms / vpp_ms:5.1f}x"
              f"  objective {vpp_obj:.6f} vs {py_obj:.6f} (rel. diff {rel:.1e})")
        if rel > 1e-6:
            raise SystemExit(f"objectives differ: {vpp_obj} vs {py_obj}")


if __name__ == "__main__":
    main()
