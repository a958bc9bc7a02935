//! Adjustable loads of an industrial park, their demand-response potential
//! and what using it would save or earn. Every figure is a [`Metric`] that
//! carries its formula.
//!
//! Formulas:
//!
//! - `adjustable_kw` of a load = rated kW × adjustable ratio.
//! - **Potential by response time**: Σ adjustable kW of the loads that
//!   respond within 5, 15, 30 and 60 minutes, and in all.
//! - **Potential by period**: min(Σ adjustable kW, mean workday load in the
//!   period): a load cannot be reduced below zero.
//! - **Shiftable energy** of a workday: Σ over shiftable loads of kW ×
//!   min(max duration, sharp-peak + peak hours, valley hours), capped by the
//!   day's sharp-peak and peak consumption.
//! - **Peak-valley arbitrage**: per workday, energy moved out of the sharp
//!   peak first, then the peak, into the valley: Σ kWh × (period price −
//!   valley price) − Σ cost per adjustment of the loads moved; days where that
//!   would lose money are left alone.
//! - **Demand-charge reduction by load shedding**: for each group of the
//!   loads that respond within `peak_shaving_response_min` and hold at least
//!   `D` minutes (one group per hold time `D` among them): the largest cut
//!   `r` ≤ Σ their kW such that every stretch of load above (max − r) lasts
//!   at most `D`; net = r × demand price − stretches × Σ their cost per
//!   adjustment. The best group's net counts, 0 if none nets a saving.
//! - **Demand-response revenue** per month: DR kW × event hours ×
//!   compensation price × events per year / 12 − events per year / 12 × Σ
//!   cost per adjustment, where DR kW is the adjustable kW of the loads that
//!   respond within `dr_max_response_min` and hold for the event.
//! - **Battery payback**: investment = kWh × capex per kWh + kW × capex per
//!   kW; yearly net saving = saving − O&M % × investment; simple payback =
//!   investment / yearly net saving; NPV = −investment + Σ yearly net saving
//!   / (1 + rate)^y over the lifetime.

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::load::{INTERVAL_H, LabelledLoad};
use super::tou::{Labeller, Period};
use crate::error::{Errors, Invalid};

/// What a client sends to register an adjustable load.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustableLoadRequest {
    /// Site it belongs to.
    pub site_id: String,
    /// Name, e.g. `Air compressor 2`.
    pub name: String,
    /// Rated power, kW.
    pub rated_kw: f64,
    /// Share of the rated power that can be reduced or moved, 0..1.
    pub adjustable_ratio: f64,
    /// Time from request to full response, minutes.
    pub response_time_min: f64,
    /// Cost of one adjustment (lost output, restart), in the tariff's currency.
    #[schema(value_type = String)]
    pub cost_per_adjustment: Decimal,
    /// Longest the load can stay reduced, minutes (a process limit).
    pub max_duration_min: f64,
    /// The energy is made up later (moved), rather than lost (shed).
    #[serde(default = "yes")]
    pub shiftable: bool,
    /// The resource it is, where one is registered.
    #[serde(default)]
    pub resource_id: Option<String>,
}

fn yes() -> bool {
    true
}

impl AdjustableLoadRequest {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        crate::error::check_name(&mut errors, "name", &self.name);
        errors.range("rated_kw", self.rated_kw, 0.001, 1_000_000.0);
        errors.range("adjustable_ratio", self.adjustable_ratio, 0.0, 1.0);
        errors.range("response_time_min", self.response_time_min, 0.0, 1440.0);
        errors.range("max_duration_min", self.max_duration_min, 15.0, 1440.0);
        errors.check(
            !self.cost_per_adjustment.is_sign_negative() && self.cost_per_adjustment <= Decimal::from(1_000_000),
            "cost_per_adjustment",
            "must be 0..1000000",
        );
        errors.finish(())
    }
}

