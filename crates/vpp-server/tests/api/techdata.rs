use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

fn asset(id: &str, name: &str, kind: &str, capacity: f64, extra: Value) -> Value {
    let mut attrs = json!({"capacity_kw": capacity});
    for (k, v) in extra.as_object().unwrap() {
        attrs[k] = v.clone();
    }
    json!({
        "asset_id": id, "name": name, "type": kind,
        "location": {"latitude": 48.1, "longitude": 11.5, "timezone": "Europe/Berlin"},
        "technical_attributes": attrs, "status": "active", "owner": {"name": "Stadtwerke Süd"}
    })
}

fn file() -> Value {
    json!({"assets": [
        asset("A-1", "Roof Süd", "PV", 120.0, json!({"tilt_deg": 20, "inverter_vendor": "SMA"})),
        asset("A-2", "Depot battery", "battery", 250.0, json!({"usable_energy_kwh": 500})),
        asset("A-3", "Hill turbine", "Wind", 3000.0, json!({})),
    ]})
}

async fn import(app: &TestApp, name: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/vpp/resource-instances/technical-data?file_name={name}"), body).await
}

#[tokio::test]
async fn import_adds_then_reports_changes_field_by_field_and_missing_assets() {
    let app = TestApp::new().await;
    let (s, r) = import(&app, "technical_data_2026-11-20T06-00-00Z.json", file()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["added"].as_array().unwrap().len(), 3);
    assert_eq!(r["file_created_at"], "2026-11-20T06:00:00Z");
    let (_, list) = app.get("/api/v1/vpp/resource-instances").await;
    assert_eq!(list["total"], 3);
    let pv = list["items"].as_array().unwrap().iter().find(|x| x["external_id"] == "A-1").unwrap().clone();
    assert_eq!(pv["parameters"]["peak_kw"], 120.0);
    assert_eq!(pv["parameters"]["tilt_deg"], 20);
    assert_eq!(pv["metadata"]["inverter_vendor"], "SMA");
    assert_eq!(pv["owner"], "Stadtwerke Süd");
    assert_eq!(pv["status"], "ONLINE");

    // The same content next day changes nothing.
    let (_, same) = import(&app, "technical_data_2026-11-21T06-00-00Z.json", file()).await;
    assert_eq!(same["unchanged_count"], 3);
    assert_eq!(same["added"], json!([]));

    // Next delivery: the PV grew, the battery is in maintenance, the turbine is gone.
    let mut battery = asset("A-2", "Depot battery", "battery", 250.0, json!({"usable_energy_kwh": 500}));
    battery["status"] = json!("maintenance");
    let next = json!({"assets": [
        asset("A-1", "Roof Süd", "PV", 150.0, json!({"tilt_deg": 20, "inverter_vendor": "SMA"})),
        battery,
        asset("A-4", "New heat pump", "heat_pump", 40.0, json!({})),
    ]});
    // A preview first: the same report, marked dry_run, and nothing applied.
    let (s, preview) = app
        .post("/api/v1/vpp/resource-instances/technical-data?file_name=technical_data_2026-11-22T06-00-00Z.json&dry_run=true", next.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["added"][0]["asset_id"], "A-4");
    assert_eq!(preview["changed"].as_array().unwrap().len(), 2);
    let (_, still) = app.get("/api/v1/vpp/resource-instances").await;
    assert_eq!(still["total"], 3, "no resource added by a preview");
    let (_, imports) = app.get("/api/v1/vpp/resource-instances/technical-data/imports").await;
    assert_eq!(imports.as_array().unwrap().len(), 2, "a preview is not in the history");

    let (s, r) = import(&app, "technical_data_2026-11-22T06-00-00Z.json", next).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dry_run"], false);
    assert_eq!(r["changed"], preview["changed"], "the preview showed exactly what was applied");
    assert_eq!(r["added"][0]["asset_id"], "A-4");
    assert_eq!(r["missing"][0]["asset_id"], "A-3");
    let changed = r["changed"].as_array().unwrap();
    let pv_changes = &changed.iter().find(|c| c["asset_id"] == "A-1").unwrap()["changes"];
    assert!(
        pv_changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "capacity_kw" && c["old"] == 120.0 && c["new"] == 150.0),
        "{pv_changes}"
    );
    assert!(pv_changes.as_array().unwrap().iter().any(|c| c["field"] == "parameters.peak_kw"), "{pv_changes}");
    let bat_changes = &changed.iter().find(|c| c["asset_id"] == "A-2").unwrap()["changes"];
    assert_eq!(bat_changes[0]["field"], "status");
    assert_eq!(bat_changes[0]["new"], "MAINTENANCE");

    // History: which file changed what, and the status change is recorded with the file as reason.
    let pv_id = pv["id"].as_str().unwrap();
    let (_, changes) = app.get(&format!("/api/v1/vpp/resource-instances/{pv_id}/changes")).await;
    assert_eq!(changes[0]["file_name"], "technical_data_2026-11-22T06-00-00Z.json");
    let bat_id = changed.iter().find(|c| c["asset_id"] == "A-2").unwrap()["resource_id"].as_str().unwrap();
    let (_, history) = app.get(&format!("/api/v1/vpp/resource-instances/{bat_id}/status-history")).await;
    assert!(history[0]["reason"].as_str().unwrap().contains("technical_data_2026-11-22"));
    let (_, imports) = app.get("/api/v1/vpp/resource-instances/technical-data/imports").await;
    assert_eq!(imports.as_array().unwrap().len(), 3);

    // An older file cannot undo a newer one.
    let (s, p) = import(&app, "technical_data_2026-11-21T07-00-00Z.json", file()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(field(&p), "file_name");
}

