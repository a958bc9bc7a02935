//! Invoices to asset owners: contracts per asset, versioned by their start
//! date, and the monthly invoice that follows from measured production and
//! market prices.
//!
//! A contract sets the **price model** (`fixed` at a price per MWh, or
//! `market` at the quarter-hourly market VWAP) and the **fee model**:
//!
//! ```text
//! fixed_as_produced   fee = €/MWh × MWh produced
//! fixed_for_capacity  fee = €/MW × installed MW            (per month)
//! percent_of_market   fee = % × Σ MWh_q × market price_q   (market value)
//! ```
//!
//! Redispatched quarter-hours (a `flag` of 1 on the asset's power series)
//! are compensated for the energy the grid operator curtailed: (forecast −
//! measured)⁺ × the contract's redispatch price. Then
//!
//! ```text
//! net   = payout + redispatch compensation − fees
//! VAT   = net × VAT %            (default 19 %)
//! gross = net + VAT
//! ```
//!
//! Amounts are exact decimals rounded to the cent half away from zero, as on
//! a commercial invoice. Quarter-hours without a measurement are not paid
//! and are counted on the invoice; nothing is guessed.
//!
//! # Contract files
//! CSV as CRMs export it (delimiter from the header, columns by name in any
//! order, dates as `YYYY-MM-DD`, `dd.mm.yyyy` or a timestamp). Two shapes:
//!
//! - vpp's own: `contract_id;resource_id;valid_from;price_model;fixed_price;
//!   fee_model;fee_value;vat_pct;redispatch_price`;
//! - a CRM export keyed by the asset: `contract_id, asset_id,
//!   metering_point_id, capacity (MW), technology, contract_begin,
//!   contract_end (may be empty), price_model, price, fee_model, fee,
//!   fee_percent`. `asset_id` is a resource's id or its external (asset) id;
//!   `fee_percent` is the fee of `percent_of_market`, `fee` that of the
//!   fixed models.
//!
//! A row is one contract version from `valid_from` (a date) on, to
//! `contract_end` (the last day in force) if given; a newer version of the
//! same contract supersedes the older one from its date. Contradictions (a
//! fixed price model without a price, a market model with one, a percentage
//! above 100, a fixed fee model with only a percentage, an end before the
//! begin, two different rows for the same contract and date…) are reported
//! with their line, never guessed.

use jiff::civil::Date;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::files::{Table, decimal_in};
use crate::delivered::{self, DecimalMark, TimeCell};
use crate::series_import::RowError;

/// How produced energy is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceModel {
    /// A fixed price per MWh.
    Fixed,
    /// The quarter-hourly market VWAP.
    Market,
}

/// How the VPP's fee is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeeModel {
    /// Currency per MWh produced.
    FixedAsProduced,
    /// Currency per MW installed, per month.
    FixedForCapacity,
    /// A percentage of the market value of the production.
    PercentOfMarket,
}

/// One version of a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contract {
    /// Contract id (stable across versions).
    pub contract_id: String,
    /// The asset (resource id).
    pub resource_id: String,
    /// First day this version applies.
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    /// Price model.
    pub price_model: PriceModel,
    /// Fixed price, currency/MWh (fixed model only).
    #[schema(value_type = Option<String>)]
    pub fixed_price: Option<Decimal>,
    /// Fee model.
    pub fee_model: FeeModel,
    /// Fee: currency/MWh, currency/MW per month, or percent.
    #[schema(value_type = String)]
    pub fee_value: Decimal,
    /// VAT, percent; none = the invoice default (19 %).
    #[schema(value_type = Option<String>)]
    pub vat_pct: Option<Decimal>,
    /// Compensation for redispatched energy, currency/MWh; none = not compensated.
    #[schema(value_type = Option<String>)]
    pub redispatch_price: Option<Decimal>,
    /// Last day in force; none = open-ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    /// The asset's metering point (where the DSO measures its final production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering_point_id: Option<String>,
    /// Contracted capacity, MW.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub capacity_mw: Option<Decimal>,
    /// Technology as the CRM names it (e.g. `wind`, `pv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technology: Option<String>,
}

/// The header of vpp's own contract file.
pub const CONTRACT_COLUMNS: [&str; 9] = [
    "contract_id",
    "resource_id",
    "valid_from",
    "price_model",
    "fixed_price",
    "fee_model",
    "fee_value",
    "vat_pct",
    "redispatch_price",
];

