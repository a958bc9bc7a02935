use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

#[tokio::test]
async fn vpp_crud_with_filters() {
    let app = TestApp::new().await;
    let a = app.generator("G1", 100.0, 0.0, 50.0).await;
    let (s, v) =
        app.post("/api/v1/vpp/vpps", json!({"name": "Spot A", "market_type": "SPOT", "resource_ids": [a]})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["members"][0]["allocation_ratio"], 1.0);
    assert_eq!(v["members"][0]["priority"], 100);
    assert_eq!(v["status"], "ACTIVE");
    let id = v["id"].as_str().unwrap();
    let (s, _) = app
        .post("/api/v1/vpp/vpps", json!({"name": "Reserve", "market_type": "ANCILLARY", "status": "INACTIVE"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, spot) = app.get("/api/v1/vpp/vpps?market_type=SPOT").await;
    assert_eq!(spot["total"], 1);
    let (_, inactive) = app.get("/api/v1/vpp/vpps?status=INACTIVE").await;
    assert_eq!(inactive["items"][0]["name"], "Reserve");
    let (s, u) = app
        .put(&format!("/api/v1/vpp/vpps/{id}"), json!({"description": "day-ahead", "market_type": "CAPACITY"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(u["market_type"], "CAPACITY");
    assert_eq!(u["name"], "Spot A");
    let (s, p) = app.post("/api/v1/vpp/vpps", json!({"name": "Spot A", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&p), "name");
    assert_eq!(app.delete(&format!("/api/v1/vpp/vpps/{id}")).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/vpp/vpps/{id}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_refuses_dangling_and_duplicate_members() {
    let app = TestApp::new().await;
    let a = app.generator("G1", 100.0, 0.0, 50.0).await;
    let (s, p) =
        app.post("/api/v1/vpp/vpps", json!({"name": "V", "market_type": "SPOT", "resource_ids": [a, "ghost"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "resource_ids[1]");
    let (s, p) = app
        .post(
            "/api/v1/vpp/vpps",
            json!({"name": "V", "market_type": "SPOT", "resource_ids": [a], "members": [{"resource_id": a}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "members[0].resource_id");
    let (s, p) = app
        .post(
            "/api/v1/vpp/vpps",
            json!({"name": "V", "market_type": "SPOT", "members": [{"resource_id": a, "allocation_ratio": 1.5}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "members[0].allocation_ratio");
    let (s, p) = app
        .post(
            "/api/v1/vpp/vpps",
            json!({"name": "V", "market_type": "SPOT", "members": [{"resource_id": a, "allocation_ratio": 0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "members[0].allocation_ratio");
    let (s, p) = app.post("/api/v1/vpp/vpps", json!({"name": "V", "market_type": "INTRADAY"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "market_type");
    assert_eq!(app.get("/api/v1/vpp/vpps").await.1["total"], 0, "nothing written");
}

#[tokio::test]
async fn double_booking_is_refused_naming_vpps_and_ratio_left() {
    let app = TestApp::new().await;
    let r = app.generator("Shared", 100.0, 0.0, 50.0).await;
    let first = app.vpp("First", json!([{"resource_id": r, "allocation_ratio": 0.6}])).await;
    let (s, p) = app
        .post(
            "/api/v1/vpp/vpps",
            json!({"name": "Second", "market_type": "SPOT", "members": [{"resource_id": r, "allocation_ratio": 0.5}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["type"], "urn:vpp:problem:double-booking");
    assert_eq!(p["resource_id"], r.as_str());
    assert_eq!(p["resource_name"], "Shared");
    assert_eq!(p["allocations"][0]["vpp_id"], first.as_str());
    assert_eq!(p["allocations"][0]["vpp_name"], "First");
    assert!((p["ratio_left"].as_f64().unwrap() - 0.4).abs() < 1e-9);
    assert_eq!(field(&p), "members[0].allocation_ratio");
    let (_, list) = app.get("/api/v1/vpp/vpps?size=10").await;
    assert_eq!(list["total"], 1, "the refused VPP was not created");
    // 0.4 fits exactly.
    let second = app.vpp("Second", json!([{"resource_id": r, "allocation_ratio": 0.4}])).await;
    // Raising it is refused through the membership endpoint too.
    let (s, p) = app
        .put(
            &format!("/api/v1/vpp/vpps/{second}/resources"),
            json!({"update_resources": [{"resource_id": r, "allocation_ratio": 0.5}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&p), "update_resources[0].allocation_ratio");
    // Inactive VPPs hold nothing: deactivate First, then Second may take it all.
    app.put(&format!("/api/v1/vpp/vpps/{first}"), json!({"status": "INACTIVE"})).await;
    let (s, v) = app
        .put(
            &format!("/api/v1/vpp/vpps/{second}/resources"),
            json!({"update_resources": [{"resource_id": r, "allocation_ratio": 1.0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Reactivating First would double-book: refused.
    let (s, p) = app.put(&format!("/api/v1/vpp/vpps/{first}"), json!({"status": "ACTIVE"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["type"], "urn:vpp:problem:double-booking");
    assert_eq!(app.get(&format!("/api/v1/vpp/vpps/{first}")).await.1["status"], "INACTIVE");
}

#[tokio::test]
async fn membership_changes_are_all_or_nothing() {
    let app = TestApp::new().await;
    let a = app.generator("A", 100.0, 0.0, 10.0).await;
    let b = app.generator("B", 100.0, 0.0, 20.0).await;
    let c = app.generator("C", 100.0, 0.0, 30.0).await;
    let v = app.vpp("V", json!([{"resource_id": a}, {"resource_id": b, "allocation_ratio": 0.5}])).await;
    let path = format!("/api/v1/vpp/vpps/{v}/resources");
    let (s, out) = app
        .put(&path, json!({"add_resources": [{"resource_id": c, "allocation_ratio": 0.25, "priority": 3}], "remove_resources": [a], "update_resources": [{"resource_id": b, "priority": 7}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let members = out["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let mb = members.iter().find(|m| m["resource_id"] == b.as_str()).unwrap();
    assert_eq!(mb["priority"], 7);
    assert_eq!(mb["allocation_ratio"], 0.5);
    let mc = members.iter().find(|m| m["resource_id"] == c.as_str()).unwrap();
    assert_eq!(mc["allocation_ratio"], 0.25);
    for (body, expected) in [
        (json!({"remove_resources": [a]}), "remove_resources[0]"),
        (json!({"add_resources": [{"resource_id": b}]}), "add_resources[0].resource_id"),
        (json!({"add_resources": [{"resource_id": "ghost"}]}), "add_resources[0].resource_id"),
        (json!({"add_resources": [{"resource_id": a, "allocation_ratio": 1.01}]}), "add_resources[0].allocation_ratio"),
        (json!({"update_resources": [{"resource_id": a, "priority": 1}]}), "update_resources[0].resource_id"),
        (json!({"add_resources": [{"resource_id": a, "priority": 0}]}), "add_resources[0].priority"),
        (json!({"remove": [a]}), "remove"),
    ] {
        let (s, p) = app.put(&path, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {p}");
        assert_eq!(field(&p), expected, "{body}: {p}");
    }
    let (_, after) = app.get(&format!("/api/v1/vpp/vpps/{v}")).await;
    assert_eq!(after["members"], out["members"], "refused changes change nothing");
    assert_eq!(app.put("/api/v1/vpp/vpps/ghost/resources", json!({})).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn conflicts_report_unavailable_members() {
    let app = TestApp::new().await;
    let a = app.generator("A", 100.0, 0.0, 10.0).await;
    let b = app.generator("B", 100.0, 0.0, 10.0).await;
    app.vpp("V", json!([{"resource_id": a, "allocation_ratio": 0.5}, {"resource_id": b}])).await;
    assert_eq!(app.get("/api/v1/vpp/conflicts").await.1, json!([]));
    app.set_status(&a, "ERROR").await;
    let (s, c) = app.get("/api/v1/vpp/conflicts").await;
    assert_eq!(s, StatusCode::OK);
    let list = c.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "UNAVAILABLE_MEMBER");
    assert_eq!(list[0]["resource_id"], a.as_str());
    assert_eq!(list[0]["resource_status"], "ERROR");
    assert_eq!(list[0]["allocations"][0]["vpp_name"], "V");
}

#[tokio::test]
async fn aggregated_params_follow_the_definitions() {
    let app = TestApp::new().await;
    let g = app.generator("Gen", 400.0, 0.0, 100.0).await; // up 400, down 0, response 60 s, η 0.35
    let b = app.battery("Bat", 200.0, 100.0, 20.0).await; // 200 kWh, ±100 kW, η 1.0, response 1 s
    let off = app.generator("Off", 1000.0, 0.0, 1.0).await;
    app.set_status(&off, "OFFLINE").await;
    let v = app
        .vpp("V", json!([{"resource_id": g, "allocation_ratio": 0.5}, {"resource_id": b}, {"resource_id": off}]))
        .await;
    let path = format!("/api/v1/vpp/vpps/{v}/aggregated-params");
    let (s, a) = app.get(&path).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    // The battery has not reported SOC: it offers nothing yet.
    assert_eq!(a["soc_unknown_count"], 1);
    assert_eq!(a["total_capacity_kw"], 200.0 + 100.0 + 1000.0);
    assert_eq!(a["online_capacity_kw"], 300.0);
    assert_eq!(a["available_up_kw"], 200.0);
    assert_eq!(a["available_down_kw"], 0.0);
    assert_eq!(a["status_counts"]["offline"], 1);
    // SOC 50 %: 40 % of 200 kWh each way = 80 kWh. Over 1 h: 80 kW; over 0.5 h the 100 kW limit binds.
    app.telemetry(&b, json!([{"ts": crate::helpers::now_rfc3339(), "power_kw": 0.0, "soc_pct": 50.0}])).await;
    let (_, a) = app.get(&path).await;
    assert_eq!(a["soc_unknown_count"], 0);
    assert!((a["available_up_kw"].as_f64().unwrap() - 280.0).abs() < 1e-9, "{a}");
    assert!((a["available_down_kw"].as_f64().unwrap() - 80.0).abs() < 1e-9, "{a}");
    assert_eq!(a["response_time_s"], 60.0);
    // Capacity-weighted: (200·0.35 + 100·1.0) / 300.
    assert!((a["efficiency"].as_f64().unwrap() - 170.0 / 300.0).abs() < 1e-9);
    let storage = a["by_category"].as_array().unwrap().iter().find(|c| c["category"] == "STORAGE").unwrap();
    assert_eq!(storage["response_time_s"], 1.0);
    let (_, half) = app.get(&format!("{path}?duration_hours=0.5")).await;
    assert!((half["available_up_kw"].as_f64().unwrap() - 300.0).abs() < 1e-9, "{half}");
    for bad in ["duration_hours=0", "duration_hours=-1", "duration_hours=1000", "duration_hours=abc", "hours=1"] {
        let (s, p) = app.get(&format!("{path}?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(field(&p), bad.split('=').next().unwrap());
    }
    // A status change shows at once (the cache is invalidated by writes).
    app.set_status(&g, "MAINTENANCE").await;
    let (_, a) = app.get(&path).await;
    assert!((a["available_up_kw"].as_f64().unwrap() - 80.0).abs() < 1e-9, "{a}");
    assert_eq!(app.get("/api/v1/vpp/vpps/ghost/aggregated-params").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn writes_by_other_processes_show_after_the_cache_ttl() {
    let settings =
        vpp_server::ServerSettings { fleet_cache_ttl: std::time::Duration::from_millis(50), ..Default::default() };
    let app = TestApp::with_settings(settings).await;
    let g = app.generator("G", 100.0, 0.0, 10.0).await;
    let v = app.vpp("V", json!([{"resource_id": g}])).await;
    let path = format!("/api/v1/vpp/vpps/{v}/aggregated-params");
    assert_eq!(app.get(&path).await.1["available_up_kw"], 100.0);
    // Another process changes the database behind this server's back.
    let request = vpp_domain::resource::StatusRequest {
        status: vpp_domain::resource::ResourceStatus::Offline,
        reason: "elsewhere".into(),
    };
    app.store.set_resource_status(&g, request).await.expect("status");
    let mut seen = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (_, a) = app.get(&path).await;
        if a["available_up_kw"] == 0.0 {
            seen = Some(a);
            break;
        }
    }
    assert!(seen.is_some(), "the stale fleet was reloaded after the TTL");
}

#[tokio::test]
async fn the_dashboard_stream_sends_snapshots_as_server_sent_events() {
    let app = TestApp::new().await;
    let battery = app.battery("B1", 100.0, 50.0, 10.0).await;
    let outside = app.battery("B2", 100.0, 50.0, 10.0).await;
    let stale = app.battery("B3", 100.0, 50.0, 10.0).await;
    app.vpp("Pool", json!([{"resource_id": battery, "allocation_ratio": 0.5}, {"resource_id": stale}])).await;
    // Power now: B1 discharges 40 kW (half of it the pool's), B2 charges 10 kW
    // outside any VPP, B3's newest sample is an hour old and does not count.
    app.telemetry(&battery, json!([{"ts": crate::helpers::now_rfc3339(), "power_kw": 40.0, "soc_pct": 50.0}])).await;
    app.telemetry(&outside, json!([{"ts": crate::helpers::now_rfc3339(), "power_kw": -10.0, "soc_pct": 50.0}])).await;
    let hour_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string();
    app.telemetry(&stale, json!([{"ts": hour_ago, "power_kw": 25.0, "soc_pct": 50.0}])).await;
    let (status, body, content_type) =
        app.request(Method::GET, "/api/v1/vpp/events/dashboard?interval_s=1&count=2", None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let text = body.as_str().unwrap();
    assert_eq!(text.matches("event: snapshot").count(), 2, "{text}");
    let first = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let snap: Value = serde_json::from_str(first).unwrap();
    assert_eq!(snap["vpps"][0]["name"], "Pool");
    assert_eq!(snap["vpps"][0]["aggregated"]["total_capacity_kw"], 75.0);
    assert_eq!(snap["vpps"][0]["live"], json!({"kw": 20.0, "reporting": 1}));
    assert_eq!(snap["vpps"][0]["committed_kw"], Value::Null);
    assert_eq!(snap["fleet"]["live"], json!({"kw": 30.0, "reporting": 2}));
    assert_eq!(snap["fleet"]["status_counts"]["online"], 3);
    let (status, p) = app.get("/api/v1/vpp/events/dashboard?interval_s=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["field"], "interval_s");
}

#[tokio::test]
async fn a_membership_preview_shows_aggregates_and_double_booking_and_stores_nothing() {
    let app = TestApp::new().await;
    let battery = app.battery("B1", 100.0, 50.0, 10.0).await;
    let other = app.battery("B2", 100.0, 30.0, 10.0).await;
    app.vpp("Holder", json!([{"resource_id": battery, "allocation_ratio": 0.7}])).await;
    let (s, p) = app
        .post(
            "/api/v1/vpp/vpps/preview",
            json!({"members": [{"resource_id": battery, "allocation_ratio": 0.5}, {"resource_id": other, "allocation_ratio": 1.0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["aggregated"]["total_capacity_kw"], 55.0); // 0.5 × 50 + 1.0 × 30
    assert_eq!(p["double_booking"].as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p["double_booking"][0]["resource_name"], "B1");
    assert_eq!(p["double_booking"][0]["allocations"][0]["vpp_name"], "Holder");
    assert!((p["double_booking"][0]["ratio_left"].as_f64().unwrap() - 0.3).abs() < 1e-9);
    let (_, list) = app.get("/api/v1/vpp/vpps").await;
    assert_eq!(list["total"], 1, "nothing stored");
    let (s, p) = app.post("/api/v1/vpp/vpps/preview", json!({"members": [{"resource_id": "nope"}]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "members[0].resource_id");
}
