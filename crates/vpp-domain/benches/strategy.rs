//! Backtest of one year at 15-minute resolution (35,040 steps): a rule
//! strategy with one battery against historical day-ahead prices, with
//! forecasts issued the morning before. Issue target: under 100 ms.

use divan::Bencher;
use jiff::civil::date;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vpp_domain::market::rules::TradingRules;
use vpp_domain::series::{Belief, SourceKind};
use vpp_domain::strategy::backtest::{Assets, BatterySpec, Column, Inputs, Period, Timeline, replay};
use vpp_domain::strategy::rules::RuleSet;
use vpp_domain::vpp::MarketType;

fn main() {
    divan::main();
}

fn year() -> (Period, Inputs) {
    let period =
        Period { from: date(2025, 1, 1), to: date(2025, 12, 31), rules: TradingRules::defaults(MarketType::Spot) };
    let timeline = Timeline::new(&period).expect("timeline");
    let mut rng = SmallRng::seed_from_u64(7);
    let (mut prices, mut forecasts) = (Vec::new(), Vec::new());
    for (k, &t) in timeline.start_us.iter().enumerate() {
        let h = (k % 96) as f64 / 4.0;
        let p = 80.0 - 40.0 * (-((h - 13.0) / 3.0).powi(2)).exp()
            + 60.0 * (-((h - 19.0) / 2.0).powi(2)).exp()
            + rng.random_range(-15.0..15.0);
        let decided = timeline.decision_us[k];
        prices.push(Belief {
            event_start_us: t,
            belief_time_us: decided + 2_700_000_000,
            source: SourceKind::Price,
            value: p,
        });
        forecasts.push(Belief {
            event_start_us: t,
            belief_time_us: decided - 3 * 3_600_000_000,
            source: SourceKind::Forecast,
            value: p + rng.random_range(-10.0..10.0),
        });
    }
    let inputs = Inputs {
        price: Column::from_beliefs(&prices, SourceKind::Price, 900),
        price_forecast: Column::from_beliefs(&forecasts, SourceKind::Forecast, 900),
        ..Inputs::default()
    };
    (period, inputs)
}

#[divan::bench(sample_count = 20)]
fn rule_strategy_one_year(bencher: Bencher) {
    let (period, inputs) = year();
    let rules = RuleSet::parse(
        &serde_json::json!([
            {"name": "cheap", "conditions": [{"field": "price_percentile", "operator": "<=", "value": 20},
                                              {"field": "soc", "operator": "<", "value": 90}],
             "actions": [{"type": "charge"}]},
            {"name": "dear", "conditions": [{"field": "price_percentile", "operator": ">=", "value": 80}],
             "actions": [{"type": "bid", "parameters": {"side": "sell", "quantity_pct": 100, "price": "forecast_price - 5"}}]}
        ]),
        "rules",
    )
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
        // The timeline (time zones, gate closures) is part of every run.
        let timeline = Timeline::new(&period).expect("timeline");
        let r = replay(&rules, &assets, &inputs, &timeline, None, &mut |_| true).expect("replay");
        assert_eq!(r.intervals.len(), 35_040);
        r
    });
}