/// A contract file's columns, found by name.
struct Columns {
    contract_id: usize,
    resource: usize,
    valid_from: usize,
    valid_until: Option<usize>,
    price_model: usize,
    price: Option<usize>,
    fee_model: usize,
    fee: Option<usize>,
    fee_percent: Option<usize>,
    vat_pct: Option<usize>,
    redispatch_price: Option<usize>,
    metering_point: Option<usize>,
    /// The column and its factor into MW.
    capacity: Option<(usize, Decimal)>,
    technology: Option<usize>,
}

impl Columns {
    fn find(t: &Table) -> Result<Self, String> {
        let need = |names: &[&str], what: &str| t.column(names).ok_or_else(|| what.to_string());
        let capacity = match t.column(&["capacity_mw", "capacity", "installed_capacity", "leistung"]) {
            None => None,
            Some(c) => {
                // MW unless the header says kW (a `p` for peak is allowed: kWp, MWp).
                let h = t.header(c).to_ascii_lowercase();
                let unit = h
                    .rsplit_once(['(', '['])
                    .map(|(_, u)| u.trim_end_matches([')', ']']).trim().trim_end_matches('p').to_string())
                    .or_else(|| h.ends_with("_kw").then(|| "kw".to_string()))
                    .unwrap_or_default();
                let factor = match unit.as_str() {
                    "kw" => Decimal::new(1, 3),
                    "" | "mw" => Decimal::ONE,
                    other => return Err(format!("a capacity in `{other}` (give MW or kW)")),
                };
                Some((c, factor))
            }
        };
        let cols = Self {
            contract_id: need(&["contract_id", "contract", "vertragsnummer"], "contract_id")?,
            resource: need(&["resource_id", "asset_id", "anlage_id"], "resource_id or asset_id")?,
            valid_from: need(
                &["valid_from", "contract_begin", "begin", "vertragsbeginn"],
                "valid_from or contract_begin",
            )?,
            valid_until: t.column(&["valid_until", "contract_end", "end", "vertragsende"]),
            price_model: need(&["price_model"], "price_model")?,
            price: t.column(&["fixed_price", "price"]),
            fee_model: need(&["fee_model"], "fee_model")?,
            fee: t.column(&["fee_value", "fee"]),
            fee_percent: t.column(&["fee_percent", "fee_pct"]),
            vat_pct: t.column(&["vat_pct", "vat"]),
            redispatch_price: t.column(&["redispatch_price"]),
            metering_point: t.column(&["metering_point_id", "metering_point", "melo", "malo"]),
            capacity,
            technology: t.column(&["technology", "technologie", "asset_type"]),
        };
        if cols.fee.is_none() && cols.fee_percent.is_none() {
            return Err("fee_value (or fee and fee_percent)".into());
        }
        Ok(cols)
    }
}

/// A row's cells with the decimal mark of each number column.
struct Cells<'a> {
    t: &'a Table,
    f: &'a [String],
}

impl Cells<'_> {
    fn get(&self, c: usize) -> &str {
        self.f.get(c).map_or("", |s| s.trim())
    }

    fn opt(&self, c: Option<usize>) -> Option<&str> {
        c.map(|c| self.get(c)).filter(|s| !s.is_empty())
    }

    /// A number of column `c`, named by the file's header in errors. A
    /// column whose values do not show their mark has a decimal point, as
    /// contract files always had.
    fn number(&self, c: Option<usize>) -> Result<Option<Decimal>, String> {
        match (c, self.opt(c)) {
            (Some(col), Some(s)) => {
                decimal_in(self.t.header(col), s, self.t.mark_shown(col).unwrap_or(DecimalMark::Point)).map(Some)
            }
            _ => Ok(None),
        }
    }
}

fn date_cell(field: &str, s: &str) -> Result<Date, String> {
    match delivered::read_time(s) {
        Ok(TimeCell::Civil(dt)) => Ok(dt.date()),
        // Contract days are market days (Europe/Berlin), as invoices count them.
        Ok(TimeCell::Instant(t)) => {
            let berlin = jiff::tz::TimeZone::get("Europe/Berlin").map_err(|e| e.to_string())?;
            Ok(t.to_zoned(berlin).date())
        }
        _ => Err(format!("{field} `{}` is not a date like 2026-01-01", s.trim())),
    }
}

