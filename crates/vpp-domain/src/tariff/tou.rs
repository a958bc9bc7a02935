//! Time-of-use tariffs: windows in local time, seasons, workday and holiday
//! calendars, versions by effective date, and the labelling of every
//! quarter-hour with its period.
//!
//! A day plan has 96 quarter-hour slots of local clock time; windows start
//! and end on that grid (`HH:MM`, `24:00` allowed as an end, and an end
//! before the start wraps past midnight). Every slot must be covered by
//! exactly one window: overlaps and gaps are refused, naming the hours.
//! Local clock time is what the tariff means, so on a DST change the
//! repeated hour is labelled twice by the same window and the skipped hour
//! not at all.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};

/// Minutes per slot of a day plan.
pub const SLOT_MIN: u16 = 15;
/// Slots of a day plan (24 h of quarter-hours of clock time).
pub const SLOTS_PER_DAY: usize = 96;

/// A time-of-use period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Sharp peak (尖峰): the dearest hours, often only in summer or winter.
    SharpPeak,
    /// Peak (高峰).
    Peak,
    /// Flat or shoulder (平段).
    Flat,
    /// Valley or off-peak (低谷).
    Valley,
}

impl Period {
    /// Every period, dearest first.
    pub const ALL: [Period; 4] = [Self::SharpPeak, Self::Peak, Self::Flat, Self::Valley];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SharpPeak => "sharp_peak",
            Self::Peak => "peak",
            Self::Flat => "flat",
            Self::Valley => "valley",
        }
    }

    /// Its name in `lang` (`sharp peak`, `尖峰`).
    pub fn name(self, lang: crate::lang::Lang) -> &'static str {
        match self {
            Self::SharpPeak => lang.pick("sharp peak", "尖峰"),
            Self::Peak => lang.pick("peak", "高峰"),
            Self::Flat => lang.pick("flat", "平段"),
            Self::Valley => lang.pick("valley", "低谷"),
        }
    }

    /// Position in [`Period::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One window of a day plan, in local clock time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, `HH:MM` on the quarter-hour grid.
    pub start: String,
    /// End (exclusive), `HH:MM`; `24:00` is midnight; an end before the start wraps past midnight.
    pub end: String,
    /// Period of the window.
    pub period: Period,
}

/// Energy prices per period, currency per kWh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodPrices {
    /// Sharp-peak price per kWh; needed when a window uses the sharp peak.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sharp_peak: Option<Decimal>,
    /// Peak price per kWh.
    #[schema(value_type = String)]
    pub peak: Decimal,
    /// Flat price per kWh.
    #[schema(value_type = String)]
    pub flat: Decimal,
    /// Valley price per kWh.
    #[schema(value_type = String)]
    pub valley: Decimal,
}

impl PeriodPrices {
    /// The price of `period`, if set.
    pub fn get(&self, period: Period) -> Option<Decimal> {
        match period {
            Period::SharpPeak => self.sharp_peak,
            Period::Peak => Some(self.peak),
            Period::Flat => Some(self.flat),
            Period::Valley => Some(self.valley),
        }
    }
}

/// Months that share a day plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Season {
    /// Name, e.g. `summer`.
    pub name: String,
    /// Months 1..=12 of the season; every month is in exactly one season.
    pub months: Vec<u8>,
    /// Windows on workdays.
    pub workday: Vec<Window>,
    /// Windows on weekends and holidays; the workday windows if absent.
    #[serde(default)]
    pub non_workday: Option<Vec<Window>>,
    /// Prices of this season; the tariff's energy prices if absent.
    #[serde(default)]
    pub prices: Option<PeriodPrices>,
}

/// Demand or capacity charge, per month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "basis", rename_all = "snake_case", deny_unknown_fields)]
pub enum DemandCharge {
    /// Per kW of the month's highest 15-minute demand.
    MaxDemand {
        /// Price per kW and month.
        #[schema(value_type = String)]
        price_per_kw_month: Decimal,
    },
    /// Per kVA of the site's transformer capacity.
    Capacity {
        /// Price per kVA and month.
        #[schema(value_type = String)]
        price_per_kva_month: Decimal,
    },
}

