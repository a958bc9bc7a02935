//! The demo's trading history and strategies: a year of synthetic
//! day-ahead prices with the forecasts issued the morning before, two rule
//! strategies backtested on that year, and one of them ACTIVE, bidding
//! the spot VPP's next open day.

use anyhow::Context;
use jiff::Timestamp;
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::json;
use vpp_app::ai_models::{BackfillRequest, TrainRequest, backfill_model, check_model, train_model};
use vpp_app::strategies::{BacktestRequest, BacktestSummary, check_strategy, prepare_backtest, run_backtest};
use vpp_domain::ai_model::{Method, ModelParams, ModelRequest, ModelType};
use vpp_domain::series::{Belief, SourceKind};
use vpp_domain::strategy::{StrategyRequest, StrategyStatus, StrategyType};
use vpp_domain::vpp::{MarketType, VppStatus};
use vpp_store::{Page, Store, VppFilter};

const Q_US: i64 = 900_000_000;
const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;
/// Days of price history before yesterday.
const HISTORY_DAYS: i64 = 365;

/// The synthetic price of the quarter-hour starting at `start_us` (UTC):
/// a night trough, a midday solar dip, an evening peak, lower at weekends
/// and higher in winter, plus noise.
pub fn price_at(start_us: i64, rng: &mut SmallRng) -> f64 {
    let h = (start_us.rem_euclid(DAY_US)) as f64 / HOUR_US as f64 + 1.0; // roughly Berlin time
    let day = start_us.div_euclid(DAY_US);
    let weekend = matches!((day + 3).rem_euclid(7), 5 | 6); // 1970-01-01 was a Thursday
    let season = 15.0 * (2.0 * std::f64::consts::PI * (day as f64 - 15.0) / 365.25).cos();
    let price = 85.0 + season
        - if weekend { 15.0 } else { 0.0 }
        - 30.0 * (-((h - 3.5) / 2.5).powi(2)).exp()
        - 45.0 * (-((h - 13.0) / 2.5).powi(2)).exp()
        + 70.0 * (-((h - 19.0) / 1.8).powi(2)).exp()
        + rng.random_range(-6.0..6.0);
    (price * 100.0).round() / 100.0
}

/// Adds a year of prices before `first_us` (published at each auction,
/// D−1 12:00 UTC) and, for that year and the days already seeded up to
/// `last_us`, the forecasts issued D−1 09:00 UTC (or now, for days whose
/// forecast time is still ahead): the price plus an error of ±10 €/MWh.
/// Days beyond the stored prices get forecasts of a price yet to come.
pub async fn seed_history(
    store: &Store,
    series_key: i64,
    (first_us, last_us): (i64, i64),
    rng: &mut SmallRng,
) -> anyhow::Result<()> {
    let now = Timestamp::now().as_microsecond();
    let start = first_us - HISTORY_DAYS * DAY_US;
    let known = store.beliefs(series_key, &[SourceKind::Price], first_us, last_us).await?;
    let mut beliefs = Vec::with_capacity(((last_us - start) / Q_US * 2) as usize);
    let mut t = start;
    while t < last_us {
        let day_start = t - t.rem_euclid(DAY_US);
        let price = if t < first_us {
            let p = price_at(t, rng);
            beliefs.push(Belief {
                event_start_us: t,
                belief_time_us: day_start - 12 * HOUR_US,
                source: SourceKind::Price,
                value: p,
            });
            p
        } else {
            known.iter().find(|b| b.event_start_us == t).map_or_else(|| price_at(t, rng), |b| b.value)
        };
        let error: f64 = rng.random_range(-10.0..10.0);
        beliefs.push(Belief {
            event_start_us: t,
            belief_time_us: (day_start - 15 * HOUR_US).min(now),
            source: SourceKind::Forecast,
            value: ((price + error) * 100.0).round() / 100.0,
        });
        t += Q_US;
    }
    beliefs.sort_by_key(|b| (b.event_start_us, b.belief_time_us));
    store.insert_beliefs(series_key, &beliefs).await?;
    Ok(())
}