/// A registered adjustable load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdjustableLoad {
    /// Id.
    pub id: String,
    /// Site.
    pub site_id: String,
    /// Name.
    pub name: String,
    /// Rated power, kW.
    pub rated_kw: f64,
    /// Adjustable share, 0..1.
    pub adjustable_ratio: f64,
    /// Response time, minutes.
    pub response_time_min: f64,
    /// Cost of one adjustment.
    #[schema(value_type = String)]
    pub cost_per_adjustment: Decimal,
    /// Longest reduction, minutes.
    pub max_duration_min: f64,
    /// Energy is moved rather than shed.
    pub shiftable: bool,
    /// Linked resource.
    pub resource_id: Option<String>,
    /// When registered.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl AdjustableLoad {
    /// Rated kW × adjustable ratio.
    pub fn adjustable_kw(&self) -> f64 {
        self.rated_kw * self.adjustable_ratio
    }

    fn cost(&self) -> f64 {
        f64::try_from(self.cost_per_adjustment).unwrap_or(0.0)
    }
}

/// A named figure with its unit and formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metric {
    /// Name, e.g. `peak_valley_arbitrage`.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit, e.g. `CNY/month`.
    pub unit: String,
    /// How it is computed, with the figures.
    pub formula: String,
}

fn metric(name: &str, value: f64, unit: impl Into<String>, formula: impl Into<String>) -> Metric {
    let value = if value.is_finite() { (value * 100.0).round() / 100.0 } else { 0.0 };
    Metric { name: name.into(), value, unit: unit.into(), formula: formula.into() }
}

/// Adjustable kW within a response time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResponseBand {
    /// Response within this many minutes (none: any).
    pub within_min: Option<f64>,
    /// Σ adjustable kW of those loads.
    pub adjustable_kw: f64,
}

/// Adjustable capacity in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodPotential {
    /// Period.
    pub period: Period,
    /// Mean workday load in the period, kW.
    pub mean_load_kw: f64,
    /// min(Σ adjustable kW, mean load), kW.
    pub adjustable_kw: f64,
}

/// The flexibility of a site in a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Potential {
    /// By response time (cumulative).
    pub by_response: Vec<ResponseBand>,
    /// By period, on workdays.
    pub by_period: Vec<PeriodPotential>,
    /// Named figures.
    pub metrics: Vec<Metric>,
}

/// Per-workday shifting result.
struct DayShift {
    kwh: f64,
    saving: f64,
}

/// Inputs of the savings figures.
#[derive(Debug, Clone)]
pub struct FlexInput<'a> {
    /// The tariff.
    pub labeller: &'a Labeller,
    /// The month's labelled load, sorted.
    pub load: &'a [LabelledLoad],
    /// The site's adjustable loads.
    pub loads: &'a [AdjustableLoad],
    /// Demand price per kW·month, if the tariff charges max demand.
    pub demand_price: Option<f64>,
    /// Currency.
    pub currency: &'a str,
    /// Language of the formulas and units.
    pub lang: crate::lang::Lang,
}

/// The potential of the loads against a month's load.
pub fn potential(input: &FlexInput) -> Potential {
    let total: f64 = input.loads.iter().map(AdjustableLoad::adjustable_kw).sum();
    let by_response = [Some(5.0), Some(15.0), Some(30.0), Some(60.0), None]
        .into_iter()
        .map(|within| ResponseBand {
            within_min: within,
            adjustable_kw: input
                .loads
                .iter()
                .filter(|l| within.is_none_or(|w| l.response_time_min <= w))
                .map(AdjustableLoad::adjustable_kw)
                .sum(),
        })
        .collect();
    let by_period = Period::ALL
        .into_iter()
        .map(|period| {
            let (sum, n) = input
                .load
                .iter()
                .filter(|l| l.workday && l.period == period)
                .fold((0.0, 0usize), |(s, n), l| (s + l.kw.max(0.0), n + 1));
            let mean = if n == 0 { 0.0 } else { sum / n as f64 };
            PeriodPotential { period, mean_load_kw: mean, adjustable_kw: total.min(mean) }
        })
        .collect();
    let days = shifts(input);
    let workdays = days.len().max(1) as f64;
    let shift_kwh: f64 = days.iter().map(|d| d.kwh).sum::<f64>() / workdays;
    let lang = input.lang;
    let n = input.loads.len();
    let metrics = vec![
        metric(
            "adjustable_kw",
            total,
            "kW",
            lang.pick(format!("Σ rated kW × adjustable ratio over {n} loads"), format!("{n} 个负荷的 Σ 额定 kW × 可调比例")),
        ),
        metric(
            "shiftable_kwh_per_workday",
            shift_kwh,
            "kWh/day",
            lang.pick(
                "mean over workdays of min(Σ shiftable kW × min(max duration, peak hours, valley hours), the day's peak-period consumption)",
                "各工作日 min(Σ 可转移 kW × min(最长持续时间, 高峰时长, 低谷时长), 当日高峰时段用电量) 的平均值",
            ),
        ),
    ];
    Potential { by_response, by_period, metrics }
}

