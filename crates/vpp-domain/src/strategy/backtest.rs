//! Replaying history interval by interval through a strategy.
//!
//! Every input is a [`Column`] of beliefs: each value carries the time it
//! became known. For each delivery interval the engine fixes the decision
//! time (the market's gate closure for that interval: D−1 12:00 for a
//! day-ahead auction, a lead before delivery for intraday) and hands the
//! rules a [`Snapshot`] that answers only with beliefs known by then. The
//! rules cannot reach the columns themselves, so a forecast revised after
//! gate closure, or a price published after it, cannot influence the
//! decision: look-ahead is impossible by construction.
//!
//! Clearing and settlement, by contrast, use the final values (the newest
//! belief of the price and imbalance price), as the market would.
//!
//! Physics: a battery with power limits, an SOC window and charge and
//! discharge efficiencies; generation that can be curtailed; a flexible
//! load with a daily energy that can be deferred and must be made up
//! within the day. Money is € (the market's currency), energy kWh, prices
//! currency/MWh.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::metrics::{DailyPnl, Metrics, daily_metrics};
use super::rules::{Action, BidQuantity, CurtailTarget, Explanation, Field, RuleSet, Values};
use crate::error::{Errors, Invalid};
use crate::market::auction::Side;
use crate::market::rules::TradingRules;
use crate::series::{Belief, SourceKind};

/// Beliefs of one quantity, columnar: per event its versions by belief time.
#[derive(Debug, Clone, Default)]
pub struct Column {
    /// Event starts, µs, ascending.
    events: Vec<i64>,
    /// `versions[k]..versions[k+1]` are the versions of event `k`.
    versions: Vec<usize>,
    /// Belief times, µs, ascending within an event.
    belief_us: Vec<i64>,
    /// Values.
    values: Vec<f64>,
    /// Length of one event, µs.
    resolution_us: i64,
}

impl Column {
    /// Builds a column from beliefs sorted by (event start, belief time),
    /// keeping those of `source`.
    pub fn from_beliefs(beliefs: &[Belief], source: SourceKind, resolution_s: i64) -> Self {
        let mut c = Self { resolution_us: resolution_s * 1_000_000, ..Self::default() };
        for b in beliefs.iter().filter(|b| b.source == source) {
            if c.events.last() != Some(&b.event_start_us) {
                c.events.push(b.event_start_us);
                c.versions.push(c.belief_us.len());
            }
            c.belief_us.push(b.belief_time_us);
            c.values.push(b.value);
        }
        c.versions.push(c.belief_us.len());
        c
    }

    /// Builds a column of values all known at `known_us`, one per event.
    pub fn known(points: &[(i64, f64)], known_us: i64, resolution_s: i64) -> Self {
        let beliefs: Vec<Belief> = points
            .iter()
            .map(|&(t, v)| Belief { event_start_us: t, belief_time_us: known_us, source: SourceKind::Price, value: v })
            .collect();
        Self::from_beliefs(&beliefs, SourceKind::Price, resolution_s)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True without events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    fn event_of(&self, t_us: i64) -> Option<usize> {
        let k = self.events.partition_point(|&e| e <= t_us).checked_sub(1)?;
        (t_us < self.events[k] + self.resolution_us).then_some(k)
    }

    /// The newest value for the event covering `t_us` known at `decision_us`.
    pub fn as_of(&self, t_us: i64, decision_us: i64) -> Option<f64> {
        let k = self.event_of(t_us)?;
        let (a, b) = (self.versions[k], self.versions[k + 1]);
        let n = self.belief_us[a..b].partition_point(|&bt| bt <= decision_us);
        (n > 0).then(|| self.values[a + n - 1])
    }

    /// The final (newest) value for the event covering `t_us`.
    pub fn last(&self, t_us: i64) -> Option<f64> {
        let k = self.event_of(t_us)?;
        Some(self.values[self.versions[k + 1] - 1])
    }
}

/// A battery in the backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatterySpec {
    /// Usable energy, kWh.
    pub capacity_kwh: f64,
    /// Highest charging power, kW.
    pub charge_kw: f64,
    /// Highest discharging power, kW.
    pub discharge_kw: f64,
    /// Charging efficiency, 0..1.
    #[serde(default = "default_efficiency")]
    pub charge_efficiency: f64,
    /// Discharging efficiency, 0..1.
    #[serde(default = "default_efficiency")]
    pub discharge_efficiency: f64,
    /// SOC at the start, %.
    #[serde(default = "default_soc_start")]
    pub soc_start_pct: f64,
    /// Lowest SOC, %.
    #[serde(default)]
    pub soc_min_pct: f64,
    /// Highest SOC, %.
    #[serde(default = "default_soc_max")]
    pub soc_max_pct: f64,
    /// Wear per kWh of throughput (charged plus discharged at the terminals), €.
    #[serde(default)]
    pub cycle_cost_per_kwh: f64,
}

fn default_efficiency() -> f64 {
    0.95
}
fn default_soc_start() -> f64 {
    50.0
}
fn default_soc_max() -> f64 {
    100.0
}