/// The two demo strategies, backtested on the year; the first is made ACTIVE.
pub async fn seed(store: &Store, price_series: &str) -> anyhow::Result<()> {
    let vpps = store.list_vpps(&VppFilter::default(), Page { page: 1, size: 100 }).await?;
    let Some(vpp) = vpps.items.iter().find(|v| v.market_type == MarketType::Spot && v.status == VppStatus::Active)
    else {
        return Ok(());
    };
    let peak = StrategyRequest {
        name: "Evening peak seller".into(),
        vpp_id: vpp.id.clone(),
        strategy_type: StrategyType::RuleBased,
        description: Some(
            "Charges when the forecast is in the cheapest fifth of the day, offers the battery at the \
             forecast minus 10 €/MWh in the dearest fifth."
                .into(),
        ),
        connector_id: None,
        price_series_id: Some(price_series.to_string()),
        model_id: None,
        rules: json!([
            {"name": "charge cheap", "conditions": [{"field": "price_percentile", "operator": "<=", "value": 20},
                                                     {"field": "soc", "operator": "<", "value": 90}],
             "actions": [{"type": "charge"}]},
            {"name": "sell the evening peak", "conditions": [{"field": "price_percentile", "operator": ">=", "value": 80},
                                                              {"field": "forecast_price", "operator": ">", "value": 60}],
             "actions": [{"type": "bid", "parameters": {"side": "sell", "quantity_pct": 100, "price": "forecast_price - 10"}}]}
        ]),
    };
    let optimiser = StrategyRequest {
        name: "Daily optimiser".into(),
        description: Some("Re-plans the battery every day with the LP on the forecasts known at gate closure.".into()),
        rules: json!([{"name": "follow the plan", "actions": [{"type": "optimise"}]}]),
        ..peak.clone()
    };
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/Berlin")?).date();
    let (from, to) = (today.checked_sub(jiff::Span::new().days(HISTORY_DAYS))?, today.yesterday()?);
    let mut optimiser_id = None;
    for (i, request) in [peak, optimiser].into_iter().enumerate() {
        let strategy = store.create_strategy(&request, "demo-trader").await?;
        if i == 1 {
            optimiser_id = Some(strategy.id.clone());
        }
        let summary = backtest(store, &strategy, "backtest on the demo year", (from, to), None).await?;
        eprintln!(
            "Strategy {}: backtest {from}..{to}: net {:.0} € (benchmark {:.0} €, perfect foresight {:.0} €), \
             max drawdown {:.0} €, replay {:.0} ms.",
            request.name,
            summary.result.net_revenue,
            summary.benchmark.net_revenue,
            summary.perfect_foresight.as_ref().map_or(0.0, |p| p.net_revenue),
            summary.result.metrics["max_drawdown"].as_f64().unwrap_or_default(),
            summary.replay_ms,
        );
        if i == 0 {
            store.set_strategy_status(&strategy.id, StrategyStatus::Active, "demo-trader", "backtest reviewed").await?;
            eprintln!(
                "Strategy {} is ACTIVE and bids {} every day; see GET /api/v1/vpp/strategies/{}/decisions?trading_date=…",
                request.name, vpp.name, strategy.id
            );
        }
    }
    seed_models(store, price_series, vpp, optimiser_id, today).await
}

/// Days the model-driven strategy is backtested on (its forecasts are
/// made day by day as they would have been, which takes a while).
const MODEL_DAYS: i64 = 60;

