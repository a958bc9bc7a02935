//! Strategies at work: checking a definition against the stored world,
//! backtests as cancellable tasks, and live bids of ACTIVE strategies.
//!
//! The pure parts (rules, replay, metrics) are in
//! [`vpp_domain::strategy`]; this module loads their inputs from the store,
//! supplies the optimiser (vpp-optim's LP) and records the results.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ai_models::{forecast_now, model_forecast_series};
use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vpp_domain::ai_model::ModelType;
use vpp_domain::market::auction::Side;
use vpp_domain::market::connector::Connector;
use vpp_domain::market::rules::BidStepRequest;
use vpp_domain::resource::ResourceStatus;
use vpp_domain::series::{Quantity, SourceKind};
use vpp_domain::strategy::backtest::{
    Assets, BatterySpec, Column, Decision, FlexibleLoadSpec, Inputs, Intended, Interval, Period, Planner, Replay,
    ReplayError, Timeline, decide_day, perfect_foresight, replay,
};
use vpp_domain::strategy::metrics::{DailyPnl, Metrics};
use vpp_domain::strategy::rules::{Field, RuleSet};
use vpp_domain::strategy::{Strategy, StrategyRequest, StrategyStatus, StrategyType, benchmark_rules};
use vpp_domain::template::ResourceType;
use vpp_domain::vpp::Vpp;
use vpp_store::{BidRecord, Store, StoreError};

use crate::error::dangling;
use crate::error::{AppError, AppResult};
use crate::markets::{SubmitBid, connector_for, day_to_bid, place_bid, slot_room};
use crate::series::series_by_name;

/// The optimiser behind the `optimise` action and the perfect-foresight
/// bound: one battery as an LP, solved by vpp-optim (microlp).
pub struct LpPlanner;

impl Planner for LpPlanner {
    fn plan(
        &self,
        b: &BatterySpec,
        soc_start_pct: f64,
        cycle_cost_per_kwh: f64,
        prices: &[f64],
        dt_h: f64,
    ) -> Result<Vec<f64>, String> {
        use vpp_optim::{Asset, Battery, Horizon, Member, Objective, Problem, Site, SolverOptions, solve};
        let problem = Problem {
            horizon: Horizon { steps: prices.len(), step_s: (dt_h * 3600.0).round() as u32 },
            site: Site {
                import_price: prices.to_vec(),
                export_price: None,
                base_load_kw: None,
                import_limit_kw: None,
                export_limit_kw: None,
                peak_charge_per_kw: None,
            },
            members: vec![Member {
                id: "battery".into(),
                asset: Asset::Battery(Battery {
                    capacity_kwh: b.capacity_kwh,
                    charge_kw: b.charge_kw,
                    discharge_kw: b.discharge_kw,
                    charge_efficiency: b.charge_efficiency,
                    discharge_efficiency: b.discharge_efficiency,
                    soc_start_pct: soc_start_pct.clamp(b.soc_min_pct, b.soc_max_pct),
                    soc_min_pct: b.soc_min_pct,
                    soc_max_pct: b.soc_max_pct,
                    soc_target_pct: None,
                    cycle_cost_per_kwh,
                }),
            }],
            objective: Objective::Cost,
        };
        let schedule = solve(&problem, &SolverOptions::default()).map_err(|e| e.to_string())?;
        Ok(schedule.members.into_iter().next().map(|m| m.power_kw).unwrap_or_default())
    }
}

