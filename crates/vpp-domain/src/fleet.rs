//! Fleet arithmetic: what a VPP can do now (aggregation) and how a power
//! target is split across its members (dispatch).
//!
//! A [`Fleet`] is columnar (one `Vec` per field) so that aggregation and
//! dispatch over a million members are linear scans without per-member
//! allocation.
//!
//! Sign convention: positive power is injection into the grid (generation,
//! discharge, less consumption is *not* modelled here), negative power is
//! absorption (charging, consumption). Every figure is already scaled by the
//! member's allocation ratio.

use serde::{Deserialize, Serialize};

use crate::resource::{ResourceStatus, StorageModel};
use crate::template::ResourceCategory;

/// One member as loaded from the store.
#[derive(Debug, Clone)]
pub struct FleetMember {
    /// Category of the resource.
    pub category: ResourceCategory,
    /// Current status.
    pub status: ResourceStatus,
    /// Allocation ratio in (0, 1].
    pub ratio: f64,
    /// Rated power, kW.
    pub capacity_kw: f64,
    /// Lowest setpoint while running, kW.
    pub min_power_kw: f64,
    /// Highest setpoint, kW.
    pub max_power_kw: f64,
    /// Efficiency in (0, 1].
    pub efficiency: f64,
    /// Response time, s.
    pub response_time_s: f64,
    /// Marginal cost, currency/MWh.
    pub marginal_cost: f64,
    /// Dispatch priority, lower first.
    pub priority: i32,
    /// Storage model and latest SOC (fraction, `None` if never reported).
    pub storage: Option<(StorageModel, Option<f64>)>,
    /// How far the weather lets it produce: see [`Output`].
    pub output: Output,
}

/// Whether a member's output is its own to set, or the weather's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Output {
    /// Runs up to its limits whenever asked (engines, batteries, loads).
    #[default]
    Dispatchable,
    /// PV and wind: it can be curtailed but not raised above what the
    /// weather gives. `now_kw` is that output now (a fresh measurement),
    /// `None` when unknown; an unknown output offers nothing.
    Weather {
        /// Output the weather allows now, kW, before the ratio.
        now_kw: Option<f64>,
    },
}

/// A VPP's members in columnar form. Index `i` is the same member in every column.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    category: Vec<u8>,
    status: Vec<u8>,
    ratio: Vec<f64>,
    capacity_kw: Vec<f64>,
    min_kw: Vec<f64>,
    max_kw: Vec<f64>,
    efficiency: Vec<f64>,
    response_s: Vec<f64>,
    marginal_cost: Vec<f64>,
    priority: Vec<i32>,
    /// 0 for members that store no energy.
    energy_kwh: Vec<f64>,
    /// SOC fraction; NaN when unknown.
    soc: Vec<f64>,
    soc_min: Vec<f64>,
    soc_max: Vec<f64>,
    eta_charge: Vec<f64>,
    eta_discharge: Vec<f64>,
    /// True for PV and wind (see [`Output::Weather`]).
    weather: Vec<bool>,
    /// Their output now, kW; NaN when unknown or dispatchable.
    weather_kw: Vec<f64>,
}

