//! Optimal schedules for a VPP: its members' models from their template
//! parameters (scaled by the allocation ratio), prices inline or from a
//! stored price series, solved by `vpp-optim` and stored as `schedule`
//! beliefs in each member's power series.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use vpp_domain::resource::{Resource, ResourceStatus};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
use vpp_domain::template::ResourceType;
use vpp_optim::{
    Asset, Battery, Conflict, FlexibleLoad, Generator, Horizon, Member, Objective, Problem, Schedule, Site, SolveError,
    SolverOptions,
};

use crate::error::{AppError, AppResult};
use vpp_store::Store;

/// Per-member settings of one request.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSettings {
    /// Leave this member out of the schedule.
    #[serde(default)]
    pub exclude: bool,
    /// Battery: SOC at the start, % (default: the last reported SOC, else 50 %).
    pub soc_start_pct: Option<f64>,
    /// Battery: lowest SOC at the end, % (default: the SOC at the start).
    pub soc_target_pct: Option<f64>,
    /// Flexible loads (EV chargers, heat pumps, HVAC, industrial loads): energy to deliver, kWh.
    pub energy_kwh: Option<f64>,
    /// Flexible loads: first step of the window.
    pub window_start: Option<usize>,
    /// Flexible loads: step after the window.
    pub window_end: Option<usize>,
    /// PV and wind: forecast per step, kW (default: the latest stored forecast).
    pub forecast_kw: Option<Vec<f64>>,
}

/// A scheduling request. Times are in `tz`; the default horizon is the next
/// delivery day in 15-minute steps.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// First step (default: the start of `day`, else of tomorrow in `tz`).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    /// Delivery day (YYYY-MM-DD) in `tz`; sets start and steps.
    #[schema(value_type = Option<String>, format = Date)]
    pub day: Option<Date>,
    /// Market time zone (default Europe/Berlin).
    pub tz: Option<String>,
    /// Number of steps (default: the whole day, 92/96/100 quarter-hours).
    pub steps: Option<usize>,
    /// Step length, minutes (default 15).
    pub step_minutes: Option<u32>,
    /// Prices per step, €/MWh.
    pub prices: Option<Vec<f64>>,
    /// Or: a stored price series (its latest values).
    pub price_series_id: Option<String>,
    /// Feed-in prices per step, €/MWh (default: the prices).
    pub export_prices: Option<Vec<f64>>,
    /// Uncontrollable net load per step, kW.
    pub base_load_kw: Option<Vec<f64>>,
    /// Highest import, kW.
    pub import_limit_kw: Option<f64>,
    /// Highest export, kW.
    pub export_limit_kw: Option<f64>,
    /// Demand charge on the peak import, €/kW.
    pub peak_charge_per_kw: Option<f64>,
    /// `cost` (default) or `peak_shaving`.
    pub objective: Option<Objective>,
    /// Settings per member resource id.
    #[serde(default)]
    pub members: BTreeMap<String, MemberSettings>,
    /// Solver, time limit and MIP gap.
    pub solver: Option<SolverOptions>,
    /// Store the result as `schedule` beliefs (default true).
    pub store: Option<bool>,
    /// Safety margin kept at both ends of every battery's SOC window for
    /// forecast error, percentage points (default 0): a 10..90 % window
    /// with 5 becomes 15..85 % (widened again to include the SOC at start).
    pub soc_headroom_pct: Option<f64>,
    /// Share of every member's power limits left unscheduled for
    /// re-dispatch, % (default 0): 10 schedules at most 90 % of them.
    pub power_headroom_pct: Option<f64>,
}

/// One step's start.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepTime {
    /// UTC.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// In the requested time zone.
    pub start_local: String,
}

/// A member that is not in the schedule, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeftOut {
    /// Resource id.
    pub resource_id: String,
    /// Why.
    pub reason: String,
}

/// The schedule with its time axis.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleResponse {
    /// VPP.
    pub vpp_id: String,
    /// Time zone of `start_local`.
    pub tz: String,
    /// Step length, seconds.
    pub step_s: u32,
    /// Start of each step.
    pub times: Vec<StepTime>,
    /// Prices used, €/MWh.
    pub prices: Vec<f64>,
    /// Members left out, with the reason.
    pub left_out: Vec<LeftOut>,
    /// Name of every member, by resource id.
    pub names: BTreeMap<String, String>,
    /// The optimal schedule.
    pub schedule: Schedule,
    /// When stored: the belief time of the stored `schedule` beliefs.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stored_at: Option<Timestamp>,
    /// Beliefs stored.
    pub stored_beliefs: u64,
    /// Members whose schedule could not be stored, and why.
    pub not_stored: Vec<LeftOut>,
}