/// Checks a definition against what is stored: the VPP, connector, price
/// series, model and every `series:<name>` the rules name. Returns the rules.
pub async fn check_strategy(store: &Store, req: &StrategyRequest) -> AppResult<RuleSet> {
    let rules = req.check()?;
    let vpp = store.get_vpp(&req.vpp_id).await.map_err(dangling("vpp_id", "VPP", &req.vpp_id))?;
    connector_for(store, req.connector_id.as_deref(), vpp.market_type).await?;
    if let Some(id) = &req.price_series_id {
        let (_, s) = store.get_series(id).await.map_err(dangling("price_series_id", "series", id))?;
        if s.quantity != Quantity::Price {
            return Err(AppError::invalid(
                "price_series_id",
                format!("series `{id}` holds {}, not prices", s.quantity.as_str()),
            ));
        }
    }
    if let Some(id) = &req.model_id {
        let model = store.get_model(id).await.map_err(dangling("model_id", "model", id))?;
        if model.version == 0 {
            return Err(AppError::invalid(
                "model_id",
                format!("model `{}` has no trained version; train it first", model.definition.name),
            ));
        }
        if req.strategy_type == StrategyType::AiDriven && model.definition.model_type != ModelType::Price {
            return Err(AppError::invalid(
                "model_id",
                format!(
                    "an AI_DRIVEN strategy plans on a price forecast; model `{}` forecasts {}",
                    model.definition.name,
                    model.definition.model_type.as_str()
                ),
            ));
        }
    }
    for field in rules.fields() {
        if let Field::Series(name) = field {
            series_by_name(store, &name).await?.ok_or_else(|| {
                AppError::invalid("rules", format!("series:{name} names no stored series (by id or name)"))
            })?;
        }
    }
    Ok(rules)
}

/// The VPP's batteries as one equivalent battery: capacities and power
/// limits summed by allocation ratio, the SOC window and efficiencies of
/// the members weighted by capacity, SOC at start 50 % (backtests) or
/// the members' last reported SOC (live, where only ONLINE batteries count).
pub async fn vpp_battery(store: &Store, vpp: &Vpp, live_soc: bool) -> AppResult<Option<BatterySpec>> {
    let (mut cap, mut charge, mut discharge, mut eff, mut lo, mut hi, mut wear, mut soc) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for m in &vpp.members {
        let r = store.get_resource(&m.resource_id).await?;
        // Live, only what can trade now (as the market's room counts it).
        if r.resource_type != ResourceType::Battery || (live_soc && r.status != ResourceStatus::Online) {
            continue;
        }
        let ratio = m.allocation_ratio.get();
        let param = |name: &str| r.parameters.get(name).and_then(Value::as_f64);
        let Some(energy) = param("usable_energy_kwh") else { continue };
        let c = energy * ratio;
        cap += c;
        charge += param("max_charge_kw").unwrap_or(r.capacity_kw) * ratio;
        discharge += param("max_discharge_kw").unwrap_or(r.capacity_kw) * ratio;
        eff += param("round_trip_efficiency").unwrap_or(0.9).sqrt() * c;
        lo += param("soc_min_pct").unwrap_or(0.0) * c;
        hi += param("soc_max_pct").unwrap_or(100.0) * c;
        wear += param("cycle_cost_per_kwh").unwrap_or(0.0) * c;
        let reported = if live_soc { store.latest_telemetry(&r.id).await?.and_then(|(t, _)| t.soc_pct) } else { None };
        soc += reported.unwrap_or(50.0) * c;
    }
    if cap <= 0.0 {
        return Ok(None);
    }
    let (soc_min_pct, soc_max_pct) = (lo / cap, hi / cap);
    Ok(Some(BatterySpec {
        capacity_kwh: cap,
        charge_kw: charge,
        discharge_kw: discharge,
        charge_efficiency: eff / cap,
        discharge_efficiency: eff / cap,
        soc_start_pct: (soc / cap).clamp(soc_min_pct, soc_max_pct),
        soc_min_pct,
        soc_max_pct,
        cycle_cost_per_kwh: wear / cap,
    }))
}

/// The price series a strategy clears against and reads forecasts from.
async fn price_series_of(def: &StrategyRequest, connector: &Connector) -> AppResult<String> {
    def.price_series_id.clone().or_else(|| connector.reference_series_id.clone()).ok_or_else(|| {
        AppError::invalid(
            "price_series_id",
            format!("connector `{}` has no reference price series; name one in price_series_id", connector.name),
        )
    })
}