/// Energy moved and money saved on each workday of the month.
fn shifts(input: &FlexInput) -> Vec<DayShift> {
    let lab = input.labeller;
    let mut out = Vec::new();
    for day in super::load::by_local_day(input.load, &lab.tz) {
        if !day.first().is_some_and(|l| l.workday) {
            continue;
        }
        let Some(label) = lab.label(day[0].start) else { continue };
        let price = |p: Period| {
            lab.versions[label.version].seasons[label.season].prices[p.index()]
                .and_then(|d| f64::try_from(d).ok())
                .unwrap_or(0.0)
        };
        let hours = |p: Period| day.iter().filter(|l| l.period == p).count() as f64 * INTERVAL_H;
        let energy = |p: Period| day.iter().filter(|l| l.period == p).map(|l| l.kw.max(0.0) * INTERVAL_H).sum::<f64>();
        let (h_sharp, h_peak, h_valley) = (hours(Period::SharpPeak), hours(Period::Peak), hours(Period::Valley));
        let movable: Vec<&AdjustableLoad> = input.loads.iter().filter(|l| l.shiftable).collect();
        let cap = |window_h: f64| -> f64 {
            movable.iter().map(|l| l.adjustable_kw() * (l.max_duration_min / 60.0).min(window_h).min(h_valley)).sum()
        };
        let sharp = cap(h_sharp).min(energy(Period::SharpPeak));
        let both = cap(h_sharp + h_peak).min(energy(Period::SharpPeak) + energy(Period::Peak));
        let peak = (both - sharp).max(0.0);
        let valley = price(Period::Valley);
        let cost: f64 = movable.iter().map(|l| l.cost()).sum();
        let saving = sharp * (price(Period::SharpPeak) - valley) + peak * (price(Period::Peak) - valley) - cost;
        if saving > 0.0 {
            out.push(DayShift { kwh: sharp + peak, saving });
        } else {
            out.push(DayShift { kwh: 0.0, saving: 0.0 });
        }
    }
    out
}

/// The largest cut of the monthly peak the fast loads can hold, and how many
/// stretches they must cover.
pub fn peak_cut(load: &[LabelledLoad], cut_kw: f64, max_duration_min: f64) -> (f64, usize) {
    let max = load.iter().map(|l| l.kw).fold(f64::NEG_INFINITY, f64::max);
    if load.is_empty() || cut_kw <= 0.0 {
        return (0.0, 0);
    }
    let longest = (max_duration_min / 15.0).floor() as usize;
    // Stretches above a threshold, or None if one is too long.
    let stretches = |threshold: f64| -> Option<usize> {
        let (mut run, mut count) = (0usize, 0usize);
        for (k, l) in load.iter().enumerate() {
            let contiguous = k == 0 || l.start.duration_since(load[k - 1].start).as_secs() == 900;
            if l.kw > threshold {
                run = if contiguous { run + 1 } else { 1 };
                if run == 1 {
                    count += 1;
                }
                if run > longest {
                    return None;
                }
            } else {
                run = 0;
            }
        }
        Some(count)
    };
    if stretches(max - cut_kw).is_some() {
        return (cut_kw, stretches(max - cut_kw).unwrap_or(0));
    }
    let (mut lo, mut hi) = (0.0, cut_kw);
    // Bisection on the cut: feasibility falls as the cut grows.
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if stretches(max - mid).is_some() { lo = mid } else { hi = mid }
    }
    let lo = (lo * 1000.0).floor() / 1000.0;
    (lo, stretches(max - lo).unwrap_or(0))
}

