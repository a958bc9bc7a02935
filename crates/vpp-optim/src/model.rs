//! The problem: horizon, site, members, objective; and the checks that
//! explain an impossible request before any solver runs.

use serde::{Deserialize, Serialize};

/// Time steps of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Horizon {
    /// Number of steps.
    pub steps: usize,
    /// Step length in seconds.
    pub step_s: u32,
}

impl Horizon {
    /// Step length in hours.
    pub fn dt_h(&self) -> f64 {
        f64::from(self.step_s) / 3600.0
    }
}

/// What to optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Minimise the net cost (import cost minus feed-in and market revenue,
    /// plus operating costs); the same as maximising revenue.
    #[default]
    Cost,
    /// Minimise the highest import first, then the cost.
    PeakShaving,
}

/// The grid connection and its prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduleSite)]
pub struct Site {
    /// Import (or market) price per step, €/MWh.
    pub import_price: Vec<f64>,
    /// Feed-in (or market sell) price per step, €/MWh; the import price if absent.
    #[serde(default)]
    pub export_price: Option<Vec<f64>>,
    /// Uncontrollable net load per step, kW (consumption positive here;
    /// uncontrollable generation negative), e.g. a load minus a PV forecast.
    #[serde(default)]
    pub base_load_kw: Option<Vec<f64>>,
    /// Highest import, kW.
    #[serde(default)]
    pub import_limit_kw: Option<f64>,
    /// Highest export, kW.
    #[serde(default)]
    pub export_limit_kw: Option<f64>,
    /// Demand charge on the highest import over the horizon, €/kW.
    #[serde(default)]
    pub peak_charge_per_kw: Option<f64>,
}

/// A battery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Battery {
    /// Usable energy between 0 % and 100 % SOC, kWh.
    pub capacity_kwh: f64,
    /// Highest charging power, kW.
    pub charge_kw: f64,
    /// Highest discharging power, kW.
    pub discharge_kw: f64,
    /// Charging efficiency, 0..1.
    pub charge_efficiency: f64,
    /// Discharging efficiency, 0..1.
    pub discharge_efficiency: f64,
    /// SOC at the start, %.
    pub soc_start_pct: f64,
    /// Lowest SOC, %.
    pub soc_min_pct: f64,
    /// Highest SOC, %.
    pub soc_max_pct: f64,
    /// Lowest SOC at the end, % (none: no target).
    #[serde(default)]
    pub soc_target_pct: Option<f64>,
    /// Wear cost per kWh of throughput (charged plus discharged), €.
    #[serde(default)]
    pub cycle_cost_per_kwh: f64,
}

/// A load that must take a given energy within a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlexibleLoad {
    /// Energy to deliver, kWh.
    pub energy_kwh: f64,
    /// Lowest power while in the window, kW.
    #[serde(default)]
    pub min_kw: f64,
    /// Highest power, kW.
    pub max_kw: f64,
    /// First step of the window.
    #[serde(default)]
    pub window_start: usize,
    /// Step after the window (the horizon's end if absent).
    #[serde(default)]
    pub window_end: Option<usize>,
}

/// A process that runs once, for a fixed number of steps at a fixed power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShiftableProcess {
    /// Power while running, kW.
    pub power_kw: f64,
    /// Running time in steps.
    pub duration_steps: usize,
    /// Earliest start step.
    #[serde(default)]
    pub earliest_start: usize,
    /// Latest start step (the last one that still ends inside the horizon if absent).
    #[serde(default)]
    pub latest_start: Option<usize>,
}

/// A dispatchable generator (CHP, genset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Generator {
    /// Lowest power while running, kW.
    pub min_kw: f64,
    /// Highest power, kW.
    pub max_kw: f64,
    /// Marginal cost, €/MWh.
    pub marginal_cost: f64,
    /// Cost of each start, €.
    #[serde(default)]
    pub start_cost: f64,
    /// Minimum steps on once started.
    #[serde(default)]
    pub min_up_steps: usize,
    /// Minimum steps off once stopped.
    #[serde(default)]
    pub min_down_steps: usize,
    /// Running before the horizon.
    #[serde(default)]
    pub initially_on: bool,
}

/// A member's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(as = ScheduleAsset)]
pub enum Asset {
    /// Storage.
    Battery(Battery),
    /// Energy within a window.
    FlexibleLoad(FlexibleLoad),
    /// Runs once, shiftable in time.
    ShiftableProcess(ShiftableProcess),
    /// PV or wind: the forecast per step (kW) is an upper bound; the rest is curtailed.
    Curtailable {
        /// Forecast per step, kW.
        forecast_kw: Vec<f64>,
    },
    /// Dispatchable generation with commitment.
    Generator(Generator),
}