/// One row of a power-factor adjustment table: from `min_pf` up to the next
/// row, the adjusted lines change by `adjustment_pct` (negative = rebate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PfStep {
    /// Lowest power factor of the row, two decimals.
    #[schema(value_type = String)]
    pub min_pf: Decimal,
    /// Change of the adjusted lines, %; negative is a rebate.
    #[schema(value_type = String)]
    pub adjustment_pct: Decimal,
}

/// Power-factor adjustment around a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerFactorRule {
    /// Target power factor (e.g. 0.90); the configuration's `power_factor_target` if absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub target: Option<Decimal>,
    /// Adjustment table; [`default_pf_table`] around the target if absent.
    #[serde(default)]
    pub table: Option<Vec<PfStep>>,
}

/// A further per-kWh line of the bill: market purchase, transmission,
/// system operation, government funds and surcharges, as the region has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Code, `[a-z0-9_]`, unique in the tariff, e.g. `transmission`.
    pub code: String,
    /// Name on the bill.
    pub name: String,
    /// Rate per kWh consumed.
    #[schema(value_type = String)]
    pub rate_per_kwh: Decimal,
    /// The power-factor adjustment applies to this line too.
    #[serde(default)]
    pub pf_adjusted: bool,
}

/// What one version of a tariff says, from its effective date on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffTerms {
    /// First local day this version applies; it applies until the next version's date.
    #[schema(value_type = String, format = Date)]
    pub effective_from: Date,
    /// Currency, ISO 4217 (e.g. `CNY`).
    pub currency: String,
    /// Energy prices per period, per kWh (a season may override them).
    pub energy_prices: PeriodPrices,
    /// Seasons; together they hold every month once.
    pub seasons: Vec<Season>,
    /// Demand or capacity charge.
    #[serde(default)]
    pub demand_charge: Option<DemandCharge>,
    /// Power-factor adjustment of the energy and demand lines.
    #[serde(default)]
    pub power_factor: Option<PowerFactorRule>,
    /// Further per-kWh lines.
    #[serde(default)]
    pub components: Vec<Component>,
}

/// What a client sends to create a tariff (its first version).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffRequest {
    /// Unique name.
    pub name: String,
    /// Region whose holiday calendar decides workdays, e.g. `CN-JS`.
    pub region: String,
    /// IANA time zone of the windows, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    /// The first version.
    pub terms: TariffTerms,
}

/// One stored version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TariffVersion {
    /// Version number from 1.
    pub version: i64,
    /// Its terms.
    pub terms: TariffTerms,
    /// When stored.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A stored tariff with every version, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tariff {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Holiday-calendar region.
    pub region: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Versions, oldest first.
    pub versions: Vec<TariffVersion>,
}

/// A validated day plan: the period of each quarter-hour slot of clock time.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPlan(pub [Period; SLOTS_PER_DAY]);

/// A validated season.
#[derive(Debug, Clone)]
pub struct CompiledSeason {
    /// Name.
    pub name: String,
    /// Workday plan.
    pub workday: DayPlan,
    /// Weekend and holiday plan.
    pub non_workday: DayPlan,
    /// Prices per kWh, indexed by [`Period::index`]; `None` where unused and unset.
    pub prices: [Option<Decimal>; 4],
}

/// Validated terms, ready for labelling.
#[derive(Debug, Clone)]
pub struct CompiledTerms {
    /// The terms as given.
    pub terms: TariffTerms,
    /// Season index of each month (January first).
    pub season_of_month: [usize; 12],
    /// Seasons.
    pub seasons: Vec<CompiledSeason>,
}

/// `HH:MM` as minutes of the day; `24:00` only where `end` allows it.
fn clock_minutes(text: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("`{text}` is not a time HH:MM");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let minutes = h * 60 + m;
    if m >= 60 || minutes > 24 * 60 || (minutes == 24 * 60 && !end) {
        return Err(bad());
    }
    if minutes % SLOT_MIN != 0 {
        return Err(format!("`{text}` is not on the quarter-hour grid"));
    }
    Ok(minutes)
}