impl BatterySpec {
    /// Checks the figures; errors are named under `prefix`.
    pub fn check(&self, prefix: &str) -> Result<(), Invalid> {
        let mut e = Errors::default();
        let f = |k: &str| format!("{prefix}.{k}");
        e.range(&f("capacity_kwh"), self.capacity_kwh, 0.001, 1e9);
        e.range(&f("charge_kw"), self.charge_kw, 0.0, 1e9);
        e.range(&f("discharge_kw"), self.discharge_kw, 0.0, 1e9);
        e.range(&f("charge_efficiency"), self.charge_efficiency, 0.01, 1.0);
        e.range(&f("discharge_efficiency"), self.discharge_efficiency, 0.01, 1.0);
        e.range(&f("soc_min_pct"), self.soc_min_pct, 0.0, 100.0);
        e.range(&f("soc_max_pct"), self.soc_max_pct, 0.0, 100.0);
        e.range(&f("soc_start_pct"), self.soc_start_pct, 0.0, 100.0);
        e.range(&f("cycle_cost_per_kwh"), self.cycle_cost_per_kwh, 0.0, 1e4);
        e.check(self.soc_min_pct <= self.soc_max_pct, f("soc_min_pct"), "must not exceed soc_max_pct");
        e.check(
            (self.soc_min_pct..=self.soc_max_pct).contains(&self.soc_start_pct),
            f("soc_start_pct"),
            format!("must lie in the SOC window {}..{} %", self.soc_min_pct, self.soc_max_pct),
        );
        e.finish(())
    }
}

/// A flexible load: a daily energy at up to `max_kw`, spread evenly unless
/// deferred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlexibleLoadSpec {
    /// Energy per local day, kWh.
    pub daily_energy_kwh: f64,
    /// Highest power, kW.
    pub max_kw: f64,
}

/// Plans a battery for a day: the optimiser behind the `optimise` action
/// and the perfect-foresight bound. Implemented with the LP in the server.
pub trait Planner {
    /// Power per step, kW (discharge positive), for `prices` (currency/MWh)
    /// from `soc_start_pct`, with wear `cycle_cost_per_kwh`.
    fn plan(
        &self,
        battery: &BatterySpec,
        soc_start_pct: f64,
        cycle_cost_per_kwh: f64,
        prices: &[f64],
        dt_h: f64,
    ) -> Result<Vec<f64>, String>;
}

/// What the strategy trades with.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// The battery, if any.
    pub battery: Option<BatterySpec>,
    /// The flexible load, if any.
    pub flexible_load: Option<FlexibleLoadSpec>,
}

/// History the backtest replays.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Market prices (final values clear the bids), currency/MWh.
    pub price: Column,
    /// Price forecasts (or a model's predictions), currency/MWh.
    pub price_forecast: Column,
    /// Imbalance prices; the market price settles imbalances when absent.
    pub imbalance_price: Option<Column>,
    /// Generation forecast of the portfolio, kW.
    pub generation_forecast: Option<Column>,
    /// Load forecast of the portfolio, kW.
    pub load_forecast: Option<Column>,
    /// Metered generation sold, kW.
    pub generation: Option<Column>,
    /// Further series by name, for `series:<name>` fields.
    pub series: Vec<(String, Column)>,
}

/// The replayed period and its market.
#[derive(Debug, Clone)]
pub struct Period {
    /// First delivery day (market time zone).
    pub from: Date,
    /// Last delivery day, included.
    pub to: Date,
    /// The market's rules: product length, gate closure, time zone.
    pub rules: TradingRules,
}

/// A local calendar of the replayed intervals.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Interval starts, µs.
    pub start_us: Vec<i64>,
    /// Decision time of each interval (its gate closure), µs.
    pub decision_us: Vec<i64>,
    /// Local hour, 0..23.
    hour: Vec<u8>,
    /// Local weekday, 1..7.
    weekday: Vec<u8>,
    /// `day_start[d]..day_start[d+1]` are the intervals of day `d`.
    pub day_start: Vec<usize>,
    /// The local dates.
    pub days: Vec<Date>,
    /// Interval length, hours.
    pub dt_h: f64,
}

/// Longest backtest, days.
pub const MAX_DAYS: i32 = 3 * 366;

impl Timeline {
    /// The intervals of the period in the market's time zone, with their
    /// decision times (92, 96 or 100 quarter-hours per Berlin day).
    pub fn new(period: &Period) -> Result<Self, Invalid> {
        let tz: TimeZone =
            period.rules.zone().map_err(|e| Invalid::one("market.time_zone", format!("unknown time zone: {e}")))?;
        let span = (period.to - period.from).get_days();
        if period.to < period.from {
            return Err(Invalid::one("to", "must not be before from"));
        }
        if span >= MAX_DAYS {
            return Err(Invalid::one("to", format!("a backtest covers at most {MAX_DAYS} days")));
        }
        let mut t = Self {
            start_us: Vec::new(),
            decision_us: Vec::new(),
            hour: Vec::new(),
            weekday: Vec::new(),
            day_start: Vec::new(),
            days: Vec::new(),
            dt_h: period.rules.product_minutes as f64 / 60.0,
        };
        let bad = |e: jiff::Error| Invalid::one("from", format!("cannot lay out the delivery days: {e}"));
        let mut day = period.from;
        while day <= period.to {
            t.day_start.push(t.start_us.len());
            t.days.push(day);
            let weekday = day.weekday().to_monday_one_offset() as u8;
            for slot in period.rules.slots(day).map_err(bad)? {
                t.start_us.push(slot.as_microsecond());
                t.decision_us.push(period.rules.gate_closure_at(day, slot).map_err(bad)?.as_microsecond());
                t.hour.push(slot.to_zoned(tz.clone()).hour() as u8);
                t.weekday.push(weekday);
            }
            day = day.tomorrow().map_err(bad)?;
        }
        t.day_start.push(t.start_us.len());
        Ok(t)
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.start_us.len()
    }

