//! Large fleets: members solved independently and in parallel, coupled only
//! through the site's import and export limits.
//!
//! Pass 1 solves every member alone against the prices with no site limits.
//! That is a relaxation, so its cost is a lower bound; if the summed powers
//! keep the limits it is also the optimum (gap 0). Otherwise pass 2 gives
//! each member a share of the limits proportional to its power range and
//! solves it again under that share: the sum then keeps the limits by
//! construction. The result reports the lower bound and the gap between the
//! two, so a user sees how far from optimal the schedule can be.
//!
//! The lower bound is only valid when the site's cost is linear in its net
//! power, i.e. one price for import and export and no demand charge; other
//! problems are solved directly.
//!
//! Fleets of batteries only (at prices that are not negative) go a better
//! way, `lagrangian_prices`: each battery is solved exactly as a network
//! flow ([`crate::battery`]) in microseconds, so the fleet can be priced many
//! times. The site limits are moved into the prices (a subgradient method on
//! their multipliers: a step's price falls while the fleet exports more than
//! the limit allows), every round gives a lower bound (Lagrangian duality),
//! and the schedule comes from the last round's plans: each battery may
//! export at most its part of the limit, in proportion to what it planned,
//! and is solved once more at the true prices under that cap. The sum keeps
//! the limits by construction and the gap to the best bound is reported.

use crate::battery::{Case, Plan, optimise};
use crate::model::{Asset, Battery};
use crate::model::{Objective, Problem, Site, injection_range};
use crate::solve::{
    Backend, Breakdown, Decomposition, MemberSchedule, Schedule, SolveError, SolverInfo, SolverOptions, solve,
};

/// Members above which [`solve_fleet`] decomposes.
pub const DECOMPOSE_ABOVE: usize = 50;

/// Solves a problem of many members, decomposed when it may be (see the
/// module documentation), else in one model.
pub fn solve_fleet(problem: &Problem, options: &SolverOptions, threads: usize) -> Result<Schedule, SolveError> {
    let same_price = problem.site.export_price.as_ref().is_none_or(|e| *e == problem.site.import_price);
    let linear = same_price && problem.site.peak_charge_per_kw.is_none() && problem.objective == Objective::Cost;
    if problem.members.len() <= DECOMPOSE_ABOVE || !linear {
        return solve_direct(problem, options, None);
    }
    let conflicts = problem.explain();
    if !conflicts.is_empty() {
        return Err(SolveError::Infeasible(conflicts));
    }
    let started = std::time::Instant::now();
    if let Some(schedule) = battery_fleet(problem, options, threads, started) {
        return Ok(schedule);
    }
    let n = problem.horizon.steps;
    let dt = problem.horizon.dt_h();
    let threads = threads.clamp(1, problem.members.len());
    let base: Vec<f64> = problem.site.base_load_kw.clone().unwrap_or_else(|| vec![0.0; n]);
    let prices = &problem.site.import_price;
    let base_cost: f64 = (0..n).map(|t| prices[t] * base[t] * dt / 1000.0).sum();

    // Pass 1: no site limits.
    let alone = |i: usize, share: Option<f64>| {
        let scaled = |limit: Option<f64>| share.and_then(|s| limit.map(|l| l * s));
        let site = Site {
            import_price: prices.clone(),
            export_price: None,
            base_load_kw: share.map(|s| base.iter().map(|b| b * s).collect()),
            import_limit_kw: scaled(problem.site.import_limit_kw),
            export_limit_kw: scaled(problem.site.export_limit_kw),
            peak_charge_per_kw: None,
        };
        let single = Problem {
            horizon: problem.horizon,
            site,
            members: vec![problem.members[i].clone()],
            objective: Objective::Cost,
        };
        solve(&single, options)
    };
    let relaxed = in_parallel(problem.members.len(), threads, |i| alone(i, None))?;
    let lower_bound = base_cost + relaxed.iter().map(|s| s.breakdown.total).sum::<f64>();
    let fits = |parts: &[Schedule]| {
        (0..n).all(|t| {
            let net_import = base[t] - parts.iter().map(|s| s.members[0].power_kw[t]).sum::<f64>();
            problem.site.import_limit_kw.is_none_or(|l| net_import <= l + 1e-6)
                && problem.site.export_limit_kw.is_none_or(|l| -net_import <= l + 1e-6)
        })
    };
    let (parts, method) = if fits(&relaxed) {
        (relaxed, "independent")
    } else {
        // Pass 2: each member under its share of the limits.
        let range: Vec<f64> = problem
            .members
            .iter()
            .map(|m| {
                (0..n).fold(0.0f64, |r, t| {
                    let (lo, hi) = injection_range(&m.asset, t, n);
                    r.max(hi).max(-lo)
                })
            })
            .collect();
        let total: f64 = range.iter().sum::<f64>().max(1e-9);
        // A member whose own optimum already keeps within its share keeps it
        // (it is also optimal under the share); only the others are solved again.
        let within_share = |i: usize| {
            let share = range[i] / total;
            (0..n).all(|t| {
                let net = base[t] * share - relaxed[i].members[0].power_kw[t];
                problem.site.import_limit_kw.is_none_or(|l| net <= l * share + 1e-9)
                    && problem.site.export_limit_kw.is_none_or(|l| -net <= l * share + 1e-9)
            })
        };
        let keep: Vec<bool> = (0..problem.members.len()).map(within_share).collect();
        let shared = in_parallel(problem.members.len(), threads, |i| {
            if keep[i] { Ok(relaxed[i].clone()) } else { alone(i, Some(range[i] / total)) }
        });
        match shared {
            Ok(parts) => (parts, "proportional_shares"),
            // A share too small for a member's own needs: one model instead.
            Err(SolveError::Infeasible(_)) => return solve_direct(problem, options, Some(lower_bound)),
            Err(e) => return Err(e),
        }
    };
    let parts = parts.into_iter().map(Part::from).collect();
    let how = How { method, member_solver: "lp", rounds: 1, lower_bound, threads, backend: options.backend };
    Ok(combine(problem, parts, how, started))
}

