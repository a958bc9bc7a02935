//! `vpp bench ocpp`: many EV charging stations (vpp's simulated stations,
//! on a second runtime in this process) connect over loopback websockets to
//! the real server as their CSMS, each sending meter values on an interval;
//! then every station is dispatched a charging profile and timed from the
//! dispatch's saving to its confirmed delivery (SetChargingProfile accepted
//! and GetCompositeSchedule checked).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context;
use vpp_devices::ocpp_sim::{OcppSimStats, StationConfig};
use vpp_domain::template::ResourceType;
use vpp_store::Store;

use crate::devices::{confirmation_latencies, percentiles, send_setpoint_waves, simulated_devices};

/// What `vpp bench ocpp` runs.
pub(crate) struct OcppLoad {
    pub count: usize,
    pub seconds: u64,
    pub interval_s: f64,
    pub setpoints_per_s: usize,
}

pub(crate) async fn bench_ocpp(store: Arc<Store>, load: OcppLoad) -> anyhow::Result<()> {
    let OcppLoad { count, seconds, interval_s, setpoints_per_s } = load;
    anyhow::ensure!(interval_s >= 0.1, "--interval-s must be at least 0.1, got {interval_s}");
    let name = format!("bench-ocpp-{}", jiff::Timestamp::now().as_second());
    let vpp_id = crate::demo::seed_bench(&store, &name, count * 20 / 19 + 1, true, &[ResourceType::EvCharger]).await?;
    let chargers: Vec<String> = simulated_devices(&store, Some(count)).await?.into_iter().map(|d| d.id).collect();
    anyhow::ensure!(chargers.len() == count, "only {} ONLINE chargers to connect", chargers.len());

    // Each station gets its own password, stored hashed as the API does.
    let registered = Instant::now();
    let mut stations = Vec::with_capacity(count);
    for id in &chargers {
        let r = store.get_resource(id).await?;
        let (station, password) = vpp_app::stations::register_station(&store, id, None).await?;
        let password = password.context("a generated password")?;
        let max_charge_kw = r.parameters.get("max_charge_kw").and_then(|v| v.as_f64()).unwrap_or(22.0);
        stations.push((station.station_id, password, max_charge_kw));
    }
    let registered_s = registered.elapsed().as_secs_f64();

    // The server, as `vpp serve` runs it, on a loopback port.
    store.enable_link_outbox();
    let state = vpp_server::AppState::new(store.clone(), vpp_server::ServerSettings::default()).await?;
    let hub = state.ocpp.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("ws://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vpp_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let deliveries = vpp_server::ocpp::spawn_deliveries(store.clone(), hub.clone());

    // The stations on their own runtime (one thread): a vehicle each that
    // stays all run and needs more than it can charge.
    let stats = Arc::new(OcppSimStats::default());
    let sim_stats = stats.clone();
    let meter_every = Duration::from_secs_f64(interval_s);
    let (sim_stop, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    let sim_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        rt.block_on(async move {
            for (i, (station_id, password, max_charge_kw)) in stations.into_iter().enumerate() {
                let config = StationConfig {
                    base_url: base_url.clone(),
                    station_id,
                    password,
                    max_charge_kw,
                    meter_every,
                    session_kwh: 10_000.0,
                    dwell: Duration::from_secs(24 * 3600),
                    idle: Duration::from_secs(60),
                    seed: i as u64,
                };
                tokio::spawn(vpp_devices::ocpp_sim::run(config, sim_stats.clone()));
            }
            let _ = sim_stopped.await;
            Ok::<_, anyhow::Error>(())
        })
    });

    // Warm-up: every station connected (each password checked with argon2).
    let connecting = Instant::now();
    let deadline = connecting + Duration::from_secs(300);
    while (stats.connected.load(Relaxed) as usize) < count {
        anyhow::ensure!(!sim_thread.is_finished(), "the simulated stations stopped");
        anyhow::ensure!(
            Instant::now() < deadline,
            "after 300 s only {} of {count} stations were connected ({} refused)",
            stats.connected.load(Relaxed),
            stats.refused.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let connected_s = connecting.elapsed().as_secs_f64();
    // One meter interval more, so every station is past its first values.
    tokio::time::sleep(meter_every).await;

    let sent_before = stats.meter_values.load(Relaxed);
    let errors_before = stats.call_errors.load(Relaxed);
    let received_before = hub.snapshot().await.messages;
    let started = Instant::now();
    // From a third into the window, a charging profile to every station: 3.7 kW.
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    let instructions = send_setpoint_waves(&store, &vpp_id, &chargers, setpoints_per_s, -3.7).await?;
    let rest = Duration::from_secs(seconds).saturating_sub(started.elapsed());
    tokio::time::sleep(rest).await;
    let elapsed = started.elapsed().as_secs_f64();
    let sent = stats.meter_values.load(Relaxed) - sent_before;
    let refused = stats.call_errors.load(Relaxed) - errors_before;
    let after = hub.snapshot().await;
    // Setpoint to confirmed: from the dispatch's saving to the answer.
    let (latencies, unconfirmed) = confirmation_latencies(&store, &instructions).await?;
    let expected = count as f64 * elapsed / interval_s;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "stations": count,
            "backend": format!("{:?}", store.backend()),
            "meter_interval_s": interval_s,
            "stations_registered_s": registered_s,
            "stations_connected_s": connected_s,
            "stations_connected": stats.connected.load(Relaxed),
            "reconnects": stats.connects.load(Relaxed).saturating_sub(count as u64),
            "seconds": elapsed,
            "meter_values_expected": expected.round(),
            "meter_values_sent": sent,
            "messages_received": after.messages - received_before,
            "meter_values_refused": refused,
            "messages_per_s": sent as f64 / elapsed,
            "setpoints": instructions.len(),
            "setpoints_confirmed": latencies.len(),
            "setpoints_unconfirmed": unconfirmed,
            "profiles_confirmed_by_composite_schedule": after.profiles_confirmed,
            "setpoint_to_confirmed_ms": percentiles(latencies),
        }))?
    );
    let _ = sim_stop.send(());
    deliveries.abort();
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
