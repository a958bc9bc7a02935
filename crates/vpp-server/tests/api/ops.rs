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