    /// True without intervals.
    pub fn is_empty(&self) -> bool {
        self.start_us.is_empty()
    }
}

/// A battery's state.
#[derive(Debug, Clone, Copy)]
struct Cell {
    energy_kwh: f64,
}

impl Cell {
    fn soc_pct(&self, b: &BatterySpec) -> f64 {
        self.energy_kwh / b.capacity_kwh * 100.0
    }

    /// Highest discharge in a step, kW at the terminals.
    fn up_kw(&self, b: &BatterySpec, dt_h: f64) -> f64 {
        let room = (self.energy_kwh - b.soc_min_pct / 100.0 * b.capacity_kwh).max(0.0);
        (room * b.discharge_efficiency / dt_h).min(b.discharge_kw)
    }

    /// Highest charge in a step, kW at the terminals.
    fn down_kw(&self, b: &BatterySpec, dt_h: f64) -> f64 {
        let room = (b.soc_max_pct / 100.0 * b.capacity_kwh - self.energy_kwh).max(0.0);
        (room / b.charge_efficiency / dt_h).min(b.charge_kw)
    }

    /// Runs the battery at `power_kw` (discharge positive) as far as the
    /// physics allow; returns the power delivered.
    fn run(&mut self, b: &BatterySpec, power_kw: f64, dt_h: f64) -> f64 {
        let p =
            if power_kw >= 0.0 { power_kw.min(self.up_kw(b, dt_h)) } else { -(-power_kw).min(self.down_kw(b, dt_h)) };
        if p >= 0.0 {
            self.energy_kwh -= p * dt_h / b.discharge_efficiency;
        } else {
            self.energy_kwh += -p * dt_h * b.charge_efficiency;
        }
        p
    }

    /// Power that moves the SOC towards `target_pct` within one step, capped by `cap_kw`.
    fn towards(&self, b: &BatterySpec, target_pct: f64, cap_kw: f64, dt_h: f64) -> f64 {
        let delta = target_pct / 100.0 * b.capacity_kwh - self.energy_kwh;
        if delta > 0.0 {
            -(delta / b.charge_efficiency / dt_h).min(cap_kw)
        } else {
            (-delta * b.discharge_efficiency / dt_h).min(cap_kw)
        }
    }
}

/// One interval of the replay.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Interval {
    /// Market price the interval settled at, currency/MWh (null: none known).
    pub price: Option<f64>,
    /// Battery power, kW, discharge positive.
    pub battery_kw: f64,
    /// SOC at the interval's end, %.
    pub soc_pct: Option<f64>,
    /// Generation sold, kW.
    pub generation_kw: f64,
    /// Flexible load, kW.
    pub load_kw: f64,
    /// Net profit of the interval, €.
    pub pnl: f64,
}

/// A decision: the interval, the rule and what it saw.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Decision {
    /// Interval start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// When it was decided (gate closure).
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: Timestamp,
    /// What was done: `bid sell 500 kW @ 92.10`, `charge`, `hold`…
    pub action: String,
    /// Why.
    pub explanation: Explanation,
}

/// Money by source, €.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Revenue {
    /// Energy sold minus bought on the market (bids and price-taking).
    pub market: f64,
    /// Imbalance settlement of cleared bids not delivered.
    pub imbalance: f64,
    /// Generation sold.
    pub generation: f64,
    /// Flexible load bought (negative).
    pub load: f64,
    /// Battery wear (negative).
    pub degradation: f64,
    /// Sum of the above.
    pub net: f64,
}

/// Bid statistics.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct BidStats {
    /// Bids placed (one per interval and rule).
    pub placed: u32,
    /// Of which cleared.
    pub cleared: u32,
    /// Cleared, delivered in full and on the right side of the day's mean
    /// price (sold above it or bought below it).
    pub successful: u32,
}

/// Result of one replay.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Replay {
    /// Money by source.
    pub revenue: Revenue,
    /// Bids.
    pub bids: BidStats,
    /// P&L per local day.
    pub daily: Vec<DailyPnl>,
    /// Risk and return figures.
    pub metrics: Metrics,
    /// Energy through the battery terminals (charged plus discharged), kWh.
    pub throughput_kwh: f64,
    /// Full cycles: throughput / (2 × capacity).
    pub equivalent_cycles: f64,
    /// Intervals without a market price (nothing could trade).
    pub intervals_without_price: u32,
    /// How often each rule fired (`no rule fired` last).
    pub rule_counts: Vec<(String, u32)>,
    /// Per interval.
    #[serde(skip)]
    pub intervals: Vec<Interval>,
    /// Per interval.
    #[serde(skip)]
    pub decisions: Vec<Decision>,
}

