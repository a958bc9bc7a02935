//! The bridge between the MQTT broker and the store.
//!
//! Four tasks share one connection:
//!
//! - the **event loop** reads telemetry and acknowledgements, parses them and
//!   hands them on through bounded channels. When the writer falls behind the
//!   channel fills and the loop waits, so the broker holds back messages
//!   (back-pressure) instead of vpp dropping them;
//! - the **writer** collects samples into batches (up to `batch_max` or
//!   `batch_wait`), checks them against the device directory (unknown
//!   resources and out-of-range values are counted and dropped), writes each
//!   batch in one transaction, brings silent devices back ONLINE and watches
//!   the SOC window;
//! - the **setpoint sender** publishes queued setpoints with QoS 1, retries
//!   those not acknowledged within `ack_timeout`, and after `max_attempts`
//!   marks them failed and raises an alert. Setpoints wait in the store, so a
//!   broker reconnect or a restart loses none;
//! - the **heartbeat sweep** marks devices OFFLINE after their silence
//!   timeout, and refreshes the directory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde::Serialize;
use tokio::sync::{Notify, RwLock, mpsc};
use tokio::task::JoinHandle;
use vpp_domain::resource::{ResourceStatus, Telemetry};
use vpp_domain::status_reason::StatusReason;
use vpp_store::{AlertMessage, AlertRule, DeliveryState, DeviceInfo, LiveMeasurement, Store};

use crate::protocol::{self, AckStatus, Kind, Topic};

/// The delivery channel of setpoints that go out over MQTT.
const MQTT: &str = "mqtt";

/// How to reach the broker and how patient to be.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// `mqtt://host[:port]` or `mqtts://host[:port]` (TLS, needs `ca_file`).
    pub url: String,
    /// Broker user name.
    pub username: Option<String>,
    /// Broker password.
    pub password: Option<String>,
    /// PEM file of the CA that signed the broker's certificate (TLS).
    pub ca_file: Option<std::path::PathBuf>,
    /// MQTT client id of the bridge (its lanes add `-control` and
    /// `-telemetry`). Stable across restarts, so the broker keeps the
    /// telemetry session and queues what arrives while vpp is away; each
    /// node needs its own.
    pub client_id: String,
    /// First topic levels of every device message (see [`protocol`]):
    /// `vpp` unless configured.
    pub topic_prefix: String,
    /// Samples per write at most.
    pub batch_max: usize,
    /// Longest a sample waits for its batch.
    pub batch_wait: Duration,
    /// Time a device has to acknowledge a setpoint.
    pub ack_timeout: Duration,
    /// Publications of one setpoint before it counts as failed.
    pub max_attempts: u32,
    /// Silence after which a device counts as OFFLINE (unless the resource
    /// sets `heartbeat_timeout_s` in its metadata).
    pub heartbeat_timeout: Duration,
    /// How often silent devices are looked for.
    pub sweep_every: Duration,
}

impl BridgeConfig {
    /// Defaults for a broker URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            ca_file: None,
            client_id: "vpp-bridge".into(),
            topic_prefix: protocol::DEFAULT_PREFIX.into(),
            // Short write transactions: other writers (setpoints, the API)
            // wait at most one batch (about 50 ms on SQLite).
            batch_max: 5_000,
            batch_wait: Duration::from_millis(100),
            ack_timeout: Duration::from_secs(10),
            max_attempts: 3,
            heartbeat_timeout: Duration::from_secs(60),
            sweep_every: Duration::from_secs(5),
        }
    }
}

/// Why the bridge cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The configuration is wrong; the field says which part.
    #[error("{field}: {message}")]
    Config {
        /// Offending setting.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn config_error(field: &'static str, message: impl Into<String>) -> BridgeError {
    BridgeError::Config { field, message: message.into() }
}

