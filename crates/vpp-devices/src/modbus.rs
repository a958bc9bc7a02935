//! Device links over Modbus TCP: each enabled link is polled on its
//! interval and its readings go the way of MQTT telemetry (the bridge's
//! writer: range checks, live measurements, back ONLINE, the SOC window);
//! setpoints queued for the `modbus_tcp` channel are written as registers
//! at their start and read back to confirm.
//!
//! Safety: only links stored with `enabled: true` are polled (a resource's
//! `device_address` starts nothing), and only at the host and port stored
//! with them.
//!
//! Tasks:
//! - the **supervisor** loads the enabled links every `refresh_every` and
//!   starts, restarts (changed) or stops one poller per device;
//! - a **poller** per device connects (with a timeout), finds its SunSpec
//!   models once per connection, reads on its interval, and writes the
//!   setpoints handed to it; after `offline_after` failed polls in a row the
//!   resource goes OFFLINE with a `device_offline` alert, and its next
//!   reading brings it back;
//! - the **dispatcher** hands due setpoints to the pollers, holds back
//!   those that start later, retries unanswered ones after `answer_timeout`
//!   and gives up after `max_attempts`;
//! - the **writer** (the bridge's) stores readings in batches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_modbus::client::{Context, Reader, Writer};
use vpp_domain::device_link::{DeviceLinkSpec, LinkProtocol, RegisterMap};
use vpp_domain::execution::Setpoint;
use vpp_domain::resource::{ResourceStatus, Telemetry};
use vpp_domain::status_reason::StatusReason;
use vpp_store::{AlertMessage, AlertRule, Delivery, DeliveryState, Store};

use crate::bridge::{self, BridgeStats, Directory, Incoming, bump};
use crate::sunspec::{self, LinkError, Reading, Registers, SunspecDevice};

/// The delivery channel of setpoints for Modbus links.
pub const CHANNEL: &str = "modbus_tcp";

/// How patient the Modbus links are.
#[derive(Debug, Clone)]
pub struct ModbusConfig {
    /// How often the enabled links are loaded again.
    pub refresh_every: Duration,
    /// Failed polls in a row before a device counts as OFFLINE.
    pub offline_after: u32,
    /// Time a written setpoint has to be confirmed before it is tried again.
    pub answer_timeout: Duration,
    /// Writes of one setpoint before it counts as failed.
    pub max_attempts: u32,
}

impl Default for ModbusConfig {
    fn default() -> Self {
        Self {
            refresh_every: Duration::from_secs(5),
            offline_after: 3,
            answer_timeout: Duration::from_secs(10),
            max_attempts: 3,
        }
    }
}

/// One link as it is now.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LinkState {
    /// Resource id.
    pub resource_id: String,
    /// `modbus://host:port/unit`.
    pub address: String,
    /// A TCP connection is open.
    pub connected: bool,
    /// Last successful poll (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_contact: Option<Timestamp>,
    /// Why the last poll or write failed, if it did.
    pub last_error: Option<String>,
    /// Failed polls since the last good one.
    pub failures_in_a_row: u32,
    /// Good polls since the link started.
    pub polls_ok: u64,
    /// Failed polls since the link started.
    pub polls_failed: u64,
    /// Polls that were due while the previous one still ran.
    pub polls_missed: u64,
    /// The newest reading.
    pub reading: Option<Reading>,
    /// What SunSpec discovery found (SunSpec maps only).
    pub sunspec: Option<SunspecDevice>,
}

/// Counters of all Modbus links.
#[derive(Debug)]
pub struct ModbusStats {
    /// Sample counters (the bridge's writer counts into it).
    samples: Arc<BridgeStats>,
    polls_ok: AtomicU64,
    polls_failed: AtomicU64,
    links: Mutex<HashMap<String, LinkState>>,
    /// Good polls counted at the previous status, and when.
    rate: Mutex<(Instant, u64)>,
}

impl Default for ModbusStats {
    fn default() -> Self {
        Self {
            samples: Arc::default(),
            polls_ok: AtomicU64::new(0),
            polls_failed: AtomicU64::new(0),
            links: Mutex::default(),
            rate: Mutex::new((Instant::now(), 0)),
        }
    }
}