/// Computes (and by default stores) a schedule for VPP `id`: the work behind
/// `POST /api/v1/vpp/vpps/{id}/schedules`, `vpp schedule` and the demo.
pub async fn schedule_vpp(store: &Store, id: &str, r: &ScheduleRequest) -> AppResult<ScheduleResponse> {
    let vpp = store.get_vpp(id).await?;
    let tz_name = r.tz.clone().unwrap_or_else(|| "Europe/Berlin".into());
    let tz = TimeZone::get(&tz_name).map_err(|_| AppError::invalid("tz", format!("unknown time zone `{tz_name}`")))?;
    let (start, step, steps) = horizon(r, &tz)?;
    for id in r.members.keys() {
        if !vpp.members.iter().any(|m| &m.resource_id == id) {
            return Err(AppError::invalid(format!("members.{id}"), "not a member of this VPP"));
        }
    }
    let prices = prices(store, r, start, step, steps).await?;
    let margins = Margins::of(r)?;
    let mut members = Vec::new();
    let mut left_out = Vec::new();
    let mut names = BTreeMap::new();
    for m in &vpp.members {
        let settings = r.members.get(&m.resource_id).cloned().unwrap_or_default();
        let resource = store.get_resource(&m.resource_id).await?;
        names.insert(resource.id.clone(), resource.name.clone());
        match model(store, &resource, m.allocation_ratio.get(), &settings, (start, step, steps), margins).await? {
            Ok(asset) => members.push(Member { id: resource.id.clone(), asset }),
            Err(reason) => left_out.push(LeftOut { resource_id: resource.id.clone(), reason }),
        }
    }
    let problem = Problem {
        horizon: Horizon { steps, step_s: step.as_secs() as u32 },
        site: Site {
            import_price: prices.clone(),
            export_price: r.export_prices.clone(),
            base_load_kw: r.base_load_kw.clone(),
            import_limit_kw: r.import_limit_kw,
            export_limit_kw: r.export_limit_kw,
            peak_charge_per_kw: r.peak_charge_per_kw,
        },
        members,
        objective: r.objective.unwrap_or_default(),
    };
    let options = r.solver.unwrap_or_default();
    if !(options.time_limit_s > 0.0 && options.time_limit_s <= 3600.0) {
        return Err(AppError::invalid(
            "solver.time_limit_s",
            format!("must be in (0, 3600], got {}", options.time_limit_s),
        ));
    }
    if !(0.0..=1.0).contains(&options.mip_gap) {
        return Err(AppError::invalid("solver.mip_gap", format!("must be in [0, 1], got {}", options.mip_gap)));
    }
    let ids: Vec<String> = problem.members.iter().map(|m| m.id.clone()).collect();
    // The solver is CPU-bound; keep it off the async workers.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let schedule = tokio::task::spawn_blocking(move || vpp_optim::solve_fleet(&problem, &options, threads))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| solve_error(e, &ids))?;
    let times = step_times(start, step, steps, &tz);
    let (stored_at, stored_beliefs, not_stored) = if r.store.unwrap_or(true) {
        let (at, n, not_stored) = store_schedule(store, &schedule, start, step).await?;
        (Some(at), n, not_stored)
    } else {
        (None, 0, Vec::new())
    };
    let response = ScheduleResponse {
        vpp_id: vpp.id,
        tz: tz_name,
        step_s: step.as_secs() as u32,
        times,
        prices,
        left_out,
        names,
        schedule,
        stored_at,
        stored_beliefs,
        not_stored,
    };
    Ok(response)
}

/// The start of each of `steps` steps, in UTC and in `tz`.
fn step_times(start: Timestamp, step: SignedDuration, steps: usize, tz: &TimeZone) -> Vec<StepTime> {
    (0..steps)
        .map(|k| {
            let t = start + step * k as i32;
            StepTime { start: t, start_local: t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string() }
        })
        .collect()
}

