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
//! `;`-separated, `#` comments, header
//! `contract_id;resource_id;valid_from;price_model;fixed_price;fee_model;fee_value;vat_pct;redispatch_price`.
//! A row is one contract version from `valid_from` (a date) on; a newer
//! version of the same contract supersedes the older one from its date.
//! Contradictions (a fixed price model without a price, a market model with
//! one, a percentage above 100, two different rows for the same contract and
//! date…) are reported with their line, never guessed.

use jiff::civil::Date;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

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
}

/// The header of a contract file.
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

fn optional(field: &str, s: &str) -> Result<Option<Decimal>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| format!("{field} `{s}` is not a number with a decimal point"))
}

/// Parses a contract file; returns every version or every problem.
pub fn parse_contracts(bytes: &[u8]) -> Result<Vec<Contract>, Vec<RowError>> {
    let text = std::str::from_utf8(bytes).map_err(|e| vec![RowError { line: 0, reason: format!("not UTF-8: {e}") }])?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((hline, header)) = lines.next() else {
        return Err(vec![RowError { line: 0, reason: "the file is empty".into() }]);
    };
    let header: Vec<&str> = header.split(';').map(str::trim).collect();
    if header != CONTRACT_COLUMNS {
        return Err(vec![RowError {
            line: hline,
            reason: format!("header must be `{}`, got `{}`", CONTRACT_COLUMNS.join(";"), header.join(";")),
        }]);
    }
    let (mut out, mut errors) = (Vec::<(usize, Contract)>::new(), Vec::new());
    for (line, l) in lines {
        let f: Vec<&str> = l.split(';').map(str::trim).collect();
        match contract_row(&f) {
            Ok(c) => {
                if let Some((first, same)) =
                    out.iter().find(|(_, o)| o.contract_id == c.contract_id && o.valid_from == c.valid_from)
                {
                    if *same != c {
                        errors.push(RowError {
                            line,
                            reason: format!(
                                "contract {} from {} is given twice with different terms (line {first})",
                                c.contract_id, c.valid_from
                            ),
                        });
                    }
                    continue;
                }
                out.push((line, c));
            }
            Err(reason) => errors.push(RowError { line, reason }),
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

fn contract_row(f: &[&str]) -> Result<Contract, String> {
    if f.len() != CONTRACT_COLUMNS.len() {
        return Err(format!("{} fields, expected {}", f.len(), CONTRACT_COLUMNS.len()));
    }
    let contract_id = f[0].to_string();
    let resource_id = f[1].to_string();
    if contract_id.is_empty() || resource_id.is_empty() {
        return Err("contract_id and resource_id must not be empty".into());
    }
    let valid_from: Date = f[2].parse().map_err(|_| format!("valid_from `{}` is not a date like 2026-01-01", f[2]))?;
    let price_model = match f[3] {
        "fixed" => PriceModel::Fixed,
        "market" => PriceModel::Market,
        other => return Err(format!("price_model `{other}` is not fixed or market")),
    };
    let fixed_price = optional("fixed_price", f[4])?;
    match (price_model, fixed_price) {
        (PriceModel::Fixed, None) => return Err("contradiction: price_model fixed needs a fixed_price".into()),
        (PriceModel::Market, Some(p)) => {
            return Err(format!("contradiction: price_model market with a fixed_price of {p}; which applies?"));
        }
        _ => {}
    }
    let fee_model = match f[5] {
        "fixed_as_produced" => FeeModel::FixedAsProduced,
        "fixed_for_capacity" => FeeModel::FixedForCapacity,
        "percent_of_market" => FeeModel::PercentOfMarket,
        other => {
            return Err(format!(
                "fee_model `{other}` is not fixed_as_produced, fixed_for_capacity or percent_of_market"
            ));
        }
    };
    let fee_value = optional("fee_value", f[6])?.ok_or("fee_value is empty; write 0 for no fee")?;
    if fee_value < Decimal::ZERO {
        return Err(format!("fee_value must not be negative, got {fee_value}"));
    }
    if fee_model == FeeModel::PercentOfMarket && fee_value > Decimal::ONE_HUNDRED {
        return Err(format!("contradiction: a fee of {fee_value} % of the market value is more than all of it"));
    }
    let vat_pct = optional("vat_pct", f[7])?;
    if vat_pct.is_some_and(|v| v < Decimal::ZERO || v > Decimal::ONE_HUNDRED) {
        return Err("vat_pct must be 0..100".into());
    }
    let redispatch_price = optional("redispatch_price", f[8])?;
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
    })
}

/// What one quarter-hour of the asset brought.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quarter {
    /// Local day of the quarter-hour (for contract versions).
    pub day: Date,
    /// Measured production, MWh; `None` when not measured.
    pub produced_mwh: Option<Decimal>,
    /// Market price (VWAP), currency/MWh; `None` when there is none.
    pub market_price: Option<Decimal>,
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
    /// Lines.
    pub lines: Vec<LineItem>,
}

pub(crate) fn cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The contract version in force on `day`: the newest `valid_from` ≤ day.
pub fn in_force(versions: &[Contract], day: Date) -> Option<&Contract> {
    versions.iter().filter(|c| c.valid_from <= day).max_by_key(|c| c.valid_from)
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
    let c = last.unwrap_or(first);
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
            PriceModel::Market => "Energy at the quarter-hourly market VWAP".into(),
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
        Quarter { day, produced_mwh: mwh.map(d), market_price: price.map(d), redispatched: false, forecast_mwh: None }
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
    }
}
