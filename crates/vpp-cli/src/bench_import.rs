//! `vpp bench import`: telemetry write latency while a large series import
//! runs on SQLite, with the import staged (as vpp does now) and in one
//! transaction (as it did before), side by side on the same machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vpp_domain::resource::Telemetry;
use vpp_domain::series::{Belief, OwnerKind, Quantity, SeriesRequest, SourceKind};
use vpp_store::{ResourceFilter, Store};

/// One side's figures.
struct Side {
    import_s: f64,
    writes: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Imports `rows` beliefs into a new series while a writer stores one
/// telemetry sample every `every`, timing each write.
async fn run_side(
    store: &Arc<Store>,
    resource: &str,
    name: &str,
    rows: usize,
    every: Duration,
) -> anyhow::Result<Side> {
    let request = SeriesRequest {
        name: name.into(),
        owner_kind: OwnerKind::Market,
        owner_id: name.into(),
        quantity: Quantity::Price,
        unit: None,
        resolution_s: Some(900),
    };
    let series = store.create_series(request).await?;
    let (key, _) = store.get_series(&series.id).await?;
    let t0 = 1_767_225_600_000_000_i64;
    let beliefs: Vec<Belief> = (0..rows as i64)
        .map(|i| Belief {
            event_start_us: t0 + i * 900_000_000,
            belief_time_us: t0 - 86_400_000_000,
            source: SourceKind::Forecast,
            value: (i % 97) as f64,
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, resource, done) = (store.clone(), resource.to_string(), done.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut ts = jiff::Timestamp::now();
            while !done.load(Ordering::Relaxed) {
                ts += jiff::SignedDuration::from_millis(1);
                let sample = Telemetry { ts, power_kw: 1.0, energy_kwh: None, soc_pct: None, temperature_c: None };
                let started = Instant::now();
                store.record_telemetry(&resource, &[sample]).await?;
                latencies.push(started.elapsed().as_secs_f64() * 1e3);
                tokio::time::sleep(every).await;
            }
            anyhow::Ok(latencies)
        })
    };
    // Let the writer run alone for a moment first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let inserted = store.insert_beliefs_reporting(key, &beliefs, &|_| true).await?;
    let import_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(inserted == rows as u64, "{name}: stored {inserted} of {rows} beliefs");
    done.store(true, Ordering::Relaxed);
    let mut latencies = writer.await??;
    latencies.sort_by(f64::total_cmp);
    Ok(Side {
        import_s,
        writes: latencies.len(),
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
    })
}

/// Runs both sides `rounds` times, alternating, on a fresh SQLite file.
pub(crate) async fn run(rows: usize, rounds: usize, every_ms: u64) -> anyhow::Result<()> {
    let file = std::env::temp_dir().join(format!("vpp-bench-import-{}.db", vpp_store::new_id()));
    let store = Arc::new(Store::connect(&format!("sqlite://{}", file.display())).await?);
    store.migrate().await?;
    crate::demo::seed_bench(&store, "bench-import", 1, false, &crate::demo::BENCH_KINDS).await?;
    let resource = store
        .list_resources(&ResourceFilter::default(), vpp_store::Page { page: 1, size: 1 })
        .await?
        .items
        .first()
        .map(|r| r.id.clone())
        .ok_or_else(|| anyhow::anyhow!("the bench resource was not created"))?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("{rows} beliefs per import, a telemetry write every {every_ms} ms; load average before: {}", load.trim());
    println!(
        "{:<18} {:>5} {:>9} {:>7} {:>10} {:>10} {:>10}",
        "side", "round", "import_s", "writes", "p50_ms", "p99_ms", "max_ms"
    );
    for round in 0..rounds {
        for staged in [round % 2 == 0, round % 2 != 0] {
            store.set_stage_above(if staged { 10_000 } else { usize::MAX });
            let label = if staged { "staged" } else { "one transaction" };
            let name = format!("bench-import-{round}-{}", if staged { "staged" } else { "single" });
            let s = run_side(&store, &resource, &name, rows, Duration::from_millis(every_ms)).await?;
            println!(
                "{label:<18} {round:>5} {:>9.2} {:>7} {:>10.2} {:>10.2} {:>10.2}",
                s.import_s, s.writes, s.p50_ms, s.p99_ms, s.max_ms
            );
        }
    }
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    Ok(())
}