impl Fleet {
    /// An empty fleet with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            category: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            ratio: Vec::with_capacity(n),
            capacity_kw: Vec::with_capacity(n),
            min_kw: Vec::with_capacity(n),
            max_kw: Vec::with_capacity(n),
            efficiency: Vec::with_capacity(n),
            response_s: Vec::with_capacity(n),
            marginal_cost: Vec::with_capacity(n),
            priority: Vec::with_capacity(n),
            energy_kwh: Vec::with_capacity(n),
            soc: Vec::with_capacity(n),
            soc_min: Vec::with_capacity(n),
            soc_max: Vec::with_capacity(n),
            eta_charge: Vec::with_capacity(n),
            eta_discharge: Vec::with_capacity(n),
            weather: Vec::with_capacity(n),
            weather_kw: Vec::with_capacity(n),
        }
    }

    /// Appends a member.
    pub fn push(&mut self, m: &FleetMember) {
        self.category.push(m.category.index() as u8);
        self.status.push(ResourceStatus::ALL.iter().position(|s| *s == m.status).unwrap_or(1) as u8);
        self.ratio.push(m.ratio);
        self.capacity_kw.push(m.capacity_kw);
        self.min_kw.push(m.min_power_kw);
        self.max_kw.push(m.max_power_kw);
        self.efficiency.push(m.efficiency);
        self.response_s.push(m.response_time_s);
        self.marginal_cost.push(m.marginal_cost);
        self.priority.push(m.priority);
        let (model, soc) = match &m.storage {
            Some((model, soc)) => (Some(model), soc.unwrap_or(f64::NAN)),
            None => (None, f64::NAN),
        };
        self.energy_kwh.push(model.map_or(0.0, |s| s.energy_kwh));
        self.soc.push(soc);
        self.soc_min.push(model.map_or(0.0, |s| s.soc_min));
        self.soc_max.push(model.map_or(1.0, |s| s.soc_max));
        self.eta_charge.push(model.map_or(1.0, |s| s.charge_efficiency));
        self.eta_discharge.push(model.map_or(1.0, |s| s.discharge_efficiency));
        let (weather, now_kw) = match m.output {
            Output::Dispatchable => (false, None),
            Output::Weather { now_kw } => (true, now_kw),
        };
        self.weather.push(weather);
        self.weather_kw.push(now_kw.unwrap_or(f64::NAN));
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.ratio.len()
    }

    /// True when the fleet has no members.
    pub fn is_empty(&self) -> bool {
        self.ratio.is_empty()
    }

    /// True when member `i` is ONLINE.
    pub fn is_online(&self, i: usize) -> bool {
        self.status[i] == 0
    }

    /// Status of member `i`.
    pub fn status(&self, i: usize) -> ResourceStatus {
        ResourceStatus::ALL[self.status[i] as usize]
    }

    /// True when member `i` is PV or wind (its output is the weather's).
    pub fn is_weather_dependent(&self, i: usize) -> bool {
        self.weather[i]
    }

    /// What member `i` can inject (`up`) and absorb (`down`) for `hours`,
    /// both ≥ 0 kW, scaled by its ratio. Offline members have (0, 0).
    ///
    /// Without storage: up = max(max_power, 0), down = max(−min_power, 0).
    /// Storage is further limited by the energy it holds over the duration:
    /// up ≤ (SOC − SOC_min)·E·η_discharge / h and
    /// down ≤ (SOC_max − SOC)·E / (η_charge·h). A storage member whose SOC has
    /// never been reported offers nothing, because its energy is unknown.
    /// PV and wind offer at most their output now (see [`Output::Weather`]),
    /// and nothing while it is unknown.
    #[inline]
    pub fn envelope(&self, i: usize, hours: f64) -> Envelope {
        let now = self.weather_kw[i];
        self.envelope_under(i, hours, (!now.is_nan()).then_some(now))
    }

    /// [`Fleet::envelope`] with the weather's output given: for a PV or wind
    /// member, `weather_kw` (its forecast for a future slot, say; `None`:
    /// unknown, so nothing) replaces the output now. Ignored for
    /// dispatchable members.
    #[inline]
    pub fn envelope_under(&self, i: usize, hours: f64, weather_kw: Option<f64>) -> Envelope {
        if self.status[i] != 0 {
            return Envelope::default();
        }
        let mut up = self.max_kw[i].max(0.0);
        let mut down = (-self.min_kw[i]).max(0.0);
        if self.weather[i] {
            match weather_kw {
                Some(w) => up = up.min(w.max(0.0)),
                None => return Envelope { output_unknown: true, ..Envelope::default() },
            }
        }
        let energy = self.energy_kwh[i];
        if energy > 0.0 {
            let soc = self.soc[i];
            if soc.is_nan() {
                return Envelope { soc_unknown: true, ..Envelope::default() };
            }
            up = up.min((soc - self.soc_min[i]).max(0.0) * energy * self.eta_discharge[i] / hours);
            down = down.min((self.soc_max[i] - soc).max(0.0) * energy / (self.eta_charge[i] * hours));
        }
        let r = self.ratio[i];
        Envelope { up_kw: up * r, down_kw: down * r, ..Envelope::default() }
    }
}

/// The lowest value a forecast gives over `[start_us, end_us)`: a product
/// delivers its power throughout, so the weakest interval bounds it.
/// `forecast` is (interval start µs, kW), sorted, each interval `step_us`
/// long. `None` unless the intervals cover the whole span.
pub fn output_over(forecast: &[(i64, f64)], step_us: i64, start_us: i64, end_us: i64) -> Option<f64> {
    if step_us <= 0 || end_us <= start_us {
        return None;
    }
    let first = forecast.partition_point(|p| p.0 + step_us <= start_us);
    let mut covered_to = start_us;
    let mut lowest = f64::INFINITY;
    for &(t, kw) in forecast[first..].iter().take_while(|p| p.0 < end_us) {
        if t > covered_to {
            return None;
        }
        covered_to = covered_to.max(t + step_us);
        lowest = lowest.min(kw);
    }
    (covered_to >= end_us).then_some(lowest)
}

