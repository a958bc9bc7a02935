//! Hand-computed optima, explanations of impossible requests, two backends
//! agreeing, and properties every schedule must have.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vpp_optim::{
    Asset, Backend, Battery, FlexibleLoad, Generator, Horizon, Member, Objective, Problem, Schedule, ShiftableProcess,
    Site, SolveError, SolverOptions, solve,
};

fn hourly(prices: &[f64], members: Vec<Member>) -> Problem {
    Problem {
        horizon: Horizon { steps: prices.len(), step_s: 3600 },
        site: Site {
            import_price: prices.to_vec(),
            export_price: None,
            base_load_kw: None,
            import_limit_kw: None,
            export_limit_kw: None,
            peak_charge_per_kw: None,
        },
        members,
        objective: Objective::Cost,
    }
}

fn battery(kwh: f64, kw: f64, eff: f64, soc_start: f64) -> Battery {
    Battery {
        capacity_kwh: kwh,
        charge_kw: kw,
        discharge_kw: kw,
        charge_efficiency: eff,
        discharge_efficiency: eff,
        soc_start_pct: soc_start,
        soc_min_pct: 0.0,
        soc_max_pct: 100.0,
        soc_target_pct: None,
        cycle_cost_per_kwh: 0.0,
    }
}

/// 5..10 kW at 50 €/MWh, 0.5 € per start, three steps on once started.
fn chp_with_min_up_time() -> Generator {
    Generator {
        min_kw: 5.0,
        max_kw: 10.0,
        marginal_cost: 50.0,
        start_cost: 0.5,
        min_up_steps: 3,
        min_down_steps: 0,
        initially_on: false,
    }
}

fn member(id: &str, asset: Asset) -> Member {
    Member { id: id.into(), asset }
}

fn solved(p: &Problem) -> Schedule {
    solve(p, &SolverOptions::default()).unwrap()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
}

#[test]
fn battery_buys_cheap_and_sells_dear() {
    // 10 kWh, 10 kW, lossless: charge 10 kWh at 0 €/MWh, sell them at 100 €/MWh.
    let p = hourly(&[0.0, 100.0], vec![member("b", Asset::Battery(battery(10.0, 10.0, 1.0, 0.0)))]);
    let s = solved(&p);
    close(s.breakdown.total, -1.0);
    assert_eq!(s.members[0].power_kw, vec![-10.0, 10.0]);
    assert_eq!(s.members[0].soc_pct.as_ref().unwrap().len(), 3);
    // With 90 % each way: 10 kW in stores 9 kWh, 8.1 kWh come out.
    let p = hourly(&[0.0, 100.0], vec![member("b", Asset::Battery(battery(10.0, 10.0, 0.9, 0.0)))]);
    let s = solved(&p);
    close(s.breakdown.total, -0.81);
    close(s.members[0].power_kw[1], 8.1);
}

#[test]
fn flexible_load_takes_the_cheapest_hours() {
    let load = FlexibleLoad { energy_kwh: 15.0, min_kw: 0.0, max_kw: 10.0, window_start: 0, window_end: None };
    let s = solved(&hourly(&[50.0, 10.0, 30.0, 20.0], vec![member("l", Asset::FlexibleLoad(load))]));
    // 10 kWh at 10 €/MWh and 5 kWh at 20 €/MWh.
    close(s.breakdown.total, 0.2);
    assert_eq!(s.members[0].power_kw, vec![0.0, -10.0, 0.0, -5.0]);
}

#[test]
fn shiftable_process_starts_in_the_cheapest_window() {
    let process = ShiftableProcess { power_kw: 10.0, duration_steps: 2, earliest_start: 0, latest_start: None };
    let s = solved(&hourly(&[50.0, 40.0, 10.0, 20.0, 90.0], vec![member("p", Asset::ShiftableProcess(process))]));
    assert_eq!(s.members[0].power_kw, vec![0.0, 0.0, -10.0, -10.0, 0.0]);
    close(s.breakdown.total, 0.3);
}

