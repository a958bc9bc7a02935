//! Settlement: the money of every interval, exact.
//!
//! Per interval and settlement unit (a VPP, or one asset):
//!
//! ```text
//! trade revenue  = Σ SELL qty·price·h − Σ BUY qty·price·h      (energy trades)
//! imbalance      = (delivered − sold − activated) MWh × imbalance price  (one-price system)
//! reserve        = capacity MW × capacity price × h + activated MW × h × activation price
//! fees           = −|traded MWh| × exchange fee
//! net            = trade revenue + imbalance + reserve + fees
//! ```
//!
//! Delivered energy is the best of infeed (meter final before live
//! measurement). The imbalance price is the final one where present, else
//! the estimate, and each interval says which it used. Missing delivered
//! energy or a missing imbalance price is an error naming the intervals:
//! nothing is ever assumed to be zero.
//!
//! # Exact arithmetic
//! Money is exact decimal. The hot loop runs on integers in fixed point:
//! energy in Wh, prices in thousandths of a currency unit per MWh, so one
//! product is in 10⁻⁹ currency units, summed in `i128` and turned into a
//! [`Decimal`] once at the end. Trades are whole products of 15, 30 or 60
//! minutes with quantities to the kW, so their energy is a whole number of
//! Wh; prices with more than three decimals are refused at the edge.

use jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::auction::Side;

/// Fixed-point scale of prices: thousandths of a currency unit per MWh.
pub const PRICE_SCALE: u32 = 3;
/// Fixed-point scale of money products: 10⁻⁹ currency units (Wh × milli/MWh).
pub const MONEY_SCALE: u32 = 9;

/// A price as thousandths per MWh, or `None` with more than three decimals.
pub fn price_milli(price: Decimal) -> Option<i64> {
    let m = price * Decimal::from(1000);
    m.fract().is_zero().then(|| m.to_i64()).flatten()
}

/// Money from nano-units.
pub fn money(nano: i128) -> Decimal {
    // Decimal holds 96-bit mantissas; settlement sums stay far below.
    Decimal::try_from_i128_with_scale(nano, MONEY_SCALE).map_or(Decimal::MAX, |d| d.normalize())
}

/// Energy in Wh of `mw` for `seconds`, or `None` when not a whole Wh.
pub fn energy_wh(mw: Decimal, seconds: i64) -> Option<i64> {
    // MW × s / 3600 × 10⁶ Wh/MWh
    let wh = mw * Decimal::from(seconds) * Decimal::from(1_000_000) / Decimal::from(3600);
    wh.fract().is_zero().then(|| wh.to_i64()).flatten()
}

/// Equal intervals `[start + k·step, start + (k+1)·step)`, `k < n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// First interval start (UTC).
    pub start: Timestamp,
    /// Interval length, seconds (900 for quarter-hours).
    pub step_s: i64,
    /// Number of intervals.
    pub n: usize,
}

impl Grid {
    /// The grid from `start` (inclusive) to `end` (exclusive).
    pub fn between(start: Timestamp, end: Timestamp, step_s: i64) -> Self {
        let span = (end.as_second() - start.as_second()).max(0);
        Self { start, step_s, n: (span / step_s.max(1)) as usize }
    }

    /// Start of interval `k`.
    pub fn at(&self, k: usize) -> Timestamp {
        self.start + jiff::SignedDuration::from_secs(self.step_s * k as i64)
    }

    /// The intervals `[start, end)` covers, clipped to the grid, with the
    /// seconds of overlap of each.
    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> impl Iterator<Item = (usize, i64)> + '_ {
        let (s, e) = (start.as_second(), end.as_second());
        let g0 = self.start.as_second();
        let first = ((s - g0).div_euclid(self.step_s)).max(0);
        let last = ((e - g0 + self.step_s - 1).div_euclid(self.step_s)).min(self.n as i64);
        (first..last).filter_map(move |k| {
            let (a, b) = (g0 + k * self.step_s, g0 + (k + 1) * self.step_s);
            let overlap = b.min(e) - a.max(s);
            (overlap > 0).then_some((k as usize, overlap))
        })
    }
}

