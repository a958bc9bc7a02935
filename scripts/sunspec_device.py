#!/usr/bin/env python3
"""SunSpec devices served by pymodbus (a Modbus TCP server nobody here wrote),
for the device-link peer test (scripts/modbus_e2e.py).

Each unit id is one device, laid out at 40000 from the published SunSpec
model definitions that pysunspec2 ships (model_N.json): points are placed by
name and size from those files, not from vpp's own offsets.

- inverter: models 1, 103, 120, 121, 122, 123. Produces a fixed share of its
  rating, capped by 123's WMaxLimPct (% of 121's WMax) while WMaxLim_Ena is 1.
- battery: models 1, 103, 120, 121, 124, 802. Charges or discharges as 124's
  StorCtl_Mod, InWRte and OutWRte say (% of WChaMax); SOC in 124 ChaState.

    python scripts/sunspec_device.py --port 15020 --devices 1:inverter:10000,2:battery:5000
"""
import argparse
import asyncio
import json
import os
import time

import sunspec2
from pymodbus.server import StartAsyncTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

MODELS = os.path.join(os.path.dirname(sunspec2.__file__), "models", "json")
BASE = 40000
# Registers from BASE: the marker and every model fit in this many.
SPAN = 600


def layout(model_id):
    """Point name -> (offset after ID and L, size, type), and the model length L."""
    with open(os.path.join(MODELS, f"model_{model_id}.json")) as f:
        group = json.load(f)["group"]
    points, offset = {}, 0
    for p in group["points"]:
        points[p["name"]] = (offset - 2, p["size"], p["type"])
        offset += p["size"]
    return points, offset - 2


def text(s, size):
    b = s.encode().ljust(size * 2, b"\0")
    return [int.from_bytes(b[i : i + 2], "big") for i in range(0, size * 2, 2)]


class Device:
    """One unit's registers BASE..BASE+SPAN (anything else answers
    ILLEGAL_ADDRESS) and its physics, stepped on every request by the
    elapsed time. `self.regs` starts as the initial image and is then the
    server's live register list."""

    def __init__(self, unit, kind, rated_w):
        self.unit, self.kind, self.rated_w = unit, kind, rated_w
        self.regs, self.last = [0] * SPAN, None
        ids = [1, 103, 120, 121] + ([124, 802] if kind == "battery" else [122, 123])
        self.at, addr = {}, BASE + 2
        self.write(BASE, text("SunS", 2))
        for mid in ids:
            points, length = layout(mid)
            self.write(addr, [mid, length])
            self.at[mid] = (addr + 2, points)
            addr += 2 + length
        self.write(addr, [0xFFFF, 0])
        self.set(1, "Mn", text("pymodbus-peer", 16))
        self.set(1, "Md", text(f"sim-{kind}", 16))
        self.set(1, "SN", text(f"{kind[:3].upper()}-{unit:03d}", 16))
        self.set(1, "DA", [unit])
        for sf in ("A_SF", "V_SF", "Hz_SF", "VA_SF", "VAr_SF", "PF_SF", "DCA_SF", "DCV_SF", "DCW_SF"):
            self.set(103, sf, [0])
        self.set(103, "W_SF", [0])
        self.set(103, "WH_SF", [0])
        self.set(103, "Tmp_SF", [s16(-1)])
        self.set(103, "TmpCab", [s16(352)])
        self.set(103, "St", [4])  # MPPT
        self.set(120, "DERTyp", [82 if kind == "battery" else 4])
        self.set(120, "WRtg", [rated_w])
        self.set(120, "WRtg_SF", [0])
        self.set(121, "WMax", [rated_w])
        self.set(121, "WMax_SF", [0])
        if kind == "battery":
            self.set(124, "WChaMax", [rated_w])
            self.set(124, "WChaMax_SF", [0])
            self.set(124, "ChaState_SF", [s16(-1)])
            self.set(124, "InOutWRte_SF", [s16(-2)])
            self.set(124, "StorCtl_Mod", [0])
            self.set(802, "SoC_SF", [s16(-1)])
            self.soc, self.capacity_wh = 50.0, 10_000.0
        else:
            # Measurements and status: PV connected, available, operating;
            # the grid connection closed; 90 % of the rating available.
            self.set(122, "PVConn", [0b111])
            self.set(122, "ECPConn", [1])
            self.set(122, "WAval", [rated_w * 9 // 10])
            self.set(122, "WAval_SF", [0])
            self.set(123, "WMaxLimPct_SF", [s16(-1)])
            self.set(123, "WMaxLimPct", [1000])
            self.set(123, "WMaxLim_Ena", [0])
        self.energy_wh = 1_000_000.0

    def write(self, addr, values):
        self.regs[addr - BASE : addr - BASE + len(values)] = values

    def read(self, addr, n=1):
        return self.regs[addr - BASE : addr - BASE + n]

    def sim_device(self):
        async def action(function_code, start_address, address, count, current_registers, set_values):
            # Writes land after this returns: the physics sees them on the next request.
            self.regs = current_registers
            now = time.monotonic()
            if self.last is not None:
                self.step(now - self.last)
            self.last = now
            return None

        return SimDevice(
            id=self.unit, simdata=[SimData(BASE, values=list(self.regs), datatype=DataType.REGISTERS)], action=action
        )

    def set(self, mid, name, values):
        base, points = self.at[mid]
        self.write(base + points[name][0], values)

    def get(self, mid, name):
        base, points = self.at[mid]
        return self.read(base + points[name][0])[0]

    def sf(self, mid, name):
        return 10.0 ** signed(self.get(mid, name))

    def step(self, dt):
        if self.kind == "battery":
            mode = self.get(124, "StorCtl_Mod")
            scale = self.sf(124, "InOutWRte_SF") / 100.0 * self.rated_w
            if mode == 2:
                w = signed(self.get(124, "OutWRte")) * scale
            elif mode == 1:
                w = -signed(self.get(124, "InWRte")) * scale
            else:
                w = 0.0
            if (w > 0 and self.soc <= 5) or (w < 0 and self.soc >= 95):
                w = 0.0
            self.soc = min(100.0, max(0.0, self.soc - w * dt / 3600 / self.capacity_wh * 100))
            self.set(124, "ChaState", [round(self.soc * 10)])
            self.set(802, "SoC", [round(self.soc * 10)])
            self.set(124, "ChaSt", [3 if w > 0 else 4 if w < 0 else 6])
        else:
            w = 0.8 * self.rated_w
            if self.get(123, "WMaxLim_Ena") == 1:
                w = min(w, self.get(123, "WMaxLimPct") * self.sf(123, "WMaxLimPct_SF") / 100 * self.get(121, "WMax"))
        self.energy_wh += max(w, 0) * dt / 3600
        self.set(103, "W", [s16(round(w))])
        wh = int(self.energy_wh)
        self.set(103, "WH", [wh >> 16, wh & 0xFFFF])


def s16(v):
    return v & 0xFFFF


def signed(v):
    return v - 0x10000 if v >= 0x8000 else v


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--devices", default="1:inverter:10000,2:battery:5000", help="unit:kind:rated_w,...")
    args = ap.parse_args()
    specs = [d.split(":") for d in args.devices.split(",")]
    devices = [Device(int(u), kind, int(w)) for u, kind, w in specs]
    print(f"serving {len(devices)} SunSpec devices on 127.0.0.1:{args.port}", flush=True)
    await StartAsyncTcpServer(context=[d.sim_device() for d in devices], address=("127.0.0.1", args.port))


if __name__ == "__main__":
    asyncio.run(main())