#[test]
fn peak_shaving_lowers_the_peak_to_what_the_battery_allows() {
    // Load 10, 50, 10, 10 kW; 40 kWh battery at 50 %: charge 10 in the first
    // hour (import 20), give 30 in the second (import 20): peak 20.
    let mut p = hourly(&[10.0; 4], vec![member("b", Asset::Battery(battery(40.0, 40.0, 1.0, 50.0)))]);
    p.site.base_load_kw = Some(vec![10.0, 50.0, 10.0, 10.0]);
    p.objective = Objective::PeakShaving;
    let shaved = solved(&p);
    close(shaved.peak_import_kw, 20.0);
    // Shaving came second to nothing: minimising cost alone is never dearer.
    p.objective = Objective::Cost;
    let cheapest = solved(&p);
    assert!(cheapest.breakdown.total <= shaved.breakdown.total + 1e-9);
    // With a demand charge, the cost objective shaves the peak too.
    p.site.peak_charge_per_kw = Some(10.0);
    close(solved(&p).peak_import_kw, 20.0);
}

#[test]
fn generator_commitment_is_exact_with_min_up_time() {
    let g = chp_with_min_up_time();
    let p = hourly(&[100.0, 100.0, 0.0, 0.0], vec![member("g", Asset::Generator(g))]);
    let s = solved(&p);
    // Run 10 kW for two hours (+1.0 €), pay the start (0.5) and a third hour at 5 kW (0.25).
    close(s.breakdown.total, -0.25);
    assert_eq!(s.members[0].on.as_deref(), Some(&[true, true, true, false][..]));
    assert!(!s.solver.relaxed);
    assert_eq!(s.solver.integer_parts.len(), 1);
    // Clarabel cannot branch: the relaxation is reported as such.
    let relaxed = solve(&p, &SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() }).unwrap();
    assert!(relaxed.solver.relaxed);
    assert!(relaxed.solver.integer_parts[0].contains("relaxed"));
    assert!(relaxed.breakdown.total <= s.breakdown.total + 1e-6, "a relaxation is never worse");
}

#[test]
fn no_simultaneous_charge_and_discharge_at_negative_prices() {
    let p = hourly(&[-100.0, 100.0], vec![member("b", Asset::Battery(battery(10.0, 10.0, 0.8, 50.0)))]);
    let s = solved(&p);
    assert!(s.solver.integer_variables >= 1);
    // 5 kWh of room at 80 %: 6.25 kW in fill it; burning more by charging
    // and discharging at once would pay at -100 €/MWh, but is not allowed,
    // so the SOC rises by exactly what the net power stores.
    close(s.members[0].power_kw[0], -6.25);
    close(s.members[0].soc_pct.as_ref().unwrap()[1], 100.0);
}