/// A member of the site or VPP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduleMember)]
pub struct Member {
    /// Resource id.
    pub id: String,
    /// Its model.
    pub asset: Asset,
}

/// A scheduling request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduleProblem)]
pub struct Problem {
    /// Steps.
    pub horizon: Horizon,
    /// Connection and prices.
    pub site: Site,
    /// Members.
    pub members: Vec<Member>,
    /// What to optimise.
    #[serde(default)]
    pub objective: Objective,
}

/// Constraints that cannot hold together, with the values involved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduleConflict)]
pub struct Conflict {
    /// Where: `members[i].…` or `site.…`, like a field path.
    pub field: String,
    /// The constraints in conflict, each with its value.
    pub constraints: Vec<String>,
    /// Why they conflict.
    pub message: String,
}

impl Conflict {
    fn new(field: impl Into<String>, constraints: Vec<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), constraints, message: message.into() }
    }
}

/// Highest number of steps in one problem.
pub const MAX_STEPS: usize = 10_000;
/// Highest number of members in one problem.
pub const MAX_MEMBERS: usize = 10_000;

impl Problem {
    /// The export price per step.
    pub fn export_price(&self) -> &[f64] {
        self.site.export_price.as_deref().unwrap_or(&self.site.import_price)
    }

    /// Checks the request and explains every impossibility found: malformed
    /// values (wrong lengths, out of range) and constraints that cannot hold
    /// together. Empty if the request can be solved.
    pub fn explain(&self) -> Vec<Conflict> {
        let mut out = Vec::new();
        let n = self.horizon.steps;
        let dt = self.horizon.dt_h();
        if n == 0 || n > MAX_STEPS {
            out.push(Conflict::new("horizon.steps", vec![format!("steps = {n}")], format!("must be 1..={MAX_STEPS}")));
            return out;
        }
        if self.horizon.step_s == 0 || self.horizon.step_s > 86_400 {
            out.push(Conflict::new(
                "horizon.step_s",
                vec![format!("step_s = {}", self.horizon.step_s)],
                "must be 1..=86400 seconds",
            ));
            return out;
        }
        if self.members.len() > MAX_MEMBERS {
            out.push(Conflict::new(
                "members",
                vec![format!("{} members", self.members.len())],
                format!("at most {MAX_MEMBERS}"),
            ));
        }
        let series = [
            ("site.import_price", Some(&self.site.import_price)),
            ("site.export_price", self.site.export_price.as_ref()),
            ("site.base_load_kw", self.site.base_load_kw.as_ref()),
        ];
        for (field, values) in series {
            if let Some(v) = values {
                check_series(&mut out, field, v, n);
            }
        }
        for (field, limit) in [
            ("site.import_limit_kw", self.site.import_limit_kw),
            ("site.export_limit_kw", self.site.export_limit_kw),
            ("site.peak_charge_per_kw", self.site.peak_charge_per_kw),
        ] {
            if let Some(x) = limit
                && !(x.is_finite() && x >= 0.0)
            {
                out.push(Conflict::new(field, vec![format!("{field} = {x}")], "must be a finite number ≥ 0"));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let at = format!("members[{i}]");
            if !ids.insert(m.id.as_str()) {
                out.push(Conflict::new(format!("{at}.id"), vec![format!("id = {}", m.id)], "appears twice"));
            }
            match &m.asset {
                Asset::Battery(b) => explain_battery(&mut out, &at, b, n, dt),
                Asset::FlexibleLoad(l) => explain_flexible(&mut out, &at, l, n, dt),
                Asset::ShiftableProcess(p) => explain_process(&mut out, &at, p, n),
                Asset::Curtailable { forecast_kw } => {
                    check_series(&mut out, &format!("{at}.forecast_kw"), forecast_kw, n);
                    if let Some((t, x)) = forecast_kw.iter().enumerate().find(|(_, x)| **x < 0.0) {
                        out.push(Conflict::new(
                            format!("{at}.forecast_kw[{t}]"),
                            vec![format!("forecast_kw[{t}] = {x}")],
                            "a generation forecast cannot be negative",
                        ));
                    }
                }
                Asset::Generator(g) => {
                    if !(0.0 <= g.min_kw && g.min_kw <= g.max_kw && g.max_kw.is_finite()) {
                        out.push(Conflict::new(
                            format!("{at}.min_kw"),
                            vec![format!("min_kw = {}", g.min_kw), format!("max_kw = {}", g.max_kw)],
                            "need 0 ≤ min_kw ≤ max_kw",
                        ));
                    }
                    if !(g.marginal_cost.is_finite() && g.start_cost.is_finite() && g.start_cost >= 0.0) {
                        out.push(Conflict::new(
                            format!("{at}.marginal_cost"),
                            vec![],
                            "costs must be finite, start_cost ≥ 0",
                        ));
                    }
                }
            }
        }
        if out.is_empty() {
            self.explain_site(&mut out);
        }
        out
    }

    /// Per step, the import the members cannot avoid must fit the import
    /// limit, and the export they cannot avoid must fit the export limit.
    fn explain_site(&self, out: &mut Vec<Conflict>) {
        let n = self.horizon.steps;
        for t in 0..n {
            let base = self.site.base_load_kw.as_ref().map_or(0.0, |b| b[t]);
            // Lowest and highest net injection the members can reach at t.
            let (mut lo, mut hi) = (0.0, 0.0);
            for m in &self.members {
                let (a, b) = injection_range(&m.asset, t, n);
                lo += a;
                hi += b;
            }
            if let Some(limit) = self.site.import_limit_kw
                && base - hi > limit + 1e-9
            {
                out.push(Conflict::new(
                    "site.import_limit_kw",
                    vec![
                        format!("import_limit_kw = {limit}"),
                        format!("base_load_kw[{t}] = {base}"),
                        format!("highest injection of all members at step {t} = {hi}"),
                    ],
                    format!("at step {t} the site must import at least {} kW", base - hi),
                ));
                return;
            }
            if let Some(limit) = self.site.export_limit_kw
                && lo - base > limit + 1e-9
            {
                out.push(Conflict::new(
                    "site.export_limit_kw",
                    vec![
                        format!("export_limit_kw = {limit}"),
                        format!("base_load_kw[{t}] = {base}"),
                        format!("lowest injection of all members at step {t} = {lo}"),
                    ],
                    format!("at step {t} the site must export at least {} kW", lo - base),
                ));
                return;
            }
        }
    }
}

/// The lowest and highest injection of one member at step `t`, kW, from
/// its bounds alone (ignoring energy coupling across steps).
pub(crate) fn injection_range(asset: &Asset, t: usize, n: usize) -> (f64, f64) {
    match asset {
        Asset::Battery(b) => (-b.charge_kw, b.discharge_kw),
        Asset::FlexibleLoad(l) => {
            if t >= l.window_start && t < l.window_end.unwrap_or(n) {
                (-l.max_kw, -l.min_kw)
            } else {
                (0.0, 0.0)
            }
        }
        Asset::ShiftableProcess(p) => (-p.power_kw, 0.0),
        Asset::Curtailable { forecast_kw } => (0.0, forecast_kw[t]),
        Asset::Generator(g) => (0.0, g.max_kw),
    }
}

fn check_series(out: &mut Vec<Conflict>, field: &str, values: &[f64], n: usize) {
    if values.len() != n {
        out.push(Conflict::new(
            field,
            vec![format!("{} values", values.len()), format!("horizon.steps = {n}")],
            "needs one value per step",
        ));
    } else if let Some((t, x)) = values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        out.push(Conflict::new(
            format!("{field}[{t}]"),
            vec![format!("{field}[{t}] = {x}")],
            "must be a finite number",
        ));
    }
}