/// The Modbus links' status, as `GET /devices/protocols` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModbusCounts {
    /// Enabled links being polled.
    pub devices: usize,
    /// Links with an open connection.
    pub connected: usize,
    /// Newest successful poll of any device (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_contact: Option<Timestamp>,
    /// Good polls since start.
    pub polls_ok: u64,
    /// Failed polls since start.
    pub polls_failed: u64,
    /// Good polls per second since the previous status (or since start).
    pub polls_per_s: f64,
    /// Links whose last poll failed.
    pub errors: usize,
    /// Samples written, setpoints and store errors (same fields as MQTT's).
    pub counts: bridge::BridgeCounts,
}

impl ModbusStats {
    /// The counters now.
    pub fn snapshot(&self) -> ModbusCounts {
        let links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let ok = self.polls_ok.load(Ordering::Relaxed);
        let now = Instant::now();
        let mut rate = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        let (since, before) = *rate;
        let secs = now.duration_since(since).as_secs_f64();
        let polls_per_s = if secs > 0.0 { (ok - before) as f64 / secs } else { 0.0 };
        if secs >= 1.0 {
            *rate = (now, ok);
        }
        let mut counts = self.samples.snapshot();
        counts.connected = links.values().any(|l| l.connected);
        ModbusCounts {
            devices: links.len(),
            connected: links.values().filter(|l| l.connected).count(),
            last_contact: links.values().filter_map(|l| l.last_contact).max(),
            polls_ok: ok,
            polls_failed: self.polls_failed.load(Ordering::Relaxed),
            polls_per_s,
            errors: links.values().filter(|l| l.failures_in_a_row > 0).count(),
            counts,
        }
    }

    /// One link's state, if it is being polled.
    pub fn link(&self, resource_id: &str) -> Option<LinkState> {
        self.links.lock().unwrap_or_else(|e| e.into_inner()).get(resource_id).cloned()
    }

    /// Every polled link's state, by resource id.
    pub fn all_links(&self) -> Vec<LinkState> {
        let mut v: Vec<LinkState> = self.links.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        v.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
        v
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut LinkState)) {
        if let Some(l) = self.links.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id) {
            f(l);
        }
    }
}

/// The running Modbus links; dropping stops them.
pub struct ModbusLinks {
    stats: Arc<ModbusStats>,
    tasks: Vec<JoinHandle<()>>,
    pollers: Pollers,
}

impl ModbusLinks {
    /// A handle on the counters and link states.
    pub fn stats_handle(&self) -> Arc<ModbusStats> {
        self.stats.clone()
    }
}

impl Drop for ModbusLinks {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // The pollers too: links stopped (a lost lease) poll nothing.
        let pollers = self.pollers.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                for (_, p) in pollers.lock().await.drain() {
                    p.task.abort();
                }
            });
        }
    }
}

/// A poller and what it was started with.
struct Poller {
    spec: DeviceLinkSpec,
    setpoints: mpsc::Sender<Delivery>,
    task: JoinHandle<()>,
}

type Pollers = Arc<tokio::sync::Mutex<HashMap<String, Poller>>>;

/// Starts the Modbus links on the current tokio runtime. From now on saved
/// dispatches queue setpoints of resources with an enabled link for them.
pub fn spawn(store: Arc<Store>, config: ModbusConfig) -> ModbusLinks {
    spawn_counting(store, config, Arc::new(ModbusStats::default()))
}

/// [`spawn`], counting into `stats` (kept by the caller across restarts of
/// the links, as when the node holding their lease changes).
pub fn spawn_counting(store: Arc<Store>, config: ModbusConfig, stats: Arc<ModbusStats>) -> ModbusLinks {
    store.enable_link_outbox();
    let directory = Arc::new(Directory::new());
    let pollers: Pollers = Arc::default();
    let (samples_tx, samples_rx) = mpsc::channel::<Incoming>(4096);
    let tasks = vec![
        tokio::spawn(bridge::writer(
            samples_rx,
            None,
            store.clone(),
            stats.samples.clone(),
            directory.clone(),
            (5_000, Duration::from_millis(100)),
        )),
        tokio::spawn(supervisor(
            store.clone(),
            stats.clone(),
            directory.clone(),
            pollers.clone(),
            samples_tx,
            config.clone(),
        )),
        tokio::spawn(dispatcher(store, stats.clone(), pollers.clone(), config)),
    ];
    ModbusLinks { stats, tasks, pollers }
}