/// Formats a slot boundary as `HH:MM`.
pub fn slot_clock(slot: usize) -> String {
    let minutes = slot * usize::from(SLOT_MIN);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Runs of consecutive slots as `HH:MM–HH:MM` ranges.
fn slot_ranges(slots: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < slots.len() {
        let mut j = i;
        while j + 1 < slots.len() && slots[j + 1] == slots[j] + 1 {
            j += 1;
        }
        out.push(format!("{}–{}", slot_clock(slots[i]), slot_clock(slots[j] + 1)));
        i = j + 1;
    }
    out.join(", ")
}

/// Checks windows and returns the day plan, or every problem on `field`.
fn day_plan(errors: &mut Errors, field: &str, windows: &[Window]) -> Option<DayPlan> {
    let mut slots: [Option<Period>; SLOTS_PER_DAY] = [None; SLOTS_PER_DAY];
    let mut overlaps = Vec::new();
    let mut well_formed = true;
    for (i, w) in windows.iter().enumerate() {
        let (start, end) = match (clock_minutes(&w.start, false), clock_minutes(&w.end, true)) {
            (Ok(s), Ok(e)) => (usize::from(s / SLOT_MIN), usize::from(e / SLOT_MIN)),
            (s, e) => {
                for (name, r) in [("start", s), ("end", e)] {
                    if let Err(msg) = r {
                        errors.push(format!("{field}[{i}].{name}"), msg);
                    }
                }
                well_formed = false;
                continue;
            }
        };
        if start == end || (start == 0 && end == 0) {
            errors.push(format!("{field}[{i}]"), "start and end are the same time");
            well_formed = false;
            continue;
        }
        let span = if end > start { end - start } else { SLOTS_PER_DAY - start + end };
        for k in 0..span {
            let slot = (start + k) % SLOTS_PER_DAY;
            if slots[slot].is_some() {
                overlaps.push(slot);
            } else {
                slots[slot] = Some(w.period);
            }
        }
    }
    if !well_formed {
        return None;
    }
    overlaps.sort_unstable();
    overlaps.dedup();
    if !overlaps.is_empty() {
        errors.push(field, format!("windows overlap {}", slot_ranges(&overlaps)));
    }
    let gaps: Vec<usize> = (0..SLOTS_PER_DAY).filter(|&s| slots[s].is_none()).collect();
    if !gaps.is_empty() {
        errors.push(field, format!("no window covers {}", slot_ranges(&gaps)));
    }
    if !overlaps.is_empty() || !gaps.is_empty() {
        return None;
    }
    Some(DayPlan(slots.map(|p| p.unwrap_or(Period::Flat))))
}

fn check_prices(errors: &mut Errors, field: &str, prices: &PeriodPrices) {
    for period in Period::ALL {
        if let Some(p) = prices.get(period)
            && (p.is_sign_negative() || p > Decimal::ONE_HUNDRED)
        {
            errors.push(format!("{field}.{}", period.as_str()), format!("must be 0..100 per kWh, got {p}"));
        }
    }
}

fn check_money(errors: &mut Errors, field: &str, value: Decimal, max: Decimal) {
    errors.check(!value.is_sign_negative() && value <= max, field, format!("must be between 0 and {max}, got {value}"));
}

/// Checks a region code: 1..32 of `[A-Za-z0-9_-]`.
pub fn check_region(errors: &mut Errors, field: &str, region: &str) {
    let ok =
        (1..=32).contains(&region.len()) && region.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    errors.check(ok, field, "must be 1 to 32 characters of A-Z, a-z, 0-9, '-' or '_'");
}

/// Checks an IANA time zone name and returns the zone.
pub fn check_time_zone(errors: &mut Errors, field: &str, name: &str) -> Option<TimeZone> {
    match TimeZone::get(name) {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(field, format!("`{name}` is not an IANA time zone such as Asia/Shanghai"));
            None
        }
    }
}