/// The values the rules may see for one interval: only beliefs known at
/// its decision time.
pub struct Snapshot<'a> {
    inputs: &'a Inputs,
    timeline: &'a Timeline,
    i: usize,
    /// What the snapshot may know: beliefs up to this time, µs.
    decision_us: i64,
    soc_pct: Option<f64>,
    up_kw: Option<f64>,
    down_kw: Option<f64>,
    percentile: Option<f64>,
}

impl Values for Snapshot<'_> {
    fn get(&self, field: &Field) -> Option<f64> {
        let (t, d) = (self.timeline.start_us[self.i], self.decision_us);
        match field {
            Field::ForecastPrice => self.inputs.price_forecast.as_of(t, d),
            Field::ActualPrice => self.inputs.price.as_of(t, d),
            Field::PricePercentile => self.percentile,
            Field::Hour => Some(f64::from(self.timeline.hour[self.i])),
            Field::Weekday => Some(f64::from(self.timeline.weekday[self.i])),
            Field::Soc => self.soc_pct,
            Field::AvailableUp => self.up_kw,
            Field::AvailableDown => self.down_kw,
            Field::ForecastGeneration => self.inputs.generation_forecast.as_ref()?.as_of(t, d),
            Field::ForecastLoad => self.inputs.load_forecast.as_ref()?.as_of(t, d),
            Field::ImbalancePrice => self.inputs.imbalance_price.as_ref()?.as_of(t, d),
            Field::Series(name) => self.inputs.series.iter().find(|(n, _)| n == name)?.1.as_of(t, d),
        }
    }
}

/// The price of interval `j` as known at `decision_us`: published if so,
/// else forecast.
fn known_price(inputs: &Inputs, t_us: i64, decision_us: i64) -> Option<f64> {
    inputs.price.as_of(t_us, decision_us).or_else(|| inputs.price_forecast.as_of(t_us, decision_us))
}

/// Rank of interval `i` among its day's known prices, 0..100; `None` if
/// its own price is unknown.
fn percentile(
    inputs: &Inputs,
    tl: &Timeline,
    (day, i, d): (usize, usize, i64),
    cache: &mut PercentileCache,
) -> Option<f64> {
    if cache.day != Some(day) || cache.decision_us != d {
        let range = tl.day_start[day]..tl.day_start[day + 1];
        cache.prices = range.map(|j| known_price(inputs, tl.start_us[j], d)).collect();
        cache.day = Some(day);
        cache.decision_us = d;
    }
    let own = cache.prices[i - tl.day_start[day]]?;
    let known: Vec<f64> = cache.prices.iter().flatten().copied().collect();
    if known.len() < 2 {
        return Some(50.0);
    }
    let below = known.iter().filter(|&&p| p < own).count() as f64;
    let equal = known.iter().filter(|&&p| p == own).count() as f64;
    // Mid-rank, scaled so the cheapest is 0 and the dearest 100.
    Some(((below + (equal - 1.0) / 2.0) / (known.len() as f64 - 1.0) * 100.0).clamp(0.0, 100.0))
}

#[derive(Default)]
struct PercentileCache {
    day: Option<usize>,
    decision_us: i64,
    prices: Vec<Option<f64>>,
}

/// Why a replay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The inputs do not fit the strategy.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The planner failed on a day.
    #[error("the optimiser failed on {day}: {message}")]
    Planner {
        /// The day.
        day: Date,
        /// Its message.
        message: String,
    },
    /// Cancelled through the progress callback.
    #[error("cancelled")]
    Cancelled,
}