async fn supervisor(
    store: Arc<Store>,
    stats: Arc<ModbusStats>,
    directory: Arc<Directory>,
    pollers: Pollers,
    samples: mpsc::Sender<Incoming>,
    config: ModbusConfig,
) {
    loop {
        if let Err(e) = directory.refresh(&store).await {
            tracing::warn!(error = %e, "Modbus links: could not refresh the device directory");
        }
        match store.device_links(Some(LinkProtocol::ModbusTcp), true).await {
            Ok(links) => {
                let mut running = pollers.lock().await;
                let wanted: HashMap<String, DeviceLinkSpec> =
                    links.into_iter().map(|l| (l.resource_id, l.spec)).collect();
                running.retain(|id, p| {
                    let keep = wanted.get(id) == Some(&p.spec);
                    if !keep {
                        p.task.abort();
                        stats.links.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                        tracing::info!(resource = %id, "Modbus link stopped");
                    }
                    keep
                });
                for (id, spec) in wanted {
                    if running.contains_key(&id) {
                        continue;
                    }
                    tracing::info!(resource = %id, address = %spec.address(), "Modbus link started");
                    stats.links.lock().unwrap_or_else(|e| e.into_inner()).insert(
                        id.clone(),
                        LinkState { resource_id: id.clone(), address: spec.address(), ..LinkState::default() },
                    );
                    let (tx, rx) = mpsc::channel(64);
                    let device = Device {
                        id: id.clone(),
                        spec: spec.clone(),
                        store: store.clone(),
                        stats: stats.clone(),
                        directory: directory.clone(),
                        samples: samples.clone(),
                        offline_after: config.offline_after,
                    };
                    let task = tokio::spawn(device.run(rx));
                    running.insert(id, Poller { spec, setpoints: tx, task });
                }
            }
            Err(e) => tracing::warn!(error = %e, "Modbus links: could not load the links"),
        }
        tokio::time::sleep(config.refresh_every).await;
    }
}

async fn dispatcher(store: Arc<Store>, stats: Arc<ModbusStats>, pollers: Pollers, config: ModbusConfig) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Timestamp::now();
        let due = match store.due_setpoints(CHANNEL, now, 1000).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "Modbus links: could not read due setpoints");
                continue;
            }
        };
        let (expired, due): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|d| d.state == DeliveryState::Sent && d.attempts >= i64::from(config.max_attempts));
        bridge::give_up(&store, &stats.samples, &expired, bridge::GiveUp::Unanswered).await;
        // An instruction whose time has passed is not written any more (its
        // device was away, or its link was removed after it was queued).
        let window = |d: &Delivery| {
            serde_json::from_str::<Setpoint>(&d.payload)
                .map(|s| (s.start, s.start + jiff::SignedDuration::from_secs(s.duration_s.min(i64::MAX as u64) as i64)))
                .unwrap_or((now, now))
        };
        let (ended, due): (Vec<_>, Vec<_>) = due.into_iter().partition(|d| window(d).1 <= now);
        bridge::give_up(&store, &stats.samples, &ended, bridge::GiveUp::Ended).await;
        let running = pollers.lock().await;
        for d in due {
            let start = window(&d).0;
            // Registers act at once: write them when the instruction starts.
            let wait_for = if start > now + jiff::SignedDuration::from_millis(200) {
                Some(start)
            } else if !running.contains_key(&d.resource_id) {
                // The link is not running (yet, or any more): look again shortly.
                Some(now + jiff::SignedDuration::from_secs(1))
            } else {
                None
            };
            if let Some(at) = wait_for {
                if let Err(e) = store.postpone_setpoint(&d.instruction_id, at).await {
                    tracing::warn!(error = %e, "Modbus links: could not hold a setpoint back");
                }
                continue;
            }
            let answer_by =
                Timestamp::now() + jiff::SignedDuration::try_from(config.answer_timeout).unwrap_or_default();
            if let Err(e) = store.setpoints_sent(std::slice::from_ref(&d.instruction_id), answer_by).await {
                tracing::warn!(error = %e, "Modbus links: could not record a write");
                continue;
            }
            bump(&stats.samples.setpoints_sent, 1);
            if let Some(p) = running.get(&d.resource_id)
                && p.setpoints.try_send(d).is_err()
            {
                tracing::warn!("Modbus links: a device's setpoint queue is full; retried after the timeout");
            }
        }
    }
}

