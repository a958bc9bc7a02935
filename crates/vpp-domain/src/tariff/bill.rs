//! A month's electricity bill from load and tariff, and its reconciliation
//! against the bill the utility sent.
//!
//! Formulas (every line carries its own, with the figures filled in):
//!
//! - **Energy by period**: `Σ max(kW, 0) × 0.25 h` over the intervals labelled
//!   with the period (whole Wh per interval) × the period's price per kWh of
//!   the version and season in force. A month with a version change has one
//!   line per period and price (`energy_peak`, `energy_peak@2`).
//! - **Demand fee** (`demand`): `max_demand` = the month's highest 15-minute
//!   average load, kW, × price per kW·month; or, on a capacity basis, the
//!   transformer's kVA × price per kVA·month. The version in force on the
//!   month's last day sets the price.
//! - **Components** (market purchase, transmission, system operation,
//!   government funds and surcharges…): consumption kWh × rate per kWh.
//! - **Power-factor adjustment** (`power_factor`): `pf = kWh / √(kWh² +
//!   kvarh²)`, rounded to 0.01, looked up in the adjustment table around the
//!   target; × the sum of the energy lines, the demand fee and the components
//!   marked `pf_adjusted`.
//! - **Total**: the sum of the lines. Every amount is rounded to the cent,
//!   half away from zero.

use crate::lang::Lang;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::load::{Gap, INTERVAL_S, gaps};
use super::tou::{DemandCharge, Labeller, Period, default_pf_table, pf_adjustment_pct};
use crate::error::{Errors, Invalid};

/// An amount rounded to the cent, half away from zero, always shown with two decimals.
fn cents(x: Decimal) -> Decimal {
    let mut c = crate::market::invoice::cents(x);
    c.rescale(2);
    c
}

/// Most gaps a bill lists.
pub const MAX_GAPS_LISTED: usize = 50;

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillLine {
    /// Code: `energy_<period>`, `demand`, a component's code, `power_factor`.
    pub code: String,
    /// Name on the bill.
    pub name: String,
    /// Quantity charged.
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Unit of the quantity (`kWh`, `kW`, `kVA`, `%`).
    pub unit: String,
    /// Rate per unit (none for the power-factor adjustment).
    #[schema(value_type = Option<String>)]
    pub rate: Option<Decimal>,
    /// Amount, in the bill's currency.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// How the amount was computed, with the figures.
    pub formula: String,
}

/// Consumption and cost of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodUse {
    /// Period.
    pub period: Period,
    /// Consumption, kWh.
    #[schema(value_type = String)]
    pub kwh: Decimal,
    /// Cost of the energy lines of the period.
    #[schema(value_type = String)]
    pub cost: Decimal,
}

/// How much of the month the load covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coverage {
    /// Intervals with a reading.
    pub intervals: usize,
    /// Intervals of the local month (2,972 to 2,980 in a DST zone's change months).
    pub expected_intervals: usize,
    /// intervals / expected × 100.
    pub pct: f64,
    /// Every interval has a reading.
    pub complete: bool,
    /// Missing stretches (the first 50).
    pub gaps: Vec<Gap>,
}

/// A computed monthly bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bill {
    /// Month, `YYYY-MM`, local to the tariff's zone.
    pub month: String,
    /// Currency.
    pub currency: String,
    /// Zone of the month and the windows.
    pub time_zone: String,
    /// Month start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Month end, exclusive (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Tariff version numbers applied.
    pub tariff_versions: Vec<i64>,
    /// Consumption, kWh.
    #[schema(value_type = String)]
    pub consumption_kwh: Decimal,
    /// Consumption and energy cost per period (sharp peak, peak, flat, valley).
    pub by_period: Vec<PeriodUse>,
    /// Highest 15-minute average load, kW.
    pub max_demand_kw: f64,
    /// When it began.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub max_demand_at: Option<Timestamp>,
    /// Power factor, when reactive energy is known.
    pub power_factor: Option<f64>,
    /// Lines.
    pub lines: Vec<BillLine>,
    /// Sum of the lines.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Data coverage.
    pub coverage: Coverage,
    /// What the reader should know (missing data, lines left out and why).
    pub notes: Vec<String>,
}

/// What a bill is computed from.
#[derive(Debug, Clone)]
pub struct BillInput<'a> {
    /// The tariff.
    pub labeller: &'a Labeller,
    /// First day of the month.
    pub month: Date,
    /// Readings `(interval start, kW)` sorted by start; others than the month's are ignored.
    pub load: &'a [(Timestamp, f64)],
    /// Transformer capacity, kVA, for a capacity-based demand charge.
    pub transformer_kva: Option<f64>,
    /// Reactive energy of the month, kvarh, for the power-factor adjustment.
    pub reactive_kvarh: Option<f64>,
    /// Target when the tariff's rule sets none.
    pub default_pf_target: Decimal,
    /// Language of the line names, formulas and notes.
    pub lang: Lang,
}