/// Pricing rounds of [`battery_fleet`] at most: about 40 ms each for 1,000
/// batteries over 96 steps on 2 cores.
const MAX_ROUNDS: usize = 30;

/// Stop pricing once the schedule is this close to the bound.
const GOOD_ENOUGH_GAP: f64 = 1e-3;

/// A fleet of batteries only, by Lagrangian prices (see the module
/// documentation). None if it does not apply: other members, negative
/// prices (the MILP's "not both at once" would be needed), a base load that
/// alone breaks a limit, or a battery whose target the flow cannot reach
/// (the LP path then explains it).
fn battery_fleet(
    problem: &Problem,
    options: &SolverOptions,
    threads: usize,
    started: std::time::Instant,
) -> Option<Schedule> {
    let batteries: Vec<&Battery> = problem
        .members
        .iter()
        .map(|m| if let Asset::Battery(b) = &m.asset { Some(b) } else { None })
        .collect::<Option<_>>()?;
    let prices = &problem.site.import_price;
    if prices.iter().any(|p| *p < 0.0) {
        return None;
    }
    let n = problem.horizon.steps;
    let dt = problem.horizon.dt_h();
    let base: Vec<f64> = problem.site.base_load_kw.clone().unwrap_or_else(|| vec![0.0; n]);
    // Highest total injection and highest total charging per step.
    let most_out: Vec<f64> =
        base.iter().map(|b| problem.site.export_limit_kw.map_or(f64::INFINITY, |e| e + b)).collect();
    let most_in: Vec<f64> =
        base.iter().map(|b| problem.site.import_limit_kw.map_or(f64::INFINITY, |i| i - b)).collect();
    if most_out.iter().chain(&most_in).any(|x| *x < 0.0) {
        return None;
    }
    let threads = threads.clamp(1, batteries.len());
    let base_cost: f64 = (0..n).map(|t| prices[t] * base[t] * dt / 1000.0).sum();

    // Multipliers of the export and import limits, €/MWh, and the prices they make.
    let mut on_export = vec![0.0; n];
    let mut on_import = vec![0.0; n];
    let mut plans: Vec<Plan> = batteries.iter().map(|b| Plan::idle(b, n)).collect();
    let mut best_bound = f64::NEG_INFINITY;
    let mut best: Option<(f64, Vec<Plan>)> = None;
    // Polyak's factor, in (0, 2); halved when the bound stalls. 1.8 closed the
    // bench fleet's gap to 0.42 % in 30 rounds where 1.0 left 0.88 %.
    let mut step_scale = 1.8;
    let mut since_better = 0;
    let mut rounds = 0;
    while rounds < MAX_ROUNDS {
        rounds += 1;
        let price: Vec<f64> = (0..n).map(|t| prices[t] - on_export[t] + on_import[t]).collect();
        let costs = price_fleet(&batteries, &mut plans, &price, dt, threads)?;
        let injection = total_injection(&batteries, &plans, &price, dt);
        let bound = base_cost
            + costs
            + (0..n)
                .map(|t| {
                    let export = if on_export[t] > 0.0 { on_export[t] * most_out[t] } else { 0.0 };
                    let import = if on_import[t] > 0.0 { on_import[t] * most_in[t] } else { 0.0 };
                    -(export + import) * dt / 1000.0
                })
                .sum::<f64>();
        if bound > best_bound + 1e-9 * bound.abs().max(1.0) {
            best_bound = bound;
            since_better = 0;
        } else {
            since_better += 1;
            if since_better >= 3 {
                step_scale /= 2.0;
                since_better = 0;
            }
        }
        let fits = (0..n).all(|t| injection[t] <= most_out[t] + 1e-6 && -injection[t] <= most_in[t] + 1e-6);
        if rounds == 1 && fits {
            // Nothing binds: the members' own optima are the optimum.
            let parts = parts(problem, &batteries, &plans, dt);
            let how = How {
                method: "independent",
                member_solver: "network_flow",
                rounds,
                lower_bound: bound,
                threads,
                backend: options.backend,
            };
            return Some(combine(problem, parts, how, started));
        }
        // A schedule that keeps the limits, from the first round's plans and
        // the last's (each costs a pricing; on the bench fleet the first was
        // already the best).
        if rounds == 1 || rounds == MAX_ROUNDS {
            let (cost, kept) = keep_limits(&batteries, &plans, &most_out, &most_in, prices, dt, threads)?;
            let cost = cost + base_cost;
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, kept));
            }
        }
        let upper = best.as_ref().map_or(f64::INFINITY, |(c, _)| *c);
        if gap(upper, best_bound) < GOOD_ENOUGH_GAP {
            break;
        }
        // Subgradient step (Polyak's length, towards the best schedule's cost).
        let slope_export: Vec<f64> = (0..n).map(|t| (injection[t] - most_out[t]) * dt / 1000.0).collect();
        let slope_import: Vec<f64> = (0..n).map(|t| (-injection[t] - most_in[t]) * dt / 1000.0).collect();
        let moving = |m: f64, g: f64| if m > 0.0 || g > 0.0 { g * g } else { 0.0 };
        let norm: f64 = (0..n)
            .map(|t| {
                (if most_out[t].is_finite() { moving(on_export[t], slope_export[t]) } else { 0.0 })
                    + (if most_in[t].is_finite() { moving(on_import[t], slope_import[t]) } else { 0.0 })
            })
            .sum();
        if norm <= 0.0 {
            break;
        }
        let length = step_scale * (upper - bound).max(1e-6 * upper.abs().max(1.0)) / norm;
        for t in 0..n {
            if most_out[t].is_finite() {
                on_export[t] = (on_export[t] + length * slope_export[t]).max(0.0);
            }
            if most_in[t].is_finite() {
                on_import[t] = (on_import[t] + length * slope_import[t]).max(0.0);
            }
        }
    }
    let (_, kept) = best?;
    let parts = parts(problem, &batteries, &kept, dt);
    let how = How {
        method: "lagrangian_prices",
        member_solver: "network_flow",
        rounds,
        lower_bound: best_bound,
        threads,
        backend: options.backend,
    };
    Some(combine(problem, parts, how, started))
}