#[test]
fn impossible_requests_name_the_conflict() {
    let mut b = battery(100.0, 10.0, 1.0, 10.0);
    b.soc_target_pct = Some(90.0);
    let mut p = hourly(&[10.0], vec![member("b", Asset::Battery(b))]);
    p.horizon.step_s = 900;
    let SolveError::Infeasible(conflicts) = solve(&p, &SolverOptions::default()).unwrap_err() else { panic!() };
    assert_eq!(conflicts[0].field, "members[0].soc_target_pct");
    assert!(conflicts[0].constraints.iter().any(|c| c == "charge_kw = 10"), "{conflicts:?}");
    assert!(conflicts[0].message.contains("90.000 kWh"), "{conflicts:?}");

    let load = FlexibleLoad { energy_kwh: 100.0, min_kw: 0.0, max_kw: 10.0, window_start: 1, window_end: Some(3) };
    let p = hourly(&[1.0, 2.0, 3.0, 4.0], vec![member("l", Asset::FlexibleLoad(load))]);
    let SolveError::Infeasible(conflicts) = solve(&p, &SolverOptions::default()).unwrap_err() else { panic!() };
    assert_eq!(conflicts[0].field, "members[0].energy_kwh");
    assert!(conflicts[0].message.contains("between 0 and 20 kWh"), "{conflicts:?}");

    let mut p = hourly(&[1.0, 2.0], vec![]);
    p.site.base_load_kw = Some(vec![20.0, 100.0]);
    p.site.import_limit_kw = Some(50.0);
    let SolveError::Infeasible(conflicts) = solve(&p, &SolverOptions::default()).unwrap_err() else { panic!() };
    assert_eq!(conflicts[0].field, "site.import_limit_kw");
    assert!(conflicts[0].message.contains("step 1"), "{conflicts:?}");

    // Coupled across steps: each bound alone is fine, together they are not.
    // The load needs 20 kWh in the first two hours, the site allows 5 kW.
    let load = FlexibleLoad { energy_kwh: 20.0, min_kw: 0.0, max_kw: 10.0, window_start: 0, window_end: Some(2) };
    let mut p = hourly(&[1.0, 2.0, 3.0], vec![member("l", Asset::FlexibleLoad(load))]);
    p.site.import_limit_kw = Some(5.0);
    let SolveError::Infeasible(conflicts) = solve(&p, &SolverOptions::default()).unwrap_err() else { panic!() };
    assert_eq!(conflicts[0].field, "site.import_limit_kw", "{conflicts:?}");

    let mut p = hourly(&[1.0, 2.0], vec![]);
    p.site.import_price = vec![1.0];
    let SolveError::Infeasible(conflicts) = solve(&p, &SolverOptions::default()).unwrap_err() else { panic!() };
    assert_eq!(conflicts[0].field, "site.import_price");
}

#[test]
fn two_backends_agree_on_an_lp() {
    let n = 96;
    let prices: Vec<f64> = (0..n).map(|t| 50.0 + 30.0 * (t as f64 / 8.0).sin()).collect();
    let mut b = battery(200.0, 100.0, 0.95, 50.0);
    b.soc_min_pct = 10.0;
    b.soc_max_pct = 90.0;
    b.soc_target_pct = Some(50.0);
    b.cycle_cost_per_kwh = 0.01;
    let load = FlexibleLoad { energy_kwh: 60.0, min_kw: 0.0, max_kw: 11.0, window_start: 40, window_end: Some(90) };
    let mut p = hourly(&prices, vec![member("b", Asset::Battery(b)), member("ev", Asset::FlexibleLoad(load))]);
    p.horizon.step_s = 900;
    p.site.export_price = Some(prices.iter().map(|x| x - 5.0).collect());
    p.site.import_limit_kw = Some(90.0);
    let a = solve(&p, &SolverOptions::default()).unwrap();
    let c = solve(&p, &SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() }).unwrap();
    assert!(!c.solver.relaxed, "no integer part in this LP");
    let rel = (a.breakdown.total - c.breakdown.total).abs() / a.breakdown.total.abs().max(1e-9);
    assert!(rel < 1e-6, "microlp {} vs clarabel {}", a.breakdown.total, c.breakdown.total);
}

#[cfg(feature = "highs")]
#[test]
fn highs_agrees_on_the_lp_and_solves_the_milp_exactly() {
    let highs = SolverOptions { backend: Backend::Highs, ..SolverOptions::default() };
    let p = hourly(&[0.0, 100.0], vec![member("b", Asset::Battery(battery(10.0, 10.0, 0.9, 0.0)))]);
    close(solve(&p, &highs).unwrap().breakdown.total, -0.81);
    let g = chp_with_min_up_time();
    let p = hourly(&[100.0, 100.0, 0.0, 0.0], vec![member("g", Asset::Generator(g))]);
    let s = solve(&p, &highs).unwrap();
    close(s.breakdown.total, -0.25);
    assert!(!s.solver.relaxed);
}