/// Loads every belief the rules may need for delivery intervals in
/// `[start_us, end_us)`: prices and price forecasts, and named series.
async fn load_inputs(
    store: &Store,
    def: &StrategyRequest,
    rules: &RuleSet,
    connector: &Connector,
    (start_us, end_us): (i64, i64),
) -> AppResult<Inputs> {
    let price_id = price_series_of(def, connector).await?;
    let (key, series) = store.get_series(&price_id).await.map_err(dangling("price_series_id", "series", &price_id))?;
    let beliefs = store.beliefs(key, &[SourceKind::Price, SourceKind::Forecast], start_us, end_us).await?;
    let mut inputs = Inputs {
        price: Column::from_beliefs(&beliefs, SourceKind::Price, series.resolution_s),
        price_forecast: Column::from_beliefs(&beliefs, SourceKind::Forecast, series.resolution_s),
        ..Inputs::default()
    };
    // A price model's stored forecasts, as known at each decision, replace
    // the price series' own forecasts.
    if let Some(model_id) = &def.model_id {
        let model = store.get_model(model_id).await.map_err(dangling("model_id", "model", model_id))?;
        if model.definition.model_type == ModelType::Price {
            let found = model_forecast_series(store, model_id).await?;
            let stored = match found {
                Some((k, s)) => {
                    let b = store.beliefs(k, &[SourceKind::Forecast], start_us, end_us).await?;
                    (!b.is_empty()).then(|| Column::from_beliefs(&b, SourceKind::Forecast, s.resolution_s))
                }
                None => None,
            };
            inputs.price_forecast = stored.ok_or_else(|| {
                AppError::invalid(
                    "model_id",
                    format!(
                        "model `{}` has stored no forecasts for the period; POST /api/v1/vpp/ai-models/{model_id}/forecasts first",
                        model.definition.name
                    ),
                )
            })?;
        }
    }
    for field in rules.fields() {
        if let Field::Series(name) = field {
            let (key, s) = series_by_name(store, &name)
                .await?
                .ok_or_else(|| AppError::invalid("rules", format!("series:{name} names no stored series")))?;
            let all = store.beliefs(key, &[], start_us, end_us).await?;
            // A series' values come from its main source: forecasts, else prices, else meter or telemetry.
            let source = [SourceKind::Forecast, SourceKind::Price, SourceKind::MeterFinal, SourceKind::LiveMeasurement]
                .into_iter()
                .find(|k| all.iter().any(|b| b.source == *k))
                .unwrap_or(SourceKind::Forecast);
            inputs.series.push((name, Column::from_beliefs(&all, source, s.resolution_s)));
        }
    }
    Ok(inputs)
}

/// A backtest as a client asks for it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// First delivery day (market time zone).
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Last delivery day, included.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Version to run (the newest if absent).
    #[serde(default)]
    pub version: Option<i64>,
    /// A second version run side by side on the same data (A/B).
    #[serde(default)]
    pub compare_version: Option<i64>,
    /// Battery to simulate (the VPP's batteries as one if absent).
    #[serde(default)]
    pub battery: Option<BatterySpec>,
    /// Flexible load to simulate, if any.
    #[serde(default)]
    pub flexible_load: Option<FlexibleLoadSpec>,
    /// Strategy to compare with (the built-in percentile benchmark if absent).
    #[serde(default)]
    pub benchmark_strategy_id: Option<String>,
}

/// The figures of one replay.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunFigures {
    /// What ran: `v3`, `benchmark: …`, `perfect foresight`.
    pub label: String,
    /// Net profit, €.
    pub net_revenue: f64,
    /// Money by source, €.
    #[schema(value_type = Object)]
    pub revenue: Value,
    /// Bids placed, cleared and successful.
    #[schema(value_type = Object)]
    pub bids: Value,
    /// Cleared and profitable share of bids placed, 0..1 (null without bids).
    pub success_rate: Option<f64>,
    /// Return and risk.
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// Battery wear, € (positive: a cost).
    pub degradation_cost: f64,
    /// Battery throughput, kWh.
    pub throughput_kwh: f64,
    /// Full equivalent cycles.
    pub equivalent_cycles: f64,
    /// Intervals without a market price.
    pub intervals_without_price: u32,
    /// Rule firings.
    pub rule_counts: Vec<(String, u32)>,
}

impl RunFigures {
    fn of(label: String, r: &Replay) -> Self {
        Self {
            label,
            net_revenue: r.revenue.net,
            revenue: json(&r.revenue),
            bids: json(&r.bids),
            success_rate: (r.bids.placed > 0).then(|| f64::from(r.bids.successful) / f64::from(r.bids.placed)),
            metrics: json(&r.metrics),
            degradation_cost: -r.revenue.degradation,
            throughput_kwh: r.throughput_kwh,
            equivalent_cycles: r.equivalent_cycles,
            intervals_without_price: r.intervals_without_price,
            rule_counts: r.rule_counts.clone(),
        }
    }
}