/// What a trade is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TradeKind {
    /// Energy (day-ahead, intraday): price per MWh.
    Energy,
    /// Reserve capacity: price per MW and hour.
    ReserveCapacity,
    /// Activated reserve energy: price per MWh.
    Activation,
    /// Capacity market: price per MW and hour.
    Capacity,
}

impl TradeKind {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Energy => "energy",
            Self::ReserveCapacity => "reserve_capacity",
            Self::Activation => "activation",
            Self::Capacity => "capacity",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Energy, Self::ReserveCapacity, Self::Activation, Self::Capacity].into_iter().find(|k| k.as_str() == s)
    }
}

/// A trade as settlement needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeLine {
    /// Delivery start (UTC).
    pub start: Timestamp,
    /// Delivery end, exclusive.
    pub end: Timestamp,
    /// Side.
    pub side: Side,
    /// What it pays for.
    pub kind: TradeKind,
    /// Quantity, MW.
    pub quantity_mw: Decimal,
    /// Price (see [`TradeKind`]).
    pub price: Decimal,
}

/// Trades on a grid, columnar: what was sold and earned per interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Position {
    /// Net energy sold (sold − bought, plus activated reserve energy), Wh.
    pub sold_wh: Vec<i64>,
    /// Energy traded on either side, Wh (for fees and VWAP).
    pub traded_wh: Vec<i64>,
    /// Trade revenue (SELL +, BUY −), 10⁻⁹ currency. An interval holds up
    /// to ±9.2·10⁹ currency units, far beyond any one unit's quarter-hour.
    pub revenue_nano: Vec<i64>,
    /// Reserve and capacity payments (capacity and activation), 10⁻⁹ currency.
    pub reserve_nano: Vec<i64>,
    /// Σ price × energy of energy trades on either side (for VWAP), 10⁻⁹ currency.
    pub turnover_nano: Vec<i64>,
    /// Trades touching each interval.
    pub trades: Vec<u32>,
}

/// A trade that cannot be put on the grid exactly.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("trade {index}: {message}")]
pub struct TradeError {
    /// Index in the input.
    pub index: usize,
    /// Why.
    pub message: String,
}

/// Spreads trades over the grid: an hourly trade counts a quarter of its
/// energy in each of its four quarter-hours (MW × overlap hours).
pub fn spread(grid: &Grid, trades: &[TradeLine]) -> Result<Position, TradeError> {
    let n = grid.n;
    let mut p = Position {
        sold_wh: vec![0; n],
        traded_wh: vec![0; n],
        revenue_nano: vec![0; n],
        reserve_nano: vec![0; n],
        turnover_nano: vec![0; n],
        trades: vec![0; n],
    };
    for (index, t) in trades.iter().enumerate() {
        let err = |message: String| TradeError { index, message };
        let price = price_milli(t.price).ok_or_else(|| err(format!("price {} has more than 3 decimals", t.price)))?;
        let sign: i64 = if t.side == Side::Sell { 1 } else { -1 };
        for (k, secs) in grid.overlaps(t.start, t.end) {
            let wh = energy_wh(t.quantity_mw, secs)
                .ok_or_else(|| err(format!("{} MW over {secs} s is not a whole Wh", t.quantity_mw)))?;
            let amount: i64 = (i128::from(sign) * i128::from(wh) * i128::from(price))
                .try_into()
                .map_err(|_| err("amount exceeds 9.2e9 per interval".into()))?;
            p.trades[k] += 1;
            match t.kind {
                TradeKind::Energy => {
                    p.sold_wh[k] += sign * wh;
                    p.traded_wh[k] += wh;
                    p.revenue_nano[k] += amount;
                    p.turnover_nano[k] += sign * amount;
                }
                // Activated reserve energy is delivered on the TSO's call: it
                // counts as sold, so it is no imbalance, and is paid as reserve.
                TradeKind::Activation => {
                    p.sold_wh[k] += sign * wh;
                    p.reserve_nano[k] += amount;
                }
                // MW·h × price per MW and hour has the same fixed point as Wh × price per MWh.
                TradeKind::ReserveCapacity | TradeKind::Capacity => p.reserve_nano[k] += amount,
            }
        }
    }
    Ok(p)
}

