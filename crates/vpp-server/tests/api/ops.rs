use axum::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_readiness_metrics_and_docs() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").await, (StatusCode::OK, serde_json::Value::String("ok".into())));
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
    app.get("/api/v1/vpp/vpps").await;
    let (s, metrics) = app.get("/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(metrics.as_str().unwrap().contains("http_requests_total"), "{metrics}");
    let (s, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/vpp/resource-templates",
        "/api/v1/vpp/resource-templates/{id}",
        "/api/v1/vpp/resource-templates/export",
        "/api/v1/vpp/resource-instances/{id}/realtime-data",
        "/api/v1/vpp/resource-instances/technical-data",
        "/api/v1/vpp/vpps/{id}/resources",
        "/api/v1/vpp/vpps/{id}/aggregated-params",
        "/api/v1/vpp/vpps/{id}/dispatch",
        "/api/v1/vpp/conflicts",
        "/api/v1/vpp/trading/execution-status/{instruction_id}",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    let (s, page) = app.get("/api/v1/docs/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("swagger"), "the docs page is served");
}

/// Answers are compressed as the client accepts (brotli or gzip), the
/// dashboard's event stream never is (it must reach the page as it is sent),
/// and a client that accepts neither gets the body as it is.
#[tokio::test]
async fn answers_are_compressed_as_accepted_but_event_streams_are_not() {
    use axum::http::{Method, Request, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let get = |path: &str, encoding: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.token));
        if let Some(e) = encoding {
            b = b.header(header::ACCEPT_ENCODING, e);
        }
        b.body(axum::body::Body::empty()).unwrap()
    };
    let plain = app.router.clone().oneshot(get("/api/v1/openapi.json", None)).await.unwrap();
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let raw = plain.into_body().collect().await.unwrap().to_bytes().len();
    for (accepts, expected) in [("br", "br"), ("gzip", "gzip"), ("gzip, br", "br")] {
        let r = app.router.clone().oneshot(get("/api/v1/openapi.json", Some(accepts))).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers().get(header::CONTENT_ENCODING).unwrap(), expected, "Accept-Encoding: {accepts}");
        let sent = r.into_body().collect().await.unwrap().to_bytes().len();
        assert!(sent * 5 < raw, "{accepts}: {sent} bytes sent for {raw}");
    }
    let events =
        app.router.clone().oneshot(get("/api/v1/vpp/events/dashboard?count=1", Some("gzip, br"))).await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(events.headers().get(header::CONTENT_ENCODING).is_none(), "an event stream goes out uncompressed");
}

/// Twenty nodes reach for one lease at the same moment: exactly one gets
/// it. Its renewal keeps the token and another node is refused until the
/// lease expires; then that node takes it under the next token, and a
/// clearing written under the old token is refused by its fence. The
/// check and the take are one statement, so this holds on PostgreSQL's
/// concurrent writers as on SQLite's single one.
#[tokio::test]
async fn one_node_of_many_takes_a_lease_and_the_old_holder_is_fenced() {
    let app = TestApp::new().await;
    let now = jiff::Timestamp::now();
    let ttl = jiff::SignedDuration::from_secs(10);
    let mut tries = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = app.store.clone();
        tries.spawn(async move { store.acquire_lease("market", &format!("node-{i}"), now, ttl).await.unwrap() });
    }
    let got: Vec<vpp_store::Fence> = tries.join_all().await.into_iter().flatten().collect();
    assert_eq!(got.len(), 1, "{got:?}");
    let first = got[0].clone();
    let later = |s: i64| now + jiff::SignedDuration::from_secs(s);
    let renewed = app.store.acquire_lease("market", &first.node, later(3), ttl).await.unwrap();
    assert_eq!(renewed, Some(first.clone()), "a renewal keeps the token");
    assert_eq!(app.store.acquire_lease("market", "node-x", later(12), ttl).await.unwrap(), None, "held until 13 s");
    let taken = app.store.acquire_lease("market", "node-x", later(14), ttl).await.unwrap().expect("expired: taken");
    assert_eq!(taken.token, first.token + 1);
    // The old holder wakes and writes a clearing: refused, nothing stored.
    let (s, c) =
        app.post("/api/v1/vpp/market-connectors", serde_json::json!({"name": "DA", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let connector = c["id"].as_str().unwrap();
    let day = jiff::civil::date(2026, 12, 8);
    let nothing = vpp_store::Clearing { slots: &[], fills: &[], statuses: &[], trades: &[] };
    let refused = app.store.record_clearing(connector, day, nothing, Some(&first)).await;
    assert!(matches!(refused, Err(vpp_store::StoreError::Fenced { .. })), "{refused:?}");
    assert!(app.store.clearing(connector, day).await.unwrap().is_none());
    app.store.record_clearing(connector, day, nothing, Some(&taken)).await.unwrap();
    assert!(app.store.clearing(connector, day).await.unwrap().is_some());
    // The lease as the API shows it.
    let (s, cluster) = app.get("/api/v1/vpp/cluster").await;
    assert_eq!(s, StatusCode::OK, "{cluster}");
    assert_eq!(cluster["leases"][0]["holder"], "node-x", "{cluster}");
    assert_eq!(cluster["leases"][0]["token"], taken.token);
}
