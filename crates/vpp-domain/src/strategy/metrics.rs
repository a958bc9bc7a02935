//! Return and risk figures of a daily P&L series.
//!
//! - Max drawdown: the largest fall of cumulative P&L from a previous peak
//!   (the peak starts at 0, before the first day), €.
//! - Sharpe ratio: mean daily P&L over its sample standard deviation,
//!   annualised by √365 (energy trades every day); no risk-free rate, as
//!   the P&L is already an excess over holding no position.
//! - VaR 95 %: the loss not exceeded on 95 % of days, from the empirical
//!   distribution (historical simulation): minus the 5th percentile of
//!   daily P&L, interpolated linearly between order statistics.
//! - CVaR 95 % (expected shortfall): minus the mean of the worst 5 % of
//!   days (at least one day).

use jiff::civil::Date;
use serde::Serialize;

/// One day.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct DailyPnl {
    /// Local delivery day.
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    /// Profit of the day, €.
    pub pnl: f64,
    /// Cumulative profit up to and including the day, €.
    pub cumulative: f64,
    /// Fall from the previous peak of the cumulative profit, € (≥ 0).
    pub drawdown: f64,
}

/// Figures over the whole period.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    /// Days.
    pub days: usize,
    /// Total profit, €.
    pub total_pnl: f64,
    /// Mean daily profit, €.
    pub mean_daily_pnl: f64,
    /// Largest drawdown, €.
    pub max_drawdown: f64,
    /// Annualised Sharpe ratio (null for fewer than two days or no variation).
    pub sharpe: Option<f64>,
    /// Daily value at risk at 95 %, € (positive: a loss).
    pub var_95: Option<f64>,
    /// Daily conditional value at risk at 95 %, €.
    pub cvar_95: Option<f64>,
    /// Share of days with a profit, 0..1.
    pub winning_days: f64,
}

/// The day table and the figures of `days` (in order).
pub fn daily_metrics(days: &[(Date, f64)]) -> (Vec<DailyPnl>, Metrics) {
    let mut cumulative = 0.0;
    let mut peak: f64 = 0.0;
    let mut max_drawdown: f64 = 0.0;
    let table: Vec<DailyPnl> = days
        .iter()
        .map(|&(date, pnl)| {
            cumulative += pnl;
            peak = peak.max(cumulative);
            let drawdown = peak - cumulative;
            max_drawdown = max_drawdown.max(drawdown);
            DailyPnl { date, pnl, cumulative, drawdown }
        })
        .collect();
    let pnl: Vec<f64> = days.iter().map(|d| d.1).collect();
    let n = pnl.len();
    if n == 0 {
        return (table, Metrics::default());
    }
    let mean = pnl.iter().sum::<f64>() / n as f64;
    let sharpe = (n >= 2)
        .then(|| (pnl.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt())
        .filter(|sd| *sd > 1e-12)
        .map(|sd| mean / sd * 365f64.sqrt());
    let mut sorted = pnl.clone();
    sorted.sort_by(f64::total_cmp);
    let var_95 = Some(-quantile(&sorted, 0.05));
    let tail = ((n as f64 * 0.05).ceil() as usize).max(1);
    let cvar_95 = Some(-sorted[..tail].iter().sum::<f64>() / tail as f64);
    let metrics = Metrics {
        days: n,
        total_pnl: cumulative,
        mean_daily_pnl: mean,
        max_drawdown,
        sharpe,
        var_95,
        cvar_95,
        winning_days: pnl.iter().filter(|x| **x > 0.0).count() as f64 / n as f64,
    };
    (table, metrics)
}

/// The `q` quantile of sorted values, linear between order statistics
/// (the "type 7" definition of Hyndman and Fan, as numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_figures() {
        let d = |k: i8| jiff::civil::date(2026, 1, k);
        let days: Vec<(Date, f64)> =
            [10.0, -5.0, 20.0, -30.0, 5.0].iter().enumerate().map(|(k, p)| (d(k as i8 + 1), *p)).collect();
        let (table, m) = daily_metrics(&days);
        // Cumulative 10, 5, 25, -5, 0: the peak 25 falls to -5.
        assert_eq!(table.iter().map(|t| t.cumulative).collect::<Vec<_>>(), [10.0, 5.0, 25.0, -5.0, 0.0]);
        assert_eq!(m.max_drawdown, 30.0);
        assert_eq!(m.total_pnl, 0.0);
        assert_eq!(m.sharpe, Some(0.0));
        // Sorted: -30, -5, 5, 10, 20; 5 % quantile at h = 0.2: -30 + 0.2 × 25 = -25.
        assert!((m.var_95.expect("var") - 25.0).abs() < 1e-9);
        // Worst ceil(0.25) = 1 day.
        assert_eq!(m.cvar_95, Some(30.0));
        assert_eq!(m.winning_days, 0.6);
        let (_, m) = daily_metrics(&days[..3]);
        // Mean 25/3, sd of (10, -5, 20) = sqrt(((5/3)² + (40/3)² + (35/3)²) / 2) = 12.583…
        let sd = ((25.0f64 / 9.0 + 1600.0 / 9.0 + 1225.0 / 9.0) / 2.0).sqrt();
        assert!((m.sharpe.expect("sharpe") - 25.0 / 3.0 / sd * 365f64.sqrt()).abs() < 1e-9);
    }
}
