#!/usr/bin/env python3
"""OCPP 2.0.1 end to end against a peer nobody here wrote: the Python `ocpp`
package plays the charging station (it checks every message both ways
against the OCPP 2.0.1 JSON schemas it ships) and vpp is its CSMS.

1. `vpp serve` on a new SQLite file; an EV charger with external id CS-0001
   is registered as a station (password generated, shown once).
2. A wrong password and an unknown station are refused at the handshake.
3. The station boots, reports its connector, authorises a token, starts a
   transaction and sends meter values: vpp shows -7.4 kW (consumption) and
   the vehicle's SOC; a value out of range is refused naming the field.
   The vehicle states its needs (NotifyEVChargingNeeds): the session shows
   the energy and departure.
4. A VPP of the charger is dispatched to -3.7 kW: the station receives
   SetChargingProfile (TxProfile of its transaction, 3,700 W), accepts,
   and is asked GetCompositeSchedule to confirm; the delivery is
   acknowledged. Dispatched again while the station rejects: the delivery
   is rejected with its reason. A dispatch that ends a few seconds later:
   the station receives ClearChargingProfile at its end.
5. The transaction ends: the session shows 4 kWh. The station disconnects
   (OFFLINE, alert) and reconnects (ONLINE).
6. Security profile 2: a second server serves TLS; a station whose password
   is a secret reference (env:) connects over wss:// and boots; a wrong
   password is refused.

    python scripts/ocpp_e2e.py --vpp target/release/vpp
"""
import argparse
import asyncio
import base64
import os
import ssl
import sys
import tempfile
import time
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_lib import self_signed_certificate, start_server, wait_for  # noqa: E402


def now():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Station(ChargePoint):
    answer = "Accepted"
    profiles = []
    applied_w = None
    composites = []
    cleared = []

    @on("SetChargingProfile")
    def on_set_charging_profile(self, evse_id, charging_profile, **kwargs):
        self.profiles.append((evse_id, charging_profile))
        if self.answer == "Accepted":
            Station.applied_w = charging_profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"]
            return call_result.SetChargingProfile(status="Accepted")
        return call_result.SetChargingProfile(status="Rejected", status_info={"reason_code": "TxNotFound"})

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, duration, evse_id, charging_rate_unit=None, **kwargs):
        self.composites.append((evse_id, duration, charging_rate_unit))
        limit = Station.applied_w if Station.applied_w is not None else 11000
        return call_result.GetCompositeSchedule(status="Accepted", schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": now(), "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, "limit": limit}]})

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, charging_profile_id=None, **kwargs):
        self.cleared.append(charging_profile_id)
        Station.applied_w = None
        return call_result.ClearChargingProfile(status="Accepted")