/// `[start, end)` of a local month in `tz`.
pub fn month_span(month: Date, tz: &TimeZone) -> Result<(Timestamp, Timestamp), String> {
    let first = month.first_of_month();
    let next = first.last_of_month().tomorrow().map_err(|e| e.to_string())?;
    let start = first.to_zoned(tz.clone()).map_err(|e| e.to_string())?.timestamp();
    let end = next.to_zoned(tz.clone()).map_err(|e| e.to_string())?.timestamp();
    Ok((start, end))
}

fn kwh_of_wh(wh: i64) -> Decimal {
    Decimal::new(wh, 3)
}

fn qty(x: f64) -> Decimal {
    Decimal::try_from(x).unwrap_or_default().round_dp(3)
}

/// Readings of `[start, end)` from a sorted slice.
pub fn within(load: &[(Timestamp, f64)], start: Timestamp, end: Timestamp) -> &[(Timestamp, f64)] {
    let lo = load.partition_point(|p| p.0 < start);
    let hi = load.partition_point(|p| p.0 < end);
    &load[lo..hi]
}

/// Computes the bill of a month.
pub fn compute_bill(input: &BillInput) -> Result<Bill, Invalid> {
    let lab = input.labeller;
    let (start, end) = month_span(input.month, &lab.tz).map_err(|e| Invalid::one("month", e))?;
    let last_day = input.month.last_of_month();
    let Some(last_version) = lab.version_on(last_day) else {
        return Err(Invalid::one("month", format!("the tariff's first version starts after {}", last_day)));
    };
    let load = within(input.load, start, end);
    let currency = lab.versions[last_version].terms.currency.clone();
    let lang = input.lang;
    let zh = lang == Lang::Zh;
    let mut notes = Vec::new();

    // Energy per (period, version, season) in Wh; consumption per version.
    let mut energy: std::collections::BTreeMap<(usize, usize, usize), i64> = Default::default();
    let mut wh_per_version = vec![0i64; lab.versions.len()];
    let (mut max_kw, mut max_at, mut exported) = (f64::NEG_INFINITY, None, false);
    let mut unlabelled = 0usize;
    for &(at, kw) in load {
        if kw > max_kw {
            (max_kw, max_at) = (kw, Some(at));
        }
        exported |= kw < 0.0;
        let Some(label) = lab.label(at) else {
            unlabelled += 1;
            continue;
        };
        // Whole Wh per interval: kW × 0.25 h × 1000.
        let wh = (kw.max(0.0) * 250.0).round() as i64;
        *energy.entry((label.period.index(), label.version, label.season)).or_default() += wh;
        wh_per_version[label.version] += wh;
    }
    if unlabelled > 0 {
        notes.push(if zh {
            format!("{unlabelled} 个时段早于电价首个版本，未计费")
        } else {
            format!("{unlabelled} intervals lie before the tariff's first version and are not charged")
        });
    }
    if exported {
        notes.push(
            lang.pick(
                "intervals with negative load (export) count as zero consumption",
                "负荷为负（上网）的时段按零用电计",
            )
            .into(),
        );
    }
    let max_kw = if load.is_empty() { 0.0 } else { max_kw.max(0.0) };

    let mut lines: Vec<BillLine> = Vec::new();
    let mut by_period: Vec<PeriodUse> =
        Period::ALL.iter().map(|&period| PeriodUse { period, kwh: Decimal::ZERO, cost: Decimal::ZERO }).collect();
    // One line per period and distinct price, in period order.
    for period in Period::ALL {
        let mut per_rate: Vec<(Decimal, i64)> = Vec::new();
        for (&(p, version, season), &wh) in &energy {
            if p != period.index() {
                continue;
            }
            let rate = lab.versions[version].seasons[season].prices[p].unwrap_or_default();
            match per_rate.iter_mut().find(|(r, _)| *r == rate) {
                Some(entry) => entry.1 += wh,
                None => per_rate.push((rate, wh)),
            }
        }
        for (i, (rate, wh)) in per_rate.into_iter().enumerate() {
            let kwh = kwh_of_wh(wh);
            let amount = cents(kwh * rate);
            let base = format!("energy_{}", period.as_str());
            let code = if i == 0 { base } else { format!("{base}@{}", i + 1) };
            by_period[period.index()].kwh += kwh;
            by_period[period.index()].cost += amount;
            lines.push(BillLine {
                code,
                name: if zh {
                    format!("{}电量电费", period.name(lang))
                } else {
                    format!("Energy, {}", period.name(lang))
                },
                quantity: kwh,
                unit: "kWh".into(),
                rate: Some(rate),
                amount,
                formula: if zh {
                    format!("{}电量 {kwh} kWh × {rate} {currency}/kWh", period.name(lang))
                } else {
                    format!("{kwh} kWh in {} windows × {rate} {currency}/kWh", period.name(lang))
                },
            });
        }
    }
    let consumption: Decimal = by_period.iter().map(|p| p.kwh).sum();

    let terms = &lab.versions[last_version].terms;
    match &terms.demand_charge {
        Some(DemandCharge::MaxDemand { price_per_kw_month }) => {
            let kw = qty(max_kw);
            let at = max_at
                .map(|t| {
                    let local = t.to_zoned(lab.tz.clone()).strftime("%Y-%m-%d %H:%M").to_string();
                    if zh { format!("（{local}）") } else { format!(" at {local}") }
                })
                .unwrap_or_default();
            lines.push(BillLine {
                code: "demand".into(),
                name: lang.pick("Demand fee (max demand)", "基本电费（需量）").into(),
                quantity: kw,
                unit: "kW".into(),
                rate: Some(*price_per_kw_month),
                amount: cents(kw * price_per_kw_month),
                formula: if zh {
                    format!("15 分钟最大需量 {kw} kW{at} × {price_per_kw_month} {currency}/kW·月")
                } else {
                    format!("max 15-minute demand {kw} kW{at} × {price_per_kw_month} {currency}/kW·month")
                },
            });
        }
        Some(DemandCharge::Capacity { price_per_kva_month }) => {
            let Some(kva) = input.transformer_kva else {
                return Err(Invalid::one(
                    "transformer_kva",
                    "the tariff charges per kVA of transformer capacity; set the site's transformer_kva",
                ));
            };
            let kva = qty(kva);
            lines.push(BillLine {
                code: "demand".into(),
                name: lang.pick("Basic fee (transformer capacity)", "基本电费（容量）").into(),
                quantity: kva,
                unit: "kVA".into(),
                rate: Some(*price_per_kva_month),
                amount: cents(kva * price_per_kva_month),
                formula: if zh {
                    format!("变压器容量 {kva} kVA × {price_per_kva_month} {currency}/kVA·月")
                } else {
                    format!("transformer capacity {kva} kVA × {price_per_kva_month} {currency}/kVA·month")
                },
            });
        }
        None => {}
    }

    // Components, per version's consumption, merged by code and rate.
    for (version, &wh) in wh_per_version.iter().enumerate() {
        if wh == 0 && version != last_version {
            continue;
        }
        for c in &lab.versions[version].terms.components {
            let kwh = kwh_of_wh(wh);
            match lines.iter_mut().find(|l| l.code == c.code && l.rate == Some(c.rate_per_kwh)) {
                Some(line) => {
                    line.quantity += kwh;
                    line.amount = cents(line.quantity * c.rate_per_kwh);
                    line.formula = format!("{} kWh × {} {currency}/kWh", line.quantity, c.rate_per_kwh);
                }
                None => lines.push(BillLine {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    quantity: kwh,
                    unit: "kWh".into(),
                    rate: Some(c.rate_per_kwh),
                    amount: cents(kwh * c.rate_per_kwh),
                    formula: format!("{kwh} kWh × {} {currency}/kWh", c.rate_per_kwh),
                }),
            }
        }
    }

    let mut power_factor = None;
    if let Some(rule) = &terms.power_factor {
        match input.reactive_kvarh {
            Some(kvarh) if kvarh.is_finite() && kvarh >= 0.0 => {
                let kwh = consumption.try_into().unwrap_or(0.0f64);
                let pf = if kwh > 0.0 { kwh / (kwh * kwh + kvarh * kvarh).sqrt() } else { 1.0 };
                power_factor = Some(pf);
                let target = rule.target.unwrap_or(input.default_pf_target);
                let table = rule.table.clone().unwrap_or_else(|| default_pf_table(target));
                let pct = pf_adjustment_pct(&table, pf);
                let adjusted: Vec<&str> = terms
                    .components
                    .iter()
                    .filter(|c| c.pf_adjusted)
                    .map(|c| c.code.as_str())
                    .chain(["demand"])
                    .collect();
                let base: Decimal = lines
                    .iter()
                    .filter(|l| l.code.starts_with("energy_") || adjusted.contains(&l.code.as_str()))
                    .map(|l| l.amount)
                    .sum();
                lines.push(BillLine {
                    code: "power_factor".into(),
                    name: lang.pick("Power-factor adjustment", "功率因数调整电费").into(),
                    quantity: pct,
                    unit: "%".into(),
                    rate: None,
                    amount: cents(base * pct / Decimal::ONE_HUNDRED),
                    formula: {
                        let codes: String =
                            terms.components.iter().filter(|c| c.pf_adjusted).map(|c| format!(", {}", c.code)).collect();
                        if zh {
                            format!(
                                "功率因数 {pf:.2} = {consumption} kWh / √({consumption}² + {kvarh:.3}² kvarh)，目标 {target}：{pct} % × {base} {currency}（电量、需量{codes}）"
                            )
                        } else {
                            format!(
                                "pf {pf:.2} = {consumption} kWh / √({consumption}² + {kvarh:.3}² kvarh) against target {target}: {pct} % × {base} {currency} (energy, demand{codes})"
                            )
                        }
                    },
                });
            }
            Some(_) => return Err(Invalid::one("reactive_kvarh", "must be a number ≥ 0")),
            None => notes.push(
                lang.pick(
                    "no reactive energy given: the power-factor adjustment is left out",
                    "未提供无功电量：未计算功率因数调整电费",
                )
                .into(),
            ),
        }
    }

    let expected = usize::try_from(end.duration_since(start).as_secs() / INTERVAL_S).unwrap_or(0);
    let mut gap_list = gaps(load, Some(start), Some(end));
    gap_list.truncate(MAX_GAPS_LISTED);
    let coverage = Coverage {
        intervals: load.len(),
        expected_intervals: expected,
        pct: if expected == 0 { 0.0 } else { load.len() as f64 * 100.0 / expected as f64 },
        complete: load.len() == expected,
        gaps: gap_list,
    };
    if !coverage.complete {
        let (n, of, pct) = (coverage.intervals, coverage.expected_intervals, coverage.pct);
        notes.push(if zh {
            format!("负荷数据覆盖 {of} 个时段中的 {n} 个（{pct:.1} %）：账单只计已测量的时段")
        } else {
            format!("load covers {n} of {of} intervals ({pct:.1} %): the bill counts only the measured intervals")
        });
    }
    let versions: std::collections::BTreeSet<usize> = energy.keys().map(|k| k.1).chain([last_version]).collect();
    let total = lines.iter().map(|l| l.amount).sum();
    Ok(Bill {
        month: format!("{:04}-{:02}", input.month.year(), input.month.month()),
        currency,
        time_zone: lab.tz.iana_name().unwrap_or("UTC").to_string(),
        start,
        end,
        tariff_versions: versions.into_iter().map(|v| v as i64 + 1).collect(),
        consumption_kwh: consumption,
        by_period,
        max_demand_kw: max_kw,
        max_demand_at: max_at,
        power_factor,
        lines,
        total,
        coverage,
        notes,
    })
}