/// Two price models trained on the year; the linear one forecasts the last
/// `MODEL_DAYS` days walk-forward and drives an AI_DRIVEN strategy,
/// backtested against the daily optimiser on the series' own forecasts.
async fn seed_models(
    store: &Store,
    price_series: &str,
    vpp: &vpp_domain::vpp::Vpp,
    optimiser_id: Option<String>,
    today: jiff::civil::Date,
) -> anyhow::Result<()> {
    let mut linear_id = None;
    for (name, method, params) in [
        ("DA price linear", Method::Linear, ModelParams { window_days: Some(120), ..Default::default() }),
        ("DA price MSTL", Method::Mstl, ModelParams { window_days: Some(120), ..Default::default() }),
    ] {
        let request = ModelRequest {
            name: name.into(),
            model_type: ModelType::Price,
            target_series_id: price_series.to_string(),
            method,
            params,
            time_zone: "Europe/Berlin".into(),
            description: Some("Day-ahead prices from their own history (demo).".into()),
        };
        check_model(store, &request).await.map_err(|e| crate::api_error(e, "model"))?;
        let model = store.create_model(&request, "demo-trader").await?;
        // Trained on data before the walk-forward window, as a trader would.
        let to = today.checked_sub(jiff::Span::new().days(MODEL_DAYS))?.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
        let version = train_model(store, &model.id, TrainRequest { to: Some(to), params: None }, "demo-trader")
            .await
            .map_err(|e| crate::api_error(e, "train"))?;
        let trained = version.trained.unwrap_or_default();
        eprintln!(
            "Model {name}: cross-validated MAE {:.1} €/MWh, skill {:.2} against weekly seasonal naive, p10–p90 coverage {:.0} %, trained in {:.0} ms.",
            trained["score"]["overall"]["mae"].as_f64().unwrap_or_default(),
            trained["score"]["skill"].as_f64().unwrap_or_default(),
            100.0 * trained["score"]["interval_coverage"].as_f64().unwrap_or_default(),
            version.fit_ms,
        );
        if method == Method::Linear {
            linear_id = Some(model.id);
        }
    }
    let Some(model_id) = linear_id else { return Ok(()) };
    let (from, to) = (today.checked_sub(jiff::Span::new().days(MODEL_DAYS))?, today.yesterday()?);
    let filled = backfill_model(store, &model_id, BackfillRequest { from, to, lead_hours: None, version: None })
        .await
        .map_err(|e| crate::api_error(e, "forecasts"))?;
    let request = StrategyRequest {
        name: "Model-driven optimiser".into(),
        vpp_id: vpp.id.clone(),
        strategy_type: StrategyType::AiDriven,
        description: Some("Plans the battery daily with the LP on the linear price model's forecast.".into()),
        connector_id: None,
        price_series_id: Some(price_series.to_string()),
        model_id: Some(model_id),
        rules: json!([]),
    };
    check_strategy(store, &request).await.map_err(|e| crate::api_error(e, "strategy"))?;
    let strategy = store.create_strategy(&request, "demo-trader").await?;
    let summary = backtest(store, &strategy, "backtest on model forecasts", (from, to), optimiser_id).await?;
    eprintln!(
        "Strategy {}: {} days of walk-forward forecasts in {:.1} s; backtest {from}..{to}: net {:.0} € against {:.0} € \
         for the daily optimiser on the market's own forecasts, perfect foresight {:.0} €.",
        request.name,
        filled.days,
        filled.elapsed_ms / 1000.0,
        summary.result.net_revenue,
        summary.benchmark.net_revenue,
        summary.perfect_foresight.as_ref().map_or(0.0, |p| p.net_revenue),
    );
    Ok(())
}

/// Moves a strategy to TESTING, backtests it over `[from, to]` (against
/// a benchmark strategy if given) and stores the task as done.
async fn backtest(
    store: &Store,
    strategy: &vpp_domain::strategy::Strategy,
    reason: &str,
    (from, to): (jiff::civil::Date, jiff::civil::Date),
    benchmark_strategy_id: Option<String>,
) -> anyhow::Result<BacktestSummary> {
    store.set_strategy_status(&strategy.id, StrategyStatus::Testing, "demo-trader", reason).await?;
    let req = BacktestRequest {
        from,
        to,
        version: None,
        compare_version: None,
        battery: None,
        flexible_load: None,
        benchmark_strategy_id,
    };
    let request_json = serde_json::to_value(&req)?;
    let prepared = prepare_backtest(store, &strategy.id, req).await.map_err(|e| crate::api_error(e, "backtest"))?;
    let task = store.create_backtest(&strategy.id, strategy.version, &request_json, "demo-trader").await?;
    let (summary, detail) =
        tokio::task::spawn_blocking(move || run_backtest(&prepared, &mut |_| true)).await?.context("demo backtest")?;
    let stored = (serde_json::to_value(&summary)?, serde_json::to_value(&detail)?);
    store.finish_backtest(&task, "DONE", Some(&stored.0), Some(&stored.1), None).await?;
    Ok(summary)
}
