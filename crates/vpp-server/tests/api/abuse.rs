//! Abuse limits: a flood of refused requests cannot fill the audit trail,
//! and one caller's bulk writes cannot block another's control actions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

async fn audit_rows(app: &TestApp) -> i64 {
    let (s, page) = app.get("/api/v1/audit?size=1").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["total"].as_i64().expect("total")
}

#[tokio::test]
async fn a_ten_second_flood_of_refused_writes_adds_a_bounded_number_of_audit_rows() {
    let app = Arc::new(TestApp::new().await);
    let before = audit_rows(&app).await;
    let sent = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(10);
    let routes = ["/api/v1/vpp/vpps", "/api/v1/vpp/trading/submit-bid", "/api/v1/vpp/resource-instances"];
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let (app, sent, limited) = (app.clone(), sent.clone(), limited.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < until {
                let credential = if i % 2 == 0 { None } else { Some("forged-token") };
                let route = routes[i % routes.len()];
                let ((s, _, _), _) =
                    app.request_as(credential, Method::POST, route, Some("application/json"), b"{}".to_vec()).await;
                assert!(s == StatusCode::UNAUTHORIZED || s == StatusCode::TOO_MANY_REQUESTS, "{s}");
                if s == StatusCode::TOO_MANY_REQUESTS {
                    limited.fetch_add(1, Ordering::Relaxed);
                }
                sent.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("flood task");
    }
    let (sent, limited) = (sent.load(Ordering::Relaxed), limited.load(Ordering::Relaxed));
    let added = audit_rows(&app).await - before;
    println!("flood: {sent} refused writes in 10 s ({limited} rate-limited) added {added} audit rows");
    assert!(sent >= 500, "the flood was a flood: {sent}");
    assert!(added <= 200, "{sent} refused writes added {added} audit rows");

    // When the window closes, what was left uncounted is written as one row
    // per address, route and answer, so the counts add up to the flood.
    app.state.auth.refusals.flush_all(&app.store).await;
    let (_, page) = app.get("/api/v1/audit?size=1000").await;
    let counted: u64 = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["actor_kind"] == "anonymous")
        .map(|e| e["after"]["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(counted, sent, "every refusal is counted once: {page}");
}

#[tokio::test]
async fn a_viewer_flooding_writes_cannot_block_an_operators_control_actions() {
    let mut settings = vpp_server::ServerSettings::default();
    settings.auth.writes_per_second = 1;
    settings.auth.write_burst = 3;
    let app = TestApp::with_settings(settings).await;
    let resource = app.generator("G", 100.0, 0.0, 50.0).await;
    let viewer = app.token_for("viewer").await;
    let operator = app.token_for("operator").await;
    // Same client address for both (behind one NAT): the viewer exhausts its budget.
    let mut viewer_limited = false;
    for _ in 0..10 {
        let (s, _) = app.post_as(Some(&viewer), "/api/v1/vpp/vpps/preview", json!({"members": []})).await;
        viewer_limited |= s == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(viewer_limited, "the viewer's own budget is limited");
    let set_status = |status: &'static str| {
        let (app, operator, resource) = (&app, &operator, &resource);
        async move {
            let body = json!({"status": status, "reason": "operator at work"}).to_string().into_bytes();
            let path = format!("/api/v1/vpp/resource-instances/{resource}/status");
            let ((s, body, _), _) =
                app.request_as(Some(operator), Method::PUT, &path, Some("application/json"), body).await;
            (s, body)
        }
    };
    for status in ["MAINTENANCE", "ONLINE", "MAINTENANCE", "ONLINE", "MAINTENANCE"] {
        let (s, body) = set_status(status).await;
        assert_eq!(s, StatusCode::OK, "the operator's status change: {body}");
    }
    // The operator's own bulk writes run out; control actions have their own budget.
    let mut operator_limited = false;
    for i in 0..10 {
        let (s, _) = app
            .post_as(Some(&operator), "/api/v1/vpp/vpps", json!({"name": format!("V{i}"), "market_type": "SPOT"}))
            .await;
        operator_limited |= s == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(operator_limited, "general writes are limited");
    let (s, body) = set_status("ONLINE").await;
    assert_eq!(s, StatusCode::OK, "a control action after bulk writes ran out: {body}");
}