/// Monthly savings scenarios from the adjustable loads.
pub fn savings(input: &FlexInput, settings: &crate::settings::Settings) -> Result<Vec<Metric>, Invalid> {
    let cur = input.currency;
    let lang = input.lang;
    let zh = lang == crate::lang::Lang::Zh;
    // Units are codes in every language (`CNY/month`); clients name them.
    let per_month = format!("{cur}/month");
    let days = shifts(input);
    let arbitrage: f64 = days.iter().map(|d| d.saving).sum();
    let moved: f64 = days.iter().map(|d| d.kwh).sum();
    let mut out = vec![metric(
        "peak_valley_arbitrage",
        arbitrage,
        per_month.clone(),
        if zh {
            format!(
                "{} 个工作日 Σ 转移电量 kWh × (尖峰或高峰电价 − 低谷电价) − 每次调节成本；共转移 {moved:.1} kWh",
                days.len()
            )
        } else {
            format!(
                "Σ over {} workdays of kWh moved × (sharp-peak or peak price − valley price) − cost per adjustment; {moved:.1} kWh moved",
                days.len()
            )
        },
    )];
    let fast_limit = settings.get("peak_shaving_response_min");
    let fast: Vec<&AdjustableLoad> = input.loads.iter().filter(|l| l.response_time_min <= fast_limit).collect();
    match input.demand_price {
        Some(price) if !fast.is_empty() => {
            // The group of fast loads that all hold at least `hold` minutes, for
            // each hold time among them; the best group's net saving counts,
            // and none (0) if every group would cost more than it saves.
            let mut best: Option<(f64, String)> = None;
            for hold in fast.iter().map(|l| l.max_duration_min) {
                let group: Vec<&&AdjustableLoad> = fast.iter().filter(|l| l.max_duration_min >= hold).collect();
                let kw: f64 = group.iter().map(|l| l.adjustable_kw()).sum();
                let (cut, events) = peak_cut(input.load, kw, hold);
                let per_event: f64 = group.iter().map(|l| l.cost()).sum();
                let net = cut * price - events as f64 * per_event;
                if best.as_ref().is_none_or(|(b, _)| net > *b) {
                    let loads = group.len();
                    let formula = if zh {
                        format!(
                            "削减 {cut:.1} kW（{loads} 个 {fast_limit} 分钟内响应、可持续 {hold} 分钟的负荷共 {kw:.1} kW）× {price} {cur}/kW − {events} 次 × {per_event:.2} {cur}"
                        )
                    } else {
                        format!(
                            "cut {cut:.1} kW (of {kw:.1} kW from {loads} loads responding within {fast_limit} min and holding {hold} min) × {price} {cur}/kW − {events} stretches × {per_event:.2} {cur}"
                        )
                    };
                    best = Some((net, formula));
                }
            }
            let (net, formula) = best.unwrap_or_default();
            let (value, formula) = if net > 0.0 {
                (net, formula)
            } else {
                let why = lang.pick(
                    format!("not worth it: the best group nets {net:.2} {cur}: {formula}"),
                    format!("不划算：最佳负荷组净收益 {net:.2} {cur}：{formula}"),
                );
                (0.0, why)
            };
            out.push(metric("demand_charge_reduction_loads", value, per_month.clone(), formula));
        }
        Some(_) => out.push(metric(
            "demand_charge_reduction_loads",
            0.0,
            per_month.clone(),
            lang.pick(
                format!("no adjustable load responds within {fast_limit} min"),
                format!("没有可在 {fast_limit} 分钟内响应的可调负荷"),
            ),
        )),
        None => out.push(metric(
            "demand_charge_reduction_loads",
            0.0,
            per_month.clone(),
            lang.pick("the tariff has no max-demand charge", "该电价没有按最大需量计费"),
        )),
    }
    let (hours, events, response) =
        (settings.get("dr_event_hours"), settings.get("dr_events_per_year"), settings.get("dr_max_response_min"));
    let price = settings.money("dr_compensation_price", cur)?;
    let dr: Vec<&AdjustableLoad> =
        input.loads.iter().filter(|l| l.response_time_min <= response && l.max_duration_min >= hours * 60.0).collect();
    let dr_kw: f64 = dr.iter().map(|l| l.adjustable_kw()).sum();
    let dr_cost: f64 = dr.iter().map(|l| l.cost()).sum();
    out.push(metric(
        "demand_response_revenue",
        (dr_kw * hours * price - dr_cost) * events / 12.0,
        per_month,
        if zh {
            format!(
                "({dr_kw:.1} kW × {hours} h × {price} {cur}/kWh − {dr_cost:.2} {cur}) × 每年 {events} 次 / 12；计入 {response} 分钟内响应、可持续 {hours} h 的负荷"
            )
        } else {
            format!(
                "({dr_kw:.1} kW × {hours} h × {price} {cur}/kWh − {dr_cost:.2} {cur}) × {events} events/year / 12; loads responding within {response} min and holding {hours} h"
            )
        },
    ));
    Ok(out)
}