/// Replays `rules` over the timeline. `progress(done_share)` is called after
/// each day and stops the run when it returns false.
pub fn replay(
    rules: &RuleSet,
    assets: &Assets,
    inputs: &Inputs,
    timeline: &Timeline,
    planner: Option<&dyn Planner>,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<Replay, ReplayError> {
    check_fit(rules, assets, planner)?;
    let dt = timeline.dt_h;
    let n = timeline.len();
    let battery = assets.battery.as_ref();
    let mut cell = battery.map(|b| Cell { energy_kwh: b.soc_start_pct / 100.0 * b.capacity_kwh });
    let mut revenue = Revenue::default();
    let mut bids = BidStats::default();
    let mut intervals = Vec::with_capacity(n);
    let mut decisions = Vec::with_capacity(n);
    let mut counts = vec![0u32; rules.rules.len() + 1];
    let mut throughput = 0.0;
    let mut without_price = 0u32;
    let mut cache = PercentileCache::default();
    let wants_percentile = rules.fields().contains(&Field::PricePercentile);
    let mut daily_pnl = Vec::with_capacity(timeline.days.len());
    for day in 0..timeline.days.len() {
        let range = timeline.day_start[day]..timeline.day_start[day + 1];
        let day_mean = mean_price(inputs, timeline, range.clone());
        let mut plan: Option<(usize, Vec<f64>)> = None;
        let mut deferred_kwh = 0.0;
        let mut day_pnl = 0.0;
        for i in range.clone() {
            let t = timeline.start_us[i];
            let d = timeline.decision_us[i];
            let snapshot = Snapshot {
                inputs,
                timeline,
                i,
                decision_us: d,
                soc_pct: battery.zip(cell).map(|(b, c)| c.soc_pct(b)),
                up_kw: battery.zip(cell).map(|(b, c)| c.up_kw(b, dt)),
                down_kw: battery.zip(cell).map(|(b, c)| c.down_kw(b, dt)),
                percentile: if wants_percentile { percentile(inputs, timeline, (day, i, d), &mut cache) } else { None },
            };
            let (rule, explanation) = rules.decide(&snapshot);
            counts[explanation.rule.unwrap_or(rules.rules.len())] += 1;
            let price = inputs.price.last(t);
            let mut iv = Interval { price, ..Interval::default() };
            let Intent { battery_kw: mut battery_request, bid, curtail_generation: curtail_gen, curtail_load, label } =
                intend(rule, &snapshot, Context { assets, inputs, timeline, planner, day, i }, &mut plan)?;
            if bid.is_some() {
                bids.placed += 1;
            }
            let Some(p) = price else {
                without_price += 1;
                // Nothing trades without a price; the battery idles.
                intervals.push(Interval { soc_pct: battery.zip(cell).map(|(b, c)| c.soc_pct(b)), ..iv });
                decisions.push(decision(timeline, i, label, explanation));
                continue;
            };
            let to_money = |kw: f64, price: f64| kw * dt * price / 1000.0;
            // A bid clears against the final price; its commitment then drives the battery.
            let mut commitment = None;
            if let Some((side, q, limit)) = bid {
                let cleared = match side {
                    Side::Sell => limit <= p,
                    Side::Buy => limit >= p,
                };
                if cleared {
                    bids.cleared += 1;
                    let signed = if side == Side::Sell { q } else { -q };
                    commitment = Some(signed);
                    battery_request = signed;
                }
            }
            let delivered = match (battery, cell.as_mut()) {
                (Some(b), Some(c)) => c.run(b, battery_request, dt),
                _ => 0.0,
            };
            throughput += delivered.abs() * dt;
            let mut pnl = 0.0;
            match commitment {
                Some(c) => {
                    let sold = to_money(c, p);
                    let imbalance_price = inputs.imbalance_price.as_ref().and_then(|col| col.last(t)).unwrap_or(p);
                    let imbalance = to_money(delivered - c, imbalance_price);
                    revenue.market += sold;
                    revenue.imbalance += imbalance;
                    pnl += sold + imbalance;
                    let short = (delivered - c).abs() > 1e-6;
                    let good_side = day_mean.is_some_and(|m| if c > 0.0 { p >= m } else { p <= m });
                    if !short && good_side {
                        bids.successful += 1;
                    }
                }
                None => {
                    let traded = to_money(delivered, p);
                    revenue.market += traded;
                    pnl += traded;
                }
            }
            if let Some(b) = battery {
                let wear = -delivered.abs() * dt * b.cycle_cost_per_kwh;
                revenue.degradation += wear;
                pnl += wear;
            }
            let generation = inputs.generation.as_ref().and_then(|g| g.last(t)).unwrap_or(0.0) * (1.0 - curtail_gen);
            let gen_money = to_money(generation, p);
            revenue.generation += gen_money;
            pnl += gen_money;
            let load_kw = match &assets.flexible_load {
                Some(f) => flexible_load_kw(f, &mut deferred_kwh, curtail_load, range.end - i, range.len(), dt),
                None => 0.0,
            };
            let load_money = -to_money(load_kw, p);
            revenue.load += load_money;
            pnl += load_money;
            iv.battery_kw = delivered;
            iv.soc_pct = battery.zip(cell).map(|(b, c)| c.soc_pct(b));
            iv.generation_kw = generation;
            iv.load_kw = load_kw;
            iv.pnl = pnl;
            day_pnl += pnl;
            intervals.push(iv);
            decisions.push(decision(timeline, i, label, explanation));
        }
        daily_pnl.push((timeline.days[day], day_pnl));
        if !progress((day + 1) as f64 / timeline.days.len() as f64) {
            return Err(ReplayError::Cancelled);
        }
    }
    revenue.net = revenue.market + revenue.imbalance + revenue.generation + revenue.load + revenue.degradation;
    let (daily, metrics) = daily_metrics(&daily_pnl);
    let mut rule_counts: Vec<(String, u32)> =
        rules.rules.iter().zip(&counts).map(|(r, c)| (r.name.clone(), *c)).collect();
    rule_counts.push(("no rule fired".into(), counts[rules.rules.len()]));
    Ok(Replay {
        revenue,
        bids,
        daily,
        metrics,
        throughput_kwh: throughput,
        equivalent_cycles: battery.map_or(0.0, |b| throughput / (2.0 * b.capacity_kwh)),
        intervals_without_price: without_price,
        rule_counts,
        intervals,
        decisions,
    })
}

/// One interval of a live decision: what to offer and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Intended {
    /// The decision with its explanation.
    pub decision: Decision,
    /// Sell (discharge) or buy (charge); none when holding.
    pub side: Option<Side>,
    /// Quantity, kW.
    pub kw: f64,
    /// Limit price, currency/MWh; none: at any price (a charge, discharge
    /// or optimiser step, which takes the market price).
    pub limit: Option<f64>,
}

