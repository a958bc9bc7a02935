//! The `vpp` binary end to end: help, imports, exports and the demo.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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

#[test]
fn technical_data_import_reports_and_refuses_malformed_files() {
    let tmp = TempDir::new("import");
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
    let a = TempDir::new("export");
    let file = a.0.join("library.json");
    let out = vpp(&a.db(), &["export", "templates", "-o", &file.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let library: Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    assert_eq!(library["templates"].as_array().map(Vec::len), Some(9));
    let b = TempDir::new("import-lib");
    let report = stdout_json(&vpp(&b.db(), &["import", "templates", &file.display().to_string()]));
    assert_eq!(report["unchanged"].as_array().map(Vec::len), Some(9));
}

fn http_get(addr: &str, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::String(body.into())))
}

#[test]
fn demo_seeds_a_portfolio_and_serves_it() {
    let tmp = TempDir::new("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpp"))
        .args(["--database-url", &tmp.db(), "demo", "--bind", "127.0.0.1:0"])
        .env("VPP_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start demo");
    let stderr = child.stderr.take().expect("stderr");
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("vpp API:") {
            addr = rest.trim().strip_prefix("http://").and_then(|u| u.split('/').next()).map(String::from);
            break;
        }
    }
    let addr = addr.expect("the demo prints its address");
    let (status, vpps) = http_get(&addr, "/api/v1/vpp/vpps");
    let (_, resources) = http_get(&addr, "/api/v1/vpp/resource-instances?size=1");
    let (_, loads) = http_get(&addr, "/api/v1/vpp/resource-instances?category=LOAD");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
    assert_eq!(vpps["total"], 4);
    assert!(
        vpps["items"].as_array().expect("items").iter().all(|v| !v["members"].as_array().expect("members").is_empty())
    );
    assert_eq!(resources["total"], 54);
    assert!(loads["total"].as_i64().unwrap_or(0) > 0);
}
