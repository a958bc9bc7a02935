//! Asset owners read their own assets' data, invoices and reports, and
//! nothing else; they write nothing. API keys carry the same binding.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, field};

#[tokio::test]
async fn an_asset_owner_reads_its_own_assets_and_nothing_else() {
    let app = TestApp::new().await;
    let mine = app
        .create_resource(
            "WIND",
            "Park Nord",
            json!({"external_id": "WP-07", "owner": "Bürgerwind Nord eG", "parameters": {"rated_kw": 3600}}),
        )
        .await;
    let theirs = app
        .create_resource(
            "WIND",
            "Windpark Heide",
            json!({"external_id": "WP-03", "owner": "Heide Solar GmbH", "parameters": {"rated_kw": 800}}),
        )
        .await;
    let (m, t) = (mine["id"].as_str().unwrap(), theirs["id"].as_str().unwrap());
    let contracts = "contract_id,resource_id,valid_from,price_model,fixed_price,fee_model,fee_value\n\
        K-7,WP-07-ID,2026-01-01,fixed,80,fixed_as_produced,1\nK-3,PV-03-ID,2026-01-01,fixed,70,fixed_as_produced,1\n"
        .replace("WP-07-ID", m)
        .replace("PV-03-ID", t);
    let (s, r, _) =
        app.request(Method::POST, "/api/v1/vpp/contracts/import", Some("text/csv"), contracts.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Meter final of both assets.
    for (id, kw) in [(m, 2000.0), (t, 500.0)] {
        let (_, series) = app
            .post(
                "/api/v1/vpp/series",
                json!({"name": format!("{id} power"), "owner_kind": "resource", "owner_id": id, "quantity": "power"}),
            )
            .await;
        let beliefs = json!({"beliefs": [{"event_start": "2026-11-20T10:00:00Z", "belief_time": "2026-11-21T08:00:00Z",
            "source": "meter_final", "value": kw}]});
        let (s, r) = app.post(&format!("/api/v1/vpp/series/{}/beliefs", series["id"].as_str().unwrap()), beliefs).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    // Binding is required and only for the asset_owner role.
    let (s, p) = app
        .post(
            "/api/v1/auth/users",
            json!({"username": "nobody", "password": "long-enough-password", "role": "asset_owner"}),
        )
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "asset_owner"), "{p}");
    let (s, p) = app
        .post(
            "/api/v1/auth/users",
            json!({"username": "viewer2", "password": "long-enough-password", "role": "viewer", "asset_owner": "X"}),
        )
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "asset_owner"), "{p}");
    let owner = app.owner_token("nord", "Bürgerwind Nord eG").await;
    let get = |path: String| {
        let (app, owner) = (&app, owner.clone());
        async move { app.get_as(Some(&owner), &path).await }
    };
    let (s, assets) = get("/api/v1/vpp/my/assets".into()).await;
    assert_eq!(s, StatusCode::OK, "{assets}");
    let ids: Vec<&str> = assets.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [m], "only its own asset: {assets}");
    let window = "start=2026-11-20T10:00:00Z&end=2026-11-20T10:30:00Z";
    let (s, infeed) = get(format!("/api/v1/vpp/my/assets/{m}/best-of-infeed?{window}")).await;
    assert_eq!(s, StatusCode::OK, "{infeed}");
    assert_eq!(infeed[0]["value_kw"], 2000.0, "{infeed}");
    assert_eq!(infeed[0]["source"], "meter_final");
    let (s, _) = get(format!("/api/v1/vpp/my/assets/{t}/best-of-infeed?{window}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another owner's asset");
    let (s, invoices) = get("/api/v1/vpp/my/invoices?month=2026-11".into()).await;
    assert_eq!(s, StatusCode::OK, "{invoices}");
    let contracts: Vec<&str> =
        invoices.as_array().unwrap().iter().map(|i| i["contract_id"].as_str().unwrap()).collect();
    assert_eq!(contracts, ["K-7"], "{invoices}");
    // Another owner's invoice is forbidden, by its contract or by the general route.
    let (s, p) = get("/api/v1/vpp/my/invoices?month=2026-11&contract_id=K-3".into()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    let (s, _) = get("/api/v1/vpp/invoices?month=2026-11&contract_id=K-3".into()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [
        "/api/v1/vpp/resource-instances",
        format!("/api/v1/vpp/resource-instances/{t}").as_str(),
        "/api/v1/vpp/vpps",
        "/api/v1/vpp/contracts",
    ] {
        let (s, _) = get(path.to_string()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    // Writes are refused.
    let (s, _) = app.post_as(Some(&owner), "/api/v1/vpp/vpps", json!({"name": "mine", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, report) = get("/api/v1/vpp/my/report?day=2026-11-20".into()).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["assets"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["total"]["production_mwh"], "0.5", "2000 kW × ¼ h: {report}");
    // An owner's role is fixed with its binding.
    let (_, users) = app.get("/api/v1/auth/users").await;
    let nord = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "nord").unwrap().clone();
    assert_eq!(nord["asset_owner"], "Bürgerwind Nord eG");
    let (s, p) =
        app.put(&format!("/api/v1/auth/users/{}", nord["id"].as_str().unwrap()), json!({"role": "viewer"})).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "role"), "{p}");
    // An API key with the same binding reads the same, and only with owner:read.
    let (s, p) = app
        .post(
            "/api/v1/auth/api-keys",
            json!({"name": "heide portal", "scopes": ["owner:read", "vpps:read"], "asset_owner": "Heide Solar GmbH"}),
        )
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "scopes"), "{p}");
    let (s, key) = app
        .post(
            "/api/v1/auth/api-keys",
            json!({"name": "heide portal", "scopes": ["owner:read"], "asset_owner": "Heide Solar GmbH"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().unwrap().to_string();
    let (s, assets) = app.get_as(Some(&secret), "/api/v1/vpp/my/assets").await;
    assert_eq!(s, StatusCode::OK, "{assets}");
    assert_eq!(assets[0]["id"], t, "{assets}");
    let (s, _) = app.get_as(Some(&secret), "/api/v1/vpp/my/invoices?month=2026-11&contract_id=K-7").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