/// Battery investment and payback.
pub fn payback(
    energy_kwh: f64,
    power_kw: f64,
    yearly_saving: f64,
    settings: &crate::settings::Settings,
    currency: &str,
    lang: crate::lang::Lang,
) -> Result<Vec<Metric>, Invalid> {
    let capex = energy_kwh * settings.money("battery_capex_per_kwh", currency)?
        + power_kw * settings.money("battery_capex_per_kw", currency)?;
    let om = capex * settings.get("battery_om_pct_per_year") / 100.0;
    let net = yearly_saving - om;
    let life = settings.get("battery_lifetime_years").round() as i32;
    let rate = settings.get("discount_rate_pct") / 100.0;
    let npv = -capex + (1..=life).map(|y| net / (1.0 + rate).powi(y)).sum::<f64>();
    let years = if net > 0.0 { capex / net } else { f64::INFINITY };
    Ok(vec![
        metric(
            "battery_investment",
            capex,
            currency,
            lang.pick(
                format!("{energy_kwh} kWh × capex per kWh + {power_kw} kW × capex per kW"),
                format!("{energy_kwh} kWh × 每 kWh 投资 + {power_kw} kW × 每 kW 投资"),
            ),
        ),
        metric(
            "battery_yearly_net_saving",
            net,
            format!("{currency}/year"),
            lang.pick(
                format!("{yearly_saving:.2} saving − {om:.2} O&M"),
                format!("节省 {yearly_saving:.2} − 运维 {om:.2}"),
            ),
        ),
        metric(
            "battery_simple_payback",
            if years.is_finite() { years } else { -1.0 },
            "years",
            if years.is_finite() {
                format!("{capex:.2} / {net:.2}")
            } else {
                lang.pick(
                    "never: the yearly net saving is not positive (shown as −1)",
                    "无法回收：年净节省不为正（显示为 −1）",
                )
                .to_string()
            },
        ),
        metric("battery_npv", npv, currency, format!("−{capex:.2} + Σ_(y=1..{life}) {net:.2} / (1 + {rate})^y")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(k: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_200 + k * 900).expect("ts")
    }

    #[test]
    fn peak_cut_respects_the_hold_time() {
        // A flat 100 kW with one 45-minute bump to 160 kW and a 15-minute spike to 180 kW.
        let mut load: Vec<LabelledLoad> =
            (0..96).map(|k| LabelledLoad { start: at(k), kw: 100.0, period: Period::Flat, workday: true }).collect();
        for l in &mut load[40..43] {
            l.kw = 160.0;
        }
        load[60].kw = 180.0;
        // Holding 15 min only shaves the spike down to the bump: cut 20 kW, 1 stretch.
        let (cut, events) = peak_cut(&load, 100.0, 15.0);
        assert!((cut - 20.0).abs() < 0.01, "{cut}");
        assert_eq!(events, 1);
        // Holding 45 min shaves the bump as well, down to the flat 100 kW.
        let (cut, events) = peak_cut(&load, 100.0, 45.0);
        assert!((cut - 80.0).abs() < 0.01, "{cut}");
        assert_eq!(events, 2);
        // The loads limit the cut.
        let (cut, _) = peak_cut(&load, 10.0, 45.0);
        assert!((cut - 10.0).abs() < 0.01, "{cut}");
    }

    #[test]
    fn payback_of_a_known_case() {
        let s = crate::settings::Settings::default();
        // 100 kWh × 1000 + 50 kW × 300 = 115,000; O&M 2 % = 2,300; saving 25,300 → net 23,000 → 5 years.
        let m = payback(100.0, 50.0, 25_300.0, &s, "CNY", Default::default()).expect("metrics");
        assert_eq!(m[0].value, 115_000.0);
        assert_eq!(m[1].value, 23_000.0);
        assert_eq!(m[2].value, 5.0);
    }
}
