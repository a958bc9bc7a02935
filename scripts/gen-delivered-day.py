#!/usr/bin/env python3
"""Writes examples/delivered/: one delivery day (2025-06-08, Europe/Berlin)
of a small wind and solar portfolio, each file in the shape its sender
delivers it (see docs/delivered-files.md). The values are synthetic, made
here from simple curves; nothing is copied from real data."""
import json, math, pathlib, datetime as dt

root = pathlib.Path(__file__).resolve().parent.parent / "examples" / "delivered"
inbox, market = root / "inbox", root / "market"
for d in (root, inbox, market):
    d.mkdir(parents=True, exist_ok=True)

UTC = dt.timezone.utc
start = dt.datetime(2025, 6, 7, 22, 0, tzinfo=UTC)  # 00:00 CEST
quarters = [start + dt.timedelta(minutes=15 * k) for k in range(96)]

def wind(k, peak, phase):
    return round(max(0.0, peak * (0.55 + 0.35 * math.sin((k + phase) / 96 * 2 * math.pi))), 3)

def sun(k, peak):
    hour = (k / 4 + 2) % 24  # CEST hour of the quarter
    return round(max(0.0, peak * math.sin((hour - 5.5) / 15 * math.pi)) if 5.5 < hour < 20.5 else 0.0, 3)

def de(x, digits=2):
    """A number as a German spreadsheet writes it: 4 433,00."""
    whole, frac = f"{x:,.{digits}f}".split(".")
    return whole.replace(",", " ") + "," + frac

# Technical data, as the asset owner's master file delivers it.
assets = [
    {"asset_id": "WP-07", "name": "Windpark Nord", "type": "wind", "capacity_kw": 3600, "lat": 53.55, "lon": 8.58},
    {"asset_id": "WP-08", "name": "Windpark Deich", "type": "Wind", "capacity_kw": 4200, "lat": 53.87, "lon": 8.71},
    {"asset_id": "PV-03", "name": "Solarpark Heide", "type": "PV", "capacity_kw": 800, "lat": 52.93, "lon": 9.84,
     "metering_point_id": "DE0001234500000000000000000000003"},
]
techdata = {"assets": [{
    "asset_id": a["asset_id"], "name": a["name"], "type": a["type"],
    "location": {"latitude": a["lat"], "longitude": a["lon"], "timezone": "Europe/Berlin"},
    "technical_attributes": {"capacity_kw": a["capacity_kw"], **({"metering_point_id": a["metering_point_id"]} if "metering_point_id" in a else {})},
    "status": "active", "owner": {"name": "Bürgerwind Nord eG" if a["type"].lower() == "wind" else "Heide Solar GmbH"},
} for a in assets]}
(root / "technical_data_2025-06-07T12-30-00Z.json").write_text(json.dumps(techdata, ensure_ascii=False, indent=1) + "\n")