/// Counters of the bridge since it started.
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// Per [`Lane`]: connected now.
    up: [AtomicBool; 2],
    pub(crate) connections: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) samples_stored: AtomicU64,
    pub(crate) samples_duplicate: AtomicU64,
    pub(crate) dropped_unknown_resource: AtomicU64,
    pub(crate) dropped_malformed: AtomicU64,
    pub(crate) dropped_out_of_range: AtomicU64,
    pub(crate) setpoints_sent: AtomicU64,
    pub(crate) setpoints_acknowledged: AtomicU64,
    pub(crate) setpoints_rejected: AtomicU64,
    pub(crate) setpoints_failed: AtomicU64,
    pub(crate) store_errors: AtomicU64,
}

/// A snapshot of [`BridgeStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BridgeCounts {
    /// Connected to the broker now.
    pub connected: bool,
    /// Connections made (1 + reconnects).
    pub connections: u64,
    /// Messages received.
    pub messages: u64,
    /// Samples written.
    pub samples_stored: u64,
    /// Samples already stored (resent).
    pub samples_duplicate: u64,
    /// Messages or samples for resources vpp does not know.
    pub dropped_unknown_resource: u64,
    /// Messages that could not be read.
    pub dropped_malformed: u64,
    /// Samples with values outside their range.
    pub dropped_out_of_range: u64,
    /// Setpoint publications (retries included).
    pub setpoints_sent: u64,
    /// Setpoints acknowledged.
    pub setpoints_acknowledged: u64,
    /// Setpoints rejected by the device.
    pub setpoints_rejected: u64,
    /// Setpoints given up after every retry.
    pub setpoints_failed: u64,
    /// Store writes that failed (retried or counted as lost).
    pub store_errors: u64,
}

impl BridgeStats {
    /// The counters now.
    pub fn snapshot(&self) -> BridgeCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BridgeCounts {
            connected: self.up.iter().all(|u| u.load(Ordering::Relaxed)),
            connections: g(&self.connections),
            messages: g(&self.messages),
            samples_stored: g(&self.samples_stored),
            samples_duplicate: g(&self.samples_duplicate),
            dropped_unknown_resource: g(&self.dropped_unknown_resource),
            dropped_malformed: g(&self.dropped_malformed),
            dropped_out_of_range: g(&self.dropped_out_of_range),
            setpoints_sent: g(&self.setpoints_sent),
            setpoints_acknowledged: g(&self.setpoints_acknowledged),
            setpoints_rejected: g(&self.setpoints_rejected),
            setpoints_failed: g(&self.setpoints_failed),
            store_errors: g(&self.store_errors),
        }
    }
}

pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// A running bridge. Dropping it stops its tasks.
pub struct Bridge {
    stats: Arc<BridgeStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Counters.
    pub fn stats(&self) -> BridgeCounts {
        self.stats.snapshot()
    }