/// A member's forecast power: (interval start µs, kW), sorted, and the
/// interval length, µs.
pub type Forecast = (Vec<(i64, f64)>, i64);

/// What a fleet can offer in one future slot, kW (see [`available_per_slot`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SlotAvailability {
    /// Injection available, kW.
    pub up_kw: f64,
    /// Absorption available, kW (magnitude).
    pub down_kw: f64,
    /// Of `up_kw`, what PV and wind give under their forecast, kW.
    pub weather_kw: f64,
    /// ONLINE PV and wind members whose forecast does not cover the slot
    /// (they offer nothing in it).
    pub unforecast: usize,
}

/// What `fleet` can offer in each of `slots` (`[start, end)` µs), each
/// lasting `hours`, kW: dispatchable members and storage as they stand now
/// ([`Fleet::envelope`]); PV and wind at their forecast over the slot
/// ([`output_over`]), and nothing where `forecasts` (keyed by fleet index;
/// absent for members without one) does not cover it.
pub fn available_per_slot(
    fleet: &Fleet,
    hours: f64,
    slots: &[(i64, i64)],
    forecasts: &std::collections::HashMap<usize, Forecast>,
) -> Vec<SlotAvailability> {
    let mut now = SlotAvailability::default();
    for i in (0..fleet.len()).filter(|&i| !fleet.weather[i]) {
        let e = fleet.envelope(i, hours);
        now.up_kw += e.up_kw;
        now.down_kw += e.down_kw;
    }
    let mut out = vec![now; slots.len()];
    for i in (0..fleet.len()).filter(|&i| fleet.weather[i] && fleet.is_online(i)) {
        for (slot, &(start, end)) in out.iter_mut().zip(slots) {
            let w = forecasts.get(&i).and_then(|(f, step)| output_over(f, *step, start, end));
            let e = fleet.envelope_under(i, hours, w);
            slot.up_kw += e.up_kw;
            slot.down_kw += e.down_kw;
            slot.weather_kw += e.up_kw;
            slot.unforecast += e.output_unknown as usize;
        }
    }
    out
}

/// Power a member can deliver in each direction, kW (≥ 0).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Envelope {
    /// Injection available, kW.
    pub up_kw: f64,
    /// Absorption available, kW (magnitude).
    pub down_kw: f64,
    /// Storage whose SOC is unknown.
    pub soc_unknown: bool,
    /// PV or wind whose output is unknown.
    pub output_unknown: bool,
}

/// Figures for a group of members (the whole VPP or one category).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AggregateFigures {
    /// Members in the group.
    pub member_count: usize,
    /// ONLINE members.
    pub online_count: usize,
    /// Σ ratio·capacity over all members, whatever their status, kW.
    pub total_capacity_kw: f64,
    /// Σ ratio·capacity over ONLINE members, kW.
    pub online_capacity_kw: f64,
    /// Σ injection available from ONLINE members over the duration, kW (see `Fleet::envelope`).
    pub available_up_kw: f64,
    /// Σ absorption available from ONLINE members over the duration, kW (magnitude).
    pub available_down_kw: f64,
    /// Slowest response among contributing members (ONLINE with up or down > 0), s; null if none.
    pub response_time_s: Option<f64>,
    /// Capacity-weighted efficiency of contributing members: Σ(ratio·capacity·η) / Σ(ratio·capacity); null if none.
    pub efficiency: Option<f64>,
}

/// Figures of one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryFigures {
    /// Category.
    pub category: ResourceCategory,
    /// Its figures.
    #[serde(flatten)]
    pub figures: AggregateFigures,
}

/// Member counts by status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[allow(missing_docs)]
pub struct StatusCounts {
    pub online: usize,
    pub offline: usize,
    pub maintenance: usize,
    pub error: usize,
}

/// What a VPP can do now. See [`aggregate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AggregatedParams {
    /// Duration the availability must be held for, hours.
    pub duration_hours: f64,
    /// Whole-VPP figures.
    #[serde(flatten)]
    pub totals: AggregateFigures,
    /// Member counts by status.
    pub status_counts: StatusCounts,
    /// ONLINE storage members whose SOC was never reported (they offer nothing).
    pub soc_unknown_count: usize,
    /// ONLINE PV and wind members without a fresh measurement of their
    /// output (they offer nothing: the weather, not the nameplate, sets it).
    pub output_unknown_count: usize,
    /// Figures by category, for categories with members.
    pub by_category: Vec<CategoryFigures>,
}

