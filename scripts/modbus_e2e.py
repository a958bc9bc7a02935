#!/usr/bin/env python3
"""Modbus TCP and SunSpec end to end, against peers nobody here wrote:
pymodbus serves a SunSpec inverter and battery (scripts/sunspec_device.py,
laid out from the SunSpec model files pysunspec2 ships) and pysunspec2
reads them as the reference client.

1. `vpp device probe` reads both devices as pysunspec2 does (common model,
   model chain, rating, power, SOC).
2. `vpp serve` on a new SQLite file: a PV and a battery resource get
   Modbus links (SunSpec, unit 1 and 2, polled every second); their
   telemetry arrives; a bad link is refused naming the field and changes
   nothing.
3. Dispatch: a VPP of the PV is curtailed to 4 kW and a VPP of the battery
   discharges 2.5 kW; pysunspec2 reads the written registers (WMaxLimPct,
   StorCtl_Mod, OutWRte), the deliveries are acknowledged (confirmed by
   read-back), and the devices' power follows.
4. The devices drop off (server killed): both resources go OFFLINE with a
   device_offline alert; the server comes back: ONLINE, alert resolved.

    python scripts/modbus_e2e.py --vpp target/release/vpp
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import sunspec2.modbus.client as sunspec_client

from peer_lib import free_port, start_server, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def start_devices(port):
    sim = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "sunspec_device.py"), "--port", str(port),
         "--devices", "1:inverter:10000,2:battery:5000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    line = sim.stdout.readline()
    if "serving" not in line:
        sys.exit(f"FAIL: the pymodbus devices did not start: {line}{sim.stdout.read()}")

    def listening():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for("the pymodbus server to listen", listening, timeout=10, every=0.1)
    return sim


def reference(port, unit):
    """The device as pysunspec2 reads it."""
    d = sunspec_client.SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr="127.0.0.1", ipport=port)
    d.scan()
    common = d.models["common"][0]
    inverter = d.models[103][0]
    out = {
        "manufacturer": common.Mn.value,
        "model": common.Md.value,
        "serial": common.SN.value,
        "models": [m.model_id for m in d.model_list],
        "rated_kw": d.models[120][0].WRtg.cvalue / 1000,
        "power_kw": inverter.W.cvalue / 1000,
        "registers": {},
    }
    if 124 in d.models:
        s = d.models[124][0]
        out["soc_pct"] = s.ChaState.cvalue
        out["registers"] = {"StorCtl_Mod": s.StorCtl_Mod.value, "OutWRte": s.OutWRte.cvalue, "InWRte": s.InWRte.cvalue}
    if 122 in d.models:
        m = d.models[122][0]
        out["grid_connected"] = m.ECPConn.value == 1
        out["available_kw"] = m.WAval.cvalue / 1000
    if 123 in d.models:
        c = d.models[123][0]
        out["registers"] = {"WMaxLimPct": c.WMaxLimPct.cvalue, "WMaxLim_Ena": c.WMaxLim_Ena.value}
    d.close()
    return out


def close(a, b, tol=0.05):
    return a is not None and b is not None and abs(a - b) <= tol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vpp", default="target/release/vpp")
    args = ap.parse_args()
    dev_port = free_port()
    sim = start_devices(dev_port)
    tmp = tempfile.mkdtemp(prefix="vpp-modbus-")
    server = None
    try:
        # 1. vpp's reading against pysunspec2's.
        for unit in (1, 2):
            ref = reference(dev_port, unit)
            probe = json.loads(subprocess.run(
                [args.vpp, "device", "probe", f"127.0.0.1:{dev_port}", "--unit", str(unit)],
                check=True, capture_output=True, text=True).stdout)
            ss = probe["sunspec"]
            mine = {k: ss[k] for k in ("manufacturer", "model", "serial")}
            theirs = {k: ref[k] for k in ("manufacturer", "model", "serial")}
            assert mine == theirs, (mine, theirs)
            assert [m["id"] for m in ss["models"]] == ref["models"], (ss["models"], ref["models"])
            assert close(ss["rated_kw"], ref["rated_kw"]), (ss["rated_kw"], ref["rated_kw"])
            assert close(probe["reading"]["power_kw"], ref["power_kw"], 0.2), (probe["reading"], ref)
            if "soc_pct" in ref:
                assert close(probe["reading"]["soc_pct"], ref["soc_pct"], 0.5), (probe["reading"], ref)
            if "grid_connected" in ref:
                assert probe["reading"]["grid_connected"] == ref["grid_connected"], (probe["reading"], ref)
                assert close(probe["reading"]["available_kw"], ref["available_kw"]), (probe["reading"], ref)
            print(f"probe unit {unit}: {mine['model']} models {ref['models']} — same as pysunspec2")

        # 2. The server, two resources and their links.
        server, api, _ = start_server(args.vpp, tmp, "--heartbeat-timeout-s", "600")

        def template(t):
            return api.ok("GET", f"/api/v1/vpp/resource-templates?resource_type={t}")["items"][0]["id"]

        def resource(t, name, capacity, params):
            return api.ok("POST", "/api/v1/vpp/resource-instances", {
                "template_id": template(t), "name": name, "status": "ONLINE", "capacity_kw": capacity,
                "location": {"lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin"},
                "device_address": f"modbus://127.0.0.1:{dev_port}", "parameters": params,
            })["id"]

        pv = resource("PV", "Roof PV (SunSpec)", 10, {"peak_kw": 10, "inverter_kw": 10})
        bat = resource("BATTERY", "Basement battery (SunSpec)", 5, {
            "usable_energy_kwh": 10, "max_charge_kw": 5, "max_discharge_kw": 5, "round_trip_efficiency": 1.0})

        def link(unit, **over):
            spec = {"protocol": "modbus_tcp", "enabled": True, "host": "127.0.0.1", "port": dev_port,
                    "unit_id": unit, "poll_interval_s": 1, "timeout_ms": 500, "register_map": {"kind": "sunspec"}}
            spec.update(over)
            return spec

        for rid, unit in ((pv, 1), (bat, 2)):
            api.ok("PUT", f"/api/v1/vpp/resource-instances/{rid}/device-link", link(unit))
        code, problem = api.call("PUT", f"/api/v1/vpp/resource-instances/{pv}/device-link",
                                 link(1, host="", poll_interval_s=0.01))
        fields = sorted(e["field"] for e in problem.get("errors", []))
        assert code == 422 and fields == ["host", "poll_interval_s"], (code, problem)
        kept = api.ok("GET", f"/api/v1/vpp/resource-instances/{pv}/device-link")
        assert kept["host"] == "127.0.0.1" and kept["poll_interval_s"] == 1, kept
        print("a bad link is refused naming host and poll_interval_s; the stored link is unchanged")

        def realtime(rid):
            code, r = api.call("GET", f"/api/v1/vpp/resource-instances/{rid}/realtime-data")
            return r if code == 200 else None

        t0 = time.monotonic()
        r = wait_for("PV telemetry", lambda: (x := realtime(pv)) and close(x["power_kw"], 8.0) and x)
        first_sample_s = time.monotonic() - t0
        b = wait_for("battery telemetry", lambda: (x := realtime(bat)) and x.get("soc_pct") is not None and x)
        print(f"telemetry: PV {r['power_kw']} kW (first sample {first_sample_s:.1f} s after the link), "
              f"battery {b['power_kw']} kW at {b['soc_pct']} % SOC")
        state = api.ok("GET", f"/api/v1/vpp/resource-instances/{pv}/device-link")["state"]
        assert state["connected"] and state["sunspec"]["serial"] == "INV-001", state

        # 3. Dispatch through VPPs.
        def vpp(name, rid):
            return api.ok("POST", "/api/v1/vpp/vpps", {"name": name, "market_type": "SPOT",
                                                         "members": [{"resource_id": rid}]})["id"]

        results = {}
        for name, rid, kw in (("PV VPP", pv, 4.0), ("Battery VPP", bat, 2.5)):
            v = vpp(name, rid)
            sent = time.monotonic()
            d = api.ok("POST", f"/api/v1/vpp/vpps/{v}/dispatch", {"target_kw": kw, "mode": "merit_order"})

            def delivered():
                e = api.ok("GET", f"/api/v1/vpp/trading/execution-status/{d['dispatch_id']}")
                states = [i["delivery"]["state"] for i in e["instructions"] if i.get("delivery")]
                return states == ["acknowledged"] and e

            e = wait_for(f"{name}: the setpoint confirmed", delivered, timeout=20, every=0.05)
            confirmed_s = time.monotonic() - sent
            delivery = e["instructions"][0]["delivery"]
            assert delivery["channel"] == "modbus_tcp", delivery
            results[name] = (kw, confirmed_s)
            wait_for(f"{name}: power follows to {kw} kW",
                     lambda: (x := realtime(rid)) and close(x["power_kw"], kw, 0.1), timeout=20)
            print(f"{name}: {kw} kW confirmed by read-back {confirmed_s * 1000:.0f} ms after the dispatch; "
                  f"power follows")
        pv_regs = reference(dev_port, 1)["registers"]
        bat_regs = reference(dev_port, 2)["registers"]
        assert pv_regs == {"WMaxLimPct": 40.0, "WMaxLim_Ena": 1}, pv_regs
        assert bat_regs["StorCtl_Mod"] == 2 and close(bat_regs["OutWRte"], 50.0, 0.01), bat_regs
        print(f"pysunspec2 reads the written registers: {pv_regs}, {bat_regs}")

        # 4. The devices drop off and come back.
        sim.kill()
        sim.wait()
        t0 = time.monotonic()

        def status(rid):
            return api.ok("GET", f"/api/v1/vpp/resource-instances/{rid}")["status"]

        def alerts(rid, state):
            return api.ok("GET", f"/api/v1/vpp/alerts?rule=device_offline&subject={rid}&state={state}")

        wait_for("both OFFLINE", lambda: status(pv) == "OFFLINE" and status(bat) == "OFFLINE")
        offline_s = time.monotonic() - t0
        assert alerts(pv, "open") and alerts(bat, "open"), "device_offline alerts"
        err = api.ok("GET", f"/api/v1/vpp/resource-instances/{pv}/device-link")["state"]["last_error"]
        print(f"devices gone: OFFLINE with a device_offline alert after {offline_s:.1f} s ({err})")
        sim = start_devices(dev_port)
        t0 = time.monotonic()
        wait_for("both ONLINE again", lambda: status(pv) == "ONLINE" and status(bat) == "ONLINE")
        assert not alerts(pv, "open") and alerts(pv, "resolved"), "the alert is resolved"
        print(f"devices back: ONLINE and the alert resolved after {time.monotonic() - t0:.1f} s")
        protocols = api.ok("GET", "/api/v1/vpp/devices/protocols")["modbus_tcp"]["counts"]
        assert protocols["devices"] == 2 and protocols["polls_ok"] > 0 and protocols["polls_failed"] > 0, protocols
        print(f"protocol status: {protocols['devices']} devices, {protocols['connected']} connected, "
              f"{protocols['polls_ok']} polls ok, {protocols['polls_failed']} failed")
        print("Modbus/SunSpec end to end: PASS")
    except AssertionError as e:
        sys.exit(f"FAIL: {e}")
    finally:
        for p in (server, sim):
            if p and p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
