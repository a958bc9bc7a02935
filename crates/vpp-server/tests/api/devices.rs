//! The MQTT device bridge against a real Mosquitto: the shared broker at
//! 127.0.0.1:1883 (`.ci/run` starts it if it is down), and for the restart
//! test a private broker on a free port that the test stops and starts.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use vpp_devices::bridge::{self, Bridge, BridgeConfig};

use crate::helpers::{TestApp, now_rfc3339};

fn config(port: u16) -> BridgeConfig {
    let mut c = BridgeConfig::new(format!("mqtt://127.0.0.1:{port}"));
    c.client_id = format!("vpp-test-bridge-{}", uuid::Uuid::now_v7().simple());
    c.batch_wait = Duration::from_millis(20);
    c
}

/// Waits until `check` holds, polling every 100 ms, for at most `seconds`.
async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn connected(b: &Bridge) {
    eventually(10, "the bridge to connect", || async { b.stats().connected }).await;
}

/// A test device: publishes, and hands on what arrives on its subscriptions.
struct Device {
    client: AsyncClient,
    inbox: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn device(port: u16, filters: &[String]) -> Device {
    device_as(port, filters, None).await
}

async fn device_as(port: u16, filters: &[String], login: Option<(&str, &str)>) -> Device {
    let id = format!("vpp-test-device-{}", uuid::Uuid::now_v7().simple());
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    options.set_keep_alive(Duration::from_secs(5));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    let (tx, inbox) = mpsc::unbounded_channel();
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let sub = client.clone();
    let wait_for_subscription = !filters.is_empty();
    let filters = filters.to_vec();
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for f in &filters {
                        sub.try_subscribe(f.clone(), QoS::AtLeastOnce).unwrap();
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    if wait_for_subscription {
        tokio::time::timeout(Duration::from_secs(10), ready.recv()).await.expect("device subscribed");
    }
    // Let the connection settle before the first publication.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Device { client, inbox, task }
}

impl Device {
    async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.into()).await.unwrap();
    }

    /// The next message, within `seconds`.
    async fn next(&mut self, seconds: u64) -> (String, Value) {
        let (topic, payload) = tokio::time::timeout(Duration::from_secs(seconds), self.inbox.recv())
            .await
            .expect("a message in time")
            .expect("device running");
        (topic, serde_json::from_slice(&payload).unwrap())
    }
}

async fn realtime_power(app: &TestApp, id: &str) -> Option<f64> {
    let (s, body) = app.get(&format!("/api/v1/vpp/resource-instances/{id}/realtime-data")).await;
    (s == StatusCode::OK).then(|| body["power_kw"].as_f64().unwrap())
}