/// Decides the first day of `timeline` as the strategy would now, for a
/// live bid: every interval sees what is known at `now_us` (and never more
/// than at its gate closure), and the battery starts from `soc_start_pct`
/// and follows the intended steps as if they cleared.
pub fn decide_day(
    rules: &RuleSet,
    assets: &Assets,
    inputs: &Inputs,
    timeline: &Timeline,
    now_us: i64,
    planner: Option<&dyn Planner>,
) -> Result<Vec<Intended>, ReplayError> {
    check_fit(rules, assets, planner)?;
    let dt = timeline.dt_h;
    let battery = assets.battery.as_ref();
    let mut cell = battery.map(|b| Cell { energy_kwh: b.soc_start_pct / 100.0 * b.capacity_kwh });
    let mut cache = PercentileCache::default();
    let mut plan = None;
    let mut out = Vec::new();
    let Some(&end) = timeline.day_start.get(1) else { return Ok(out) };
    for i in 0..end {
        let d = timeline.decision_us[i].min(now_us);
        let snapshot = Snapshot {
            inputs,
            timeline,
            i,
            decision_us: d,
            soc_pct: battery.zip(cell).map(|(b, c)| c.soc_pct(b)),
            up_kw: battery.zip(cell).map(|(b, c)| c.up_kw(b, dt)),
            down_kw: battery.zip(cell).map(|(b, c)| c.down_kw(b, dt)),
            percentile: percentile(inputs, timeline, (0, i, d), &mut cache),
        };
        let (rule, explanation) = rules.decide(&snapshot);
        let intent = intend(rule, &snapshot, Context { assets, inputs, timeline, planner, day: 0, i }, &mut plan)?;
        let (side, kw, limit) = match intent.bid {
            Some((side, kw, limit)) => (Some(side), kw, Some(limit)),
            None if intent.battery_kw > 1e-9 => (Some(Side::Sell), intent.battery_kw, None),
            None if intent.battery_kw < -1e-9 => (Some(Side::Buy), -intent.battery_kw, None),
            None => (None, 0.0, None),
        };
        if let (Some(b), Some(c), Some(side)) = (battery, cell.as_mut(), side) {
            c.run(b, if side == Side::Sell { kw } else { -kw }, dt);
        }
        let mut decision = decision(timeline, i, intent.label, explanation);
        decision.decided_at = Timestamp::from_microsecond(d).unwrap_or(decision.decided_at);
        out.push(Intended { decision, side, kw, limit });
    }
    Ok(out)
}

/// What a rule wants done in one interval.
#[derive(Debug, Clone)]
struct Intent {
    /// Battery power asked for, kW, discharge positive (a bid's commitment overrides it once cleared).
    battery_kw: f64,
    /// A bid: side, kW, limit price.
    bid: Option<(Side, f64, f64)>,
    /// Share of generation cut, 0..1.
    curtail_generation: f64,
    /// Share of the flexible load deferred, 0..1.
    curtail_load: f64,
    /// Short description for the decision log.
    label: String,
}

/// Where a decision is taken.
#[derive(Clone, Copy)]
struct Context<'a> {
    assets: &'a Assets,
    inputs: &'a Inputs,
    timeline: &'a Timeline,
    planner: Option<&'a dyn Planner>,
    day: usize,
    i: usize,
}