/// Imbalance prices on the grid, thousandths per MWh.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImbalancePrices {
    /// Final prices where published.
    pub final_milli: Vec<Option<i64>>,
    /// Estimates.
    pub estimate_milli: Vec<Option<i64>>,
}

/// Which imbalance price an interval used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The published final price.
    Final,
    /// The estimate (the final one was not published yet).
    Estimate,
}

/// The money of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntervalSettlement {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Net energy sold, MWh.
    #[schema(value_type = String)]
    pub sold_mwh: Decimal,
    /// Delivered energy (best of infeed), MWh.
    #[schema(value_type = String)]
    pub delivered_mwh: Decimal,
    /// delivered − sold, MWh.
    #[schema(value_type = String)]
    pub imbalance_mwh: Decimal,
    /// Imbalance price used, currency/MWh.
    #[schema(value_type = String)]
    pub imbalance_price: Decimal,
    /// Final or estimate.
    pub imbalance_price_source: PriceSource,
    /// Trade revenue.
    #[schema(value_type = String)]
    pub trade_revenue: Decimal,
    /// Imbalance amount (+ paid to the VPP, − paid by it).
    #[schema(value_type = String)]
    pub imbalance_amount: Decimal,
    /// Reserve capacity, activation and capacity payments.
    #[schema(value_type = String)]
    pub reserve_payments: Decimal,
    /// Exchange fees (negative).
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Sum of the above.
    #[schema(value_type = String)]
    pub net: Decimal,
}

/// Settlement inputs that are missing, by interval start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("settlement needs data that is missing: {}", describe(.delivered, .prices))]
pub struct MissingData {
    /// Intervals without delivered energy.
    pub delivered: Vec<Timestamp>,
    /// Intervals without any imbalance price.
    pub prices: Vec<Timestamp>,
}

fn describe(delivered: &[Timestamp], prices: &[Timestamp]) -> String {
    let list = |v: &[Timestamp]| {
        let shown: Vec<String> = v.iter().take(8).map(|t| t.to_string()).collect();
        let more = if v.len() > 8 { format!(" and {} more", v.len() - 8) } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    let mut parts = Vec::new();
    if !delivered.is_empty() {
        parts.push(format!("delivered energy for {} intervals ({})", delivered.len(), list(delivered)));
    }
    if !prices.is_empty() {
        parts.push(format!("imbalance prices for {} intervals ({})", prices.len(), list(prices)));
    }
    parts.join("; ")
}

/// Totals of a settlement unit over a period, in the same terms.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Trade revenue, 10⁻⁹ currency.
    pub revenue_nano: i128,
    /// Imbalance, 10⁻⁹ currency.
    pub imbalance_nano: i128,
    /// Reserve payments, 10⁻⁹ currency.
    pub reserve_nano: i128,
    /// Fees, 10⁻⁹ currency.
    pub fees_nano: i128,
}

impl Totals {
    /// The net, 10⁻⁹ currency.
    pub fn net_nano(&self) -> i128 {
        self.revenue_nano + self.imbalance_nano + self.reserve_nano + self.fees_nano
    }
}

