use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field, now_rfc3339};

fn allocation(d: &Value, id: &str) -> f64 {
    d["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["resource_id"] == id)
        .map_or(0.0, |a| a["target_kw"].as_f64().unwrap())
}

#[tokio::test]
async fn merit_order_skips_down_resources_and_reports_unmet_demand() {
    let app = TestApp::new().await;
    let cheap = app.generator("Cheap", 100.0, 0.0, 10.0).await;
    let mid = app.generator("Mid", 100.0, 0.0, 50.0).await;
    let dear = app.generator("Dear", 100.0, 40.0, 90.0).await;
    let broken = app.generator("Broken", 500.0, 0.0, 1.0).await;
    app.set_status(&broken, "ERROR").await;
    let v = app
        .vpp("V", json!([{"resource_id": cheap}, {"resource_id": mid, "allocation_ratio": 0.5}, {"resource_id": dear}, {"resource_id": broken}]))
        .await;
    let path = format!("/api/v1/vpp/vpps/{v}/dispatch");
    let (s, d) = app.post(&path, json!({"target_kw": 120, "duration_minutes": 15, "mode": "merit_order"})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(allocation(&d, &cheap), 100.0);
    assert_eq!(allocation(&d, &mid), 20.0);
    assert_eq!(allocation(&d, &broken), 0.0);
    assert_eq!(d["total_dispatched"], 120.0);
    assert_eq!(d["unmet_demand"], 0.0);
    assert_eq!(d["excluded"][0]["resource_id"], broken.as_str());
    assert_eq!(d["excluded"][0]["status"], "ERROR");
    // 400 kW asked; 100 + 50 + 100 available online.
    let (_, d) = app.post(&path, json!({"target_kw": 400})).await;
    assert_eq!(d["total_dispatched"], 250.0);
    assert_eq!(d["unmet_demand"], 150.0);
    assert_eq!(allocation(&d, &dear), 100.0);
    assert_eq!(d["mode"], "merit_order");
    // 175 kW: cheap 100 + mid 50 leaves 25, below Dear's 40 kW minimum: unmet.
    let (_, d) = app.post(&path, json!({"target_kw": 175})).await;
    assert_eq!(allocation(&d, &dear), 0.0);
    assert_eq!(d["unmet_demand"], 25.0);
}

/// A preview answers the split a dispatch would make, 200 and without ids,
/// and stores nothing: no dispatch is listed, no instruction is made, and
/// nothing is audited as a dispatch.
#[tokio::test]
async fn a_preview_shows_the_split_and_stores_nothing() {
    let app = TestApp::new().await;
    let cheap = app.generator("Cheap", 100.0, 0.0, 10.0).await;
    let dear = app.generator("Dear", 100.0, 0.0, 90.0).await;
    let v = app.vpp("V", json!([{"resource_id": cheap}, {"resource_id": dear}])).await;
    let path = format!("/api/v1/vpp/vpps/{v}/dispatch/preview");
    let (s, d) = app.post(&path, json!({"target_kw": 150, "duration_minutes": 30})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["preview"], true);
    assert_eq!(d["dispatch_id"], Value::Null);
    assert_eq!(allocation(&d, &cheap), 100.0);
    assert_eq!(allocation(&d, &dear), 50.0);
    assert!(d["allocations"].as_array().unwrap().iter().all(|a| a["instruction_id"].is_null()), "{d}");
    let (_, list) = app.get(&format!("/api/v1/vpp/vpps/{v}/dispatches")).await;
    assert_eq!(list.as_array().unwrap().len(), 0, "a preview is not a dispatch: {list}");
    let (_, setpoints) = app.get(&format!("/api/v1/vpp/resource-instances/{cheap}/setpoints")).await;
    assert_eq!(setpoints, json!([]), "no setpoint from a preview");
    let (_, audit) = app.get("/api/v1/audit?entity_type=dispatch").await;
    assert_eq!(audit["total"], 0, "a preview is not audited as a dispatch: {audit}");
    // A viewer may look at a preview; only a dispatch needs dispatch:write.
    let viewer = app.token_for("viewer").await;
    let (s, _) = app.post_as(Some(&viewer), &path, json!({"target_kw": 150})).await;
    assert_eq!(s, StatusCode::OK);
    // A bad field is refused the same way as in a real dispatch.
    let (s, e) = app.post(&path, json!({"target_kw": 150, "duration_minutes": 0})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "duration_minutes"), "{e}");
    // Sent for real: 201 with the ids, and listed.
    let (s, d) = app.post(&format!("/api/v1/vpp/vpps/{v}/dispatch"), json!({"target_kw": 150})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["preview"], false);
    assert!(d["dispatch_id"].is_string() && d["allocations"][0]["instruction_id"].is_string(), "{d}");
    let (_, list) = app.get(&format!("/api/v1/vpp/vpps/{v}/dispatches")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The resource's own view: its newest setpoints, without a device link no delivery.
    let (s, e) = app.get(&format!("/api/v1/vpp/resource-instances/{cheap}/setpoints?limit=101")).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "limit"), "{e}");
    let (s, setpoints) = app.get(&format!("/api/v1/vpp/resource-instances/{cheap}/setpoints?limit=5")).await;
    assert_eq!(s, StatusCode::OK, "{setpoints}");
    assert_eq!(setpoints.as_array().unwrap().len(), 1, "{setpoints}");
    assert_eq!(setpoints[0]["target_kw"], 100.0);
    assert_eq!(setpoints[0]["dispatch_id"], d["dispatch_id"]);
    assert_eq!(setpoints[0]["delivery"], Value::Null);
    let (s, _) = app.get("/api/v1/vpp/resource-instances/nope/setpoints").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An inactive VPP is refused even as a preview.
    app.put(&format!("/api/v1/vpp/vpps/{v}"), json!({"status": "INACTIVE"})).await;
    let (s, e) = app.post(&path, json!({"target_kw": 150})).await;
    assert_eq!((s, field(&e)), (StatusCode::CONFLICT, "status"), "{e}");
}

