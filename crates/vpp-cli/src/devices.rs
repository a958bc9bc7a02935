//! Simulated devices and the device benchmark: `vpp simulate`, `vpp bench
//! devices`, and the broker probe and device list the demo uses.

use std::sync::Arc;

use anyhow::Context;
use std::time::Duration;

use vpp_store::Store;

use crate::args::SimulateArgs;
use crate::demo;

pub(crate) async fn simulate(store: &Store, a: SimulateArgs) -> anyhow::Result<()> {
    if let Some(f) = a.fleet.as_deref().filter(|f| *f != "demo") {
        anyhow::bail!("--fleet: only `demo` (every ONLINE resource in the database) is known, got `{f}`");
    }
    if a.fleet.is_none() && a.resources.is_none() {
        anyhow::bail!("say which devices: --fleet demo or --resources N");
    }
    if !(100..=3_600_000).contains(&a.interval_ms) {
        anyhow::bail!("--interval-ms must be 100..=3600000, got {}", a.interval_ms);
    }
    if !(1..=vpp_devices::protocol::MAX_SAMPLES_PER_MESSAGE).contains(&a.batch) {
        anyhow::bail!("--batch must be 1..={}, got {}", vpp_devices::protocol::MAX_SAMPLES_PER_MESSAGE, a.batch);
    }
    if !(0.0..=100.0).contains(&a.disobey_pct) {
        anyhow::bail!("--disobey-pct must be 0..=100, got {}", a.disobey_pct);
    }
    let mut devices = simulated_devices(store, a.resources).await?;
    if devices.is_empty() {
        anyhow::bail!("no ONLINE resource to simulate: run `vpp demo` once, or register resources first");
    }
    // Devices on the field protocols are left out of the MQTT fleet.
    let modbus = if a.modbus_devices > 0 {
        let (linked, server) = crate::demo_modbus::start(store, a.modbus_devices).await?;
        Some((linked, server))
    } else {
        None
    };
    let ocpp_stats = Arc::new(vpp_devices::ocpp_sim::OcppSimStats::default());
    let (stations, station_tasks) =
        crate::demo_ocpp::connect_stations(store, &a.ocpp_url, a.ocpp_stations, ocpp_stats.clone()).await?;
    anyhow::ensure!(
        stations.len() == a.ocpp_stations,
        "--ocpp-stations {}: only {} ONLINE EV chargers have an external id (the station id)",
        a.ocpp_stations,
        stations.len()
    );
    devices.retain(|d| !stations.contains(&d.id) && !modbus.as_ref().is_some_and(|(l, _)| l.contains(&d.id)));
    let count = devices.len();
    let modbus_count = modbus.as_ref().map_or(0, |(linked, _)| linked.len());
    let config = vpp_devices::simulator::SimConfig {
        username: a.mqtt_username,
        password: a.mqtt_password,
        topic_prefix: a.mqtt_topic_prefix,
        sample_every: Duration::from_millis(a.interval_ms),
        samples_per_message: a.batch,
        disobey_share: a.disobey_pct / 100.0,
        seed: a.seed,
        run_for: a.duration_s.map(Duration::from_secs),
        ..vpp_devices::simulator::SimConfig::new(a.mqtt_url.clone())
    };
    eprintln!(
        "simulating {count} devices against {}, {} over Modbus TCP, {} OCPP stations against {} (Ctrl-C stops)",
        a.mqtt_url,
        modbus_count,
        stations.len(),
        a.ocpp_url
    );
    let stats = Arc::new(vpp_devices::simulator::SimStats::default());
    let started = std::time::Instant::now();
    tokio::select! {
        r = vpp_devices::simulator::run(devices, config, stats.clone()) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    let seconds = started.elapsed().as_secs_f64();
    let samples = stats.samples.load(std::sync::atomic::Ordering::Relaxed);
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    for t in station_tasks {
        t.abort();
    }
    if let Some((_, server)) = modbus {
        server.abort();
    }
    println!(
        "{}",
        serde_json::json!({
            "devices": count,
            "seconds": seconds,
            "samples": samples,
            "messages": load(&stats.messages),
            "setpoints": load(&stats.setpoints),
            "samples_per_s": samples as f64 / seconds.max(1e-9),
            "modbus_devices": modbus_count,
            "ocpp_stations": a.ocpp_stations,
            "ocpp_meter_values": load(&ocpp_stats.meter_values),
            "ocpp_profiles_set": load(&ocpp_stats.profiles_set),
            "ocpp_refused": load(&ocpp_stats.refused),
        })
    );
    Ok(())
}

/// The load of `vpp bench devices`.
pub(crate) struct DeviceLoad {
    pub(crate) count: usize,
    pub(crate) seconds: u64,
    pub(crate) interval_ms: u64,
    pub(crate) batch: usize,
    pub(crate) setpoints_per_s: usize,
}

pub(crate) async fn bench_devices(store: Arc<Store>, load: DeviceLoad, mqtt_url: String) -> anyhow::Result<()> {
    let DeviceLoad { count, seconds, interval_ms, batch, setpoints_per_s } = load;
    use std::sync::atomic::Ordering::Relaxed;
    use vpp_store::InstructionRecord;
    if !broker_reachable(&mqtt_url).await {
        anyhow::bail!("no MQTT broker at {mqtt_url}");
    }
    // Enough resources: the bench VPP has 95 % of its members ONLINE.
    let vpp_id = demo::seed_bench(
        &store,
        &format!("bench-devices-{}", jiff::Timestamp::now().as_second()),
        count * 20 / 19 + 1,
        true,
        &demo::BENCH_KINDS,
    )
    .await?;
    let devices = simulated_devices(&store, Some(count)).await?;
    anyhow::ensure!(devices.len() == count, "only {} ONLINE resources to simulate", devices.len());
    let mut bridge_config = vpp_devices::bridge::BridgeConfig::new(mqtt_url.clone());
    bridge_config.heartbeat_timeout = Duration::from_secs(3600);
    let bridge = vpp_devices::bridge::spawn(store.clone(), bridge_config)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !bridge.stats().connected {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the bridge did not connect to {mqtt_url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The bridge loads the device directory before the first batch.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
    let sim = vpp_devices::simulator::SimConfig {
        sample_every: Duration::from_millis(interval_ms),
        samples_per_message: batch,
        disobey_share: 0.0,
        run_for: Some(Duration::from_secs(seconds)),
        ..vpp_devices::simulator::SimConfig::new(mqtt_url.clone())
    };
    let sim_stats = Arc::new(vpp_devices::simulator::SimStats::default());
    let started = std::time::Instant::now();
    let simulator = tokio::spawn(vpp_devices::simulator::run(devices, sim, sim_stats.clone()));
    // From a third into the run, setpoints to every device, under load.
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    let instructions: Vec<InstructionRecord> =
        send_setpoint_waves(&store, &vpp_id, &ids, setpoints_per_s, 0.0).await?.into_iter().map(|(i, _)| i).collect();
    simulator.await??;
    let sent = sim_stats.samples.load(Relaxed);
    // Wait for the store to catch up (or stop moving).
    let (mut last, mut still) = (0, std::time::Instant::now());
    loop {
        let s = bridge.stats();
        let done = s.samples_stored + s.samples_duplicate + s.dropped_out_of_range;
        if done >= sent {
            break;
        }
        if done != last {
            (last, still) = (done, std::time::Instant::now());
        } else if still.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = bridge.stats();
    let mut latencies: Vec<f64> = Vec::new();
    for i in &instructions {
        if let Some(d) = store.setpoint_delivery(&i.id).await?
            && let (Some(sent), Some(answered)) = (d.sent_at, d.answered_at)
        {
            latencies.push(answered.duration_since(sent).as_secs_f64() * 1000.0);
        }
    }
    let acknowledged = latencies.len();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "devices": count,
            "backend": format!("{:?}", store.backend()),
            "samples_sent": sent,
            "messages_sent": sim_stats.messages.load(Relaxed),
            "samples_stored": stats.samples_stored,
            "samples_lost": sent.saturating_sub(stats.samples_stored + stats.samples_duplicate),
            "seconds": elapsed,
            "stored_per_s": stats.samples_stored as f64 / elapsed,
            "setpoints": instructions.len(),
            "setpoints_per_s": if setpoints_per_s == 0 { "all at once".to_string() } else { setpoints_per_s.to_string() },
            "setpoints_acknowledged": acknowledged,
            "ack_latency_ms": percentiles(latencies),
            "store_errors": stats.store_errors,
        }))?
    );
    Ok(())
}