/// One polled device.
struct Device {
    id: String,
    spec: DeviceLinkSpec,
    store: Arc<Store>,
    stats: Arc<ModbusStats>,
    directory: Arc<Directory>,
    samples: mpsc::Sender<Incoming>,
    offline_after: u32,
}

/// An open connection with what discovery found.
struct Open {
    conn: Connection,
    sunspec: Option<SunspecDevice>,
}

impl Device {
    async fn run(self, mut setpoints: mpsc::Receiver<Delivery>) {
        let period = Duration::from_secs_f64(self.spec.poll_interval_s);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut open: Option<Open> = None;
        let mut failures = 0u32;
        let mut faulted = false;
        let mut last_tick = tokio::time::Instant::now();
        loop {
            tokio::select! {
                tick = ticker.tick() => {
                    let late = tick.duration_since(last_tick);
                    if late > period + period / 2 {
                        let missed = (late.as_secs_f64() / period.as_secs_f64()) as u64 - 1;
                        self.stats.update(&self.id, |l| l.polls_missed += missed);
                    }
                    last_tick = tick;
                    match self.poll(&mut open).await {
                        Ok(reading) => {
                            failures = 0;
                            let status = match (reading.fault, faulted) {
                                (true, false) => Some(ResourceStatus::Error),
                                (false, true) => Some(ResourceStatus::Online),
                                _ => None,
                            };
                            faulted = reading.fault;
                            self.deliver(reading, status).await;
                        }
                        Err(e) => {
                            failures += 1;
                            self.failed(&e, failures, &mut open).await;
                        }
                    }
                }
                Some(d) = setpoints.recv() => self.write(&mut open, d).await,
            }
        }
    }

    async fn connect(&self, open: &mut Option<Open>) -> Result<(), LinkError> {
        if open.is_some() {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.spec.timeout_ms);
        let conn = Connection::open(&self.spec, timeout).await?;
        let mut o = Open { conn, sunspec: None };
        if let RegisterMap::Sunspec { base_address } = &self.spec.register_map {
            let found = sunspec::discover(&mut o.conn, *base_address).await?;
            tracing::info!(resource = %self.id, manufacturer = %found.manufacturer, model = %found.model,
                serial = %found.serial, models = ?found.models.iter().map(|m| m.id).collect::<Vec<_>>(), "SunSpec device found");
            self.stats.update(&self.id, |l| l.sunspec = Some(found.clone()));
            o.sunspec = Some(found);
        }
        self.stats.update(&self.id, |l| l.connected = true);
        *open = Some(o);
        Ok(())
    }

    async fn poll(&self, open: &mut Option<Open>) -> Result<Reading, LinkError> {
        self.connect(open).await?;
        let o = open.as_mut().ok_or_else(|| LinkError::Io("not connected".into()))?;
        let reading = match (&self.spec.register_map, &o.sunspec) {
            (RegisterMap::Sunspec { .. }, Some(d)) => sunspec::read(&mut o.conn, d).await?,
            (RegisterMap::Explicit { points }, _) => sunspec::read_points(&mut o.conn, points).await?,
            (RegisterMap::Sunspec { .. }, None) => return Err(LinkError::Device("SunSpec models not read".into())),
        };
        if reading.power_kw.is_none() {
            return Err(LinkError::Device("the device reports no active power".into()));
        }
        Ok(reading)
    }