/// Settles one unit on the grid, returning the totals and calling `each`
/// for every interval with integer terms `(k, imbalance_wh, price_milli,
/// source, imbalance_nano, fees_nano)`. `delivered_wh[k]` is `None` where
/// nothing was measured. Checks every interval before any result exists.
pub fn settle_columns(
    position: &Position,
    delivered_wh: &[Option<i64>],
    prices: &ImbalancePrices,
    fee_milli: i64,
    grid: &Grid,
    mut each: impl FnMut(usize, i64, i64, PriceSource, i128, i128),
) -> Result<Totals, MissingData> {
    let mut missing = MissingData { delivered: vec![], prices: vec![] };
    for k in 0..grid.n {
        if delivered_wh.get(k).copied().flatten().is_none() {
            missing.delivered.push(grid.at(k));
        }
        let has_price = prices.final_milli.get(k).copied().flatten().is_some()
            || prices.estimate_milli.get(k).copied().flatten().is_some();
        if !has_price {
            missing.prices.push(grid.at(k));
        }
    }
    if !missing.delivered.is_empty() || !missing.prices.is_empty() {
        return Err(missing);
    }
    let mut t = Totals::default();
    for (k, delivered) in delivered_wh.iter().enumerate().take(grid.n) {
        let delivered = delivered.unwrap_or_default();
        let (price, source) = match prices.final_milli[k] {
            Some(p) => (p, PriceSource::Final),
            None => (prices.estimate_milli[k].unwrap_or_default(), PriceSource::Estimate),
        };
        let imbalance_wh = delivered - position.sold_wh[k];
        let imbalance = i128::from(imbalance_wh) * i128::from(price);
        let fees = -i128::from(position.traded_wh[k]) * i128::from(fee_milli);
        t.revenue_nano += i128::from(position.revenue_nano[k]);
        t.reserve_nano += i128::from(position.reserve_nano[k]);
        t.imbalance_nano += imbalance;
        t.fees_nano += fees;
        each(k, imbalance_wh, price, source, imbalance, fees);
    }
    Ok(t)
}