#[derive(Default, Clone, Copy)]
struct Acc {
    members: usize,
    online: usize,
    total_cap: f64,
    online_cap: f64,
    up: f64,
    down: f64,
    response: f64,
    contributing: usize,
    eff_weighted: f64,
    eff_weight: f64,
}

impl Acc {
    fn figures(&self) -> AggregateFigures {
        AggregateFigures {
            member_count: self.members,
            online_count: self.online,
            total_capacity_kw: self.total_cap,
            online_capacity_kw: self.online_cap,
            available_up_kw: self.up,
            available_down_kw: self.down,
            response_time_s: (self.contributing > 0).then_some(self.response),
            efficiency: (self.eff_weight > 0.0).then(|| self.eff_weighted / self.eff_weight),
        }
    }
}

/// Aggregates a fleet for a duration of `hours` (> 0).
///
/// - `total_capacity_kw` = Σ ratio·capacity over all members;
/// - `available_up_kw` / `available_down_kw` = Σ [`Fleet::envelope`] over ONLINE members;
/// - `response_time_s` = the slowest contributing member;
/// - `efficiency` = capacity-weighted mean over contributing members.
pub fn aggregate(fleet: &Fleet, hours: f64) -> AggregatedParams {
    let mut by_cat = [Acc::default(); 4];
    let mut status = [0usize; 4];
    let mut soc_unknown = 0;
    let mut output_unknown = 0;
    for i in 0..fleet.len() {
        let acc = &mut by_cat[fleet.category[i] as usize];
        let cap = fleet.ratio[i] * fleet.capacity_kw[i];
        acc.members += 1;
        acc.total_cap += cap;
        status[fleet.status[i] as usize] += 1;
        if !fleet.is_online(i) {
            continue;
        }
        acc.online += 1;
        acc.online_cap += cap;
        let env = fleet.envelope(i, hours);
        soc_unknown += env.soc_unknown as usize;
        output_unknown += env.output_unknown as usize;
        if env.up_kw > 0.0 || env.down_kw > 0.0 {
            acc.up += env.up_kw;
            acc.down += env.down_kw;
            acc.contributing += 1;
            acc.response = acc.response.max(fleet.response_s[i]);
            acc.eff_weighted += cap * fleet.efficiency[i];
            acc.eff_weight += cap;
        }
    }
    let mut total = Acc::default();
    for a in &by_cat {
        total.members += a.members;
        total.online += a.online;
        total.total_cap += a.total_cap;
        total.online_cap += a.online_cap;
        total.up += a.up;
        total.down += a.down;
        total.contributing += a.contributing;
        if a.contributing > 0 {
            total.response = total.response.max(a.response);
        }
        total.eff_weighted += a.eff_weighted;
        total.eff_weight += a.eff_weight;
    }
    AggregatedParams {
        duration_hours: hours,
        totals: total.figures(),
        status_counts: StatusCounts { online: status[0], offline: status[1], maintenance: status[2], error: status[3] },
        soc_unknown_count: soc_unknown,
        output_unknown_count: output_unknown,
        by_category: ResourceCategory::ALL
            .iter()
            .zip(by_cat.iter())
            .filter(|(_, a)| a.members > 0)
            .map(|(c, a)| CategoryFigures { category: *c, figures: a.figures() })
            .collect(),
    }
}

/// How a target is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispatchMode {
    /// Cheapest marginal cost first, each member filled to its limit.
    #[default]
    MeritOrder,
    /// Every available member moves by the same fraction of its available range.
    ProRata,
    /// Lowest priority number first (ties: marginal cost), each member filled to its limit.
    Priority,
}

impl DispatchMode {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MeritOrder => "merit_order",
            Self::ProRata => "pro_rata",
            Self::Priority => "priority",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::MeritOrder, Self::ProRata, Self::Priority].into_iter().find(|m| m.as_str() == s)
    }
}

/// How a dispatch's setpoints were made: split from a target by a rule, or
/// taken from the VPP's stored schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispatchOrigin {
    /// Split by merit order.
    MeritOrder,
    /// Split pro rata.
    ProRata,
    /// Split by priority.
    Priority,
    /// The stored schedule's setpoints for the interval.
    Schedule,
}