    async fn deliver(&self, reading: Reading, status: Option<ResourceStatus>) {
        let now = Timestamp::now();
        bump(&self.stats.polls_ok, 1);
        self.stats.update(&self.id, |l| {
            l.last_contact = Some(now);
            l.last_error = None;
            l.failures_in_a_row = 0;
            l.polls_ok += 1;
            l.reading = Some(reading);
        });
        let sample = Telemetry {
            ts: now,
            power_kw: reading.power_kw.unwrap_or_default(),
            energy_kwh: reading.energy_kwh,
            soc_pct: reading.soc_pct,
            temperature_c: reading.temperature_c,
        };
        let incoming = Incoming { resource_id: self.id.clone(), samples: vec![sample], status, message: None };
        if self.samples.send(incoming).await.is_err() {
            tracing::warn!(resource = %self.id, "Modbus links: the writer stopped");
        }
    }

    async fn failed(&self, e: &LinkError, failures: u32, open: &mut Option<Open>) {
        bump(&self.stats.polls_failed, 1);
        // A broken or silent connection is opened again; a device that
        // answers with an exception keeps its connection.
        if matches!(e, LinkError::Io(_) | LinkError::Timeout(_) | LinkError::Device(_)) {
            *open = None;
        }
        let message = e.to_string();
        self.stats.update(&self.id, |l| {
            l.connected = open.is_some();
            l.last_error = Some(message.clone());
            l.failures_in_a_row = failures;
            l.polls_failed += 1;
        });
        if failures == 1 {
            tracing::warn!(resource = %self.id, address = %self.spec.address(), error = %e, "Modbus poll failed");
        }
        if failures != self.offline_after {
            return;
        }
        let reason =
            StatusReason::DeviceNotAnswering { address: self.spec.address(), failures, error: message.to_string() };
        match self
            .store
            .set_status_if(&self.id, &[ResourceStatus::Online], ResourceStatus::Offline, reason.clone())
            .await
        {
            Ok(true) => {
                tracing::info!(resource = %self.id, "device OFFLINE: {reason}");
                if let Some(d) = self.directory.devices.write().await.get_mut(&self.id) {
                    d.status = ResourceStatus::Offline;
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, resource = %self.id, "could not set the status"),
        }
        let alert = AlertMessage::DeviceNotAnswering {
            resource: self.id.clone(),
            address: self.spec.address(),
            failures,
            error: message.clone(),
        };
        if let Err(e) = self.store.raise_alert(AlertRule::DeviceOffline, &self.id, alert).await {
            tracing::warn!(error = %e, "could not raise an alert");
        }
    }

    async fn write(&self, open: &mut Option<Open>, d: Delivery) {
        let setpoint: Setpoint = match serde_json::from_str(&d.payload) {
            Ok(s) => s,
            Err(e) => {
                self.answer(&d, DeliveryState::Rejected, Some(format!("unreadable setpoint: {e}"))).await;
                return;
            }
        };
        let result = async {
            self.connect(open).await?;
            let o = open.as_mut().ok_or_else(|| LinkError::Io("not connected".into()))?;
            match (&self.spec.register_map, &o.sunspec) {
                (RegisterMap::Sunspec { .. }, Some(dev)) => {
                    sunspec::write_setpoint(&mut o.conn, dev, setpoint.target_kw, setpoint.duration_s).await
                }
                (RegisterMap::Explicit { points }, _) => {
                    sunspec::write_point(&mut o.conn, points, setpoint.target_kw).await
                }
                (RegisterMap::Sunspec { .. }, None) => Err(LinkError::Device("SunSpec models not read".into())),
            }
        }
        .await;
        match result {
            Ok(confirmed) => {
                tracing::debug!(resource = %self.id, instruction = %d.instruction_id, %confirmed, "setpoint confirmed");
                self.answer(&d, DeliveryState::Acknowledged, None).await;
            }
            // The device refuses it, or cannot take it: no retry helps.
            Err(e @ (LinkError::Exception(_) | LinkError::Device(_))) => {
                self.stats.update(&self.id, |l| l.last_error = Some(e.to_string()));
                self.answer(&d, DeliveryState::Rejected, Some(e.to_string())).await;
            }
            // Unreachable now: the dispatcher writes it again after the timeout.
            Err(e) => {
                *open = None;
                self.stats.update(&self.id, |l| {
                    l.connected = false;
                    l.last_error = Some(e.to_string());
                });
                tracing::warn!(resource = %self.id, error = %e, "Modbus setpoint not written; will retry");
            }
        }
    }

    async fn answer(&self, d: &Delivery, state: DeliveryState, reason: Option<String>) {
        let answer = (d.instruction_id.clone(), d.resource_id.clone(), state, reason, Timestamp::now());
        bridge::record_answers(&self.store, &self.stats.samples, &[answer]).await;
    }
}

/// A Modbus TCP client with a timeout on every request.
pub(crate) struct Connection {
    ctx: Context,
    timeout: Duration,
}

impl Connection {
    pub(crate) async fn open(spec: &DeviceLinkSpec, timeout: Duration) -> Result<Self, LinkError> {
        let target = format!("{}:{}", spec.host.trim(), spec.port);
        let addr: SocketAddr = tokio::time::timeout(timeout, tokio::net::lookup_host(&target))
            .await
            .map_err(|_| LinkError::Timeout(spec.timeout_ms))?
            .map_err(|e| LinkError::Io(format!("{target}: {e}")))?
            .next()
            .ok_or_else(|| LinkError::Io(format!("{target}: no address")))?;
        let slave = tokio_modbus::Slave(spec.unit_id);
        let ctx = tokio::time::timeout(timeout, tokio_modbus::client::tcp::connect_slave(addr, slave))
            .await
            .map_err(|_| LinkError::Timeout(spec.timeout_ms))?
            .map_err(|e| LinkError::Io(format!("{target}: {e}")))?;
        Ok(Self { ctx, timeout })
    }