/// One line of a bill the utility sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActualLine {
    /// Line code as the computed bill names it (`energy_peak`, `demand`, a component's code, `power_factor`, `total`).
    pub code: String,
    /// Quantity billed, if stated.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
    /// Amount billed.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// A bill the utility sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActualBill {
    /// Site id.
    pub site_id: String,
    /// Month, `YYYY-MM`.
    pub month: String,
    /// Currency.
    pub currency: String,
    /// Lines.
    pub lines: Vec<ActualLine>,
}

impl ActualBill {
    /// Checks codes (unique, non-empty), the month and the currency.
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        errors.check(
            parse_month(&self.month).is_ok(),
            format!("{field}.month"),
            format!("`{}` is not a month like 2026-07", self.month),
        );
        errors.check(
            self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase()),
            format!("{field}.currency"),
            "must be an ISO 4217 code such as CNY",
        );
        errors.check(!self.lines.is_empty(), format!("{field}.lines"), "needs at least one line");
        let mut seen = std::collections::BTreeSet::new();
        for (i, l) in self.lines.iter().enumerate() {
            errors.check(!l.code.trim().is_empty(), format!("{field}.lines[{i}].code"), "must not be empty");
            errors.check(
                seen.insert(l.code.as_str()),
                format!("{field}.lines[{i}].code"),
                format!("`{}` is given twice", l.code),
            );
        }
        errors.finish(())
    }
}