impl DispatchOrigin {
    const ALL: [Self; 4] = [Self::MeritOrder, Self::ProRata, Self::Priority, Self::Schedule];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MeritOrder => "merit_order",
            Self::ProRata => "pro_rata",
            Self::Priority => "priority",
            Self::Schedule => "schedule",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl From<DispatchMode> for DispatchOrigin {
    fn from(mode: DispatchMode) -> Self {
        match mode {
            DispatchMode::MeritOrder => Self::MeritOrder,
            DispatchMode::ProRata => Self::ProRata,
            DispatchMode::Priority => Self::Priority,
        }
    }
}

/// The result of splitting a target.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchPlan {
    /// `(member index, setpoint kW)` for members with a non-zero setpoint, by index.
    pub allocations: Vec<(usize, f64)>,
    /// Σ setpoints, kW (same sign as the target).
    pub total_dispatched_kw: f64,
    /// target − total, kW: what the fleet could not cover.
    pub unmet_kw: f64,
}

/// Splits `target_kw` across the fleet for `hours`.
///
/// Each ONLINE member may be at 0 or anywhere in its range in the target's
/// direction: for a positive target `[lo, up]` with lo = ratio·min_power when
/// min_power > 0 (a generator cannot run below its stable minimum), else 0;
/// symmetric for negative targets with max_power < 0. `up`/`down` come from
/// [`Fleet::envelope`], so SOC limits apply. Members that are not ONLINE get
/// nothing. What cannot be covered is returned as `unmet_kw`.
pub fn dispatch(fleet: &Fleet, target_kw: f64, hours: f64, mode: DispatchMode) -> DispatchPlan {
    let sign = if target_kw < 0.0 { -1.0 } else { 1.0 };
    let need = target_kw.abs();
    if need == 0.0 || !need.is_finite() {
        return DispatchPlan { allocations: vec![], total_dispatched_kw: 0.0, unmet_kw: target_kw };
    }
    // Candidates: (index, lo, hi), magnitudes in the target direction.
    let mut candidates: Vec<(u32, f64, f64)> = Vec::with_capacity(fleet.len());
    for i in 0..fleet.len() {
        let env = fleet.envelope(i, hours);
        let hi = if sign > 0.0 { env.up_kw } else { env.down_kw };
        let lo = fleet.ratio[i] * if sign > 0.0 { fleet.min_kw[i].max(0.0) } else { (-fleet.max_kw[i]).max(0.0) };
        if hi > 0.0 && lo <= hi {
            candidates.push((i as u32, lo, hi));
        }
    }
    let mut allocations = match mode {
        DispatchMode::MeritOrder => {
            candidates.sort_unstable_by(|a, b| {
                fleet.marginal_cost[a.0 as usize].total_cmp(&fleet.marginal_cost[b.0 as usize]).then(a.0.cmp(&b.0))
            });
            fill_in_order(&candidates, need)
        }
        DispatchMode::Priority => {
            candidates.sort_unstable_by(|a, b| {
                let (ia, ib) = (a.0 as usize, b.0 as usize);
                fleet.priority[ia]
                    .cmp(&fleet.priority[ib])
                    .then(fleet.marginal_cost[ia].total_cmp(&fleet.marginal_cost[ib]))
                    .then(a.0.cmp(&b.0))
            });
            fill_in_order(&candidates, need)
        }
        DispatchMode::ProRata => pro_rata(candidates, need),
    };
    allocations.sort_unstable_by_key(|a| a.0);
    let total: f64 = allocations.iter().map(|a| a.1).sum();
    let unmet = (need - total).max(0.0);
    DispatchPlan {
        allocations: allocations.into_iter().map(|(i, p)| (i as usize, sign * p)).collect(),
        total_dispatched_kw: sign * total,
        // Keep a fully covered target at +0, not −0.
        unmet_kw: if unmet > 0.0 { sign * unmet } else { 0.0 },
    }
}

/// Greedy fill in the given order. A member whose minimum exceeds what is
/// still needed is skipped, so later members can cover the rest exactly.
fn fill_in_order(order: &[(u32, f64, f64)], need: f64) -> Vec<(u32, f64)> {
    let mut remaining = need;
    let mut out = Vec::new();
    for &(i, lo, hi) in order {
        if remaining <= need * 1e-12 {
            break;
        }
        let take = hi.min(remaining);
        if take < lo {
            continue;
        }
        out.push((i, take));
        remaining -= take;
    }
    out
}

