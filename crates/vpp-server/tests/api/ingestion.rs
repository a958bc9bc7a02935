//! Scheduled ingestion: sources are checked, an inbox file goes in once,
//! a refused file raises an alert with its lines, and the background job
//! takes a dropped file within seconds.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

/// A fresh folder under the system's temporary directory.
fn inbox() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vpp-inbox-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn source(name: &str, target: &str, location: &std::path::Path) -> Value {
    json!({"name": name, "target": target, "location": location.to_str().unwrap(),
           "schedule": "*/2 * * * * *", "settle_s": 0})
}

/// A DSO's meter final for WP-07: ` UTC` timestamps, a decimal comma.
const METER: &str = "timestamp;value (kW)\n\
    2026-06-08 00:00:00.000000 UTC;1200,5\n\
    2026-06-08 00:15:00.000000 UTC;1180\n\
    2026-06-08 00:30:00.000000 UTC;n/a\n\
    2026-06-08 00:45:00.000000 UTC;1175,25\n";

#[tokio::test]
async fn sources_are_checked_before_they_are_kept() {
    let app = TestApp::new().await;
    let dir = inbox();
    let mut bad = source("", "imbalance", std::path::Path::new("inbox"));
    bad["schedule"] = json!("daily");
    bad["bearer_token"] = json!("hunter2");
    let (s, p) = app.post("/api/v1/vpp/ingestion/sources", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for want in ["name", "location", "schedule", "connector", "bearer_token"] {
        assert!(fields.contains(&want), "{want} in {p}");
    }
    assert!(!p.to_string().contains("hunter2"), "a pasted secret is not echoed: {p}");
    let (s, p) = app.post("/api/v1/vpp/ingestion/sources", source("x", "series", &dir.join("missing"))).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "location"), "{p}");
    let mut unknown = source("x", "trades", &dir);
    unknown["connector"] = json!("No such files");
    let (s, p) = app.post("/api/v1/vpp/ingestion/sources", unknown).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "connector"), "{p}");
    let (s, created) = app.post("/api/v1/vpp/ingestion/sources", source("DSO meter final", "series", &dir)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["after"], Value::Null, "as configured");
    let (s, p) = app.post("/api/v1/vpp/ingestion/sources", source("DSO meter final", "series", &dir)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    // Only an admin: a source reads server folders and sends secrets to the URLs it names.
    let trader = app.token_for("trader").await;
    let (s, _) = app.post_as(Some(&trader), "/api/v1/vpp/ingestion/sources", source("t", "series", &dir)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut leak = source("leak", "series", std::path::Path::new("/x"));
    leak["location"] = json!("https://files.example/x.csv");
    leak["bearer_token"] = json!("env:VPP_JWT_SECRET");
    let (s, p) = app.post("/api/v1/vpp/ingestion/sources", leak).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "bearer_token"), "{p}");
    let mut daily = source("DSO meter final", "series", &dir);
    daily["schedule"] = json!("30 12 * * *");
    let (s, changed) = app.put("/api/v1/vpp/ingestion/sources/DSO%20meter%20final", daily).await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    let next: jiff::Timestamp = changed["next_run_at"].as_str().unwrap().parse().unwrap();
    let berlin = next.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap());
    assert_eq!((berlin.hour(), berlin.minute()), (12, 30), "on Berlin's wall clock: {changed}");
    let (_, list) = app.get("/api/v1/vpp/ingestion/sources").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/vpp/ingestion/sources/{id}")).await, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/api/v1/vpp/ingestion/sources/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_inbox_file_goes_in_once_and_a_refused_one_raises_an_alert_with_its_lines() {
    let app = TestApp::new().await;
    app.create_resource("WIND", "Park Nord", json!({"external_id": "WP-07", "parameters": {"rated_kw": 3600}})).await;
    let dir = inbox();
    let (s, src) = app.post("/api/v1/vpp/ingestion/sources", source("DSO", "series", &dir)).await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    let run_path = format!("/api/v1/vpp/ingestion/sources/{}/run", src["id"].as_str().unwrap());
    std::fs::write(dir.join("WP-07_meter_final_2026-06-08.csv"), METER).unwrap();
    let (s, runs) = app.post(&run_path, json!(null)).await;
    assert_eq!(s, StatusCode::OK, "{runs}");
    let run = &runs[0];
    assert_eq!(
        (run["outcome"].as_str(), run["accepted"].as_u64(), run["refused"].as_u64()),
        (Some("partial"), Some(3), Some(1)),
        "{runs}"
    );
    assert_eq!(run["refused_lines"][0]["line"], 4, "{run}");
    assert_eq!(run["checksum"].as_str().unwrap().len(), 64);
    assert!(dir.join("done/WP-07_meter_final_2026-06-08.csv").is_file(), "moved out of the inbox");
    let (_, alerts) = app.get("/api/v1/vpp/alerts?rule=ingestion_failed&state=open").await;
    assert_eq!(alerts[0]["subject"], "DSO: WP-07_meter_final_2026-06-08.csv", "{alerts}");
    assert!(alerts[0]["message"].as_str().unwrap().contains("line 4"), "{alerts}");
    // The same file delivered again is not read again, and leaves the inbox.
    std::fs::write(dir.join("WP-07_meter_final_2026-06-08.csv"), METER).unwrap();
    let (_, runs) = app.post(&run_path, json!(null)).await;
    assert_eq!(runs, json!([]));
    assert!(!dir.join("WP-07_meter_final_2026-06-08.csv").exists());
    // A file none of whose rows go in is refused whole, into failed/.
    std::fs::write(dir.join("WP-07_live.csv"), "timestamp;value\nyesterday;1\n").unwrap();
    let (_, runs) = app.post(&run_path, json!(null)).await;
    assert_eq!(runs[0]["outcome"], "refused", "{runs}");
    assert!(dir.join("failed/WP-07_live.csv").is_file());
    // A file that names no asset is refused with the reason.
    std::fs::write(dir.join("nobody_meter_final.csv"), METER).unwrap();
    let (_, runs) = app.post(&run_path, json!(null)).await;
    assert_eq!(runs[0]["outcome"], "refused", "{runs}");
    assert!(runs[0]["message"].as_str().unwrap().contains("nobody_meter_final.csv"), "{runs}");
    // Its cause fixed (the asset registered), the file put back goes in.
    app.create_resource("WIND", "Nobody's park", json!({"external_id": "nobody", "parameters": {"rated_kw": 900}}))
        .await;
    std::fs::rename(dir.join("failed/nobody_meter_final.csv"), dir.join("nobody_meter_final.csv")).unwrap();
    let (_, runs) = app.post(&run_path, json!(null)).await;
    assert_eq!(runs[0]["outcome"], "partial", "{runs}");
    assert!(dir.join("done/nobody_meter_final.csv").is_file());
    let (_, all) = app.get("/api/v1/vpp/ingestion/runs?source=DSO").await;
    assert_eq!(all.as_array().unwrap().len(), 3, "one run per file and checksum: {all}");
    let (_, refused) = app.get("/api/v1/vpp/ingestion/runs?outcome=refused").await;
    assert_eq!(refused.as_array().unwrap().len(), 1, "{refused}");
    let (s, p) = app.get("/api/v1/vpp/ingestion/runs?outcome=lost").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // The meter final went in: three quarter-hours of WP-07, in kW.
    let first = all.as_array().unwrap().iter().find(|r| r["file_name"] == "WP-07_meter_final_2026-06-08.csv").unwrap();
    assert_eq!(first["content"]["code"], "series_rows", "{first}");
    let series_id = first["content"]["series"].as_str().unwrap().to_string();
    // Read in Chinese, the run says what it did in Chinese.
    let (_, zh) = app.send_in("zh-CN", axum::http::Method::GET, "/api/v1/vpp/ingestion/runs?source=DSO", None).await;
    let zh = zh.as_array().unwrap().iter().find(|r| r["file_name"] == "WP-07_meter_final_2026-06-08.csv").unwrap();
    assert_eq!(zh["message"], format!("4 行写入序列 {series_id}；新增 3，已存在 0，拒绝 1"), "{zh}");
    let q = "start=2026-06-08T00:00:00Z&end=2026-06-08T01:00:00Z&source=meter_final";
    let (_, values) = app.get(&format!("/api/v1/vpp/series/{series_id}/values?{q}")).await;
    let got: Vec<f64> = values["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(got, [1200.5, 1180.0, 1175.25], "{values}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_file_dropped_in_the_inbox_goes_in_within_seconds() {
    let app = TestApp::new().await;
    app.create_resource("WIND", "Park Nord", json!({"external_id": "WP-07", "parameters": {"rated_kw": 3600}})).await;
    let dir = inbox();
    let mut every_second = source("inbox", "series", &dir);
    every_second["schedule"] = json!("* * * * * *");
    let (s, _) = app.post("/api/v1/vpp/ingestion/sources", every_second).await;
    assert_eq!(s, StatusCode::CREATED);
    let job = vpp_app::ingestion::spawn_ingestion_job(app.store.clone(), std::time::Duration::from_millis(200));
    std::fs::write(dir.join("WP-07_meter_final.csv"), METER).unwrap();
    let mut runs = json!([]);
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        runs = app.get("/api/v1/vpp/ingestion/runs").await.1;
        if runs[0]["outcome"] != Value::Null && runs[0]["outcome"] != "running" {
            break;
        }
    }
    job.abort();
    assert_eq!(runs[0]["outcome"], "partial", "{runs}");
    assert_eq!(runs.as_array().unwrap().len(), 1, "taken once: {runs}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_location_that_cannot_be_read_is_a_failed_run_and_an_alert() {
    let app = TestApp::new().await;
    let dir = inbox();
    let (_, src) = app.post("/api/v1/vpp/ingestion/sources", source("gone", "contracts", &dir)).await;
    std::fs::remove_dir_all(&dir).unwrap();
    let (s, runs) =
        app.post(&format!("/api/v1/vpp/ingestion/sources/{}/run", src["id"].as_str().unwrap()), json!(null)).await;
    assert_eq!(s, StatusCode::OK, "{runs}");
    assert_eq!((runs[0]["outcome"].as_str(), &runs[0]["file_name"]), (Some("failed"), &Value::Null), "{runs}");
    let (_, alerts) = app.get("/api/v1/vpp/alerts?rule=ingestion_failed").await;
    assert_eq!(alerts[0]["subject"], "gone", "{alerts}");
}