    /// A handle on the counters.
    pub fn stats_handle(&self) -> Arc<BridgeStats> {
        self.stats.clone()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A client and its event loop, with Nagle's algorithm off: small QoS 1
/// messages (setpoints, answers, PUBACKs) otherwise wait for the peer's
/// delayed ACK, which put 40 ms steps into the setpoint round trip
/// (`vpp bench devices`: per-wave maxima clustered at 45-50 and 90 ms).
pub fn client(options: MqttOptions, capacity: usize) -> (AsyncClient, rumqttc::EventLoop) {
    let (client, mut eventloop) = AsyncClient::new(options, capacity);
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    (client, eventloop)
}

/// Broker options from the configuration.
pub fn mqtt_options(
    url: &str,
    client_id: &str,
    username: Option<&str>,
    password: Option<&str>,
    ca_file: Option<&std::path::Path>,
) -> Result<MqttOptions, BridgeError> {
    let (scheme, rest) =
        url.split_once("://").ok_or_else(|| config_error("mqtt_url", "must start with mqtt:// or mqtts://"))?;
    let tls = match scheme {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" => true,
        other => return Err(config_error("mqtt_url", format!("scheme `{other}` is not mqtt or mqtts"))),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            (h, p.parse::<u16>().map_err(|_| config_error("mqtt_url", format!("port `{p}` is not a number")))?)
        }
        None => (authority, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(config_error("mqtt_url", "has no host"));
    }
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(5));
    // Batches of up to 10,000 samples.
    o.set_max_packet_size(1 << 20, 1 << 20);
    o.set_inflight(1000);
    match (username, password) {
        (Some(u), p) => {
            o.set_credentials(u, p.unwrap_or_default());
        }
        (None, Some(_)) => return Err(config_error("mqtt_username", "a password needs a user name")),
        (None, None) => {}
    }
    if tls {
        let ca = ca_file.ok_or_else(|| config_error("mqtt_ca_file", "mqtts:// needs the CA certificate (PEM)"))?;
        o.set_transport(Transport::tls_with_config(tls_config(ca)?));
    } else if ca_file.is_some() {
        return Err(config_error("mqtt_ca_file", "is only used with mqtts://"));
    }
    Ok(o)
}

fn tls_config(ca: &std::path::Path) -> Result<TlsConfiguration, BridgeError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| config_error("mqtt_ca_file", format!("{}: {e}", ca.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| config_error("mqtt_ca_file", format!("{}: {e}", ca.display())))?;
        roots.add(cert).map_err(|e| config_error("mqtt_ca_file", e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("mqtt_ca_file", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

/// Samples handed from the event loop (or a Modbus poll) to the writer.
pub(crate) struct Incoming {
    pub(crate) resource_id: String,
    pub(crate) samples: Vec<Telemetry>,
    pub(crate) status: Option<ResourceStatus>,
    /// The message, acknowledged to the broker once its batch is stored.
    pub(crate) message: Option<rumqttc::Publish>,
}

/// What the bridge knows about the fleet.
pub(crate) struct Directory {
    pub(crate) devices: RwLock<HashMap<String, DeviceInfo>>,
    refreshed: tokio::sync::Mutex<Instant>,
}

impl Directory {
    pub(crate) fn new() -> Self {
        // Refreshed long ago: the first unknown device triggers a refresh.
        let long_ago = Instant::now().checked_sub(Duration::from_secs(3600)).unwrap_or_else(Instant::now);
        Self { devices: RwLock::new(HashMap::new()), refreshed: tokio::sync::Mutex::new(long_ago) }
    }

    pub(crate) async fn refresh(&self, store: &Store) -> Result<(), vpp_store::StoreError> {
        let list = store.device_directory().await?;
        *self.devices.write().await = list.into_iter().map(|d| (d.id.clone(), d)).collect();
        *self.refreshed.lock().await = Instant::now();
        Ok(())
    }
}

/// Checks the bridge's settings and makes every dispatch saved through
/// `store` from now on queue its setpoints for a bridge: on every node of a
/// cluster, whichever node runs the bridge. Returns the client options.
pub fn prepare(store: &Store, config: &BridgeConfig) -> Result<MqttOptions, BridgeError> {
    protocol::check_prefix(&config.topic_prefix).map_err(|e| config_error("mqtt_topic_prefix", e))?;
    let options = mqtt_options(
        &config.url,
        &config.client_id,
        config.username.as_deref(),
        config.password.as_deref(),
        config.ca_file.as_deref(),
    )?;
    store.enable_setpoint_outbox(outbox(&config.topic_prefix));
    Ok(options)
}

/// Starts the bridge on the current tokio runtime.
pub fn spawn(store: Arc<Store>, config: BridgeConfig) -> Result<Bridge, BridgeError> {
    spawn_counting(store, config, Arc::new(BridgeStats::default()))
}

/// [`spawn`], counting into `stats` (kept by the caller across restarts of
/// the bridge, as when the node holding the device lease changes).
pub fn spawn_counting(store: Arc<Store>, config: BridgeConfig, stats: Arc<BridgeStats>) -> Result<Bridge, BridgeError> {
    let options = prepare(&store, &config)?;
    let prefix: Arc<str> = config.topic_prefix.as_str().into();
    // Two connections: setpoints and their answers never queue behind the
    // fleet's telemetry, at the broker or here.
    let lane_options = |lane: Lane| {
        let mut o = options.clone();
        o.set_client_id(format!("{}-{}", config.client_id, lane.name()));
        if lane == Lane::Telemetry {
            // A persistent session: the broker queues telemetry (QoS 1)
            // while vpp is down and hands it over on reconnect. Each message
            // is acknowledged only once its batch is stored, so a crash
            // loses nothing the broker sent (writes are idempotent, so a
            // redelivery stores nothing twice).
            o.set_clean_session(false);
            o.set_manual_acks(true);
        }
        o
    };
    let (client, eventloop) = self::client(lane_options(Lane::Control), 1024);
    let (telemetry_client, telemetry_eventloop) = self::client(lane_options(Lane::Telemetry), 16);
    let wake = Arc::new(Notify::new());
    let directory = Arc::new(Directory::new());
    // About a second of a busy fleet's messages.
    let (samples_tx, samples_rx) = mpsc::channel::<Incoming>(4096);
    let (acks_tx, acks_rx) = mpsc::channel::<Answer>(100_000);
    let lane = |lane, eventloop, client| Connection {
        lane,
        prefix: prefix.clone(),
        eventloop,
        client,
        samples: samples_tx.clone(),
        acks: acks_tx.clone(),
        store: store.clone(),
        stats: stats.clone(),
        wake: wake.clone(),
    };
    let tasks = vec![
        tokio::spawn(event_loop(lane(Lane::Control, eventloop, client.clone()))),
        tokio::spawn(event_loop(lane(Lane::Telemetry, telemetry_eventloop, telemetry_client.clone()))),
        tokio::spawn(answers(acks_rx, store.clone(), stats.clone())),
        tokio::spawn(writer(
            samples_rx,
            Some(telemetry_client),
            store.clone(),
            stats.clone(),
            directory.clone(),
            (config.batch_max, config.batch_wait),
        )),
        tokio::spawn(setpoint_sender(client, store.clone(), stats.clone(), wake.clone(), config.clone())),
        tokio::spawn(heartbeat(store, directory, config)),
    ];
    Ok(Bridge { stats, tasks })
}

/// One of the bridge's two connections to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Setpoints out, answers in; watches the broker for the alert.
    Control,
    /// Telemetry in.
    Telemetry,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Control => "control",
            Lane::Telemetry => "telemetry",
        }
    }

    /// What devices send on this lane.
    fn kind(self) -> Kind {
        match self {
            Lane::Control => Kind::Ack,
            Lane::Telemetry => Kind::Telemetry,
        }
    }
}

/// What a connection's event loop works with.
struct Connection {
    lane: Lane,
    prefix: Arc<str>,
    eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    samples: mpsc::Sender<Incoming>,
    acks: mpsc::Sender<Answer>,
    store: Arc<Store>,
    stats: Arc<BridgeStats>,
    wake: Arc<Notify>,
}

async fn event_loop(c: Connection) {
    let Connection { lane, prefix, mut eventloop, client, samples, acks, store, stats, wake } = c;
    let filter = protocol::filter(&prefix, lane.kind());
    let control = lane == Lane::Control;
    let mut down_since: Option<Instant> = None;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                stats.up[lane as usize].store(true, Ordering::Relaxed);
                bump(&stats.connections, 1);
                tracing::info!(lane = lane.name(), "MQTT bridge connected");
                // A clean session forgets subscriptions: subscribe on every connect.
                if let Err(e) = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce) {
                    tracing::error!(error = %e, filter, "MQTT subscribe failed");
                }
                down_since = None;
                if !control {
                    continue;
                }
                if let Err(e) = store.clear_alert(AlertRule::BrokerConnectionLost, "broker").await {
                    tracing::warn!(error = %e, "could not resolve the broker alert");
                }
                // Setpoints published before the break may be lost with it.
                match store.resend_unanswered_setpoints(MQTT).await {
                    Ok(n) if n > 0 => tracing::info!(setpoints = n, "resending unanswered setpoints"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not requeue setpoints"),
                }
                wake.notify_one();
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                bump(&stats.messages, 1);
                let Some(topic) = Topic::parse(&p.topic, &prefix) else {
                    bump(&stats.dropped_malformed, 1);
                    tracing::debug!(topic = %p.topic, "message on an unknown topic dropped");
                    continue;
                };
                match topic.kind {
                    Kind::Telemetry => match protocol::parse_telemetry(&p.payload) {
                        Ok(m) => {
                            let item = Incoming {
                                resource_id: topic.resource_id.to_string(),
                                samples: m.samples,
                                status: m.status,
                                message: Some(p),
                            };
                            // Waits while the writer is behind: back-pressure.
                            if samples.send(item).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            bump(&stats.dropped_malformed, 1);
                            tracing::warn!(topic = %p.topic, error = %e, "malformed telemetry dropped");
                            // Dropped for good: redelivering it would not help.
                            if !control {
                                let _ = client.try_ack(&p);
                            }
                        }
                    },
                    Kind::Ack => match protocol::parse_ack(&p.payload) {
                        Ok(ack) => {
                            let state = match ack.status {
                                AckStatus::Accepted => DeliveryState::Acknowledged,
                                AckStatus::Rejected => DeliveryState::Rejected,
                            };
                            let answer = (
                                ack.instruction_id,
                                topic.resource_id.to_string(),
                                state,
                                ack.reason,
                                Timestamp::now(),
                            );
                            if acks.send(answer).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            bump(&stats.dropped_malformed, 1);
                            tracing::warn!(topic = %p.topic, error = %e, "malformed acknowledgement dropped");
                        }
                    },
                    Kind::Setpoint => {}
                }
            }
            Ok(_) => {}
            Err(e) => {
                stats.up[lane as usize].store(false, Ordering::Relaxed);
                let since = *down_since.get_or_insert_with(Instant::now);
                tracing::warn!(error = %e, lane = lane.name(), "MQTT connection lost; retrying");
                // A blip is not worth an alert; a broker gone for seconds is.
                if control && since.elapsed() >= Duration::from_secs(3) {
                    let message = AlertMessage::BrokerUnreachable {
                        seconds: since.elapsed().as_secs_f64().round(),
                        error: e.to_string(),
                    };
                    if let Err(e) = store.raise_alert(AlertRule::BrokerConnectionLost, "broker", message).await {
                        tracing::warn!(error = %e, "could not raise the broker alert");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// A device's answer as received: instruction, resource, state, reason, when.
pub(crate) type Answer = (String, String, DeliveryState, Option<String>, Timestamp);

/// Stores acknowledgements in batches, off the event loop.
async fn answers(mut rx: mpsc::Receiver<Answer>, store: Arc<Store>, stats: Arc<BridgeStats>) {
    let mut batch = Vec::new();
    loop {
        if rx.recv_many(&mut batch, 2000).await == 0 {
            return;
        }
        record_answers(&store, &stats, &batch).await;
        batch.clear();
    }
}

/// Stores devices' answers, counts them and raises an alert for each rejection.
pub(crate) async fn record_answers(store: &Store, stats: &BridgeStats, batch: &[Answer]) {
    match store.answer_setpoints(batch).await {
        Ok(changed) => {
            for d in changed {
                if d.state == DeliveryState::Acknowledged {
                    bump(&stats.setpoints_acknowledged, 1);
                    continue;
                }
                bump(&stats.setpoints_rejected, 1);
                let message = AlertMessage::SetpointRejected {
                    resource: d.resource_id.clone(),
                    instruction: d.instruction_id.clone(),
                    reason: d.reason.clone(),
                };
                if let Err(e) = store.raise_alert(AlertRule::SetpointNotAcknowledged, &d.instruction_id, message).await
                {
                    tracing::warn!(error = %e, "could not raise an alert");
                }
            }
        }
        Err(e) => {
            bump(&stats.store_errors, 1);
            tracing::warn!(error = %e, answers = batch.len(), "could not store acknowledgements");
        }
    }
}

/// Stores what arrives in batches of up to `batch_max` samples or
/// `batch_wait`; MQTT messages are acknowledged to the broker (`client`)
/// once their batch is stored.
pub(crate) async fn writer(
    mut rx: mpsc::Receiver<Incoming>,
    client: Option<AsyncClient>,
    store: Arc<Store>,
    stats: Arc<BridgeStats>,
    directory: Arc<Directory>,
    (batch_max, batch_wait): (usize, Duration),
) {
    if let Err(e) = directory.refresh(&store).await {
        tracing::warn!(error = %e, "could not load the device directory");
    }
    let mut soc_alerted: HashSet<String> = HashSet::new();
    let mut unknown = UnknownDevices::default();
    loop {
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        let mut count = batch[0].samples.len();
        let deadline = tokio::time::Instant::now() + batch_wait;
        while count < batch_max {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => {
                    count += item.samples.len();
                    batch.push(item);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let messages: Vec<rumqttc::Publish> = batch.iter_mut().filter_map(|i| i.message.take()).collect();
        if write_batch(&store, &stats, &directory, batch, &mut soc_alerted, &mut unknown).await
            && let Some(client) = &client
        {
            for m in &messages {
                if let Err(e) = client.ack(m).await {
                    tracing::warn!(error = %e, "could not acknowledge telemetry to the broker");
                }
            }
        }
        // Not stored: left unacknowledged, the broker delivers them again
        // after the next reconnect.
    }
}

/// Telemetry of devices vpp does not know: counted in the bridge status,
/// and logged at most once a minute with the count (a shared broker may
/// carry many other devices).
#[derive(Default)]
struct UnknownDevices {
    since_log: u64,
    last_log: Option<Instant>,
    example: Option<String>,
}

impl UnknownDevices {
    fn saw(&mut self, resource_id: &str) {
        self.since_log += 1;
        if self.example.is_none() {
            self.example = Some(resource_id.to_string());
        }
        if self.last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!(
                messages = self.since_log,
                example = self.example.as_deref().unwrap_or_default(),
                "telemetry for unknown resources dropped (logged at most once a minute; see the bridge status)"
            );
            self.since_log = 0;
            self.example = None;
            self.last_log = Some(Instant::now());
        }
    }
}

async fn write_batch(
    store: &Store,
    stats: &BridgeStats,
    directory: &Directory,
    batch: Vec<Incoming>,
    soc_alerted: &mut HashSet<String>,
    unknown_devices: &mut UnknownDevices,
) -> bool {
    // A device never seen may just have been registered: look again, at most once a second.
    let unknown = {
        let devices = directory.devices.read().await;
        batch.iter().any(|i| !devices.contains_key(&i.resource_id))
    };
    if unknown
        && directory.refreshed.lock().await.elapsed() > Duration::from_secs(1)
        && let Err(e) = directory.refresh(store).await
    {
        tracing::warn!(error = %e, "could not refresh the device directory");
    }
    let mut rows: Vec<(String, Telemetry)> = Vec::with_capacity(batch.iter().map(|i| i.samples.len()).sum());
    // Power as live measurements of the resources' power series.
    let mut measured: Vec<LiveMeasurement> = Vec::with_capacity(rows.capacity());
    let mut back_online: Vec<String> = Vec::new();
    let mut reported: Vec<(String, ResourceStatus)> = Vec::new();
    let mut soc_events: Vec<(String, Option<AlertMessage>)> = Vec::new();
    let horizon = Timestamp::now() + jiff::SignedDuration::from_mins(5);
    {
        let devices = directory.devices.read().await;
        for item in batch {
            let Some(device) = devices.get(&item.resource_id) else {
                bump(&stats.dropped_unknown_resource, 1);
                unknown_devices.saw(&item.resource_id);
                continue;
            };
            let before = rows.len();
            for s in item.samples {
                if s.validate(device.capacity_kw).is_err() || s.ts > horizon {
                    bump(&stats.dropped_out_of_range, 1);
                    continue;
                }
                if let (Some(soc), Some((lo, hi))) = (s.soc_pct, device.soc_window_pct) {
                    let outside = soc < lo - 0.5 || soc > hi + 0.5;
                    let alerted = soc_alerted.contains(&device.id);
                    if outside && !alerted {
                        let message = AlertMessage::SocOutOfWindow {
                            resource: device.id.clone(),
                            soc_pct: soc,
                            min_pct: lo,
                            max_pct: hi,
                        };
                        soc_events.push((device.id.clone(), Some(message)));
                        soc_alerted.insert(device.id.clone());
                    } else if !outside && alerted {
                        soc_events.push((device.id.clone(), None));
                        soc_alerted.remove(&device.id);
                    }
                }
                if let Some(series_key) = device.power_series {
                    measured.push(LiveMeasurement { series_key, at_us: s.ts.as_microsecond(), value: s.power_kw });
                }
                rows.push((item.resource_id.clone(), s));
            }
            if rows.len() > before && device.status == ResourceStatus::Offline {
                back_online.push(device.id.clone());
            }
            if let Some(status) = item.status
                && status != device.status
            {
                reported.push((device.id.clone(), status));
            }
        }
    }
    let n = rows.len() as u64;
    let writing = Instant::now();
    let written = store.ingest_telemetry(&rows, &measured).await;
    tracing::debug!(samples = n, ms = writing.elapsed().as_secs_f64() * 1000.0, "telemetry batch written");
    let stored = match written {
        Ok(new) => {
            bump(&stats.samples_stored, new as u64);
            bump(&stats.samples_duplicate, n - new as u64);
            true
        }
        Err(e) => {
            bump(&stats.store_errors, 1);
            tracing::error!(error = %e, samples = n, "telemetry batch could not be stored");
            false
        }
    };
    back_online.sort();
    back_online.dedup();
    for id in back_online {
        match store
            .set_status_if(&id, &[ResourceStatus::Offline], ResourceStatus::Online, StatusReason::TelemetryAgain)
            .await
        {
            Ok(true) => {
                tracing::info!(resource = %id, "device back ONLINE");
                if let Some(d) = directory.devices.write().await.get_mut(&id) {
                    d.status = ResourceStatus::Online;
                }
                let _ = store.clear_alert(AlertRule::DeviceOffline, &id).await;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, resource = %id, "could not set the status"),
        }
    }
    for (id, status) in reported {
        let all = ResourceStatus::ALL;
        match store.set_status_if(&id, &all, status, StatusReason::ReportedByDevice).await {
            Ok(_) => {
                if let Some(d) = directory.devices.write().await.get_mut(&id) {
                    d.status = status;
                }
            }
            Err(e) => tracing::warn!(error = %e, resource = %id, "could not set the reported status"),
        }
    }
    for (id, message) in soc_events {
        let done = match message {
            Some(m) => store.raise_alert(AlertRule::SocOutOfWindow, &id, m).await.map(|_| ()),
            None => store.clear_alert(AlertRule::SocOutOfWindow, &id).await.map(|_| ()),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not update a SOC alert");
        }
    }
    stored
}

async fn setpoint_sender(
    client: AsyncClient,
    store: Arc<Store>,
    stats: Arc<BridgeStats>,
    wake: Arc<Notify>,
    config: BridgeConfig,
) {
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        if !stats.up[Lane::Control as usize].load(Ordering::Relaxed) {
            continue;
        }
        let due = match store.due_setpoints(MQTT, Timestamp::now(), 1000).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not read due setpoints");
                continue;
            }
        };
        let (expired, publish): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|d| d.state == DeliveryState::Sent && d.attempts >= i64::from(config.max_attempts));
        give_up(&store, &stats, &expired, GiveUp::Unanswered).await;
        if publish.is_empty() {
            continue;
        }
        // Recorded first, so an answer never finds its setpoint unsent.
        let answer_by = Timestamp::now() + jiff::SignedDuration::try_from(config.ack_timeout).unwrap_or_default();
        let ids: Vec<String> = publish.iter().map(|d| d.instruction_id.clone()).collect();
        if let Err(e) = store.setpoints_sent(&ids, answer_by).await {
            tracing::warn!(error = %e, "could not record publications");
            continue;
        }
        for d in publish {
            if let Err(e) = client.publish(d.topic, QoS::AtLeastOnce, false, d.payload.into_bytes()).await {
                // Still due again after the timeout.
                tracing::warn!(error = %e, "could not publish a setpoint");
                break;
            }
            bump(&stats.setpoints_sent, 1);
        }
    }
}

/// Why setpoints are given up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GiveUp {
    /// Sent the most times without an answer.
    Unanswered,
    /// Its window ended before the device took it.
    Ended,
}

impl GiveUp {
    /// The delivery's recorded reason.
    fn reason(self, d: &vpp_store::Delivery) -> String {
        match self {
            Self::Unanswered => format!("no acknowledgement after {} attempts", d.attempts),
            Self::Ended => "the instruction ended before the device took it".into(),
        }
    }

