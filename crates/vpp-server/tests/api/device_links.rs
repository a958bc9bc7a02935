//! Device links (Modbus TCP): stored and checked through the API, and a
//! dispatch of a linked resource queued for the Modbus channel in the same
//! transaction. The polling itself runs against pymodbus in
//! `scripts/modbus_e2e.py` (CI stage "devices against peers").

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

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
    let (_, hash) = app.store.ocpp_station("CS-7").await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2") && !hash.contains(&password));
    let (_, second) = app.post(&path, json!({})).await;
    assert_ne!(second["password"], first["password"]);
    assert_ne!(app.store.ocpp_station("CS-7").await.unwrap().unwrap().1, hash);

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