/// Turns the fired rule's actions into an intent. `plan` caches the
/// optimiser's plan of the day from the step it was made.
fn intend(
    rule: Option<&super::rules::Rule>,
    snapshot: &Snapshot,
    cx: Context,
    plan: &mut Option<(usize, Vec<f64>)>,
) -> Result<Intent, ReplayError> {
    let dt = cx.timeline.dt_h;
    let battery = cx.assets.battery.as_ref();
    let soc = snapshot.soc_pct;
    let mut out =
        Intent { battery_kw: 0.0, bid: None, curtail_generation: 0.0, curtail_load: 0.0, label: "hold".into() };
    for action in rule.map(|r| r.actions.as_slice()).unwrap_or_default() {
        match action {
            Action::Hold => {}
            Action::Curtail { target: CurtailTarget::Generation, share_pct } => {
                out.curtail_generation = share_pct / 100.0;
                out.label = format!("curtail generation {share_pct} %");
            }
            Action::Curtail { target: CurtailTarget::Load, share_pct } => {
                out.curtail_load = share_pct / 100.0;
                out.label = format!("defer load {share_pct} %");
            }
            Action::Charge { target_soc_pct, power_kw } => {
                if let (Some(b), Some(soc)) = (battery, soc) {
                    let c = Cell { energy_kwh: soc / 100.0 * b.capacity_kwh };
                    let cap = power_kw.unwrap_or(b.charge_kw);
                    out.battery_kw = c.towards(b, target_soc_pct.unwrap_or(b.soc_max_pct), cap, dt).min(0.0);
                    out.label = "charge".into();
                }
            }
            Action::Discharge { target_soc_pct, power_kw } => {
                if let (Some(b), Some(soc)) = (battery, soc) {
                    let c = Cell { energy_kwh: soc / 100.0 * b.capacity_kwh };
                    let cap = power_kw.unwrap_or(b.discharge_kw);
                    out.battery_kw = c.towards(b, target_soc_pct.unwrap_or(b.soc_min_pct), cap, dt).max(0.0);
                    out.label = "discharge".into();
                }
            }
            Action::Optimise { cycle_cost_per_kwh } => {
                let (Some(b), Some(soc), Some(p)) = (battery, soc, cx.planner) else { continue };
                let tl = cx.timeline;
                let end = tl.day_start[cx.day + 1];
                if plan.as_ref().is_none_or(|(from, _)| *from > cx.i) {
                    let wear = cycle_cost_per_kwh.unwrap_or(b.cycle_cost_per_kwh);
                    let d = snapshot.decision_us;
                    let prices: Vec<f64> =
                        (cx.i..end).map(|j| known_price(cx.inputs, tl.start_us[j], d).unwrap_or(f64::NAN)).collect();
                    if prices.iter().all(|p| p.is_finite()) {
                        let powers = p
                            .plan(b, soc, wear, &prices, dt)
                            .map_err(|message| ReplayError::Planner { day: tl.days[cx.day], message })?;
                        *plan = Some((cx.i, powers));
                    } else {
                        out.label = "optimise: prices of the day not known at decision time".into();
                    }
                }
                if let Some((from, powers)) = plan.as_ref() {
                    out.battery_kw = powers.get(cx.i - from).copied().unwrap_or(0.0);
                    out.label = "optimise".into();
                }
            }
            Action::Bid { side, quantity, price: limit } => {
                let Some(limit) = limit.eval(snapshot) else {
                    out.label = "no bid: price formula unknown at decision time".into();
                    continue;
                };
                let available = match side {
                    Side::Sell => snapshot.up_kw,
                    Side::Buy => snapshot.down_kw,
                };
                let q = match quantity {
                    BidQuantity::Kw(kw) => *kw,
                    BidQuantity::PctAvailable(pct) => available.unwrap_or(0.0) * pct / 100.0,
                };
                if q <= 0.0 {
                    out.label = "no bid: nothing available".into();
                    continue;
                }
                out.label = format!("bid {} {q:.1} kW @ {limit:.2}", side.as_str());
                out.bid = Some((*side, q, limit));
            }
        }
    }
    Ok(out)
}

fn decision(tl: &Timeline, i: usize, action: String, explanation: Explanation) -> Decision {
    let ts = |us: i64| Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH);
    Decision { start: ts(tl.start_us[i]), decided_at: ts(tl.decision_us[i]), action, explanation }
}

fn mean_price(inputs: &Inputs, tl: &Timeline, range: std::ops::Range<usize>) -> Option<f64> {
    let prices: Vec<f64> = range.filter_map(|j| inputs.price.last(tl.start_us[j])).collect();
    (!prices.is_empty()).then(|| prices.iter().sum::<f64>() / prices.len() as f64)
}

/// The flexible load's power this step: its even share of the day's
/// energy, less what is deferred now, plus catch-up of what was deferred
/// earlier; forced up when the steps left could not take it otherwise.
fn flexible_load_kw(
    f: &FlexibleLoadSpec,
    deferred_kwh: &mut f64,
    curtail: f64,
    steps_left: usize,
    steps_in_day: usize,
    dt: f64,
) -> f64 {
    let base = (f.daily_energy_kwh / (steps_in_day as f64 * dt)).min(f.max_kw);
    let headroom = (f.max_kw - base).max(0.0);
    // Energy that must still be made up after this step, if this step takes none.
    let must_now = (*deferred_kwh + base * curtail * dt - (steps_left as f64 - 1.0) * headroom * dt).max(0.0);
    let mut kw = base * (1.0 - curtail);
    *deferred_kwh += base * curtail * dt;
    let catch_up = if curtail > 0.0 { must_now / dt } else { (*deferred_kwh / dt).min(headroom) };
    let catch_up = catch_up.min(f.max_kw - kw).max(0.0);
    kw += catch_up;
    *deferred_kwh = (*deferred_kwh - catch_up * dt).max(0.0);
    kw
}

fn check_fit(rules: &RuleSet, assets: &Assets, planner: Option<&dyn Planner>) -> Result<(), Invalid> {
    let mut e = Errors::default();
    if let Some(b) = &assets.battery {
        e.extend(b.check("battery").err().unwrap_or(Invalid(vec![])));
    }
    if let Some(f) = &assets.flexible_load {
        e.range("flexible_load.daily_energy_kwh", f.daily_energy_kwh, 0.0, 1e9);
        e.range("flexible_load.max_kw", f.max_kw, 0.001, 1e9);
        e.check(f.daily_energy_kwh <= f.max_kw * 24.0, "flexible_load.daily_energy_kwh", "exceeds max_kw × 24 h");
    }
    for (i, rule) in rules.rules.iter().enumerate() {
        for (k, action) in rule.actions.iter().enumerate() {
            let needs_battery = matches!(
                action,
                Action::Charge { .. } | Action::Discharge { .. } | Action::Optimise { .. } | Action::Bid { .. }
            );
            if needs_battery && assets.battery.is_none() {
                e.push(format!("rules[{i}].actions[{k}]"), "needs a battery, and the portfolio has none");
            }
            if matches!(action, Action::Optimise { .. }) && planner.is_none() {
                e.push(format!("rules[{i}].actions[{k}]"), "the optimiser is not available here");
            }
            if matches!(action, Action::Curtail { target: CurtailTarget::Load, .. }) && assets.flexible_load.is_none() {
                e.push(format!("rules[{i}].actions[{k}]"), "defers load, and the portfolio has no flexible load");
            }
        }
    }
    e.finish(())
}

