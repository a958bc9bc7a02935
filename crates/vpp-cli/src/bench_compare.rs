//! `vpp bench strategy` and `vpp bench forecast`: the figures the outside
//! comparisons (`scripts/strategy-vs-vectorbt.py`,
//! `scripts/forecast-vs-statsforecast.py`) are held against, on data they
//! read from the exported CSV.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use jiff::civil::date;
use jiff::tz::TimeZone;
use vpp_domain::ai_model::{Method, ModelParams};
use vpp_domain::market::rules::TradingRules;
use vpp_domain::series::{Belief, SourceKind};
use vpp_domain::strategy::backtest::{Assets, BatterySpec, Column, Inputs, Period, Timeline, replay};
use vpp_domain::strategy::rules::RuleSet;
use vpp_domain::synthetic::{day_ahead_prices, forecast_of};
use vpp_domain::vpp::MarketType;
use vpp_forecast::{Frame, train};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A year of 2025 (Berlin days) replayed with a percentile rule strategy
/// whose battery never binds (100 MWh, 1 MW, lossless, no wear), so the
/// same rules written for vectorbt must give the same cash.
pub fn strategy(runs: usize, export: Option<&Path>) -> anyhow::Result<()> {
    let period =
        Period { from: date(2025, 1, 6), to: date(2026, 1, 4), rules: TradingRules::defaults(MarketType::Spot) };
    let timeline = Timeline::new(&period)?;
    let n = timeline.len();
    let prices = day_ahead_prices(n.div_ceil(96), 42);
    let forecasts = forecast_of(&prices, 10.0, 42);
    let belief = |k: usize, known: i64, source, value| Belief {
        event_start_us: timeline.start_us[k],
        belief_time_us: timeline.decision_us[k] + known,
        source,
        value,
    };
    let price_beliefs: Vec<Belief> = (0..n).map(|k| belief(k, 2_700_000_000, SourceKind::Price, prices[k])).collect();
    let forecast_beliefs: Vec<Belief> =
        (0..n).map(|k| belief(k, -10_800_000_000, SourceKind::Forecast, forecasts[k])).collect();
    let inputs = Inputs {
        price: Column::from_beliefs(&price_beliefs, SourceKind::Price, 900),
        price_forecast: Column::from_beliefs(&forecast_beliefs, SourceKind::Forecast, 900),
        ..Inputs::default()
    };
    let rules = RuleSet::parse(
        &serde_json::json!([
            {"name": "cheap", "conditions": [{"field": "price_percentile", "operator": "<=", "value": 20}],
             "actions": [{"type": "charge"}]},
            {"name": "dear", "conditions": [{"field": "price_percentile", "operator": ">=", "value": 80}],
             "actions": [{"type": "discharge"}]}
        ]),
        "rules",
    )?;
    let assets = Assets {
        battery: Some(BatterySpec {
            capacity_kwh: 100_000.0,
            charge_kw: 1000.0,
            discharge_kw: 1000.0,
            charge_efficiency: 1.0,
            discharge_efficiency: 1.0,
            soc_start_pct: 50.0,
            soc_min_pct: 0.0,
            soc_max_pct: 100.0,
            cycle_cost_per_kwh: 0.0,
        }),
        flexible_load: None,
    };
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = replay(&rules, &assets, &inputs, &timeline, None, &mut |_| true)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        last = Some(r);
    }
    let r = last.ok_or_else(|| anyhow::anyhow!("no run"))?;
    let charged = r.intervals.iter().filter(|i| i.battery_kw < 0.0).count();
    let discharged = r.intervals.iter().filter(|i| i.battery_kw > 0.0).count();
    println!(
        "rule strategy, {n} quarter-hours: net {:.2} € ({charged} charging, {discharged} discharging intervals); \
         replay median {:.2} ms over {} runs",
        r.revenue.net,
        median(times),
        runs.max(1)
    );
    if let Some(dir) = export {
        std::fs::create_dir_all(dir)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("prices.csv"))?);
        writeln!(f, "start,day,price,forecast")?;
        for (d, day) in timeline.days.iter().enumerate() {
            for k in timeline.day_start[d]..timeline.day_start[d + 1] {
                writeln!(f, "{},{day},{},{}", timeline.start_us[k], prices[k], forecasts[k])?;
            }
        }
        println!("wrote {}", dir.join("prices.csv").display());
    }
    Ok(())
}

/// Trains and cross-validates the three methods on a year of synthetic
/// quarter-hour prices and prints accuracy and time.
pub fn forecast(export: Option<&Path>) -> anyhow::Result<()> {
    let y = day_ahead_prices(364, 7);
    let frame = Frame::new(1_735_516_800_000_000, 900, TimeZone::UTC, y);
    println!("method          MAE     RMSE    WAPE    skill  coverage  train+CV ms");
    for method in [Method::SeasonalNaive, Method::Mstl, Method::Linear] {
        let spec = ModelParams::default().check(method)?;
        let t = Instant::now();
        let trained = train(&spec, &frame)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let s = &trained.score;
        println!(
            "{:<15} {:>6.2}  {:>6.2}  {:>6.3}  {:>5.2}  {:>8.2}  {:>11.0}",
            method.as_str(),
            s.overall.mae,
            s.overall.rmse,
            s.overall.wape.unwrap_or(f64::NAN),
            s.skill.unwrap_or(f64::NAN),
            s.interval_coverage.unwrap_or(f64::NAN),
            ms
        );
    }
    if let Some(dir) = export {
        std::fs::create_dir_all(dir)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("series.csv"))?);
        writeln!(f, "ds,y")?;
        for (i, v) in frame.y.iter().enumerate() {
            writeln!(f, "{},{v}", frame.time_us(i))?;
        }
        println!("wrote {} (10 origins 96 steps apart, 192 steps ahead, as above)", dir.join("series.csv").display());
    }
    Ok(())
}
