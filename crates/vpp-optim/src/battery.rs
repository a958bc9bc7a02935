//! One battery against per-step prices, solved exactly as a network flow.
//!
//! A battery on its own is a min-cost flow problem once energy is counted as
//! it sits in the cell: node `t` is the state after step `t`, the arc from
//! one node to the next carries the stored energy (between the SOC window's
//! bounds), and the grid is one more node. Charging in step `t` is an arc
//! from the grid into node `t` (cost: price plus wear, divided by the charge
//! efficiency), discharging an arc back (revenue: price minus wear, times the
//! discharge efficiency), and the energy left at the end goes back to the
//! grid at no value, with a large reward while it is below the target.
//!
//! Every simple cycle of that network runs grid → step `a` → along the chain
//! → step `b` → grid, so the cheapest cycle is found by one sweep each way in
//! O(steps). Cancelling negative cycles until none is left gives the optimum
//! (the optimality condition of min-cost flow). Any feasible flow is a valid
//! start, so a battery solved again at nearby prices starts from its last
//! plan and needs few cancellations.
//!
//! Hand-written because a general LP solver cannot use this structure: one
//! battery over 96 steps takes about 2 ms through good_lp and microlp and
//! tens of microseconds here, which is what lets a fleet of a thousand
//! batteries be priced many times over in [`crate::fleet`]. The LP remains
//! the reference: property tests check that both reach the same cost.

use crate::model::Battery;

/// Reward per kWh for energy that is still missing to reach the SOC target;
/// larger than any price, so the target is met whenever it can be.
const TARGET_REWARD: f64 = 1e9;

/// One battery's situation.
pub(crate) struct Case<'a> {
    pub battery: &'a Battery,
    /// Step length, hours.
    pub dt_h: f64,
    /// Price per step, €/MWh; both ways.
    pub price: &'a [f64],
    /// Highest discharge per step, kW, when lower than the battery's own
    /// (a share of a site's export limit); at least zero.
    pub discharge_cap_kw: Option<&'a [f64]>,
    /// Highest charge per step, kW, likewise (a share of the import limit).
    pub charge_cap_kw: Option<&'a [f64]>,
}

/// A plan in stored energy: what one step moves into and out of the cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Charged per step, kWh as stored (after the charge efficiency).
    stored_in: Vec<f64>,
    /// Discharged per step, kWh as stored (before the discharge efficiency).
    stored_out: Vec<f64>,
    /// Energy after each step, kWh.
    energy: Vec<f64>,
}

impl Plan {
    /// Doing nothing: the energy stays at its start.
    pub fn idle(battery: &Battery, steps: usize) -> Self {
        let start = battery.soc_start_pct / 100.0 * battery.capacity_kwh;
        Self { stored_in: vec![0.0; steps], stored_out: vec![0.0; steps], energy: vec![start; steps] }
    }

    /// Power per step, kW, injection positive.
    pub fn power_kw(&self, case: &Case) -> Vec<f64> {
        let b = case.battery;
        (0..self.energy.len())
            .map(|t| {
                self.stored_out[t] * b.discharge_efficiency / case.dt_h
                    - self.stored_in[t] / b.charge_efficiency / case.dt_h
            })
            .collect()
    }

    /// SOC at each step boundary, %, steps + 1 values.
    pub fn soc_pct(&self, battery: &Battery) -> Vec<f64> {
        let pct = |e: f64| e / battery.capacity_kwh * 100.0;
        std::iter::once(battery.soc_start_pct).chain(self.energy.iter().map(|e| pct(*e))).collect()
    }

    /// Market cost (import minus export) and wear, €.
    pub fn cost(&self, case: &Case) -> (f64, f64) {
        let b = case.battery;
        let (mut market, mut wear) = (0.0, 0.0);
        for t in 0..self.energy.len() {
            let charged = self.stored_in[t] / b.charge_efficiency;
            let discharged = self.stored_out[t] * b.discharge_efficiency;
            market += case.price[t] / 1000.0 * (charged - discharged);
            wear += b.cycle_cost_per_kwh * (charged + discharged);
        }
        (market, wear)
    }
}

