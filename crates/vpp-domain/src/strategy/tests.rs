//! Backtests checked by hand, and the look-ahead trap.

use jiff::civil::{Date, date};
use rust_decimal::Decimal;
use serde_json::json;

use super::backtest::{Assets, BatterySpec, Column, FlexibleLoadSpec, Inputs, Period, Timeline, replay};
use super::rules::RuleSet;
use super::*;
use crate::market::rules::{GateClosure, TradingRules};
use crate::series::{Belief, SourceKind};
use crate::vpp::MarketType;

const HOUR_US: i64 = 3_600_000_000;

/// An hourly day-ahead market in UTC, closing D−1 12:00.
fn hourly_market(gate: GateClosure) -> TradingRules {
    TradingRules {
        product_minutes: 60,
        gate_closure: gate,
        time_zone: "UTC".into(),
        tick_size: Decimal::new(1, 2),
        ..TradingRules::defaults(MarketType::Spot)
    }
}

fn day_start_us(d: Date) -> i64 {
    d.to_zoned(jiff::tz::TimeZone::UTC).expect("UTC").timestamp().as_microsecond()
}

/// Prices 50 €/MWh but 20 at 02:00 and 100 at 18:00, published D−1 12:45;
/// forecasts equal to them issued D−1 09:00.
fn inputs(day: Date) -> Inputs {
    let start = day_start_us(day);
    let price = |h: i64| match h {
        2 => 20.0,
        18 => 100.0,
        _ => 50.0,
    };
    let published = start - 11 * HOUR_US - HOUR_US / 4;
    let issued = start - 15 * HOUR_US;
    let beliefs = |source, at| {
        (0..24)
            .map(|h| Belief { event_start_us: start + h * HOUR_US, belief_time_us: at, source, value: price(h) })
            .collect::<Vec<_>>()
    };
    Inputs {
        price: Column::from_beliefs(&beliefs(SourceKind::Price, published), SourceKind::Price, 3600),
        price_forecast: Column::from_beliefs(&beliefs(SourceKind::Forecast, issued), SourceKind::Forecast, 3600),
        ..Inputs::default()
    }
}

fn battery() -> BatterySpec {
    BatterySpec {
        capacity_kwh: 100.0,
        charge_kw: 50.0,
        discharge_kw: 50.0,
        charge_efficiency: 1.0,
        discharge_efficiency: 1.0,
        soc_start_pct: 50.0,
        soc_min_pct: 0.0,
        soc_max_pct: 100.0,
        cycle_cost_per_kwh: 0.01,
    }
}

fn rules(v: serde_json::Value) -> RuleSet {
    RuleSet::parse(&v, "rules").expect("valid rules")
}

fn trader_rules() -> RuleSet {
    rules(json!([
        {"name": "cheap", "conditions": [{"field": "forecast_price", "operator": "<", "value": 30}],
         "actions": [{"type": "charge", "parameters": {"target_soc_pct": 100}}]},
        {"name": "dear", "conditions": [{"field": "forecast_price", "operator": ">", "value": 90}],
         "actions": [{"type": "bid", "parameters": {"side": "sell", "quantity_kw": 50, "price": "forecast_price - 10"}}]}
    ]))
}

fn timeline(day: Date, gate: GateClosure) -> Timeline {
    Timeline::new(&Period { from: day, to: day, rules: hourly_market(gate) }).expect("timeline")
}

fn day_ahead() -> GateClosure {
    GateClosure::DayBefore { days_before: 1, local_time: "12:00".into() }
}

#[test]
fn a_day_checked_by_hand() {
    let day = date(2026, 1, 5);
    let assets = Assets { battery: Some(battery()), flexible_load: None };
    let r = replay(&trader_rules(), &assets, &inputs(day), &timeline(day, day_ahead()), None, &mut |_| true)
        .expect("replay");
    // 02:00 charge 50 kW for 1 h at 20 €/MWh: −1.00 €; 18:00 sell 50 kWh at
    // 100 €/MWh (limit 90, cleared): +5.00 €; wear 100 kWh × 0.01 €: −1.00 €.
    assert!((r.revenue.market - 4.0).abs() < 1e-9, "{:?}", r.revenue);
    assert!((r.revenue.degradation + 1.0).abs() < 1e-9);
    assert!((r.revenue.net - 3.0).abs() < 1e-9);
    assert!((r.metrics.total_pnl - 3.0).abs() < 1e-9);
    assert_eq!((r.bids.placed, r.bids.cleared, r.bids.successful), (1, 1, 1));
    assert_eq!(r.throughput_kwh, 100.0);
    assert_eq!(r.intervals[2].soc_pct, Some(100.0));
    assert_eq!(r.intervals[18].soc_pct, Some(50.0));
    assert_eq!(r.rule_counts, [("cheap".into(), 1), ("dear".into(), 1), ("no rule fired".into(), 22)]);
    let why = &r.decisions[18];
    assert_eq!(why.action, "bid sell 50.0 kW @ 90.00");
    assert_eq!(why.explanation.seen, [("forecast_price".to_string(), Some(100.0))]);
    assert_eq!(why.decided_at.to_string(), "2026-01-04T12:00:00Z");
}

