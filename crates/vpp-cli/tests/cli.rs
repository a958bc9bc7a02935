//! The `vpp` binary end to end: help, imports, exports and the demo.

#![allow(clippy::unwrap_used)] // panicking on a surprising result is what a test should do

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("vpp-cli-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    /// A folder with a new, migrated database in it.
    fn migrated(tag: &str) -> Self {
        let dir = Self::new(tag);
        let out = vpp(&dir.db(), &["migrate"]);
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
        dir
    }

    fn db(&self) -> String {
        format!("sqlite://{}", self.0.join("vpp.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn vpp(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpp"))
        .args(["--database-url", db])
        .args(args)
        .env("VPP_LOG", "warn")
        .env_remove("VPP_CONFIG")
        .env_remove("COLUMNS")
        .output()
        .expect("run vpp")
}

fn stdout_json(out: &Output) -> Value {
    assert!(out.status.success(), "vpp failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["migrate", "--help"],
        vec!["import", "--help"],
        vec!["import", "technical-data", "--help"],
        vec!["import", "templates", "--help"],
        vec!["export", "--help"],
        vec!["export", "templates", "--help"],
        vec!["export", "resources", "--help"],
        vec!["bench", "seed", "--help"],
        vec!["bench", "forecasts", "--help"],
        vec!["etl", "--help"],
        vec!["etl", "forecasts", "--help"],
        vec!["schedule", "--help"],
        vec!["optimise", "--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "disable", "--help"],
        vec!["vpp", "dispatch", "--help"],
        vec!["alert", "list", "--help"],
        vec!["alert", "ack", "--help"],
        vec!["alert", "resolve", "--help"],
        vec!["user", "reset-password", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vpp")).args(&args).output().expect("run vpp");
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vpp")).args(["serve", "--help"]).output().expect("run vpp");
    let help = String::from_utf8_lossy(&out.stdout);
    for env in ["VPP_DATABASE_URL", "VPP_BIND", "VPP_CONFIG"] {
        assert!(help.contains(env), "{env} is documented in --help");
    }
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path.display().to_string()
}

/// The example delivery day (examples/delivered/, files in their senders'
/// shapes) goes in with no flags but the file kinds, every row accepted,
/// and market contracts are priced by the public trades' VWAP.
#[test]
fn the_example_delivery_day_goes_in_with_no_flags() {
    let tmp = TempDir::migrated("delivered");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/delivered");
    let path = |p: &str| dir.join(p).display().to_string();
    let db = tmp.db();
    stdout_json(&vpp(&db, &["import", "technical-data", &path("technical_data_2025-06-07T12-30-00Z.json")]));
    let inbox = stdout_json(&vpp(&db, &["import", "series", &path("inbox")]));
    let files = inbox.as_array().expect("one result per file");
    assert_eq!(files.len(), 5);
    for f in files {
        assert_eq!(
            (f["report"]["accepted"].as_u64(), f["report"]["outcome"].as_str()),
            (Some(96), Some("complete")),
            "{f}"
        );
    }
    let out = vpp(&db, &["vpp", "create", "Delivered", "--member", "WP-07", "--member", "WP-08", "--member", "PV-03"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let portfolio = String::from_utf8_lossy(&out.stdout).trim().to_string();
    for (kind, file, extra) in [
        ("imbalance", "market/reBAP_2025-06-08.csv", vec!["--create"]),
        ("trades", "market/trades_2025-06-08.csv", vec!["--vpp", portfolio.as_str()]),
        ("public_trades", "market/public_trades_2025-06-08.csv", vec![]),
    ] {
        let mut args = vec!["import", "market", "--connector", "EPEX files", "--kind", kind];
        args.extend(extra);
        let f = path(file);
        args.push(&f);
        let report = stdout_json(&vpp(&db, &args));
        assert!(report["rows"].as_u64().unwrap_or(0) >= 24, "{kind}: {report}");
    }
    let out = vpp(&db, &["import", "contracts", &path("contracts_2025-06-08.csv")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let invoices = stdout_json(&vpp(&db, &["invoice", "--month", "2025-06"]));
    let k0107 = invoices.as_array().unwrap().iter().find(|i| i["contract_id"] == "K-0107").expect("K-0107").clone();
    assert_eq!(k0107["market_index"], json!([{"index": "public trades VWAP (EPEX files)", "quarters": 96}]), "{k0107}");
    // WP-08's live infeed file (quarter-hour values) is what it produced.
    let k0108 = invoices.as_array().unwrap().iter().find(|i| i["contract_id"] == "K-0108").expect("K-0108").clone();
    assert_eq!(k0108["produced_mwh"], "52.800000", "{k0108}");
    let out = vpp(&db, &["import", "compensation", &path("redispatch/compensation_2025-06-08.csv")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = stdout_json(&vpp(&db, &["report", "performance", "--vpp", "Delivered", "--day", "2025-06-08"]));
    let t = &report["total"];
    // WP-07 curtailed to 0 at 10:00–11:00 Berlin: 2441, 2366, 2287, 2207 kW forecast
    // × ¼ h = 2.32525 MWh lost, at 68.50, 71.00, 73.50, 76.00 EUR/MWh = 167.75525 EUR.
    assert_eq!(
        (t["redispatch_mwh"].as_str(), t["redispatch_payout"].as_str()),
        (Some("2.32525"), Some("167.76")),
        "{t}"
    );
    // Meter final of WP-07 (0 while curtailed) and PV-03, live infeed of WP-08.
    assert_eq!(t["production_by_source"], json!({"live_measurement": "52.800000", "meter_final": "49.776050"}), "{t}");
    let tr = &t["trading"];
    assert_eq!(tr["trades"], 24, "{tr}");
    let d = |v: &serde_json::Value| v.as_str().unwrap_or("0").parse::<f64>().unwrap_or(f64::NAN);
    assert!((d(&tr["own_vwap"]) - d(&tr["market_vwap"]) - d(&tr["vwap_difference"])).abs() < 1e-4, "{tr}");
    let html = vpp(&db, &["report", "performance", "--vpp", "Delivered", "--day", "2025-06-08", "--format", "html"]);
    assert!(String::from_utf8_lossy(&html.stdout).contains("<h1>Portfolio performance: Delivered</h1>"));
}

/// An operator at the command line: a VPP's dispatch previewed, then sent
/// (a bad mode named); an ingestion source nobody serves raises an alert,
/// which is listed, acknowledged and resolved with comments.
#[test]
fn an_operator_dispatches_and_handles_alerts_from_the_cli() {
    let tmp = TempDir::migrated("operate");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/delivered");
    let db = tmp.db();
    let techdata = dir.join("technical_data_2025-06-07T12-30-00Z.json").display().to_string();
    assert!(vpp(&db, &["import", "technical-data", &techdata]).status.success());
    let out = vpp(&db, &["vpp", "create", "Wind", "--member", "WP-07", "--member", "WP-08:0.5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = vpp(&db, &["vpp", "dispatch", "Wind", "--target-kw", "-50", "--mode", "cheapest"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--mode `cheapest`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let preview = stdout_json(&vpp(&db, &["vpp", "dispatch", "Wind", "--target-kw", "1000", "--dry-run"]));
    assert_eq!((preview["preview"].as_bool(), preview["dispatch_id"].is_null()), (Some(true), true), "{preview}");
    let sent = stdout_json(&vpp(&db, &["vpp", "dispatch", "Wind", "--target-kw", "1000", "--duration-min", "30"]));
    assert_eq!(sent["preview"], false, "{sent}");
    assert!(sent["dispatch_id"].is_string(), "{sent}");
    let total = sent["total_dispatched"].as_f64().unwrap() + sent["unmet_demand"].as_f64().unwrap();
    assert!((total - 1000.0).abs() < 1e-6, "{sent}");

    let out = vpp(
        &db,
        &[
            "ingest",
            "add",
            "--name",
            "dso",
            "--target",
            "series",
            "--location",
            "http://127.0.0.1:9/meter.csv",
            "--schedule",
            "0 6 * * *",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    vpp(&db, &["ingest", "run", "dso"]);
    let list = String::from_utf8_lossy(&vpp(&db, &["alert", "list", "--state", "open"]).stdout).to_string();
    let line = list.lines().find(|l| l.contains("127.0.0.1:9/meter.csv")).unwrap_or_else(|| panic!("{list}"));
    let id = line.split_whitespace().next().unwrap().to_string();
    let out = vpp(&db, &["alert", "list", "--rule", "sunspots"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule `sunspots`"));
    let out = vpp(&db, &["alert", "ack", &id, "--comment", "calling the DSO"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("acknowledged"));
    let out = vpp(&db, &["alert", "ack", &id]);
    assert!(!out.status.success(), "acknowledged twice");
    let list = String::from_utf8_lossy(&vpp(&db, &["alert", "list", "--state", "acknowledged"]).stdout).to_string();
    assert!(list.contains("acknowledged by cli:") && list.contains(": calling the DSO"), "{list}");
    let out = vpp(&db, &["alert", "resolve", &id, "--comment", "their server is back"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("resolved"), "{}", String::from_utf8_lossy(&out.stderr));
    // Each action is in the audit trail under the API's entity names; the preview is not.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = runtime.block_on(vpp_store::Store::connect(&db)).expect("store");
    let page =
        runtime.block_on(store.list_audit(&Default::default(), vpp_store::Page { page: 1, size: 50 })).expect("audit");
    let kinds: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|e| (e.actor_kind.as_str(), e.entity_type.as_deref().unwrap_or("")))
        .filter(|(k, _)| *k == "cli")
        .collect();
    assert_eq!(kinds.iter().filter(|(_, e)| *e == "dispatch").count(), 1, "{kinds:?}");
    assert!(kinds.contains(&("cli", "acknowledge-alert")) && kinds.contains(&("cli", "resolve-alert")), "{kinds:?}");
}

/// A folder of meter files, each named after its asset, goes in with one
/// command; a file naming no asset is refused by name and the others stay in.
#[test]
fn a_folder_of_files_goes_to_the_assets_they_name() {
    let tmp = TempDir::migrated("folder");
    let asset = |id: &str| {
        json!({"asset_id": id, "name": format!("Park {id}"), "type": "wind",
               "location": {"latitude": 53.5, "longitude": 9.9, "timezone": "Europe/Berlin"},
               "technical_attributes": {"capacity_kw": 3600}, "status": "active"})
    };
    let assets = write(&tmp.0, "assets.json", &json!({"assets": [asset("WP-07"), asset("WP-08")]}));
    let report = stdout_json(&vpp(&tmp.db(), &["import", "technical-data", &assets]));
    assert_eq!(report["power_series"].as_array().map(Vec::len), Some(2), "{report}");
    let inbox = tmp.0.join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    for (name, day) in [("WP-07_meter.csv", "08.06.2025"), ("WP-08_meter.csv", "08.06.2025")] {
        let text = format!("Datum;von;Wert (MW)\n{day};00:00;1,5\n{day};00:15;1,25\n");
        std::fs::write(inbox.join(name), text).expect("write");
    }
    let dir = inbox.display().to_string();
    let out = vpp(&tmp.db(), &["import", "series", &dir, "--source", "meter_final", "--timezone", "Europe/Berlin"]);
    let results = stdout_json(&out);
    assert_eq!(results.as_array().map(Vec::len), Some(2), "{results}");
    assert_eq!(results[0]["routed"]["by"], "file name names asset id WP-07");
    assert_eq!(results[1]["report"]["accepted"], 2);
    std::fs::write(inbox.join("unknown.csv"), "time,kw\n2025-06-08T00:00:00Z,1\n").expect("write");
    let out = vpp(&tmp.db(), &["import", "series", &dir, "--source", "meter_final", "--timezone", "Europe/Berlin"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown.csv") && stderr.contains("1 of 3 files refused"), "{stderr}");
    let results: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(results[0]["report"]["duplicates"], 2, "the same file again is stored once: {results}");
}

/// Folders of one delivery, each an ingestion source: one look at them all
/// takes the technical data first, whatever the sources' names, so the
/// meter files find their assets; a file being written is left for later.
#[test]
fn ingestion_sources_take_the_assets_before_the_files_that_name_them() {
    let tmp = TempDir::migrated("ingest");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/delivered");
    let (assets, meter) = (tmp.0.join("assets"), tmp.0.join("meter"));
    for d in [&assets, &meter] {
        std::fs::create_dir_all(d).expect("folder");
    }
    let db = tmp.db();
    let add = |name: &str, target: &str, folder: &Path| {
        let folder = folder.display().to_string();
        let args =
            ["ingest", "add", "--name", name, "--target", target, "--location", &folder, "--schedule", "0 6 * * *"];
        let mut args = args.to_vec();
        args.extend(["--settle-s", "0"]);
        let out = vpp(&db, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    // By name the meter source would come first.
    add("a meter", "series", &meter);
    add("z assets", "technical_data", &assets);
    let techdata = "technical_data_2025-06-07T12-30-00Z.json";
    std::fs::copy(dir.join(techdata), assets.join(techdata)).expect("copy");
    std::fs::copy(dir.join("inbox/WP-07_meter_final_2025-06-08.csv"), meter.join("WP-07_meter_final_2025-06-08.csv"))
        .expect("copy");
    let out = vpp(&db, &["ingest", "run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let assets_line = text.find("z assets: technical_data").expect("assets taken");
    let meter_line = text.find("a meter: WP-07_meter_final_2025-06-08.csv imported (96 in").expect("meter taken");
    assert!(assets_line < meter_line, "assets first: {text}");
    assert!(meter.join("done/WP-07_meter_final_2025-06-08.csv").is_file());
    let out = vpp(&db, &["ingest", "run"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).matches("nothing new").count(), 2);
}

#[test]
fn technical_data_import_reports_and_refuses_malformed_files() {
    let tmp = TempDir::migrated("import");
    let asset = |id: &str, cap: f64| {
        json!({"asset_id": id, "name": format!("Asset {id}"), "type": "pv",
               "location": {"latitude": 31.3, "longitude": 120.7, "timezone": "Asia/Shanghai"},
               "technical_attributes": {"capacity_kw": cap}, "status": "active", "owner": {"name": "Park"}})
    };
    let first =
        write(&tmp.0, "assets_20261120T060000.json", &json!({"assets": [asset("P1", 100.0), asset("P2", 200.0)]}));
    let report = stdout_json(&vpp(&tmp.db(), &["import", "technical-data", &first]));
    assert_eq!(report["added"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["file_created_at"], "2026-11-20T06:00:00Z");

    let second = write(&tmp.0, "assets_20261121T060000.json", &json!({"assets": [asset("P1", 120.0)]}));
    let report = stdout_json(&vpp(&tmp.db(), &["import", "technical-data", &second]));
    assert_eq!(report["changed"][0]["changes"][0]["field"], "capacity_kw");
    assert_eq!(report["missing"][0]["asset_id"], "P2");

    let broken = tmp.0.join("assets_20261122T060000.json");
    std::fs::write(&broken, "{\"assets\": [").expect("write");
    let out = vpp(&tmp.db(), &["import", "technical-data", &broken.display().to_string()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("malformed JSON"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let invalid = write(&tmp.0, "assets_20261123T060000.json", &json!({"assets": [asset("P3", -5.0)]}));
    let out = vpp(&tmp.db(), &["import", "technical-data", &invalid]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("assets[0].technical_attributes.capacity_kw"));

    let resources = stdout_json(&vpp(&tmp.db(), &["export", "resources"]));
    assert_eq!(resources.as_array().map(Vec::len), Some(2), "refused files changed nothing");
}

#[test]
fn template_library_round_trip_through_files() {
    let a = TempDir::migrated("export");
    let file = a.0.join("library.json");
    let out = vpp(&a.db(), &["export", "templates", "-o", &file.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let library: Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    assert_eq!(library["templates"].as_array().map(Vec::len), Some(9));
    let b = TempDir::migrated("import-lib");
    let report = stdout_json(&vpp(&b.db(), &["import", "templates", &file.display().to_string()]));
    assert_eq!(report["unchanged"].as_array().map(Vec::len), Some(9));
}

fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http_raw(addr, method, path, token, "application/json", &body)
}

/// [`http`] with a body of any content type.
fn http_raw(addr: &str, method: &str, path: &str, token: Option<&str>, content_type: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::String(body.into())))
}

#[test]
fn demo_seeds_a_portfolio_and_serves_it() {
    let tmp = TempDir::new("demo");
    let (mut child, addr, seen) = start(&tmp.db(), &["demo", "--bind", "127.0.0.1:0"]);
    let logins: Vec<(String, String)> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("demo login: "))
        .filter_map(|rest| rest.split_once(" / "))
        .map(|(user, rest)| (user.to_string(), rest.split(' ').next().unwrap_or_default().to_string()))
        .collect();
    let names: Vec<&str> = logins.iter().map(|(u, _)| u.as_str()).collect();
    let (unauthenticated, _) = http(&addr, "GET", "/api/v1/vpp/vpps", None, None);
    let mut tokens = Vec::new();
    for (user, password) in &logins {
        let (s, body) =
            http(&addr, "POST", "/api/v1/auth/login", None, Some(&json!({"username": user, "password": password})));
        tokens.push((s, body["access_token"].as_str().unwrap_or_default().to_string()));
    }
    let token = tokens.first().map(|t| t.1.clone()).unwrap_or_default();
    let (status, vpps) = http(&addr, "GET", "/api/v1/vpp/vpps", Some(&token), None);
    let (_, resources) = http(&addr, "GET", "/api/v1/vpp/resource-instances?size=1", Some(&token), None);
    let (_, loads) = http(&addr, "GET", "/api/v1/vpp/resource-instances?category=LOAD", Some(&token), None);
    let (_, series) =
        http(&addr, "GET", "/api/v1/vpp/series?owner_kind=resource&quantity=power&size=100", Some(&token), None);
    let with_forecast_today = series["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|s| {
            let id = s["id"].as_str().unwrap_or_default();
            let (_, today) = http(&addr, "GET", &format!("/api/v1/vpp/series/{id}/values"), Some(&token), None);
            today["points"].as_array().map(Vec::len) == Some(96)
        })
        .count();
    let (_, sites) = http(&addr, "GET", "/api/v1/vpp/sites", Some(&token), None);
    let (_, weather) = http(&addr, "GET", "/api/v1/vpp/series?owner_kind=weather", Some(&token), None);
    let (_, models) = http(&addr, "GET", "/api/v1/vpp/ai-models", Some(&token), None);
    let site_id = sites[0]["id"].as_str().unwrap_or_default().to_string();
    let (plan_status, plan) =
        http(&addr, "GET", &format!("/api/v1/vpp/sites/{site_id}/battery-plan"), Some(&token), None);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(names, vec!["admin", "operator", "trader", "analyst", "viewer", "owner"], "one printed login per role");
    assert!(tokens.iter().all(|(s, t)| *s == 200 && !t.is_empty()), "every printed login works");
    assert_eq!(unauthenticated, 401);
    assert_eq!(status, 200);
    assert_eq!(vpps["total"], 4);
    assert!(
        vpps["items"].as_array().expect("items").iter().all(|v| !v["members"].as_array().expect("members").is_empty())
    );
    assert_eq!(resources["total"], 55, "54 in the VPPs and the park's battery");
    assert!(loads["total"].as_i64().unwrap_or(0) > 0);
    assert_eq!(series["total"], 16 + 9, "a power series per PV plant and wind turbine, and per scheduled battery");
    assert_eq!(with_forecast_today, 16, "today's forecast for every PV plant and wind turbine");
    assert_eq!(
        weather["total"],
        3 * 3 + 1,
        "irradiance, temperature and wind at each production site; the park's temperature"
    );
    let demand = models.as_array().and_then(|m| m.iter().find(|m| m["model_type"] == "DEMAND")).cloned();
    assert!(demand.is_some_and(|m| m["version"] == 1 && m["params"]["holidays"] == "CN-JS"), "{models}");
    assert!(seen.iter().any(|l| l.starts_with("Model Suzhou Plant A demand: cross-validated MAE")), "{seen:?}");
    // Tomorrow's battery plan of the park stands on the demand model's forecast.
    assert_eq!(plan_status, 200, "{plan}");
    assert_eq!(plan["intervals"].as_array().map(Vec::len), Some(96), "{plan}");
    assert!(plan["peak_with_kw"].as_f64() <= plan["peak_without_kw"].as_f64(), "{plan}");
    assert!(plan["energy_cost_with"].as_f64() <= plan["energy_cost_without"].as_f64(), "{plan}");

    // The demo schedules the spot portfolio, dispatches the current quarter-hour
    // and prints how to see tomorrow's schedule.
    assert!(seen.iter().any(|l| l.contains("today's schedule dispatched")), "{seen:?}");
    let command = seen.iter().find_map(|l| l.trim().strip_prefix("vpp schedule ")).expect("schedule command printed");
    let mut args: Vec<&str> = vec!["schedule"];
    args.extend(command.split_whitespace());
    let table = vpp(&tmp.db(), &args);
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("solver Microlp optimal"), "{table}");
    // Units in the header, the sign in words, and no line wider than a terminal.
    assert!(table.contains("import kW") && table.contains("€/MWh"), "{table}");
    assert!(table.contains("net revenue") || table.contains("net cost"), "{table}");
    let rows = table.lines().take_while(|l| !l.starts_with("kW > 0"));
    assert!(rows.into_iter().all(|l| l.chars().count() <= 100), "{table}");
    args.retain(|a| *a != "--table");
    let schedule = stdout_json(&vpp(&tmp.db(), &args));
    let members = schedule["schedule"]["members"].as_array().expect("members");
    assert!(members.iter().any(|m| m["soc_pct"].is_array()), "batteries are scheduled: {schedule}");
    for m in members.iter().filter(|m| m["soc_pct"].is_array()) {
        let soc: Vec<f64> = m["soc_pct"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert!(soc.iter().all(|s| (9.999..=90.001).contains(s)), "SOC in the demo battery window: {soc:?}");
        assert!(soc.last().unwrap() >= &(soc[0] - 1e-6), "back to the start SOC by the end");
    }
    assert_eq!(schedule["stored_beliefs"], 0, "--no-store");

    // The park: a year of load, its bill of last month and the utility's to reconcile.
    assert_eq!(sites[0]["name"], "Suzhou Plant A", "{sites}");
    let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let last = jiff::Timestamp::now().to_zoned(shanghai).date().first_of_month().yesterday().unwrap();
    let month = format!("{:04}-{:02}", last.year(), last.month());
    let bill = stdout_json(&vpp(&tmp.db(), &["park", "bill", "--site", "Suzhou Plant A", "--month", &month]));
    assert_eq!(bill["coverage"]["complete"], true, "{bill}");
    assert!(bill["lines"].as_array().unwrap().iter().any(|l| l["code"] == "demand"), "{bill}");
    let reconciled =
        stdout_json(&vpp(&tmp.db(), &["park", "reconcile", "--site", "Suzhou Plant A", "--month", &month]));
    assert!(reconciled["lines"].as_array().is_some_and(|l| !l.is_empty()), "{reconciled}");
    let out = vpp(&tmp.db(), &["park", "reconcile", "--site", "Suzhou Plant A", "--month", &month, "--table"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("demand") && !l.contains(" 0.00 ")), "{text}");
    let out = vpp(&tmp.db(), &["park", "report", "--site", "Suzhou Plant A", "--month", &month, "--format", "csv"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("peak_valley_arbitrage"));
}

#[test]
fn users_are_managed_from_the_cli() {
    let tmp = TempDir::migrated("users");
    let out = vpp(&tmp.db(), &["user", "add", "ops.lead", "--role", "operator"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains("password: "), "a generated password is printed once");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpp"))
        .args(["--database-url", &tmp.db(), "user", "add", "analyst1", "--role", "analyst", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vpp");
    child.stdin.take().expect("stdin").write_all(b"a long enough password\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("a long enough password"),
        "a given password is never echoed"
    );

    let bad = vpp(&tmp.db(), &["user", "add", "x", "--role", "pilot"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role"));
    assert!(vpp(&tmp.db(), &["user", "disable", "ops.lead"]).status.success());
    let list = String::from_utf8_lossy(&vpp(&tmp.db(), &["user", "list"]).stdout).to_string();
    let line = list.lines().find(|l| l.starts_with("ops.lead")).expect("listed");
    assert!(line.contains("operator") && line.contains("disabled"), "{line}");
    let reset = vpp(&tmp.db(), &["user", "reset-password", "analyst1"]);
    assert!(String::from_utf8_lossy(&reset.stdout).contains("password: "));
    assert!(!vpp(&tmp.db(), &["user", "disable", "ghost"]).status.success());
}

/// Starts `vpp` with `args`, drains its stderr, and returns the child and the
/// address it printed.
fn start(db: &str, args: &[&str]) -> (std::process::Child, String, Vec<String>) {
    start_with(db, args, None)
}

/// [`start`] with an admin password, if given.
fn start_with(db: &str, args: &[&str], admin_password: Option<&str>) -> (std::process::Child, String, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vpp"));
    command.args(["--database-url", db]).args(args).env("VPP_LOG", "warn").env_remove("VPP_ADMIN_PASSWORD");
    if let Some(password) = admin_password {
        command.env("VPP_ADMIN_PASSWORD", password);
    }
    let mut child = command.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("start vpp");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = lines.recv_timeout(std::time::Duration::from_secs(60)) {
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("vpp API:") {
            let addr =
                rest.trim().split("://").nth(1).and_then(|u| u.split('/').next()).unwrap_or_default().to_string();
            return (child, addr, seen);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("vpp printed no address: {seen:?}");
}

#[test]
fn serves_https_with_the_configured_certificate() {
    let tmp = TempDir::new("tls");
    let (cert, key) = (tmp.0.join("cert.pem"), tmp.0.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-keyout", &key.display().to_string(), "-out", &cert.display().to_string()])
        .output()
        .expect("openssl (Debian package openssl) makes the test certificate");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let (mut child, addr, seen) =
        start(&tmp.db(), &["serve", "--bind", "127.0.0.1:0", "--tls-cert", &cert_s, "--tls-key", &key_s]);
    let out = Command::new("curl").args(["-sk", "-D", "-", &format!("https://{addr}/healthz")]).output().expect("curl");
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{addr}/healthz")])
        .output()
        .expect("curl");
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.starts_with("http/") && text.contains(" 200"), "{text}");
    assert!(text.contains("strict-transport-security"), "{text}");
    assert!(text.trim_end().ends_with("ok"), "{text}");
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200", "plain HTTP is not served on the TLS port");
    assert!(seen.iter().any(|l| l.contains("one-time password")), "the first admin's password is printed: {seen:?}");

    let half = Command::new(env!("CARGO_BIN_EXE_vpp"))
        .args(["--database-url", &tmp.db(), "serve", "--tls-cert", &cert_s])
        .output()
        .expect("run vpp");
    assert!(!half.status.success());
    assert!(String::from_utf8_lossy(&half.stderr).contains("--tls-key"));
}

/// Rows for every quarter-hour in `[from, to)` (UTC), two assets, two versions each.
fn forecast_csv(from: &str, to: &str) -> String {
    let (from, to): (jiff::Timestamp, jiff::Timestamp) = (from.parse().unwrap(), to.parse().unwrap());
    let mut csv = String::from("asset_id,delivery_start,version,power_kw\n");
    let mut t = from;
    while t < to {
        for (asset, kw) in [("pv-1", 10.0), ("pv-2", 5.0)] {
            let early = t - jiff::SignedDuration::from_hours(24);
            let late = t - jiff::SignedDuration::from_mins(5); // after gate closure
            csv.push_str(&format!("{asset},{t},{early},{kw}\n{asset},{t},{late},{}\n", kw + 1.0));
        }
        t += jiff::SignedDuration::from_mins(15);
    }
    csv
}

fn etl(dir: &TempDir, args: &[&str]) -> Output {
    let mut all = vec!["etl", "forecasts"];
    all.extend_from_slice(args);
    let db = dir.db();
    vpp(&db, &all)
}

#[test]
fn etl_forecasts_on_files_counts_dst_days_and_reports_bad_rows() {
    let dir = TempDir::new("etl");
    let path = |name: &str| dir.0.join(name).display().to_string();
    // Berlin's spring-forward day: 2026-03-29 00:00 CET is 2026-03-28T23:00Z,
    // the next midnight (CEST) is 2026-03-29T22:00Z: 23 hours.
    let mut csv = forecast_csv("2026-03-28T22:00:00Z", "2026-03-29T23:00:00Z");
    csv.push_str("pv-1,yesterday,2026-03-28T00:00:00Z,1\n");
    csv.push_str("pv-1,2026-03-29T10:00:00Z,2026-03-28T00:00:00Z,lots\n");
    std::fs::write(path("in.csv"), &csv).unwrap();
    let lines = csv.lines().count() as u64;

    let out = etl(
        &dir,
        &[
            "--input",
            &path("in.csv"),
            "--day",
            "2026-03-29",
            "--asset-forecasts-out",
            &path("assets.parquet"),
            "--portfolio-forecast-out",
            &path("portfolio.csv"),
        ],
    );
    let report = stdout_json(&out);
    assert_eq!(report["portfolio_rows"], 92, "{report}");
    assert_eq!(report["asset_rows"], 184);
    assert_eq!(report["stats"]["outside_window"], 2 * 16, "an hour before and an hour after, 16 rows each");
    let rejected: Vec<u64> =
        report["read"]["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(rejected, vec![lines - 1, lines]);
    assert!(report["read"]["rejected"][1]["reason"].as_str().unwrap().contains("power_kw"));
    let portfolio = std::fs::read_to_string(path("portfolio.csv")).unwrap();
    let mut rows = portfolio.lines();
    assert_eq!(rows.next(), Some("delivery_start,power_kw,assets"));
    assert_eq!(rows.next(), Some("2026-03-28T23:00:00Z,17,2"), "the latest versions, 11 + 6");

    // Tradeable: the versions after gate closure are not; the per-asset
    // Parquet output reads back as input (a round trip through Parquet).
    let out = etl(
        &dir,
        &[
            "--input",
            &path("in.csv"),
            "--day",
            "2026-03-29",
            "--tradeable",
            "--asset-forecasts-out",
            &path("tradeable.csv"),
            "--portfolio-forecast-out",
            &path("tradeable-portfolio.parquet"),
        ],
    );
    stdout_json(&out);
    let tradeable = std::fs::read_to_string(path("tradeable.csv")).unwrap();
    assert_eq!(tradeable.lines().nth(1), Some("pv-1,2026-03-28T23:00:00Z,2026-03-27T23:00:00Z,10"));
    let out = etl(
        &dir,
        &[
            "--input",
            &path("assets.parquet"),
            "--asset-forecasts-out",
            &path("again.csv"),
            "--portfolio-forecast-out",
            &path("again-p.csv"),
        ],
    );
    let again = stdout_json(&out);
    assert_eq!(again["asset_rows"], 184);
    assert_eq!(std::fs::read_to_string(path("again-p.csv")).unwrap(), portfolio);

    // Autumn: 100 quarter-hours in Berlin; Shanghai has no DST: 96.
    std::fs::write(path("autumn.csv"), forecast_csv("2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z")).unwrap();
    for (tz, expected) in [("Europe/Berlin", 100), ("Asia/Shanghai", 96)] {
        let out = etl(
            &dir,
            &[
                "--input",
                &path("autumn.csv"),
                "--day",
                "2026-10-25",
                "--tz",
                tz,
                "--asset-forecasts-out",
                &path("a.csv"),
                "--portfolio-forecast-out",
                &path("p.csv"),
            ],
        );
        assert_eq!(stdout_json(&out)["portfolio_rows"], expected, "{tz}");
    }
}

#[test]
fn etl_forecasts_refuses_malformed_files_and_writes_nothing() {
    let dir = TempDir::migrated("etl-bad");
    let path = |name: &str| dir.0.join(name).display().to_string();
    std::fs::write(
        path("no-power.csv"),
        "asset_id,delivery_start,version\npv,2026-01-01T00:00:00Z,2025-12-31T00:00:00Z\n",
    )
    .unwrap();
    std::fs::write(path("garbage.parquet"), "this is not parquet").unwrap();
    for (input, message) in
        [("no-power.csv", "power_kw"), ("garbage.parquet", "not a Parquet file"), ("x.json", "extension")]
    {
        let out = etl(
            &dir,
            &[
                "--input",
                &path(input),
                "--asset-forecasts-out",
                &path("a.csv"),
                "--portfolio-forecast-out",
                &path("p.csv"),
            ],
        );
        assert!(!out.status.success(), "{input}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{input}: {stderr}");
        assert!(!dir.0.join("a.csv").exists() && !dir.0.join("p.csv").exists(), "{input}: nothing written");
    }
    let out = etl(&dir, &["--input", &path("no-power.csv"), "--gate-closure-min=-5"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--gate-closure-min"));
    let out = etl(&dir, &["--asset-forecasts-table", "beliefs"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("asset_forecasts_table"));
}

#[test]
fn etl_forecasts_on_the_database_and_the_generator_in_parquet() {
    let dir = TempDir::new("etl-db");
    let db = dir.db();
    assert!(vpp(&db, &["migrate"]).status.success());
    let file = dir.0.join("gen.parquet").display().to_string();
    let out = vpp(&db, &["bench", "forecasts", "--assets", "3", "--versions-per-interval", "4", "--out", &file]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // From the file into the database's tables.
    let report = stdout_json(&etl(
        &dir,
        &["--input", &file, "--asset_forecasts_table", "fc_assets", "--portfolio_forecast_table", "fc_sum"],
    ));
    assert_eq!(report["asset_rows"], 3 * 96);
    assert_eq!(report["portfolio_forecast"], "table fc_sum");
    // From the database (no resource forecasts stored yet): nothing, no error.
    let report = stdout_json(&etl(&dir, &["--day", "2026-01-01"]));
    assert_eq!(report["source"], "database");
    assert_eq!(report["asset_rows"], 0);
}

#[test]
fn optimise_solves_a_problem_file_and_explains_an_impossible_one() {
    let dir = TempDir::new("optimise");
    let path = dir.0.join("problem.json");
    let problem = json!({
        "horizon": {"steps": 2, "step_s": 3600},
        "site": {"import_price": [0.0, 100.0]},
        "members": [{"id": "b", "asset": {"kind": "battery", "capacity_kwh": 10, "charge_kw": 10, "discharge_kw": 10,
            "charge_efficiency": 1, "discharge_efficiency": 1, "soc_start_pct": 0, "soc_min_pct": 0, "soc_max_pct": 100}}]
    });
    std::fs::write(&path, problem.to_string()).unwrap();
    let out = stdout_json(&vpp(&dir.db(), &["optimise", path.to_str().unwrap(), "--repeat", "3"]));
    assert_eq!(out["runs"], 3);
    assert!((out["schedule"]["breakdown"]["total"].as_f64().unwrap() - -1.0).abs() < 1e-9, "{out}");
    let mut impossible = problem.clone();
    impossible["members"][0]["asset"]["soc_target_pct"] = json!(100);
    impossible["horizon"]["steps"] = json!(1);
    impossible["site"]["import_price"] = json!([0.0]);
    impossible["members"][0]["asset"]["charge_kw"] = json!(5);
    std::fs::write(&path, impossible.to_string()).unwrap();
    let out = vpp(&dir.db(), &["optimise", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("members[0].soc_target_pct") && stderr.contains("charge_kw = 5"), "{stderr}");
}

#[test]
fn a_missing_database_is_refused_in_one_line_naming_its_path() {
    let tmp = TempDir::new("missing");
    let file = tmp.0.join("vpp.db");
    for args in [vec!["invoice", "--month", "2026-11"], vec!["park", "bill", "--site", "A", "--month", "2026-11"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_vpp"))
            .args(["--database-url", &tmp.db()])
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .env_remove("VPP_CONFIG")
            .output()
            .expect("run vpp");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(&format!("no database at {}", file.display())), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line, no backtrace: {stderr}");
        assert!(!file.exists(), "{args:?} created {}", file.display());
    }
    // `migrate` creates it; then a site that does not exist is named with
    // the ones that do (none yet).
    assert!(vpp(&tmp.db(), &["migrate"]).status.success());
    let out = vpp(&tmp.db(), &["park", "bill", "--site", "Nowhere", "--month", "2026-11"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no site `Nowhere`"));
}

/// Starts `vpp` with an admin password and logs in: the child, address and token.
fn serve_as_admin(db: &str, args: &[&str], password: &str) -> (std::process::Child, String, String) {
    let (child, addr, _) = start_with(db, args, Some(password));
    let (s, login) =
        http(&addr, "POST", "/api/v1/auth/login", None, Some(&json!({"username": "admin", "password": password})));
    assert_eq!(s, 200, "{login}");
    (child, addr, login["access_token"].as_str().unwrap().to_string())
}

/// The whole server is killed (SIGKILL) for 15 s while `vpp simulate`
/// publishes a sample per device and second. The broker keeps the bridge's
/// persistent session and queues what arrives meanwhile; the restarted
/// server drains it. Every published sample is stored once. Topics live
/// under a prefix of this test's own, as on a broker shared with others.
#[test]
fn telemetry_survives_a_server_killed_for_15_seconds() {
    use std::time::{Duration, Instant};
    let tmp = TempDir::migrated("restart");
    let assets: Vec<Value> = (1..=5)
        .map(|i| {
            json!({"asset_id": format!("R{i}"), "name": format!("Roof {i}"), "type": "pv",
                   "location": {"latitude": 52.5, "longitude": 13.4, "timezone": "Europe/Berlin"},
                   "technical_attributes": {"capacity_kw": 100}, "status": "active"})
        })
        .collect();
    let file = write(&tmp.0, "assets_20261201T000000.json", &json!({"assets": assets}));
    stdout_json(&vpp(&tmp.db(), &["import", "technical-data", &file]));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let prefix = format!("vpp-test/restart-{nanos}");
    let password = "restart-test-admin-password";
    let serve_args =
        ["serve", "--bind", "127.0.0.1:0", "--mqtt-url", "mqtt://127.0.0.1:1883", "--mqtt-topic-prefix", &prefix];
    let serve = || {
        let (child, addr, token) = serve_as_admin(&tmp.db(), &serve_args, password);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, status) = http(&addr, "GET", "/api/v1/vpp/devices/bridge", Some(&token), None);
            if status["counts"]["connected"] == true {
                break;
            }
            assert!(Instant::now() < deadline, "the bridge did not connect: {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
        (child, addr, token)
    };
    let (mut server, _, _) = serve();
    let simulator = Command::new(env!("CARGO_BIN_EXE_vpp"))
        .args(["--database-url", &tmp.db(), "simulate", "--resources", "5", "--interval-ms", "1000"])
        .args(["--duration-s", "30", "--disobey-pct", "0", "--mqtt-topic-prefix", &prefix])
        .env("VPP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the simulator");
    std::thread::sleep(Duration::from_secs(8));
    server.kill().expect("SIGKILL the server");
    server.wait().expect("reap");
    std::thread::sleep(Duration::from_secs(15));
    let (mut server, addr, token) = serve();
    let out = simulator.wait_with_output().expect("simulator");
    let published = stdout_json(&out)["samples"].as_u64().unwrap();
    assert!(published >= 5 * 28, "the simulator published {published}");
    let resources = stdout_json(&vpp(&tmp.db(), &["export", "resources"]));
    let ids: Vec<String> =
        resources.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(vpp_store::Store::connect(&tmp.db())).unwrap();
    let stored = || -> u64 {
        runtime.block_on(async {
            let (from, to) = (jiff::Timestamp::UNIX_EPOCH, jiff::Timestamp::MAX);
            let mut n = 0;
            for id in &ids {
                n += store.telemetry_window(id, from, to).await.unwrap().map_or(0, |w| w.samples as u64);
            }
            n
        })
    };
    // The restarted server drains what the broker queued.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored() < published && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, bridge) = http(&addr, "GET", "/api/v1/vpp/devices/bridge", Some(&token), None);
    server.kill().expect("stop the server");
    server.wait().expect("reap");
    let stored = stored();
    println!("published {published} samples across a 15 s kill -9; stored {stored}; bridge after restart: {bridge}");
    assert_eq!(stored, published, "samples lost: {}", published.saturating_sub(stored));
    assert_eq!(bridge["counts"]["dropped_unknown_resource"], 0, "{bridge}");
}

#[test]
fn a_wildcard_topic_prefix_is_refused_naming_the_flag() {
    let tmp = TempDir::migrated("prefix");
    let out = vpp(
        &tmp.db(),
        &["serve", "--bind", "127.0.0.1:0", "--mqtt-url", "mqtt://127.0.0.1:1883", "--mqtt-topic-prefix", "vpp/#"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--mqtt-topic-prefix") && stderr.contains('#'), "{stderr}");
}

/// A background import killed half-way: the restarted server shows its job
/// `interrupted`, and none of the file's rows (all or nothing).
#[test]
fn an_import_killed_half_way_is_interrupted_and_stores_nothing() {
    use std::time::{Duration, Instant};
    let tmp = TempDir::migrated("interrupted");
    let password = "interrupt-test-admin-password";
    let args = ["serve", "--bind", "127.0.0.1:0"];
    let (mut server, addr, token) = serve_as_admin(&tmp.db(), &args, password);
    let series = json!({"name": "prices", "owner_kind": "market", "owner_id": "EPEX", "quantity": "price"});
    let (s, series) = http(&addr, "POST", "/api/v1/vpp/series", Some(&token), Some(&series));
    assert_eq!(s, 201, "{series}");
    let id = series["id"].as_str().unwrap().to_string();
    let start = 1_767_225_600_i64;
    let mut csv = String::from("time,price\n");
    for i in 0..400_000_i64 {
        let t = jiff::Timestamp::from_second(start + i * 900).unwrap();
        csv.push_str(&format!("{t},{}.5\n", i % 300));
    }
    let path = format!("/api/v1/vpp/series/{id}/import?format=csv&belief_time=2026-01-01T00:00:00Z&background=true");
    let (s, job) = http_raw(&addr, "POST", &path, Some(&token), "text/csv", &csv);
    assert_eq!(s, 202, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    // Killed once some rows are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, job) = http(&addr, "GET", &format!("/api/v1/vpp/import-jobs/{job_id}"), Some(&token), None);
        if job["sent"].as_u64().unwrap_or(0) > 0 {
            assert_eq!(job["state"], "running", "{job}");
            break;
        }
        assert!(Instant::now() < deadline, "the import never started: {job}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
    let (mut server, addr, token) = serve_as_admin(&tmp.db(), &args, password);
    let (s, job) = http(&addr, "GET", &format!("/api/v1/vpp/import-jobs/{job_id}"), Some(&token), None);
    // The first year of the file: the rows staged before the kill.
    let end = jiff::Timestamp::from_second(start + 360 * 86_400).unwrap();
    let values = format!("/api/v1/vpp/series/{id}/values?start=2026-01-01T00:00:00Z&end={end}");
    let (_, values) = http(&addr, "GET", &values, Some(&token), None);
    server.kill().expect("stop");
    server.wait().expect("reap");
    assert_eq!(s, 200, "{job}");
    assert_eq!(job["state"], "interrupted", "{job}");
    assert_eq!(job["error"]["type"], "urn:vpp:problem:interrupted", "{job}");
    assert_eq!(values["points"].as_array().map(Vec::len), Some(0), "nothing of the file is stored: {values}");
}

/// The demo (server, device bridge, simulated fleet) opens connections to
/// loopback addresses only: nothing in vpp's own runs sends traffic to an
/// address a user did not configure. Every `connect`, `sendto` and `sendmsg`
/// of the process and its threads is traced with strace (Debian package).
#[test]
fn the_demo_connects_to_loopback_only() {
    let tmp = TempDir::new("loopback");
    let trace = tmp.0.join("connect.trace");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_vpp"))
        .args(["--database-url", &tmp.db(), "demo", "--bind", "127.0.0.1:0"])
        .env("VPP_LOG", "warn")
        .env_remove("VPP_ADMIN_PASSWORD")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        // Its own process group: killing strace alone would leave the
        // traced demo running after the test.
        .process_group(0)
        .spawn()
        .expect("strace is needed for this test (apt-get install strace)");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut addr = None;
    while let Ok(line) = lines.recv_timeout(std::time::Duration::from_secs(120)) {
        if let Some(rest) = line.strip_prefix("vpp API:") {
            addr = rest.trim().split("://").nth(1).and_then(|u| u.split('/').next()).map(String::from);
            break;
        }
    }
    let addr = addr.expect("the demo served");
    // Let the bridge, the simulated fleet and the background jobs run a while.
    std::thread::sleep(std::time::Duration::from_secs(8));
    let (status, _) = http(&addr, "GET", "/healthz", None, None);
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
    let _ = child.wait();
    assert_eq!(status, 200);
    let traced = std::fs::read_to_string(&trace).expect("trace");
    let mut remote = Vec::new();
    let mut inet = 0;
    for line in traced.lines() {
        for (marker, end) in [("inet_addr(\"", "\""), ("inet_pton(AF_INET6, \"", "\"")] {
            let mut rest = line;
            while let Some(i) = rest.find(marker) {
                let after = &rest[i + marker.len()..];
                let address = &after[..after.find(end).unwrap_or(after.len())];
                inet += 1;
                let loopback = address.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
                    || address.starts_with("::ffff:127.");
                if !loopback {
                    remote.push(line.to_string());
                }
                rest = after;
            }
        }
    }
    assert!(inet > 0, "the trace saw the demo's own connections (MQTT, HTTP): {traced:.2000}");
    assert!(remote.is_empty(), "connections beyond loopback: {remote:#?}");
}

#[test]
fn a_mosmix_file_is_imported_from_the_cli() {
    let tmp = TempDir::migrated("mosmix");
    let steps: String = (10..13).map(|h| format!("<dwd:TimeStep>2026-12-06T{h}:00:00.000Z</dwd:TimeStep>")).collect();
    let file = tmp.0.join("MOSMIX_L_2026120609_10382.kml");
    // ISO-8859-1 as DWD writes it: Ü is one byte.
    let mut text = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<kml:kml xmlns:dwd="https://opendata.dwd.de/weather/lib/pointforecast_dwd_extension_V1_0.xsd" xmlns:kml="http://www.opengis.net/kml/2.2">
<kml:Document><kml:ExtendedData><dwd:ProductDefinition><dwd:IssueTime>2026-12-06T09:00:00.000Z</dwd:IssueTime>
<dwd:ForecastTimeSteps>{steps}</dwd:ForecastTimeSteps></dwd:ProductDefinition></kml:ExtendedData>
<kml:Placemark><kml:name>10382</kml:name><kml:description>BERLIN-TEGEL &amp; M"#
    )
    .into_bytes();
    text.push(0xDC);
    text.extend_from_slice(
        br#"GGELSEE</kml:description><kml:ExtendedData>
<dwd:Forecast dwd:elementName="TTT"><dwd:value> 275.15 - 277.15</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="Rad1h"><dwd:value> 36.00 180.00 360.00</dwd:value></dwd:Forecast>
<dwd:Forecast dwd:elementName="DD"><dwd:value> 250.00 260.00 270.00</dwd:value></dwd:Forecast>
</kml:ExtendedData><kml:Point><kml:coordinates>13.32,52.57,36.0</kml:coordinates></kml:Point></kml:Placemark>
</kml:Document></kml:kml>"#,
    );
    std::fs::write(&file, text).expect("write the KML");
    let kml = file.to_str().expect("path");
    let report = stdout_json(&vpp(&tmp.db(), &["import", "weather", kml, "--stations", "10382"]));
    assert_eq!(report["issued_at"], "2026-12-06T09:00:00Z", "{report}");
    assert_eq!(report["stations"][0]["station"]["id"], "10382", "{report}");
    assert_eq!(report["stations"][0]["station"]["name"], "BERLIN-TEGEL & MÜGGELSEE", "{report}");
    assert_eq!(report["ignored"], json!([]), "TTT, Rad1h and DD are all read");
    assert_eq!(report["stations"][0]["series"].as_array().map(Vec::len), Some(3), "{report}");
    let out = vpp(&tmp.db(), &["import", "weather", kml, "--issued-at", "2026-12-06T06:00:00Z"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("carries its IssueTime"));
    let run = stdout_json(&vpp(&tmp.db(), &["forecast", "fleet", "--hours", "6"]));
    assert_eq!(run["resources"], 0, "{run}");
}