/// The cheapest way to move energy into or out of the cell at one step.
#[derive(Debug, Clone, Copy)]
struct Arc {
    /// € per stored kWh.
    cost: f64,
    /// How much can move this way, stored kWh.
    room: f64,
    /// Which variable moves: `In` (charge) or `Out` (discharge), and which way.
    var: Var,
    up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Var {
    In,
    Out,
    /// The energy left at the end.
    End,
}

/// Optimises `plan` in place, starting from it (it must keep the SOC window
/// and the caps; [`Plan::idle`] always does). Returns false if the SOC
/// target cannot be reached or the search did not settle; the caller then
/// uses the LP.
pub(crate) fn optimise(case: &Case, plan: &mut Plan) -> bool {
    let b = case.battery;
    let n = plan.energy.len();
    if n == 0 || case.price.len() != n {
        return false;
    }
    let (ec, ed) = (b.charge_efficiency, b.discharge_efficiency);
    let lo = b.soc_min_pct / 100.0 * b.capacity_kwh;
    let hi = b.soc_max_pct / 100.0 * b.capacity_kwh;
    let target = b.soc_target_pct.map(|t| t / 100.0 * b.capacity_kwh);
    let eps = 1e-9 * b.capacity_kwh.max(1.0);
    let cap = |caps: Option<&[f64]>, own: f64, t: usize| caps.map_or(own, |c| c[t].clamp(0.0, own));
    let max_in: Vec<f64> = (0..n).map(|t| cap(case.charge_cap_kw, b.charge_kw, t) * case.dt_h * ec).collect();
    let max_out: Vec<f64> = (0..n).map(|t| cap(case.discharge_cap_kw, b.discharge_kw, t) * case.dt_h / ed).collect();
    // € per stored kWh charged and discharged.
    let cost_in: Vec<f64> = (0..n).map(|t| (case.price[t] / 1000.0 + b.cycle_cost_per_kwh) / ec).collect();
    let cost_out: Vec<f64> = (0..n).map(|t| (b.cycle_cost_per_kwh - case.price[t] / 1000.0) * ed).collect();

    let cheapest = |options: [Option<Arc>; 2]| {
        options.into_iter().flatten().filter(|a| a.room > eps).min_by(|x, y| x.cost.total_cmp(&y.cost))
    };
    // Adding energy at step t: charge more or discharge less.
    let arc_in = |p: &Plan, t: usize| -> Option<Arc> {
        if t == n {
            // Taking back energy left at the end.
            let floor = target.unwrap_or(f64::NEG_INFINITY).max(lo);
            let room = p.energy[n - 1] - floor;
            return (room > eps).then_some(Arc { cost: 0.0, room, var: Var::End, up: false });
        }
        cheapest([
            Some(Arc { cost: cost_in[t], room: max_in[t] - p.stored_in[t], var: Var::In, up: true }),
            Some(Arc { cost: -cost_out[t], room: p.stored_out[t], var: Var::Out, up: false }),
        ])
    };
    // Taking energy out at step t: discharge more or charge less.
    let arc_out = |p: &Plan, t: usize| -> Option<Arc> {
        if t == n {
            // Leaving energy at the end: rewarded while below the target.
            let missing = target.map_or(0.0, |x| x - p.energy[n - 1]);
            return Some(if missing > eps {
                Arc { cost: -TARGET_REWARD, room: missing, var: Var::End, up: true }
            } else {
                Arc { cost: 0.0, room: f64::INFINITY, var: Var::End, up: true }
            });
        }
        cheapest([
            Some(Arc { cost: cost_out[t], room: max_out[t] - p.stored_out[t], var: Var::Out, up: true }),
            Some(Arc { cost: -cost_in[t], room: p.stored_in[t], var: Var::In, up: false }),
        ])
    };

    let limit = 50 * (n + 1);
    for _ in 0..limit {
        // The most negative cycle: (cost per kWh, in at, out at, in arc, out arc).
        let mut best: Option<(f64, usize, usize, Arc, Arc)> = None;
        let mut consider = |c: f64, a: usize, b: usize, i: Arc, o: Arc| {
            if c < -1e-12 && best.is_none_or(|(bc, ..)| c < bc) {
                best = Some((c, a, b, i, o));
            }
        };
        // Energy moved forward in time: in at a < out at b raises energy[a..b].
        let mut carry: Option<(usize, Arc)> = None;
        for t in 0..=n {
            if let (Some((a, i)), Some(o)) = (carry, arc_out(plan, t)) {
                consider(i.cost + o.cost, a, t, i, o);
            }
            if t == n {
                break;
            }
            if let Some(i) = arc_in(plan, t)
                && carry.is_none_or(|(_, c)| i.cost < c.cost)
            {
                carry = Some((t, i));
            }
            if plan.energy[t] >= hi - eps {
                carry = None;
            }
        }
        // Energy moved back in time: out at b < in at a lowers energy[b..a].
        let mut carry: Option<(usize, Arc)> = arc_in(plan, n).map(|i| (n, i));
        for t in (0..n).rev() {
            if plan.energy[t] <= lo + eps {
                carry = None;
            }
            if let (Some((a, i)), Some(o)) = (carry, arc_out(plan, t)) {
                consider(i.cost + o.cost, a, t, i, o);
            }
            if let Some(i) = arc_in(plan, t)
                && carry.is_none_or(|(_, c)| i.cost < c.cost)
            {
                carry = Some((t, i));
            }
        }
        // Charging and discharging in the same step: burns energy, which
        // pays only at negative prices; and undoing it where it does not.
        for t in 0..n {
            let both_up = cost_in[t] + cost_out[t];
            let (room_in, room_out) = (max_in[t] - plan.stored_in[t], max_out[t] - plan.stored_out[t]);
            if room_in > eps && room_out > eps {
                consider(
                    both_up,
                    t,
                    t,
                    Arc { cost: cost_in[t], room: room_in, var: Var::In, up: true },
                    Arc { cost: cost_out[t], room: room_out, var: Var::Out, up: true },
                );
            }
            if plan.stored_in[t] > eps && plan.stored_out[t] > eps {
                consider(
                    -both_up,
                    t,
                    t,
                    Arc { cost: -cost_out[t], room: plan.stored_out[t], var: Var::Out, up: false },
                    Arc { cost: -cost_in[t], room: plan.stored_in[t], var: Var::In, up: false },
                );
            }
        }
        let Some((_, a, b, i, o)) = best else {
            return target.is_none_or(|x| plan.energy[n - 1] >= x - eps);
        };
        // How much the cycle can carry.
        let mut amount = i.room.min(o.room);
        if a < b {
            for t in a..b.min(n) {
                amount = amount.min(hi - plan.energy[t]);
            }
        } else {
            for t in b..a.min(n) {
                amount = amount.min(plan.energy[t] - lo);
            }
        }
        if !(amount > 0.0 && amount.is_finite()) {
            return false;
        }
        apply(plan, i, a, amount, true, n);
        apply(plan, o, b, amount, false, n);
        let (from, to, sign) = if a < b { (a, b.min(n), 1.0) } else { (b, a.min(n), -1.0) };
        for t in from..to {
            plan.energy[t] = (plan.energy[t] + sign * amount).clamp(lo, hi);
        }
    }
    false
}

/// Moves `amount` along one arc at step `t` (`into`: the cycle's way in).
fn apply(plan: &mut Plan, arc: Arc, t: usize, amount: f64, into: bool, n: usize) {
    let delta = if arc.up { amount } else { -amount };
    match arc.var {
        Var::In => plan.stored_in[t] = (plan.stored_in[t] + delta).max(0.0),
        Var::Out => plan.stored_out[t] = (plan.stored_out[t] + delta).max(0.0),
        // The end is not a step; the energy chain carries the change.
        Var::End => debug_assert!(t == n && (into != arc.up)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::{Asset, Horizon, Member, Objective, Problem, Site};
    use crate::solve::{Backend, SolverOptions, solve};

    fn battery() -> Battery {
        Battery {
            capacity_kwh: 100.0,
            charge_kw: 50.0,
            discharge_kw: 50.0,
            charge_efficiency: 0.95,
            discharge_efficiency: 0.95,
            soc_start_pct: 50.0,
            soc_min_pct: 10.0,
            soc_max_pct: 90.0,
            soc_target_pct: Some(50.0),
            cycle_cost_per_kwh: 0.01,
        }
    }

    /// The LP's optimum, or None if it finds the request infeasible.
    fn lp(b: &Battery, price: &[f64], step_s: u32, backend: Backend, caps: Option<(f64, f64)>) -> Option<f64> {
        let p = Problem {
            horizon: Horizon { steps: price.len(), step_s },
            site: Site {
                import_price: price.to_vec(),
                export_price: None,
                base_load_kw: None,
                import_limit_kw: caps.map(|c| c.0),
                export_limit_kw: caps.map(|c| c.1),
                peak_charge_per_kw: None,
            },
            members: vec![Member { id: "b".into(), asset: Asset::Battery(b.clone()) }],
            objective: Objective::Cost,
        };
        let options = SolverOptions { backend, ..SolverOptions::default() };
        match solve(&p, &options) {
            Ok(s) => Some(s.breakdown.total),
            Err(crate::SolveError::Infeasible(_)) => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// The flow's optimum, or None if it finds the target unreachable.
    fn flow(b: &Battery, price: &[f64], step_s: u32, caps: Option<(f64, f64)>) -> Option<(f64, Plan)> {
        let charge_cap = caps.map(|c| vec![c.0; price.len()]);
        let discharge_cap = caps.map(|c| vec![c.1; price.len()]);
        let case = Case {
            battery: b,
            dt_h: f64::from(step_s) / 3600.0,
            price,
            discharge_cap_kw: discharge_cap.as_deref(),
            charge_cap_kw: charge_cap.as_deref(),
        };
        let mut plan = Plan::idle(b, price.len());
        optimise(&case, &mut plan).then(|| {
            let (market, wear) = plan.cost(&case);
            (market + wear, plan)
        })
    }

    #[test]
    fn two_prices_by_hand() {
        // One hour at 0 €/MWh, one at 100: charge 40 kWh stored (42.1 kWh
        // bought, up to 90 %), sell 40 kWh stored (38 kWh delivered); with
        // the target back at 50 % the battery must buy what it sells:
        // nothing is worth doing at a 5 % loss each way only if the spread
        // is too small, and here it is not.
        let mut b = battery();
        b.soc_target_pct = None;
        b.cycle_cost_per_kwh = 0.0;
        let (cost, plan) = flow(&b, &[0.0, 100.0], 3600, None).expect("feasible");
        // Hour 1: charge to 90 % (40 kWh stored); hour 2: discharge to 10 % (80 kWh stored, 50 kW cap → 50 kWh delivered).
        let delivered = 50.0f64.min(80.0 * 0.95);
        assert!((cost - (-delivered * 0.1)).abs() < 1e-9, "cost {cost}");
        assert!((plan.energy[0] - 90.0).abs() < 1e-9);
    }

    #[test]
    fn unreachable_target_is_refused() {
        let mut b = battery();
        b.soc_start_pct = 10.0;
        b.soc_target_pct = Some(90.0);
        b.charge_kw = 10.0;
        let case = Case { battery: &b, dt_h: 1.0, price: &[50.0, 60.0], discharge_cap_kw: None, charge_cap_kw: None };
        let mut plan = Plan::idle(&b, 2);
        assert!(!optimise(&case, &mut plan));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The flow reaches the LP's optimum.
        #[test]
        fn same_cost_as_the_lp(
            price in prop::collection::vec(0.0f64..300.0, 1..60),
            capacity in 10.0f64..500.0,
            c_rate in 0.1f64..2.0,
            d_rate in 0.1f64..2.0,
            eff in 0.7f64..1.0,
            start in 10.0f64..90.0,
            target in prop::option::of(10.0f64..60.0),
            wear in 0.0f64..0.05,
            step_s in prop::sample::select(vec![900u32, 1800, 3600]),
            caps in prop::option::of((0.0f64..300.0, 0.0f64..300.0)),
        ) {
            let b = Battery {
                capacity_kwh: capacity,
                charge_kw: capacity * c_rate,
                discharge_kw: capacity * d_rate,
                charge_efficiency: eff,
                discharge_efficiency: (eff + 0.05).min(1.0),
                soc_start_pct: start,
                soc_min_pct: 10.0,
                soc_max_pct: 90.0,
                soc_target_pct: target,
                cycle_cost_per_kwh: wear,
            };
            // The site's limits are one member's caps.
            let expected = lp(&b, &price, step_s, Backend::Microlp, caps);
            let got = flow(&b, &price, step_s, caps);
            prop_assert_eq!(expected.is_some(), got.is_some(), "LP and flow disagree on feasibility");
            let (Some(expected), Some((got, plan))) = (expected, got) else { return Ok(()) };
            prop_assert!((got - expected).abs() <= 1e-6 * expected.abs().max(1.0), "flow {got} lp {expected}");
            let lo = 0.1 * capacity - 1e-6;
            let hi = 0.9 * capacity + 1e-6;
            prop_assert!(plan.energy.iter().all(|e| (lo..=hi).contains(e)));
        }

        /// At negative prices the flow is the LP relaxation (charge and
        /// discharge at once allowed), which clarabel solves too.
        #[test]
        fn negative_prices_match_the_relaxation(
            price in prop::collection::vec(-100.0f64..200.0, 1..40),
            start in 10.0f64..90.0,
        ) {
            let mut b = battery();
            b.soc_start_pct = start;
            let expected = lp(&b, &price, 900, Backend::Clarabel, None);
            let got = flow(&b, &price, 900, None);
            prop_assert_eq!(expected.is_some(), got.is_some(), "LP and flow disagree on feasibility");
            let (Some(expected), Some((got, _))) = (expected, got) else { return Ok(()) };
            prop_assert!((got - expected).abs() <= 1e-5 * expected.abs().max(1.0), "flow {got} clarabel {expected}");
        }
    }
}