/// Settles one unit and returns every interval as exact decimals.
pub fn settle(
    grid: &Grid,
    position: &Position,
    delivered_wh: &[Option<i64>],
    prices: &ImbalancePrices,
    fee_per_mwh: Decimal,
) -> Result<(Vec<IntervalSettlement>, Totals), MissingData> {
    let fee_milli = price_milli(fee_per_mwh).unwrap_or_default();
    let mut rows = Vec::with_capacity(grid.n);
    let totals =
        settle_columns(position, delivered_wh, prices, fee_milli, grid, |k, imb_wh, price, source, imb, fees| {
            let mwh = |wh: i64| Decimal::new(wh, 6).normalize();
            let revenue = i128::from(position.revenue_nano[k]);
            let reserve = i128::from(position.reserve_nano[k]);
            rows.push(IntervalSettlement {
                start: grid.at(k),
                sold_mwh: mwh(position.sold_wh[k]),
                delivered_mwh: mwh(delivered_wh[k].unwrap_or_default()),
                imbalance_mwh: mwh(imb_wh),
                imbalance_price: Decimal::new(price, PRICE_SCALE).normalize(),
                imbalance_price_source: source,
                trade_revenue: money(revenue),
                imbalance_amount: money(imb),
                reserve_payments: money(reserve),
                fees: money(fees),
                net: money(revenue + imb + reserve + fees),
            });
        })?;
    Ok((rows, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn trade(start: &str, end: &str, side: Side, kind: TradeKind, qty: &str, price: &str) -> TradeLine {
        TradeLine { start: ts(start), end: ts(end), side, kind, quantity_mw: d(qty), price: d(price) }
    }

    #[test]
    fn an_hourly_trade_is_spread_over_its_four_quarter_hours() {
        let grid = Grid::between(ts("2026-11-24T10:00:00Z"), ts("2026-11-24T11:00:00Z"), 900);
        // Sell 2 MW for the hour at 80 €/MWh: 0.5 MWh and 40 € per quarter-hour.
        let p = spread(
            &grid,
            &[trade("2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z", Side::Sell, TradeKind::Energy, "2", "80")],
        )
        .expect("spread");
        assert_eq!(p.sold_wh, vec![500_000; 4]);
        assert_eq!(p.revenue_nano.iter().map(|&x| money(x.into())).collect::<Vec<_>>(), vec![d("40"); 4]);
    }

    #[test]
    fn hand_checked_interval_with_final_and_estimated_imbalance_prices() {
        let grid = Grid::between(ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:30:00Z"), 900);
        let trades = [
            // Sell 4 MW at 95.50 in both quarter-hours: 1 MWh, 95.50 € each.
            trade("2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z", Side::Sell, TradeKind::Energy, "4", "95.50"),
            // Buy back 0.4 MW at 60 in the first: 0.1 MWh, −6 €.
            trade("2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z", Side::Buy, TradeKind::Energy, "0.4", "60"),
            // Reserve: 2 MW capacity at 12.40 €/MW/h over the half hour: 12.40 € (6.20 each).
            trade("2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z", Side::Sell, TradeKind::ReserveCapacity, "2", "12.40"),
        ];
        let p = spread(&grid, &trades).expect("spread");
        // Delivered 0.95 MWh then 1.02 MWh.
        let delivered = [Some(950_000), Some(1_020_000)];
        let prices =
            ImbalancePrices { final_milli: vec![Some(120_000), None], estimate_milli: vec![Some(1), Some(-30_500)] };
        let (rows, totals) = settle(&grid, &p, &delivered, &prices, d("0.05")).expect("settled");
        // Q1: sold 0.9 MWh; revenue 95.50 − 6 = 89.50; imbalance (0.95 − 0.9) × 120 = 6;
        // reserve 6.20; fees −(1 + 0.1) × 0.05 = −0.055; net 101.645.
        let q1 = &rows[0];
        assert_eq!((q1.sold_mwh, q1.imbalance_mwh), (d("0.9"), d("0.05")));
        assert_eq!((q1.imbalance_price, q1.imbalance_price_source), (d("120"), PriceSource::Final));
        assert_eq!((q1.trade_revenue, q1.imbalance_amount, q1.reserve_payments), (d("89.5"), d("6"), d("6.2")));
        assert_eq!((q1.fees, q1.net), (d("-0.055"), d("101.645")));
        // Q2: final missing → estimate −30.50; imbalance (1.02 − 1) × −30.5 = −0.61;
        // revenue 95.50; reserve 6.20; fees −0.05; net 101.04.
        let q2 = &rows[1];
        assert_eq!((q2.imbalance_price, q2.imbalance_price_source), (d("-30.5"), PriceSource::Estimate));
        assert_eq!((q2.imbalance_amount, q2.fees, q2.net), (d("-0.61"), d("-0.05"), d("101.04")));
        assert_eq!(money(totals.net_nano()), d("202.685"));
    }

    #[test]
    fn activated_reserve_energy_is_no_imbalance() {
        let grid = Grid::between(ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"), 900);
        let trades = [
            // 4 MW capacity at 10 €/MW/h: 10 €; 2 MW activated at 150 €/MWh: 0.5 MWh, 75 €.
            trade("2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z", Side::Sell, TradeKind::ReserveCapacity, "4", "10"),
            trade("2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z", Side::Sell, TradeKind::Activation, "2", "150"),
        ];
        let p = spread(&grid, &trades).expect("spread");
        let prices = ImbalancePrices { final_milli: vec![Some(200_000)], estimate_milli: vec![None] };
        // Delivered exactly the activated 0.5 MWh: no imbalance, no exchange fee.
        let (rows, _) = settle(&grid, &p, &[Some(500_000)], &prices, d("0.05")).expect("settled");
        assert_eq!((rows[0].imbalance_mwh, rows[0].fees), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!((rows[0].reserve_payments, rows[0].net), (d("85"), d("85")));
    }

    #[test]
    fn missing_prices_and_measurements_are_named_not_zeroed() {
        let grid = Grid::between(ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:45:00Z"), 900);
        let p = spread(&grid, &[]).expect("spread");
        let prices =
            ImbalancePrices { final_milli: vec![Some(1), None, None], estimate_milli: vec![None, Some(2), None] };
        let err = settle(&grid, &p, &[Some(0), None, Some(0)], &prices, Decimal::ZERO).expect_err("missing");
        assert_eq!(err.delivered, vec![ts("2026-11-24T10:15:00Z")]);
        assert_eq!(err.prices, vec![ts("2026-11-24T10:30:00Z")]);
        assert!(err.to_string().contains("imbalance prices for 1 intervals (2026-11-24T10:30:00Z)"));
    }

    #[test]
    fn odd_prices_and_quantities_are_refused() {
        let grid = Grid::between(ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"), 900);
        let bad = trade("2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z", Side::Sell, TradeKind::Energy, "1", "1.0001");
        assert_eq!(spread(&grid, &[bad]).expect_err("4 decimals").index, 0);
    }
}
