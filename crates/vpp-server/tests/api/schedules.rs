//! Optimal schedules for a VPP through the API.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

fn kw(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[tokio::test]
async fn battery_schedule_against_hourly_prices_is_stored_as_schedule_beliefs() {
    let app = TestApp::new().await;
    let battery = app.battery("Sched BESS", 100.0, 50.0, 0.0).await;
    let vpp = app.vpp("Sched VPP", json!([{"resource_id": battery}])).await;
    let request = json!({
        "start": "2026-11-23T00:00:00Z", "steps": 4, "step_minutes": 60, "tz": "Europe/Berlin",
        "prices": [0.0, 200.0, 0.0, 200.0],
        "members": {battery.clone(): {"soc_start_pct": 50.0}}
    });
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), request).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    // Fill 50 → 90 % at 0, sell 50 kWh at 200, refill, sell back to the 50 % target:
    // 90 kWh sold at 0.2 €/kWh, 180 kWh throughput at 0.02 €/kWh wear.
    assert_eq!(kw(&r["schedule"]["members"][0]["power_kw"]), vec![-40.0, 50.0, -50.0, 40.0]);
    let total = r["schedule"]["breakdown"]["total"].as_f64().unwrap();
    assert!((total - -14.4).abs() < 1e-6, "{total}");
    assert_eq!(r["times"][1]["start_local"], "2026-11-23T02:00:00+01:00");
    assert_eq!(r["schedule"]["solver"]["backend"], "microlp");
    assert_eq!(r["schedule"]["solver"]["status"], "optimal");
    assert_eq!(r["stored_beliefs"], 16, "four 15-minute beliefs per hourly step: {r}");

    // The schedule is in the battery's power series as `schedule` beliefs.
    let (_, list) = app.get(&format!("/api/v1/vpp/series?owner_id={battery}&quantity=power")).await;
    let series = list["items"][0]["id"].as_str().unwrap().to_string();
    let (_, beliefs) = app
        .get(&format!(
            "/api/v1/vpp/series/{series}/beliefs?start=2026-11-23T00:00:00Z&end=2026-11-23T04:00:00Z&source=schedule"
        ))
        .await;
    let values: Vec<f64> = beliefs.as_array().unwrap().iter().map(|b| b["value"].as_f64().unwrap()).collect();
    assert_eq!(values.len(), 16);
    assert_eq!(values[4], 50.0);

    // The console reads the plan in force back per 15-minute step of the day (Berlin: 23:00 UTC before).
    let (s, plan) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/schedules?day=2026-11-23&tz=Europe/Berlin")).await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["times"].as_array().unwrap().len(), 96);
    assert_eq!(plan["names"][&battery], "Sched BESS");
    let stored = plan["members"][0]["power_kw"].as_array().unwrap();
    assert_eq!(plan["members"][0]["id"], battery.as_str());
    // 01:00 Berlin = 00:00 UTC is step 4; the four hours run to step 19.
    assert!(stored[..4].iter().all(Value::is_null), "{plan}");
    assert_eq!(stored[4], -40.0);
    assert_eq!(stored[8], 50.0);
    assert_eq!(stored[19], 40.0);
    assert!(stored[20].is_null());
    assert!(plan["stored_at"].is_string());
    // Another day has no plan; a bad zone is refused at `tz`.
    let (_, empty) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/schedules?day=2026-11-25")).await;
    assert_eq!(empty["members"], json!([]), "{empty}");
    assert!(empty["stored_at"].is_null());
    let (s, p) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/schedules?day=2026-11-23&tz=Mars/Base")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "tz");

    // Safety margins: 10 points off both ends of the 10..90 % window, 20 % of the power kept back.
    let request = json!({
        "start": "2026-11-23T00:00:00Z", "steps": 4, "step_minutes": 60, "prices": [0.0, 200.0, 0.0, 200.0],
        "members": {battery.clone(): {"soc_start_pct": 50.0}},
        "soc_headroom_pct": 10, "power_headroom_pct": 20, "store": false
    });
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), request).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(kw(&r["schedule"]["members"][0]["power_kw"]), vec![-30.0, 40.0, -40.0, 30.0]);
    let soc = kw(&r["schedule"]["members"][0]["soc_pct"]);
    assert!(soc.iter().all(|x| (20.0 - 1e-9..=80.0 + 1e-9).contains(x)), "{soc:?}");
    for (key, value) in [("soc_headroom_pct", 30.0), ("power_headroom_pct", -1.0)] {
        let mut body = json!({"steps": 4, "prices": [1, 2, 3, 4]});
        body[key] = json!(value);
        let (s, p) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(field(&p), key);
    }
}

