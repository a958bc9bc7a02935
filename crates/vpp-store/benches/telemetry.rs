//! Storing device telemetry: one bridge batch (5,000 samples from 250
//! devices, 20 each) into SQLite, as telemetry rows, the newest sample per
//! device and live-measurement beliefs of each device's power series, in one
//! transaction. Issue 9 asks for 50,000 samples/s end to end through the
//! broker; this is the store's part of it.

use std::sync::atomic::{AtomicI64, Ordering};

use divan::Bencher;
use jiff::Timestamp;
use vpp_domain::resource::{Location, ResourceRequest, ResourceStatus, Telemetry};
use vpp_domain::series::{OwnerKind, Quantity};
use vpp_domain::template::{Parameters, ResourceType};
use vpp_store::{LiveMeasurement, Store};

fn main() {
    divan::main();
}

const DEVICES: usize = 250;
const PER_DEVICE: usize = 20;

struct Fixture {
    rt: tokio::runtime::Runtime,
    store: Store,
    devices: Vec<(String, i64)>,
    /// Next sample time, µs; every batch moves on so nothing is a duplicate.
    next_us: AtomicI64,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let path = std::env::temp_dir().join(format!("vpp-bench-telemetry-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (store, devices) = rt.block_on(async {
        let store = Store::connect(&format!("sqlite://{}", path.display())).await.expect("connect");
        store.migrate().await.expect("migrate");
        let template = store
            .all_templates()
            .await
            .expect("templates")
            .into_iter()
            .find(|t| t.preset && t.resource_type == ResourceType::Battery)
            .expect("battery preset");
        let mut devices = Vec::with_capacity(DEVICES);
        for i in 0..DEVICES {
            let parameters: Parameters = serde_json::from_value(serde_json::json!({
                "usable_energy_kwh": 400.0, "max_charge_kw": 200.0, "max_discharge_kw": 200.0
            }))
            .expect("parameters");
            let r = store
                .create_resource(ResourceRequest {
                    template_id: template.id.clone(),
                    name: format!("bench battery {i:04}"),
                    external_id: None,
                    status: Some(ResourceStatus::Online),
                    parameters,
                    capacity_kw: None,
                    min_power_kw: None,
                    max_power_kw: None,
                    efficiency: None,
                    response_time_s: None,
                    marginal_cost: None,
                    location: Location { lat: 52.5, lon: 13.4, timezone: "Europe/Berlin".into(), building: None },
                    device_address: format!("bench://{i}"),
                    owner: None,
                    metadata: Parameters::new(),
                })
                .await
                .expect("resource");
            let (key, _) = store
                .ensure_series(OwnerKind::Resource, &r.id, Quantity::Power, &format!("{} power", r.name))
                .await
                .expect("series");
            devices.push((r.id, key));
        }
        (store, devices)
    });
    let start = Timestamp::now().as_microsecond() - 86_400_000_000;
    Fixture { rt, store, devices, next_us: AtomicI64::new(start) }
}

type Batch = (Vec<(String, Telemetry)>, Vec<LiveMeasurement>);

fn batch(f: &Fixture) -> Batch {
    let t0 = f.next_us.fetch_add(PER_DEVICE as i64 * 1_000_000, Ordering::Relaxed);
    let mut samples = Vec::with_capacity(DEVICES * PER_DEVICE);
    let mut live = Vec::with_capacity(DEVICES * PER_DEVICE);
    for (d, (id, key)) in f.devices.iter().enumerate() {
        for k in 0..PER_DEVICE {
            let us = t0 + k as i64 * 1_000_000;
            let power_kw = ((d * 31 + k * 7) % 400) as f64 / 2.0 - 100.0 + 0.123;
            let ts = Timestamp::from_microsecond(us).expect("time");
            samples.push((
                id.clone(),
                Telemetry { ts, power_kw, energy_kwh: None, soc_pct: Some(50.0 + k as f64 * 0.1), temperature_c: None },
            ));
            live.push(LiveMeasurement { series_key: *key, at_us: us, value: power_kw });
        }
    }
    (samples, live)
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn ingest_5000_samples(bencher: Bencher) {
    let f = fixture();
    bencher.with_inputs(|| batch(&f)).bench_local_values(|(samples, live)| {
        f.rt.block_on(f.store.ingest_telemetry(&samples, &live)).expect("ingest")
    });
}