/// Solves every battery at `price`, each starting from its plan; the summed
/// member costs, or None if one cannot be solved this way.
fn price_fleet(batteries: &[&Battery], plans: &mut [Plan], price: &[f64], dt: f64, threads: usize) -> Option<f64> {
    price_fleet_capped(batteries, plans, price, dt, threads, |_| (None, None))
}

/// As [`price_fleet`], with per-battery caps (discharge, charge) in kW.
fn price_fleet_capped<'c>(
    batteries: &[&Battery],
    plans: &mut [Plan],
    price: &[f64],
    dt: f64,
    threads: usize,
    caps: impl Fn(usize) -> (Option<&'c [f64]>, Option<&'c [f64]>) + Sync,
) -> Option<f64> {
    let chunk = plans.len().div_ceil(threads);
    let caps = &caps;
    let costs: Vec<Option<f64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .chunks_mut(chunk)
            .enumerate()
            .map(|(k, own)| {
                scope.spawn(move || {
                    let mut sum = 0.0;
                    for (j, plan) in own.iter_mut().enumerate() {
                        let i = k * chunk + j;
                        let (discharge_cap_kw, charge_cap_kw) = caps(i);
                        let case = Case { battery: batteries[i], dt_h: dt, price, discharge_cap_kw, charge_cap_kw };
                        if !optimise(&case, plan) {
                            return None;
                        }
                        let (market, wear) = plan.cost(&case);
                        sum += market + wear;
                    }
                    Some(sum)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    costs.into_iter().sum()
}

fn total_injection(batteries: &[&Battery], plans: &[Plan], price: &[f64], dt: f64) -> Vec<f64> {
    let mut total = vec![0.0; price.len()];
    for (b, plan) in batteries.iter().zip(plans) {
        let case = Case { battery: b, dt_h: dt, price, discharge_cap_kw: None, charge_cap_kw: None };
        for (sum, p) in total.iter_mut().zip(plan.power_kw(&case)) {
            *sum += p;
        }
    }
    total
}

/// Shares each limit out per step in proportion to what the batteries
/// planned (the room left over in proportion to their power), and solves
/// each battery again at the true prices under its share. Returns the
/// members' cost and plans; their sum keeps the limits.
fn keep_limits(
    batteries: &[&Battery],
    plans: &[Plan],
    most_out: &[f64],
    most_in: &[f64],
    prices: &[f64],
    dt: f64,
    threads: usize,
) -> Option<(f64, Vec<Plan>)> {
    let n = prices.len();
    let powers: Vec<Vec<f64>> = batteries
        .iter()
        .zip(plans)
        .map(|(b, plan)| {
            plan.power_kw(&Case { battery: b, dt_h: dt, price: prices, discharge_cap_kw: None, charge_cap_kw: None })
        })
        .collect();
    let share = |limit: &[f64], own: &dyn Fn(usize) -> f64, planned: &dyn Fn(usize, usize) -> f64| {
        let own_total: f64 = (0..batteries.len()).map(own).sum::<f64>().max(1e-9);
        let mut caps = vec![vec![f64::INFINITY; n]; batteries.len()];
        for t in 0..n {
            if !limit[t].is_finite() {
                continue;
            }
            let wanted: f64 = (0..batteries.len()).map(|i| planned(i, t)).sum();
            for (i, cap) in caps.iter_mut().enumerate() {
                cap[t] = if wanted > limit[t] {
                    planned(i, t) * limit[t] / wanted
                } else {
                    planned(i, t) + (limit[t] - wanted) * own(i) / own_total
                };
            }
        }
        caps
    };
    let discharge_caps = share(most_out, &|i| batteries[i].discharge_kw, &|i, t| powers[i][t].max(0.0));
    let charge_caps = share(most_in, &|i| batteries[i].charge_kw, &|i, t| (-powers[i][t]).max(0.0));
    let mut kept: Vec<Plan> = batteries.iter().map(|b| Plan::idle(b, n)).collect();
    let cost = price_fleet_capped(batteries, &mut kept, prices, dt, threads, |i| {
        (Some(discharge_caps[i].as_slice()), Some(charge_caps[i].as_slice()))
    })?;
    Some((cost, kept))
}

/// Members' schedules from their plans.
fn parts(problem: &Problem, batteries: &[&Battery], plans: &[Plan], dt: f64) -> Vec<Part> {
    let price = &problem.site.import_price;
    batteries
        .iter()
        .zip(plans)
        .zip(&problem.members)
        .map(|((b, plan), m)| {
            let case = Case { battery: b, dt_h: dt, price, discharge_cap_kw: None, charge_cap_kw: None };
            let (_, wear) = plan.cost(&case);
            Part {
                member: MemberSchedule {
                    id: m.id.clone(),
                    power_kw: plan.power_kw(&case),
                    soc_pct: Some(plan.soc_pct(b)),
                    on: None,
                },
                breakdown: Breakdown { cycle_cost: wear, ..Breakdown::default() },
                solver: None,
            }
        })
        .collect()
}

/// The problem as one model; its own cost is the bound unless a relaxation
/// already gave one.
fn solve_direct(problem: &Problem, options: &SolverOptions, bound: Option<f64>) -> Result<Schedule, SolveError> {
    let mut schedule = solve(problem, options)?;
    let lower_bound = bound.unwrap_or(schedule.breakdown.total);
    schedule.decomposition = Some(Decomposition {
        method: "direct",
        members: problem.members.len(),
        threads: 1,
        member_solver: "lp",
        rounds: 1,
        lower_bound,
        gap: gap(schedule.breakdown.total, lower_bound),
    });
    Ok(schedule)
}

fn gap(cost: f64, lower_bound: f64) -> f64 {
    ((cost - lower_bound) / cost.abs().max(1.0)).max(0.0)
}

/// Runs `f(0..count)` on `threads` threads, in order of index.
fn in_parallel<T: Send>(
    count: usize,
    threads: usize,
    f: impl Fn(usize) -> Result<T, SolveError> + Sync,
) -> Result<Vec<T>, SolveError> {
    let chunk = count.div_ceil(threads);
    let f = &f;
    let results: Vec<Result<Vec<T>, SolveError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| scope.spawn(move || (k * chunk..((k + 1) * chunk).min(count)).map(f).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(SolveError::Solver("a solver thread panicked".into()))))
            .collect()
    });
    let mut out = Vec::with_capacity(count);
    for part in results {
        out.extend(part?);
    }
    Ok(out)
}

/// One member's part of a decomposed schedule.
struct Part {
    member: MemberSchedule,
    breakdown: Breakdown,
    /// The LP's report; none for a network flow.
    solver: Option<SolverInfo>,
}

impl From<Schedule> for Part {
    fn from(mut s: Schedule) -> Self {
        Self { member: s.members.swap_remove(0), breakdown: s.breakdown, solver: Some(s.solver) }
    }
}

/// How the parts were found.
struct How {
    method: &'static str,
    member_solver: &'static str,
    rounds: usize,
    lower_bound: f64,
    threads: usize,
    backend: Backend,
}

/// One schedule from the members' own, with site-level flows and costs.
fn combine(problem: &Problem, parts: Vec<Part>, how: How, started: std::time::Instant) -> Schedule {
    let n = problem.horizon.steps;
    let dt = problem.horizon.dt_h();
    let base: Vec<f64> = problem.site.base_load_kw.clone().unwrap_or_else(|| vec![0.0; n]);
    let prices = &problem.site.import_price;
    let mut import_kw = vec![0.0; n];
    let mut export_kw = vec![0.0; n];
    for t in 0..n {
        let net = base[t] - parts.iter().map(|s| s.member.power_kw[t]).sum::<f64>();
        import_kw[t] = net.max(0.0);
        export_kw[t] = (-net).max(0.0);
    }
    let mut b = Breakdown {
        import_cost: (0..n).map(|t| prices[t] * import_kw[t] * dt / 1000.0).sum(),
        export_revenue: (0..n).map(|t| prices[t] * export_kw[t] * dt / 1000.0).sum(),
        ..Breakdown::default()
    };
    let first = parts.iter().find_map(|s| s.solver.as_ref());
    let mut info = SolverInfo {
        backend: first.map_or(how.backend, |s| s.backend),
        status: "optimal",
        time_limit_s: first.and_then(|s| s.time_limit_s),
        mip_gap: parts.iter().find_map(|s| s.solver.as_ref().and_then(|s| s.mip_gap)),
        relaxed: false,
        integer_parts: Vec::new(),
        variables: 0,
        integer_variables: 0,
        constraints: 0,
        solve_ms: 0.0,
    };
    let mut members = Vec::with_capacity(parts.len());
    for (i, s) in parts.into_iter().enumerate() {
        b.cycle_cost += s.breakdown.cycle_cost;
        b.generation_cost += s.breakdown.generation_cost;
        b.start_cost += s.breakdown.start_cost;
        if let Some(solver) = &s.solver {
            if solver.status != "optimal" {
                info.status = solver.status;
            }
            info.relaxed |= solver.relaxed;
            info.integer_parts
                .extend(solver.integer_parts.iter().map(|p| p.replacen("members[0]", &format!("members[{i}]"), 1)));
            info.variables += solver.variables;
            info.integer_variables += solver.integer_variables;
            info.constraints += solver.constraints;
        }
        members.push(s.member);
    }
    b.total = b.import_cost - b.export_revenue + b.cycle_cost + b.generation_cost + b.start_cost;
    info.solve_ms = started.elapsed().as_secs_f64() * 1000.0;
    let peak_import_kw = import_kw.iter().fold(0.0f64, |m, x| m.max(*x));
    Schedule {
        objective: Objective::Cost,
        import_kw,
        export_kw,
        peak_import_kw,
        members,
        breakdown: b,
        solver: info,
        decomposition: Some(Decomposition {
            method: how.method,
            members: problem.members.len(),
            threads: how.threads,
            member_solver: how.member_solver,
            rounds: how.rounds,
            lower_bound: how.lower_bound,
            // Independent optima that keep the limits are the optimum; any
            // difference to the bound is rounding.
            gap: if how.method == "independent" { 0.0 } else { gap(b.total, how.lower_bound) },
        }),
    }
}