#[tokio::test]
async fn members_that_cannot_be_modelled_are_named_with_the_reason() {
    let app = TestApp::new().await;
    let battery = app.battery("LO BESS", 100.0, 50.0, 0.0).await;
    let pv = app.create_resource("PV", "LO PV", json!({"parameters": {"peak_kw": 100.0, "inverter_kw": 90.0}})).await;
    let pv = pv["id"].as_str().unwrap().to_string();
    let ev = app.create_resource("EV_CHARGER", "LO EV", json!({"parameters": {"max_charge_kw": 22.0}})).await;
    let ev = ev["id"].as_str().unwrap().to_string();
    let vpp = app.vpp("LO VPP", json!([{"resource_id": battery}, {"resource_id": pv}, {"resource_id": ev}])).await;
    app.set_status(&battery, "MAINTENANCE").await;
    let body = json!({"start": "2026-11-23T00:00:00Z", "steps": 8, "prices": vec![50.0; 8]});
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let reasons: Vec<(String, String)> = r["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["resource_id"].as_str().unwrap().to_string(), l["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|(id, why)| *id == battery && why.contains("MAINTENANCE")), "{reasons:?}");
    assert!(reasons.iter().any(|(id, why)| *id == pv && why.contains("forecast")), "{reasons:?}");
    // No vehicle stated a need and the request names none: the template's
    // default session (20 kWh) is planned.
    let members = r["schedule"]["members"].as_array().unwrap();
    let planned = members.iter().find(|m| m["id"] == ev.as_str()).expect("the EV is scheduled");
    let kwh: f64 = planned["power_kw"].as_array().unwrap().iter().map(|p| -p.as_f64().unwrap() / 4.0).sum();
    assert!((kwh - 20.0).abs() < 1e-6, "{planned}");

    // With a forecast and an energy request both are scheduled: the EV
    // takes 10 kWh from the PV in the window.
    let body = json!({
        "start": "2026-11-23T00:00:00Z", "steps": 8, "prices": vec![50.0; 8],
        "members": {
            pv.clone(): {"forecast_kw": [0.0, 0.0, 10.0, 40.0, 40.0, 10.0, 0.0, 0.0]},
            ev.clone(): {"energy_kwh": 10.0, "window_start": 2, "window_end": 6}
        }
    });
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["left_out"].as_array().unwrap().len(), 1);
    let ev_power = r["schedule"]["members"].as_array().unwrap().iter().find(|m| m["id"] == ev.as_str()).unwrap();
    let energy: f64 = kw(&ev_power["power_kw"]).iter().map(|p| -p * 0.25).sum();
    assert!((energy - 10.0).abs() < 1e-6, "{energy}");
}

