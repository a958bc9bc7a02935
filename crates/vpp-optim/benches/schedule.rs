//! Model build plus solve, end to end.
//!
//! Targets (issue 5): one battery over 96 steps under 5 ms; one site with a
//! battery, an EV charger, a heat pump, PV and a grid limit under 50 ms; a
//! generator commitment day within 1 % gap under 1 s.

use vpp_optim::{
    Asset, Battery, FlexibleLoad, Generator, Horizon, Member, Objective, Problem, Site, SolverOptions, solve,
};

fn main() {
    divan::main();
}

/// A day of 15-minute prices with a morning and an evening peak, €/MWh.
pub fn day_prices(n: usize) -> Vec<f64> {
    (0..n)
        .map(|t| {
            let h = t as f64 * 24.0 / n as f64;
            60.0 + 40.0 * ((h - 8.0) / 24.0 * std::f64::consts::TAU).sin() + 25.0 * ((h - 18.0) / 3.0).cos().max(0.0)
        })
        .collect()
}

fn battery() -> Battery {
    Battery {
        capacity_kwh: 200.0,
        charge_kw: 100.0,
        discharge_kw: 100.0,
        charge_efficiency: 0.95,
        discharge_efficiency: 0.95,
        soc_start_pct: 50.0,
        soc_min_pct: 10.0,
        soc_max_pct: 90.0,
        soc_target_pct: Some(50.0),
        cycle_cost_per_kwh: 0.01,
    }
}

fn site(members: Vec<Member>, limit: Option<f64>) -> Problem {
    let n = 96;
    Problem {
        horizon: Horizon { steps: n, step_s: 900 },
        site: Site {
            import_price: day_prices(n),
            export_price: Some(day_prices(n).iter().map(|p| p - 10.0).collect()),
            base_load_kw: Some(vec![30.0; n]),
            import_limit_kw: limit,
            export_limit_kw: limit,
            peak_charge_per_kw: None,
        },
        members,
        objective: Objective::Cost,
    }
}

#[divan::bench]
fn one_battery_96_steps() -> f64 {
    let p = site(vec![Member { id: "bess".into(), asset: Asset::Battery(battery()) }], None);
    solve(divan::black_box(&p), &SolverOptions::default()).map(|s| s.breakdown.total).unwrap_or_else(|e| panic!("{e}"))
}

#[divan::bench]
fn site_battery_ev_heat_pump_pv_grid_limit() -> f64 {
    let n = 96;
    let pv: Vec<f64> =
        (0..n).map(|t| 80.0 * ((t as f64 / 4.0 - 6.0) / 12.0 * std::f64::consts::PI).sin().max(0.0)).collect();
    let members = vec![
        Member { id: "bess".into(), asset: Asset::Battery(battery()) },
        Member {
            id: "ev".into(),
            asset: Asset::FlexibleLoad(FlexibleLoad {
                energy_kwh: 40.0,
                min_kw: 0.0,
                max_kw: 11.0,
                window_start: 72,
                window_end: Some(96),
            }),
        },
        Member {
            id: "heat-pump".into(),
            asset: Asset::FlexibleLoad(FlexibleLoad {
                energy_kwh: 120.0,
                min_kw: 2.0,
                max_kw: 15.0,
                window_start: 0,
                window_end: None,
            }),
        },
        Member { id: "pv".into(), asset: Asset::Curtailable { forecast_kw: pv } },
    ];
    let p = site(members, Some(120.0));
    solve(divan::black_box(&p), &SolverOptions::default()).map(|s| s.breakdown.total).unwrap_or_else(|e| panic!("{e}"))
}

#[divan::bench(sample_count = 10)]
fn generator_commitment_day() -> f64 {
    let g = Generator {
        min_kw: 200.0,
        max_kw: 800.0,
        marginal_cost: 70.0,
        start_cost: 40.0,
        min_up_steps: 8,
        min_down_steps: 4,
        initially_on: false,
    };
    let p = site(vec![Member { id: "chp".into(), asset: Asset::Generator(g) }], None);
    solve(divan::black_box(&p), &SolverOptions::default()).map(|s| s.breakdown.total).unwrap_or_else(|e| panic!("{e}"))
}

#[divan::bench]
fn one_battery_96_steps_clarabel() -> f64 {
    let p = site(vec![Member { id: "bess".into(), asset: Asset::Battery(battery()) }], None);
    let options = SolverOptions { backend: vpp_optim::Backend::Clarabel, ..SolverOptions::default() };
    solve(divan::black_box(&p), &options).map(|s| s.breakdown.total).unwrap_or_else(|e| panic!("{e}"))
}

/// 1,000 batteries of varied size, SOC and wear with one shared export
/// limit at a third of their discharge power; the gap is printed once.
fn fleet_problem() -> Problem {
    let n = 96;
    let members: Vec<Member> = (0..1000)
        .map(|i| {
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            let mut b = battery();
            b.capacity_kwh = 50.0 + 450.0 * u;
            b.charge_kw = b.capacity_kwh / 2.0;
            b.discharge_kw = b.capacity_kwh / 2.0;
            b.soc_start_pct = 30.0 + 40.0 * u;
            b.soc_target_pct = Some(b.soc_start_pct);
            b.cycle_cost_per_kwh = 0.005 + 0.02 * u;
            Member { id: format!("bess-{i}"), asset: Asset::Battery(b) }
        })
        .collect();
    let export_limit: f64 =
        members.iter().map(|m| if let Asset::Battery(b) = &m.asset { b.discharge_kw } else { 0.0 }).sum::<f64>() / 3.0;
    Problem {
        horizon: Horizon { steps: n, step_s: 900 },
        site: Site {
            import_price: day_prices(n),
            export_price: None,
            base_load_kw: None,
            import_limit_kw: None,
            export_limit_kw: Some(export_limit),
            peak_charge_per_kw: None,
        },
        members,
        objective: Objective::Cost,
    }
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn fleet_1000_batteries_shared_export_limit(bencher: divan::Bencher) {
    let p = fleet_problem();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let s = vpp_optim::solve_fleet(&p, &SolverOptions::default(), threads).unwrap_or_else(|e| panic!("{e}"));
    let d = s.decomposition.as_ref().expect("decomposed");
    eprintln!("fleet: {} with {} threads, {} rounds, gap {:.4} %", d.method, d.threads, d.rounds, d.gap * 100.0);
    bencher.bench(|| {
        vpp_optim::solve_fleet(divan::black_box(&p), &SolverOptions::default(), threads).map(|s| s.breakdown.total)
    });
}

#[cfg(feature = "highs")]
#[divan::bench(sample_count = 3, sample_size = 1)]
fn fleet_1000_batteries_shared_export_limit_highs(bencher: divan::Bencher) {
    let p = fleet_problem();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let options = SolverOptions { backend: vpp_optim::Backend::Highs, ..SolverOptions::default() };
    bencher.bench(|| vpp_optim::solve_fleet(divan::black_box(&p), &options, threads).map(|s| s.breakdown.total));
}

#[cfg(feature = "highs")]
#[divan::bench]
fn one_battery_96_steps_highs() -> f64 {
    let p = site(vec![Member { id: "bess".into(), asset: Asset::Battery(battery()) }], None);
    let options = SolverOptions { backend: vpp_optim::Backend::Highs, ..SolverOptions::default() };
    solve(divan::black_box(&p), &options).map(|s| s.breakdown.total).unwrap_or_else(|e| panic!("{e}"))
}