/// Start, step and number of steps.
fn horizon(r: &ScheduleRequest, tz: &TimeZone) -> AppResult<(Timestamp, SignedDuration, usize)> {
    let minutes = r.step_minutes.unwrap_or(15);
    if !(1..=1440).contains(&minutes) {
        return Err(AppError::invalid("step_minutes", format!("must be 1..=1440, got {minutes}")));
    }
    let step = SignedDuration::from_mins(i64::from(minutes));
    let bad_day = |e: jiff::Error| AppError::invalid("day", e.to_string());
    let (start, day_end) = match (r.start, r.day) {
        (Some(_), Some(_)) => return Err(AppError::invalid("day", "give start or day, not both")),
        (Some(start), None) => (start, None),
        (None, day) => {
            let day = match day {
                Some(d) => d,
                None => Timestamp::now().to_zoned(tz.clone()).date().tomorrow().map_err(bad_day)?,
            };
            let from = day.to_zoned(tz.clone()).map_err(bad_day)?.timestamp();
            let to = day.checked_add(1.day()).map_err(bad_day)?.to_zoned(tz.clone()).map_err(bad_day)?.timestamp();
            (from, Some(to))
        }
    };
    let steps = match (r.steps, day_end) {
        (Some(n), _) => n,
        (None, Some(end)) => (end.duration_since(start).as_secs() / step.as_secs()) as usize,
        (None, None) => (86_400 / step.as_secs()) as usize,
    };
    if steps == 0 || steps > vpp_optim::MAX_STEPS {
        return Err(AppError::invalid("steps", format!("must be 1..={}, got {steps}", vpp_optim::MAX_STEPS)));
    }
    Ok((start, step, steps))
}

/// Prices inline, or the latest values of a stored price series, one per step.
async fn prices(
    store: &Store,
    r: &ScheduleRequest,
    start: Timestamp,
    step: SignedDuration,
    steps: usize,
) -> AppResult<Vec<f64>> {
    match (&r.prices, &r.price_series_id) {
        (Some(_), Some(_)) => Err(AppError::invalid("price_series_id", "give prices or price_series_id, not both")),
        (None, None) => Err(AppError::invalid("prices", "give prices (€/MWh per step) or a price_series_id")),
        (Some(p), None) => Ok(p.clone()),
        (None, Some(series_id)) => {
            let (key, series) = store.get_series(series_id).await.map_err(|e| match e {
                vpp_store::StoreError::NotFound { .. } => {
                    AppError::invalid("price_series_id", format!("series `{series_id}` does not exist"))
                }
                other => other.into(),
            })?;
            if series.quantity != Quantity::Price {
                return Err(AppError::invalid("price_series_id", "the series does not hold prices"));
            }
            let from = start.as_microsecond();
            let to = (start + step * steps as i32).as_microsecond();
            let grid = series.resolution_s * 1_000_000;
            let values =
                store.newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Price, (from, to), grid)).await?;
            per_step(&values, from, step.as_micros() as i64, steps, grid).map_err(|k| {
                let at = Timestamp::from_microsecond(from + k as i64 * step.as_micros() as i64).unwrap_or(start);
                AppError::invalid("price_series_id", format!("no price for step {k} ({at})"))
            })
        }
    }
}

/// One member's stored plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredMember {
    /// Resource id.
    pub id: String,
    /// Planned power per step, kW (positive = injection); null where
    /// nothing is stored.
    pub power_kw: Vec<Option<f64>>,
}

/// The plan stored for a VPP's delivery day: the newest `schedule` belief
/// of each member's power series, per 15-minute step.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredSchedule {
    /// VPP.
    pub vpp_id: String,
    /// Time zone of `day` and of `start_local`.
    pub tz: String,
    /// Delivery day.
    #[schema(value_type = String, format = Date)]
    pub day: Date,
    /// Step length, seconds (900).
    pub step_s: u32,
    /// Start of each step.
    pub times: Vec<StepTime>,
    /// Name of every member, by resource id.
    pub names: BTreeMap<String, String>,
    /// Members with at least one stored step; empty when no plan is stored.
    pub members: Vec<StoredMember>,
    /// Belief time of the newest stored value, if any.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stored_at: Option<Timestamp>,
}

