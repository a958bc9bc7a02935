//! Trading analysis: revenue, trade count, net volume and VWAP per
//! quarter-hour and in total, from the trades spread on the grid (an hourly
//! trade counts a quarter of its energy in each of its quarter-hours; MW
//! over the product length gives MWh).
//!
//! ```text
//! revenue  = Σ SELL MWh·price − Σ BUY MWh·price
//! net MWh  = Σ SELL MWh − Σ BUY MWh
//! VWAP     = Σ MWh·price / Σ MWh     (both sides, energy trades)
//! ```

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::Serialize;

use super::settlement::{Grid, Position, TradeError, TradeLine, money, spread};

/// Figures of one quarter-hour or of the whole period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Interval start (UTC); null for the total.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    /// Trade revenue (SELL +, BUY −), currency.
    #[schema(value_type = String)]
    pub revenue: Decimal,
    /// Trades touching the interval (the total counts each trade once).
    pub trade_count: u64,
    /// Sold − bought, MWh.
    #[schema(value_type = String)]
    pub net_volume_mwh: Decimal,
    /// Traded on either side, MWh.
    #[schema(value_type = String)]
    pub traded_mwh: Decimal,
    /// Volume-weighted average price, currency/MWh (4 decimals); null without energy trades.
    #[schema(value_type = Option<String>)]
    pub vwap: Option<Decimal>,
    /// Reserve and capacity payments, currency.
    #[schema(value_type = String)]
    pub reserve_payments: Decimal,
}

fn figures(
    start: Option<Timestamp>,
    revenue: i128,
    count: u64,
    net: i64,
    traded: i64,
    turnover: i128,
    reserve: i128,
) -> Figures {
    let mwh = |wh: i64| Decimal::new(wh, 6).normalize();
    Figures {
        start,
        revenue: money(revenue),
        trade_count: count,
        net_volume_mwh: mwh(net),
        traded_mwh: mwh(traded),
        // turnover (10⁻⁹) / traded (10⁻⁶ MWh) = 10⁻³ currency/MWh.
        vwap: (traded != 0).then(|| (money(turnover) / mwh(traded)).round_dp(4).normalize()),
        reserve_payments: money(reserve),
    }
}

/// The market's VWAP index per interval of `grid` from an exchange's public
/// trades: Σ MWh·price / Σ MWh of the trades delivering in it (an hourly
/// trade counts a quarter of its energy in each quarter-hour); `None` where
/// nothing traded.
pub fn market_vwap(grid: &Grid, trades: &[super::files::PublicTrade]) -> Result<Vec<Option<Decimal>>, TradeError> {
    let lines: Vec<TradeLine> = trades
        .iter()
        .map(|t| TradeLine {
            start: t.start,
            end: t.end,
            side: super::auction::Side::Sell,
            kind: super::settlement::TradeKind::Energy,
            quantity_mw: t.quantity_mw,
            price: t.price,
        })
        .collect();
    Ok(analyse(grid, &lines)?.0.into_iter().map(|f| f.vwap).collect())
}

/// Per-quarter-hour and total figures of `trades` over `grid`.
pub fn analyse(grid: &Grid, trades: &[TradeLine]) -> Result<(Vec<Figures>, Figures), TradeError> {
    let p: Position = spread(grid, trades)?;
    let per: Vec<Figures> = (0..grid.n)
        .map(|k| {
            figures(
                Some(grid.at(k)),
                i128::from(p.revenue_nano[k]),
                u64::from(p.trades[k]),
                p.sold_wh[k],
                p.traded_wh[k],
                i128::from(p.turnover_nano[k]),
                i128::from(p.reserve_nano[k]),
            )
        })
        .collect();
    let count = trades.iter().filter(|t| grid.overlaps(t.start, t.end).next().is_some()).count() as u64;
    let total = figures(
        None,
        p.revenue_nano.iter().map(|&x| i128::from(x)).sum(),
        count,
        p.sold_wh.iter().sum(),
        p.traded_wh.iter().sum(),
        p.turnover_nano.iter().map(|&x| i128::from(x)).sum(),
        p.reserve_nano.iter().map(|&x| i128::from(x)).sum(),
    );
    Ok((per, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::auction::Side;
    use crate::market::settlement::TradeKind;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn trade(start: &str, end: &str, side: Side, qty: &str, price: &str) -> TradeLine {
        TradeLine {
            start: start.parse().expect("ts"),
            end: end.parse().expect("ts"),
            side,
            kind: TradeKind::Energy,
            quantity_mw: d(qty),
            price: d(price),
        }
    }

    #[test]
    fn hand_checked_quarter_hours_with_an_hourly_trade_spread() {
        let grid = Grid::between(
            "2026-11-20T10:00:00Z".parse().expect("ts"),
            "2026-11-20T11:00:00Z".parse().expect("ts"),
            900,
        );
        let trades = [
            // Hourly: 4 MW at 80 → 1 MWh and 80 € in each quarter-hour.
            trade("2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", Side::Sell, "4", "80"),
            // 10:15–10:30: buy 2 MW at 100 → 0.5 MWh, −50 €.
            trade("2026-11-20T10:15:00Z", "2026-11-20T10:30:00Z", Side::Buy, "2", "100"),
            // 10:15–10:30: sell 1 MW at −20 → 0.25 MWh, −5 €.
            trade("2026-11-20T10:15:00Z", "2026-11-20T10:30:00Z", Side::Sell, "1", "-20"),
        ];
        let (per, total) = analyse(&grid, &trades).expect("valid");
        assert_eq!(per[0].revenue, d("80"));
        assert_eq!(per[0].vwap, Some(d("80")));
        // Q2: revenue 80 − 50 − 5 = 25; net 1 − 0.5 + 0.25 = 0.75 MWh;
        // VWAP (1·80 + 0.5·100 + 0.25·(−20)) / 1.75 = 125 / 1.75 = 71.4286.
        assert_eq!((per[1].revenue, per[1].net_volume_mwh, per[1].trade_count), (d("25"), d("0.75"), 3));
        assert_eq!(per[1].vwap, Some(d("71.4286")));
        // Totals: revenue 80·4 − 50 − 5 = 265; net 4 − 0.5 + 0.25 = 3.75; traded 4.75;
        // VWAP (320 + 50 − 5) / 4.75 = 76.8421.
        assert_eq!((total.revenue, total.net_volume_mwh, total.traded_mwh), (d("265"), d("3.75"), d("4.75")));
        assert_eq!((total.trade_count, total.vwap), (3, Some(d("76.8421"))));
    }

    #[test]
    fn the_market_vwap_of_public_trades_by_hand() {
        use crate::market::files::PublicTrade;
        let t0: jiff::Timestamp = "2026-11-20T10:00:00Z".parse().expect("ts");
        let q = |m: i64| t0 + jiff::SignedDuration::from_mins(m);
        let trades = [
            PublicTrade { start: q(0), end: q(60), price: d("80"), currency: "EUR".into(), quantity_mw: d("4") },
            PublicTrade { start: q(15), end: q(30), price: d("100"), currency: "EUR".into(), quantity_mw: d("2") },
        ];
        let vwap = market_vwap(&Grid::between(t0, q(75), 900), &trades).expect("vwap");
        // 10:15: (1 MWh × 80 + 0.5 MWh × 100) / 1.5 MWh = 86.6667; 11:00 traded nothing.
        assert_eq!(vwap, vec![Some(d("80")), Some(d("86.6667")), Some(d("80")), Some(d("80")), None]);
    }
}