#[cfg(not(feature = "highs"))]
#[test]
fn highs_without_the_feature_is_a_clear_error() {
    let highs = SolverOptions { backend: Backend::Highs, ..SolverOptions::default() };
    let p = hourly(&[0.0, 100.0], vec![member("b", Asset::Battery(battery(10.0, 10.0, 0.9, 0.0)))]);
    let SolveError::Solver(message) = solve(&p, &highs).unwrap_err() else { panic!() };
    assert!(message.contains("--features vpp-optim/highs"), "{message}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn schedules_keep_every_bound_and_the_books_balance(
        prices in prop::collection::vec(-20.0f64..200.0, 8..24),
        kwh in 5.0f64..500.0,
        kw in 1.0f64..200.0,
        eff in 0.8f64..1.0,
        start in 10.0f64..90.0,
        limit in 50.0f64..400.0,
        load in 0.0f64..40.0,
    ) {
        let n = prices.len();
        let mut b = battery(kwh, kw, eff, start);
        b.soc_min_pct = 10.0;
        b.soc_max_pct = 90.0;
        b.cycle_cost_per_kwh = 0.02;
        let mut p = hourly(&prices, vec![member("b", Asset::Battery(b.clone()))]);
        p.horizon.step_s = 900;
        p.site.base_load_kw = Some(vec![load; n]);
        p.site.import_limit_kw = Some(limit);
        p.site.export_limit_kw = Some(limit);
        let s = solve(&p, &SolverOptions::default()).unwrap();
        let dt = 0.25;
        let soc = s.members[0].soc_pct.as_ref().unwrap();
        for t in 0..n {
            let power = s.members[0].power_kw[t];
            prop_assert!(power <= kw + 1e-6 && power >= -kw - 1e-6);
            prop_assert!(soc[t + 1] >= 10.0 - 1e-6 && soc[t + 1] <= 90.0 + 1e-6);
            // SOC follows the power with the efficiency of its direction.
            let stored = if power < 0.0 { -power * eff } else { -power / eff } * dt;
            prop_assert!(((soc[t + 1] - soc[t]) / 100.0 * kwh - stored).abs() < 1e-5 * (1.0 + kwh));
            // Site balance and limits.
            prop_assert!((s.import_kw[t] - s.export_kw[t] - (load - power)).abs() < 1e-6 * (1.0 + limit));
            prop_assert!(s.import_kw[t] <= limit + 1e-6 && s.export_kw[t] <= limit + 1e-6);
        }
        let parts = s.breakdown.import_cost - s.breakdown.export_revenue + s.breakdown.cycle_cost;
        prop_assert!((parts - s.breakdown.total).abs() < 1e-9);
    }
}

/// `count` batteries of different sizes over `steps` hours.
fn fleet(count: usize, steps: usize) -> Problem {
    let prices: Vec<f64> = (0..steps).map(|t| 50.0 + 40.0 * ((t as f64) / 2.0).sin()).collect();
    let members = (0..count)
        .map(|i| {
            let mut b = battery(20.0 + (i % 7) as f64 * 10.0, 10.0 + (i % 5) as f64 * 5.0, 0.95, 50.0);
            b.soc_min_pct = 10.0;
            b.soc_max_pct = 90.0;
            b.soc_target_pct = Some(50.0);
            member(&format!("b{i}"), Asset::Battery(b))
        })
        .collect();
    hourly(&prices, members)
}

#[test]
fn a_fleet_without_binding_limits_decomposes_exactly() {
    let p = fleet(60, 8);
    let options = SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() };
    let decomposed = vpp_optim::solve_fleet(&p, &SolverOptions::default(), 2).unwrap();
    let d = decomposed.decomposition.as_ref().unwrap();
    assert_eq!(d.method, "independent");
    assert_eq!(d.gap, 0.0);
    let direct = solve(&p, &options).unwrap();
    close(decomposed.breakdown.total, direct.breakdown.total);
    assert_eq!(decomposed.members.len(), 60);
}

