use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, field};

fn custom_template(name: &str) -> serde_json::Value {
    json!({
        "name": name,
        "resource_type": "OTHER",
        "category": "FLEXIBLE",
        "description": "Cold store with a thermal buffer",
        "parameters": [
            {"name": "volume_m3", "type": "number", "unit": "m3", "required": true, "min": 1, "max": 100000},
            {"name": "min_temp_c", "type": "number", "unit": "°C", "default": -25, "min": -40, "max": 10},
            {"name": "max_temp_c", "type": "number", "unit": "°C", "default": -18, "min": -40, "max": 10}
        ],
        "rules": [{"left": "min_temp_c", "op": "<", "right": "max_temp_c"}],
        "control_interface": {"protocol": "MQTT", "points": [{"name": "setpoint", "address": "cold/setpoint", "unit": "kW", "access": "RW"}]}
    })
}

#[tokio::test]
async fn presets_are_seeded_and_listed_with_filters() {
    let app = TestApp::new().await;
    let (s, all) = app.get("/api/v1/vpp/resource-templates?size=100").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["total"], 9);
    let types: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|t| t["resource_type"].as_str().unwrap()).collect();
    for t in ["PV", "WIND", "BATTERY", "EV_CHARGER", "HEAT_PUMP", "HVAC", "INDUSTRIAL_LOAD", "DIESEL_GENERATOR", "CHP"]
    {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let (_, generator) = app.get("/api/v1/vpp/resource-templates?category=GENERATION").await;
    assert_eq!(generator["total"], 4);
    let (_, page) = app.get("/api/v1/vpp/resource-templates?page=2&size=4").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert_eq!(page["total"], 9);
    let (_, battery) = app.get("/api/v1/vpp/resource-templates?resource_type=BATTERY").await;
    let params = battery["items"][0]["parameters"].as_array().unwrap();
    assert!(params.iter().any(|p| p["name"] == "usable_energy_kwh" && p["unit"] == "kWh"));
    assert_eq!(battery["items"][0]["version"], 1);
    let (s, bad) = app.get("/api/v1/vpp/resource-templates?category=NUCLEAR").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&bad), "category");
}

#[tokio::test]
async fn template_crud_and_versioning() {
    let app = TestApp::new().await;
    let (s, t) = app.post("/api/v1/vpp/resource-templates", custom_template("Cold store")).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["version"], 1);
    assert_eq!(t["preset"], false);
    let (s, got) = app.get(&format!("/api/v1/vpp/resource-templates/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["name"], "Cold store");
    let (s, up) = app.put(&format!("/api/v1/vpp/resource-templates/{id}"), json!({"description": "v2"})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["version"], 2);
    assert_eq!(up["description"], "v2");
    let (s, dup) = app.post("/api/v1/vpp/resource-templates", custom_template("Cold store")).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&dup), "name");
    assert_eq!(app.delete(&format!("/api/v1/vpp/resource-templates/{id}")).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/vpp/resource-templates/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/api/v1/vpp/resource-templates/{id}")).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invalid_schemas_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let mut t = custom_template("Broken");
    t["parameters"][0]["min"] = json!(10);
    t["parameters"][0]["max"] = json!(1);
    let (s, p) = app.post("/api/v1/vpp/resource-templates", t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "parameters[0].min");
    let mut t = custom_template("Broken");
    t["rules"][0]["left"] = json!("nope");
    let (s, p) = app.post("/api/v1/vpp/resource-templates", t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "rules[0].left");
    let mut t = custom_template("Broken");
    t["parameters"][1]["type"] = json!("complex");
    let (s, p) = app.post("/api/v1/vpp/resource-templates", t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "parameters[1].type");
    let (_, list) = app.get("/api/v1/vpp/resource-templates").await;
    assert_eq!(list["total"], 9, "nothing was written");
}

#[tokio::test]
async fn template_in_use_cannot_be_deleted_and_schema_changes_must_keep_resources_valid() {
    let app = TestApp::new().await;
    let r = app.create_resource("PV", "Roof A", json!({"parameters": {"peak_kw": 100, "inverter_kw": 90}})).await;
    let tid = r["template_id"].as_str().unwrap();
    let (s, p, _) =
        app.request(axum::http::Method::DELETE, &format!("/api/v1/vpp/resource-templates/{tid}"), None, vec![]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["used_by"][0]["name"], "Roof A");
    assert!(p["detail"].as_str().unwrap().contains("Roof A"));
    // A new required parameter without default would strand the resource.
    let (_, t) = app.get(&format!("/api/v1/vpp/resource-templates/{tid}")).await;
    let mut params = t["parameters"].as_array().unwrap().clone();
    params.push(json!({"name": "module_count", "type": "integer", "required": true, "min": 1}));
    let (s, p) = app.put(&format!("/api/v1/vpp/resource-templates/{tid}"), json!({"parameters": params})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("Roof A"));
    // With a default it works, and the resource gets the default.
    let last = params.len() - 1;
    params[last]["default"] = json!(200);
    let (s, t2) = app.put(&format!("/api/v1/vpp/resource-templates/{tid}"), json!({"parameters": params})).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    assert_eq!(t2["version"], 2);
    let (_, r2) = app.get(&format!("/api/v1/vpp/resource-instances/{}", r["id"].as_str().unwrap())).await;
    assert_eq!(r2["parameters"]["module_count"], 200);
}

#[tokio::test]
async fn library_export_and_import_round_trip() {
    let app = TestApp::new().await;
    app.post("/api/v1/vpp/resource-templates", custom_template("Cold store")).await;
    let (s, library) = app.get("/api/v1/vpp/resource-templates/export").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(library["format"], "vpp-template-library");
    assert_eq!(library["templates"].as_array().unwrap().len(), 10);

    let other = TestApp::new().await;
    let (s, report) = other.post("/api/v1/vpp/resource-templates/import", library.clone()).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["created"], json!(["Cold store"]));
    assert_eq!(report["unchanged"].as_array().unwrap().len(), 9);
    let (_, again) = other.post("/api/v1/vpp/resource-templates/import", library.clone()).await;
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 10);

    let mut changed = library.clone();
    let cold = changed["templates"].as_array_mut().unwrap().iter_mut().find(|t| t["name"] == "Cold store").unwrap();
    cold["description"] = json!("bigger");
    let (_, upd) = other.post("/api/v1/vpp/resource-templates/import", changed.clone()).await;
    assert_eq!(upd["updated"], json!(["Cold store"]));

    // One bad template refuses the whole file.
    let mut bad = changed;
    bad["templates"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "X", "resource_type": "PV", "control_interface": {"protocol": "CARRIER_PIGEON"}}));
    let before = other.get("/api/v1/vpp/resource-templates/export").await.1["templates"].clone();
    let (s, p) = other.post("/api/v1/vpp/resource-templates/import", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&p).starts_with("templates[10]"), "{p}");
    assert_eq!(other.get("/api/v1/vpp/resource-templates/export").await.1["templates"], before);
}