/// Saves a dispatch of `target_kw` to each of `ids` in waves every 100 ms
/// (`per_s` setpoints a second; 0: all at once), as the benchmarks load the
/// device paths. Returns each instruction with when its dispatch was saved.
pub(crate) async fn send_setpoint_waves(
    store: &Store,
    vpp_id: &str,
    ids: &[String],
    per_s: usize,
    target_kw: f64,
) -> anyhow::Result<Vec<(vpp_store::InstructionRecord, jiff::Timestamp)>> {
    use vpp_store::{DispatchRecord, InstructionRecord};
    let wave = if per_s == 0 { ids.len() } else { (per_s / 10).max(1) };
    let mut instructions = Vec::with_capacity(ids.len());
    let mut waves = tokio::time::interval(Duration::from_millis(100));
    for chunk in ids.chunks(wave.max(1)) {
        waves.tick().await;
        let now = vpp_store::now();
        let end = now + jiff::SignedDuration::from_mins(15);
        let dispatch_id = vpp_store::new_id();
        let part: Vec<InstructionRecord> = chunk
            .iter()
            .map(|r| InstructionRecord {
                id: vpp_store::new_id(),
                dispatch_id: dispatch_id.clone(),
                resource_id: r.clone(),
                target_kw,
                start: now,
                end,
            })
            .collect();
        store
            .save_dispatch(&DispatchRecord {
                id: dispatch_id,
                vpp_id: vpp_id.to_string(),
                target_kw: target_kw * chunk.len() as f64,
                start: now,
                end,
                mode: vpp_domain::fleet::DispatchOrigin::MeritOrder,
                total_dispatched_kw: target_kw * chunk.len() as f64,
                unmet_kw: 0.0,
                created_at: now,
                instructions: part.clone(),
            })
            .await?;
        instructions.extend(part.into_iter().map(|i| (i, now)));
    }
    Ok(instructions)
}