/// A figure struct as JSON (plain numbers and strings: serialising cannot fail).
fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// What a finished backtest reports.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BacktestSummary {
    /// Strategy.
    pub strategy_id: String,
    /// Version that ran.
    pub version: i64,
    /// Period.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Period end, included.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Intervals replayed.
    pub intervals: usize,
    /// The battery simulated.
    pub battery: Option<BatterySpec>,
    /// The strategy's figures.
    pub result: RunFigures,
    /// The benchmark's.
    pub benchmark: RunFigures,
    /// Strategy minus benchmark, €.
    pub versus_benchmark: f64,
    /// The upper bound (absent without a battery or flexible load).
    pub perfect_foresight: Option<RunFigures>,
    /// Share of the perfect-foresight profit captured.
    pub capture_ratio: Option<f64>,
    /// The A/B version's figures, when asked for.
    pub compared: Option<RunFigures>,
    /// Replay time, milliseconds (the strategy's run only).
    pub replay_ms: f64,
}

/// Per day and per interval, stored beside the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BacktestDetail {
    /// Strategy P&L per day.
    pub daily: Vec<DailyPnlRow>,
    /// Benchmark P&L per day.
    pub benchmark_daily: Vec<DailyPnlRow>,
    /// Perfect-foresight P&L per day.
    pub perfect_daily: Vec<DailyPnlRow>,
    /// Per interval: start (µs), price, battery kW, SOC %, P&L €.
    pub intervals: Vec<IntervalRow>,
    /// Per interval: the decision.
    pub decisions: Vec<DecisionRow>,
}

/// An interval as stored, kept as a JSON array because a year has
/// 35,040 of them: start (µs), price, battery kW, SOC %, P&L €.
pub type IntervalRow = (i64, Option<f64>, f64, Option<f64>, f64);

/// A decision as stored: action, index of the rule that fired, and the
/// values it saw.
pub type DecisionRow = (String, Option<usize>, Vec<(String, Option<f64>)>);

/// A day of P&L as stored.
pub type DailyPnlRow = (Date, f64, f64, f64);

fn rows(daily: &[DailyPnl]) -> Vec<DailyPnlRow> {
    daily.iter().map(|d| (d.date, d.pnl, d.cumulative, d.drawdown)).collect()
}

