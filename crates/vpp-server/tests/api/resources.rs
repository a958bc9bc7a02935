use std::str::FromStr;

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, field, now_rfc3339};

#[tokio::test]
async fn battery_from_template_derives_limits() {
    let app = TestApp::new().await;
    let r = app
        .create_resource(
            "BATTERY",
            "BESS 1",
            json!({"parameters": {"usable_energy_kwh": 500, "max_charge_kw": 200, "max_discharge_kw": 250}}),
        )
        .await;
    assert_eq!(r["capacity_kw"], 250.0);
    assert_eq!(r["min_power_kw"], -200.0);
    assert_eq!(r["max_power_kw"], 250.0);
    assert_eq!(r["efficiency"], 0.9);
    assert_eq!(r["category"], "STORAGE");
    assert_eq!(r["parameters"]["soc_min_pct"], 10.0);
    assert_eq!(r["location"]["timezone"], "Europe/Berlin");
    let (s, got) = app.get(&format!("/api/v1/vpp/resource-instances/{}", r["id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, r);
}

/// Sets the value at a JSON pointer, creating the last key if needed.
fn set(body: &mut serde_json::Value, pointer: &str, value: serde_json::Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let target = if parent.is_empty() { body } else { body.pointer_mut(parent).expect("parent") };
    target[key] = value;
}

#[tokio::test]
async fn bad_resources_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let tid = app.template_id("BATTERY").await;
    let base = json!({
        "template_id": tid, "name": "B", "location": {"lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin"},
        "device_address": "x", "parameters": {"usable_energy_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50}
    });
    let cases = [
        ("/parameters/usable_energy_kwh", json!(-1), "parameters.usable_energy_kwh"),
        ("/parameters/max_charge_kw", json!("fast"), "parameters.max_charge_kw"),
        ("/parameters/soc_min_pct", json!(95), "parameters.soc_min_pct"),
        ("/parameters/colour", json!("red"), "parameters.colour"),
        ("/location/timezone", json!("Mars/Olympus"), "location.timezone"),
        ("/location/lat", json!(123), "location.lat"),
        ("/template_id", json!("no-such-template"), "template_id"),
        ("/efficiency", json!(1.5), "efficiency"),
        ("/min_power_kw", json!(100), "min_power_kw"),
        ("/capacity_kw", json!("big"), "capacity_kw"),
    ];
    for (pointer, value, expected) in cases {
        let mut body = base.clone();
        set(&mut body, pointer, value);
        let (s, p) = app.post("/api/v1/vpp/resource-instances", body).await;
        assert!(s == StatusCode::UNPROCESSABLE_ENTITY, "{pointer}: {s} {p}");
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .map(|e| e.iter().map(|x| x["field"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert!(field(&p) == expected || fields.contains(&expected), "{pointer}: expected {expected}, got {p}");
    }
    let (_, list) = app.get("/api/v1/vpp/resource-instances").await;
    assert_eq!(list["total"], 0);
    // Duplicate names conflict.
    let (s, _) = app.post("/api/v1/vpp/resource-instances", base.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, p) = app.post("/api/v1/vpp/resource-instances", base).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&p), "name");
}

#[tokio::test]
async fn list_filters_and_pages() {
    let app = TestApp::new().await;
    for i in 0..5 {
        app.create_resource("PV", &format!("PV {i}"), json!({"parameters": {"peak_kw": 10 + i, "inverter_kw": 10}}))
            .await;
    }
    let wind = app.create_resource("WIND", "Turbine", json!({"parameters": {"rated_kw": 3000}})).await;
    app.set_status(wind["id"].as_str().unwrap(), "MAINTENANCE").await;
    let pv_tid = app.template_id("PV").await;
    let (_, pv) = app.get(&format!("/api/v1/vpp/resource-instances?template_id={pv_tid}&size=2&page=3")).await;
    assert_eq!(pv["total"], 5);
    assert_eq!(pv["items"].as_array().unwrap().len(), 1);
    assert_eq!(pv["items"][0]["name"], "PV 4");
    let (_, m) = app.get("/api/v1/vpp/resource-instances?status=MAINTENANCE").await;
    assert_eq!(m["total"], 1);
    assert_eq!(m["items"][0]["name"], "Turbine");
    // Sorted server-side: the largest capacity first, across pages.
    let (_, by_capacity) = app.get("/api/v1/vpp/resource-instances?sort=-capacity_kw&size=2").await;
    assert_eq!(by_capacity["items"][0]["name"], "Turbine");
    assert_eq!(by_capacity["items"][1]["name"], "PV 0", "equal capacities (10 kW inverters) in name order");
    let (_, desc) = app.get("/api/v1/vpp/resource-instances?sort=-name&size=1").await;
    assert_eq!(desc["items"][0]["name"], "Turbine");
    // Found by schemathesis: a page far beyond the data overflowed the offset.
    for path in ["/api/v1/vpp/resource-instances", "/api/v1/auth/users", "/api/v1/vpp/series"] {
        let (s, far) = app.get(&format!("{path}?page=9223372036854775806&size=727")).await;
        assert_eq!(s, StatusCode::OK, "{path}: {far}");
        assert_eq!(far["items"].as_array().map(Vec::len), Some(0), "{path}: {far}");
    }
    for bad in ["size=0", "size=5000", "page=0", "status=BROKEN", "sort=height", "order=name", "page=x"] {
        let (s, p) = app.get(&format!("/api/v1/vpp/resource-instances?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(field(&p), bad.split('=').next().unwrap(), "{bad}: {p}");
    }
}

#[tokio::test]
async fn update_is_partial_and_validated() {
    let app = TestApp::new().await;
    let r = app
        .create_resource(
            "BATTERY",
            "B",
            json!({"parameters": {"usable_energy_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50}}),
        )
        .await;
    let id = r["id"].as_str().unwrap();
    let (s, u) = app
        .put(
            &format!("/api/v1/vpp/resource-instances/{id}"),
            json!({"marginal_cost": 35.5, "parameters": {"max_discharge_kw": 80}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["marginal_cost"], 35.5);
    assert_eq!(u["max_power_kw"], 80.0, "limits follow the parameters");
    assert_eq!(u["name"], "B");
    let (s, p) =
        app.put(&format!("/api/v1/vpp/resource-instances/{id}"), json!({"parameters": {"soc_max_pct": 5}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "parameters.soc_min_pct");
    let (s, p) = app.put(&format!("/api/v1/vpp/resource-instances/{id}"), json!({"template_id": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "template_id");
    let (_, after) = app.get(&format!("/api/v1/vpp/resource-instances/{id}")).await;
    assert_eq!(after, u, "refused updates change nothing");
    assert_eq!(app.put("/api/v1/vpp/resource-instances/nope", json!({})).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn status_changes_are_recorded_with_reason() {
    let app = TestApp::new().await;
    let r = app.create_resource("WIND", "T1", json!({"parameters": {"rated_kw": 2000}})).await;
    let id = r["id"].as_str().unwrap();
    let (s, body) = app
        .put(
            &format!("/api/v1/vpp/resource-instances/{id}/status"),
            json!({"status": "MAINTENANCE", "reason": "gearbox"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["resource"]["status"], "MAINTENANCE");
    assert_eq!(body["change"]["from_status"], "ONLINE");
    let (s, p) = app
        .put(&format!("/api/v1/vpp/resource-instances/{id}/status"), json!({"status": "ONLINE", "reason": "  "}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "reason");
    let (s, p) = app
        .put(&format!("/api/v1/vpp/resource-instances/{id}/status"), json!({"status": "BROKEN", "reason": "x"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "status");
    let (_, history) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/status-history")).await;
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["reason"], "gearbox");
    assert_eq!(h[0]["to_status"], "MAINTENANCE");
    assert!(h[0]["changed_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn realtime_data_comes_only_from_telemetry() {
    let app = TestApp::new().await;
    let id = app.battery("B", 100.0, 50.0, 10.0).await;
    let (s, p) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(p["type"], "urn:vpp:problem:no-telemetry");
    assert_eq!(
        app.get("/api/v1/vpp/resource-instances/nope/realtime-data").await.1["type"],
        "urn:vpp:problem:not-found"
    );

    let ts = now_rfc3339();
    let samples = json!([{"ts": "2026-01-01T00:00:00Z", "power_kw": 10.0, "soc_pct": 40.0}, {"ts": ts, "power_kw": -20.5, "soc_pct": 41.5, "temperature_c": 25.0, "energy_kwh": 1234.5}]);
    let (s, a) = app.telemetry(&id, samples.clone()).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["accepted"], 2);
    let (_, again) = app.telemetry(&id, samples).await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicates"], 2);
    let (s, rt) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
    assert_eq!(s, StatusCode::OK, "{rt}");
    assert_eq!(rt["power_kw"], -20.5);
    assert_eq!(rt["soc_pct"], 41.5);
    assert_eq!(rt["temperature_c"], 25.0);
    assert_eq!(rt["energy_kwh"], 1234.5);

    // Out of range (a unit mistake: W for kW) refuses the whole batch.
    let (s, p) = app.telemetry(&id, json!([{"ts": ts, "power_kw": 1.0}, {"ts": ts, "power_kw": 50000.0}])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "samples[1].power_kw");
    let (s, p) = app.telemetry(&id, json!([{"ts": ts, "power_kw": 1.0, "soc_pct": 140}])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "samples[0].soc_pct");
    let (s, p) = app.telemetry(&id, json!([{"ts": "yesterday", "power_kw": 1.0}])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "samples[0].ts");
    let (s, _) = app.telemetry(&id, json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, rt2) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
    assert_eq!(rt2["power_kw"], -20.5, "refused batches change nothing");
}

#[tokio::test]
async fn a_physical_forecast_of_pv_is_stored_and_wind_without_weather_is_refused() {
    let app = TestApp::new().await;
    let pv = app
        .create_resource(
            "PV",
            "Roof 1",
            json!({"parameters": {"peak_kw": 430, "inverter_kw": 387, "tilt_deg": 25, "azimuth_deg": 180}}),
        )
        .await;
    let path = format!("/api/v1/vpp/resource-instances/{}/physical-forecast", pv["id"].as_str().unwrap());
    let (s, f) = app.post(&path, json!({"hours": 24})).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["weather"], "clear_sky");
    assert_eq!(f["intervals"], 96);
    assert_eq!(f["resolution_s"], 900);
    // Any 24 hours at 52.5° N have daylight, and the inverter clips at 387 kW.
    let peak = f["peak_kw"].as_f64().unwrap();
    assert!(peak > 0.0 && peak <= 387.0, "{f}");
    let start = jiff::Timestamp::from_str(f["start"].as_str().unwrap()).unwrap();
    let end = start + jiff::SignedDuration::from_hours(24);
    let (s, stored) = app
        .get(&format!("/api/v1/vpp/series/{}/beliefs?start={start}&end={end}", f["series_id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK, "{stored}");
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 96);
    assert!(stored.iter().all(|b| b["source"] == "forecast" && b["belief_time"] == f["belief_time"]));
    assert!(stored.iter().any(|b| b["value"] == 0.0), "night is dark: {stored:?}");
    let energy: f64 = stored.iter().map(|b| b["value"].as_f64().unwrap() / 4.0).sum();
    assert!((energy - f["energy_kwh"].as_f64().unwrap()).abs() < 0.1, "{energy} {f}");

    for (body, field_name) in
        [(json!({"hours": 0}), "hours"), (json!({"hours": 241}), "hours"), (json!({"days": 1}), "days")]
    {
        let (s, p) = app.post(&path, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(field(&p), field_name, "{p}");
    }

    // A turbine without its own curve gets no fixed 3.4 MW default any more;
    // without weather it cannot be forecast, and the refusal says why.
    let wind = app.create_resource("WIND", "WT 1", json!({"parameters": {"rated_kw": 4500}})).await;
    assert!(wind["parameters"].get("power_curve").is_none(), "{wind}");
    let (s, p) = app
        .post(&format!("/api/v1/vpp/resource-instances/{}/physical-forecast", wind["id"].as_str().unwrap()), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("wind speed forecast"), "{p}");
    let battery = app.battery("B1", 100.0, 50.0, 10.0).await;
    let (s, p) = app.post(&format!("/api/v1/vpp/resource-instances/{battery}/physical-forecast"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(field(&p), "resource_id", "{p}");
    let (s, _) = app.post("/api/v1/vpp/resource-instances/ghost/physical-forecast", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// An Open-Meteo answer for the test resources' place (52.5 N, 13.4 E):
/// `hours` hours from the hour before now, wind 54 km/h at 100 m, 300 W/m², 5 °C.
fn open_meteo(hours: usize, wind_len: usize) -> serde_json::Value {
    let now = jiff::Timestamp::now().as_second();
    let first = now - now.rem_euclid(3600) - 3600;
    let times: Vec<i64> = (0..hours as i64).map(|h| first + h * 3600).collect();
    json!({
        "latitude": 52.5, "longitude": 13.4, "utc_offset_seconds": 0, "timezone": "GMT",
        "hourly_units": {"time": "unixtime", "wind_speed_100m": "km/h", "shortwave_radiation": "W/m²", "temperature_2m": "°C"},
        "hourly": {
            "time": times,
            "wind_speed_100m": vec![54.0; wind_len],
            "shortwave_radiation": vec![300.0; hours],
            "temperature_2m": vec![5.0; hours],
            "precipitation": vec![0.0; hours]
        }
    })
}

#[tokio::test]
async fn imported_weather_drives_the_physical_forecasts_of_turbines_and_plants_nearby() {
    let app = TestApp::new().await;
    let import = "/api/v1/vpp/weather/open-meteo";
    // A bad file names its field and creates nothing.
    let (s, p) = app.post(import, open_meteo(51, 50)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "hourly.wind_speed_100m", "{p}");
    let (_, none) = app.get("/api/v1/vpp/series?owner_kind=weather").await;
    assert_eq!(none["total"], 0, "{none}");

    let (s, r) = app.post(import, open_meteo(51, 51)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["weather_point"], "52.500,13.400");
    assert_eq!(r["resolution_s"], 3600);
    assert_eq!(r["ignored"], json!(["precipitation"]));
    let series = r["series"].as_array().unwrap();
    assert_eq!(series.len(), 3);
    assert!(series.iter().all(|c| c["accepted"] == 51 && c["duplicates"] == 0), "{r}");
    let (_, again) =
        app.post(&format!("{import}?issued_at={}", r["issued_at"].as_str().unwrap()), open_meteo(51, 51)).await;
    assert!(again["series"].as_array().unwrap().iter().all(|c| c["accepted"] == 0 && c["duplicates"] == 51), "{again}");

    // 15 m/s at 100 m is above rated at the hub: the 4.5 MW turbine runs flat out.
    let wind = app.create_resource("WIND", "WT 2", json!({"parameters": {"rated_kw": 4500}})).await;
    let (s, f) = app
        .post(
            &format!("/api/v1/vpp/resource-instances/{}/physical-forecast", wind["id"].as_str().unwrap()),
            json!({"hours": 24}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["weather"], "forecast");
    assert_eq!(f["weather_point"], "52.500,13.400");
    assert_eq!(f["generic_power_curve"], true);
    assert_eq!(f["intervals"], 96);
    assert_eq!(f["peak_kw"], 4500.0);
    assert_eq!(f["energy_kwh"], 4500.0 * 24.0);

    let pv = app.create_resource("PV", "Roof 2", json!({"parameters": {"peak_kw": 100, "inverter_kw": 90}})).await;
    let (s, f) = app
        .post(&format!("/api/v1/vpp/resource-instances/{}/physical-forecast", pv["id"].as_str().unwrap()), json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["weather"], "forecast", "{f}");
    assert_eq!(f["intervals"], 192);
    assert_eq!(
        f["clear_sky_intervals"], 0,
        "51 hours of weather (radiation stamped at each hour's end) cover 48 from now"
    );
    let (peak, energy) = (f["peak_kw"].as_f64().unwrap(), f["energy_kwh"].as_f64().unwrap());
    assert!(peak > 0.0 && peak <= 90.0 && energy > 0.0, "{f}");
}

/// A MOSMIX KML of one station at 52.5 N, 13.4 E, hourly from the hour
/// before now for `hours` hours: 8 m/s at 10 m, 720 kJ/m² an hour (200 W/m²),
/// 278.15 K; `ff_last` ends the wind row.
fn mosmix(hours: i64, ff_last: &str) -> String {
    let now = jiff::Timestamp::now().as_second();
    let first = now - now.rem_euclid(3600) - 3600;
    let steps: String = (0..hours)
        .map(|h| {
            let t = jiff::Timestamp::from_second(first + h * 3600).unwrap();
            format!("<dwd:TimeStep>{}</dwd:TimeStep>", t.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        })
        .collect();
    let row = |v: &str| vec![v; hours as usize].join(" ");
    let ff = format!("{} {ff_last}", vec!["8.00"; hours as usize - 1].join(" "));
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<kml:kml xmlns:dwd="https://opendata.dwd.de/weather/lib/pointforecast_dwd_extension_V1_0.xsd" xmlns:kml="http://www.opengis.net/kml/2.2">
<kml:Document><kml:ExtendedData><dwd:ProductDefinition>
<dwd:IssueTime>{issue}</dwd:IssueTime><dwd:ForecastTimeSteps>{steps}</dwd:ForecastTimeSteps>
</dwd:ProductDefinition></kml:ExtendedData>
<kml:Placemark><kml:name>T1234</kml:name><kml:description>TESTSTADT</kml:description><kml:ExtendedData>
<dwd:Forecast dwd:elementName="FF"><dwd:value>{ff}</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="Rad1h"><dwd:value>{rad}</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="TTT"><dwd:value>{ttt}</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="SunD1"><dwd:value>{rad}</dwd:value></dwd:Forecast>
</kml:ExtendedData><kml:Point><kml:coordinates>13.4,52.5,40.0</kml:coordinates></kml:Point></kml:Placemark>
</kml:Document></kml:kml>"#,
        issue = jiff::Timestamp::from_second(first - 3600).unwrap(),
        rad = row("720.00"),
        ttt = row("278.15"),
    )
}

async fn post_file(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
    let (s, v, _) = app.request(axum::http::Method::POST, path, Some(content_type), body).await;
    (s, v)
}

#[tokio::test]
async fn a_mosmix_station_forecast_drives_the_turbines_near_it() {
    let app = TestApp::new().await;
    let import = "/api/v1/vpp/weather/mosmix";
    let (s, p) = post_file(&app, import, "application/octet-stream", mosmix(50, "fast").into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "Placemark[T1234].Forecast[FF][49]", "{p}");
    let (_, none) = app.get("/api/v1/vpp/series?owner_kind=weather").await;
    assert_eq!(none["total"], 0, "a refused file stores nothing: {none}");
    let (s, p) =
        post_file(&app, &format!("{import}?stations=99999"), "application/xml", mosmix(50, "8.00").into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "stations", "{p}");

    let (s, r) =
        post_file(&app, &format!("{import}?stations=T1234"), "application/xml", mosmix(50, "-").into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["ignored"], json!(["SunD1"]));
    let station = &r["stations"][0];
    assert_eq!(station["station"], json!({"id": "T1234", "name": "TESTSTADT"}));
    assert_eq!(station["weather_point"], "52.500,13.400");
    let wind = station["series"].as_array().unwrap().iter().find(|c| c["variable"] == "FF").unwrap().clone();
    assert_eq!((wind["accepted"].as_u64(), wind["nulls"].as_u64()), (Some(49), Some(1)), "{r}");

    // 8 m/s at 10 m is about 12 m/s at a 120 m hub over open land: near rated.
    let turbine = app.create_resource("WIND", "WT 3", json!({"parameters": {"rated_kw": 3000}})).await;
    let (s, f) = app
        .post(
            &format!("/api/v1/vpp/resource-instances/{}/physical-forecast", turbine["id"].as_str().unwrap()),
            json!({"hours": 24}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["weather"], "forecast");
    let peak = f["peak_kw"].as_f64().unwrap();
    assert!((2000.0..=3000.0).contains(&peak), "{f}");
    let (s, near) =
        app.get(&format!("/api/v1/vpp/resource-instances/{}/weather", turbine["id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{near}");
    assert_eq!(near["weather_point"], "52.500,13.400");
    assert_eq!(near["distance_km"], 0.0);
    assert_eq!(near["series"].as_array().unwrap().len(), 3, "FF, Rad1h and TTT: {near}");
}