    fn ms(&self) -> u64 {
        self.timeout.as_millis() as u64
    }
}

fn answer<T>(r: Result<tokio_modbus::Result<T>, tokio::time::error::Elapsed>, ms: u64) -> Result<T, LinkError> {
    match r {
        Err(_) => Err(LinkError::Timeout(ms)),
        Ok(Err(e)) => Err(LinkError::Io(e.to_string())),
        Ok(Ok(Err(code))) => Err(LinkError::Exception(format!("{code:?}"))),
        Ok(Ok(Ok(v))) => Ok(v),
    }
}

impl Registers for Connection {
    async fn read(&mut self, address: u16, count: u16) -> Result<Vec<u16>, LinkError> {
        let ms = self.ms();
        answer(tokio::time::timeout(self.timeout, self.ctx.read_holding_registers(address, count)).await, ms)
    }

    async fn write(&mut self, address: u16, values: &[u16]) -> Result<(), LinkError> {
        let ms = self.ms();
        answer(tokio::time::timeout(self.timeout, self.ctx.write_multiple_registers(address, values)).await, ms)
    }
}

/// What one look at a device found.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// `modbus://host:port/unit`.
    pub address: String,
    /// The SunSpec models (SunSpec maps).
    pub sunspec: Option<SunspecDevice>,
    /// One reading.
    pub reading: Reading,
}

/// Connects to the device of `spec` once, finds its SunSpec models (for a
/// SunSpec map) and reads it: what `vpp device probe` prints before a real
/// device is linked.
pub async fn probe(spec: &DeviceLinkSpec) -> Result<Probe, LinkError> {
    let mut conn = Connection::open(spec, Duration::from_millis(spec.timeout_ms)).await?;
    let (sunspec, reading) = match &spec.register_map {
        RegisterMap::Sunspec { base_address } => {
            let d = sunspec::discover(&mut conn, *base_address).await?;
            let r = sunspec::read(&mut conn, &d).await?;
            (Some(d), r)
        }
        RegisterMap::Explicit { points } => (None, sunspec::read_points(&mut conn, points).await?),
    };
    Ok(Probe { address: spec.address(), sunspec, reading })
}
