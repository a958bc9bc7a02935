//! `vpp bench modbus`: one node polls many SunSpec devices over Modbus TCP
//! (vpp's own simulated devices, served from a second runtime in this
//! process), then sends every device a setpoint and times it to its
//! confirmation by read-back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vpp_devices::modbus::{ModbusConfig, ModbusCounts};
use vpp_devices::modbus_sim::SimUnit;
use vpp_devices::simulator::{Device, Physics};
use vpp_domain::device_link::{DeviceLinkSpec, LinkProtocol, RegisterMap};
use vpp_store::Store;

use crate::devices::{confirmation_latencies, percentiles, send_setpoint_waves, simulated_devices};

/// Devices per simulated server port (unit ids 1..=200).
const UNITS_PER_PORT: usize = 200;

/// What `vpp bench modbus` runs.
pub(crate) struct ModbusLoad {
    pub count: usize,
    pub seconds: u64,
    pub interval_s: f64,
    pub setpoints_per_s: usize,
}

pub(crate) async fn bench_modbus(store: Arc<Store>, load: ModbusLoad) -> anyhow::Result<()> {
    let ModbusLoad { count, seconds, interval_s, setpoints_per_s } = load;
    let vpp_id = crate::demo::seed_bench(
        &store,
        &format!("bench-modbus-{}", jiff::Timestamp::now().as_second()),
        count * 20 / 19 + 1,
        true,
        &crate::demo::BENCH_KINDS,
    )
    .await?;
    let ids: Vec<String> = simulated_devices(&store, Some(count)).await?.into_iter().map(|d| d.id).collect();
    anyhow::ensure!(ids.len() == count, "only {} ONLINE resources to link", ids.len());

    // The devices: generators that follow setpoints, on their own runtime (one thread).
    let mut ports = Vec::new();
    let mut servers: Vec<(std::net::TcpListener, HashMap<u8, SimUnit>)> = Vec::new();
    let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(5);
    for (p, chunk) in ids.chunks(UNITS_PER_PORT).enumerate() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        ports.push(listener.local_addr()?.port());
        let units = chunk
            .iter()
            .enumerate()
            .map(|(u, id)| {
                let device =
                    Device::new(id.clone(), "bench".into(), Physics::Generator { max_kw: 100.0 }, 1e6, &mut rng);
                let unit = (u + 1) as u8;
                (unit, SimUnit::new(device, 100.0, &format!("BENCH-{p}-{unit}"), (p * UNITS_PER_PORT + u) as u64))
            })
            .collect();
        servers.push((listener, units));
    }
    let sim_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for (listener, units) in servers {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                tasks.push(tokio::spawn(vpp_devices::modbus_sim::serve(listener, units)));
            }
            for t in tasks {
                t.await??;
            }
            Ok::<_, anyhow::Error>(())
        })
    });

    for (i, id) in ids.iter().enumerate() {
        let spec = DeviceLinkSpec {
            protocol: LinkProtocol::ModbusTcp,
            enabled: true,
            host: "127.0.0.1".into(),
            port: ports[i / UNITS_PER_PORT],
            unit_id: (i % UNITS_PER_PORT + 1) as u8,
            poll_interval_s: interval_s,
            timeout_ms: 2000,
            register_map: RegisterMap::Sunspec { base_address: None },
        };
        store.put_device_link(id, &spec).await?;
    }
    let links = vpp_devices::modbus::spawn(store.clone(), ModbusConfig::default());
    let stats = links.stats_handle();
    // Warm-up: every device found and read once.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let all = stats.all_links();
        if all.len() == count && all.iter().all(|l| l.polls_ok > 0) {
            break;
        }
        anyhow::ensure!(!sim_thread.is_finished(), "the simulated devices stopped");
        anyhow::ensure!(
            Instant::now() < deadline,
            "after 120 s only {} of {count} devices were read",
            all.iter().filter(|l| l.polls_ok > 0).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let missed = |s: &[vpp_devices::modbus::LinkState]| s.iter().map(|l| l.polls_missed).sum::<u64>();
    let before: ModbusCounts = stats.snapshot();
    let missed_before = missed(&stats.all_links());
    let started = Instant::now();
    // From a third into the window, a setpoint to every device: hold 0 kW
    // (within every bench resource's range, so each sample is stored).
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    let instructions = send_setpoint_waves(&store, &vpp_id, &ids, setpoints_per_s, 0.0).await?;
    let rest = Duration::from_secs(seconds).saturating_sub(started.elapsed());
    tokio::time::sleep(rest).await;
    let elapsed = started.elapsed().as_secs_f64();
    let after = stats.snapshot();
    let missed_after = missed(&stats.all_links());
    // Setpoint to confirmation: from the dispatch's saving to the read-back.
    let (latencies, unconfirmed) = confirmation_latencies(&store, &instructions).await?;
    let expected = count as f64 * elapsed / interval_s;
    let polls_ok = after.polls_ok - before.polls_ok;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "devices": count,
            "backend": format!("{:?}", store.backend()),
            "poll_interval_s": interval_s,
            "seconds": elapsed,
            "polls_expected": expected.round(),
            "polls_ok": polls_ok,
            "polls_failed": after.polls_failed - before.polls_failed,
            "polls_missed": missed_after - missed_before,
            "polls_per_s": polls_ok as f64 / elapsed,
            "samples_stored": after.counts.samples_stored - before.counts.samples_stored,
            "samples_refused_out_of_range": after.counts.dropped_out_of_range - before.counts.dropped_out_of_range,
            "setpoints": instructions.len(),
            "setpoints_confirmed": latencies.len(),
            "setpoints_unconfirmed": unconfirmed,
            "setpoint_to_confirmed_ms": percentiles(latencies),
            "store_errors": after.counts.store_errors,
        }))?
    );
    drop(links);
    Ok(())
}