/// Parses `YYYY-MM` into the month's first day.
pub fn parse_month(month: &str) -> Result<Date, String> {
    let bad = || format!("`{month}` is not a month like 2026-07");
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Date::new(y, m, 1).map_err(|_| bad())
}

/// Parses actual bills from CSV: `site_id,month,currency,code,quantity,amount`
/// (`,` or `;`), one row per line, rows of a bill together or not; or JSON:
/// one bill object or an array of them.
pub fn parse_actual_bills(bytes: &[u8]) -> Result<Vec<ActualBill>, Vec<crate::series_import::RowError>> {
    use crate::series_import::RowError;
    let text = crate::market::files::text(bytes)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(trimmed).map_err(|e| vec![RowError { line: e.line(), reason: e.to_string() }])?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        let mut bills = Vec::new();
        let mut errors = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match serde_json::from_value::<ActualBill>(item) {
                Ok(b) => match b.validate(&format!("[{i}]")) {
                    Ok(()) => bills.push(b),
                    Err(e) => errors.push(RowError { line: i, reason: e.to_string() }),
                },
                Err(e) => errors.push(RowError { line: i, reason: format!("bill {i}: {e}") }),
            }
        }
        return crate::market::files::finish(bills, errors);
    }
    let ((hline, header), it) = crate::market::files::split_csv(text)?;
    const COLUMNS: [&str; 6] = ["site_id", "month", "currency", "code", "quantity", "amount"];
    let col: Vec<Option<usize>> =
        COLUMNS.iter().map(|c| header.iter().position(|h| h.eq_ignore_ascii_case(c))).collect();
    let missing: Vec<&str> =
        COLUMNS.iter().zip(&col).filter(|(name, c)| c.is_none() && **name != "quantity").map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        return Err(vec![RowError { line: hline, reason: format!("the header lacks {}", missing.join(", ")) }]);
    }
    let mut bills: Vec<ActualBill> = Vec::new();
    let mut errors = Vec::new();
    for (line, f) in it {
        let get = |k: usize| col[k].and_then(|c| f.get(c)).copied().unwrap_or("");
        if f.len() != header.len() {
            errors.push(RowError { line, reason: format!("{} fields, the header has {}", f.len(), header.len()) });
            continue;
        }
        let amount = crate::market::files::decimal("amount", get(5));
        let quantity = match get(4) {
            "" => Ok(None),
            q => crate::market::files::decimal("quantity", q).map(Some),
        };
        let (amount, quantity) = match (amount, quantity) {
            (Ok(a), Ok(q)) => (a, q),
            (a, q) => {
                let reason = [a.err(), q.err()].into_iter().flatten().collect::<Vec<_>>().join("; ");
                errors.push(RowError { line, reason });
                continue;
            }
        };
        let (site, month, currency) = (get(0), get(1), get(2));
        let entry = ActualLine { code: get(3).to_string(), quantity, amount };
        match bills.iter_mut().find(|b| b.site_id == site && b.month == month) {
            Some(b) if b.currency != currency => errors
                .push(RowError { line, reason: format!("currency {currency} differs from the bill's {}", b.currency) }),
            Some(b) if b.lines.iter().any(|l| l.code == entry.code) => errors
                .push(RowError { line, reason: format!("code `{}` is given twice for {site} {month}", entry.code) }),
            Some(b) => b.lines.push(entry),
            None => bills.push(ActualBill {
                site_id: site.to_string(),
                month: month.to_string(),
                currency: currency.to_string(),
                lines: vec![entry],
            }),
        }
    }
    for (i, b) in bills.iter().enumerate() {
        if let Err(e) = b.validate(&format!("bill {} {}", b.site_id, b.month)) {
            errors.push(RowError { line: i, reason: e.to_string() });
        }
    }
    crate::market::files::finish(bills, errors)
}