/// Cancel flags of running backtests.
#[derive(Debug, Default)]
pub struct Tasks {
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Tasks {
    fn register(&self, id: &str) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), flag.clone());
        flag
    }

    fn done(&self, id: &str) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Asks a running task to stop; false when it is not running here.
    pub fn cancel(&self, id: &str) -> bool {
        match self.running.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// Everything a backtest needs, prepared before its task starts so that
/// bad requests are refused at once.
pub struct Prepared {
    strategy: Strategy,
    rules: RuleSet,
    /// The A/B version with its own data (it may name another model or series).
    compared: Option<(i64, RuleSet, Inputs)>,
    /// The benchmark; a benchmark strategy sees its own data.
    benchmark: (String, RuleSet, Option<Inputs>),
    assets: Assets,
    inputs: Inputs,
    timeline: Timeline,
    request: BacktestRequest,
}

/// Checks a backtest request and loads its data.
pub async fn prepare_backtest(store: &Store, strategy_id: &str, req: BacktestRequest) -> AppResult<Prepared> {
    let strategy = store.get_strategy(strategy_id, req.version).await.map_err(|e| match (e, req.version) {
        (StoreError::NotFound { entity: "strategy version", .. }, Some(v)) => {
            AppError::invalid("version", format!("strategy `{strategy_id}` has no version {v}"))
        }
        (e, _) => e.into(),
    })?;
    let rules = strategy.definition.check()?;
    let compared = match req.compare_version {
        Some(v) => {
            let other = store
                .get_strategy(strategy_id, Some(v))
                .await
                .map_err(|_| AppError::invalid("compare_version", format!("strategy has no version {v}")))?;
            Some((v, other.definition))
        }
        None => None,
    };
    let benchmark_strategy = match &req.benchmark_strategy_id {
        Some(id) => {
            Some(store.get_strategy(id, None).await.map_err(dangling("benchmark_strategy_id", "strategy", id))?)
        }
        None => None,
    };
    let vpp = store.get_vpp(&strategy.definition.vpp_id).await?;
    let connector = connector_for(store, strategy.definition.connector_id.as_deref(), vpp.market_type).await?;
    let battery = match &req.battery {
        Some(b) => {
            b.check("battery")?;
            Some(b.clone())
        }
        None => vpp_battery(store, &vpp, false).await?,
    };
    let assets = Assets { battery, flexible_load: req.flexible_load.clone() };
    let period = Period { from: req.from, to: req.to, rules: connector.rules.clone() };
    let timeline = Timeline::new(&period)?;
    let (Some(&first), Some(&last)) = (timeline.start_us.first(), timeline.start_us.last()) else {
        return Err(AppError::invalid("from", "the period holds no delivery interval"));
    };
    let step_us = (timeline.dt_h * 3_600_000_000.0) as i64;
    let window = (first, last + step_us);
    let inputs = load_inputs(store, &strategy.definition, &rules, &connector, window).await?;
    if inputs.price.is_empty() {
        return Err(AppError::invalid(
            "from",
            format!("no market prices are stored for {}..{}; import history first", req.from, req.to),
        ));
    }
    let compared = match compared {
        Some((v, def)) => {
            let r = def.check()?;
            let own = load_inputs(store, &def, &r, &connector, window).await?;
            Some((v, r, own))
        }
        None => None,
    };
    let benchmark = match benchmark_strategy {
        Some(b) => {
            let r = b.definition.check()?;
            let own = load_inputs(store, &b.definition, &r, &connector, window).await?;
            (format!("benchmark: {} v{}", b.definition.name, b.version), r, Some(own))
        }
        None => (
            "benchmark: charge in the cheapest quarter of the day, discharge in the dearest".into(),
            RuleSet::parse(&benchmark_rules(), "benchmark")?,
            None,
        ),
    };
    Ok(Prepared { strategy, rules, compared, benchmark, assets, inputs, timeline, request: req })
}

/// Runs a prepared backtest: the strategy, its A/B version, the benchmark
/// and perfect foresight. `progress(share)` returns false to cancel.
pub fn run_backtest(
    p: &Prepared,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<(BacktestSummary, BacktestDetail), ReplayError> {
    let planner = LpPlanner;
    let parts = if p.compared.is_some() { 4.0 } else { 3.0 };
    let mut stage = 0.0;
    let mut scaled = |share: f64, stage: f64| progress((stage + share) / parts);
    let started = Instant::now();
    let main = replay(&p.rules, &p.assets, &p.inputs, &p.timeline, Some(&planner), &mut |s| scaled(s, 0.0))?;
    let replay_ms = started.elapsed().as_secs_f64() * 1000.0;
    stage += 1.0;
    let compared = match &p.compared {
        Some((v, rules, inputs)) => {
            let r = replay(rules, &p.assets, inputs, &p.timeline, Some(&planner), &mut |s| scaled(s, stage))?;
            stage += 1.0;
            Some(RunFigures::of(format!("v{v}"), &r))
        }
        None => None,
    };
    let benchmark_assets = Assets { battery: p.assets.battery.clone(), flexible_load: None };
    let bench_inputs = p.benchmark.2.as_ref().unwrap_or(&p.inputs);
    let bench = replay(&p.benchmark.1, &benchmark_assets, bench_inputs, &p.timeline, Some(&planner), &mut |s| {
        scaled(s, stage)
    })?;
    stage += 1.0;
    let perfect = if p.assets.battery.is_some() || p.assets.flexible_load.is_some() {
        Some(perfect_foresight(&p.assets, &p.inputs, &p.timeline, &planner)?)
    } else {
        None
    };
    if !scaled(1.0, stage - 1.0) {
        return Err(ReplayError::Cancelled);
    }
    let result = RunFigures::of(format!("v{}", p.strategy.version), &main);
    let benchmark = RunFigures::of(p.benchmark.0.clone(), &bench);
    let capture_ratio =
        perfect.as_ref().filter(|r| r.revenue.net.abs() > 1e-9).map(|r| main.revenue.net / r.revenue.net);
    let summary = BacktestSummary {
        strategy_id: p.strategy.id.clone(),
        version: p.strategy.version,
        from: p.request.from,
        to: p.request.to,
        intervals: p.timeline.len(),
        battery: p.assets.battery.clone(),
        versus_benchmark: main.revenue.net - bench.revenue.net,
        result,
        benchmark,
        perfect_foresight: perfect.as_ref().map(|r| RunFigures::of("perfect foresight".into(), r)),
        capture_ratio,
        compared,
        replay_ms,
    };
    let detail = BacktestDetail {
        daily: rows(&main.daily),
        benchmark_daily: rows(&bench.daily),
        perfect_daily: perfect.as_ref().map(|r| rows(&r.daily)).unwrap_or_default(),
        intervals: p
            .timeline
            .start_us
            .iter()
            .zip(&main.intervals)
            .map(|(t, iv): (&i64, &Interval)| (*t, iv.price, iv.battery_kw, iv.soc_pct, iv.pnl))
            .collect(),
        decisions: main
            .decisions
            .iter()
            .map(|d: &Decision| (d.action.clone(), d.explanation.rule, d.explanation.seen.clone()))
            .collect(),
    };
    Ok((summary, detail))
}

/// Starts a backtest task: prepared (and refused) now, run on a blocking
/// thread, progress and results recorded in the store.
pub async fn start_backtest(
    store: Arc<Store>,
    tasks: Arc<Tasks>,
    strategy_id: &str,
    req: BacktestRequest,
    by: &str,
) -> AppResult<vpp_store::BacktestRecord> {
    let request_json = serde_json::to_value(&req).map_err(AppError::internal)?;
    let prepared = prepare_backtest(&store, strategy_id, req).await?;
    let id = store.create_backtest(strategy_id, prepared.strategy.version, &request_json, by).await?;
    let cancel = tasks.register(&id);
    let task_id = id.clone();
    let handle = tokio::runtime::Handle::current();
    let runner_store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut last = Instant::now();
        let mut progress = |share: f64| {
            if last.elapsed() > Duration::from_millis(250) {
                last = Instant::now();
                let _ = handle.block_on(runner_store.backtest_progress(&task_id, share));
            }
            !cancel.load(Ordering::Relaxed)
        };
        let outcome = run_backtest(&prepared, &mut progress);
        let finish = match &outcome {
            Ok((summary, detail)) => {
                let summary = serde_json::to_value(summary).unwrap_or(Value::Null);
                let detail = serde_json::to_value(detail).unwrap_or(Value::Null);
                handle.block_on(runner_store.finish_backtest(&task_id, "DONE", Some(&summary), Some(&detail), None))
            }
            Err(ReplayError::Cancelled) => handle.block_on(runner_store.finish_backtest(
                &task_id,
                "CANCELLED",
                None,
                None,
                Some("cancelled on request"),
            )),
            Err(e) => {
                handle.block_on(runner_store.finish_backtest(&task_id, "FAILED", None, None, Some(&e.to_string())))
            }
        };
        if let Err(e) = finish {
            tracing::error!(task = %task_id, error = %e, "could not record the end of a backtest");
        }
        tasks.done(&task_id);
    });
    Ok(store.get_backtest(&id).await?)
}

