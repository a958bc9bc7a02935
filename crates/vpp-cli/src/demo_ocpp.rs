//! The demo's EV charging stations: the last two EV chargers connect to the
//! demo's own server over OCPP 2.0.1 (loopback websocket, their own
//! generated passwords), as vpp's simulated stations: vehicles come and go,
//! state their needs, and follow the charging profiles dispatches send.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use vpp_devices::ocpp_sim::{OcppSimStats, StationConfig};
use vpp_domain::resource::ResourceStatus;
use vpp_domain::template::ResourceType;
use vpp_store::{Page, ResourceFilter, Store};

/// How many of the demo's EV chargers speak OCPP.
const STATIONS: usize = 2;

/// Starts the demo's stations against its own server at `bind` (over
/// loopback). Without a loopback way to the server (TLS, or bound to one
/// other address) none is started.
pub(crate) async fn start(
    store: &Store,
    bind: SocketAddr,
    tls: bool,
) -> anyhow::Result<(HashSet<String>, Vec<tokio::task::JoinHandle<()>>)> {
    let host = match bind.ip() {
        ip if tls => {
            eprintln!("OCPP:      the demo's stations speak ws:// only; none started while serving TLS on {ip}");
            return Ok(Default::default());
        }
        ip if ip.is_unspecified() || ip.is_loopback() => {
            if ip.is_ipv6() {
                "[::1]".to_string()
            } else {
                "127.0.0.1".to_string()
            }
        }
        ip => {
            eprintln!("OCPP:      the server is bound to {ip}, not loopback: the demo's stations are not started");
            return Ok(Default::default());
        }
    };
    connect_stations(store, &format!("ws://{host}:{}", bind.port()), STATIONS, Arc::default()).await
}

/// Registers the last `count` EV chargers with an external id (by name) as
/// stations, each with a new generated password (replacing any before),
/// and runs a simulated station for each against the CSMS at `base_url`.
/// Returns their resource ids, which the MQTT simulator leaves out, and
/// the stations' tasks.
pub(crate) async fn connect_stations(
    store: &Store,
    base_url: &str,
    count: usize,
    stats: Arc<OcppSimStats>,
) -> anyhow::Result<(HashSet<String>, Vec<tokio::task::JoinHandle<()>>)> {
    let filter = ResourceFilter {
        status: Some(ResourceStatus::Online),
        resource_type: Some(ResourceType::EvCharger),
        ..ResourceFilter::default()
    };
    let mut chargers = store.list_resources(&filter, Page { page: 1, size: vpp_store::MAX_PAGE_SIZE }).await?.items;
    chargers.retain(|r| r.external_id.is_some());
    chargers.sort_by(|a, b| a.name.cmp(&b.name));
    let chosen = chargers.split_off(chargers.len().saturating_sub(count));
    let mut ids = HashSet::new();
    let mut tasks = Vec::new();
    for (i, r) in chosen.iter().enumerate() {
        let (station, password) = vpp_app::stations::register_station(store, &r.id, None).await?;
        let password = password.context("a generated password")?;
        let max_charge_kw = r.parameters.get("max_charge_kw").and_then(|v| v.as_f64()).unwrap_or(22.0);
        let config = StationConfig {
            base_url: base_url.to_string(),
            station_id: station.station_id.clone(),
            password,
            max_charge_kw,
            meter_every: Duration::from_secs(5),
            // A depot: vehicles stay three hours and ask for an hour and a
            // half at full power (at most 60 kWh), so there is room to shift.
            session_kwh: (max_charge_kw * 1.5).min(60.0),
            dwell: Duration::from_secs(3 * 3600),
            idle: Duration::from_secs(20 * 60),
            seed: 40 + i as u64,
        };
        eprintln!("OCPP:      {} is station {} at {base_url}/ocpp/{}", r.name, station.station_id, station.station_id);
        tasks.push(tokio::spawn(vpp_devices::ocpp_sim::run(config, stats.clone())));
        ids.insert(r.id.clone());
    }
    Ok((ids, tasks))
}