/// The stored plan of VPP `id` for `day` (default tomorrow) in `tz`
/// (default Europe/Berlin):
/// the work behind `GET /api/v1/vpp/vpps/{id}/schedules`, so the console
/// shows the plan in force without solving again.
pub async fn stored_schedule(
    store: &Store,
    id: &str,
    day: Option<Date>,
    tz: Option<&str>,
) -> AppResult<StoredSchedule> {
    let vpp = store.get_vpp(id).await?;
    let tz_name = tz.unwrap_or("Europe/Berlin").to_string();
    let zone =
        TimeZone::get(&tz_name).map_err(|_| AppError::invalid("tz", format!("unknown time zone `{tz_name}`")))?;
    let bad_day = |e: jiff::Error| AppError::invalid("day", e.to_string());
    let day = match day {
        Some(d) => d,
        None => vpp_store::now().to_zoned(zone.clone()).date().tomorrow().map_err(bad_day)?,
    };
    let from = day.to_zoned(zone.clone()).map_err(bad_day)?.timestamp();
    let to = day.checked_add(1.day()).map_err(bad_day)?.to_zoned(zone.clone()).map_err(bad_day)?.timestamp();
    let step = SignedDuration::from_mins(15);
    let step_us = step.as_micros() as i64;
    let (from_us, to_us) = (from.as_microsecond(), to.as_microsecond());
    let steps = ((to_us - from_us) / step_us) as usize;
    let times = step_times(from, step, steps, &zone);
    let mut names = BTreeMap::new();
    let mut members = Vec::new();
    let mut newest: Option<i64> = None;
    for m in &vpp.members {
        let resource = store.get_resource(&m.resource_id).await?;
        names.insert(resource.id.clone(), resource.name.clone());
        let Some((key, series)) = store.find_series(OwnerKind::Resource, &resource.id, Quantity::Power).await? else {
            continue;
        };
        let grid = series.resolution_s * 1_000_000;
        let query = vpp_store::BeliefQuery::latest(key, SourceKind::Schedule, (from_us, to_us), grid);
        let beliefs = store.newest_beliefs(&query).await?;
        if beliefs.is_empty() {
            continue;
        }
        let mut power_kw = vec![None; steps];
        for b in &beliefs {
            newest = newest.max(Some(b.belief_time_us));
            // A value covers its interval: one step, or several of a coarser series.
            let first = (b.event_start_us - from_us).div_euclid(step_us).max(0) as usize;
            let last = ((b.event_start_us + grid - from_us + step_us - 1).div_euclid(step_us) as usize).min(steps);
            for slot in power_kw.iter_mut().take(last).skip(first) {
                *slot = Some(b.value);
            }
        }
        members.push(StoredMember { id: resource.id, power_kw });
    }
    let stored_at = newest.and_then(|us| Timestamp::from_microsecond(us).ok());
    Ok(StoredSchedule {
        vpp_id: vpp.id,
        tz: tz_name,
        day,
        step_s: step.as_secs() as u32,
        times,
        names,
        members,
        stored_at,
    })
}

/// Which moment of the stored schedule to dispatch.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDispatchRequest {
    /// A time inside the interval to dispatch (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
}

/// One member's setpoint taken from the schedule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduledInstruction {
    /// Instruction id, for `GET /api/v1/vpp/trading/execution-status/{id}`.
    pub instruction_id: String,
    /// Resource.
    pub resource_id: String,
    /// Setpoint, kW.
    pub target_kw: f64,
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Interval end (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

/// The dispatch made from the schedule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleDispatchResponse {
    /// Dispatch id (mode `schedule`).
    pub dispatch_id: String,
    /// VPP.
    pub vpp_id: String,
    /// Σ setpoints, kW.
    pub target_kw: f64,
    /// Per member.
    pub instructions: Vec<ScheduledInstruction>,
    /// Members without a setpoint, and why.
    pub not_dispatched: Vec<LeftOut>,
}