fn explain_battery(out: &mut Vec<Conflict>, at: &str, b: &Battery, n: usize, dt: f64) {
    let positive = [("capacity_kwh", b.capacity_kwh)];
    for (name, x) in positive {
        if !(x.is_finite() && x > 0.0) {
            out.push(Conflict::new(format!("{at}.{name}"), vec![format!("{name} = {x}")], "must be > 0"));
            return;
        }
    }
    for (name, x) in
        [("charge_kw", b.charge_kw), ("discharge_kw", b.discharge_kw), ("cycle_cost_per_kwh", b.cycle_cost_per_kwh)]
    {
        if !(x.is_finite() && x >= 0.0) {
            out.push(Conflict::new(format!("{at}.{name}"), vec![format!("{name} = {x}")], "must be ≥ 0"));
            return;
        }
    }
    for (name, x) in [("charge_efficiency", b.charge_efficiency), ("discharge_efficiency", b.discharge_efficiency)] {
        if !(x > 0.0 && x <= 1.0) {
            out.push(Conflict::new(format!("{at}.{name}"), vec![format!("{name} = {x}")], "must be in (0, 1]"));
            return;
        }
    }
    let pct = |x: f64| (0.0..=100.0).contains(&x);
    if !(pct(b.soc_min_pct) && pct(b.soc_max_pct) && b.soc_min_pct <= b.soc_max_pct) {
        out.push(Conflict::new(
            format!("{at}.soc_min_pct"),
            vec![format!("soc_min_pct = {}", b.soc_min_pct), format!("soc_max_pct = {}", b.soc_max_pct)],
            "need 0 ≤ soc_min_pct ≤ soc_max_pct ≤ 100",
        ));
        return;
    }
    if !(b.soc_min_pct..=b.soc_max_pct).contains(&b.soc_start_pct) {
        out.push(Conflict::new(
            format!("{at}.soc_start_pct"),
            vec![
                format!("soc_start_pct = {}", b.soc_start_pct),
                format!("soc_min_pct = {}", b.soc_min_pct),
                format!("soc_max_pct = {}", b.soc_max_pct),
            ],
            "the SOC at the start lies outside the SOC window",
        ));
        return;
    }
    if let Some(target) = b.soc_target_pct {
        if !(b.soc_min_pct..=b.soc_max_pct).contains(&target) {
            out.push(Conflict::new(
                format!("{at}.soc_target_pct"),
                vec![
                    format!("soc_target_pct = {target}"),
                    format!("soc_min_pct = {}", b.soc_min_pct),
                    format!("soc_max_pct = {}", b.soc_max_pct),
                ],
                "the SOC target lies outside the SOC window",
            ));
            return;
        }
        let start_kwh = b.soc_start_pct / 100.0 * b.capacity_kwh;
        let reachable_kwh =
            (start_kwh + b.charge_efficiency * b.charge_kw * dt * n as f64).min(b.soc_max_pct / 100.0 * b.capacity_kwh);
        let target_kwh = target / 100.0 * b.capacity_kwh;
        if target_kwh > reachable_kwh + 1e-9 {
            out.push(Conflict::new(
                format!("{at}.soc_target_pct"),
                vec![
                    format!("soc_target_pct = {target}"),
                    format!("soc_start_pct = {}", b.soc_start_pct),
                    format!("charge_kw = {}", b.charge_kw),
                    format!("charge_efficiency = {}", b.charge_efficiency),
                    format!("capacity_kwh = {}", b.capacity_kwh),
                    format!("horizon = {n} steps of {dt} h"),
                ],
                format!(
                    "the SOC target needs {:.3} kWh but at most {:.3} kWh can be stored by the end",
                    target_kwh, reachable_kwh
                ),
            ));
        }
    }
}