/// Every member gets the same fraction of its range; members whose share
/// would fall below their minimum drop out and the rest is shared again.
fn pro_rata(mut active: Vec<(u32, f64, f64)>, need: f64) -> Vec<(u32, f64)> {
    loop {
        let range: f64 = active.iter().map(|c| c.2).sum();
        if range <= 0.0 {
            return vec![];
        }
        let fraction = (need / range).min(1.0);
        let before = active.len();
        active.retain(|&(_, lo, hi)| hi * fraction >= lo);
        if active.len() == before {
            return active.into_iter().map(|(i, _, hi)| (i, hi * fraction)).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(category: ResourceCategory, min: f64, max: f64, cost: f64) -> FleetMember {
        FleetMember {
            category,
            status: ResourceStatus::Online,
            ratio: 1.0,
            capacity_kw: min.abs().max(max.abs()),
            min_power_kw: min,
            max_power_kw: max,
            efficiency: 0.9,
            response_time_s: 5.0,
            marginal_cost: cost,
            priority: 100,
            storage: None,
            output: Output::Dispatchable,
        }
    }

    fn battery(soc: Option<f64>) -> FleetMember {
        let model = StorageModel {
            energy_kwh: 100.0,
            soc_min: 0.1,
            soc_max: 0.9,
            charge_efficiency: 1.0,
            discharge_efficiency: 1.0,
        };
        FleetMember { storage: Some((model, soc)), ..member(ResourceCategory::Storage, -50.0, 50.0, 20.0) }
    }

    fn fleet(members: &[FleetMember]) -> Fleet {
        let mut f = Fleet::with_capacity(members.len());
        members.iter().for_each(|m| f.push(m));
        f
    }

    fn pv(now_kw: Option<f64>) -> FleetMember {
        FleetMember { output: Output::Weather { now_kw }, ..member(ResourceCategory::Generation, 0.0, 1000.0, 0.0) }
    }

    #[test]
    fn pv_offers_what_the_weather_gives_not_its_nameplate() {
        // At night a 1 MW plant measures 0 kW: it offers nothing up.
        let a = aggregate(&fleet(&[pv(Some(0.0))]), 1.0);
        assert_eq!(a.totals.available_up_kw, 0.0);
        assert_eq!(a.output_unknown_count, 0);
        // At noon it measures 640 kW; a half share offers 320 kW.
        let mut half = pv(Some(640.0));
        half.ratio = 0.5;
        let f = fleet(&[half]);
        assert!((aggregate(&f, 1.0).totals.available_up_kw - 320.0).abs() < 1e-9);
        // Never above the nameplate, whatever a meter says.
        assert_eq!(fleet(&[pv(Some(1500.0))]).envelope(0, 1.0).up_kw, 1000.0);
        // Without a fresh measurement its output is unknown: nothing, and counted.
        let a = aggregate(&fleet(&[pv(None)]), 1.0);
        assert_eq!(a.totals.available_up_kw, 0.0);
        assert_eq!(a.output_unknown_count, 1);
        // For a future slot, the forecast takes the place of the output now;
        // a dispatchable member ignores it.
        let f = fleet(&[pv(Some(0.0)), member(ResourceCategory::Generation, 0.0, 200.0, 50.0)]);
        assert_eq!(f.envelope_under(0, 1.0, Some(420.0)).up_kw, 420.0);
        assert!(f.envelope_under(0, 1.0, None).output_unknown);
        assert_eq!(f.envelope_under(1, 1.0, Some(0.0)).up_kw, 200.0);
        assert!(f.is_weather_dependent(0) && !f.is_weather_dependent(1));
    }

    #[test]
    fn a_slot_offers_the_weakest_forecast_interval_it_covers() {
        const Q: i64 = 900_000_000;
        let f = [(0, 100.0), (Q, 80.0), (2 * Q, 120.0), (3 * Q, 90.0), (5 * Q, 50.0)];
        // One hour from 0: the lowest of four quarters.
        assert_eq!(output_over(&f, Q, 0, 4 * Q), Some(80.0));
        // A quarter inside: that quarter.
        assert_eq!(output_over(&f, Q, 2 * Q, 3 * Q), Some(120.0));
        // Half a quarter: the interval holding it.
        assert_eq!(output_over(&f, Q, Q / 2, Q), Some(100.0));
        // A gap (4Q..5Q) or the end of the forecast: unknown.
        assert_eq!(output_over(&f, Q, 3 * Q, 6 * Q), None);
        assert_eq!(output_over(&f, Q, 5 * Q, 7 * Q), None);
        assert_eq!(output_over(&[], Q, 0, Q), None);
        // Hourly forecast under quarter-hour slots.
        let h = [(0, 300.0), (4 * Q, 0.0)];
        assert_eq!(output_over(&h, 4 * Q, Q, 2 * Q), Some(300.0));
        assert_eq!(output_over(&h, 4 * Q, 3 * Q, 5 * Q), Some(0.0));
    }

    #[test]
    fn slots_count_pv_at_its_forecast_and_the_rest_as_now() {
        const H: i64 = 3_600_000_000;
        // A PV of 1 MW measured at 0 now (night), a 200 kW engine, and a PV
        // without a forecast.
        let f = fleet(&[pv(Some(0.0)), member(ResourceCategory::Generation, 0.0, 200.0, 50.0), pv(Some(500.0))]);
        let forecasts = std::collections::HashMap::from([(0, (vec![(0, 0.0), (H, 350.0), (2 * H, 1200.0)], H))]);
        let slots = [(0, H), (H, 2 * H), (2 * H, 3 * H), (3 * H, 4 * H)];
        let got = available_per_slot(&f, 1.0, &slots, &forecasts);
        // 200 always; PV 0, 350, nameplate-capped 1000, then nothing past its forecast.
        assert_eq!(got.iter().map(|a| a.up_kw).collect::<Vec<_>>(), [200.0, 550.0, 1200.0, 200.0]);
        assert_eq!(got.iter().map(|a| a.weather_kw).collect::<Vec<_>>(), [0.0, 350.0, 1000.0, 0.0]);
        // The second PV has no forecast anywhere; the first none past 3 h.
        assert_eq!(got.iter().map(|a| a.unforecast).collect::<Vec<_>>(), [1, 1, 1, 2]);
    }

    #[test]
    fn soc_limits_battery_over_duration() {
        // SOC 0.5, window 0.1..0.9, 100 kWh: 40 kWh each way. Over 2 h: 20 kW.
        let f = fleet(&[battery(Some(0.5))]);
        let a = aggregate(&f, 2.0);
        assert!((a.totals.available_up_kw - 20.0).abs() < 1e-9);
        assert!((a.totals.available_down_kw - 20.0).abs() < 1e-9);
        // Over 0.5 h the 50 kW inverter limit binds.
        let a = aggregate(&f, 0.5);
        assert!((a.totals.available_up_kw - 50.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_soc_offers_nothing() {
        let a = aggregate(&fleet(&[battery(None)]), 1.0);
        assert_eq!(a.totals.available_up_kw, 0.0);
        assert_eq!(a.soc_unknown_count, 1);
        assert_eq!(a.totals.response_time_s, None);
    }

    #[test]
    fn offline_members_count_in_capacity_only() {
        let mut off = member(ResourceCategory::Generation, 0.0, 100.0, 0.0);
        off.status = ResourceStatus::Offline;
        let mut half = member(ResourceCategory::Generation, 0.0, 100.0, 0.0);
        half.ratio = 0.5;
        half.response_time_s = 30.0;
        let a = aggregate(&fleet(&[off, half]), 1.0);
        assert_eq!(a.totals.total_capacity_kw, 150.0);
        assert_eq!(a.totals.online_capacity_kw, 50.0);
        assert_eq!(a.totals.available_up_kw, 50.0);
        assert_eq!(a.totals.response_time_s, Some(30.0));
        assert_eq!(a.status_counts.offline, 1);
        assert_eq!(a.by_category.len(), 1);
    }

    #[test]
    fn merit_order_fills_cheapest_first_and_reports_unmet() {
        let mut down = member(ResourceCategory::Generation, 0.0, 500.0, 1.0);
        down.status = ResourceStatus::Error;
        let f = fleet(&[
            member(ResourceCategory::Generation, 0.0, 100.0, 50.0),
            member(ResourceCategory::Generation, 0.0, 100.0, 10.0),
            down,
        ]);
        let plan = dispatch(&f, 150.0, 0.25, DispatchMode::MeritOrder);
        assert_eq!(plan.allocations, vec![(0, 50.0), (1, 100.0)]);
        let plan = dispatch(&f, 300.0, 0.25, DispatchMode::MeritOrder);
        assert_eq!(plan.total_dispatched_kw, 200.0);
        assert_eq!(plan.unmet_kw, 100.0);
    }

    #[test]
    fn generator_minimum_is_respected() {
        let f = fleet(&[
            member(ResourceCategory::Generation, 40.0, 100.0, 1.0),
            member(ResourceCategory::Generation, 0.0, 100.0, 5.0),
        ]);
        let plan = dispatch(&f, 30.0, 1.0, DispatchMode::MeritOrder);
        assert_eq!(plan.allocations, vec![(1, 30.0)]);
    }

    #[test]
    fn negative_target_uses_absorbers() {
        let f = fleet(&[
            member(ResourceCategory::Generation, 0.0, 100.0, 1.0),
            member(ResourceCategory::Load, -80.0, 0.0, 5.0),
            battery(Some(0.5)),
        ]);
        let plan = dispatch(&f, -100.0, 1.0, DispatchMode::MeritOrder);
        assert_eq!(plan.total_dispatched_kw, -100.0);
        // battery is cheaper (20) than the load? No: load costs 5, battery 20.
        assert_eq!(plan.allocations, vec![(1, -80.0), (2, -20.0)]);
    }

    #[test]
    fn priority_and_pro_rata() {
        let mut a = member(ResourceCategory::Generation, 0.0, 100.0, 1.0);
        a.priority = 5;
        let mut b = member(ResourceCategory::Generation, 0.0, 300.0, 0.0);
        b.priority = 1;
        let f = fleet(&[a, b]);
        assert_eq!(dispatch(&f, 350.0, 1.0, DispatchMode::Priority).allocations, vec![(0, 50.0), (1, 300.0)]);
        assert_eq!(dispatch(&f, 200.0, 1.0, DispatchMode::ProRata).allocations, vec![(0, 50.0), (1, 150.0)]);
    }

    fn arb_member() -> impl Strategy<Value = FleetMember> {
        (
            0usize..4,
            0usize..4,
            0.01f64..1.0,
            -500.0f64..500.0,
            0.0f64..500.0,
            -100.0f64..300.0,
            1i32..5,
            proptest::option::of(0.0f64..1.0),
        )
            .prop_map(|(cat, st, ratio, min, span, cost, prio, soc)| {
                let max = min + span;
                let storage = (cat == 1).then_some({
                    (
                        StorageModel {
                            energy_kwh: 200.0,
                            soc_min: 0.1,
                            soc_max: 0.9,
                            charge_efficiency: 0.95,
                            discharge_efficiency: 0.95,
                        },
                        soc,
                    )
                });
                FleetMember {
                    category: ResourceCategory::ALL[cat],
                    status: ResourceStatus::ALL[st],
                    ratio,
                    capacity_kw: min.abs().max(max.abs()).max(1.0),
                    min_power_kw: min,
                    max_power_kw: max,
                    efficiency: 0.9,
                    response_time_s: 1.0,
                    marginal_cost: cost,
                    priority: prio,
                    storage,
                    output: Output::Dispatchable,
                }
            })
    }

    proptest! {
        #[test]
        fn dispatch_invariants(members in proptest::collection::vec(arb_member(), 0..40), target in -5000.0f64..5000.0, mode in 0usize..3) {
            let f = fleet(&members);
            let mode = [DispatchMode::MeritOrder, DispatchMode::ProRata, DispatchMode::Priority][mode];
            let plan = dispatch(&f, target, 0.25, mode);
            let agg = aggregate(&f, 0.25);
            let sum: f64 = plan.allocations.iter().map(|a| a.1).sum();
            prop_assert!((sum - plan.total_dispatched_kw).abs() < 1e-6);
            prop_assert!(plan.total_dispatched_kw.abs() <= target.abs() + 1e-6);
            prop_assert!((plan.total_dispatched_kw + plan.unmet_kw - target).abs() < 1e-6);
            for &(i, p) in &plan.allocations {
                let m = &members[i];
                prop_assert_eq!(m.status, ResourceStatus::Online);
                prop_assert!(p * target >= 0.0, "same sign as target");
                prop_assert!(p <= m.ratio * m.max_power_kw.max(0.0) + 1e-6 && p >= m.ratio * m.min_power_kw.min(0.0) - 1e-6);
                let env = f.envelope(i, 0.25);
                prop_assert!(p <= env.up_kw + 1e-6 && -p <= env.down_kw + 1e-6);
            }
            // Without minimum-power constraints the fleet covers whatever is available.
            let no_minimums = members.iter().all(|m| m.min_power_kw <= 0.0 && m.max_power_kw >= 0.0);
            let available = if target >= 0.0 { agg.totals.available_up_kw } else { agg.totals.available_down_kw };
            if no_minimums {
                prop_assert!((plan.total_dispatched_kw.abs() - target.abs().min(available)).abs() < 1e-6);
            }
        }
    }
}