def meter(power_w, energy_wh, soc=None):
    values = [
        {"value": power_w, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W"}},
        {"value": energy_wh, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"}},
    ]
    if soc is not None:
        values.append({"value": soc, "measurand": "SoC", "unit_of_measure": {"unit": "Percent"}})
    return [{"timestamp": now(), "sampled_value": values}]


async def connect(url, station_id, password, ssl_context=None):
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return await websockets.connect(
        f"{url}/ocpp/{station_id}", subprotocols=["ocpp2.0.1"],
        additional_headers={"Authorization": f"Basic {token}"}, ssl=ssl_context,
    )


async def refused(url, station_id, password, ssl_context=None):
    try:
        ws = await connect(url, station_id, password, ssl_context)
    except websockets.exceptions.InvalidStatus as e:
        return e.response.status_code
    await ws.close()
    return None


async def run(api, ws_url, charger, password):
    # 2. Refusals.
    assert await refused(ws_url, "CS-0001", "wrong-password") == 401, "a wrong password is refused"
    assert await refused(ws_url, "CS-9999", password) == 401, "an unknown station is refused"
    print("a wrong password and an unknown station are refused at the handshake (401)")

    def realtime():
        code, r = api.call("GET", f"/api/v1/vpp/resource-instances/{charger}/realtime-data")
        return r if code == 200 else None

    def status():
        return api.ok("GET", f"/api/v1/vpp/resource-instances/{charger}")["status"]

    # 3. Boot, status, a transaction with meter values.
    ws = await connect(ws_url, "CS-0001", password)
    cp = Station("CS-0001", ws)
    listener = asyncio.create_task(cp.start())
    boot = await cp.call(call.BootNotification(
        charging_station={"model": "pyocpp-peer", "vendor_name": "ocpp (PyPI)"}, reason="PowerUp"))
    assert boot.status == "Accepted" and boot.interval == 60, boot
    await cp.call(call.Heartbeat())
    await cp.call(call.StatusNotification(timestamp=now(), connector_status="Occupied", evse_id=1, connector_id=1))
    auth = await cp.call(call.Authorize(id_token={"id_token": "04A1B2C3", "type": "ISO14443"}))
    assert auth.id_token_info["status"] == "Accepted", auth
    started = await cp.call(call.TransactionEvent(
        event_type="Started", timestamp=now(), trigger_reason="Authorized", seq_no=0,
        transaction_info={"transaction_id": "T-1"}, evse={"id": 1, "connector_id": 1},
        id_token={"id_token": "04A1B2C3", "type": "ISO14443"}, meter_value=meter(0, 1000, 40)))
    assert started.id_token_info["status"] == "Accepted", started
    t0 = time.monotonic()
    await cp.call(call.MeterValues(evse_id=1, meter_value=meter(7400, 1500, 41)))
    r = wait_for("meter values as telemetry", lambda: (x := realtime()) and x["power_kw"] == -7.4 and x)
    print(f"meter values stored as {r['power_kw']} kW at {r['soc_pct']} % SOC "
          f"({(time.monotonic() - t0) * 1000:.0f} ms); status {status()}")
    # A power beyond 1.5 x capacity (11 kW) is refused naming the field; nothing is stored.
    try:
        await cp.call(call.MeterValues(evse_id=1, meter_value=meter(90000, 1600)), suppress=False)
        sys.exit("FAIL: an out-of-range meter value was accepted")
    except Exception as e:  # the ocpp package raises the CALLERROR as an exception
        assert "power_kw" in str(e), e
        print(f"an out-of-range meter value is refused: {e}")
    assert realtime()["power_kw"] == -7.4
    departure = datetime.fromtimestamp(time.time() + 3 * 3600, timezone.utc).replace(microsecond=0)
    needs = await cp.call(call.NotifyEVChargingNeeds(evse_id=1, charging_needs={
        "requested_energy_transfer": "AC_three_phase", "departure_time": departure.isoformat().replace("+00:00", "Z"),
        "ac_charging_parameters": {"energy_amount": 20000, "ev_min_current": 6, "ev_max_current": 16,
                                   "ev_max_voltage": 400}}))
    # Processing: vpp plans with the needs and sends a profile when it dispatches.
    assert needs.status == "Processing", needs
    session = api.ok("GET", f"/api/v1/vpp/resource-instances/{charger}/charging-sessions")[0]
    assert session["energy_need_kwh"] == 20.0, session
    assert session["departure_at"].startswith(departure.strftime("%Y-%m-%dT%H:%M:%S")), session
    print(f"the vehicle's needs stored: {session['energy_need_kwh']} kWh by {session['departure_at']}")

    # 4. Dispatch becomes SetChargingProfile.
    vpp = api.ok("POST", "/api/v1/vpp/vpps", {"name": "EV VPP", "market_type": "SPOT",
                                               "members": [{"resource_id": charger}]})["id"]

    def dispatch(kw, **window):
        d = api.ok("POST", f"/api/v1/vpp/vpps/{vpp}/dispatch", {"target_kw": kw, "mode": "merit_order", **window})
        sent = time.monotonic()

        def answered():
            e = api.ok("GET", f"/api/v1/vpp/trading/execution-status/{d['dispatch_id']}")
            deliveries = [i["delivery"] for i in e["instructions"] if i.get("delivery")]
            return deliveries and deliveries[0]["state"] in ("acknowledged", "rejected") and deliveries[0]

        delivery = wait_for("the charging profile answered", answered, timeout=20, every=0.05)
        return delivery, time.monotonic() - sent

    # Polled on a thread: the station answers on this event loop meanwhile.
    delivery, took = await asyncio.to_thread(dispatch, -3.7)
    assert delivery["state"] == "acknowledged" and delivery["channel"] == "ocpp", delivery
    evse_id, profile = cp.profiles[-1]
    limit = profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"]
    assert (evse_id, profile["charging_profile_purpose"], profile["transaction_id"], limit) == \
        (1, "TxProfile", "T-1", 3700), profile
    assert cp.composites and cp.composites[-1][0] == 1 and cp.composites[-1][2] == "W", cp.composites
    print(f"dispatch -3.7 kW: TxProfile of T-1 at {limit} W accepted and confirmed by GetCompositeSchedule, "
          f"{took * 1000:.0f} ms from dispatch to acknowledged")
    Station.answer = "Rejected"
    delivery, _ = await asyncio.to_thread(dispatch, -2.0)
    assert delivery["state"] == "rejected" and "TxNotFound" in (delivery["reason"] or ""), delivery
    print(f"a rejected profile: delivery rejected ({delivery['reason']})")
    # An instruction that began 55 s ago for a minute: cleared at its end.
    Station.answer = "Accepted"
    began = datetime.fromtimestamp(time.time() - 55, timezone.utc).isoformat().replace("+00:00", "Z")
    delivery, _ = await asyncio.to_thread(dispatch, -5.0, start=began, duration_minutes=1)
    assert delivery["state"] == "acknowledged", delivery
    t0 = time.monotonic()
    await asyncio.to_thread(wait_for, "ClearChargingProfile at the instruction's end", lambda: cp.cleared, 15)
    assert cp.cleared == [1], cp.cleared
    print(f"ClearChargingProfile for profile 1 at the instruction's end ({time.monotonic() - t0:.1f} s after "
          "its acknowledgement)")

    # 5. End, disconnect, reconnect.
    await cp.call(call.TransactionEvent(
        event_type="Ended", timestamp=now(), trigger_reason="EVDeparted", seq_no=2,
        transaction_info={"transaction_id": "T-1"}, meter_value=meter(0, 5000)))
    sessions = api.ok("GET", f"/api/v1/vpp/resource-instances/{charger}/charging-sessions")
    s = sessions[0]
    assert s["transaction_id"] == "T-1" and s["ended_at"] and abs(s["energy_kwh"] - 4.0) < 1e-9, s
    assert s["id_token"] == "04A1B2C3" and s["evse_id"] == 1, s
    print(f"session T-1: {s['energy_kwh']} kWh, token {s['id_token']}, EVSE {s['evse_id']}")
    listener.cancel()
    await ws.close()
    wait_for("OFFLINE after the disconnect", lambda: status() == "OFFLINE", timeout=10)
    alerts = api.ok("GET", f"/api/v1/vpp/alerts?rule=device_offline&subject={charger}&state=open")
    assert alerts, "a device_offline alert"
    ws = await connect(ws_url, "CS-0001", password)
    cp = Station("CS-0001", ws)
    listener = asyncio.create_task(cp.start())
    await cp.call(call.BootNotification(
        charging_station={"model": "pyocpp-peer", "vendor_name": "ocpp (PyPI)"}, reason="PowerUp"))
    wait_for("ONLINE after the reconnect", lambda: status() == "ONLINE", timeout=10)
    print("disconnect: OFFLINE with a device_offline alert; reconnect and boot: ONLINE")
    counts = api.ok("GET", "/api/v1/vpp/devices/protocols")["ocpp"]
    assert counts["connected"] == 1 and counts["refused"] == 2, counts
    assert (counts["profiles_accepted"], counts["profiles_confirmed"], counts["profiles_cleared"]) == (2, 2, 1), counts
    listener.cancel()
    await ws.close()


async def run_tls(api, wss_url, charger, cafile):
    context = ssl.create_default_context(cafile=cafile)
    assert await refused(wss_url, "CS-TLS-1", "wrong-password", context) == 401, "a wrong password is refused"
    ws = await connect(wss_url, "CS-TLS-1", TLS_STATION_PASSWORD, context)
    cp = Station("CS-TLS-1", ws)
    listener = asyncio.create_task(cp.start())
    boot = await cp.call(call.BootNotification(
        charging_station={"model": "pyocpp-peer", "vendor_name": "ocpp (PyPI)"}, reason="PowerUp"))
    assert boot.status == "Accepted", boot
    await cp.call(call.MeterValues(evse_id=1, meter_value=meter(3000, 100)))
    r = api.ok("GET", f"/api/v1/vpp/resource-instances/{charger}/realtime-data")
    assert r["power_kw"] == -3.0, r
    listener.cancel()
    await ws.close()
    print("security profile 2: over wss:// with the password from a secret reference, boot and meter values; "
          "a wrong password refused")


TLS_STATION_PASSWORD = "tls-station-secret-0001"


def charger_with_station(api, station_id, **station):
    template = api.ok("GET", "/api/v1/vpp/resource-templates?resource_type=EV_CHARGER")["items"][0]["id"]
    charger = api.ok("POST", "/api/v1/vpp/resource-instances", {
        "template_id": template, "name": f"Depot charger {station_id}", "external_id": station_id, "status": "ONLINE",
        "capacity_kw": 11, "min_power_kw": -11, "max_power_kw": 0,
        "location": {"lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin"}, "device_address": f"ocpp://{station_id}",
        "parameters": {"max_charge_kw": 11},
    })["id"]
    creds = api.ok("POST", f"/api/v1/vpp/resource-instances/{charger}/ocpp-station", station or None)
    return charger, creds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vpp", default="target/release/vpp")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vpp-ocpp-")
    server = None
    try:
        server, api, port = start_server(args.vpp, tmp, "--modbus-links", "false")
        charger, creds = charger_with_station(api, "CS-0001")
        assert creds["station_id"] == "CS-0001" and creds["path"] == "/ocpp/CS-0001" and creds["password"], creds
        print(f"station CS-0001 registered; its password is shown once ({len(creds['password'])} characters)")
        asyncio.run(run(api, f"ws://127.0.0.1:{port}", charger, creds["password"]))
        server.kill()
        server.wait()
        tls_dir = tempfile.mkdtemp(prefix="vpp-ocpp-tls-")
        cert, key = self_signed_certificate(tls_dir)
        server, api, port = start_server(args.vpp, tls_dir, "--modbus-links", "false", tls=(cert, key),
                                         env_extra={"OCPP_CS_TLS_PASSWORD": TLS_STATION_PASSWORD})
        charger, creds = charger_with_station(api, "CS-TLS-1", password_ref="env:OCPP_CS_TLS_PASSWORD")
        assert creds["password"] is None and creds["password_ref"] == "env:OCPP_CS_TLS_PASSWORD", creds
        asyncio.run(run_tls(api, f"wss://127.0.0.1:{port}", charger, cert))
        print("OCPP 2.0.1 end to end: PASS")
    except AssertionError as e:
        sys.exit(f"FAIL: {e}\n(server log: {tmp}/server.log)")
    finally:
        if server:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