fn explain_flexible(out: &mut Vec<Conflict>, at: &str, l: &FlexibleLoad, n: usize, dt: f64) {
    let end = l.window_end.unwrap_or(n);
    if !(l.window_start < end && end <= n) {
        out.push(Conflict::new(
            format!("{at}.window_end"),
            vec![
                format!("window_start = {}", l.window_start),
                format!("window_end = {end}"),
                format!("horizon.steps = {n}"),
            ],
            "the window must be non-empty and inside the horizon",
        ));
        return;
    }
    if !(l.min_kw >= 0.0
        && l.min_kw <= l.max_kw
        && l.max_kw.is_finite()
        && l.energy_kwh >= 0.0
        && l.energy_kwh.is_finite())
    {
        out.push(Conflict::new(
            format!("{at}.max_kw"),
            vec![
                format!("min_kw = {}", l.min_kw),
                format!("max_kw = {}", l.max_kw),
                format!("energy_kwh = {}", l.energy_kwh),
            ],
            "need 0 ≤ min_kw ≤ max_kw and energy_kwh ≥ 0",
        ));
        return;
    }
    let hours = (end - l.window_start) as f64 * dt;
    let (lo, hi) = (l.min_kw * hours, l.max_kw * hours);
    if l.energy_kwh > hi + 1e-9 || l.energy_kwh < lo - 1e-9 {
        out.push(Conflict::new(
            format!("{at}.energy_kwh"),
            vec![
                format!("energy_kwh = {}", l.energy_kwh),
                format!("min_kw = {}", l.min_kw),
                format!("max_kw = {}", l.max_kw),
                format!("window = steps {}..{end} ({hours} h)", l.window_start),
            ],
            format!("the window can take between {lo} and {hi} kWh"),
        ));
    }
}

fn explain_process(out: &mut Vec<Conflict>, at: &str, p: &ShiftableProcess, n: usize) {
    if p.duration_steps == 0 || p.duration_steps > n || !(p.power_kw.is_finite() && p.power_kw >= 0.0) {
        out.push(Conflict::new(
            format!("{at}.duration_steps"),
            vec![
                format!("duration_steps = {}", p.duration_steps),
                format!("power_kw = {}", p.power_kw),
                format!("horizon.steps = {n}"),
            ],
            "need 1 ≤ duration_steps ≤ steps and power_kw ≥ 0",
        ));
        return;
    }
    let last = n - p.duration_steps;
    let latest = p.latest_start.unwrap_or(last);
    if p.earliest_start > latest.min(last) {
        out.push(Conflict::new(
            format!("{at}.earliest_start"),
            vec![
                format!("earliest_start = {}", p.earliest_start),
                format!("latest_start = {latest}"),
                format!("duration_steps = {}", p.duration_steps),
                format!("horizon.steps = {n}"),
            ],
            format!("no start step fits: the process must start by step {}", latest.min(last)),
        ));
    }
}
