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

use serde::Serialize;

use crate::model::{Objective, Problem, Site, injection_range};
use crate::solve::{Breakdown, Schedule, SolveError, SolverInfo, SolverOptions, solve};

/// How a fleet was solved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Decomposition {
    /// `independent` (limits not binding: exact), `proportional_shares`
    /// (limits shared out: feasible, within `gap`), or `direct` (one model).
    pub method: &'static str,
    /// Members solved separately.
    pub members: usize,
    /// Worker threads.
    pub threads: usize,
    /// Cost of the relaxation without site limits, €: no schedule can be cheaper.
    pub lower_bound: f64,
    /// (cost − lower bound) / max(|cost|, 1), the most the decomposition can
    /// have cost against the optimum (a MILP's own tolerance is `solver.mip_gap`).
    pub gap: f64,
}

/// Members above which [`solve_fleet`] decomposes.
pub const DECOMPOSE_ABOVE: usize = 50;

/// Solves a problem of many members, decomposed when it may be (see the
/// module documentation), else in one model.
pub fn solve_fleet(problem: &Problem, options: &SolverOptions, threads: usize) -> Result<Schedule, SolveError> {
    let same_price = problem.site.export_price.as_ref().is_none_or(|e| *e == problem.site.import_price);
    let linear = same_price && problem.site.peak_charge_per_kw.is_none() && problem.objective == Objective::Cost;
    if problem.members.len() <= DECOMPOSE_ABOVE || !linear {
        let mut schedule = solve(problem, options)?;
        schedule.decomposition = Some(Decomposition {
            method: "direct",
            members: problem.members.len(),
            threads: 1,
            lower_bound: schedule.breakdown.total,
            gap: 0.0,
        });
        return Ok(schedule);
    }
    let conflicts = problem.explain();
    if !conflicts.is_empty() {
        return Err(SolveError::Infeasible(conflicts));
    }
    let started = std::time::Instant::now();
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
            Err(SolveError::Infeasible(_)) => {
                // A share too small for a member's own needs: one model instead.
                let mut schedule = solve(problem, options)?;
                schedule.decomposition = Some(Decomposition {
                    method: "direct",
                    members: problem.members.len(),
                    threads: 1,
                    lower_bound,
                    gap: gap(schedule.breakdown.total, lower_bound),
                });
                return Ok(schedule);
            }
            Err(e) => return Err(e),
        }
    };
    Ok(combine(problem, parts, method, lower_bound, threads, started))
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

/// One schedule from the members' own, with site-level flows and costs.
fn combine(
    problem: &Problem,
    parts: Vec<Schedule>,
    method: &'static str,
    lower_bound: f64,
    threads: usize,
    started: std::time::Instant,
) -> Schedule {
    let n = problem.horizon.steps;
    let dt = problem.horizon.dt_h();
    let base: Vec<f64> = problem.site.base_load_kw.clone().unwrap_or_else(|| vec![0.0; n]);
    let prices = &problem.site.import_price;
    let mut import_kw = vec![0.0; n];
    let mut export_kw = vec![0.0; n];
    for t in 0..n {
        let net = base[t] - parts.iter().map(|s| s.members[0].power_kw[t]).sum::<f64>();
        import_kw[t] = net.max(0.0);
        export_kw[t] = (-net).max(0.0);
    }
    let mut b = Breakdown {
        import_cost: (0..n).map(|t| prices[t] * import_kw[t] * dt / 1000.0).sum(),
        export_revenue: (0..n).map(|t| prices[t] * export_kw[t] * dt / 1000.0).sum(),
        ..Breakdown::default()
    };
    let mut info = SolverInfo {
        backend: parts.first().map(|s| s.solver.backend).unwrap_or_default(),
        status: "optimal",
        time_limit_s: parts.first().and_then(|s| s.solver.time_limit_s),
        mip_gap: parts.iter().find_map(|s| s.solver.mip_gap),
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
        if s.solver.status != "optimal" {
            info.status = s.solver.status;
        }
        info.relaxed |= s.solver.relaxed;
        info.integer_parts
            .extend(s.solver.integer_parts.iter().map(|p| p.replacen("members[0]", &format!("members[{i}]"), 1)));
        info.variables += s.solver.variables;
        info.integer_variables += s.solver.integer_variables;
        info.constraints += s.solver.constraints;
        members.extend(s.members);
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
            method,
            members: problem.members.len(),
            threads,
            lower_bound,
            // Independent optima that keep the limits are the optimum; any
            // difference to the bound is rounding.
            gap: if method == "independent" { 0.0 } else { gap(b.total, lower_bound) },
        }),
    }
}
