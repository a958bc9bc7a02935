//! Aggregation and dispatch over large fleets.
//!
//! Targets (issue 2): aggregated parameters of 1,000,000 members under 20 ms,
//! merit-order dispatch of 1,000,000 members under 100 ms.

use divan::Bencher;
use vpp_domain::fleet::{DispatchMode, Fleet, FleetMember, Output, aggregate, dispatch};
use vpp_domain::resource::{ResourceStatus, StorageModel};
use vpp_domain::template::ResourceCategory;

fn main() {
    divan::main();
}

/// A deterministic mixed fleet: generators, batteries, loads; 5 % offline.
fn fleet(n: usize) -> Fleet {
    let mut f = Fleet::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = (x % 10_000) as f64 / 10_000.0;
        let category = ResourceCategory::ALL[i % 4];
        let storage = (category == ResourceCategory::Storage).then_some({
            (
                StorageModel {
                    energy_kwh: 20.0 + 200.0 * u,
                    soc_min: 0.1,
                    soc_max: 0.9,
                    charge_efficiency: 0.95,
                    discharge_efficiency: 0.95,
                },
                Some(u),
            )
        });
        let cap = 5.0 + 500.0 * u;
        let (min, max) = match category {
            ResourceCategory::Generation => (0.0, cap),
            ResourceCategory::Storage => (-cap, cap),
            _ => (-cap, 0.0),
        };
        f.push(&FleetMember {
            category,
            status: if i % 20 == 0 { ResourceStatus::Offline } else { ResourceStatus::Online },
            ratio: 0.5 + 0.5 * u,
            capacity_kw: cap,
            min_power_kw: min,
            max_power_kw: max,
            efficiency: 0.9,
            response_time_s: 1.0 + 100.0 * u,
            marginal_cost: -50.0 + 300.0 * u,
            priority: (i % 10) as i32,
            storage,
            output: Output::Dispatchable,
        });
    }
    f
}

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

#[divan::bench(args = SIZES)]
fn aggregated_params(bencher: Bencher, n: usize) {
    let f = fleet(n);
    bencher.bench(|| aggregate(divan::black_box(&f), 1.0));
}

#[divan::bench(args = SIZES)]
fn merit_order_dispatch(bencher: Bencher, n: usize) {
    let f = fleet(n);
    // Half of what is available upwards, so the sort and the fill both matter.
    let target = aggregate(&f, 0.25).totals.available_up_kw * 0.5;
    bencher.bench(|| dispatch(divan::black_box(&f), target, 0.25, DispatchMode::MeritOrder));
}

#[divan::bench(args = SIZES)]
fn pro_rata_dispatch(bencher: Bencher, n: usize) {
    let f = fleet(n);
    let target = -aggregate(&f, 0.25).totals.available_down_kw * 0.5;
    bencher.bench(|| dispatch(divan::black_box(&f), target, 0.25, DispatchMode::ProRata));
}