/// Turns the stored schedule of VPP `id` for the interval containing `at`
/// (default now) into tracked dispatch instructions: the work behind
/// `POST /api/v1/vpp/vpps/{id}/schedules/dispatch`, shared with the demo.
pub async fn dispatch_stored_schedule(
    store: &Store,
    id: &str,
    at: Option<Timestamp>,
) -> AppResult<ScheduleDispatchResponse> {
    let id = id.to_string();
    let vpp = store.get_vpp(&id).await?;
    crate::dispatch::require_active(&id, vpp.status)?;
    let now = vpp_store::now();
    let at = at.unwrap_or(now).as_microsecond();
    let dispatch_id = vpp_store::new_id();
    let mut instructions = Vec::new();
    let mut not_dispatched = Vec::new();
    for m in &vpp.members {
        let resource = store.get_resource(&m.resource_id).await?;
        if resource.status != ResourceStatus::Online {
            not_dispatched
                .push(LeftOut { resource_id: resource.id, reason: format!("status is {}", resource.status.as_str()) });
            continue;
        }
        let Some((start, end, setpoint)) = store.scheduled_power(&resource.id, at).await? else {
            not_dispatched.push(LeftOut { resource_id: resource.id, reason: "no schedule for this interval".into() });
            continue;
        };
        let ts = |us: i64| Timestamp::from_microsecond(us).map_err(AppError::internal);
        instructions.push(vpp_store::InstructionRecord {
            id: vpp_store::new_id(),
            dispatch_id: dispatch_id.clone(),
            resource_id: resource.id,
            target_kw: setpoint,
            start: ts(start)?,
            end: ts(end)?,
        });
    }
    if instructions.is_empty() {
        return Err(AppError::conflict_at(
            "at",
            format!(
                "no member of VPP `{id}` has a stored schedule for {}",
                Timestamp::from_microsecond(at).map(|t| t.to_string()).unwrap_or_default()
            ),
        )
        .with("not_dispatched", &not_dispatched));
    }
    let target_kw: f64 = instructions.iter().map(|i| i.target_kw).sum();
    let start = instructions.iter().map(|i| i.start).min().unwrap_or(now);
    let end = instructions.iter().map(|i| i.end).max().unwrap_or(now);
    let record = vpp_store::DispatchRecord {
        id: dispatch_id.clone(),
        vpp_id: id.clone(),
        target_kw,
        start,
        end,
        mode: vpp_domain::fleet::DispatchOrigin::Schedule,
        total_dispatched_kw: target_kw,
        unmet_kw: 0.0,
        created_at: now,
        instructions,
    };
    store.save_dispatch(&record).await?;
    let instructions = record
        .instructions
        .iter()
        .map(|i| ScheduledInstruction {
            instruction_id: i.id.clone(),
            resource_id: i.resource_id.clone(),
            target_kw: i.target_kw,
            start: i.start,
            end: i.end,
        })
        .collect();
    Ok(ScheduleDispatchResponse { dispatch_id, vpp_id: id, target_kw, instructions, not_dispatched })
}

/// Safety margins of one request.
#[derive(Debug, Clone, Copy)]
struct Margins {
    /// Percentage points off both ends of a SOC window.
    soc_pct: f64,
    /// Factor on power limits, 0..1.
    power: f64,
}

impl Margins {
    fn of(r: &ScheduleRequest) -> AppResult<Self> {
        let soc_pct = r.soc_headroom_pct.unwrap_or(0.0);
        if !(0.0..=25.0).contains(&soc_pct) {
            return Err(AppError::invalid("soc_headroom_pct", format!("must be 0..=25, got {soc_pct}")));
        }
        let power = r.power_headroom_pct.unwrap_or(0.0);
        if !(0.0..=90.0).contains(&power) {
            return Err(AppError::invalid("power_headroom_pct", format!("must be 0..=90, got {power}")));
        }
        Ok(Self { soc_pct, power: 1.0 - power / 100.0 })
    }
}

fn param(r: &Resource, name: &str) -> Option<f64> {
    r.parameters.get(name).and_then(serde_json::Value::as_f64)
}

