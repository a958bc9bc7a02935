use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

async fn power_series(app: &TestApp, name: &str) -> String {
    let r = app.create_resource("WIND", &format!("{name} turbine"), json!({"parameters": {"rated_kw": 3000}})).await;
    app.power_series("resource", r["id"].as_str().unwrap(), name).await
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn values(v: &Value) -> Vec<f64> {
    v["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect()
}

#[tokio::test]
async fn series_are_validated() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    let (_, got) = app.get(&format!("/api/v1/vpp/series/{id}")).await;
    assert_eq!(got["unit"], "kW");
    assert_eq!(got["resolution_s"], 900);
    let (s, price) = app
        .post("/api/v1/vpp/series", json!({"name": "DE day-ahead", "owner_kind": "market", "owner_id": "EPEX-DE-DA", "quantity": "price", "unit": "EUR/MWh", "resolution_s": 3600}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{price}");
    for (body, expected) in [
        (json!({"name": "x", "owner_kind": "resource", "owner_id": "ghost", "quantity": "power"}), "owner_id"),
        (json!({"name": "x", "owner_kind": "market", "owner_id": "m", "quantity": "power", "unit": "kWh"}), "unit"),
        (json!({"name": "x", "owner_kind": "market", "owner_id": "m", "quantity": "price", "unit": "dollars"}), "unit"),
        (
            json!({"name": "x", "owner_kind": "market", "owner_id": "m", "quantity": "power", "resolution_s": 7}),
            "resolution_s",
        ),
        (json!({"name": "x", "owner_kind": "planet", "owner_id": "m", "quantity": "power"}), "owner_kind"),
    ] {
        let (s, p) = app.post("/api/v1/vpp/series", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {p}");
        assert_eq!(field(&p), expected, "{body}: {p}");
    }
    let (s, p) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "T1 power", "owner_kind": "market", "owner_id": "m", "quantity": "power"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&p), "name");
    let (_, list) = app.get("/api/v1/vpp/series?quantity=price").await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn ingest_converts_units_is_idempotent_and_reports_bad_rows() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    let path = format!("/api/v1/vpp/series/{id}/beliefs");
    let batch = json!({"unit": "MW", "beliefs": [
        {"event_start": "2026-11-20T10:00:00Z", "belief_time": "2026-11-19T06:00:00Z", "source": "forecast", "value": 1.5},
        {"event_start": "2026-11-20T10:15:00Z", "belief_time": "2026-11-19T06:00:00Z", "source": "forecast", "value": 2.0},
        {"event_start": "2026-11-20T10:07:00Z", "belief_time": "2026-11-19T06:00:00Z", "source": "forecast", "value": 2.0},
        {"event_start": "2026-11-20T10:30:00Z", "belief_time": "2099-01-01T00:00:00Z", "source": "forecast", "value": 2.0},
        {"event_start": "2026-11-20T10:03:12Z", "belief_time": "2026-11-20T10:03:13Z", "source": "live_measurement", "value": 1.2}
    ]});
    let (s, r) = app.post(&path, batch.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["accepted"], 3);
    let rejected: Vec<u64> = r["rejected"].as_array().unwrap().iter().map(|x| x["line"].as_u64().unwrap()).collect();
    assert_eq!(rejected, vec![2, 3]);
    assert!(r["rejected"][0]["reason"].as_str().unwrap().contains("grid"));
    let (_, again) = app.post(&path, batch).await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicates"], 3);
    // A batch mixing stored and new beliefs (and one repeated inside the
    // batch) stores only the new one; on PostgreSQL this takes the staging path.
    let mixed = json!({"unit": "MW", "beliefs": [
        {"event_start": "2026-11-20T10:00:00Z", "belief_time": "2026-11-19T06:00:00Z", "source": "forecast", "value": 1.5},
        {"event_start": "2026-11-20T10:00:00Z", "belief_time": "2026-11-19T07:00:00Z", "source": "forecast", "value": 1.6},
        {"event_start": "2026-11-20T10:00:00Z", "belief_time": "2026-11-19T07:00:00Z", "source": "forecast", "value": 1.6}
    ]});
    let (s, r) = app.post(&path, mixed).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["accepted"], 1, "{r}");
    assert_eq!(r["duplicates"], 2, "{r}");
    let (_, raw) = app.get(&format!("{path}?start=2026-11-20T00:00:00Z&end=2026-11-21T00:00:00Z")).await;
    let raw = raw.as_array().unwrap();
    assert_eq!(raw.len(), 4);
    assert_eq!(raw[0]["value"], 1500.0, "MW converted to kW");
    let (_, only_live) =
        app.get(&format!("{path}?start=2026-11-20T00:00:00Z&end=2026-11-21T00:00:00Z&source=live_measurement")).await;
    assert_eq!(only_live.as_array().unwrap().len(), 1);

    let (s, p) = app.post(&path, json!({"unit": "kWh", "beliefs": [{"event_start": "2026-11-20T10:00:00Z", "source": "forecast", "value": 1}]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "unit");
    let (s, p) = app.post(&path, json!({"beliefs": []})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "beliefs");
    let (s, p) = app.post(&path, json!({"beliefs": [{"event_start": "noon", "source": "forecast", "value": 1}]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "beliefs[0].event_start");
    assert_eq!(app.post("/api/v1/vpp/series/ghost/beliefs", json!({"beliefs": []})).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn versioned_views_latest_as_of_tradeable_and_day_ahead() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    // Delivery 2026-11-21 10:00 UTC (11:00 Berlin). Versions: D-2 09:00, D-1 11:00 (before 12:00 local),
    // D-1 15:00, and 09:44:59 / 09:46 on the day (gate closure 09:45).
    let versions = [
        ("2026-11-19T09:00:00Z", 100.0),
        ("2026-11-20T10:00:00Z", 200.0),
        ("2026-11-20T14:00:00Z", 300.0),
        ("2026-11-21T09:44:59Z", 400.0),
        ("2026-11-21T09:46:00Z", 500.0),
    ];
    let beliefs: Vec<Value> = versions
        .iter()
        .map(
            |(v, x)| json!({"event_start": "2026-11-21T10:00:00Z", "belief_time": v, "source": "forecast", "value": x}),
        )
        .collect();
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{id}/beliefs"), json!({"beliefs": beliefs})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let base = format!("/api/v1/vpp/series/{id}/values?day=2026-11-21&tz=Europe/Berlin");
    let (_, latest) = app.get(&base).await;
    assert_eq!(values(&latest), vec![500.0]);
    assert_eq!(latest["points"][0]["start_local"], "2026-11-21T11:00:00+01:00");
    assert_eq!(latest["points"][0]["end"], "2026-11-21T10:15:00Z");
    let (_, tradeable) = app.get(&format!("{base}&view=tradeable")).await;
    assert_eq!(values(&tradeable), vec![400.0]);
    let (_, early_gate) = app.get(&format!("{base}&view=tradeable&gate_closure_minutes=60")).await;
    assert_eq!(values(&early_gate), vec![300.0]);
    let (_, day_ahead) = app.get(&format!("{base}&view=day_ahead")).await;
    assert_eq!(values(&day_ahead), vec![200.0], "{day_ahead}");
    // Two delivery days, each with its own D-1 12:00 cutoff.
    let next_day = json!({"beliefs": [
        {"event_start": "2026-11-22T10:00:00Z", "belief_time": "2026-11-21T10:59:00Z", "source": "forecast", "value": 600.0},
        {"event_start": "2026-11-22T10:00:00Z", "belief_time": "2026-11-21T11:01:00Z", "source": "forecast", "value": 700.0}
    ]});
    assert_eq!(app.post(&format!("/api/v1/vpp/series/{id}/beliefs"), next_day).await.0, StatusCode::OK);
    let two_days = format!(
        "/api/v1/vpp/series/{id}/values?start=2026-11-20T23:00:00Z&end=2026-11-22T23:00:00Z&tz=Europe/Berlin&view=day_ahead"
    );
    let (_, day_ahead) = app.get(&two_days).await;
    assert_eq!(values(&day_ahead), vec![200.0, 600.0], "{day_ahead}");
    let (_, as_of) = app.get(&format!("{base}&view=as_of&as_of=2026-11-20T00:00:00Z")).await;
    assert_eq!(values(&as_of), vec![100.0]);
    // Windows off the 15-minute grid: the interval starting at 10:00 is in
    // [09:50, 10:05) and in [10:00, 10:00:01), not in [10:00:01, 10:30).
    for (start, end, expected) in [
        ("2026-11-21T09:50:00Z", "2026-11-21T10:05:00Z", vec![500.0]),
        ("2026-11-21T10:00:00Z", "2026-11-21T10:00:01Z", vec![500.0]),
        ("2026-11-21T10:00:01Z", "2026-11-21T10:30:00Z", vec![]),
    ] {
        let (s, r) = app.get(&format!("/api/v1/vpp/series/{id}/values?start={start}&end={end}")).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(values(&r), expected, "[{start}, {end})");
    }
    for (q, expected) in [
        ("view=as_of", "as_of"),
        ("view=magic", "view"),
        ("tz=Mars/Base", "tz"),
        ("day=2026-13-01", "day"),
        ("start=2026-11-21T00:00:00Z", "end"),
        ("view=tradeable&gate_closure_minutes=-5", "gate_closure_minutes"),
    ] {
        let (s, p) = app.get(&format!("/api/v1/vpp/series/{id}/values?{q}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {p}");
        assert_eq!(field(&p), expected, "{q}: {p}");
    }
}

async fn fill_day(app: &TestApp, id: &str, day: &str, tz: &str) -> usize {
    let zone = jiff::tz::TimeZone::get(tz).unwrap();
    let intervals =
        vpp_domain::series::delivery_day(day.parse().unwrap(), &zone, SignedDuration::from_mins(15)).unwrap();
    let beliefs: Vec<Value> = intervals
        .iter()
        .map(|t| json!({"event_start": t.to_string(), "belief_time": "2026-01-01T00:00:00Z", "source": "forecast", "value": 1.0}))
        .collect();
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{id}/beliefs"), json!({"beliefs": beliefs})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    intervals.len()
}

#[tokio::test]
async fn delivery_days_follow_the_market_time_zone_across_dst() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    for (day, tz, expected) in
        [("2026-03-29", "Europe/Berlin", 92), ("2026-10-25", "Europe/Berlin", 100), ("2026-10-25", "Asia/Shanghai", 96)]
    {
        let other = power_series(&app, &format!("{day} {tz}")).await;
        assert_eq!(fill_day(&app, &other, day, tz).await, expected);
        let (_, v) = app.get(&format!("/api/v1/vpp/series/{other}/values?day={day}&tz={tz}")).await;
        assert_eq!(v["points"].as_array().unwrap().len(), expected, "{day} {tz}");
    }
    // On the autumn switch the local clock shows 02:00 twice, with two offsets.
    let other = power_series(&app, "autumn").await;
    fill_day(&app, &other, "2026-10-25", "Europe/Berlin").await;
    let (_, v) = app.get(&format!("/api/v1/vpp/series/{other}/values?day=2026-10-25&tz=Europe/Berlin")).await;
    let locals: Vec<&str> =
        v["points"].as_array().unwrap().iter().map(|p| p["start_local"].as_str().unwrap()).collect();
    assert!(
        locals.contains(&"2026-10-25T02:00:00+02:00") && locals.contains(&"2026-10-25T02:00:00+01:00"),
        "{locals:?}"
    );
    let _ = id;
}

#[tokio::test]
async fn measurements_resample_with_coverage_and_visible_gaps() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    let t0 = ts("2026-11-20T10:00:00Z");
    let at = |secs: i64| (t0 + SignedDuration::from_secs(secs)).to_string();
    // Every minute from 10:00 to 10:14 at 60 kW, a correction at 10:05 (120 kW arrives later), then silence.
    let mut beliefs: Vec<Value> = (0..15)
        .map(|m| json!({"event_start": at(m * 60), "belief_time": at(m * 60 + 1), "source": "live_measurement", "value": 60.0}))
        .collect();
    beliefs.push(json!({"event_start": at(300), "belief_time": at(600), "source": "live_measurement", "value": 120.0}));
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{id}/beliefs"), json!({"beliefs": beliefs})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, v) = app
        .get(&format!(
            "/api/v1/vpp/series/{id}/resampled?start=2026-11-20T10:00:00Z&end=2026-11-20T10:45:00Z&max_hold_minutes=2"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert!((points[0]["value"].as_f64().unwrap() - 64.0).abs() < 1e-9, "{}", points[0]);
    assert!((points[0]["coverage"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!(
        (points[1]["coverage"].as_f64().unwrap() - 1.0 / 15.0).abs() < 1e-9,
        "the last sample holds 2 minutes: {}",
        points[1]
    );
    assert_eq!(points[2]["value"], Value::Null);
    assert_eq!(points[2]["coverage"], 0.0);
}

fn belief(start: &str, version: &str, source: &str, value: f64) -> Value {
    json!({"event_start": start, "belief_time": version, "source": source, "value": value})
}

#[tokio::test]
async fn best_of_infeed_and_accuracy() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    let mut beliefs = vec![
        belief("2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z", "meter_final", 100.0),
        belief("2026-11-20T10:00:00Z", "2026-11-19T09:00:00Z", "forecast", 90.0),
        belief("2026-11-20T10:00:00Z", "2026-11-20T09:30:00Z", "forecast", 100.0),
        belief("2026-11-20T10:15:00Z", "2026-11-19T09:00:00Z", "forecast", 50.0),
        belief("2026-11-20T10:15:00Z", "2026-11-20T09:45:00Z", "forecast", 60.0),
        belief("2026-11-20T10:30:00Z", "2026-11-20T09:00:00Z", "forecast", 70.0),
        belief("2026-11-20T10:45:00Z", "2026-11-20T09:00:00Z", "forecast", 50.0),
        belief("2026-11-20T10:45:00Z", "2026-11-20T10:40:00Z", "flag", 1.0),
        // A flag on a measured quarter-hour: the measurement stands.
        belief("2026-11-20T10:15:00Z", "2026-11-20T10:10:00Z", "flag", 1.0),
    ];
    for m in 0..15 {
        let t = ts("2026-11-20T10:15:00Z") + SignedDuration::from_mins(m);
        beliefs.push(belief(&t.to_string(), &t.to_string(), "live_measurement", 60.0));
    }
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{id}/beliefs"), json!({"beliefs": beliefs})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let window = "start=2026-11-20T10:00:00Z&end=2026-11-20T11:15:00Z";
    let (s, infeed) = app.get(&format!("/api/v1/vpp/series/{id}/best-of-infeed?{window}")).await;
    assert_eq!(s, StatusCode::OK, "{infeed}");
    let got: Vec<(Value, Value, Value)> = infeed["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["value"].clone(), p["source"].clone(), p["redispatched"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!(100.0), json!("meter_final"), json!(false)),
            (json!(60.0), json!("live_measurement"), json!(true)),
            (json!(70.0), json!("forecast"), json!(false)),
            (json!(0.0), Value::Null, json!(true)),
            (Value::Null, Value::Null, json!(false)),
        ]
    );
    let (_, forecast_first) =
        app.get(&format!("/api/v1/vpp/series/{id}/best-of-infeed?{window}&priority=forecast,meter_final")).await;
    assert_eq!(forecast_first["points"][0]["value"], 100.0);
    assert_eq!(forecast_first["points"][0]["source"], "forecast");
    let (s, p) = app.get(&format!("/api/v1/vpp/series/{id}/best-of-infeed?{window}&priority=forecast,forecast")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "priority");

    let (s, acc) = app
        .get(&format!(
            "/api/v1/vpp/series/{id}/accuracy?start=2026-11-20T10:00:00Z&end=2026-11-20T10:30:00Z&horizons=0,1,24,48"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    let h = acc["horizons"].as_array().unwrap();
    assert_eq!(h[0]["accuracy"]["mae"], 0.0);
    assert_eq!(h[1]["accuracy"]["mae"], 10.0);
    assert_eq!(h[1]["accuracy"]["bias"], -10.0);
    assert_eq!(h[1]["accuracy"]["wape_pct"], 12.5);
    assert_eq!(h[2]["accuracy"]["n"], 2);
    assert_eq!(h[3]["accuracy"], Value::Null);
    let (s, p) = app.get(&format!("/api/v1/vpp/series/{id}/accuracy?{window}&horizons=soon")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "horizons");
}

async fn import(app: &TestApp, id: &str, query: &str, body: &[u8]) -> (StatusCode, Value) {
    let (s, v, _) = app
        .request(
            axum::http::Method::POST,
            &format!("/api/v1/vpp/series/{id}/import?{query}"),
            Some("text/csv"),
            body.to_vec(),
        )
        .await;
    (s, v)
}

async fn stored(app: &TestApp, id: &str) -> usize {
    stored_between(app, id, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").await
}

async fn stored_between(app: &TestApp, id: &str, start: &str, end: &str) -> usize {
    let (_, raw) = app.get(&format!("/api/v1/vpp/series/{id}/beliefs?start={start}&end={end}")).await;
    raw.as_array().unwrap().len()
}

#[tokio::test]
async fn csv_and_column_files_import_with_line_reports() {
    let app = TestApp::new().await;
    let id = power_series(&app, "T1 power").await;
    let csv = b"timestamp__utc_,power_mw_\n2026-11-20T10:00:00Z,1.5\n2026-11-20T10:15:00Z,x\n2026-11-20T10:07:00Z,2\n2026-11-20T10:30:00Z,2\n";
    let (s, p) = import(&app, &id, "format=csv", csv).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a forecast file needs its version: {p}");
    assert_eq!(field(&p), "belief_time_column");
    let (s, r) = import(&app, &id, "format=csv&belief_time=2026-11-19T06:00:00Z", csv).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["rows"], 4);
    assert_eq!(r["accepted"], 2);
    let lines: Vec<u64> = r["rejected"].as_array().unwrap().iter().map(|x| x["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4], "{r}");
    let (_, again) = import(&app, &id, "format=csv&belief_time=2026-11-19T06:00:00Z", csv).await;
    assert_eq!(again["accepted"], 0, "the same file twice changes nothing");
    let (_, raw) =
        app.get(&format!("/api/v1/vpp/series/{id}/beliefs?start=2026-11-20T00:00:00Z&end=2026-11-21T00:00:00Z")).await;
    assert_eq!(raw[0]["value"], 1500.0, "MW from the header");

    // German dialect: semicolons, decimal comma, local time, version column.
    let german = "Datum;Leistung_kW_;Version\n20.11.2026 12:00;1,5;19.11.2026 08:00\n".as_bytes();
    let q = "delimiter=%3B&decimal_comma=true&timestamp_format=%25d.%25m.%25Y%20%25H%3A%25M&timezone=Europe%2FBerlin&belief_time_column=Version";
    let (s, r) = import(&app, &id, q, german).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["accepted"], 1, "{r}");

    // Malformed as a whole: nothing is stored.
    let before = stored(&app, &id).await;
    for (q, body, expected) in [
        ("format=csv", &b"justonecolumn\n1\n"[..], "file"),
        (
            "format=csv&source=live_measurement&value_column=nope",
            &b"time,v\n2026-11-20T10:00:00Z,1\n"[..],
            "value_column",
        ),
        ("format=csv&source=live_measurement&unit=kWh", &b"time,v\n2026-11-20T10:00:00Z,1\n"[..], "unit"),
        ("format=xml", &b"<x/>"[..], "format"),
        ("format=columns", &b"{\"key\":"[..], "body"),
    ] {
        let (s, p) = import(&app, &id, q, body).await;
        assert!(s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST, "{q}: {s} {p}");
        assert_eq!(field(&p), expected, "{q}: {p}");
    }
    assert_eq!(stored(&app, &id).await, before);

    // Column-oriented JSON keyed by the resource id; epoch milliseconds.
    let (_, series) = app.get(&format!("/api/v1/vpp/series/{id}")).await;
    let owner = series["owner_id"].as_str().unwrap();
    let start = ts("2026-11-20T11:00:00Z").as_millisecond();
    let file = json!({"key": {"asset_id": owner}, "column_ids": ["start", "end", "version", "power"], "units": ["ms", "ms", "ms", "kW"],
        "values": [[start, start + 900_000], [start + 900_000, start + 1_800_000], [start - 3_600_000, start - 3_600_000], [10.0, 20.0]]});
    let (s, r) = import(&app, &id, "format=columns", file.to_string().as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["accepted"], 2);
    let mut wrong_key = file.clone();
    wrong_key["key"] = json!({"entity_id": "someone-else"});
    let (s, p) = import(&app, &id, "format=columns", wrong_key.to_string().as_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "key");
    let mut seconds = file.clone();
    seconds["units"][0] = json!("s");
    let (s, p) = import(&app, &id, "format=columns", seconds.to_string().as_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "units[0]");
    assert!(p["detail"].as_str().unwrap().contains("milliseconds"));
}

#[tokio::test]
async fn vpp_rollup_weights_members_by_allocation_ratio() {
    let app = TestApp::new().await;
    let a = app.generator("A", 500.0, 0.0, 10.0).await;
    let b = app.generator("B", 500.0, 0.0, 10.0).await;
    let c = app.generator("C", 500.0, 0.0, 10.0).await;
    let v = app
        .vpp("V", json!([{"resource_id": a}, {"resource_id": b, "allocation_ratio": 0.5}, {"resource_id": c}]))
        .await;
    let mut ids = Vec::new();
    for r in [&a, &b] {
        let (s, series) = app
            .post(
                "/api/v1/vpp/series",
                json!({"name": format!("{r} power"), "owner_kind": "resource", "owner_id": r, "quantity": "power"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(series["id"].as_str().unwrap().to_string());
    }
    let (s, p) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "second", "owner_kind": "resource", "owner_id": a, "quantity": "power"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one series per owner and quantity: {p}");
    let v1 = "2026-11-20T06:00:00Z";
    app.post(
        &format!("/api/v1/vpp/series/{}/beliefs", ids[0]),
        json!({"beliefs": [
        belief("2026-11-20T10:00:00Z", v1, "forecast", 100.0), belief("2026-11-20T10:15:00Z", v1, "forecast", 100.0)]}),
    )
    .await;
    app.post(
        &format!("/api/v1/vpp/series/{}/beliefs", ids[1]),
        json!({"beliefs": [belief("2026-11-20T10:00:00Z", v1, "forecast", 40.0)]}),
    )
    .await;
    let (s, r) = app
        .get(&format!(
            "/api/v1/vpp/vpps/{v}/rollup?start=2026-11-20T10:00:00Z&end=2026-11-20T11:00:00Z&tz=Asia/Shanghai"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["members_with_series"], 2);
    let points = r["points"].as_array().unwrap();
    assert_eq!(points[0]["value"], 120.0);
    assert_eq!(points[0]["members_with_data"], 2);
    assert_eq!(points[0]["start_local"], "2026-11-20T18:00:00+08:00");
    assert_eq!(points[1]["value"], 100.0);
    assert_eq!(points[1]["members_with_data"], 1);
    let (s, p) = app.get(&format!("/api/v1/vpp/vpps/{v}/rollup?view=sideways")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "view");
    assert_eq!(app.get("/api/v1/vpp/vpps/ghost/rollup").await.0, StatusCode::NOT_FOUND);
}

/// `n` live measurements a second apart from 2026-03-01.
fn measurements(n: usize) -> Vec<u8> {
    let start = ts("2026-03-01T00:00:00Z");
    let mut csv = String::from("time,power_kw\n");
    for i in 0..n {
        csv.push_str(&format!("{},{}\n", start + jiff::SignedDuration::from_secs(i as i64), i % 1000));
    }
    csv.into_bytes()
}

async fn first_hour(app: &TestApp, id: &str) -> usize {
    stored_between(app, id, "2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z").await
}

#[tokio::test]
async fn background_imports_report_progress_and_cancel_rolls_everything_back() {
    let app = TestApp::new().await;
    let id = power_series(&app, "Big import").await;
    let q = "format=csv&source=live_measurement&background=true";

    // A malformed file is refused at once: no job.
    let (s, p) = import(&app, &id, q, b"justonecolumn\n1\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "file");

    // Cancelled: the transaction rolls back, nothing of the file is stored.
    let file = measurements(200_000);
    let (s, job) = import(&app, &id, q, &file).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["state"], "running");
    assert_eq!(job["rows"], 200_000);
    let (s, asked) =
        app.post(&format!("/api/v1/vpp/import-jobs/{}/cancel", job["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{asked}");
    let ended = app.finished_job(&job).await;
    assert_eq!(ended["state"], "cancelled", "{ended}");
    assert!(ended["sent"].as_u64().unwrap() < 200_000, "{ended}");
    assert_eq!(first_hour(&app, &id).await, 0, "a cancelled import stores nothing");

    // Run to the end: progress rises to every row and the report is the
    // one the route answers without `background`.
    let (s, job) = import(&app, &id, q, &file).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let ended = app.finished_job(&job).await;
    assert_eq!(ended["state"], "done", "{ended}");
    assert_eq!(ended["sent"], 200_000);
    assert_eq!(ended["report"]["accepted"], 200_000, "{ended}");
    assert_eq!(ended["report"]["rows"], 200_000);
    assert_eq!(first_hour(&app, &id).await, 3600);
    // How each job ended is in the audit trail, under the caller's name.
    let (_, audit) = app.get("/api/v1/audit?entity_type=import_job&size=10").await;
    let ends: Vec<(&str, i64)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["after"]["state"].as_str().unwrap(), a["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(ends.len(), 2, "{audit}");
    assert!(ends.contains(&("done", 200)) && ends.contains(&("cancelled", 409)), "{ends:?}");
    assert_eq!(audit["items"][0]["actor_name"], "admin");
    let done = audit["items"].as_array().unwrap().iter().find(|a| a["after"]["state"] == "done").unwrap();
    assert_eq!(done["after"]["report"]["accepted"], 200_000, "{done}");
    assert_eq!(done["after"]["report"]["rejected_count"], 0, "{done}");
    assert_eq!(done["after"]["sent"], 200_000, "{done}");
    // Cancelling a finished job changes nothing.
    let (s, again) =
        app.post(&format!("/api/v1/vpp/import-jobs/{}/cancel", job["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["state"], "done");

    // Only callers who may import follow a job; unknown jobs are named.
    let viewer = app.token_for("viewer").await;
    let (s, p) = app.get_as(Some(&viewer), &format!("/api/v1/vpp/import-jobs/{}", job["id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("series:write"), "{p}");
    let (s, p) = app.get("/api/v1/vpp/import-jobs/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("nope"), "{p}");
}

/// Jobs are kept in the database: a job another process left running (it
/// died) is `interrupted` once a server starts, and a cancel asked here is
/// recorded for the process that runs a job.
#[tokio::test]
async fn a_job_left_running_by_a_dead_process_shows_interrupted_after_a_start() {
    let app = TestApp::new().await;
    let row = |id: &str| vpp_store::ImportJobRow {
        id: id.into(),
        kind: "series".into(),
        target_id: "s".into(),
        permission: "series:write".into(),
        started_by: None,
        state: "running".into(),
        rows: 100,
        sent: 0,
        cancel_requested: false,
        started_at: vpp_store::now(),
        finished_at: None,
        report: None,
        error: None,
    };
    app.store.create_import_job(&row("elsewhere")).await.unwrap();
    app.store.import_job_progress("elsewhere", 40).await.unwrap();
    let (s, job) = app.get("/api/v1/vpp/import-jobs/elsewhere").await;
    assert_eq!((s, job["state"].as_str(), job["sent"].as_u64()), (StatusCode::OK, Some("running"), Some(40)));
    let (s, job) = app.post("/api/v1/vpp/import-jobs/elsewhere/cancel", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{job}");
    assert!(app.store.import_job_progress("elsewhere", 50).await.unwrap(), "the running process sees the cancel");

    assert_eq!(app.store.interrupt_import_jobs(jiff::Timestamp::now(), None).await.unwrap(), 1);
    let (_, job) = app.get("/api/v1/vpp/import-jobs/elsewhere").await;
    assert_eq!(job["state"], "interrupted", "{job}");
    assert_eq!(job["sent"], 50);
    assert_eq!(job["error"]["type"], "urn:vpp:problem:interrupted", "{job}");
    assert!(job["finished_at"].is_string(), "{job}");
}

/// Files in the shapes their senders deliver, each with no flags or with
/// the one flag its error names.
#[tokio::test]
async fn series_files_as_their_senders_deliver_them() {
    let app = TestApp::new().await;
    let id = power_series(&app, "Park West power").await;
    let (_, series) = app.get(&format!("/api/v1/vpp/series/{id}")).await;
    let owner = series["owner_id"].as_str().unwrap().to_string();

    // A DSO meter file: ` UTC` times, MW in the header, nothing else said.
    let dso = b"timestamp,value_mw\n2025-06-08 00:00:00.000000 UTC,1.5\n2025-06-08 00:15:00.000000 UTC,1.25\n";
    let (s, r) = import(&app, &id, "source=meter_final", dso).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["accepted"].as_u64(), r["outcome"].as_str()), (Some(2), Some("complete")), "{r}");
    let (_, raw) =
        app.get(&format!("/api/v1/vpp/series/{id}/beliefs?start=2025-06-08T00:00:00Z&end=2025-06-08T00:30:00Z")).await;
    assert_eq!((raw[0]["value"].as_f64(), raw[1]["value"].as_f64()), (Some(1500.0), Some(1250.0)), "{raw}");

    // A spreadsheet export: commas between fields, every number quoted with
    // a decimal comma and a space as thousands separator.
    let sheet =
        "\"Zeit\",\"Leistung (kW)\"\n\"2025-06-08T01:00:00Z\",\"4 433,00\"\n\"2025-06-08T01:15:00Z\",\"1 001,50\"\n";
    let (s, r) = import(&app, &id, "source=live_measurement", sheet.as_bytes()).await;
    assert_eq!((s, r["accepted"].as_u64()), (StatusCode::OK, Some(2)), "{r}");

    // Berlin wall clock over the autumn change: the repeated hour is kept
    // (first in summer time, then in winter time), nothing is a duplicate.
    let mut autumn = String::from("Datum;Wert (kW)\n");
    for pass in 0..2 {
        for m in [0, 15, 30, 45] {
            autumn.push_str(&format!("25.10.2026 02:{m:02};{},5\n", pass * 10 + m));
        }
    }
    let (s, r) = import(&app, &id, "source=meter_final&timezone=Europe%2FBerlin", autumn.as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(8), Some(0)), "{r}");
    assert_eq!(stored_between(&app, &id, "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z").await, 8);
    // The missing spring hour is refused by line; the rest goes in, flagged partial.
    let spring = b"Datum;Wert (kW)\n29.03.2026 01:45;1\n29.03.2026 02:00;2\n29.03.2026 03:00;3\n";
    let (s, r) = import(&app, &id, "source=meter_final&timezone=Europe%2FBerlin", spring).await;
    assert_eq!((s, r["outcome"].as_str(), r["accepted"].as_u64()), (StatusCode::OK, Some("partial"), Some(2)), "{r}");
    assert_eq!(r["rejected"][0]["line"], 3, "{r}");
    assert!(r["rejected"][0]["reason"].as_str().unwrap().contains("does not exist"), "{r}");

    // on_error=reject stores nothing when a row is refused; a file whose
    // every row is refused is refused under either policy.
    let mixed = b"time,kw\n2025-06-09T00:00:00Z,1\n2025-06-09T00:15:00Z,lots\n";
    let (s, p) = import(&app, &id, "source=meter_final&on_error=reject", mixed).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file"), "{p}");
    assert_eq!(p["rejected"][0]["line"], 3, "{p}");
    assert_eq!(stored_between(&app, &id, "2025-06-09T00:00:00Z", "2025-06-10T00:00:00Z").await, 0);
    let (s, p) =
        import(&app, &id, "source=meter_final", b"time,kw\n2025-06-09T00:00:00Z,x\n2025-06-09T00:15:00Z,y\n").await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file"), "{p}");
    assert_eq!(p["rejected"].as_array().unwrap().len(), 2, "{p}");
    let (s, p) = import(&app, &id, "source=meter_final&on_error=sometimes", mixed).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "on_error"), "{p}");

    // A column file whose declared time unit contradicts its numbers: the
    // error names time_unit, and with it the file goes in as it is.
    let start = ts("2025-06-10T00:00:00Z").as_millisecond();
    let file = json!({"key": {"asset_id": owner}, "column_ids": ["timestamp", "value"], "units": ["s", "mw"],
        "values": [[start, start + 900_000], [0.5, 0.75]]});
    let (s, p) = import(&app, &id, "format=columns", file.to_string().as_bytes()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "units[0]"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("time_unit=ms"), "{p}");
    let (s, r) = import(&app, &id, "format=columns&time_unit=ms", file.to_string().as_bytes()).await;
    assert_eq!((s, r["accepted"].as_u64()), (StatusCode::OK, Some(2)), "{r}");
    // `mw` is MW.
    let (_, raw) =
        app.get(&format!("/api/v1/vpp/series/{id}/beliefs?start=2025-06-10T00:00:00Z&end=2025-06-10T00:30:00Z")).await;
    assert_eq!((raw[0]["value"].as_f64(), raw[1]["value"].as_f64()), (Some(500.0), Some(750.0)), "{raw}");
}

/// The portfolio's best of infeed mixes sources asset by asset and
/// quarter-hour by quarter-hour, weighted by allocation ratio.
#[tokio::test]
async fn portfolio_best_of_infeed_mixes_sources_per_asset() {
    let app = TestApp::new().await;
    let a = app.generator("A", 500.0, 0.0, 10.0).await;
    let b = app.generator("B", 500.0, 0.0, 10.0).await;
    let v = app.vpp("V", json!([{"resource_id": a}, {"resource_id": b, "allocation_ratio": 0.5}])).await;
    let mut ids = Vec::new();
    for r in [&a, &b] {
        let (s, series) = app
            .post(
                "/api/v1/vpp/series",
                json!({"name": format!("{r} power"), "owner_kind": "resource", "owner_id": r, "quantity": "power"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(series["id"].as_str().unwrap().to_string());
    }
    let (t0, t1, t2) = ("2026-11-20T10:00:00Z", "2026-11-20T10:15:00Z", "2026-11-20T10:30:00Z");
    let version = "2026-11-19T09:00:00Z";
    // A: metered at 10:00, forecast at 10:15 (flagged: redispatched, so 0), nothing at 10:30.
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/series/{}/beliefs", ids[0]),
            json!({"beliefs": [belief(t0, "2026-11-21T00:00:00Z", "meter_final", 100.0),
                belief(t0, version, "forecast", 90.0), belief(t1, version, "forecast", 80.0),
                belief(t1, "2026-11-20T10:10:00Z", "flag", 1.0)]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // B: forecast at 10:00 and 10:15, metered at 10:15 and 10:30.
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/series/{}/beliefs", ids[1]),
            json!({"beliefs": [belief(t0, version, "forecast", 40.0), belief(t1, version, "forecast", 50.0),
                belief(t1, "2026-11-21T00:00:00Z", "meter_final", 60.0), belief(t2, "2026-11-21T00:00:00Z", "meter_final", 20.0)]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, p) = app.get(&format!("/api/v1/vpp/vpps/{v}/best-of-infeed?start={t0}&end=2026-11-20T10:45:00Z")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["members_with_series"], 2);
    let pts = p["points"].as_array().unwrap();
    // 10:00: A meter final 100 + 0.5 × B forecast 40 = 120.
    assert_eq!(
        (pts[0]["value_kw"].as_f64(), pts[0]["by_source"].clone()),
        (Some(120.0), json!({"meter_final": 100.0, "forecast": 20.0}))
    );
    // 10:15: A redispatched 0 + 0.5 × B meter final 60 = 30.
    assert_eq!(
        (pts[1]["value_kw"].as_f64(), pts[1]["by_source"].clone()),
        (Some(30.0), json!({"redispatched": 0.0, "meter_final": 30.0}))
    );
    // 10:30: A has nothing (a gap, counted), B meter final 20 × 0.5 = 10.
    assert_eq!((pts[2]["value_kw"].as_f64(), pts[2]["members_missing"].as_u64()), (Some(10.0), Some(1)));
    let (s, p) = app.get(&format!("/api/v1/vpp/vpps/{v}/best-of-infeed?start={t0}&end={t2}&priority=sideways")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "priority"));
}