/// One line of a reconciliation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconciledLine {
    /// Line code (a version suffix `@n` merged into its base code).
    pub code: String,
    /// Computed quantity.
    #[schema(value_type = Option<String>)]
    pub computed_quantity: Option<Decimal>,
    /// Billed quantity.
    #[schema(value_type = Option<String>)]
    pub actual_quantity: Option<Decimal>,
    /// Computed amount (0 if the computed bill has no such line).
    #[schema(value_type = String)]
    pub computed: Decimal,
    /// Billed amount (0 if the actual bill has no such line).
    #[schema(value_type = String)]
    pub actual: Decimal,
    /// actual − computed.
    #[schema(value_type = String)]
    pub difference: Decimal,
    /// difference / computed × 100, when computed ≠ 0.
    #[schema(value_type = Option<String>)]
    pub difference_pct: Option<Decimal>,
}

/// Computed against billed, line by line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// Month.
    pub month: String,
    /// Currency.
    pub currency: String,
    /// Lines in the computed bill's order, then lines only the actual bill has, then `total`.
    pub lines: Vec<ReconciledLine>,
    /// The computed bill covered every interval.
    pub complete: bool,
}

fn reconciled(
    code: String,
    computed: (Option<Decimal>, Decimal),
    actual: (Option<Decimal>, Decimal),
) -> ReconciledLine {
    let difference = actual.1 - computed.1;
    ReconciledLine {
        code,
        computed_quantity: computed.0,
        actual_quantity: actual.0,
        computed: computed.1,
        actual: actual.1,
        difference,
        difference_pct: (!computed.1.is_zero()).then(|| (difference * Decimal::ONE_HUNDRED / computed.1).round_dp(2)),
    }
}

