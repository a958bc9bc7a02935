//! Forecasting models: registration checked against what is stored,
//! training with cross-validation, predictions with quantiles stored as
//! beliefs known at their origin, walk-forward forecasts feeding a hybrid
//! strategy's backtest, performance and the strategies using a model.

use std::str::FromStr;

use axum::http::StatusCode;
use jiff::civil::Date;
use jiff::{SignedDuration, Span, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};
use crate::strategies::{berlin, wait_done, world};

/// Quarter-hour prices with a daily and weekly shape, each day published
/// at noon the day before; `days` days up to yesterday.
async fn seed_prices(app: &TestApp, series: &str, days: i64) -> Date {
    let today = Timestamp::now().to_zoned(berlin()).date();
    let first = today.checked_sub(Span::new().days(days)).unwrap();
    let mut beliefs = Vec::new();
    let mut day = first;
    let mut k: u64 = 0;
    while day < today {
        let published = day.yesterday().unwrap().at(12, 0, 0, 0).to_zoned(berlin()).unwrap().timestamp();
        let mut t = day.to_zoned(berlin()).unwrap().timestamp();
        let end = day.tomorrow().unwrap().to_zoned(berlin()).unwrap().timestamp();
        let weekend = matches!(day.weekday().to_monday_one_offset(), 6 | 7);
        while t < end {
            let h = t.to_zoned(berlin()).hour() as f64;
            // A deterministic wobble stands in for noise.
            k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = (k >> 33) as f64 / (1u64 << 31) as f64 * 6.0 - 3.0;
            let price = 80.0 + if weekend { -15.0 } else { 0.0 } + 50.0 * (-((h - 19.0) / 2.0).powi(2)).exp()
                - 30.0 * (-((h - 13.0) / 2.5).powi(2)).exp()
                + noise;
            beliefs.push(json!({"event_start": t.to_string(), "belief_time": published.to_string(), "source": "price", "value": price}));
            t += SignedDuration::from_mins(15);
        }
        day = day.tomorrow().unwrap();
    }
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{series}/beliefs"), json!({"beliefs": beliefs})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    first
}

fn model(series: &str) -> Value {
    json!({"name": "DA price MSTL", "model_type": "PRICE", "target_series_id": series, "method": "MSTL",
           "params": {"window_days": 28, "cv_origins": 5}})
}