# DSO meter final of WP-07: ` UTC` times, MW in the header; 0 in the four
# quarter-hours the DSO curtailed it (see the redispatch flags below).
lines = ["timestamp,value_mw"] + [f"{q:%Y-%m-%d %H:%M:%S}.000000 UTC,{0 if 40 <= k < 44 else wind(k, 3.4, 0):.3f}" for k, q in enumerate(quarters)]
(inbox / "WP-07_meter_final_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# Live infeed of WP-08 from a spreadsheet: every number quoted, decimal comma, space thousands, kW.
lines = ['"Zeit","Leistung (kW)"'] + [f'"{q:%Y-%m-%dT%H:%M:%SZ}","{de(wind(k, 4000, 20))}"' for k, q in enumerate(quarters)]
(inbox / "WP-08_live_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# Meter final of PV-03 by metering point: German date, time and zone columns, Berlin wall clock.
lines = ["Datum;von;Zeitzone von;bis;Leistung (kW)"]
for k, q in enumerate(quarters):
    local = q + dt.timedelta(hours=2)
    end = local + dt.timedelta(minutes=15)
    lines.append(f"{local:%d.%m.%Y};{local:%H:%M};MESZ;{end:%H:%M};{de(sun(k, 760), 1)}")
(inbox / "DE0001234500000000000000000000003_meter_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# Day-ahead forecast of WP-07 as column JSON: epoch milliseconds, issued the day before at 09:00 UTC.
ms = lambda t: int(t.timestamp() * 1000)
version = ms(dt.datetime(2025, 6, 7, 9, 0, tzinfo=UTC))
forecast = {"key": {"asset_id": "WP-07"}, "column_ids": ["start", "end", "version", "power"], "units": ["ms", "ms", "ms", "MW"],
            "values": [[ms(q) for q in quarters], [ms(q + dt.timedelta(minutes=15)) for q in quarters], [version] * 96,
                       [round(wind(k, 3.4, 2) * 1.05, 3) for k in range(96)]]}
(inbox / "WP-07_forecast_2025-06-08.json").write_text(json.dumps(forecast) + "\n")

# Redispatch flags of WP-07 from the DSO: four quarter-hours curtailed at noon.
lines = ["Zeitstempel;Redispatch"] + [f"{q:%Y-%m-%dT%H:%M:%SZ};{1 if 40 <= k < 44 else 0}" for k, q in enumerate(quarters)]
(inbox / "redispatch_flags_WP-07_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# The DSO's redispatch compensation for WP-07's curtailed quarter-hours:
# per asset and quarter-hour, ` UTC` times, ct/kWh with a decimal comma.
redispatch = root / "redispatch"
redispatch.mkdir(exist_ok=True)
lines = ["Anlage;MaLo;Beginn;Ende;Ausgleichspreis (ct/kWh)"] + [
    f"WP-07;DE0001234500000000000000000000007;{quarters[k]:%Y-%m-%d %H:%M:%S} UTC;"
    f"{quarters[k] + dt.timedelta(minutes=15):%Y-%m-%d %H:%M:%S} UTC;{de(6.85 + 0.25 * (k - 40), 3)}"
    for k in range(40, 44)]
(redispatch / "compensation_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# The regulator's imbalance price export: category columns before the price, the zone per row.
lines = ["Datum;von;Zeitzone von;bis;Zeitzone bis;Datenkategorie;Datentyp;Einheit;Wert"]
for k, q in enumerate(quarters):
    local = q + dt.timedelta(hours=2)
    end = local + dt.timedelta(minutes=15)
    price = 85 + 60 * math.sin(k / 96 * 4 * math.pi) - (40 if 44 <= k < 60 else 0)
    lines.append(f"{local:%d.%m.%Y};{local:%H:%M};MESZ;{end:%H:%M};MESZ;Ausgleichsenergie;reBAP;EUR/MWh;{de(price)}")
(market / "reBAP_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# Own intraday trades: the trader's export, its own column order, volume unit MWH.
lines = ["trade_id,execution_time,side,delivery_start,delivery_end,quantity,unit,price,currency"]
for k in range(0, 96, 4):
    q = quarters[k]
    lines.append(f"T-{k:03d},{q - dt.timedelta(hours=3):%Y-%m-%d %H:%M:%S} UTC,SELL,{q:%Y-%m-%d %H:%M:%S} UTC,"
                 f"{q + dt.timedelta(hours=1):%Y-%m-%d %H:%M:%S} UTC,{wind(k, 6.5, 4):.1f},MWH,{70 + k * 0.5:.2f},EUR")
(market / "trades_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# The exchange's public trades of the day: every participant, no sides, hourly and quarter-hourly.
lines = ["DeliveryStart;DeliveryEnd;Price;Volume (MWh);Currency"]
for k in range(96):
    q = quarters[k]
    lines.append(f"{q:%Y-%m-%dT%H:%M:%SZ};{q + dt.timedelta(minutes=15):%Y-%m-%dT%H:%M:%SZ};{de(72 + 25 * math.sin(k / 15))};{de(5 + k % 7, 1)};EUR")
    if k % 4 == 0:
        lines.append(f"{q:%Y-%m-%dT%H:%M:%SZ};{q + dt.timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ};{de(75 + 20 * math.cos(k / 20))};{de(40, 1)};EUR")
(market / "public_trades_2025-06-08.csv").write_text("\n".join(lines) + "\n")

# CRM contracts keyed by asset id.
lines = ["contract_id,asset_id,metering_point_id,capacity (MW),technology,contract_begin,contract_end,price_model,price,fee_model,fee,fee_percent",
         "K-0107,WP-07,DE0001234500000000000000000000007,3.6,wind,2025-01-01,,market,,percent_of_market,,2.5",
         "K-0108,WP-08,DE0001234500000000000000000000008,4.2,wind,2025-01-01,2025-12-31,market,,fixed_as_produced,1.20,",
         "K-0303,PV-03,DE0001234500000000000000000000003,0.8,pv,2024-07-01,,fixed,78.40,fixed_for_capacity,250,"]
(root / "contracts_2025-06-08.csv").write_text("\n".join(lines) + "\n")
print(f"wrote {root}")