/// Reconciles a computed bill with the utility's.
pub fn reconcile(bill: &Bill, actual: &ActualBill) -> Result<Reconciliation, Invalid> {
    if bill.currency != actual.currency {
        return Err(Invalid::one(
            "currency",
            format!("the actual bill is in {}, the computed one in {}", actual.currency, bill.currency),
        ));
    }
    let mut computed: Vec<(String, Option<Decimal>, Decimal)> = Vec::new();
    for l in &bill.lines {
        let code = l.code.split('@').next().unwrap_or(&l.code).to_string();
        let q = (l.unit != "%").then_some(l.quantity);
        match computed.iter_mut().find(|c| c.0 == code) {
            Some(c) => {
                c.1 = c.1.zip(q).map(|(a, b)| a + b);
                c.2 += l.amount;
            }
            None => computed.push((code, q, l.amount)),
        }
    }
    let find = |code: &str| actual.lines.iter().find(|l| l.code == code);
    let mut lines: Vec<ReconciledLine> = computed
        .iter()
        .map(|(code, q, amount)| {
            let a = find(code);
            reconciled(
                code.clone(),
                (*q, *amount),
                (a.and_then(|a| a.quantity), a.map(|a| a.amount).unwrap_or_default()),
            )
        })
        .collect();
    for a in actual.lines.iter().filter(|a| a.code != "total" && !computed.iter().any(|c| c.0 == a.code)) {
        lines.push(reconciled(a.code.clone(), (None, Decimal::ZERO), (a.quantity, a.amount)));
    }
    let actual_total = find("total").map(|t| t.amount).unwrap_or_else(|| actual.lines.iter().map(|l| l.amount).sum());
    lines.push(reconciled("total".into(), (None, bill.total), (None, actual_total)));
    Ok(Reconciliation {
        month: bill.month.clone(),
        currency: bill.currency.clone(),
        lines,
        complete: bill.coverage.complete,
    })
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use jiff::civil::date;

    use super::*;
    use crate::tariff::tou::{Component, HolidayCalendar, PeriodPrices, PowerFactorRule, Season, TariffTerms, Window};

    fn w(start: &str, end: &str, period: Period) -> Window {
        Window { start: start.into(), end: end.into(), period }
    }

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    /// The two-season tariff of the hand-checked case.
    fn park_terms(from: Date) -> TariffTerms {
        use Period::*;
        TariffTerms {
            effective_from: from,
            currency: "CNY".into(),
            energy_prices: PeriodPrices {
                sharp_peak: Some(d("1.2")),
                peak: d("1.0"),
                flat: d("0.6"),
                valley: d("0.3"),
            },
            seasons: vec![
                Season {
                    name: "summer".into(),
                    months: vec![7, 8, 9],
                    workday: vec![
                        w("00:00", "08:00", Valley),
                        w("08:00", "12:00", Peak),
                        w("12:00", "14:00", Flat),
                        w("14:00", "16:00", SharpPeak),
                        w("16:00", "20:00", Peak),
                        w("20:00", "24:00", Flat),
                    ],
                    non_workday: Some(vec![w("00:00", "08:00", Valley), w("08:00", "24:00", Flat)]),
                    prices: None,
                },
                Season {
                    name: "other".into(),
                    months: vec![1, 2, 3, 4, 5, 6, 10, 11, 12],
                    workday: vec![
                        w("23:00", "07:00", Valley),
                        w("07:00", "09:00", Flat),
                        w("09:00", "12:00", Peak),
                        w("12:00", "17:00", Flat),
                        w("17:00", "21:00", Peak),
                        w("21:00", "23:00", Flat),
                    ],
                    non_workday: None,
                    prices: None,
                },
            ],
            demand_charge: Some(DemandCharge::MaxDemand { price_per_kw_month: d("40") }),
            power_factor: Some(PowerFactorRule { target: None, table: None }),
            components: vec![
                Component {
                    code: "transmission".into(),
                    name: "Transmission".into(),
                    rate_per_kwh: d("0.15"),
                    pf_adjusted: false,
                },
                Component {
                    code: "funds".into(),
                    name: "Government funds".into(),
                    rate_per_kwh: d("0.03"),
                    pf_adjusted: false,
                },
            ],
        }
    }

    fn bill_of(lab: &Labeller, month: Date, load: &[(Timestamp, f64)], reactive_kvarh: Option<f64>) -> Bill {
        let input = BillInput {
            labeller: lab,
            month,
            load,
            transformer_kva: None,
            reactive_kvarh,
            default_pf_target: d("0.90"),
            lang: Lang::En,
        };
        compute_bill(&input).expect("bill")
    }

    fn labeller(zone: &str, versions: Vec<TariffTerms>) -> Labeller {
        Labeller {
            tz: TimeZone::get(zone).expect("zone"),
            versions: versions.iter().map(|t| t.compile("terms").expect("valid")).collect(),
            calendar: HolidayCalendar::default(),
        }
    }

    /// Constant load over the local month, intervals every 15 minutes.
    fn flat_load(tz: &TimeZone, month: Date, kw: f64) -> Vec<(Timestamp, f64)> {
        let (start, end) = month_span(month, tz).expect("span");
        let mut out = Vec::new();
        let mut t = start;
        while t < end {
            out.push((t, kw));
            t = t.checked_add(SignedDuration::from_mins(15)).expect("ts");
        }
        out
    }

    #[test]
    fn hand_checked_july_bill_in_shanghai() {
        let lab = labeller("Asia/Shanghai", vec![park_terms(date(2026, 1, 1))]);
        let mut load = flat_load(&lab.tz, date(2026, 7, 1), 100.0);
        // One 300 kW quarter-hour on Wednesday 15 July at 15:00, in the sharp peak.
        let spike = date(2026, 7, 15).at(15, 0, 0, 0).to_zoned(lab.tz.clone()).expect("zoned").timestamp();
        load.iter_mut().find(|p| p.0 == spike).expect("in month").1 = 300.0;
        let bill = bill_of(&lab, date(2026, 7, 1), &load, Some(45_000.0));
        // July 2026: 23 workdays, 8 weekend days. Per workday at 100 kW: valley 800,
        // peak 800, flat 600, sharp 200 kWh; per weekend day valley 800, flat 1600.
        // The spike adds 200 kW × 0.25 h = 50 kWh to the sharp peak.
        let kwh: Vec<Decimal> = bill.by_period.iter().map(|p| p.kwh).collect();
        assert_eq!(kwh, vec![d("4650"), d("18400"), d("26600"), d("24800")]);
        let amount = |code: &str| bill.lines.iter().find(|l| l.code == code).map(|l| l.amount);
        assert_eq!(amount("energy_sharp_peak"), Some(d("5580.00"))); // 4650 × 1.2
        assert_eq!(amount("energy_peak"), Some(d("18400.00")));
        assert_eq!(amount("energy_flat"), Some(d("15960.00"))); // 26600 × 0.6
        assert_eq!(amount("energy_valley"), Some(d("7440.00"))); // 24800 × 0.3
        assert_eq!(amount("demand"), Some(d("12000.00"))); // 300 kW × 40
        assert_eq!(amount("transmission"), Some(d("11167.50"))); // 74450 × 0.15
        assert_eq!(amount("funds"), Some(d("2233.50"))); // 74450 × 0.03
        // pf = 74450 / √(74450² + 45000²) = 0.8558 → 0.86: +2 % of (47380 + 12000).
        assert_eq!(amount("power_factor"), Some(d("1187.60")));
        assert_eq!(bill.total, d("73968.60"));
        assert!(bill.coverage.complete);
        assert_eq!(bill.coverage.expected_intervals, 31 * 96);
        assert_eq!(bill.max_demand_kw, 300.0);
        assert!(bill.lines.iter().all(|l| !l.formula.is_empty()));
    }

    #[test]
    fn a_bill_in_chinese_has_the_same_figures_with_chinese_names_formulas_and_notes() {
        let lab = labeller("Asia/Shanghai", vec![park_terms(date(2026, 1, 1))]);
        let mut load = flat_load(&lab.tz, date(2026, 7, 1), 100.0);
        load.truncate(load.len() - 4);
        let input = |lang| BillInput {
            labeller: &lab,
            month: date(2026, 7, 1),
            load: &load,
            transformer_kva: None,
            reactive_kvarh: Some(45_000.0),
            default_pf_target: d("0.90"),
            lang,
        };
        let en = compute_bill(&input(Lang::En)).expect("bill");
        let zh = compute_bill(&input(Lang::Zh)).expect("bill");
        assert_eq!(en.total, zh.total);
        let line = |b: &Bill, code: &str| b.lines.iter().find(|l| l.code == code).cloned().expect(code);
        assert_eq!(line(&zh, "energy_peak").name, "高峰电量电费");
        assert!(line(&zh, "energy_peak").formula.starts_with("高峰电量 "), "{}", line(&zh, "energy_peak").formula);
        assert!(line(&zh, "demand").formula.starts_with("15 分钟最大需量"), "{}", line(&zh, "demand").formula);
        assert!(
            line(&zh, "power_factor").formula.starts_with("功率因数 0.86"),
            "{}",
            line(&zh, "power_factor").formula
        );
        assert!(line(&en, "power_factor").formula.starts_with("pf 0.86"));
        // Four quarter-hours missing: the coverage note, in Chinese.
        assert!(zh.notes.iter().any(|n| n.starts_with("负荷数据覆盖 2976 个时段中的 2972 个")), "{:?}", zh.notes);
        for text in zh
            .lines
            .iter()
            .filter(|l| !l.code.starts_with("trans") && l.code != "funds")
            .map(|l| &l.formula)
            .chain(&zh.notes)
        {
            let english: Vec<&str> =
                text.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| w.len() > 3 && *w != "kvarh").collect();
            assert!(english.is_empty(), "{text}: {english:?}");
        }
    }

    #[test]
    fn berlin_dst_months_have_92_and_100_quarter_hour_days() {
        let mut terms = park_terms(date(2026, 1, 1));
        terms.currency = "EUR".into();
        terms.seasons = vec![Season {
            name: "all".into(),
            months: (1..=12).collect(),
            workday: vec![w("00:00", "06:00", Period::Valley), w("06:00", "24:00", Period::Flat)],
            non_workday: None,
            prices: None,
        }];
        terms.power_factor = None;
        let lab = labeller("Europe/Berlin", vec![terms]);
        for (month, expected, valley_h) in [(date(2026, 3, 1), 2972, 185), (date(2026, 10, 1), 2980, 187)] {
            let load = flat_load(&lab.tz, month, 10.0);
            let bill = bill_of(&lab, month, &load, None);
            assert_eq!(bill.coverage.expected_intervals, expected);
            assert!(bill.coverage.complete);
            assert_eq!(bill.consumption_kwh, Decimal::from(expected) * d("2.5"));
            // The spring day loses 02:00–03:00 of the valley; the autumn day repeats it.
            assert_eq!(bill.by_period[Period::Valley.index()].kwh, Decimal::from(valley_h * 10));
        }
    }

    #[test]
    fn missing_data_is_stated_and_a_new_version_splits_the_lines() {
        let mut v2 = park_terms(date(2026, 7, 16));
        v2.energy_prices.peak = d("1.1");
        let lab = labeller("Asia/Shanghai", vec![park_terms(date(2026, 1, 1)), v2]);
        let mut load = flat_load(&lab.tz, date(2026, 7, 1), 100.0);
        load.drain(10..14);
        let bill = bill_of(&lab, date(2026, 7, 1), &load, None);
        assert!(!bill.coverage.complete);
        assert_eq!(bill.coverage.gaps.len(), 1);
        assert_eq!(bill.coverage.gaps[0].intervals, 4);
        assert!(bill.notes.iter().any(|n| n.contains("2972 of 2976")), "{:?}", bill.notes);
        assert!(bill.notes.iter().any(|n| n.contains("power-factor")), "{:?}", bill.notes);
        assert_eq!(bill.tariff_versions, vec![1, 2]);
        let peak: Vec<&BillLine> = bill.lines.iter().filter(|l| l.code.starts_with("energy_peak")).collect();
        assert_eq!(peak.len(), 2);
        assert_eq!(peak[1].code, "energy_peak@2");
        assert_eq!(peak[1].rate, Some(d("1.1")));
    }

    #[test]
    fn reconciliation_shows_each_difference() {
        let lab = labeller("Asia/Shanghai", vec![park_terms(date(2026, 1, 1))]);
        let load = flat_load(&lab.tz, date(2026, 7, 1), 100.0);
        let bill = bill_of(&lab, date(2026, 7, 1), &load, None);
        let csv = "site_id,month,currency,code,quantity,amount\n\
                   s1,2026-07,CNY,energy_peak,18400,18400.00\n\
                   s1,2026-07,CNY,demand,110,4400.00\n\
                   s1,2026-07,CNY,late_fee,,50.00\n";
        let actual = parse_actual_bills(csv.as_bytes()).expect("parses");
        let r = reconcile(&bill, &actual[0]).expect("same currency");
        let line = |code: &str| r.lines.iter().find(|l| l.code == code).expect(code);
        assert_eq!(line("energy_peak").difference, Decimal::ZERO);
        assert_eq!(line("demand").difference, d("400.00")); // 4400 − 100 kW × 40
        assert_eq!(line("late_fee").computed, Decimal::ZERO);
        assert_eq!(line("energy_valley").actual, Decimal::ZERO);
        assert_eq!(line("total").actual, d("22850.00"));
    }

    #[test]
    fn bad_actual_bills_name_the_line() {
        let csv = "site_id,month,currency,code,quantity,amount\ns1,2026-07,CNY,demand,,abc\ns1,2026-07,CNY,demand,,1\ns1,2026-07,CNY,demand,,2\n";
        let errs = parse_actual_bills(csv.as_bytes()).expect_err("bad");
        assert_eq!(errs[0].line, 2);
        assert!(errs.iter().any(|e| e.line == 4 && e.reason.contains("twice")), "{errs:?}");
    }

    #[test]
    fn hand_checked_savings_of_a_shiftable_load() {
        use crate::tariff::flex::{AdjustableLoad, FlexInput, savings};
        let lab = labeller("Asia/Shanghai", vec![park_terms(date(2026, 1, 1))]);
        let load = flat_load(&lab.tz, date(2026, 7, 1), 200.0);
        let labelled = crate::tariff::load::label(&lab, &load);
        let loads = vec![AdjustableLoad {
            id: "a".into(),
            site_id: "s".into(),
            name: "Chiller".into(),
            rated_kw: 100.0,
            adjustable_ratio: 0.5,
            response_time_min: 10.0,
            cost_per_adjustment: d("10"),
            max_duration_min: 120.0,
            shiftable: true,
            resource_id: None,
            created_at: Timestamp::UNIX_EPOCH,
        }];
        let input = FlexInput {
            labeller: &lab,
            load: &labelled,
            loads: &loads,
            demand_price: Some(40.0),
            currency: "CNY",
            lang: Default::default(),
        };
        let m = savings(&input, &crate::settings::Settings::default()).expect("metrics");
        let value = |name: &str| m.iter().find(|x| x.name == name).expect(name).value;
        // Per workday 50 kW × 2 h = 100 kWh leave the sharp peak: 100 × (1.2 − 0.3) − 10 = 80; 23 workdays.
        assert_eq!(value("peak_valley_arbitrage"), 1840.0);
        // A flat load has no peak to shave for two hours only.
        assert_eq!(value("demand_charge_reduction_loads"), 0.0);
        // (50 kW × 2 h × 3 CNY/kWh − 10) × 20 events / 12.
        assert_eq!(value("demand_response_revenue"), 483.33);
    }
}