#[tokio::test]
async fn negative_targets_priority_and_pro_rata() {
    let app = TestApp::new().await;
    let generator = app.generator("Gen", 100.0, 0.0, 10.0).await;
    let bat = app.battery("Bat", 400.0, 100.0, 20.0).await;
    let hp = app
        .create_resource("HEAT_PUMP", "HP", json!({"parameters": {"rated_electrical_kw": 50}, "marginal_cost": 5}))
        .await;
    let hp = hp["id"].as_str().unwrap().to_string();
    app.telemetry(&bat, json!([{"ts": now_rfc3339(), "power_kw": 0.0, "soc_pct": 50.0}])).await;
    let v = app
        .vpp("V", json!([{"resource_id": generator, "priority": 1}, {"resource_id": bat, "priority": 2}, {"resource_id": hp, "priority": 3}]))
        .await;
    let path = format!("/api/v1/vpp/vpps/{v}/dispatch");
    // Absorb 120 kW: the heat pump (cost 5) first, then the battery.
    let (s, d) = app.post(&path, json!({"target_kw": -120, "duration_minutes": 60})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(allocation(&d, &hp), -50.0);
    assert_eq!(allocation(&d, &bat), -70.0);
    assert_eq!(allocation(&d, &generator), 0.0);
    assert_eq!(d["total_dispatched"], -120.0);
    // Priority: battery (2) before heat pump (3).
    let (_, d) = app.post(&path, json!({"target_kw": -120, "duration_minutes": 60, "mode": "priority"})).await;
    assert_eq!(allocation(&d, &bat), -100.0);
    assert_eq!(allocation(&d, &hp), -20.0);
    // Pro rata over ranges 100 (battery) and 50 (heat pump): 2:1.
    let (_, d) = app.post(&path, json!({"target_kw": -90, "duration_minutes": 60, "mode": "pro_rata"})).await;
    assert!((allocation(&d, &bat) + 60.0).abs() < 1e-9, "{d}");
    assert!((allocation(&d, &hp) + 30.0).abs() < 1e-9, "{d}");
    // Absorb more than possible.
    let (_, d) = app.post(&path, json!({"target_kw": -500, "duration_minutes": 60})).await;
    assert_eq!(d["total_dispatched"], -150.0);
    assert_eq!(d["unmet_demand"], -350.0);
    let (_, history) = app.get(&format!("/api/v1/vpp/vpps/{v}/dispatches")).await;
    assert_eq!(history.as_array().unwrap().len(), 4);
    assert_eq!(history[0]["target_kw"], -500.0);
}

#[tokio::test]
async fn bad_dispatch_requests_are_refused() {
    let app = TestApp::new().await;
    let g = app.generator("G", 100.0, 0.0, 10.0).await;
    let v = app.vpp("V", json!([{"resource_id": g}])).await;
    let path = format!("/api/v1/vpp/vpps/{v}/dispatch");
    for (body, expected) in [
        (json!({"target_kw": 10, "duration_minutes": 0}), "duration_minutes"),
        (json!({"target_kw": 10, "duration_minutes": 100000}), "duration_minutes"),
        (json!({"target_kw": "lots"}), "target_kw"),
        (json!({"target_kw": 10, "mode": "random"}), "mode"),
        (json!({"target_kw": 10, "start": "tomorrow"}), "start"),
        (json!({"duration_minutes": 15}), "target_kw"),
        (json!({"target_kw": 1e12}), "target_kw"),
    ] {
        let (s, p) = app.post(&path, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {p}");
        assert_eq!(field(&p), expected, "{body}: {p}");
    }
    assert_eq!(app.get(&format!("/api/v1/vpp/vpps/{v}/dispatches")).await.1, json!([]));
    app.put(&format!("/api/v1/vpp/vpps/{v}"), json!({"status": "SUSPENDED"})).await;
    let (s, p) = app.post(&path, json!({"target_kw": 10})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&p), "status");
    assert_eq!(app.post("/api/v1/vpp/vpps/ghost/dispatch", json!({"target_kw": 10})).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn execution_status_compares_telemetry_with_setpoints() {
    let app = TestApp::new().await;
    let a = app.generator("A", 100.0, 0.0, 10.0).await;
    let b = app.generator("B", 100.0, 0.0, 20.0).await;
    let v = app.vpp("V", json!([{"resource_id": a}, {"resource_id": b}])).await;
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5);
    let (_, d) = app
        .post(
            &format!("/api/v1/vpp/vpps/{v}/dispatch"),
            json!({"target_kw": 150, "start": start.to_string(), "duration_minutes": 30}),
        )
        .await;
    let dispatch_id = d["dispatch_id"].as_str().unwrap();
    let instr_a =
        d["allocations"].as_array().unwrap().iter().find(|x| x["resource_id"] == a.as_str()).unwrap()["instruction_id"]
            .as_str()
            .unwrap()
            .to_string();

    let (s, before) = app.get(&format!("/api/v1/vpp/trading/execution-status/{instr_a}")).await;
    assert_eq!(s, StatusCode::OK, "{before}");
    assert_eq!(before["status"], "IN_PROGRESS");
    assert_eq!(before["actual_kw"], Value::Null, "no telemetry: no actual value");
    assert_eq!(before["deviation"], Value::Null);

    // A delivers 90 and 100 (mean 95) against 100; a sample before the window does not count.
    let t = |mins: i64| (start + jiff::SignedDuration::from_mins(mins)).to_string();
    app.telemetry(
        &a,
        json!([{"ts": t(-1), "power_kw": 0.0}, {"ts": t(1), "power_kw": 90.0}, {"ts": t(2), "power_kw": 100.0}]),
    )
    .await;
    let (_, st) = app.get(&format!("/api/v1/vpp/trading/execution-status/{instr_a}")).await;
    assert_eq!(st["kind"], "instruction");
    assert_eq!(st["actual_kw"], 95.0);
    assert_eq!(st["deviation"]["deviation_kw"], -5.0);
    assert_eq!(st["deviation"]["deviation_pct"], -5.0);
    assert_eq!(st["instructions"][0]["samples"], 2);

    let (_, whole) = app.get(&format!("/api/v1/vpp/trading/execution-status/{dispatch_id}")).await;
    assert_eq!(whole["kind"], "dispatch");
    assert_eq!(whole["target_kw"], 150.0);
    assert_eq!(whole["instruction_count"], 2);
    assert_eq!(whole["measured_instructions"], 1);
    assert_eq!(whole["actual_kw"], 95.0);
    assert_eq!(whole["deviation"]["deviation_kw"], -5.0, "deviation only over measured instructions");

    let (s, p) = app.get("/api/v1/vpp/trading/execution-status/ghost").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(p["detail"].as_str().unwrap().contains("ghost"));
}
