//! A year of day-ahead trading re-planned daily by the LP (365 LPs of 96
//! steps, one battery) on the forecasts known at gate closure. Issue
//! target: under 5 s.

use divan::Bencher;
use jiff::civil::date;
use vpp_app::strategies::LpPlanner;
use vpp_domain::market::rules::TradingRules;
use vpp_domain::series::{Belief, SourceKind};
use vpp_domain::strategy::backtest::{Assets, BatterySpec, Column, Inputs, Period, Timeline, replay};
use vpp_domain::strategy::rules::RuleSet;
use vpp_domain::vpp::MarketType;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 5)]
fn optimiser_replanned_daily_for_a_year(bencher: Bencher) {
    let period =
        Period { from: date(2025, 1, 1), to: date(2025, 12, 31), rules: TradingRules::defaults(MarketType::Spot) };
    let timeline = Timeline::new(&period).expect("timeline");
    // Evening peak, midday dip and a deterministic wobble; the forecast is
    // the price shifted by a different wobble, known three hours before
    // gate closure, the price 45 minutes after.
    let shape = |k: usize| {
        let h = (k % 96) as f64 / 4.0;
        80.0 - 40.0 * (-((h - 13.0) / 3.0).powi(2)).exp() + 60.0 * (-((h - 19.0) / 2.0).powi(2)).exp()
    };
    let wobble = |k: usize, f: f64| 10.0 * ((k as f64) * f).sin();
    let belief = |k: usize, t: i64, known: i64, source, value| Belief {
        event_start_us: t,
        belief_time_us: timeline.decision_us[k] + known,
        source,
        value,
    };
    let prices: Vec<Belief> = timeline
        .start_us
        .iter()
        .enumerate()
        .map(|(k, &t)| belief(k, t, 2_700_000_000, SourceKind::Price, shape(k) + wobble(k, 0.37)))
        .collect();
    let forecasts: Vec<Belief> = timeline
        .start_us
        .iter()
        .enumerate()
        .map(|(k, &t)| belief(k, t, -10_800_000_000, SourceKind::Forecast, shape(k) + wobble(k, 0.11)))
        .collect();
    let inputs = Inputs {
        price: Column::from_beliefs(&prices, SourceKind::Price, 900),
        price_forecast: Column::from_beliefs(&forecasts, SourceKind::Forecast, 900),
        ..Inputs::default()
    };
    let rules = RuleSet::parse(&serde_json::json!([{"name": "plan", "actions": [{"type": "optimise"}]}]), "rules")
        .expect("rules");
    let assets = Assets {
        battery: Some(BatterySpec {
            capacity_kwh: 2000.0,
            charge_kw: 1000.0,
            discharge_kw: 1000.0,
            charge_efficiency: 0.95,
            discharge_efficiency: 0.95,
            soc_start_pct: 50.0,
            soc_min_pct: 10.0,
            soc_max_pct: 90.0,
            cycle_cost_per_kwh: 0.02,
        }),
        flexible_load: None,
    };
    bencher.bench_local(|| {
        let r = replay(&rules, &assets, &inputs, &timeline, Some(&LpPlanner), &mut |_| true).expect("replay");
        assert_eq!(r.intervals.len(), 35_040);
        r
    });
}
