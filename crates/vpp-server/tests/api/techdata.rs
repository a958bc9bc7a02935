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
    assert_eq!(history[0]["content"]["code"], "technical_data", "{history}");
    // Read in Chinese, the reason vpp wrote is in Chinese; the file name stays.
    let path = format!("/api/v1/vpp/resource-instances/{bat_id}/status-history");
    let (_, zh) = app.send_in("zh-CN", axum::http::Method::GET, &path, None).await;
    assert_eq!(zh[0]["reason"], "技术数据导入 `technical_data_2026-11-22T06-00-00Z.json`", "{zh}");
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

/// Technical data makes the power series of new PV and wind assets; files
/// that name their asset (by key, asset column or file name) land there,
/// one at a time or several in one upload.
#[tokio::test]
async fn files_route_themselves_to_the_asset_they_name() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let mut pv = asset("PV-03", "Roof Nord", "PV", 800.0, json!({"metering_point_id": "DE000PV03"}));
    pv["location"]["latitude"] = json!(53.5);
    let body = json!({"assets": [pv, asset("WP-07", "Park Nord", "wind", 3600.0, json!({})),
        asset("WP-07-B", "Park Nord B", "wind", 3600.0, json!({})), asset("B-1", "Depot", "battery", 100.0, json!({"usable_energy_kwh": 200}))]});
    let (s, r) = import(&app, "technical_data_2026-11-20T06-00-00Z.json", body).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["power_series"].as_array().map(Vec::len), Some(3), "PV and wind, not the battery: {r}");

    let send = |query: String, content_type: &'static str, body: Vec<u8>| {
        let app = &app;
        async move {
            let (s, v, _) =
                app.request(Method::POST, &format!("/api/v1/vpp/series/{query}"), Some(content_type), body).await;
            (s, v)
        }
    };
    let meter = "timestamp,value_kw\n2026-11-20T10:00:00Z,1200\n2026-11-20T10:15:00Z,1300\n";
    // By file name: `WP-07-B` is named, not `WP-07` inside it.
    let (s, r) =
        send("import?file_name=WP-07-B_meter_2026-11-20.csv&source=meter_final".into(), "text/csv", meter.into()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["routed"]["by"].as_str(), r["report"]["accepted"].as_u64()),
        (Some("file name names asset id WP-07-B"), Some(2))
    );
    let (_, series) = app.get(&format!("/api/v1/vpp/series/{}", r["routed"]["series_id"].as_str().unwrap())).await;
    assert_eq!(series["name"], "Park Nord B power");
    // By a metering point in the file name.
    let (s, r) = send("import?file_name=DE000PV03.csv&source=meter_final".into(), "text/csv", meter.into()).await;
    assert_eq!(
        (s, r["routed"]["by"].as_str()),
        (StatusCode::OK, Some("file name names metering point DE000PV03")),
        "{r}"
    );
    // By an asset column; a file of two assets is refused naming the column.
    let keyed = "asset_id;Zeit;Leistung (MW)\nWP-07;2026-11-20T10:00:00Z;1,5\n";
    let (s, r) = send("import?source=live_measurement".into(), "text/csv", keyed.into()).await;
    assert_eq!((s, r["routed"]["by"].as_str()), (StatusCode::OK, Some("column asset_id names asset id WP-07")), "{r}");
    let two = "asset_id,time,kw\nWP-07,2026-11-20T10:00:00Z,1\nPV-03,2026-11-20T10:00:00Z,1\n";
    let (s, p) = send("import?source=live_measurement".into(), "text/csv", two.into()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "asset_id"), "{p}");
    // By a column file's key.
    let start = 1_795_168_800_000i64;
    let columns = json!({"key": {"asset_id": "PV-03"}, "column_ids": ["timestamp", "value"], "units": ["ms", "kW"],
        "values": [[start], [640.0]]});
    let (s, r) = send("import".into(), "application/json", columns.to_string().into_bytes()).await;
    assert_eq!((s, r["routed"]["by"].as_str()), (StatusCode::OK, Some("key names asset id PV-03")), "{r}");
    // A column file keyed by its metering point.
    let by_point = json!({"key": {"asset_id": "DE000PV03"}, "column_ids": ["timestamp", "value"], "units": ["ms", "kW"],
        "values": [[start + 900_000], [600.0]]});
    let (s, r) = send("import".into(), "application/json", by_point.to_string().into_bytes()).await;
    assert_eq!((s, r["routed"]["by"].as_str()), (StatusCode::OK, Some("key names metering point DE000PV03")), "{r}");
    // A name that names nothing, and a file of no known asset.
    let (s, p) = send("import?file_name=export.csv&source=meter_final".into(), "text/csv", meter.into()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file_name"), "{p}");

    // Several files in one upload: one refused, the others in.
    let part = |name: &str, text: &str| {
        format!(
            "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{text}\r\n"
        )
    };
    let upload = format!(
        "{}{}{}--XYZ--\r\n",
        part("WP-07_2026-11-21.csv", &meter.replace("2026-11-20", "2026-11-21")),
        part("PV-03_2026-11-21.csv", &meter.replace("2026-11-20", "2026-11-21")),
        part("nobody.csv", meter)
    );
    let (s, r) =
        send("import-files?source=meter_final".into(), "multipart/form-data; boundary=XYZ", upload.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["files"].as_u64(), r["imported"].as_u64(), r["failed"].as_u64()), (Some(3), Some(2), Some(1)), "{r}");
    assert_eq!(r["outcomes"][2]["error"]["field"], "file_name", "{r}");
    let bad = format!("{}--XYZ--\r\n", part("nobody.csv", meter));
    let (s, p) =
        send("import-files?source=meter_final".into(), "multipart/form-data; boundary=XYZ", bad.into_bytes()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "files"), "{p}");
    assert_eq!(p["outcomes"][0]["file_name"], "nobody.csv", "{p}");
}