#[test]
fn a_bid_above_the_clearing_price_does_not_clear() {
    let day = date(2026, 1, 5);
    let assets = Assets { battery: Some(battery()), flexible_load: None };
    let greedy = rules(json!([
        {"conditions": [{"field": "hour", "operator": "==", "value": 18}],
         "actions": [{"type": "bid", "parameters": {"side": "sell", "quantity_kw": 50, "price": 100.01}}]}
    ]));
    let r = replay(&greedy, &assets, &inputs(day), &timeline(day, day_ahead()), None, &mut |_| true).expect("replay");
    assert_eq!((r.bids.placed, r.bids.cleared), (1, 0));
    assert_eq!(r.revenue.net, 0.0);
}

/// The trap: after gate closure the forecast for 10:00 is revised to 95
/// €/MWh, and the price at 10:00 is published then too. A strategy that
/// could see either would sell at 10:00; the replay must not.
#[test]
fn the_look_ahead_trap_is_not_taken() {
    let day = date(2026, 1, 5);
    let start = day_start_us(day);
    let mut data = inputs(day);
    let ten = start + 10 * HOUR_US;
    let revision = |source| Belief { event_start_us: ten, belief_time_us: start + 9 * HOUR_US, source, value: 95.0 };
    let mut forecasts: Vec<Belief> = (0..24)
        .map(|h| Belief {
            event_start_us: start + h * HOUR_US,
            belief_time_us: start - 15 * HOUR_US,
            source: SourceKind::Forecast,
            value: data.price_forecast.as_of(start + h * HOUR_US, i64::MAX).expect("forecast"),
        })
        .collect();
    forecasts.insert(11, revision(SourceKind::Forecast));
    data.price_forecast = Column::from_beliefs(&forecasts, SourceKind::Forecast, 3600);
    let peeking = rules(json!([
        {"name": "sell dear", "conditions": [{"or": [{"field": "forecast_price", "operator": ">", "value": 90},
                                                        {"field": "actual_price", "operator": ">", "value": 90}]}],
         "actions": [{"type": "discharge"}]}
    ]));
    let assets = Assets { battery: Some(battery()), flexible_load: None };
    let r = replay(&peeking, &assets, &data, &timeline(day, day_ahead()), None, &mut |_| true).expect("replay");
    assert_eq!(r.intervals[10].battery_kw, 0.0, "acted on a forecast issued after gate closure");
    let seen = &r.decisions[10].explanation.seen;
    assert_eq!(seen[0], ("forecast_price".to_string(), Some(50.0)));
    // The price is published at D−1 12:45, after the 12:00 gate closure.
    assert_eq!(seen[1], ("actual_price".to_string(), None));
    assert_eq!(r.intervals[18].battery_kw, 50.0, "the 18:00 forecast was known in time");
    // With intraday timing (15 minutes before delivery) both are known and used.
    let intraday = timeline(day, GateClosure::BeforeDelivery { minutes: 15 });
    let r = replay(&peeking, &assets, &data, &intraday, None, &mut |_| true).expect("replay");
    assert_eq!(r.intervals[10].battery_kw, 50.0);
    assert_eq!(r.decisions[10].explanation.seen[0], ("forecast_price".to_string(), Some(95.0)));
}

#[test]
fn deferred_load_is_made_up_within_the_day() {
    let day = date(2026, 1, 5);
    let assets =
        Assets { battery: None, flexible_load: Some(FlexibleLoadSpec { daily_energy_kwh: 240.0, max_kw: 20.0 }) };
    let defer = rules(json!([
        {"conditions": [{"field": "hour", "operator": ">=", "value": 16}],
         "actions": [{"type": "curtail", "parameters": {"target": "load", "share_pct": 100}}]}
    ]));
    let r = replay(&defer, &assets, &inputs(day), &timeline(day, day_ahead()), None, &mut |_| true).expect("replay");
    let load: Vec<f64> = r.intervals.iter().map(|i| i.load_kw).collect();
    assert!((load.iter().sum::<f64>() - 240.0).abs() < 1e-9, "{load:?}");
    assert!(load.iter().all(|kw| *kw <= 20.0 + 1e-9));
    // 10 kW base; from 16:00 deferred, forced back to 20 kW once only the
    // steps needed to make it up are left (eight hours deferred need eight
    // hours at 10 kW of headroom): 16:00–19:00 off, 20:00–23:00 at 20 kW.
    assert_eq!(&load[16..20], [0.0, 0.0, 0.0, 0.0]);
    assert_eq!(&load[20..24], [20.0, 20.0, 20.0, 20.0]);
}

#[test]
fn strategy_requests_are_checked_by_type() {
    let base = StrategyRequest {
        name: "Evening peak".into(),
        vpp_id: "v1".into(),
        strategy_type: StrategyType::RuleBased,
        description: None,
        connector_id: None,
        price_series_id: None,
        model_id: None,
        rules: json!([]),
    };
    let err = base.check().expect_err("no rules");
    assert_eq!(err.0[0].field, "rules");
    let ai = StrategyRequest { strategy_type: StrategyType::AiDriven, model_id: Some("m1".into()), ..base.clone() };
    assert!(ai.check().expect("AI strategy").uses_optimiser());
    let hybrid = StrategyRequest { strategy_type: StrategyType::Hybrid, ..base };
    let fields: Vec<String> = hybrid.check().expect_err("hybrid").0.into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["model_id", "rules"]);
    assert!(StrategyStatus::Draft.check_move(StrategyStatus::Active).is_err());
    assert!(StrategyStatus::Testing.check_move(StrategyStatus::Active).is_ok());
}