#[tokio::test]
async fn impossible_and_malformed_requests_name_the_field() {
    let app = TestApp::new().await;
    let battery = app.battery("Bad BESS", 100.0, 10.0, 0.0).await;
    let vpp = app.vpp("Bad VPP", json!([{"resource_id": battery}])).await;
    let path = format!("/api/v1/vpp/vpps/{vpp}/schedules");
    // 10 kW for one hour cannot lift 100 kWh from 20 % to 80 %.
    let (s, p) = app
        .post(
            &path,
            json!({"start": "2026-11-23T00:00:00Z", "steps": 4, "prices": [1, 2, 3, 4],
                   "members": {battery.clone(): {"soc_start_pct": 20, "soc_target_pct": 80}}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["type"], "urn:vpp:problem:infeasible");
    assert_eq!(field(&p), format!("members.{battery}.soc_target_pct"));
    let constraints = p["conflicts"][0]["constraints"].as_array().unwrap();
    assert!(constraints.iter().any(|c| c == "charge_kw = 10"), "{p}");

    for (body, expected) in [
        (json!({"start": "2026-11-23T00:00:00Z", "steps": 4, "prices": [1, 2]}), "prices"),
        (json!({"start": "2026-11-23T00:00:00Z", "steps": 4}), "prices"),
        (json!({"start": "2026-11-23T00:00:00Z", "steps": 0, "prices": []}), "steps"),
        (json!({"steps": 4, "prices": [1, 2, 3, 4], "tz": "Mars/Base"}), "tz"),
        (json!({"steps": 4, "prices": [1, 2, 3, 4], "step_minutes": 0}), "step_minutes"),
        (json!({"steps": 4, "prices": [1, 2, 3, 4], "members": {"ghost": {}}}), "members.ghost"),
        (json!({"steps": 4, "price_series_id": "nope"}), "price_series_id"),
        (json!({"steps": 2, "prices": [1, 2], "import_limit_kw": -1}), "import_limit_kw"),
        (json!({"steps": 2, "prices": [1, 2], "solver": {"time_limit_s": 0}}), "solver.time_limit_s"),
        (json!({"steps": 2, "prices": [1, 2], "solver": {"mip_gap": 2}}), "solver.mip_gap"),
    ] {
        let (s, p) = app.post(&path, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {p}");
        assert_eq!(field(&p), expected, "{body}: {p}");
    }
    let (s, p) = app.post(&path, json!({"prices": [1], "surprise": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "surprise");
    let (s, _) = app.post("/api/v1/vpp/vpps/ghost/schedules", json!({"steps": 1, "prices": [1]})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Viewers may not schedule.
    let viewer = app.token_for("viewer").await;
    let (s, _) = app.post_as(Some(&viewer), &path, json!({"steps": 1, "prices": [1]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn prices_come_from_a_stored_price_series() {
    let app = TestApp::new().await;
    let battery = app.battery("PS BESS", 100.0, 50.0, 0.0).await;
    let vpp = app.vpp("PS VPP", json!([{"resource_id": battery}])).await;
    let (s, series) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "DE day-ahead", "owner_kind": "market", "owner_id": "EPEX-DE", "quantity": "price", "resolution_s": 3600}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{series}");
    let id = series["id"].as_str().unwrap();
    let beliefs: Vec<Value> = [0.0, 200.0]
        .iter()
        .enumerate()
        .map(|(h, p)| json!({"event_start": format!("2026-11-23T0{h}:00:00Z"), "belief_time": "2026-11-20T12:00:00Z", "source": "price", "value": p}))
        .collect();
    let (s, r) = app.post(&format!("/api/v1/vpp/series/{id}/beliefs"), json!({"beliefs": beliefs})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["accepted"], 2, "{r}");
    // Hourly prices over 15-minute steps: each price holds for four steps.
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/vpps/{vpp}/schedules"),
            json!({"start": "2026-11-23T00:00:00Z", "steps": 8, "price_series_id": id, "store": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(kw(&r["prices"]), vec![0.0, 0.0, 0.0, 0.0, 200.0, 200.0, 200.0, 200.0]);
    assert_eq!(r["stored_beliefs"], 0);
    // A step without a price is named.
    let (s, p) = app
        .post(
            &format!("/api/v1/vpp/vpps/{vpp}/schedules"),
            json!({"start": "2026-11-23T00:00:00Z", "steps": 12, "price_series_id": id}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("step 8"), "{p}");
}

#[tokio::test]
async fn the_stored_schedule_is_dispatched_and_tracked() {
    let app = TestApp::new().await;
    let battery = app.battery("SD BESS", 100.0, 50.0, 0.0).await;
    let vpp = app.vpp("SD VPP", json!([{"resource_id": battery}])).await;
    let path = format!("/api/v1/vpp/vpps/{vpp}/schedules/dispatch");
    let (s, p) = app.post(&path, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "no schedule yet: {p}");
    assert_eq!(field(&p), "at");

    // Schedule the current quarter-hour and the next three: sell now at 200 €/MWh, buy back at 0.
    let now = jiff::Timestamp::now().as_second();
    let start = jiff::Timestamp::from_second(now - now.rem_euclid(900)).unwrap();
    let body = json!({"start": start.to_string(), "steps": 4, "prices": [200.0, 0.0, 0.0, 0.0],
                      "members": {battery.clone(): {"soc_start_pct": 50.0}}});
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let planned = r["schedule"]["members"][0]["power_kw"][0].as_f64().unwrap();
    assert_eq!(planned, 50.0, "{r}");

    let (s, d) = app.post(&path, json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["instructions"][0]["resource_id"], battery.as_str());
    assert_eq!(d["instructions"][0]["target_kw"], 50.0);
    assert_eq!(d["instructions"][0]["start"], start.to_string());
    let instruction = d["instructions"][0]["instruction_id"].as_str().unwrap();
    let (s, status) = app.get(&format!("/api/v1/vpp/trading/execution-status/{instruction}")).await;
    assert_eq!(s, StatusCode::OK, "{status}");
    let (_, list) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/dispatches")).await;
    assert_eq!(list[0]["mode"], "schedule", "{list}");
    // A later interval without a schedule is refused, naming `at`.
    let later = jiff::Timestamp::from_second(now + 86_400).unwrap();
    let (s, p) = app.post(&path, json!({"at": later.to_string()})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
}

#[tokio::test]
async fn the_closed_loop_records_deviations_and_redispatches() {
    use vpp_app::control::{ControlSettings, control_cycle};
    let app = TestApp::new().await;
    let battery = app.battery("CL BESS", 100.0, 50.0, 0.0).await;
    let vpp = app.vpp("CL VPP", json!([{"resource_id": battery}])).await;
    let idle = app.battery("CL idle", 10.0, 5.0, 0.0).await;
    app.vpp("CL no schedule", json!([{"resource_id": idle}])).await;
    // Two finished quarter-hours ago: sell 50 kW in each of two steps.
    let now = jiff::Timestamp::now().as_second();
    let t0 = now - now.rem_euclid(900) - 1800;
    let at = |s: i64| jiff::Timestamp::from_second(s).unwrap();
    let body = json!({"start": at(t0).to_string(), "steps": 2, "prices": [200.0, 200.0],
                      "members": {battery.clone(): {"soc_start_pct": 50.0, "soc_target_pct": 10.0}}});
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(kw(&r["schedule"]["members"][0]["power_kw"]), vec![50.0, 50.0]);
    // The battery delivered only 20 kW in the first step.
    let samples = json!([
        {"ts": at(t0 + 60).to_string(), "power_kw": 20.0, "soc_pct": 49.0},
        {"ts": at(t0 + 300).to_string(), "power_kw": 20.0, "soc_pct": 48.0}
    ]);
    let (s, r) = app.telemetry(&battery, samples).await;
    assert!(s.is_success(), "{r}");

    let settings = ControlSettings::default();
    let outcomes = control_cycle(&app.store, at(t0 + 900 + 5), &settings).await.unwrap();
    assert_eq!(outcomes.len(), 1, "only the VPP with a schedule: {outcomes:?}");
    let total = &outcomes[0].total;
    assert_eq!((total.scheduled_kw, total.measured_kw, total.deviation_kw), (50.0, 20.0, -30.0));
    assert_eq!(total.action, "redispatched");
    let (_, dispatches) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/dispatches")).await;
    assert_eq!(dispatches[0]["dispatch_id"], total.dispatch_id.as_str(), "{dispatches}");
    assert_eq!(dispatches[0]["target_kw"], 50.0, "holds the next step's committed 50 kW");
    assert_eq!(dispatches[0]["start"], at(t0 + 900).to_string());
    // A cycle for the same step records nothing new.
    assert!(control_cycle(&app.store, at(t0 + 900 + 60), &settings).await.unwrap().is_empty());

    let window = format!("start={}&end={}", at(t0 - 3600), at(now + 3600));
    let (s, rows) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/execution?{window}&members=true")).await;
    assert_eq!(s, StatusCode::OK, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().any(|r| r["resource_id"] == battery.as_str() && r["samples"] == 2));
    let (_, totals) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/execution?{window}")).await;
    assert_eq!(totals.as_array().unwrap().len(), 1);
    assert_eq!(totals[0]["action"], "redispatched");
    let (s, p) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/execution?start={}&end={}", at(now), at(now - 60))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "end");
}

#[tokio::test]
async fn the_closed_loop_holds_the_market_commitment_over_member_schedules() {
    use vpp_app::control::{ControlSettings, control_cycle};
    let app = TestApp::new().await;
    let battery = app.battery("MC BESS", 100.0, 50.0, 0.0).await;
    let vpp = app.vpp("MC VPP", json!([{"resource_id": battery}])).await;
    let now = jiff::Timestamp::now().as_second();
    let t0 = now - now.rem_euclid(900) - 1800;
    let at = |s: i64| jiff::Timestamp::from_second(s).unwrap();
    let body = json!({"start": at(t0).to_string(), "steps": 2, "prices": [200.0, 200.0],
                      "members": {battery.clone(): {"soc_start_pct": 50.0, "soc_target_pct": 10.0}}});
    let (s, r) = app.post(&format!("/api/v1/vpp/vpps/{vpp}/schedules"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    // The market cleared 30 kW for the next step: that is what must be held.
    let series = app.power_series("vpp", &vpp, "MC commitment").await;
    let (s, b) = app
        .post(
            &format!("/api/v1/vpp/series/{series}/beliefs"),
            json!({"beliefs": [{"event_start": at(t0 + 900).to_string(), "source": "schedule", "value": 30.0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, r) =
        app.telemetry(&battery, json!([{"ts": at(t0 + 60).to_string(), "power_kw": 0.0, "soc_pct": 50.0}])).await;
    assert!(s.is_success(), "{r}");
    let outcomes = control_cycle(&app.store, at(t0 + 900 + 5), &ControlSettings::default()).await.unwrap();
    assert_eq!(outcomes[0].total.action, "redispatched");
    let (_, dispatches) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/dispatches")).await;
    assert_eq!(dispatches[0]["target_kw"], 30.0, "the commitment, not the 50 kW member schedule: {dispatches}");
}