impl TariffRequest {
    /// Validates the request and compiles its terms.
    pub fn validate(&self) -> Result<CompiledTerms, Invalid> {
        let mut errors = Errors::default();
        crate::error::check_name(&mut errors, "name", &self.name);
        check_region(&mut errors, "region", &self.region);
        check_time_zone(&mut errors, "time_zone", &self.time_zone);
        match self.terms.compile("terms") {
            Ok(compiled) => errors.finish(compiled),
            Err(invalid) => {
                errors.extend(invalid);
                Err(errors.finish(()).expect_err("holds the terms' errors"))
            }
        }
    }
}

impl TariffTerms {
    /// Validates the terms (fields named under `prefix`) and compiles the day plans.
    pub fn compile(&self, prefix: &str) -> Result<CompiledTerms, Invalid> {
        // Field names under `prefix.`, or bare when the terms are the whole request.
        let p = if prefix.is_empty() { String::new() } else { format!("{prefix}.") };
        let mut errors = Errors::default();
        let currency_ok = self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        errors.check(currency_ok, format!("{p}currency"), "must be an ISO 4217 code such as CNY");
        check_prices(&mut errors, &format!("{p}energy_prices"), &self.energy_prices);
        let mut season_of_month: [Option<usize>; 12] = [None; 12];
        let mut seasons = Vec::new();
        errors.check(!self.seasons.is_empty(), format!("{p}seasons"), "needs at least one season");
        for (si, season) in self.seasons.iter().enumerate() {
            let field = format!("{p}seasons[{si}]");
            crate::error::check_name(&mut errors, &format!("{field}.name"), &season.name);
            for &m in &season.months {
                if !(1..=12).contains(&m) {
                    errors.push(format!("{field}.months"), format!("month {m} is not 1..12"));
                    continue;
                }
                match season_of_month[usize::from(m - 1)] {
                    Some(other) => errors.push(
                        format!("{p}seasons"),
                        format!(
                            "month {m} is in more than one season ({} and {})",
                            self.seasons[other].name, season.name
                        ),
                    ),
                    None => season_of_month[usize::from(m - 1)] = Some(si),
                }
            }
            if let Some(prices) = &season.prices {
                check_prices(&mut errors, &format!("{field}.prices"), prices);
            }
            let workday = day_plan(&mut errors, &format!("{field}.workday"), &season.workday);
            let non_workday = match &season.non_workday {
                Some(w) => day_plan(&mut errors, &format!("{field}.non_workday"), w),
                None => workday.clone(),
            };
            let prices_of = season.prices.as_ref().unwrap_or(&self.energy_prices);
            if let (Some(workday), Some(non_workday)) = (workday, non_workday) {
                let mut prices = [None; 4];
                for period in Period::ALL {
                    let used = workday.0.contains(&period) || non_workday.0.contains(&period);
                    prices[period.index()] = prices_of.get(period);
                    if used && prices[period.index()].is_none() {
                        errors.push(
                            format!("{field}.workday"),
                            format!("uses the {} period but no {} price is set", period.as_str(), period.as_str()),
                        );
                    }
                }
                seasons.push(CompiledSeason { name: season.name.clone(), workday, non_workday, prices });
            }
        }
        let missing: Vec<String> =
            (0..12).filter(|&m| season_of_month[m].is_none()).map(|m| (m + 1).to_string()).collect();
        if !missing.is_empty() && !self.seasons.is_empty() {
            errors.push(format!("{p}seasons"), format!("months {} are in no season", missing.join(", ")));
        }
        match &self.demand_charge {
            Some(DemandCharge::MaxDemand { price_per_kw_month: price }) => {
                check_money(&mut errors, &format!("{p}demand_charge.price_per_kw_month"), *price, Decimal::from(10_000))
            }
            Some(DemandCharge::Capacity { price_per_kva_month: price }) => check_money(
                &mut errors,
                &format!("{p}demand_charge.price_per_kva_month"),
                *price,
                Decimal::from(10_000),
            ),
            None => {}
        }
        if let Some(pf) = &self.power_factor {
            check_pf_rule(&mut errors, &format!("{p}power_factor"), pf);
        }
        let mut codes = std::collections::BTreeSet::new();
        for (i, c) in self.components.iter().enumerate() {
            let field = format!("{p}components[{i}]");
            let ok = (1..=40).contains(&c.code.len())
                && c.code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
            errors.check(ok, format!("{field}.code"), "must be 1 to 40 characters of a-z, 0-9 or '_'");
            errors.check(codes.insert(c.code.as_str()), format!("{field}.code"), format!("`{}` is used twice", c.code));
            errors.check(
                !RESERVED_CODES.contains(&c.code.as_str()),
                format!("{field}.code"),
                format!("`{}` is a line the bill computes itself", c.code),
            );
            crate::error::check_name(&mut errors, &format!("{field}.name"), &c.name);
            check_money(&mut errors, &format!("{field}.rate_per_kwh"), c.rate_per_kwh, Decimal::from(100));
        }
        // A season without a plan has recorded why, so errors is not empty then.
        if !errors.is_empty() {
            return Err(errors.finish(()).expect_err("not empty"));
        }
        let season_of_month = season_of_month.map(|s| s.unwrap_or(0));
        Ok(CompiledTerms { terms: self.clone(), season_of_month, seasons })
    }
}

