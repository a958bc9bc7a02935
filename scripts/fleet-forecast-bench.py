#!/usr/bin/env python3
"""The scheduled fleet forecast, end to end, for 1,000 PV plants.

Starts `vpp serve` (VPP_BIN, default target/release/vpp) on a fresh SQLite
file, imports 51 hours of weather at three points (Open-Meteo JSON), creates
1,000 PV plants around them through the API, then runs
`POST /forecasts/physical?hours=48` three times and prints each run: every
plant forecast under the weather, 192,000 intervals stored. The median of
`elapsed_ms` is the figure in docs/benchmarks.md.

    cargo build --release && python3 scripts/fleet-forecast-bench.py
"""
import json, math, os, subprocess, tempfile, time, urllib.error, urllib.request
PORT = 18120
API = f"http://127.0.0.1:{PORT}/api/v1"
def req(method, path, body=None, tok=None, raw=None, ct="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    r = urllib.request.Request(API+path, data=data, method=method, headers={"content-type": ct, **({"authorization": "Bearer "+tok} if tok else {})})
    for attempt in range(200):
        try:
            with urllib.request.urlopen(r, timeout=600) as f: return json.loads(f.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 429: time.sleep(float(e.headers.get("retry-after") or 1)); continue
            if e.code == 409 and "resource-instances" in path: return None
            raise
workdir = tempfile.mkdtemp(prefix="vpp-fleet-")
server = subprocess.Popen(
    [os.environ.get("VPP_BIN", "target/release/vpp"), "--database-url", f"sqlite://{workdir}/fleet.db", "serve",
     "--bind", f"127.0.0.1:{PORT}", "--physical-forecast-interval-min", "0"],
    env={**os.environ, "VPP_ADMIN_PASSWORD": "fleet-bench-password-1", "VPP_LOG": "warn"},
    stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
tok = req("POST", "/auth/login", {"username": "admin", "password": "fleet-bench-password-1"})["access_token"]
tpl = [t for t in req("GET", "/vpp/resource-templates?size=100", tok=tok)["items"] if t["resource_type"] == "PV"][0]["id"]
now = int(time.time()); first = now - now % 3600 - 3600
points = [(52.5, 13.4), (53.55, 10.0), (48.15, 11.6)]
for lat, lon in points:
    times = [first + h*3600 for h in range(1, 52)]
    ghi = [max(0.0, 500*math.sin(math.pi*(((t//3600) % 24) - 6)/12)) for t in times]
    body = {"latitude": lat, "longitude": lon, "utc_offset_seconds": 0, "timezone": "GMT",
            "hourly_units": {"time": "unixtime"}, "hourly": {"time": times, "shortwave_radiation": ghi,
            "temperature_2m": [5.0]*51, "wind_speed_10m": [12.0]*51}}
    req("POST", "/vpp/weather/open-meteo", raw=json.dumps(body).encode(), tok=tok)
t0 = time.time()
for i in range(1000):
    lat, lon = points[i % 3]
    req("POST", "/vpp/resource-instances", {"template_id": tpl, "name": f"PV bench {i:04d}", "status": "ONLINE",
        "parameters": {"peak_kw": 100 + i % 400, "inverter_kw": 90 + i % 360, "tilt_deg": 20 + i % 20, "azimuth_deg": 150 + i % 60},
        "location": {"lat": lat + (i % 10) * 0.01, "lon": lon + (i % 7) * 0.01, "timezone": "Europe/Berlin"},
        "device_address": f"modbus://127.0.0.1:15020/{i}"}, tok=tok)
print("created 1000 PV in %.1f s" % (time.time() - t0))
runs = []
for run in range(3):
    r = req("POST", "/vpp/forecasts/physical?hours=48", raw=b"", tok=tok)
    print(json.dumps({k: r[k] for k in ("resources", "forecast", "under_weather", "clear_sky", "intervals", "elapsed_ms")}))
    assert r["forecast"] == 1000 and r["under_weather"] == 1000 and r["intervals"] == 192000, r
    runs.append(r["elapsed_ms"])
server.terminate()
print(f"fleet forecast of 1,000 PV plants, 48 h: median {sorted(runs)[1] / 1000:.2f} s over 3 runs; load {os.getloadavg()[0]:.2f}")
