//! Device links (Modbus TCP): stored and checked through the API, and a
//! dispatch of a linked resource queued for the Modbus channel in the same
//! transaction. The polling itself runs against pymodbus in
//! `scripts/modbus_e2e.py` (CI stage "devices against peers").

use axum::http::StatusCode;
use serde_json::{Value, json};

use std::sync::atomic::Ordering;

use vpp_store::StationCredential;

use crate::helpers::{TestApp, now_rfc3339};

fn link(port: u16, enabled: bool) -> Value {
    json!({"protocol": "modbus_tcp", "enabled": enabled, "host": "127.0.0.1", "port": port, "unit_id": 3,
           "register_map": {"kind": "sunspec"}})
}

#[tokio::test]
async fn a_device_link_is_stored_checked_and_removed() {
    let app = TestApp::new().await;
    let pv = app.create_resource("PV", "Linked PV", json!({"parameters": {"peak_kw": 10, "inverter_kw": 10}})).await;
    let id = pv["id"].as_str().unwrap();
    let path = format!("/api/v1/vpp/resource-instances/{id}/device-link");
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);

    let (s, stored) = app.put(&path, link(1502, true)).await;
    assert_eq!(s, StatusCode::OK, "{stored}");
    assert_eq!((stored["port"].as_u64(), stored["poll_interval_s"].as_f64()), (Some(1502), Some(5.0)));
    assert!(stored["state"].is_null(), "no adapter runs in this test: {stored}");

    // Bad fields are named, and nothing changes.
    let mut bad = link(1502, true);
    bad["host"] = json!("modbus://127.0.0.1");
    bad["timeout_ms"] = json!(5);
    bad["register_map"] = json!({"kind": "explicit", "points": [
        {"meaning": "active_power", "address": 65535, "type": "i32", "unit": "MW"}]});
    let (s, problem) = app.put(&path, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["host", "timeout_ms", "register_map.points[0].unit", "register_map.points[0].address"],
        "{problem}"
    );
    let (s, unknown) = app
        .put(
            &path,
            json!({"protocol": "ocpp", "enabled": true, "host": "x",
        "register_map": {"kind": "sunspec"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{unknown}");
    assert_eq!(app.get(&path).await.1["unit_id"], json!(3));

    let (s, _) = app.put("/api/v1/vpp/resource-instances/nope/device-link", link(1502, true)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, list) = app.get("/api/v1/vpp/devices/links").await;
    assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{list}");
    let (s, protocols) = app.get("/api/v1/vpp/devices/protocols").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (protocols["mqtt"]["enabled"].as_bool(), protocols["modbus_tcp"]["enabled"].as_bool()),
        (Some(false), Some(false))
    );

    assert_eq!(app.delete(&path).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_dispatch_of_a_linked_resource_is_queued_for_its_link_only_while_enabled() {
    let app = TestApp::new().await;
    app.store.enable_link_outbox();
    let linked = app.generator("Linked genset", 100.0, 0.0, 10.0).await;
    let vpp = app.vpp("Linked VPP", json!([{"resource_id": linked}])).await;
    let path = format!("/api/v1/vpp/resource-instances/{linked}/device-link");
    let dispatch = |kw: f64| {
        let app = &app;
        let vpp = vpp.clone();
        async move {
            let (s, d) = app
                .post(&format!("/api/v1/vpp/vpps/{vpp}/dispatch"), json!({"target_kw": kw, "mode": "merit_order"}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{d}");
            let (s, e) =
                app.get(&format!("/api/v1/vpp/trading/execution-status/{}", d["dispatch_id"].as_str().unwrap())).await;
            assert_eq!(s, StatusCode::OK, "{e}");
            e["instructions"][0]["delivery"].clone()
        }
    };
    // No link and no MQTT: nothing to deliver it.
    assert!(dispatch(40.0).await.is_null());
    let (s, _) = app.put(&path, link(1502, true)).await;
    assert_eq!(s, StatusCode::OK);
    let delivery = dispatch(50.0).await;
    assert_eq!(delivery["channel"], json!("modbus_tcp"), "{delivery}");
    assert_eq!(delivery["topic"], json!("modbus://127.0.0.1:1502/3"));
    assert_eq!(delivery["state"], json!("pending"));
    let payload: Value = serde_json::from_str(delivery["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["target_kw"], json!(50.0));
    let due = app.store.due_setpoints("modbus_tcp", jiff::Timestamp::now(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(app.store.due_setpoints("mqtt", jiff::Timestamp::now(), 10).await.unwrap().is_empty());
    // Disabled: no longer queued for the link.
    let (s, _) = app.put(&path, link(1502, false)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(dispatch(60.0).await.is_null());
}

#[tokio::test]
async fn an_ev_charger_is_registered_as_an_ocpp_station_and_its_dispatch_queued_for_it() {
    let app = TestApp::new().await;
    app.store.enable_link_outbox();
    let pv =
        app.create_resource("PV", "Not a charger", json!({"parameters": {"peak_kw": 10, "inverter_kw": 10}})).await;
    let (s, p) = app
        .post(&format!("/api/v1/vpp/resource-instances/{}/ocpp-station", pv["id"].as_str().unwrap()), json!({}))
        .await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("external_id")), "{p}");
    let charger = app
        .create_resource(
            "EV_CHARGER",
            "Depot charger",
            json!({"parameters": {"max_charge_kw": 11}, "capacity_kw": 11, "min_power_kw": -11, "max_power_kw": 0}),
        )
        .await;
    let id = charger["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/vpp/resource-instances/{id}/ocpp-station");
    let (s, p) = app.post(&path, json!({})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("external_id")), "{p}");
    let (s, _) = app.put(&format!("/api/v1/vpp/resource-instances/{id}"), json!({"external_id": "CS-7"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, first) = app.post(&path, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!((first["station_id"].as_str(), first["path"].as_str()), (Some("CS-7"), Some("/ocpp/CS-7")));
    let password = first["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 20);
    // Stored hashed: the hash verifies the password shown, and a new one replaces it.
    let (_, credential) = app.store.ocpp_station("CS-7").await.unwrap().unwrap();
    let StationCredential::Hash(hash) = credential.clone() else { panic!("a hash: {credential:?}") };
    assert!(hash.starts_with("$argon2") && !hash.contains(&password));
    let (_, second) = app.post(&path, json!({})).await;
    assert_ne!(second["password"], first["password"]);
    assert_ne!(app.store.ocpp_station("CS-7").await.unwrap().unwrap().1, credential);
    // Or a secret reference: no password shown, none stored; a bad one is named.
    let (s, p) = app.post(&path, json!({"password_ref": "hunter2"})).await;
    assert_eq!((s, p["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password_ref")), "{p}");
    let (s, r) = app.post(&path, json!({"password_ref": "env:CS7_PASSWORD"})).await;
    assert_eq!(
        (s, r["password"].clone(), r["password_ref"].as_str()),
        (StatusCode::OK, Value::Null, Some("env:CS7_PASSWORD"))
    );

    let vpp = app.vpp("EV VPP", json!([{"resource_id": id}])).await;
    let (s, d) =
        app.post(&format!("/api/v1/vpp/vpps/{vpp}/dispatch"), json!({"target_kw": -3.7, "mode": "merit_order"})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (_, e) = app.get(&format!("/api/v1/vpp/trading/execution-status/{}", d["dispatch_id"].as_str().unwrap())).await;
    let delivery = &e["instructions"][0]["delivery"];
    assert_eq!((delivery["channel"].as_str(), delivery["topic"].as_str()), (Some("ocpp"), Some("ocpp://CS-7")), "{e}");
    let (s, sessions) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/charging-sessions")).await;
    assert_eq!((s, sessions), (StatusCode::OK, json!([])));
}

/// The real server on a loopback port with its OCPP deliveries running.
async fn serve_with_ocpp(app: &TestApp) -> (String, tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
    });
    let deliveries = vpp_server::ocpp::spawn_deliveries(app.store.clone(), app.state.ocpp.clone());
    (base, server, deliveries)
}

async fn charger(app: &TestApp, station: &str) -> String {
    let c = app
        .create_resource(
            "EV_CHARGER",
            &format!("Charger {station}"),
            json!({"parameters": {"max_charge_kw": 11}, "capacity_kw": 11, "min_power_kw": -11, "max_power_kw": 0,
                   "external_id": station}),
        )
        .await;
    c["id"].as_str().unwrap().to_string()
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(x) = check().await {
            return x;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

#[tokio::test]
async fn a_simulated_station_charges_states_its_needs_and_follows_a_dispatch_through_the_csms() {
    use vpp_devices::ocpp_sim::{OcppSimStats, StationConfig};
    let app = TestApp::new().await;
    app.store.enable_link_outbox();
    let (base, server, deliveries) = serve_with_ocpp(&app).await;
    let id = charger(&app, "CS-SIM-1").await;
    let (_, creds) = app.post(&format!("/api/v1/vpp/resource-instances/{id}/ocpp-station"), json!({})).await;
    let config = StationConfig {
        base_url: base.clone(),
        station_id: "CS-SIM-1".into(),
        password: creds["password"].as_str().unwrap().into(),
        max_charge_kw: 11.0,
        meter_every: std::time::Duration::from_millis(200),
        session_kwh: 20.0,
        dwell: std::time::Duration::from_secs(4 * 3600),
        idle: std::time::Duration::from_secs(60),
        seed: 3,
    };
    let stats = std::sync::Arc::new(OcppSimStats::default());
    // A wrong password is refused at the handshake.
    let wrong = tokio::spawn(vpp_devices::ocpp_sim::run(
        StationConfig { password: "wrong".into(), ..config.clone() },
        stats.clone(),
    ));
    eventually("the wrong password refused", async || (stats.refused.load(Ordering::Relaxed) > 0).then_some(())).await;
    wrong.abort();
    let station = tokio::spawn(vpp_devices::ocpp_sim::run(config, stats.clone()));

    // Boot, a session with the vehicle's needs, meter values as consumption.
    let session = eventually("a session with the vehicle's needs", async || {
        let (_, s) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/charging-sessions")).await;
        s[0]["energy_need_kwh"].as_f64().is_some().then(|| s[0].clone())
    })
    .await;
    let need = session["energy_need_kwh"].as_f64().unwrap();
    assert!((10.0..=30.0).contains(&need) && session["departure_at"].is_string(), "{session}");
    let live = eventually("charging at 11 kW", async || {
        let (_, r) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
        (r["power_kw"].as_f64() == Some(-11.0)).then_some(r)
    })
    .await;
    assert!(live["soc_pct"].as_f64().is_some(), "{live}");

    // The schedule plans the energy the vehicle asked for, by its departure.
    let vpp = app.vpp("EV VPP", json!([{"resource_id": id}])).await;
    let (s, plan) = app
        .post(
            &format!("/api/v1/vpp/vpps/{vpp}/schedules"),
            json!({"start": now_rfc3339(), "steps": 16,
            "prices": [90, 80, 30, 20, 25, 60, 90, 100, 90, 80, 30, 20, 25, 60, 90, 100]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{plan}");
    let energy: f64 =
        plan["schedule"]["members"][0]["power_kw"].as_array().unwrap().iter().map(|p| -p.as_f64().unwrap() / 4.0).sum();
    assert!((energy - need).abs() < 0.05 * need, "planned {energy} kWh against a need of {need}: {plan}");

    // A dispatch becomes the transaction's profile, confirmed by the
    // composite schedule; the station charges at the limit. The instruction
    // began 55 s ago and lasts a minute: its profile is cleared at its end.
    let start = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(55)).to_string();
    let (s, d) = app
        .post(
            &format!("/api/v1/vpp/vpps/{vpp}/dispatch"),
            json!({"target_kw": -3.7, "mode": "merit_order",
            "start": start, "duration_minutes": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let status = format!("/api/v1/vpp/trading/execution-status/{}", d["dispatch_id"].as_str().unwrap());
    let delivery = eventually("the profile acknowledged", async || {
        let (_, e) = app.get(&status).await;
        let d = e["instructions"][0]["delivery"].clone();
        (d["state"] == "acknowledged").then_some(d)
    })
    .await;
    assert_eq!(delivery["channel"], "ocpp");
    assert_eq!((stats.profiles_set.load(Ordering::Relaxed), stats.composite_answered.load(Ordering::Relaxed)), (1, 1));
    eventually("charging at 3.7 kW", async || {
        let (_, r) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
        (r["power_kw"].as_f64() == Some(-3.7)).then_some(())
    })
    .await;
    eventually("the profile cleared at the end, back to 11 kW", async || {
        let (_, r) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
        (r["power_kw"].as_f64() == Some(-11.0)).then_some(())
    })
    .await;
    let (_, protocols) = app.get("/api/v1/vpp/devices/protocols").await;
    let ocpp = &protocols["ocpp"];
    assert_eq!(
        (ocpp["connected"].as_u64(), ocpp["profiles_confirmed"].as_u64(), ocpp["profiles_cleared"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{ocpp}"
    );
    assert_eq!(stats.profiles_cleared.load(Ordering::Relaxed), 1);
    let (s, stations) = app.get("/api/v1/vpp/devices/stations").await;
    assert_eq!((s, stations[0]["station_id"].as_str()), (StatusCode::OK, Some("CS-SIM-1")), "{stations}");
    assert!(stations[0]["connection"]["last_message_at"].is_string(), "{stations}");
    station.abort();
    eventually("the station shown disconnected", async || {
        let (_, stations) = app.get("/api/v1/vpp/devices/stations").await;
        stations[0]["connection"].is_null().then_some(())
    })
    .await;
    deliveries.abort();
    server.abort();
}

#[tokio::test]
async fn a_station_whose_password_is_a_secret_reference_connects_with_it() {
    use vpp_devices::ocpp_sim::{OcppSimStats, StationConfig};
    let app = TestApp::new().await;
    let (base, server, deliveries) = serve_with_ocpp(&app).await;
    let id = charger(&app, "CS-REF-1").await;
    let file = std::env::temp_dir().join(format!("vpp-cs-ref-{}", uuid::Uuid::now_v7().simple()));
    std::fs::write(&file, "from-a-secret-file\n").unwrap();
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/resource-instances/{id}/ocpp-station"),
            json!({"password_ref": format!("file:{}", file.display())}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let config = |password: &str| StationConfig {
        base_url: base.clone(),
        station_id: "CS-REF-1".into(),
        password: password.into(),
        max_charge_kw: 11.0,
        meter_every: std::time::Duration::from_millis(200),
        session_kwh: 10.0,
        dwell: std::time::Duration::from_secs(3600),
        idle: std::time::Duration::from_secs(60),
        seed: 1,
    };
    let stats = std::sync::Arc::new(OcppSimStats::default());
    let wrong = tokio::spawn(vpp_devices::ocpp_sim::run(config("not-it"), stats.clone()));
    eventually("refused", async || (stats.refused.load(Ordering::Relaxed) > 0).then_some(())).await;
    wrong.abort();
    let station = tokio::spawn(vpp_devices::ocpp_sim::run(config("from-a-secret-file"), stats.clone()));
    eventually("connected", async || (stats.connected.load(Ordering::Relaxed) == 1).then_some(())).await;
    // A rotated secret applies at the next connection, without touching vpp.
    std::fs::write(&file, "rotated").unwrap();
    let rotated = tokio::spawn(vpp_devices::ocpp_sim::run(
        StationConfig { station_id: "CS-REF-1".into(), ..config("rotated") },
        stats.clone(),
    ));
    eventually("the rotated secret connects", async || (stats.connects.load(Ordering::Relaxed) >= 2).then_some(()))
        .await;
    std::fs::remove_file(&file).unwrap();
    for t in [station, rotated, deliveries, server] {
        t.abort();
    }
}