/// Bill line codes the bill computes itself; components may not reuse them.
pub const RESERVED_CODES: [&str; 7] =
    ["energy_sharp_peak", "energy_peak", "energy_flat", "energy_valley", "demand", "power_factor", "total"];

fn check_pf_rule(errors: &mut Errors, field: &str, rule: &PowerFactorRule) {
    if let Some(t) = rule.target {
        errors.check(
            t >= Decimal::new(50, 2) && t <= Decimal::ONE,
            format!("{field}.target"),
            format!("must be 0.50..1.00, got {t}"),
        );
    }
    if let Some(table) = &rule.table {
        errors.check(!table.is_empty(), format!("{field}.table"), "needs at least one row");
        for (i, step) in table.iter().enumerate() {
            let ok = !step.min_pf.is_sign_negative() && step.min_pf <= Decimal::ONE && step.min_pf.scale() <= 2;
            errors.check(ok, format!("{field}.table[{i}].min_pf"), "must be 0..1 with at most two decimals");
            errors.check(
                step.adjustment_pct.abs() <= Decimal::from(200),
                format!("{field}.table[{i}].adjustment_pct"),
                "must be -200..200 %",
            );
            if i > 0 && step.min_pf <= table[i - 1].min_pf {
                errors.push(format!("{field}.table[{i}].min_pf"), "rows must be sorted by rising min_pf");
            }
        }
    }
}

/// The default adjustment table around `target` (hundredths), shaped like
/// China's power-factor rule (功率因数调整电费办法, 1983) for a 0.90 target:
/// a rebate of 0.15 % per 0.01 above the target up to 0.75 %; a penalty of
/// 0.5 % per 0.01 below it for 0.20, then 1 % per 0.01 for 0.05, then 2 %
/// per 0.01.
pub fn default_pf_table(target: Decimal) -> Vec<PfStep> {
    let t = (target * Decimal::ONE_HUNDRED).round();
    let t = i64::try_from(t).unwrap_or(90);
    (0..=100i64)
        .map(|h| {
            let d = h - t;
            let pct = if d >= 5 {
                Decimal::new(-75, 2)
            } else if d >= 0 {
                Decimal::new(-15 * d, 2)
            } else if d >= -20 {
                Decimal::new(50 * -d, 2)
            } else if d >= -25 {
                Decimal::from(10 + (-d - 20))
            } else {
                Decimal::from(15 + 2 * (-d - 25))
            };
            PfStep { min_pf: Decimal::new(h, 2), adjustment_pct: pct }
        })
        .collect()
}