/// Of setpoints sent at their saving time: the milliseconds to each one's
/// acknowledged delivery, and how many were not acknowledged.
pub(crate) async fn confirmation_latencies(
    store: &Store,
    instructions: &[(vpp_store::InstructionRecord, jiff::Timestamp)],
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut latencies = Vec::new();
    let mut unconfirmed = 0;
    for (i, saved) in instructions {
        match store.setpoint_delivery(&i.id).await? {
            Some(d) if d.state == vpp_store::DeliveryState::Acknowledged => {
                let answered = d.answered_at.unwrap_or(*saved);
                latencies.push(answered.duration_since(*saved).as_secs_f64() * 1000.0);
            }
            _ => unconfirmed += 1,
        }
    }
    Ok((latencies, unconfirmed))
}

/// p50, p90, p99 and the maximum of latencies, ms.
pub(crate) fn percentiles(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied();
    serde_json::json!({"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": v.last()})
}

/// The broker the demo uses unless another is configured.
pub(crate) const DEMO_MQTT_URL: &str = "mqtt://127.0.0.1:1883";

/// Whether a TCP connection to the broker opens within two seconds.
pub(crate) async fn broker_reachable(url: &str) -> bool {
    let Ok(options) = vpp_devices::bridge::mqtt_options(url, "probe", None, None, None) else { return false };
    let (host, port) = options.broker_address();
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect((host.as_str(), port))).await,
        Ok(Ok(_))
    )
}

/// Simulated devices for the ONLINE resources in the store (at most `limit`).
pub(crate) async fn simulated_devices(
    store: &Store,
    limit: Option<usize>,
) -> anyhow::Result<Vec<vpp_devices::simulator::Device>> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let filter = vpp_store::ResourceFilter {
            status: Some(vpp_domain::resource::ResourceStatus::Online),
            ..vpp_store::ResourceFilter::default()
        };
        let list = store.list_resources(&filter, vpp_store::Page { page, size: vpp_store::MAX_PAGE_SIZE }).await?;
        let done = list.items.len() < vpp_store::MAX_PAGE_SIZE as usize;
        out.extend(list.items.iter().map(|r| vpp_devices::simulator::Device::for_resource(r, &mut rng)));
        if done || limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        page += 1;
    }
    if let Some(l) = limit {
        out.truncate(l);
    }
    Ok(out)
}

/// `vpp device probe | link | links`.
pub(crate) async fn device_command(
    config: &crate::config::Config,
    cmd: crate::args::DeviceCommand,
) -> anyhow::Result<()> {
    use vpp_domain::device_link::{DeviceLinkSpec, LinkProtocol, RegisterMap};
    match cmd {
        crate::args::DeviceCommand::Probe { address, unit, base, timeout_ms } => {
            let (host, port) = match address.rsplit_once(':') {
                Some((h, p)) => {
                    (h.to_string(), p.parse::<u16>().with_context(|| format!("port `{p}` is not a number"))?)
                }
                None => (address.clone(), 502),
            };
            let spec = DeviceLinkSpec {
                protocol: LinkProtocol::ModbusTcp,
                enabled: true,
                host,
                port,
                unit_id: unit,
                poll_interval_s: 5.0,
                timeout_ms,
                register_map: RegisterMap::Sunspec { base_address: base },
            };
            spec.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
            let found = vpp_devices::modbus::probe(&spec).await.with_context(|| spec.address())?;
            println!("{}", serde_json::to_string_pretty(&found)?);
        }
        crate::args::DeviceCommand::Link { resource_id, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let spec: DeviceLinkSpec =
                serde_json::from_str(&text).with_context(|| format!("{} is not a device link", file.display()))?;
            spec.validate().map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let link = crate::open_store(config).await?.put_device_link(&resource_id, &spec).await?;
            println!("{}", serde_json::to_string_pretty(&link)?);
        }
        crate::args::DeviceCommand::Links => {
            let links = crate::open_store(config).await?.device_links(None, false).await?;
            println!("{}", serde_json::to_string_pretty(&links)?);
        }
    }
    Ok(())
}
