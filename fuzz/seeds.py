#!/usr/bin/env python3
"""Writes the seed inputs of each fuzz target into fuzz/corpus/<target>/.

Seeds are small valid and near-valid files of each format, so the fuzzer
starts from the shapes senders deliver. The first byte of some targets picks
the dialect or file kind (see fuzz/src/lib.rs).
"""
import json
import pathlib

root = pathlib.Path(__file__).parent / "corpus"

def put(target, name, data):
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())

csv_files = {
    "rfc3339": "time,power_kw_\n2026-07-01T00:00:00Z,1.5\n2026-07-01T00:15:00Z,-2\n",
    "semicolon": "Datum;Wert\n01.07.2026 00:00;1,5\n01.07.2026 00:15;2,25\n",
    "versions": "event_start,belief_time,energy_mwh_\n2026-07-01 00:00,2026-06-30 12:00,0.4\n",
    "bad": "start,value\nyesterday,abc\n2026-07-01 00:00,1e400\n,\n",
}
for i, (name, text) in enumerate(csv_files.items()):
    for dialect in (0, 1 | 4 | 8 | 16, 32, 2):
        put("series_csv", f"{name}-{dialect}", bytes([dialect]) + text.encode())

put("series_columns", "forecast", json.dumps({
    "key": {"asset_id": "A-7"}, "column_ids": ["start", "end", "version", "power"],
    "units": ["ms", "ms", "ms", "kW"],
    "values": [[1782864000000, 1782864900000], [1782864900000, 1782865800000],
               [1782860400000, 1782860400000], [1.5, 2.0]]}))
put("series_columns", "measurement", json.dumps({
    "key": {"entity_id": 7}, "column_ids": ["timestamp", "value", "quality"],
    "units": ["s", "MW", ""], "values": [[1782864000, 1782864900], [0.5, None], ["ok", "bad"]]}))

put("techdata", "two", json.dumps({"assets": [
    {"asset_id": "A1", "name": "Roof", "type": "pv", "status": "active",
     "location": {"latitude": 52.5, "longitude": 13.4, "timezone": "Europe/Berlin"},
     "technical_attributes": {"capacity_kw": 387, "tilt_deg": 30}},
    {"asset_id": "W1", "name": "Mill", "type": "wind", "status": "active",
     "location": {"latitude": 53.5, "longitude": 10.0, "timezone": "UTC"},
     "technical_attributes": {"capacity_kw": 4500, "hub_height_m": 120}}]}))

put("market_files", "prices", b"\x00delivery_start;price;currency\n2026-11-20T10:00:00Z;85.1;EUR\n")
put("market_files", "trades", b"\x01# Trades\nTradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n"
    b"T-1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:03Z;85.50;EUR;2.5;MW\n"
    b"T-2;BUY;2026-11-20T10:00:00+01:00;2026-11-20T10:15:00+01:00;2026-11-20T08:30:00Z;-3.20;EUR;0.25;MWh\n")
put("market_files", "imbalance", "\x02Datum;Zeitzone;von;bis;reBAP unterdeckt;reBAP ueberdeckt\n"
    "25.10.2026;CEST;02:00;02:15;1.234,56;1.234,56\n25.10.2026;CET;23:45;00:00;98,10;98,10\n")

put("contracts_bills", "contracts", "\x00# contracts\ncontract_id;resource_id;valid_from;price_model;fixed_price;fee_model;fee_value;vat_pct;redispatch_price\n"
    "C1;pv-1;2026-01-01;fixed;80;fixed_as_produced;2;19;\nC2;pv-2;2026-01-01;market;;percent_of_market;5;;70\n")
put("contracts_bills", "bills", "\x01site_id,month,currency,code,quantity,amount\n"
    "s1,2026-07,CNY,energy_peak,18400,18400.00\ns1,2026-07,CNY,late_fee,,50.00\n")
put("contracts_bills", "load", "\x02time,load_MW\n2026-07-01 00:00,1.5\n2026-07-01 00:15,2\n")
put("contracts_bills", "load-end", "\x06time;kW\n2026-07-01 00:15;10\n")

put("strategy_rules", "benchmark", json.dumps([
    {"name": "charge", "conditions": [{"field": "price_percentile", "operator": "<=", "value": 25}],
     "actions": [{"type": "charge"}]},
    {"name": "sell", "conditions": [{"any": [{"field": "hour", "operator": "between", "value": [17, 20]},
                                             {"field": "soc", "operator": ">", "value": 80}]}],
     "actions": [{"type": "bid", "side": "sell", "price": "forecast_price * 1.1 - 2", "quantity_mw": 0.5}]}]))

for i, f in enumerate(["forecast_price * 1.05 + 3", "-(actual_price - 10) / 2", "((1))", "soc / 0", "1e308 * 1e308"]):
    put("price_formula", str(i), f)

put("mqtt_payloads", "one", b'\x00{"ts":"2026-11-22T10:00:00Z","power_kw":-3.5,"soc_pct":40,"status":"online"}')
put("mqtt_payloads", "samples", b'\x00{"samples":[{"ts":1795341600000,"power_kw":1},{"ts":"2026-11-22T10:00:01Z","power_kw":2}]}')
put("mqtt_payloads", "compact", b'\x00{"t0":"2026-11-22T10:00:00Z","dt_ms":500,"power_kw":[1,2,3],"soc_pct":[50,51,52]}')
put("mqtt_payloads", "ack", b'\x01{"setpoint_id":"sp-1","status":"accepted"}')
put("mqtt_payloads", "setpoint", b'\x02{"setpoint_id":"sp-1","power_kw":-50,"valid_until":"2026-11-22T10:15:00Z"}')
put("mqtt_payloads", "topic", b"\x03vpp/berlin/res-1/telemetry")