/// The adjustment, %, for a power factor (rounded half up to two decimals).
pub fn pf_adjustment_pct(table: &[PfStep], pf: f64) -> Decimal {
    let pf = Decimal::try_from(pf)
        .unwrap_or_default()
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    table.iter().rev().find(|s| s.min_pf <= pf).or_else(|| table.first()).map(|s| s.adjustment_pct).unwrap_or_default()
}

/// Whether a calendar day is a holiday or a moved workday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday: not a workday, whatever the weekday.
    Holiday,
    /// A workday on a weekend day (e.g. China's moved workdays, 调休).
    Workday,
}

/// One exceptional day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDay {
    /// Local date.
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    /// Holiday or moved workday.
    pub kind: DayKind,
    /// Name, e.g. `Spring Festival`.
    #[serde(default)]
    pub name: String,
}

/// A region's holiday calendar. Monday to Friday are workdays unless listed
/// as holidays; weekend days are not, unless listed as workdays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayCalendar {
    /// Exceptional days, sorted by date.
    pub days: Vec<CalendarDay>,
}

impl HolidayCalendar {
    /// Validates: at most 2,000 days, each date once; sorts them.
    pub fn validated(mut self) -> Result<Self, Invalid> {
        let mut errors = Errors::default();
        errors.check(self.days.len() <= 2000, "days", "at most 2000 days");
        self.days.sort_by_key(|d| d.date);
        for pair in self.days.windows(2) {
            if pair[0].date == pair[1].date {
                errors.push("days", format!("{} is listed twice", pair[0].date));
            }
        }
        for (i, d) in self.days.iter().enumerate() {
            errors.check(d.name.chars().count() <= 200, format!("days[{i}].name"), "at most 200 characters");
        }
        errors.finish(self)
    }

    /// True if `date` is a workday.
    pub fn is_workday(&self, date: Date) -> bool {
        match self.days.binary_search_by_key(&date, |d| d.date) {
            Ok(i) => self.days[i].kind == DayKind::Workday,
            Err(_) => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }
}

/// The label of one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// TOU period.
    pub period: Period,
    /// Local day is a workday.
    pub workday: bool,
    /// Index of the version in force.
    pub version: usize,
    /// Index of the season.
    pub season: usize,
    /// Local date.
    pub date: Date,
}

/// A tariff's versions compiled for labelling, with its zone and calendar.
#[derive(Debug, Clone)]
pub struct Labeller {
    /// Zone of the windows.
    pub tz: TimeZone,
    /// Versions by effective date, oldest first.
    pub versions: Vec<CompiledTerms>,
    /// Workday calendar.
    pub calendar: HolidayCalendar,
}

impl Labeller {
    /// Index of the version in force on `date`.
    pub fn version_on(&self, date: Date) -> Option<usize> {
        self.versions.iter().rposition(|v| v.terms.effective_from <= date)
    }

    /// Labels the interval starting at `start`; `None` before the first version.
    pub fn label(&self, start: Timestamp) -> Option<Label> {
        let local = start.to_zoned(self.tz.clone()).datetime();
        let date = local.date();
        let version = self.version_on(date)?;
        let terms = &self.versions[version];
        let season = terms.season_of_month[usize::from(local.month().unsigned_abs() - 1)];
        let workday = self.calendar.is_workday(date);
        let plan = if workday { &terms.seasons[season].workday } else { &terms.seasons[season].non_workday };
        let minute = usize::from(local.hour().unsigned_abs()) * 60 + usize::from(local.minute().unsigned_abs());
        let period = plan.0[minute / usize::from(SLOT_MIN)];
        Some(Label { period, workday, version, season, date })
    }