/// The best any strategy could have done with the battery and the flexible
/// load, knowing every final price in advance: per day the planner's
/// optimum on the final prices (SOC carried over), generation curtailed
/// exactly when the price is negative, and the load's daily energy put
/// into the cheapest intervals.
pub fn perfect_foresight(
    assets: &Assets,
    inputs: &Inputs,
    timeline: &Timeline,
    planner: &dyn Planner,
) -> Result<Replay, ReplayError> {
    let dt = timeline.dt_h;
    let mut soc = assets.battery.as_ref().map(|b| b.soc_start_pct);
    let mut revenue = Revenue::default();
    let mut intervals = Vec::with_capacity(timeline.len());
    let mut daily = Vec::new();
    let mut throughput = 0.0;
    let mut without_price = 0;
    for day in 0..timeline.days.len() {
        let range = timeline.day_start[day]..timeline.day_start[day + 1];
        let prices: Vec<Option<f64>> = range.clone().map(|j| inputs.price.last(timeline.start_us[j])).collect();
        without_price += prices.iter().filter(|p| p.is_none()).count() as u32;
        let filled: Vec<f64> = prices.iter().map(|p| p.unwrap_or(0.0)).collect();
        let battery_kw = match (&assets.battery, soc) {
            (Some(b), Some(s)) => planner
                .plan(b, s, b.cycle_cost_per_kwh, &filled, dt)
                .map_err(|message| ReplayError::Planner { day: timeline.days[day], message })?,
            _ => vec![0.0; range.len()],
        };
        let load_kw = match &assets.flexible_load {
            Some(f) => cheapest_fill(f, &filled, dt),
            None => vec![0.0; range.len()],
        };
        let mut day_pnl = 0.0;
        for (k, j) in range.enumerate() {
            let Some(p) = prices[k] else {
                intervals.push(Interval { soc_pct: soc, ..Interval::default() });
                continue;
            };
            let mut cell =
                assets.battery.as_ref().zip(soc).map(|(b, s)| (b, Cell { energy_kwh: s / 100.0 * b.capacity_kwh }));
            let delivered = cell.as_mut().map_or(0.0, |(b, c)| c.run(b, battery_kw[k], dt));
            soc = cell.map(|(b, c)| c.soc_pct(b));
            throughput += delivered.abs() * dt;
            let money = |kw: f64| kw * dt * p / 1000.0;
            let wear = -delivered.abs() * dt * assets.battery.as_ref().map_or(0.0, |b| b.cycle_cost_per_kwh);
            let generation = inputs.generation.as_ref().and_then(|g| g.last(timeline.start_us[j])).unwrap_or(0.0);
            let generation = if p < 0.0 { 0.0 } else { generation };
            revenue.market += money(delivered);
            revenue.degradation += wear;
            revenue.generation += money(generation);
            revenue.load -= money(load_kw[k]);
            let pnl = money(delivered) + wear + money(generation) - money(load_kw[k]);
            day_pnl += pnl;
            intervals.push(Interval {
                price: Some(p),
                battery_kw: delivered,
                soc_pct: soc,
                generation_kw: generation,
                load_kw: load_kw[k],
                pnl,
            });
        }
        daily.push((timeline.days[day], day_pnl));
    }
    revenue.net = revenue.market + revenue.imbalance + revenue.generation + revenue.load + revenue.degradation;
    let (daily, metrics) = daily_metrics(&daily);
    Ok(Replay {
        revenue,
        bids: BidStats::default(),
        daily,
        metrics,
        throughput_kwh: throughput,
        equivalent_cycles: assets.battery.as_ref().map_or(0.0, |b| throughput / (2.0 * b.capacity_kwh)),
        intervals_without_price: without_price,
        rule_counts: Vec::new(),
        intervals,
        decisions: Vec::new(),
    })
}

/// The daily energy at up to `max_kw`, cheapest intervals first: optimal
/// for one energy constraint with box bounds (a fractional knapsack).
fn cheapest_fill(f: &FlexibleLoadSpec, prices: &[f64], dt: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..prices.len()).collect();
    order.sort_by(|&a, &b| prices[a].total_cmp(&prices[b]));
    let mut left = f.daily_energy_kwh;
    let mut out = vec![0.0; prices.len()];
    for k in order {
        let kw = (left / dt).min(f.max_kw);
        if kw <= 0.0 {
            break;
        }
        out[k] = kw;
        left -= kw * dt;
    }
    out
}
