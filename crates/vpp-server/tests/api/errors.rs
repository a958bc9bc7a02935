use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, field};

#[tokio::test]
async fn malformed_bodies_are_problem_json() {
    let app = TestApp::new().await;
    let (s, p, ct) =
        app.request(Method::POST, "/api/v1/vpp/vpps", Some("application/json"), b"{\"name\": ".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(p["type"], "urn:vpp:problem:malformed");
    assert!(p["detail"].as_str().unwrap().contains("line 1"));
    let (s, p, _) = app.request(Method::POST, "/api/v1/vpp/vpps", Some("text/plain"), b"{}".to_vec()).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{p}");
    let (s, p) = app.post("/api/v1/vpp/vpps", json!({"name": "V", "market_type": "SPOT", "colour": "red"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "colour");
    let (s, p) = app.post("/api/v1/vpp/vpps", json!({"name": 5, "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "name");
    let (s, p) = app.post("/api/v1/vpp/vpps", json!({"name": " ", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "name");
    let (s, _) = app.post("/api/v1/vpp/vpps", json!([1, 2])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/vpp/vpps").await.1["total"], 0);
}

#[tokio::test]
async fn huge_payloads_are_refused_with_413() {
    let app =
        TestApp::with_settings(vpp_server::ServerSettings { body_limit_bytes: 64 * 1024, ..Default::default() }).await;
    let big = format!("{{\"name\": \"{}\", \"market_type\": \"SPOT\"}}", "x".repeat(200_000));
    let (s, p, ct) = app.request(Method::POST, "/api/v1/vpp/vpps", Some("application/json"), big.into_bytes()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{p}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(p["type"], "urn:vpp:problem:payload-too-large");
    assert_eq!(app.get("/api/v1/vpp/vpps").await.1["total"], 0);
}

#[tokio::test]
async fn unknown_routes_and_ids_answer_404() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/v1/vpp/resource-instances/nope").await.0, StatusCode::NOT_FOUND);
    let (s, p) = app.get("/api/v1/vpp/vpps/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(p["type"], "urn:vpp:problem:not-found");
    assert_eq!(app.get("/api/v1/vpp/nothing-here").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_methods_answer_405() {
    let app = TestApp::new().await;
    let (s, p, _) = app.request(Method::PATCH, "/api/v1/vpp/vpps", Some("application/json"), b"{}".to_vec()).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("GET"));
}

#[tokio::test]
async fn unknown_routes_outside_the_console_are_problem_json() {
    let app = TestApp::new().await;
    let (s, p, ct) = app.request(Method::GET, "/api/v1/vpp/no-such-thing", None, vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(ct, "application/problem+json", "{p}");
    // The console answers only GET; a write to a console path is an unknown route.
    let (s, _, ct) = app.request(Method::POST, "/resources", Some("application/json"), b"{}".to_vec()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(ct, "application/problem+json");
    // A page of the console is its index.html.
    let (s, body, ct) = app.request(Method::GET, "/resources", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.as_str().unwrap().contains("<div id=\"app\">"));
}