/// The optimiser's model of a member, or why it has none.
async fn model(
    store: &Store,
    r: &Resource,
    ratio: f64,
    settings: &MemberSettings,
    (start, step, steps): (Timestamp, SignedDuration, usize),
    margins: Margins,
) -> AppResult<Result<Asset, String>> {
    if settings.exclude {
        return Ok(Err("excluded by the request".into()));
    }
    if r.status != ResourceStatus::Online {
        return Ok(Err(format!("status is {}", r.status.as_str())));
    }
    let field = |name: &str| format!("members.{}.{name}", r.id);
    let need = |name: &str| param(r, name).ok_or_else(|| format!("parameter {name} missing"));
    let minutes = step.as_secs() as f64 / 60.0;
    let flexible = |max_kw: f64, min_kw: f64, settings: &MemberSettings| -> Result<Asset, String> {
        let Some(energy) = settings.energy_kwh else {
            return Err("a flexible load needs members.{id}.energy_kwh in the request".into());
        };
        Ok(Asset::FlexibleLoad(FlexibleLoad {
            energy_kwh: energy,
            min_kw: (min_kw * ratio).min(max_kw * ratio * margins.power),
            max_kw: max_kw * ratio * margins.power,
            window_start: settings.window_start.unwrap_or(0),
            window_end: settings.window_end,
        }))
    };
    let asset = match r.resource_type {
        ResourceType::Battery => {
            let soc_start = match settings.soc_start_pct {
                Some(x) => x,
                None => store.latest_telemetry(&r.id).await?.and_then(|(t, _)| t.soc_pct).unwrap_or(50.0),
            };
            let round_trip = param(r, "round_trip_efficiency").unwrap_or(0.9);
            // The headroom narrows the window, but never past the SOC at start.
            let (lo, hi) = (param(r, "soc_min_pct").unwrap_or(0.0), param(r, "soc_max_pct").unwrap_or(100.0));
            let (lo, hi) = ((lo + margins.soc_pct).min(soc_start), (hi - margins.soc_pct).max(soc_start));
            let (lo, hi) = if lo <= hi { (lo, hi) } else { (soc_start, soc_start) };
            let power = ratio * margins.power;
            (|| {
                Ok(Asset::Battery(Battery {
                    capacity_kwh: need("usable_energy_kwh")? * ratio,
                    charge_kw: need("max_charge_kw")? * power,
                    discharge_kw: need("max_discharge_kw")? * power,
                    charge_efficiency: round_trip.sqrt(),
                    discharge_efficiency: round_trip.sqrt(),
                    soc_start_pct: soc_start,
                    soc_min_pct: lo,
                    soc_max_pct: hi,
                    soc_target_pct: Some(settings.soc_target_pct.unwrap_or(soc_start)),
                    cycle_cost_per_kwh: param(r, "cycle_cost_per_kwh").unwrap_or(0.0),
                }))
            })()
        }
        ResourceType::Pv | ResourceType::Wind => {
            let forecast = match &settings.forecast_kw {
                Some(f) => {
                    if f.len() != steps {
                        return Err(AppError::invalid(field("forecast_kw"), format!("needs {steps} values")));
                    }
                    Some(f.iter().map(|x| x * ratio).collect())
                }
                None => stored_forecast(store, &r.id, start, step, steps)
                    .await?
                    .map(|f| f.iter().map(|x| x * ratio).collect()),
            };
            match forecast {
                Some(forecast_kw) => Ok(Asset::Curtailable { forecast_kw }),
                None => {
                    Err("no power forecast covers the horizon (store one, or give members.{id}.forecast_kw)".into())
                }
            }
        }
        ResourceType::DieselGenerator | ResourceType::Chp => {
            let (max, min) = if r.resource_type == ResourceType::Chp {
                (need("electrical_kw"), param(r, "min_electrical_kw").unwrap_or(0.0))
            } else {
                (need("rated_kw"), param(r, "min_stable_kw").unwrap_or(0.0))
            };
            let steps_of = |name: &str| (param(r, name).unwrap_or(0.0) / minutes).ceil() as usize;
            max.map(|max_kw| {
                Asset::Generator(Generator {
                    min_kw: (min * ratio).min(max_kw * ratio * margins.power),
                    max_kw: max_kw * ratio * margins.power,
                    marginal_cost: param(r, "fuel_cost_per_mwh").unwrap_or(r.marginal_cost),
                    start_cost: param(r, "start_cost").unwrap_or(0.0) * ratio,
                    min_up_steps: steps_of("min_up_minutes"),
                    min_down_steps: steps_of("min_down_minutes"),
                    initially_on: false,
                })
            })
        }
        ResourceType::EvCharger => {
            let session = store.running_session(vpp_store::SessionOf::Resource(&r.id)).await?;
            // `min_charge_kw` is the smallest power while charging, not a
            // floor: a linear model has no off state, so the floor is 0. A
            // need the request did not name is capped at what the window
            // allows (the request's own is taken as asked).
            need("max_charge_kw").and_then(|max| {
                let needs =
                    ev_needs(param(r, "default_session_kwh"), settings, session.as_ref(), (start, step, steps))?;
                let needs = match settings.energy_kwh {
                    Some(_) => needs,
                    None => cap_energy(needs, max * ratio * margins.power, step, steps),
                };
                flexible(max, 0.0, &needs)
            })
        }
        ResourceType::HeatPump => need("rated_electrical_kw").and_then(|max| flexible(max, 0.0, settings)),
        ResourceType::Hvac => need("rated_kw").and_then(|max| flexible(max, 0.0, settings)),
        ResourceType::IndustrialLoad => {
            need("max_load_kw").and_then(|max| flexible(max, param(r, "min_load_kw").unwrap_or(0.0), settings))
        }
        ResourceType::Other => Err("resources of type OTHER have no schedule model".into()),
    };
    Ok(asset.map_err(|reason| reason.replace("{id}", &r.id)))
}