/// Parses a contract file; returns every version or every problem.
pub fn parse_contracts(bytes: &[u8]) -> Result<Vec<Contract>, Vec<RowError>> {
    let t = Table::read(bytes)?;
    let cols = Columns::find(&t).map_err(|missing| t.refuse(format!("the contract file lacks {missing}")))?;
    let (mut out, mut errors) = (Vec::<(usize, Contract)>::new(), Vec::new());
    for (line, f) in t.rows() {
        match contract_row(&cols, &Cells { t: &t, f }) {
            Ok(c) => {
                if let Some((first, same)) =
                    out.iter().find(|(_, o)| o.contract_id == c.contract_id && o.valid_from == c.valid_from)
                {
                    if *same != c {
                        errors.push(RowError {
                            line: *line,
                            reason: format!(
                                "contract {} from {} is given twice with different terms (line {first})",
                                c.contract_id, c.valid_from
                            ),
                        });
                    }
                    continue;
                }
                out.push((*line, c));
            }
            Err(reason) => errors.push(RowError { line: *line, reason }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if out.is_empty() {
        return Err(vec![RowError { line: 0, reason: "the file holds no contracts".into() }]);
    }
    Ok(out.into_iter().map(|(_, c)| c).collect())
}

fn contract_row(cols: &Columns, row: &Cells<'_>) -> Result<Contract, String> {
    let contract_id = row.get(cols.contract_id).to_string();
    let resource_id = row.get(cols.resource).to_string();
    if contract_id.is_empty() || resource_id.is_empty() {
        return Err("contract_id and the asset (resource_id or asset_id) must not be empty".into());
    }
    let valid_from = date_cell(row.t.header(cols.valid_from), row.get(cols.valid_from))?;
    let valid_until =
        row.opt(cols.valid_until).map(|s| date_cell(row.t.header(cols.valid_until.unwrap_or(0)), s)).transpose()?;
    if let Some(end) = valid_until
        && end < valid_from
    {
        return Err(format!("contradiction: the contract ends ({end}) before it begins ({valid_from})"));
    }
    let price_model = match row.get(cols.price_model).to_ascii_lowercase().as_str() {
        "fixed" => PriceModel::Fixed,
        "market" => PriceModel::Market,
        other => return Err(format!("price_model `{other}` is not fixed or market")),
    };
    let fixed_price = row.number(cols.price)?;
    match (price_model, fixed_price) {
        (PriceModel::Fixed, None) => return Err("contradiction: price_model fixed needs a fixed_price".into()),
        (PriceModel::Market, Some(p)) => {
            return Err(format!("contradiction: price_model market with a fixed_price of {p}; which applies?"));
        }
        _ => {}
    }
    let fee_model = match row.get(cols.fee_model).to_ascii_lowercase().as_str() {
        "fixed_as_produced" => FeeModel::FixedAsProduced,
        "fixed_for_capacity" => FeeModel::FixedForCapacity,
        "percent_of_market" => FeeModel::PercentOfMarket,
        other => {
            return Err(format!(
                "fee_model `{other}` is not fixed_as_produced, fixed_for_capacity or percent_of_market"
            ));
        }
    };
    let (fee, fee_percent) = (row.number(cols.fee)?, row.number(cols.fee_percent)?);
    let fee_value = match (fee_model, fee, fee_percent) {
        (_, Some(f), Some(p)) if !f.is_zero() && !p.is_zero() => {
            return Err(format!("contradiction: both a fee of {f} and a fee_percent of {p}; which applies?"));
        }
        (FeeModel::PercentOfMarket, _, Some(p)) => p,
        // vpp's own file: fee_value holds the percentage.
        (FeeModel::PercentOfMarket, Some(v), None) if cols.fee_percent.is_none() => v,
        (FeeModel::PercentOfMarket, _, None) => return Err("fee_percent is empty; write 0 for no fee".into()),
        (_, Some(v), _) => v,
        (_, None, Some(p)) => {
            return Err(format!("contradiction: a fixed fee model with only a fee_percent of {p}; give the fee"));
        }
        (_, None, None) => return Err("fee_value is empty; write 0 for no fee".into()),
    };
    if fee_value < Decimal::ZERO {
        return Err(format!("fee_value must not be negative, got {fee_value}"));
    }
    if fee_model == FeeModel::PercentOfMarket && fee_value > Decimal::ONE_HUNDRED {
        return Err(format!("contradiction: a fee of {fee_value} % of the market value is more than all of it"));
    }
    let vat_pct = row.number(cols.vat_pct)?;
    if vat_pct.is_some_and(|v| v < Decimal::ZERO || v > Decimal::ONE_HUNDRED) {
        return Err("vat_pct must be 0..100".into());
    }
    let redispatch_price = row.number(cols.redispatch_price)?;
    let capacity_mw = match cols.capacity {
        Some((c, factor)) => row.number(Some(c))?.map(|v| v * factor),
        None => None,
    };
    if capacity_mw.is_some_and(|v| v < Decimal::ZERO) {
        return Err("capacity must not be negative".into());
    }
    Ok(Contract {
        contract_id,
        resource_id,
        valid_from,
        price_model,
        fixed_price,
        fee_model,
        fee_value,
        vat_pct,
        redispatch_price,
        valid_until,
        metering_point_id: row.opt(cols.metering_point).map(String::from),
        capacity_mw,
        technology: row.opt(cols.technology).map(String::from),
    })
}

/// What one quarter-hour of the asset brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarter {
    /// Local day of the quarter-hour (for contract versions).
    pub day: Date,
    /// Measured production, MWh; `None` when not measured.
    pub produced_mwh: Option<Decimal>,
    /// Market price (VWAP), currency/MWh; `None` when there is none.
    pub market_price: Option<Decimal>,
    /// The index the market price comes from, e.g. `public trades VWAP (EPEX)`.
    pub market_index: Option<String>,
    /// True when the grid operator redispatched the asset.
    pub redispatched: bool,
    /// Latest forecast, MWh (for redispatch compensation).
    pub forecast_mwh: Option<Decimal>,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LineItem {
    /// What it is for.
    pub description: String,
    /// Quantity (MWh, MW or percent of a value).
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Unit of the quantity.
    pub unit: String,
    /// Amount, currency (fees negative).
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// An invoice for one contract and month.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Invoice {
    /// Contract.
    pub contract_id: String,
    /// Asset.
    pub resource_id: String,
    /// Month, `YYYY-MM`.
    pub month: String,
    /// Currency.
    pub currency: String,
    /// Produced and measured energy, MWh.
    #[schema(value_type = String)]
    pub produced_mwh: Decimal,
    /// Energy payout.
    #[schema(value_type = String)]
    pub payout: Decimal,
    /// Redispatch compensation.
    #[schema(value_type = String)]
    pub redispatch_compensation: Decimal,
    /// Fees (positive; subtracted).
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// payout + compensation − fees.
    #[schema(value_type = String)]
    pub net: Decimal,
    /// VAT rate, percent.
    #[schema(value_type = String)]
    pub vat_pct: Decimal,
    /// VAT.
    #[schema(value_type = String)]
    pub vat: Decimal,
    /// net + VAT.
    #[schema(value_type = String)]
    pub gross: Decimal,
    /// Quarter-hours without a measurement (not paid).
    pub unmeasured_quarters: usize,
    /// Market-priced quarter-hours without a market price (not paid).
    pub unpriced_quarters: usize,
    /// The market price indices paid quarter-hours of a market-price
    /// contract used, with how many quarter-hours each priced.
    pub market_index: Vec<IndexUse>,
    /// Lines.
    pub lines: Vec<LineItem>,
}

/// A market price index and the quarter-hours it priced.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IndexUse {
    /// The index, e.g. `public trades VWAP (EPEX files)` or `day-ahead clearing (DA)`.
    pub index: String,
    /// Quarter-hours it priced.
    pub quarters: usize,
}

pub(crate) fn cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The contract version in force on `day`: the newest `valid_from` ≤ day,
/// unless it ended (`valid_until`) before that day.
pub fn in_force(versions: &[Contract], day: Date) -> Option<&Contract> {
    versions
        .iter()
        .filter(|c| c.valid_from <= day)
        .max_by_key(|c| c.valid_from)
        .filter(|c| c.valid_until.is_none_or(|end| day <= end))
}

/// Builds the invoice of one contract (all its versions) for a month of
/// quarter-hours. `capacity_mw` is the asset's installed power.
pub fn invoice(
    versions: &[Contract],
    month: &str,
    quarters: &[Quarter],
    capacity_mw: Decimal,
    currency: &str,
    default_vat_pct: Decimal,
) -> Option<Invoice> {
    let first = versions.first()?;
    let (mut produced, mut payout, mut redispatch, mut market_value, mut fee_mwh) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let (mut unmeasured, mut unpriced) = (0, 0);
    let mut fee_pct_base = Decimal::ZERO;
    let mut last = None;
    let mut indices: Vec<IndexUse> = Vec::new();
    for q in quarters {
        let Some(c) = in_force(versions, q.day) else { continue };
        last = Some(c);
        let Some(mwh) = q.produced_mwh else {
            unmeasured += 1;
            continue;
        };
        let price = match c.price_model {
            PriceModel::Fixed => c.fixed_price,
            PriceModel::Market => q.market_price,
        };
        let Some(price) = price else {
            unpriced += 1;
            continue;
        };
        produced += mwh;
        payout += mwh * price;
        if c.price_model == PriceModel::Market {
            let index = q.market_index.clone().unwrap_or_else(|| "market price".into());
            match indices.iter_mut().find(|u: &&mut IndexUse| u.index == index) {
                Some(u) => u.quarters += 1,
                None => indices.push(IndexUse { index, quarters: 1 }),
            }
        }
        if let Some(m) = q.market_price {
            market_value += mwh * m;
        }
        match c.fee_model {
            FeeModel::FixedAsProduced => fee_mwh += mwh * c.fee_value,
            FeeModel::PercentOfMarket => {
                if let Some(m) = q.market_price {
                    fee_pct_base += mwh * m * c.fee_value / Decimal::ONE_HUNDRED;
                }
            }
            FeeModel::FixedForCapacity => {}
        }
        if let (true, Some(rp), Some(f)) = (q.redispatched, c.redispatch_price, q.forecast_mwh) {
            redispatch += (f - mwh).max(Decimal::ZERO) * rp;
        }
    }
    // A contract in force on no day of the month is not invoiced.
    let c = last?;
    let capacity_fee =
        if c.fee_model == FeeModel::FixedForCapacity { capacity_mw * c.fee_value } else { Decimal::ZERO };
    let fees = cents(fee_mwh + fee_pct_base + capacity_fee);
    let (payout, redispatch) = (cents(payout), cents(redispatch));
    let net = payout + redispatch - fees;
    let vat_pct = c.vat_pct.unwrap_or(default_vat_pct);
    let vat = cents(net * vat_pct / Decimal::ONE_HUNDRED);
    let mut lines = vec![LineItem {
        description: match c.price_model {
            PriceModel::Fixed => {
                format!("Energy at the fixed price of {} {currency}/MWh", c.fixed_price.unwrap_or_default())
            }
            PriceModel::Market if indices.is_empty() => "Energy at the quarter-hourly market price".into(),
            PriceModel::Market => format!(
                "Energy at the quarter-hourly market price: {}",
                indices
                    .iter()
                    .map(|u| format!("{} ({} quarter-hours)", u.index, u.quarters))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        quantity: produced,
        unit: "MWh".into(),
        amount: payout,
    }];
    if !redispatch.is_zero() {
        lines.push(LineItem {
            description: "Redispatch compensation for curtailed energy".into(),
            quantity: Decimal::ONE,
            unit: "lump".into(),
            amount: redispatch,
        });
    }
    let (fee_text, fee_qty, fee_unit) = match c.fee_model {
        FeeModel::FixedAsProduced => (format!("VPP fee {} {currency}/MWh", c.fee_value), produced, "MWh"),
        FeeModel::FixedForCapacity => (format!("VPP fee {} {currency}/MW installed", c.fee_value), capacity_mw, "MW"),
        FeeModel::PercentOfMarket => {
            (format!("VPP fee {} % of the market value", c.fee_value), cents(market_value), currency)
        }
    };
    lines.push(LineItem { description: fee_text, quantity: fee_qty, unit: fee_unit.into(), amount: -fees });
    lines.push(LineItem { description: format!("VAT {vat_pct} %"), quantity: net, unit: currency.into(), amount: vat });
    Some(Invoice {
        contract_id: first.contract_id.clone(),
        resource_id: first.resource_id.clone(),
        month: month.into(),
        currency: currency.into(),
        produced_mwh: produced,
        payout,
        redispatch_compensation: redispatch,
        fees,
        net,
        vat_pct,
        vat,
        gross: net + vat,
        unmeasured_quarters: unmeasured,
        unpriced_quarters: unpriced,
        market_index: indices,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    const HEADER: &str =
        "contract_id;resource_id;valid_from;price_model;fixed_price;fee_model;fee_value;vat_pct;redispatch_price\n";

    fn q(day: Date, mwh: Option<&str>, price: Option<&str>) -> Quarter {
        Quarter {
            day,
            produced_mwh: mwh.map(d),
            market_price: price.map(d),
            market_index: price.map(|_| "public trades VWAP (test)".to_string()),
            redispatched: false,
            forecast_mwh: None,
        }
    }

    #[test]
    fn contradictions_are_reported_with_their_line() {
        let file = format!(
            "# contracts 2026\n{HEADER}C1;pv-1;2026-01-01;fixed;;fixed_as_produced;2;;\n\
             C2;pv-2;2026-01-01;market;80;percent_of_market;5;;\n\
             C3;pv-3;2026-01-01;market;;percent_of_market;120;;\n\
             C4;pv-4;2026-01-01;market;;fixed_as_produced;1;;\nC4;pv-4;2026-01-01;market;;fixed_as_produced;2;;\n"
        );
        let errors = parse_contracts(file.as_bytes()).expect_err("contradictions");
        let got: Vec<(usize, bool)> =
            errors.iter().map(|e| (e.line, e.reason.contains("contradiction") || e.reason.contains("twice"))).collect();
        assert_eq!(got, vec![(3, true), (4, true), (5, true), (7, true)]);
    }

    #[test]
    fn fixed_price_invoice_by_hand_with_vat() {
        let file = format!("{HEADER}C1;pv-1;2026-01-01;fixed;92.50;fixed_as_produced;3.10;;\n");
        let versions = parse_contracts(file.as_bytes()).expect("valid");
        let day = date(2026, 11, 3);
        let quarters = [q(day, Some("0.5"), None), q(day, Some("0.25"), None), q(day, None, None)];
        let inv = invoice(&versions, "2026-11", &quarters, d("1"), "EUR", d("19")).expect("invoice");
        // 0.75 MWh × 92.50 = 69.375 → 69.38 (half away from zero); fee 0.75 × 3.10 = 2.325 → 2.33;
        // net 67.05; VAT 19 % = 12.7395 → 12.74; gross 79.79.
        assert_eq!((inv.produced_mwh, inv.payout, inv.fees), (d("0.75"), d("69.38"), d("2.33")));
        assert_eq!((inv.net, inv.vat, inv.gross), (d("67.05"), d("12.74"), d("79.79")));
        assert_eq!(inv.unmeasured_quarters, 1);
        assert_eq!(inv.lines.len(), 3);
    }

    #[test]
    fn market_price_with_percent_fee_capacity_fee_and_a_newer_version() {
        let file = format!(
            "{HEADER}C1;wind-1;2026-01-01;market;;percent_of_market;5;7;\n\
             C1;wind-1;2026-11-16;market;;fixed_for_capacity;150;7;45\n"
        );
        let versions = parse_contracts(file.as_bytes()).expect("valid");
        let early = date(2026, 11, 2);
        let late = date(2026, 11, 20);
        let mut redispatched = q(late, Some("0.2"), Some("50"));
        redispatched.redispatched = true;
        redispatched.forecast_mwh = Some(d("1.0"));
        let quarters = [q(early, Some("1"), Some("80")), q(early, Some("2"), None), redispatched];
        let inv = invoice(&versions, "2026-11", &quarters, d("3.5"), "EUR", d("19")).expect("invoice");
        // Payout: 1 × 80 + 0.2 × 50 = 90 (the unpriced 2 MWh are not paid).
        // Percent fee under the first version: 5 % × 80 = 4; the month ends
        // under the capacity version: 3.5 MW × 150 = 525. Fees 529.
        // Redispatch: (1.0 − 0.2) × 45 = 36. Net 90 + 36 − 529 = −403.
        // VAT 7 % = −28.21; gross −431.21.
        assert_eq!((inv.payout, inv.redispatch_compensation, inv.fees), (d("90"), d("36"), d("529")));
        assert_eq!((inv.net, inv.vat_pct, inv.vat, inv.gross), (d("-403"), d("7"), d("-28.21"), d("-431.21")));
        assert_eq!(inv.unpriced_quarters, 1);
        assert_eq!(inv.market_index, vec![IndexUse { index: "public trades VWAP (test)".into(), quarters: 2 }]);
        assert!(inv.lines[0].description.contains("public trades VWAP (test) (2 quarter-hours)"), "{:?}", inv.lines);
    }

    #[test]
    fn a_crm_export_keyed_by_asset_with_an_end_and_a_percent_fee() {
        let file = "contract_id,asset_id,metering_point_id,capacity (MW),technology,contract_begin,contract_end,price_model,price,fee_model,fee,fee_percent\n\
            K-1,WP-07,DE0001234567890000000000000000001,\"3,6\",wind,2026-01-01 00:00:00.000000 UTC,,market,,percent_of_market,,\"2,5\"\n\
            K-2,PV-03,DE0001234567890000000000000000002,\"0,75\",pv,01.03.2026,30.11.2026,fixed,\"81,20\",fixed_as_produced,\"1,5\",\n";
        let versions = parse_contracts(file.as_bytes()).expect("valid");
        let (k1, k2) = (&versions[0], &versions[1]);
        assert_eq!((k1.resource_id.as_str(), k1.valid_from, k1.valid_until), ("WP-07", date(2026, 1, 1), None));
        assert_eq!((k1.fee_model, k1.fee_value, k1.capacity_mw), (FeeModel::PercentOfMarket, d("2.5"), Some(d("3.6"))));
        assert_eq!(k1.metering_point_id.as_deref(), Some("DE0001234567890000000000000000001"));
        assert_eq!(
            (k2.fixed_price, k2.fee_value, k2.valid_until),
            (Some(d("81.20")), d("1.5"), Some(date(2026, 11, 30)))
        );
        assert_eq!(k2.technology.as_deref(), Some("pv"));
        // In force to its last day, not after.
        assert!(in_force(&versions[1..], date(2026, 11, 30)).is_some());
        assert!(in_force(&versions[1..], date(2026, 12, 1)).is_none());
        let bad = "contract_id,asset_id,contract_begin,contract_end,price_model,price,fee_model,fee,fee_percent\n\
            K-3,A,2026-05-01,2026-04-30,market,,percent_of_market,,1\n\
            K-4,B,2026-05-01,,market,,fixed_as_produced,,2\n";
        let errors = parse_contracts(bad.as_bytes()).expect_err("contradictions");
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
        assert!(errors[0].reason.contains("ends"), "{}", errors[0].reason);
        assert!(errors[1].reason.contains("only a fee_percent"), "{}", errors[1].reason);
        // vpp's own `;` file with three decimals everywhere: still a decimal point.
        let own = format!("{HEADER}C9;pv-9;2026-01-01;fixed;78.400;fixed_as_produced;1.500;;\n");
        let c = &parse_contracts(own.as_bytes()).expect("valid")[0];
        assert_eq!((c.fixed_price, c.fee_value), (Some(d("78.4")), d("1.5")));
        // A begin with an offset is the Berlin day; capacity in kWp.
        let file = "contract_id,asset_id,contract_begin,price_model,price,fee_model,fee,capacity (kWp)\n\
            K-5,A,2026-01-01T00:00:00+01:00,fixed,80,fixed_as_produced,1,750\n";
        let c = &parse_contracts(file.as_bytes()).expect("valid")[0];
        assert_eq!((c.valid_from, c.capacity_mw), (date(2026, 1, 1), Some(d("0.75"))));
        let both = "contract_id,asset_id,contract_begin,price_model,price,fee_model,fee,fee_percent\n\
            K-6,A,2026-01-01,market,,percent_of_market,1,2\n";
        assert!(parse_contracts(both.as_bytes()).expect_err("both")[0].reason.contains("which applies"));
        let missing = parse_contracts(b"contract_id,asset_id\nK,A\n").expect_err("header");
        assert!(missing[0].reason.contains("lacks valid_from or contract_begin"), "{}", missing[0].reason);
    }
}