#[test]
fn a_binding_shared_export_limit_is_kept_and_the_gap_reported() {
    let mut p = fleet(60, 8);
    p.site.export_limit_kw = Some(300.0);
    let s = vpp_optim::solve_fleet(&p, &SolverOptions::default(), 2).unwrap();
    let d = s.decomposition.clone().unwrap();
    assert_eq!(d.method, "lagrangian_prices");
    assert_eq!(d.member_solver, "network_flow");
    for t in 0..8 {
        let injection: f64 = s.members.iter().map(|m| m.power_kw[t]).sum();
        assert!(injection <= 300.0 + 1e-6, "step {t}: {injection} kW exported");
        close(s.export_kw[t] - s.import_kw[t], injection);
    }
    // The true optimum lies between the bound and the schedule found.
    let direct = solve(&p, &SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() }).unwrap();
    assert!(d.lower_bound <= direct.breakdown.total + 1e-6);
    assert!(direct.breakdown.total <= s.breakdown.total + 1e-6);
    close(d.gap, (s.breakdown.total - d.lower_bound) / s.breakdown.total.abs().max(1.0));
    // Different import and export prices: no valid bound, one model instead.
    p.site.export_price = Some(p.site.import_price.iter().map(|x| x - 1.0).collect());
    let direct =
        vpp_optim::solve_fleet(&p, &SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() }, 2)
            .unwrap();
    assert_eq!(direct.decomposition.unwrap().method, "direct");
}

#[test]
fn a_mixed_fleet_shares_the_limit_out_through_the_lp() {
    let mut p = fleet(60, 8);
    p.members.push(member("pv", Asset::Curtailable { forecast_kw: vec![100.0; 8] }));
    p.site.export_limit_kw = Some(300.0);
    let s = vpp_optim::solve_fleet(&p, &SolverOptions::default(), 2).unwrap();
    let d = s.decomposition.clone().unwrap();
    assert_eq!((d.method, d.member_solver), ("proportional_shares", "lp"));
    for t in 0..8 {
        let injection: f64 = s.members.iter().map(|m| m.power_kw[t]).sum();
        assert!(injection <= 300.0 + 1e-6, "step {t}: {injection} kW exported");
    }
    let direct = solve(&p, &SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() }).unwrap();
    assert!(d.lower_bound <= direct.breakdown.total + 1e-6);
    assert!(direct.breakdown.total <= s.breakdown.total + 1e-6);
}

#[test]
fn battery_fleet_schedules_keep_every_battery_bound() {
    let mut p = fleet(80, 24);
    p.site.export_limit_kw = Some(400.0);
    p.site.import_limit_kw = Some(500.0);
    let s = vpp_optim::solve_fleet(&p, &SolverOptions::default(), 2).unwrap();
    assert_eq!(s.decomposition.as_ref().unwrap().method, "lagrangian_prices");
    for (m, ms) in p.members.iter().zip(&s.members) {
        let Asset::Battery(b) = &m.asset else { unreachable!() };
        let soc = ms.soc_pct.as_ref().unwrap();
        assert_eq!(soc.len(), 25);
        for t in 0..24 {
            let x = ms.power_kw[t];
            assert!(x <= b.discharge_kw + 1e-6 && -x <= b.charge_kw + 1e-6, "{}: {x} kW", m.id);
            assert!(soc[t + 1] >= b.soc_min_pct - 1e-6 && soc[t + 1] <= b.soc_max_pct + 1e-6);
            // SOC follows the power with the efficiencies (1-hour steps).
            let kwh = if x >= 0.0 { -x / b.discharge_efficiency } else { -x * b.charge_efficiency };
            close((soc[t + 1] - soc[t]) / 100.0 * b.capacity_kwh, kwh);
        }
        assert!(soc[24] >= b.soc_target_pct.unwrap() - 1e-6);
    }
    for t in 0..24 {
        let net_export = s.export_kw[t] - s.import_kw[t];
        assert!(net_export <= 400.0 + 1e-6 && -net_export <= 500.0 + 1e-6, "step {t}: {net_export}");
    }
    // Parts add up to the total.
    let b = s.breakdown;
    close(b.total, b.import_cost - b.export_revenue + b.cycle_cost);
    let direct = solve(&p, &SolverOptions { backend: Backend::Clarabel, ..SolverOptions::default() }).unwrap();
    let d = s.decomposition.unwrap();
    assert!(d.lower_bound <= direct.breakdown.total + 1e-6 && direct.breakdown.total <= b.total + 1e-6);
}