/// An EV charger's energy and window: the request's, else what the
/// vehicle on it said (NotifyEVChargingNeeds: the energy still needed, due
/// by its departure), else the template's `default_session_kwh` over the
/// whole horizon.
fn ev_needs(
    default_session_kwh: Option<f64>,
    settings: &MemberSettings,
    session: Option<&vpp_store::ChargingSession>,
    (start, step, steps): (Timestamp, SignedDuration, usize),
) -> Result<MemberSettings, String> {
    if settings.energy_kwh.is_some() {
        return Ok(settings.clone());
    }
    // A vehicle that leaves before the horizon starts is not the one to plan for.
    let staying = session.filter(|s| s.departure_at.is_none_or(|d| d > start));
    if let Some(need) = staying.and_then(|s| s.energy_need_kwh) {
        // Whole steps before the departure.
        let window_end = match staying.and_then(|s| s.departure_at) {
            Some(d) => Some(((d.duration_since(start).as_secs() / step.as_secs().max(1)) as usize).clamp(1, steps)),
            None => settings.window_end,
        };
        return Ok(MemberSettings { energy_kwh: Some(need), window_end, ..settings.clone() });
    }
    match default_session_kwh {
        Some(kwh) => Ok(MemberSettings { energy_kwh: Some(kwh), ..settings.clone() }),
        None => Err("an EV charger needs members.{id}.energy_kwh, a vehicle that states its need over OCPP, \
                     or the parameter default_session_kwh"
            .into()),
    }
}

/// At most what the charger can deliver in its window at `max_kw`: a
/// vehicle asking for more (or a default larger than the window allows)
/// gets all it can instead of making the schedule infeasible.
fn cap_energy(mut needs: MemberSettings, max_kw: f64, step: SignedDuration, steps: usize) -> MemberSettings {
    let window = needs.window_end.unwrap_or(steps).min(steps).saturating_sub(needs.window_start.unwrap_or(0));
    let deliverable = max_kw * window as f64 * step.as_secs_f64() / 3600.0;
    needs.energy_kwh = needs.energy_kwh.map(|e| e.min(deliverable));
    needs
}

/// The latest stored power forecast of a resource, one value per step, if
/// every step is covered.
async fn stored_forecast(
    store: &Store,
    resource_id: &str,
    start: Timestamp,
    step: SignedDuration,
    steps: usize,
) -> AppResult<Option<Vec<f64>>> {
    let Some((key, series)) = store.find_series(OwnerKind::Resource, resource_id, Quantity::Power).await? else {
        return Ok(None);
    };
    let grid = series.resolution_s * 1_000_000;
    let from = start.as_microsecond();
    let step_us = step.as_micros() as i64;
    let to = from + steps as i64 * step_us;
    let values =
        store.newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Forecast, (from, to), grid)).await?;
    Ok(per_step(&values, from, step_us, steps, grid).ok().map(|v| v.into_iter().map(|x| x.max(0.0)).collect()))
}

/// One value per step from values sorted by interval start, each holding for
/// its interval of `grid_us` (which may be longer than a step); the first
/// step without a value is the error.
fn per_step(
    values: &[vpp_domain::series::Selected],
    from_us: i64,
    step_us: i64,
    steps: usize,
    grid_us: i64,
) -> Result<Vec<f64>, usize> {
    (0..steps)
        .map(|k| {
            let t = from_us + k as i64 * step_us;
            let after = values.partition_point(|v| v.event_start_us <= t);
            match after.checked_sub(1).map(|i| &values[i]) {
                Some(v) if t < v.event_start_us + grid_us => Ok(v.value),
                _ => Err(k),
            }
        })
        .collect()
}

/// Stores each member's power as `schedule` beliefs in its power series,
/// one belief per series interval (a 60-minute step fills four 15-minute
/// intervals). A member whose series grid does not divide the step is not
/// stored and named with the reason.
async fn store_schedule(
    store: &Store,
    schedule: &Schedule,
    start: Timestamp,
    step: SignedDuration,
) -> AppResult<(Timestamp, u64, Vec<LeftOut>)> {
    let belief_time = vpp_store::now();
    let step_us = step.as_micros() as i64;
    let mut stored = 0;
    let mut not_stored = Vec::new();
    for m in &schedule.members {
        // A new series is named after its resource; the name is looked up only then.
        let (key, series) = match store.find_series(OwnerKind::Resource, &m.id, Quantity::Power).await? {
            Some(found) => found,
            None => {
                let name = store.get_resource(&m.id).await.map(|r| r.name).unwrap_or_else(|_| m.id.clone());
                store.ensure_series(OwnerKind::Resource, &m.id, Quantity::Power, &format!("{name} power")).await?
            }
        };
        let grid = series.resolution_s * 1_000_000;
        if step_us % grid != 0 || start.as_microsecond().rem_euclid(grid) != 0 {
            not_stored.push(LeftOut {
                resource_id: m.id.clone(),
                reason: format!(
                    "its power series has {} s intervals, which do not tile the steps",
                    series.resolution_s
                ),
            });
            continue;
        }
        let per_step = (step_us / grid) as usize;
        let beliefs: Vec<Belief> = m
            .power_kw
            .iter()
            .enumerate()
            .flat_map(|(k, kw)| {
                (0..per_step).map(move |j| Belief {
                    event_start_us: start.as_microsecond() + k as i64 * step_us + j as i64 * grid,
                    belief_time_us: belief_time.as_microsecond(),
                    source: SourceKind::Schedule,
                    value: *kw,
                })
            })
            .collect();
        stored += store.insert_beliefs(key, &beliefs).await?;
    }
    Ok((belief_time, stored, not_stored))
}