put("weather_open_meteo", "hourly", json.dumps({
    "latitude": 52.52, "longitude": 13.42, "utc_offset_seconds": 0, "timezone": "GMT",
    "hourly_units": {"time": "iso8601", "temperature_2m": "°C", "wind_speed_10m": "km/h", "shortwave_radiation": "W/m²"},
    "hourly": {"time": ["2026-12-06T10:00", "2026-12-06T11:00", "2026-12-06T12:00"],
               "temperature_2m": [3.1, None, 4.0], "wind_speed_10m": [18.0, 21.6, 25.2],
               "shortwave_radiation": [80.0, 120.0, 110.0], "precipitation": [0, 0.1, 0]}}))
put("weather_open_meteo", "unixtime-berlin", json.dumps({
    "latitude": 52.5, "longitude": 13.4, "timezone": "Europe/Berlin", "utc_offset_seconds": 3600,
    "minutely_15": {"time": [1796551200, 1796552100], "wind_speed_100m": [12.5, 13.0], "surface_pressure": [1012.0, 1011.8]},
    "minutely_15_units": {"wind_speed_100m": "m/s", "surface_pressure": "hPa"}}))

mosmix_steps = "".join(f"<dwd:TimeStep>2026-12-06T{h:02d}:00:00.000Z</dwd:TimeStep>" for h in (10, 11, 12))
put("weather_mosmix", "station", f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<kml:kml xmlns:dwd="https://opendata.dwd.de/weather/lib/pointforecast_dwd_extension_V1_0.xsd" xmlns:kml="http://www.opengis.net/kml/2.2">
<kml:Document><kml:ExtendedData><dwd:ProductDefinition><dwd:IssueTime>2026-12-06T09:00:00.000Z</dwd:IssueTime>
<dwd:ForecastTimeSteps>{mosmix_steps}</dwd:ForecastTimeSteps></dwd:ProductDefinition></kml:ExtendedData>
<kml:Placemark><kml:name>10382</kml:name><kml:description>BERLIN-TEGEL &amp; M&#220;GGELSEE</kml:description><kml:ExtendedData>
<dwd:Forecast dwd:elementName="TTT"><dwd:value> 275.15 - 277.15</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="Rad1h"><dwd:value> 36.00 180.00 360.00</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="DD"><dwd:value> 250.00 260.00 270.00</dwd:value></dwd:Forecast>
</kml:ExtendedData><kml:Point><kml:coordinates>13.32,52.57,36.0</kml:coordinates></kml:Point></kml:Placemark>
</kml:Document></kml:kml>""")

put("field_devices", "boot", b'\x00[2,"19223201","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"}}]')
put("field_devices", "result", b'\x00[3,"19223201",{"status":"Accepted"}]')
put("field_devices", "error", b'\x00[4,"19223201","NotImplemented","no",{}]')
put("field_devices", "meter", b'\x01' + json.dumps({"evseId": 1, "meterValue": [{"timestamp": "2026-12-07T10:00:00Z",
    "sampledValue": [{"value": 7.4, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW", "multiplier": 0}},
                     {"value": 1200, "measurand": "Energy.Active.Import.Register"}, {"value": 41, "measurand": "SoC"}]}]}).encode())
put("field_devices", "transaction", b'\x02' + json.dumps({"eventType": "Started", "timestamp": "2026-12-07T10:00:00Z",
    "triggerReason": "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": "T-1"}, "evse": {"id": 1},
    "idToken": {"idToken": "04A1", "type": "ISO14443"}}).encode())
put("field_devices", "status", b'\x03{"timestamp":"2026-12-07T10:00:00Z","connectorStatus":"Faulted","evseId":1,"connectorId":1}')
# Smart charging (kinds 250-252): a vehicle's needs, a composite schedule, a profile.
put("field_devices", "needs", b'\xfa' + json.dumps({"evseId": 1, "chargingNeeds": {
    "requestedEnergyTransfer": "DC", "departureTime": "2026-12-07T17:00:00Z",
    "dcChargingParameters": {"evMaxCurrent": 200, "evMaxVoltage": 800, "evEnergyCapacity": 60000,
                             "stateOfCharge": 30, "fullSoC": 80}}}).encode())
put("field_devices", "composite", b'\xfb' + json.dumps({"status": "Accepted", "schedule": {
    "evseId": 1, "duration": 900, "scheduleStart": "2026-12-07T10:00:00Z", "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 300, "limit": 8}]}}).encode())
put("field_devices", "profile", b'\xfc' + json.dumps({"evseId": 1, "chargingProfile": {
    "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
    "transactionId": "T-1", "chargingSchedule": [{"id": 1, "chargingRateUnit": "W",
    "startSchedule": "2026-12-07T10:00:00Z", "duration": 900,
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3700}]}]}}).encode())
# A SunSpec device: marker, common model (1, length 66), inverter (103, 50), end.
regs = [0x5375, 0x6E53, 1, 66] + [0] * 66 + [103, 50] + [0] * 12 + [1234, 0] + [0] * 36 + [0xFFFF, 0]
put("field_devices", "sunspec", b'\x04' + b"".join(r.to_bytes(2, "big") for r in regs))