#[tokio::test]
async fn telemetry_is_stored_and_bad_messages_are_dropped_while_the_bridge_stays_up() {
    let app = TestApp::new().await;
    let r = app
        .create_resource(
            "BATTERY",
            "Hall battery",
            json!({
                "parameters": {"usable_energy_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50},
                "location": {"lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin", "building": "Hall A"},
            }),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_string();
    let b = bridge::spawn(app.store.clone(), config(1883)).unwrap();
    connected(&b).await;
    let dev = device(1883, &[]).await;
    let topic = format!("vpp/hall-a/{id}/telemetry");
    dev.publish(&topic, json!({"ts": now_rfc3339(), "power_kw": 12.5, "soc_pct": 55}).to_string()).await;
    eventually(10, "the sample in realtime-data", || async { realtime_power(&app, &id).await == Some(12.5) }).await;
    // The compact form: ten samples a second apart, ending a minute ago.
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(70);
    let compact = json!({"t0": t0.to_string(), "dt_ms": 1000, "power_kw": [1,2,3,4,5,6,7,8,9,10], "soc_pct": [50,50,50,50,50,50,50,50,50,50]});
    dev.publish(&topic, compact.to_string()).await;
    eventually(10, "eleven samples stored", || async { b.stats().samples_stored >= 11 }).await;
    // Resent: nothing new.
    dev.publish(&topic, compact.to_string()).await;
    eventually(10, "ten duplicates", || async { b.stats().samples_duplicate >= 10 }).await;
    assert_eq!(b.stats().samples_stored, 11);

    let before = b.stats();
    dev.publish(&topic, "{not json").await;
    dev.publish(&topic, json!({"ts": now_rfc3339(), "power_kw": "lots"}).to_string()).await;
    dev.publish("vpp/hall-a/no-such-resource/telemetry", json!({"ts": now_rfc3339(), "power_kw": 1}).to_string()).await;
    dev.publish(&topic, json!({"ts": now_rfc3339(), "power_kw": 1e9}).to_string()).await;
    eventually(10, "the bad messages counted", || async {
        let s = b.stats();
        s.dropped_malformed >= before.dropped_malformed + 2
            && s.dropped_unknown_resource > before.dropped_unknown_resource
            && s.dropped_out_of_range > before.dropped_out_of_range
    })
    .await;
    // Still up: the next good sample arrives.
    dev.publish(&topic, json!({"ts": now_rfc3339(), "power_kw": -7.25}).to_string()).await;
    eventually(10, "the next sample", || async { realtime_power(&app, &id).await == Some(-7.25) }).await;
    assert!(b.stats().connected);
    assert_eq!(b.stats().store_errors, 0);
    // The counters are served by the API only when the server runs a bridge.
    let (s, body) = app.get("/api/v1/vpp/devices/bridge").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["enabled"], false);
}

/// The bridge keeps a persistent session under a stable client id and
/// acknowledges telemetry only once it is stored: what devices publish
/// while vpp is down (killed, not shut down) is queued by Mosquitto and
/// stored after the restart, every sample once.
#[tokio::test]
async fn telemetry_published_while_the_bridge_is_down_is_stored_after_its_restart() {
    let app = TestApp::new().await;
    let r = app
        .create_resource(
            "BATTERY",
            "Restart battery",
            json!({"parameters": {"usable_energy_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50}}),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_string();
    let c = config(1883);
    let dev = device(1883, &[]).await;
    let topic = format!("vpp/default/{id}/telemetry");
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(600);
    let sample = |k: i64| {
        let ts = t0 + jiff::SignedDuration::from_secs(k);
        json!({"ts": ts.to_string(), "power_kw": (k % 40) as f64 - 20.0}).to_string()
    };
    let first = bridge::spawn(app.store.clone(), c.clone()).unwrap();
    connected(&first).await;
    for k in 0..50 {
        dev.publish(&topic, sample(k)).await;
    }
    eventually(10, "50 samples stored", || async { first.stats().samples_stored == 50 }).await;
    // Killed: its tasks and connections end without an MQTT DISCONNECT.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for k in 50..200 {
        dev.publish(&topic, sample(k)).await;
    }
    let second = bridge::spawn(app.store.clone(), c).unwrap();
    eventually(15, "the 150 queued samples stored", || async { second.stats().samples_stored >= 150 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = second.stats();
    assert_eq!((s.samples_stored, s.samples_duplicate), (150, 0), "lost or stored twice: {s:?}");
}

/// A bridge batch travels to the database as one JSON parameter per
/// statement: every value must come back exactly, on both backends, and a
/// batch sent twice stores nothing new.
#[tokio::test]
async fn device_batches_keep_every_value_exactly() {
    use vpp_domain::resource::Telemetry;
    use vpp_domain::series::{OwnerKind, Quantity, SourceKind};
    use vpp_store::LiveMeasurement;
    let app = TestApp::new().await;
    let r = app
        .create_resource(
            "BATTERY",
            "Exact battery",
            json!({"parameters": {"usable_energy_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50}}),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_string();
    let (key, _) =
        app.store.ensure_series(OwnerKind::Resource, &id, Quantity::Power, "Exact battery power").await.unwrap();
    let powers = [0.1 + 0.2, 1.0 / 3.0, -49.999_999_999_999, 1e-300, 5e-324, 123.456_789_012_345_68, -0.0, 42.0];
    let t0 = jiff::Timestamp::now().as_microsecond() / 1_000_000 * 1_000_000 - 3_600_000_000;
    let at = |i: usize| jiff::Timestamp::from_microsecond(t0 + i as i64 * 1_000_001).unwrap();
    let samples: Vec<(String, Telemetry)> = powers
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let soc = (i % 2 == 0).then_some(50.0 + 1.0 / 7.0);
            (
                id.clone(),
                Telemetry { ts: at(i), power_kw: p, energy_kwh: None, soc_pct: soc, temperature_c: Some(-3.3) },
            )
        })
        .collect();
    let live: Vec<LiveMeasurement> = samples
        .iter()
        .map(|(_, s)| LiveMeasurement { series_key: key, at_us: s.ts.as_microsecond(), value: s.power_kw })
        .collect();
    assert_eq!(app.store.ingest_telemetry(&samples, &live).await.unwrap(), powers.len());
    assert_eq!(app.store.ingest_telemetry(&samples, &live).await.unwrap(), 0, "a resent batch is not stored twice");
    for (i, &p) in powers.iter().enumerate() {
        let w = app.store.telemetry_window(&id, at(i), at(i) + jiff::SignedDuration::from_micros(1)).await.unwrap();
        assert_eq!(w.map(|w| (w.samples, w.mean_power_kw)), Some((1, p)), "sample {i}");
    }
    let beliefs = app.store.beliefs(key, &[SourceKind::LiveMeasurement], t0, t0 + 3_600_000_000).await.unwrap();
    let stored: Vec<(i64, f64)> = beliefs.iter().map(|b| (b.event_start_us, b.value)).collect();
    let sent: Vec<(i64, f64)> = live.iter().map(|m| (m.at_us, m.value)).collect();
    assert_eq!(stored, sent);
    let (latest, _) = app.store.latest_telemetry(&id).await.unwrap().unwrap();
    assert_eq!(latest, samples.last().unwrap().1, "the newest sample, nulls and all");
}

async fn dispatch(app: &TestApp, vpp: &str, kw: f64) -> Value {
    let (s, d) =
        app.post(&format!("/api/v1/vpp/vpps/{vpp}/dispatch"), json!({"target_kw": kw, "mode": "merit_order"})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    d
}

async fn deliveries(app: &TestApp, dispatch_id: &str) -> Vec<(String, String, i64)> {
    let (s, e) = app.get(&format!("/api/v1/vpp/trading/execution-status/{dispatch_id}")).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    e["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["delivery"].is_null())
        .map(|i| {
            (
                i["resource_id"].as_str().unwrap().to_string(),
                i["delivery"]["state"].as_str().unwrap().to_string(),
                i["delivery"]["attempts"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn state_of(list: &[(String, String, i64)], id: &str) -> Option<(String, i64)> {
    list.iter().find(|(r, ..)| r == id).map(|(_, s, a)| (s.clone(), *a))
}

#[tokio::test]
async fn setpoints_are_delivered_acknowledged_or_failed_with_an_alert() {
    let app = TestApp::new().await;
    let answering = app.generator("Answering", 100.0, 0.0, 10.0).await;
    let silent = app.generator("Silent", 100.0, 0.0, 20.0).await;
    let vpp = app.vpp("Fleet", json!([{"resource_id": answering}, {"resource_id": silent}])).await;
    let mut c = config(1883);
    c.ack_timeout = Duration::from_millis(500);
    c.max_attempts = 2;
    let b = bridge::spawn(app.store.clone(), c).unwrap();
    connected(&b).await;
    let mut dev = device(1883, &[format!("vpp/default/{answering}/setpoint")]).await;
    let d = dispatch(&app, &vpp, 150.0).await;
    let dispatch_id = d["dispatch_id"].as_str().unwrap().to_string();
    let (topic, setpoint) = dev.next(10).await;
    assert_eq!(topic, format!("vpp/default/{answering}/setpoint"));
    assert_eq!(setpoint["target_kw"], 100.0);
    assert_eq!(setpoint["duration_s"], 900);
    let ack = json!({"instruction_id": setpoint["instruction_id"], "status": "accepted"});
    dev.publish(&format!("vpp/default/{answering}/ack"), ack.to_string()).await;
    eventually(15, "one acknowledged, one failed", || async {
        let list = deliveries(&app, &dispatch_id).await;
        state_of(&list, &answering).is_some_and(|(s, _)| s == "acknowledged")
            && state_of(&list, &silent).is_some_and(|(s, _)| s == "failed")
    })
    .await;
    let list = deliveries(&app, &dispatch_id).await;
    assert_eq!(state_of(&list, &answering), Some(("acknowledged".into(), 1)));
    assert_eq!(state_of(&list, &silent), Some(("failed".into(), 2)), "sent twice, then given up");
    let (_, alerts) = app.get("/api/v1/vpp/alerts?rule=setpoint_not_acknowledged&state=open").await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0]["message"].as_str().unwrap().contains(&silent));
    // An operator takes it, then closes it.
    let alert = alerts[0]["id"].as_str().unwrap();
    // A comment over 1,000 characters is refused at its field and changes nothing.
    let long = json!({"comment": "x".repeat(1001)});
    let (s, e) = app.post(&format!("/api/v1/vpp/alerts/{alert}/acknowledge"), long).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("comment")), "{e}");
    let (s, a) =
        app.post(&format!("/api/v1/vpp/alerts/{alert}/acknowledge"), json!({"comment": "  calling the site  "})).await;
    assert_eq!((s, a["state"].as_str()), (StatusCode::OK, Some("acknowledged")), "{a}");
    assert_eq!(a["acknowledged_by"], "admin");
    assert_eq!(a["acknowledged_comment"], "calling the site");
    let (s, again) = app.post(&format!("/api/v1/vpp/alerts/{alert}/acknowledge"), json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{again}");
    // Without a body at all, as older clients send it.
    let (s, a, _) =
        app.request(axum::http::Method::POST, &format!("/api/v1/vpp/alerts/{alert}/resolve"), None, vec![]).await;
    assert_eq!((s, a["state"].as_str()), (StatusCode::OK, Some("resolved")), "{a}");
    assert_eq!(a["resolved_comment"], Value::Null);
    assert_eq!(a["acknowledged_comment"], "calling the site", "the acknowledgement's comment stays");
    let (s, e) = app.get("/api/v1/vpp/alerts?rule=sunspots").await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("rule")));
    assert_eq!(app.post("/api/v1/vpp/alerts/nope/resolve", json!({})).await.0, StatusCode::NOT_FOUND);
    // A viewer may read alerts but not act on them.
    let viewer = app.token_for("viewer").await;
    assert_eq!(app.get_as(Some(&viewer), "/api/v1/vpp/alerts").await.0, StatusCode::OK);
    assert_eq!(
        app.post_as(Some(&viewer), &format!("/api/v1/vpp/alerts/{alert}/resolve"), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn online_count(app: &TestApp, vpp: &str) -> u64 {
    let (s, a) = app.get(&format!("/api/v1/vpp/vpps/{vpp}/aggregated-params")).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    a["online_count"].as_u64().unwrap()
}

async fn status(app: &TestApp, id: &str) -> String {
    let (_, r) = app.get(&format!("/api/v1/vpp/resource-instances/{id}")).await;
    r["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_silent_device_goes_offline_leaves_the_aggregate_and_comes_back() {
    let app = TestApp::new().await;
    let chatty = app.generator("Chatty", 100.0, 0.0, 10.0).await;
    let other = app.generator("Never reported", 100.0, 0.0, 10.0).await;
    let vpp = app.vpp("Fleet", json!([{"resource_id": chatty}, {"resource_id": other}])).await;
    assert_eq!(online_count(&app, &vpp).await, 2);
    let mut c = config(1883);
    c.heartbeat_timeout = Duration::from_secs(1);
    c.sweep_every = Duration::from_millis(200);
    let b = bridge::spawn(app.store.clone(), c).unwrap();
    connected(&b).await;
    let dev = device(1883, &[]).await;
    let topic = format!("vpp/default/{chatty}/telemetry");
    dev.publish(&topic, json!({"ts": now_rfc3339(), "power_kw": 10}).to_string()).await;
    eventually(10, "the device OFFLINE after its silence", || async { status(&app, &chatty).await == "OFFLINE" }).await;
    // A resource that never reported is not judged by silence.
    assert_eq!(status(&app, &other).await, "ONLINE");
    eventually(5, "the aggregate without it", || async { online_count(&app, &vpp).await == 1 }).await;
    let (_, alerts) = app.get(&format!("/api/v1/vpp/alerts?rule=device_offline&subject={chatty}")).await;
    assert_eq!(alerts[0]["state"], "open", "{alerts}");
    let (_, history) = app.get(&format!("/api/v1/vpp/resource-instances/{chatty}/status-history")).await;
    assert!(history.to_string().contains("no telemetry for"), "{history}");
    // It reports again: ONLINE, back in the aggregate, alert resolved.
    dev.publish(&topic, json!({"ts": now_rfc3339(), "power_kw": 11}).to_string()).await;
    eventually(10, "the device ONLINE again", || async { status(&app, &chatty).await == "ONLINE" }).await;
    let (_, alerts) = app.get(&format!("/api/v1/vpp/alerts?rule=device_offline&subject={chatty}")).await;
    assert_eq!(alerts[0]["state"], "resolved", "{alerts}");
    assert_eq!(alerts[0]["resolved_by"], "system");
}

/// A private Mosquitto on `port`, stopped when dropped.
struct Broker(tokio::process::Child);

impl Broker {
    async fn start(port: u16) -> Self {
        Self::start_with(&["-p", &port.to_string()], port).await
    }

    async fn start_with(args: &[&str], port: u16) -> Self {
        let binary = ["mosquitto", "/usr/sbin/mosquitto"]
            .into_iter()
            .find(|b| std::process::Command::new(b).arg("-h").output().is_ok())
            .expect("the mosquitto binary (apt-get install mosquitto)");
        let child = tokio::process::Command::new(binary)
            .args(args)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start mosquitto");
        eventually(10, "the private broker to listen", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
        Self(child)
    }

    async fn stop(mut self) {
        self.0.kill().await.unwrap();
        self.0.wait().await.unwrap();
    }
}

#[tokio::test]
async fn a_broker_restart_loses_no_setpoint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let broker = Broker::start(port).await;
    let app = TestApp::new().await;
    let g = app.generator("Genset", 100.0, 0.0, 10.0).await;
    let vpp = app.vpp("Fleet", json!([{"resource_id": g}])).await;
    // A setpoint published before the device has subscribed again is sent
    // once more after this long.
    let mut c = config(port);
    c.ack_timeout = Duration::from_secs(2);
    let b = bridge::spawn(app.store.clone(), c).unwrap();
    connected(&b).await;
    let mut dev = device(port, &[format!("vpp/default/{g}/setpoint")]).await;
    broker.stop().await;
    eventually(10, "the bridge to notice", || async { !b.stats().connected }).await;
    // Dispatched while the broker is down: the setpoint waits in the store.
    let d = dispatch(&app, &vpp, 60.0).await;
    let dispatch_id = d["dispatch_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(state_of(&deliveries(&app, &dispatch_id).await, &g), Some(("pending".into(), 0)));
    let (_, alerts) = app.get("/api/v1/vpp/alerts?rule=broker_connection_lost&state=open").await;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    let _broker = Broker::start(port).await;
    let (topic, setpoint) = dev.next(20).await;
    assert_eq!(topic, format!("vpp/default/{g}/setpoint"));
    assert_eq!(setpoint["target_kw"], 60.0);
    dev.publish(
        &format!("vpp/default/{g}/ack"),
        json!({"instruction_id": setpoint["instruction_id"], "status": "accepted"}).to_string(),
    )
    .await;
    eventually(10, "the setpoint acknowledged", || async {
        state_of(&deliveries(&app, &dispatch_id).await, &g).is_some_and(|(s, _)| s == "acknowledged")
    })
    .await;
    assert!(b.stats().connections >= 2);
    let (_, alerts) = app.get("/api/v1/vpp/alerts?rule=broker_connection_lost").await;
    assert_eq!(alerts[0]["state"], "resolved", "{alerts}");
}

/// The documented broker setup (deploy/mosquitto): a device's login only
/// lets it publish for its own resource.
#[tokio::test]
async fn the_documented_acl_keeps_a_device_to_its_own_resource() {
    let dir = std::env::temp_dir().join(format!("vpp-mosquitto-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let app = TestApp::new().await;
    let own = app.generator("Own", 100.0, 0.0, 10.0).await;
    let other = app.generator("Other", 100.0, 0.0, 10.0).await;
    let passwd = dir.join("vpp.passwd");
    for (i, (user, password)) in
        [("vpp-bridge", "bridge-secret"), (own.as_str(), "device-secret")].into_iter().enumerate()
    {
        let mut cmd = std::process::Command::new("mosquitto_passwd");
        cmd.arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        let out = cmd.arg(&passwd).arg(user).arg(password).output().expect("mosquitto_passwd");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/mosquitto");
    std::fs::copy(docs.join("vpp.acl"), dir.join("vpp.acl")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = std::fs::read_to_string(docs.join("vpp.conf"))
        .unwrap()
        .replace("listener 1883", &format!("listener {port} 127.0.0.1"))
        .replace("/etc/mosquitto/vpp.passwd", passwd.to_str().unwrap())
        .replace("/etc/mosquitto/vpp.acl", dir.join("vpp.acl").to_str().unwrap());
    std::fs::write(dir.join("vpp.conf"), conf).unwrap();
    let _broker = Broker::start_with(&["-c", dir.join("vpp.conf").to_str().unwrap()], port).await;
    let mut c = config(port);
    c.username = Some("vpp-bridge".into());
    c.password = Some("bridge-secret".into());
    let b = bridge::spawn(app.store.clone(), c).unwrap();
    connected(&b).await;
    let dev = device_as(port, &[], Some((&own, "device-secret"))).await;
    // First a sample for the other resource (the broker refuses it), then its own.
    dev.publish(&format!("vpp/default/{other}/telemetry"), json!({"ts": now_rfc3339(), "power_kw": 66}).to_string())
        .await;
    dev.publish(&format!("vpp/default/{own}/telemetry"), json!({"ts": now_rfc3339(), "power_kw": 5}).to_string()).await;
    eventually(10, "its own sample stored", || async { realtime_power(&app, &own).await == Some(5.0) }).await;
    assert_eq!(realtime_power(&app, &other).await, None, "a device wrote for another resource");
    assert_eq!(b.stats().samples_stored, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// New alerts go to the webhook once each; another occurrence of an active
/// alert does not. Alerts raised while the sender was stopped or while the
/// receiver failed are posted once it is back.
#[tokio::test]
async fn new_alerts_are_posted_to_the_webhook() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use vpp_store::AlertRule;
    let app = TestApp::new().await;
    // A receiver: a real HTTP server that hands on what it gets, or answers
    // 503 while `down`.
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let down = Arc::new(AtomicBool::new(false));
    let failing = down.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (tx, failing) = (tx.clone(), failing.clone());
            async move {
                if failing.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = tx.send(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let settings = vpp_app::webhook::WebhookSettings { url, poll: Duration::from_millis(100) };
    let sender = vpp_app::webhook::spawn_alert_webhook(app.store.clone(), settings.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.store.raise_alert(AlertRule::DeviceOffline, "r1", "r1: no telemetry for 61 s").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("posted").unwrap();
    assert_eq!(got["alert"]["rule"], "device_offline");
    assert_eq!(got["alert"]["subject"], "r1");
    assert_eq!(got["alert"]["state"], "open");
    // The same condition again: counted, not posted again.
    app.store.raise_alert(AlertRule::DeviceOffline, "r1", "r1: no telemetry for 70 s").await.unwrap();
    app.store.raise_alert(AlertRule::SocOutOfWindow, "b7", "SOC 97.0 % outside 10..90 %").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("posted").unwrap();
    assert_eq!(got["alert"]["rule"], "soc_out_of_window");
    assert!(tokio::time::timeout(Duration::from_millis(500), rx.recv()).await.is_err(), "nothing more");

    // The server stops; an alert is raised meanwhile; after the restart it is
    // posted, and the ones delivered before are not.
    sender.abort();
    app.store.raise_alert(AlertRule::BrokerConnectionLost, "broker", "broker unreachable for 3 s").await.unwrap();
    let sender = vpp_app::webhook::spawn_alert_webhook(app.store.clone(), settings.clone());
    let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("posted after restart").unwrap();
    assert_eq!(got["alert"]["rule"], "broker_connection_lost");
    assert!(tokio::time::timeout(Duration::from_millis(500), rx.recv()).await.is_err(), "nothing sent twice");

    // The receiver fails for a while: the alert waits and goes out afterwards.
    down.store(true, Ordering::SeqCst);
    app.store.raise_alert(AlertRule::DeviceOffline, "r2", "r2: no telemetry for 61 s").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(3500), rx.recv()).await.is_err(), "the receiver is down");
    down.store(false, Ordering::SeqCst);
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("posted once back").unwrap();
    assert_eq!(got["alert"]["subject"], "r2");

    assert!(vpp_app::webhook::check_url("ftp://x").is_err());
    assert!(vpp_app::webhook::check_url("not a url").is_err());
    sender.abort();
    server.abort();
}

/// `mqtts://`: the bridge verifies the broker's certificate against the CA
/// file it is given, and carries telemetry over TLS.
#[tokio::test]
async fn the_bridge_talks_tls_to_a_broker_it_can_verify() {
    let dir = std::env::temp_dir().join(format!("vpp-mqtts-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // A CA, and a broker certificate for 127.0.0.1 signed by it.
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=vpp test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
    // Mosquitto started as root reads its key as the `mosquitto` user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("broker.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\ncafile {0}/ca.pem\ncertfile {0}/broker.pem\nkeyfile {0}/broker.key\n",
        dir.display()
    );
    std::fs::write(dir.join("tls.conf"), conf).unwrap();
    let _broker = Broker::start_with(&["-c", dir.join("tls.conf").to_str().unwrap()], port).await;
    let app = TestApp::new().await;
    let g = app.generator("Genset", 100.0, 0.0, 10.0).await;
    let mut c = BridgeConfig::new(format!("mqtts://127.0.0.1:{port}"));
    c.client_id = format!("vpp-test-bridge-{}", uuid::Uuid::now_v7().simple());
    c.ca_file = Some(dir.join("ca.pem"));
    let b = bridge::spawn(app.store.clone(), c).unwrap();
    connected(&b).await;
    // A device on the same TLS listener (rumqttc with the same CA).
    let options = vpp_devices::bridge::mqtt_options(
        &format!("mqtts://127.0.0.1:{port}"),
        "vpp-test-tls-device",
        None,
        None,
        Some(&dir.join("ca.pem")),
    )
    .unwrap();
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    let poller = tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    client
        .publish(
            format!("vpp/default/{g}/telemetry"),
            QoS::AtLeastOnce,
            false,
            json!({"ts": now_rfc3339(), "power_kw": 42}).to_string(),
        )
        .await
        .unwrap();
    eventually(10, "the sample over TLS", || async { realtime_power(&app, &g).await == Some(42.0) }).await;
    poller.abort();
    // A CA that did not sign the broker's certificate: no connection.
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "other.key",
        "-out",
        "other.pem",
        "-days",
        "1",
        "-subj",
        "/CN=other CA",
    ]);
    let mut c = BridgeConfig::new(format!("mqtts://127.0.0.1:{port}"));
    c.client_id = format!("vpp-test-bridge-{}", uuid::Uuid::now_v7().simple());
    c.ca_file = Some(dir.join("other.pem"));
    let untrusting = bridge::spawn(app.store.clone(), c).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!untrusting.stats().connected, "connected to a broker it cannot verify");
    assert_eq!(untrusting.stats().connections, 0);
    // mqtts without a CA file is refused up front.
    assert!(bridge::spawn(app.store.clone(), BridgeConfig::new(format!("mqtts://127.0.0.1:{port}"))).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_alert_is_read_in_the_language_asked_for() {
    use vpp_store::{AlertMessage, AlertRule};
    let app = TestApp::new().await;
    let unanswered = AlertMessage::SetpointUnanswered { resource: "b7".into(), instruction: "i1".into(), attempts: 3 };
    app.store.raise_alert(AlertRule::SetpointNotAcknowledged, "i1", unanswered).await.unwrap();
    let (s, en) = app.get("/api/v1/vpp/alerts").await;
    assert_eq!(s, StatusCode::OK, "{en}");
    assert_eq!(en[0]["message"], "b7: setpoint i1: no acknowledgement after 3 attempts");
    assert_eq!(
        en[0]["content"],
        json!({"code": "setpoint_unanswered", "resource": "b7", "instruction": "i1", "attempts": 3})
    );
    let (_, zh) = app.send_in("zh-CN,zh;q=0.9,en;q=0.8", Method::GET, "/api/v1/vpp/alerts", None).await;
    assert_eq!(zh[0]["message"], "b7：设定值 i1 已发送 3 次，仍未确认");
    // Acknowledging answers in the same language; English is the default for anything else.
    let id = zh[0]["id"].as_str().unwrap();
    let path = format!("/api/v1/vpp/alerts/{id}/acknowledge");
    let (s, acked) = app.send_in("zh", Method::POST, &path, Some(json!({"comment": "在处理"}))).await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    assert_eq!(acked["message"], "b7：设定值 i1 已发送 3 次，仍未确认");
    let (_, de) = app.send_in("de-DE", Method::GET, "/api/v1/vpp/alerts", None).await;
    assert_eq!(de[0]["message"], en[0]["message"]);
    // Free text (as raised by older code) stays as written in every language.
    app.store.raise_alert(AlertRule::SocOutOfWindow, "b8", "SOC 97.0 % outside 10..90 %").await.unwrap();
    let (_, zh) = app.send_in("zh-CN", Method::GET, "/api/v1/vpp/alerts?subject=b8", None).await;
    assert_eq!(zh[0]["message"], "SOC 97.0 % outside 10..90 %");
    assert_eq!(zh[0]["content"]["code"], "text");
    // The dashboard's stream takes the language as a parameter (a browser's EventSource cannot set the header).
    let (s, p) = app.get("/api/v1/vpp/events/dashboard?count=1&lang=fr").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["field"], "lang");
}