/// A live bid made by a strategy, with its decisions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StrategyBid {
    /// Strategy.
    pub strategy_id: String,
    /// Version that decided.
    pub version: i64,
    /// The bid placed (absent when every interval held).
    pub bid: Option<BidRecord>,
    /// Delivery day.
    #[schema(value_type = String, format = Date)]
    pub trading_date: Date,
    /// Per interval: what it decided and why.
    pub decisions: Vec<Intended>,
}

/// Decides and places the bid of an ACTIVE strategy for the next delivery
/// day still open, unless its VPP already bid for that day. Steps without
/// a limit price (charge, discharge, optimiser) are offered at the
/// market's floor (sell) or cap (buy): they take the market price.
pub async fn bid_for_strategy(store: &Store, strategy: &Strategy, now: Timestamp) -> AppResult<Option<StrategyBid>> {
    if strategy.status != StrategyStatus::Active {
        return Err(AppError::conflict(format!(
            "strategy `{}` is {}; only an ACTIVE strategy trades",
            strategy.id,
            strategy.status.as_str()
        )));
    }
    let def = &strategy.definition;
    let rules = def.check()?;
    let vpp = store.get_vpp(&def.vpp_id).await?;
    let connector = connector_for(store, def.connector_id.as_deref(), vpp.market_type).await?;
    let Some(day) = day_to_bid(store, &vpp.id, &connector, now).await? else { return Ok(None) };
    let timeline = Timeline::new(&Period { from: day, to: day, rules: connector.rules.clone() })?;
    let step_us = (timeline.dt_h * 3_600_000_000.0) as i64;
    let (first, last) = (timeline.start_us[0], timeline.start_us[timeline.len() - 1] + step_us);
    if let Some(model_id) = &def.model_id {
        // The model forecasts now, from what is known now, for the day to bid.
        forecast_now(store, model_id, last).await?;
    }
    let inputs = load_inputs(store, def, &rules, &connector, (first, last)).await?;
    let assets = Assets { battery: vpp_battery(store, &vpp, true).await?, flexible_load: None };
    let decisions = decide_day(&rules, &assets, &inputs, &timeline, now.as_microsecond(), Some(&LpPlanner)).map_err(
        |e| match e {
            ReplayError::Invalid(i) => AppError::from(i),
            other => AppError::conflict(other.to_string()),
        },
    )?;
    let min_mw = connector.rules.min_bid_mw;
    // Never more than the market would accept: the VPP's room per slot now.
    let exposure = store.exposure(&vpp.id, vpp.market_type, day, timeline.len()).await?;
    let starts = connector.rules.slots(day).map_err(|e| AppError::invalid("trading_date", e.to_string()))?;
    let room = slot_room(store, &vpp.id, &connector, &starts, &exposure, now).await?;
    let steps: Vec<BidStepRequest> = decisions
        .iter()
        .zip(&room)
        .filter_map(|(d, room)| {
            let side = d.side?;
            let price = match d.limit {
                Some(p) => {
                    let tick = connector.rules.tick_size;
                    (Decimal::from_f64(p)? / tick).round() * tick
                }
                None if side == Side::Sell => connector.rules.price_floor,
                None => connector.rules.price_cap,
            };
            let price = price.clamp(connector.rules.price_floor, connector.rules.price_cap);
            let cap_mw = if side == Side::Sell { room.sell_mw } else { room.buy_mw };
            let mw = (d.kw / 1000.0).min(cap_mw).max(0.0);
            let quantity = Decimal::from_f64(mw)?.round_dp_with_strategy(3, rust_decimal::RoundingStrategy::ToZero);
            (quantity >= min_mw && quantity > Decimal::ZERO).then_some(BidStepRequest {
                time_slot: d.decision.start,
                price,
                quantity: quantity.min(connector.rules.max_bid_mw),
                side: Some(side),
                activation_price: None,
            })
        })
        .collect();
    let bid = if steps.is_empty() {
        None
    } else {
        let request = SubmitBid {
            vpp_id: vpp.id.clone(),
            strategy_id: Some(strategy.id.clone()),
            market_type: vpp.market_type,
            connector_id: Some(connector.id.clone()),
            trading_date: day,
            bids: steps,
        };
        Some(
            place_bid(
                store,
                &request,
                &crate::Actor {
                    name: format!("strategy:{}", strategy.definition.name),
                    party: format!("strategy:{}", strategy.id),
                },
                now,
            )
            .await?,
        )
    };
    let record =
        StrategyBid { strategy_id: strategy.id.clone(), version: strategy.version, bid, trading_date: day, decisions };
    let bid_id = record.bid.as_ref().map(|b| b.id.as_str());
    store.record_strategy_decisions(&strategy.id, strategy.version, day, bid_id, &json(&record.decisions)).await?;
    Ok(Some(record))
}

/// Bids every ACTIVE strategy that has not bid for its next open day.
pub async fn bid_active_strategies(store: &Store, now: Timestamp) -> Vec<(String, AppResult<Option<StrategyBid>>)> {
    let filter = vpp_store::StrategyFilter { status: Some(StrategyStatus::Active), ..Default::default() };
    let Ok(active) = store.list_strategies(&filter).await else { return Vec::new() };
    let mut out = Vec::new();
    for s in active {
        let r = bid_for_strategy(store, &s, now).await;
        out.push((s.id.clone(), r));
    }
    out
}

/// Metrics of live trading over days, for the performance report.
pub fn live_metrics(days: &[(Date, f64)]) -> (Vec<DailyPnl>, Metrics) {
    vpp_domain::strategy::metrics::daily_metrics(days)
}