#[tokio::test]
async fn malformed_files_change_nothing() {
    let app = TestApp::new().await;
    let mut bad_asset = file();
    bad_asset["assets"][1]["technical_attributes"] = json!({"capacity_kw": 250});
    let cases = [
        (bad_asset, "assets[1].technical_attributes.usable_energy_kwh"),
        (json!({"assets": [asset("A-1", "x", "fusion", 10.0, json!({}))]}), "assets[0].type"),
        (
            json!({"assets": [asset("A-1", "x", "PV", 10.0, json!({})), asset("A-1", "y", "PV", 10.0, json!({}))]}),
            "assets[1].asset_id",
        ),
        (json!({"assets": [asset("A-1", "x", "PV", -10.0, json!({}))]}), "assets[0].technical_attributes.capacity_kw"),
        (json!({"assets": [{"asset_id": "A-1"}]}), "assets[0].name"),
        (json!({"things": []}), "things"),
    ];
    for (body, expected) in cases {
        let (s, p) = import(&app, "td_20261120.json", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{expected}: {p}");
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&expected), "{expected} not in {fields:?}");
    }
    let (s, _, _) = app
        .request(
            axum::http::Method::POST,
            "/api/v1/vpp/resource-instances/technical-data?file_name=x.json",
            Some("application/json"),
            b"{\"assets\": [".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, p) = app.post("/api/v1/vpp/resource-instances/technical-data", file()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "file_name");
    assert_eq!(app.get("/api/v1/vpp/resource-instances").await.1["total"], 0);
    assert_eq!(app.get("/api/v1/vpp/resource-instances/technical-data/imports").await.1, json!([]));
}

#[tokio::test]
async fn large_imports_are_answered_whole_and_audited_in_summary() {
    let app = TestApp::new().await;
    let assets: Vec<Value> = (0..3000)
        .map(|i| asset(&format!("BULK-{i:05}"), &format!("Bulk PV {i:05}"), "pv", 10.0 + i as f64 % 90.0, json!({})))
        .collect();
    let (s, r) = import(&app, "bulk_20261120.json", json!({"assets": assets})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["added"].as_array().unwrap().len(), 3000);
    let (_, audit) = app.get("/api/v1/audit?entity_type=technical_data_import").await;
    let after = &audit["items"][0]["after"];
    assert_eq!(after["added_count"], 3000, "keys: {:?}", after.as_object().map(|o| o.keys().collect::<Vec<_>>()));
    assert_eq!(after["file_name"], "bulk_20261120.json");
}
