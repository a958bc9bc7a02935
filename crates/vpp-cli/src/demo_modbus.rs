//! The demo's field devices: one PV plant and one battery answer over
//! Modbus TCP with SunSpec, served on 127.0.0.1 by vpp's own simulated
//! devices (the same physics as the MQTT fleet), and linked like real
//! devices would be. Two EV chargers speak OCPP ([`crate::demo_ocpp`]);
//! everything else in the demo speaks MQTT.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use vpp_domain::device_link::{DeviceLinkSpec, LinkProtocol, RegisterMap};
use vpp_domain::resource::{Resource, ResourceStatus};
use vpp_domain::template::ResourceType;
use vpp_store::{Page, ResourceFilter, Store};

/// Serves SunSpec devices for the last `per_type` PV plants and batteries
/// (by name) on a free loopback port and links their resources to it
/// (enabled, polled every 5 s): one of each in the demo, more with
/// `vpp simulate --modbus-devices`. Returns the linked resource ids, which
/// the MQTT simulator leaves out, and the server task.
pub(crate) async fn start(
    store: &Store,
    per_type: usize,
) -> anyhow::Result<(HashSet<String>, tokio::task::JoinHandle<()>)> {
    let filter = ResourceFilter { status: Some(ResourceStatus::Online), ..ResourceFilter::default() };
    let mut list = store.list_resources(&filter, Page { page: 1, size: vpp_store::MAX_PAGE_SIZE }).await?.items;
    list.sort_by(|a, b| a.name.cmp(&b.name));
    // The fleet's last PV plants and batteries (not the park's own battery).
    let last = |t: ResourceType, prefix: &str| -> Vec<Resource> {
        list.iter()
            .rev()
            .filter(|r| r.resource_type == t && r.name.starts_with(prefix))
            .take(per_type)
            .cloned()
            .collect()
    };
    let chosen: Vec<Resource> = [last(ResourceType::Pv, "PV"), last(ResourceType::Battery, "Battery")].concat();
    anyhow::ensure!(chosen.len() <= 247, "at most 247 Modbus devices (unit ids 1..=247), asked for {}", chosen.len());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(23);
    let mut units = HashMap::new();
    let mut linked = HashSet::new();
    for (unit, r) in (1u8..).zip(&chosen) {
        let device = vpp_devices::simulator::Device::for_resource(r, &mut rng);
        let serial = format!("DEMO-{unit:03}");
        units.insert(unit, vpp_devices::modbus_sim::SimUnit::new(device, r.capacity_kw, &serial, u64::from(unit)));
        let spec = DeviceLinkSpec {
            protocol: LinkProtocol::ModbusTcp,
            enabled: true,
            host: "127.0.0.1".into(),
            port,
            unit_id: unit,
            poll_interval_s: 5.0,
            timeout_ms: 1000,
            register_map: RegisterMap::Sunspec { base_address: None },
        };
        store.put_device_link(&r.id, &spec).await?;
        linked.insert(r.id.clone());
        eprintln!("Modbus:    {} answers as SunSpec unit {unit} at 127.0.0.1:{port}", r.name);
    }
    let server = tokio::spawn(async move {
        if let Err(e) = vpp_devices::modbus_sim::serve(listener, units).await {
            tracing::error!(error = %e, "the demo's Modbus devices stopped");
        }
    });
    Ok((linked, server))
}