fn solve_error(e: SolveError, ids: &[String]) -> AppError {
    match e {
        SolveError::Infeasible(conflicts) => {
            infeasible(conflicts.into_iter().map(|c| in_request_terms(c, ids)).collect())
        }
        SolveError::Solver(detail) => AppError::Solver(detail),
    }
}

/// Renames the optimiser's field paths to the request's: `members[2].x`
/// becomes `members.{resource id}.x`, `site.import_price` becomes `prices`.
fn in_request_terms(mut c: Conflict, ids: &[String]) -> Conflict {
    let renamed = [
        ("site.import_price", "prices"),
        ("site.export_price", "export_prices"),
        ("site.base_load_kw", "base_load_kw"),
        ("site.import_limit_kw", "import_limit_kw"),
        ("site.export_limit_kw", "export_limit_kw"),
        ("site.peak_charge_per_kw", "peak_charge_per_kw"),
        ("horizon.steps", "steps"),
        ("horizon.step_s", "step_minutes"),
    ];
    if let Some((from, to)) = renamed.iter().find(|(from, _)| c.field.starts_with(from)) {
        c.field = c.field.replacen(from, to, 1);
    } else if let Some(rest) = c.field.strip_prefix("members[")
        && let Some((index, tail)) = rest.split_once(']')
        && let Some(id) = index.parse::<usize>().ok().and_then(|i| ids.get(i))
    {
        c.field = format!("members.{id}{tail}");
    }
    c
}

fn infeasible(conflicts: Vec<Conflict>) -> AppError {
    AppError::Infeasible(conflicts)
}

#[cfg(test)]
mod ev_tests {
    use super::*;

    fn session(need: Option<f64>, departure: Option<&str>) -> vpp_store::ChargingSession {
        vpp_store::ChargingSession {
            station_id: "CS-1".into(),
            transaction_id: "T-1".into(),
            resource_id: "r".into(),
            evse_id: Some(1),
            id_token: None,
            started_at: "2026-12-07T08:00:00Z".parse().unwrap(),
            ended_at: None,
            energy_kwh: Some(2.0),
            energy_need_kwh: need,
            departure_at: departure.map(|d| d.parse().unwrap()),
        }
    }

    #[test]
    fn an_ev_plans_the_request_else_the_vehicles_need_by_its_departure_else_the_default() {
        let start: Timestamp = "2026-12-07T09:00:00Z".parse().unwrap();
        let horizon = (start, SignedDuration::from_mins(15), 16);
        let asked = MemberSettings { energy_kwh: Some(5.0), ..MemberSettings::default() };
        let s = session(Some(24.0), Some("2026-12-07T11:10:00Z"));
        assert_eq!(ev_needs(Some(20.0), &asked, Some(&s), horizon).unwrap().energy_kwh, Some(5.0));
        let none = MemberSettings::default();
        let from_vehicle = ev_needs(Some(20.0), &none, Some(&s), horizon).unwrap();
        // 2 h 10 min: eight whole quarter-hours before the departure.
        assert_eq!((from_vehicle.energy_kwh, from_vehicle.window_end), (Some(24.0), Some(8)));
        // A vehicle gone before the horizon: the default instead.
        let gone = session(Some(24.0), Some("2026-12-07T08:30:00Z"));
        assert_eq!(ev_needs(Some(20.0), &none, Some(&gone), horizon).unwrap().energy_kwh, Some(20.0));
        // Eight quarter-hours at 11 kW deliver 22 kWh at most.
        let capped = cap_energy(from_vehicle.clone(), 11.0, SignedDuration::from_mins(15), 16);
        assert_eq!(capped.energy_kwh, Some(22.0));
        let default = ev_needs(Some(20.0), &none, Some(&session(None, None)), horizon).unwrap();
        assert_eq!((default.energy_kwh, default.window_end), (Some(20.0), None));
        assert!(ev_needs(None, &none, None, horizon).unwrap_err().contains("default_session_kwh"));
    }
}