    /// The alert it raises.
    fn alert(self, d: &vpp_store::Delivery) -> AlertMessage {
        let (resource, instruction) = (d.resource_id.clone(), d.instruction_id.clone());
        match self {
            Self::Unanswered => AlertMessage::SetpointUnanswered { resource, instruction, attempts: d.attempts },
            Self::Ended => AlertMessage::SetpointExpired { resource, instruction },
        }
    }
}

/// Marks setpoints failed, each with the reason of `why`, and raises an alert for each.
pub(crate) async fn give_up(store: &Store, stats: &BridgeStats, deliveries: &[vpp_store::Delivery], why: GiveUp) {
    if deliveries.is_empty() {
        return;
    }
    let now = Timestamp::now();
    let answers: Vec<Answer> = deliveries
        .iter()
        .map(|d| (d.instruction_id.clone(), d.resource_id.clone(), DeliveryState::Failed, Some(why.reason(d)), now))
        .collect();
    match store.answer_setpoints(&answers).await {
        Ok(failed) => {
            for d in failed {
                bump(&stats.setpoints_failed, 1);
                if let Err(e) =
                    store.raise_alert(AlertRule::SetpointNotAcknowledged, &d.instruction_id, why.alert(&d)).await
                {
                    tracing::warn!(error = %e, "could not raise an alert");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not mark setpoints failed"),
    }
}

async fn heartbeat(store: Arc<Store>, directory: Arc<Directory>, config: BridgeConfig) {
    loop {
        tokio::time::sleep(config.sweep_every).await;
        if let Err(e) = directory.refresh(&store).await {
            tracing::warn!(error = %e, "could not refresh the device directory");
            continue;
        }
        let now = Timestamp::now();
        let silent: Vec<(String, f64, f64)> = directory
            .devices
            .read()
            .await
            .values()
            .filter(|d| d.status == ResourceStatus::Online)
            .filter_map(|d| {
                let last = d.last_seen?;
                let limit = d.heartbeat_timeout_s.unwrap_or(config.heartbeat_timeout.as_secs_f64());
                let quiet = now.duration_since(last).as_secs_f64();
                (quiet > limit).then(|| (d.id.clone(), quiet, limit))
            })
            .collect();
        for (id, quiet, limit) in silent {
            let reason = StatusReason::NoTelemetry { quiet_s: quiet, timeout_s: limit };
            match store.set_status_if(&id, &[ResourceStatus::Online], ResourceStatus::Offline, reason.clone()).await {
                Ok(true) => {
                    tracing::info!(resource = %id, "device OFFLINE: {reason}");
                    if let Some(d) = directory.devices.write().await.get_mut(&id) {
                        d.status = ResourceStatus::Offline;
                    }
                    let message = AlertMessage::NoTelemetry { resource: id.clone(), quiet_s: quiet, timeout_s: limit };
                    if let Err(e) = store.raise_alert(AlertRule::DeviceOffline, &id, message).await {
                        tracing::warn!(error = %e, "could not raise an alert");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, resource = %id, "could not set the status"),
            }
        }
    }
}

/// How dispatch instructions become setpoint messages; give it to
/// [`Store::enable_setpoint_outbox`] before dispatching if the bridge starts later.
pub fn outbox(topic_prefix: &str) -> vpp_store::SetpointOutbox {
    vpp_store::SetpointOutbox { topic_prefix: topic_prefix.into(), topic: setpoint_topic }
}

fn setpoint_topic(prefix: &str, site: &str, resource_id: &str) -> String {
    protocol::topic(prefix, site, resource_id, Kind::Setpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setpoints_go_out_under_the_configured_prefix() {
        let o = outbox("tenants/acme/vpp");
        assert_eq!((o.topic)(&o.topic_prefix, "hall-3", "r1"), "tenants/acme/vpp/hall-3/r1/setpoint");
    }
}