    /// Price per kWh of a labelled interval.
    pub fn price(&self, label: &Label) -> Option<Decimal> {
        self.versions[label.version].seasons[label.season].prices[label.period.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: &str, end: &str, period: Period) -> Window {
        Window { start: start.into(), end: end.into(), period }
    }

    fn prices() -> PeriodPrices {
        PeriodPrices {
            sharp_peak: Some(Decimal::new(12, 1)),
            peak: Decimal::new(9, 1),
            flat: Decimal::new(6, 1),
            valley: Decimal::new(3, 1),
        }
    }

    fn terms(workday: Vec<Window>) -> TariffTerms {
        TariffTerms {
            effective_from: jiff::civil::date(2026, 1, 1),
            currency: "CNY".into(),
            energy_prices: prices(),
            seasons: vec![Season {
                name: "all".into(),
                months: (1..=12).collect(),
                workday,
                non_workday: None,
                prices: None,
            }],
            demand_charge: None,
            power_factor: None,
            components: vec![],
        }
    }

    #[test]
    fn wrapping_windows_cover_the_day() {
        let t = terms(vec![
            w("23:00", "07:00", Period::Valley),
            w("07:00", "10:00", Period::Flat),
            w("10:00", "12:00", Period::Peak),
            w("12:00", "23:00", Period::Flat),
        ]);
        let c = t.compile("terms").expect("valid");
        assert_eq!(c.seasons[0].workday.0[0], Period::Valley);
        assert_eq!(c.seasons[0].workday.0[95], Period::Valley);
        assert_eq!(c.seasons[0].workday.0[40], Period::Peak);
    }

    #[test]
    fn overlaps_and_gaps_name_the_hours() {
        let t = terms(vec![
            w("00:00", "11:00", Period::Valley),
            w("10:00", "12:00", Period::Peak),
            w("13:00", "24:00", Period::Flat),
        ]);
        let err = t.compile("terms").expect_err("invalid").to_string();
        assert!(err.contains("windows overlap 10:00–11:00"), "{err}");
        assert!(err.contains("no window covers 12:00–13:00"), "{err}");
        assert!(err.contains("terms.seasons[0].workday"), "{err}");
    }

    #[test]
    fn off_grid_and_missing_months_are_refused() {
        let mut t = terms(vec![w("00:00", "10:10", Period::Valley), w("10:10", "24:00", Period::Flat)]);
        t.seasons[0].months = vec![1, 2, 3];
        let err = t.compile("terms").expect_err("invalid").to_string();
        assert!(err.contains("terms.seasons[0].workday[0].end: `10:10` is not on the quarter-hour grid"), "{err}");
        assert!(err.contains("months 4, 5, 6, 7, 8, 9, 10, 11, 12 are in no season"), "{err}");
    }

    #[test]
    fn default_table_matches_the_090_rule() {
        let table = default_pf_table(Decimal::new(90, 2));
        let at = |pf: f64| pf_adjustment_pct(&table, pf);
        assert_eq!(at(0.90), Decimal::ZERO);
        assert_eq!(at(0.92), Decimal::new(-30, 2));
        assert_eq!(at(0.97), Decimal::new(-75, 2));
        assert_eq!(at(0.85), Decimal::new(250, 2));
        assert_eq!(at(0.70), Decimal::from(10));
        assert_eq!(at(0.65), Decimal::from(15));
        assert_eq!(at(0.60), Decimal::from(25));
        // 0.894 rounds to 0.89.
        assert_eq!(at(0.894), Decimal::new(50, 2));
    }

    #[test]
    fn calendar_moves_workdays() {
        let cal = HolidayCalendar {
            days: vec![
                CalendarDay {
                    date: jiff::civil::date(2026, 10, 1),
                    kind: DayKind::Holiday,
                    name: "National Day".into(),
                },
                CalendarDay { date: jiff::civil::date(2026, 10, 10), kind: DayKind::Workday, name: String::new() },
            ],
        }
        .validated()
        .expect("valid");
        assert!(!cal.is_workday(jiff::civil::date(2026, 10, 1))); // Thursday, holiday
        assert!(cal.is_workday(jiff::civil::date(2026, 10, 10))); // Saturday, moved workday
        assert!(!cal.is_workday(jiff::civil::date(2026, 10, 11))); // Sunday
        assert!(cal.is_workday(jiff::civil::date(2026, 10, 12))); // Monday
    }
}