#[tokio::test]
async fn a_model_is_registered_trained_and_predicts_with_quantiles() {
    let app = TestApp::new().await;
    let (_vpp, series) = world(&app).await;
    seed_prices(&app, &series, 35).await;

    for (body, want) in [
        (json!({"model_type": "DEMAND"}), "target_series_id"),
        (json!({"target_series_id": "nope"}), "target_series_id"),
        (json!({"method": "LINEAR", "params": {"lags": [96], "horizon": 192}}), "params.lags[0]"),
        (json!({"params": {"lag": [96]}}), "params"),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
    ] {
        let mut bad = model(&series);
        for (k, v) in body.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (s, p) = app.post("/api/v1/vpp/ai-models", bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(field(&p).starts_with(want), "{want}: {p}");
    }
    let (_, none) = app.get("/api/v1/vpp/ai-models").await;
    assert_eq!(none, json!([]), "nothing was stored by refused requests");

    let (s, created) = app.post("/api/v1/vpp/ai-models", model(&series)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["version"], 0);
    let id = created["id"].as_str().unwrap();
    let (s, p) = app.post(&format!("/api/v1/vpp/ai-models/{id}/predict"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "untrained: {p}");
    let (s, p) = app.post(&format!("/api/v1/vpp/ai-models/{id}/train"), json!({"to": "2001-01-01T00:00:00Z"})).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "target_series_id"), "no data then: {p}");

    let (s, v1) = app.post(&format!("/api/v1/vpp/ai-models/{id}/train"), json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{v1}");
    assert_eq!((v1["version"].as_i64(), v1["status"].as_str()), (Some(1), Some("READY")), "{v1}");
    let score = &v1["trained"]["score"];
    assert_eq!(score["by_hour"].as_array().unwrap().len(), 48);
    assert_eq!(score["origins_us"].as_array().unwrap().len(), 5);
    for k in ["mae", "rmse", "wape"] {
        assert!(score["overall"][k].as_f64().unwrap() > 0.0, "{k}: {score}");
    }
    assert!(score["skill"].as_f64().unwrap() > 0.0, "MSTL beats weekly seasonal naive here: {score}");
    assert_eq!(v1["spec"]["method"], "MSTL");
    assert!(v1["train_from"].is_string() && v1["train_to"].is_string());

    let (s, p) = app.post(&format!("/api/v1/vpp/ai-models/{id}/predict"), json!({"horizon": 96, "store": true})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let intervals = p["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 96);
    assert!(intervals.iter().all(|i| i["p10"].as_f64() < i["p90"].as_f64()), "{p}");
    let stored = p["stored_series"].as_array().unwrap();
    assert_eq!(stored.len(), 3);
    let (_, out) = app.get(&format!("/api/v1/vpp/series/{}", stored[0].as_str().unwrap())).await;
    assert_eq!(out["owner_kind"], "model", "{out}");

    // New parameters make a new version; the old one stays readable.
    let (s, v2) = app
        .post(&format!("/api/v1/vpp/ai-models/{id}/train"), json!({"params": {"window_days": 21, "cv_origins": 4}}))
        .await;
    assert_eq!((s, v2["version"].as_i64()), (StatusCode::CREATED, Some(2)), "{v2}");
    let (s, p) = app.post(&format!("/api/v1/vpp/ai-models/{id}/train"), json!({"params": {"cv_origins": 1}})).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "params.cv_origins"), "{p}");
    let (_, versions) = app.get(&format!("/api/v1/vpp/ai-models/{id}/versions")).await;
    let numbers: Vec<i64> = versions.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(versions[1]["spec"]["window_days"], 28);

    let viewer = app.token_for("viewer").await;
    let (s, _) = app.post_as(Some(&viewer), &format!("/api/v1/vpp/ai-models/{id}/train"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_hybrid_strategy_backtests_on_forecasts_the_model_made_at_the_time() {
    let app = TestApp::new().await;
    let (vpp, series) = world(&app).await;
    seed_prices(&app, &series, 35).await;
    let (_, created) = app.post("/api/v1/vpp/ai-models", model(&series)).await;
    let id = created["id"].as_str().unwrap().to_string();

    let rules = json!([{"name": "dear evening", "conditions": [{"field": "forecast_price", "operator": ">", "value": 110}],
                        "actions": [{"type": "discharge"}]},
                       {"name": "cheap noon", "conditions": [{"field": "forecast_price", "operator": "<", "value": 60}],
                        "actions": [{"type": "charge"}]}]);
    let hybrid = json!({"name": "Model peaks", "vpp_id": vpp, "type": "HYBRID", "price_series_id": series,
                        "model_id": id, "rules": rules});
    let (s, p) = app.post("/api/v1/vpp/strategies", hybrid.clone()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "model_id"), "untrained: {p}");
    let mut dangling = hybrid.clone();
    dangling["model_id"] = json!("no-such-model");
    let (s, p) = app.post("/api/v1/vpp/strategies", dangling).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "model_id"), "{p}");

    let (s, v) = app.post(&format!("/api/v1/vpp/ai-models/{id}/train"), json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, strategy) = app.post("/api/v1/vpp/strategies", hybrid).await;
    assert_eq!(s, StatusCode::CREATED, "{strategy}");
    let sid = strategy["id"].as_str().unwrap();

    let today = Timestamp::now().to_zoned(berlin()).date();
    let (from, to) = (today.checked_sub(Span::new().days(3)).unwrap(), today.checked_sub(Span::new().days(2)).unwrap());
    let range = json!({"from": from.to_string(), "to": to.to_string()});
    let (s, p) = app.post(&format!("/api/v1/vpp/strategies/{sid}/backtest"), range.clone()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "model_id"), "no stored forecasts yet: {p}");

    let (s, filled) = app.post(&format!("/api/v1/vpp/ai-models/{id}/forecasts"), range.clone()).await;
    assert_eq!(s, StatusCode::OK, "{filled}");
    assert_eq!((filled["days"].as_u64(), filled["intervals"].as_u64()), (Some(2), Some(192)), "{filled}");

    let (s, task) = app.post(&format!("/api/v1/vpp/strategies/{sid}/backtest"), range).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{task}");
    let done = wait_done(&app, sid, task["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "DONE", "{done}");
    let (_, rows) = app
        .get(&format!(
            "/api/v1/vpp/strategies/{sid}/backtest-results/{}/intervals?date={from}",
            task["id"].as_str().unwrap()
        ))
        .await;
    let rows = rows.as_array().unwrap();
    // The price series holds no forecasts: every forecast the rules saw is the model's.
    let seen: Vec<f64> = rows
        .iter()
        .flat_map(|r| r["seen"].as_array().unwrap().iter())
        .filter(|s| s["field"] == "forecast_price")
        .filter_map(|s| s["value"].as_f64())
        .collect();
    assert_eq!(seen.len(), 96, "{rows:?}");
    assert!(rows.iter().any(|r| r["action"].as_str().unwrap().starts_with("discharge")), "{rows:?}");

    let (s, perf) = app.get(&format!("/api/v1/vpp/ai-models/{id}/performance?days=7")).await;
    assert_eq!(s, StatusCode::OK, "{perf}");
    assert_eq!(perf["used_by"][0]["strategy_id"], sid);
    assert_eq!(perf["realised"]["metrics"]["n"], 192, "the two stored days against their prices: {perf}");
    assert!(perf["realised"]["interval_coverage"].as_f64().is_some());
    assert_eq!(app.delete(&format!("/api/v1/vpp/ai-models/{id}")).await, StatusCode::CONFLICT, "in use");
}

/// Hourly weather at 52.5 N, 13.4 E as Open-Meteo answers it (radiation
/// stamped at the end of its hour), from `first` for `hours` hours, under
/// the synthetic sky of `vpp_physics::synthetic`.
fn synthetic_open_meteo(first: i64, hours: i64) -> Value {
    use vpp_physics::synthetic;
    let site = vpp_physics::sun::Site::new(52.5, 13.4, 0.0);
    let times: Vec<i64> = (1..=hours).map(|h| first + h * 3600).collect();
    let ghi: Vec<f64> = times
        .iter()
        .map(|end| {
            let middle = (end - 1800) as f64;
            (synthetic::ghi_w_m2(&site, middle, synthetic::cloud_index(middle, 13.4)) * 10.0).round() / 10.0
        })
        .collect();
    json!({
        "latitude": 52.5, "longitude": 13.4, "utc_offset_seconds": 0, "timezone": "GMT",
        "hourly_units": {"time": "unixtime", "shortwave_radiation": "W/m²", "temperature_2m": "°C"},
        "hourly": {"time": times, "shortwave_radiation": ghi, "temperature_2m": vec![10.0; hours as usize]}
    })
}

#[tokio::test]
async fn a_physical_correction_learns_a_plant_that_misses_its_data_sheet() {
    use vpp_physics::pv::{PvSystem, PvWeather, power_kw};
    use vpp_physics::sun::{Ephemeris, Site, extraterrestrial_normal};
    let app = TestApp::new().await;
    // June, when a plant's orientation matters most.
    let first = Timestamp::from_str("2026-06-01T00:00:00Z").unwrap().as_second();
    let to = Timestamp::from_second(first + 30 * 86_400).unwrap();
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/weather/open-meteo?issued_at={}", Timestamp::from_second(first).unwrap()),
            synthetic_open_meteo(first, 33 * 24),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // The data sheet says south; the plant faces south-west and is soiled.
    let pv = app
        .create_resource(
            "PV",
            "Roof SW",
            json!({"parameters": {"peak_kw": 100, "inverter_kw": 90, "tilt_deg": 30, "azimuth_deg": 180}}),
        )
        .await;
    let pv_id = pv["id"].as_str().unwrap();
    let series_id = &app.power_series("resource", pv_id, "Roof SW power").await;
    let real = PvSystem::new(100.0, 90.0, 30.0, 235.0);
    let site = Site::new(52.5, 13.4, 0.0);
    let weather = synthetic_open_meteo(first, 33 * 24);
    let ghi = weather["hourly"]["shortwave_radiation"].as_array().unwrap();
    let mut k: u64 = 1;
    let measured: Vec<Value> = (0..30 * 96)
        .map(|q| {
            let start = first + q * 900;
            let middle = (start + 450) as f64;
            let hour = ((start - first) / 3600) as usize;
            let sun = site.sun(&Ephemeris::at(middle));
            let w = PvWeather { ghi: ghi[hour].as_f64().unwrap(), dni_dhi: None, temp_air_c: 10.0, wind_ms: 1.0 };
            k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = 1.0 + ((k >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.06;
            let kw = 0.92 * power_kw(&real, &w, &sun, extraterrestrial_normal(middle)) * noise;
            json!({"event_start": Timestamp::from_second(start).unwrap().to_string(),
                   "belief_time": Timestamp::from_second(start + 900).unwrap().to_string(),
                   "source": "live_measurement", "value": (kw * 100.0).round() / 100.0})
        })
        .collect();
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{series_id}/beliefs"), json!({"beliefs": measured})).await;
    assert_eq!(s, StatusCode::OK, "{r}");

    let correction = |extra: Value| {
        let mut body = json!({"name": "Roof SW corrected", "model_type": "GENERATION", "target_series_id": series_id,
            "method": "PHYSICAL_CORRECTION", "params": {"window_days": 28, "horizon": 96, "cv_origins": 8, "cv_step": 96}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let (_, prices) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "prices", "owner_kind": "market", "owner_id": "m", "quantity": "price"}),
        )
        .await;
    let temperature = r#"Weather 52.500,13.400 temperature"#;
    for (extra, want) in [
        (json!({"model_type": "DEMAND"}), "model_type"),
        (json!({"target_series_id": prices["id"]}), "target_series_id"),
        (json!({"params": {"lags": [192]}}), "params.lags"),
        (json!({"params": {"holidays": "DE-BE"}}), "params.holidays"),
        (json!({"params": {"temperature": "prices"}}), "params.temperature"),
        (json!({"method": "LINEAR", "model_type": "DEMAND", "params": {"holidays": "XX"}}), "params.holidays"),
    ] {
        let (s, p) = app.post("/api/v1/vpp/ai-models", correction(extra.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{extra}: {p}");
        assert_eq!(field(&p), want, "{p}");
    }
    let (s, m) = app
        .post(
            "/api/v1/vpp/ai-models",
            correction(json!({"params": {"window_days": 28, "horizon": 96,
        "cv_origins": 8, "cv_step": 96, "temperature": temperature}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_str().unwrap();
    let (s, v) = app.post(&format!("/api/v1/vpp/ai-models/{id}/train"), json!({"to": to})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "READY", "{v}");
    let score = &v["trained"]["score"];
    assert_eq!(score["baseline"], "physical forecast", "{score}");
    let skill = score["skill"].as_f64().unwrap();
    eprintln!(
        "physical correction: MAE {:.2} kW against {:.2} kW for the physics alone (skill {skill:.2}), p10–p90 coverage {:.2}",
        score["overall"]["mae"].as_f64().unwrap(),
        score["baseline_mae"].as_f64().unwrap(),
        score["interval_coverage"].as_f64().unwrap()
    );
    assert!(skill > 0.3, "the correction should beat the data sheet's physics clearly: {score}");

    let (s, p) = app
        .post(&format!("/api/v1/vpp/ai-models/{id}/predict"), json!({"origin": to, "horizon": 96, "store": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let intervals = p["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 96);
    assert!(intervals.iter().all(|i| i["point"].as_f64().unwrap() >= 0.0), "{p}");
    assert!(intervals.iter().any(|i| i["point"].as_f64().unwrap() > 1.0), "daylight in the next day: {p}");

    // The scheduled fleet run forecasts the plant now; June's weather does
    // not reach today, so under a clear sky, and it says so.
    let (s, run) = app.post("/api/v1/vpp/forecasts/physical?hours=24", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    let counts = ["resources", "forecast", "under_weather", "clear_sky"].map(|k| run[k].as_u64().unwrap());
    assert_eq!(counts, [1, 1, 0, 1], "{run}");
    assert_eq!(run["intervals"], 96);
    let (s, p) = app.post("/api/v1/vpp/forecasts/physical?hours=0", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "hours");
}
