//! `/strategies`: definitions with versions and status, validation, the
//! field catalogue, backtests as tasks, live bids and decisions; and
//! `/reports/strategy-performance`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use jiff::civil::Date;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::market::auction::Side;
use vpp_domain::strategy::metrics::{DailyPnl, Metrics};
use vpp_domain::strategy::rules::{Field, FieldInfo};
use vpp_domain::strategy::{Strategy, StrategyRequest, StrategyStatus, StrategyType};
use vpp_store::{BacktestRecord, StatusChange, StrategyFilter};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use vpp_app::markets::connector_for;
use vpp_app::strategies::{
    BacktestRequest, StrategyBid, bid_for_strategy, check_strategy, live_metrics, start_backtest,
};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_strategies, create_strategy))
        .routes(routes!(strategy_fields))
        .routes(routes!(validate_strategy))
        .routes(routes!(get_strategy, update_strategy, delete_strategy))
        .routes(routes!(strategy_versions))
        .routes(routes!(set_status))
        .routes(routes!(status_history))
        .routes(routes!(backtest, list_backtests))
        .routes(routes!(backtest_result))
        .routes(routes!(backtest_intervals))
        .routes(routes!(cancel_backtest))
        .routes(routes!(strategy_bid))
        .routes(routes!(strategy_decisions))
        .routes(routes!(strategy_performance))
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StrategyQuery {
    /// Only this VPP's.
    pub vpp_id: Option<String>,
    /// RULE_BASED, AI_DRIVEN or HYBRID.
    #[serde(rename = "type")]
    pub strategy_type: Option<String>,
    /// DRAFT, TESTING, ACTIVE or SUSPENDED.
    pub status: Option<String>,
}

/// Strategies at their newest version, by name.
#[utoipa::path(get, path = "/api/v1/vpp/strategies", tag = "strategies", params(StrategyQuery),
    responses((status = 200, body = Vec<Strategy>), (status = 422, body = Problem)))]
async fn list_strategies(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<StrategyQuery>,
) -> ApiResult<Json<Vec<Strategy>>> {
    let strategy_type = q
        .strategy_type
        .as_deref()
        .map(|t| {
            StrategyType::parse(t).ok_or_else(|| {
                ApiError::invalid("type", format!("unknown type `{t}`; use RULE_BASED, AI_DRIVEN or HYBRID"))
            })
        })
        .transpose()?;
    let status = q
        .status
        .as_deref()
        .map(|t| {
            StrategyStatus::parse(t).ok_or_else(|| {
                ApiError::invalid("status", format!("unknown status `{t}`; use DRAFT, TESTING, ACTIVE or SUSPENDED"))
            })
        })
        .transpose()?;
    Ok(Json(s.store.list_strategies(&StrategyFilter { vpp_id: q.vpp_id, strategy_type, status }).await?))
}

/// Creates a strategy as version 1 in DRAFT. Rules are checked now:
/// unknown fields, type mismatches and rules that can never fire are refused by path.
#[utoipa::path(post, path = "/api/v1/vpp/strategies", tag = "strategies", request_body = StrategyRequest,
    responses((status = 201, body = Strategy), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_strategy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(req): ApiJson<StrategyRequest>,
) -> ApiResult<(StatusCode, Json<Strategy>)> {
    check_strategy(&s.store, &req).await?;
    Ok((StatusCode::CREATED, Json(s.store.create_strategy(&req, &p.actor_name()).await?)))
}

/// The fields rules can look at, with units and ranges; `series:<name>` names any stored series.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/fields", tag = "strategies",
    responses((status = 200, body = Vec<FieldInfo>)))]
async fn strategy_fields() -> Json<Vec<FieldInfo>> {
    Json(Field::catalogue())
}

/// The outcome of a validation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Validation {
    /// Always true (a 422 answers an invalid definition).
    pub valid: bool,
    /// Rules parsed.
    pub rules: usize,
    /// Fields the rules look at.
    pub fields: Vec<String>,
}

/// Checks a definition without saving it (the console's editor calls this as you type).
#[utoipa::path(post, path = "/api/v1/vpp/strategies/validate", tag = "strategies", request_body = StrategyRequest,
    responses((status = 200, body = Validation), (status = 422, body = Problem)))]
async fn validate_strategy(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<StrategyRequest>,
) -> ApiResult<Json<Validation>> {
    let rules = check_strategy(&s.store, &req).await?;
    Ok(Json(Validation {
        valid: true,
        rules: rules.rules.len(),
        fields: rules.fields().iter().map(Field::name).collect(),
    }))
}

/// Which version.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version (the newest if absent).
    pub version: Option<i64>,
}

/// A strategy at its newest version, or at `version`.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}", tag = "strategies", params(VersionQuery),
    responses((status = 200, body = Strategy), (status = 404, body = Problem)))]
async fn get_strategy(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<Strategy>> {
    Ok(Json(s.store.get_strategy(&id, q.version).await?))
}

/// Changes a strategy: the definition becomes a new version; older ones
/// stay readable. An ACTIVE strategy must be suspended first (409).
#[utoipa::path(put, path = "/api/v1/vpp/strategies/{id}", tag = "strategies", request_body = StrategyRequest,
    responses((status = 200, body = Strategy), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_strategy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StrategyRequest>,
) -> ApiResult<Json<Strategy>> {
    s.store.get_strategy(&id, None).await?;
    check_strategy(&s.store, &req).await?;
    Ok(Json(s.store.update_strategy(&id, &req, &p.actor_name()).await?))
}

/// Deletes a strategy that does not trade; its bids and backtests keep naming it.
#[utoipa::path(delete, path = "/api/v1/vpp/strategies/{id}", tag = "strategies",
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_strategy(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_strategy(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version, oldest first.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}/versions", tag = "strategies",
    responses((status = 200, body = Vec<Strategy>), (status = 404, body = Problem)))]
async fn strategy_versions(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<Strategy>>> {
    Ok(Json(s.store.strategy_versions(&id).await?))
}

/// A status change of a strategy.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StrategyStatusRequest)]
pub struct StatusRequest {
    /// The new status.
    pub status: StrategyStatus,
    /// Why (required).
    pub reason: String,
}

/// Moves a strategy DRAFT → TESTING → ACTIVE ⇄ SUSPENDED (audited). Only
/// an ACTIVE strategy trades.
#[utoipa::path(put, path = "/api/v1/vpp/strategies/{id}/status", tag = "strategies", request_body = StatusRequest,
    operation_id = "set_strategy_status",
    responses((status = 200, body = Strategy), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn set_status(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Json<Strategy>> {
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid("reason", "must be a text of 1 to 500 characters"));
    }
    if req.status == StrategyStatus::Active {
        // Activation trades money: the definition must still hold against the stored world.
        let current = s.store.get_strategy(&id, None).await?;
        check_strategy(&s.store, &current.definition).await?;
    }
    let (_, strategy) = s.store.set_strategy_status(&id, req.status, &p.actor_name(), reason).await?;
    Ok(Json(strategy))
}

/// Status changes, oldest first.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}/status-history", tag = "strategies",
    operation_id = "strategy_status_history",
    responses((status = 200, body = Vec<StatusChange>), (status = 404, body = Problem)))]
async fn status_history(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<StatusChange>>> {
    s.store.get_strategy(&id, None).await?;
    Ok(Json(s.store.strategy_status_history(&id).await?))
}

/// Starts a backtest task over `from..=to`: the strategy replayed interval
/// by interval on what was known at each gate closure, cleared against the
/// stored prices, with the battery's physics; the benchmark, perfect
/// foresight and an optional second version (A/B) on the same data.
/// Poll `backtest-results/{task_id}`.
#[utoipa::path(post, path = "/api/v1/vpp/strategies/{id}/backtest", tag = "strategies", request_body = BacktestRequest,
    responses((status = 202, body = BacktestRecord), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn backtest(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> ApiResult<(StatusCode, Json<BacktestRecord>)> {
    let record = start_backtest(s.store.clone(), s.tasks.clone(), &id, req, &p.actor_name()).await?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// Backtests of a strategy, newest first.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}/backtest-results", tag = "strategies",
    responses((status = 200, body = Vec<BacktestRecord>), (status = 404, body = Problem)))]
async fn list_backtests(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<BacktestRecord>>> {
    s.store.get_strategy(&id, None).await?;
    Ok(Json(s.store.list_backtests(&id, 50).await?))
}

/// A backtest with its daily P&L curves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestResult {
    /// The task: status, progress, summary.
    #[serde(flatten)]
    pub task: BacktestRecord,
    /// Strategy P&L per day: `[date, pnl, cumulative, drawdown]`.
    #[schema(value_type = Vec<Object>)]
    pub daily: Value,
    /// Benchmark P&L per day.
    #[schema(value_type = Vec<Object>)]
    pub benchmark_daily: Value,
    /// Perfect-foresight P&L per day.
    #[schema(value_type = Vec<Object>)]
    pub perfect_daily: Value,
}

async fn task_of(s: &AppState, id: &str, task_id: &str) -> ApiResult<BacktestRecord> {
    let task = s.store.get_backtest(task_id).await?;
    if task.strategy_id != id {
        return Err(ApiError::not_found("backtest", task_id));
    }
    Ok(task)
}

/// Status, progress and, when done, the results: revenue, P&L per day,
/// success rate, max drawdown, Sharpe, VaR and CVaR, degradation, and the
/// comparison with the benchmark and perfect foresight.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}/backtest-results/{task_id}", tag = "strategies",
    responses((status = 200, body = BacktestResult), (status = 404, body = Problem)))]
async fn backtest_result(
    State(s): State<AppState>,
    Path((id, task_id)): Path<(String, String)>,
) -> ApiResult<Json<BacktestResult>> {
    let task = task_of(&s, &id, &task_id).await?;
    let detail = s.store.backtest_detail(&task_id).await?.unwrap_or(Value::Null);
    let part = |k: &str| detail.get(k).cloned().unwrap_or(Value::Array(vec![]));
    Ok(Json(BacktestResult {
        daily: part("daily"),
        benchmark_daily: part("benchmark_daily"),
        perfect_daily: part("perfect_daily"),
        task,
    }))
}

/// Which day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IntervalQuery {
    /// Delivery day, `YYYY-MM-DD` (market time zone).
    pub date: Date,
}

/// One interval of a backtest with its decision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntervalRow {
    /// Interval start.
    #[schema(value_type = String, format = DateTime)]
    pub start: jiff::Timestamp,
    /// Price it settled at.
    pub price: Option<f64>,
    /// Battery power, kW, discharge positive.
    pub battery_kw: f64,
    /// SOC at the end, %.
    pub soc_pct: Option<f64>,
    /// Profit, €.
    pub pnl: f64,
    /// What was done.
    pub action: String,
    /// Index of the rule that fired.
    pub rule: Option<usize>,
    /// The values it saw (null: not known at decision time).
    #[schema(value_type = Vec<Object>)]
    pub seen: Value,
}

/// The intervals of one day of a finished backtest, each with the rule
/// that fired and the values it saw: why it bid that.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}/backtest-results/{task_id}/intervals", tag = "strategies",
    params(IntervalQuery), responses((status = 200, body = Vec<IntervalRow>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn backtest_intervals(
    State(s): State<AppState>,
    Path((id, task_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<IntervalQuery>,
) -> ApiResult<Json<Vec<IntervalRow>>> {
    task_of(&s, &id, &task_id).await?;
    let detail =
        s.store.backtest_detail(&task_id).await?.ok_or_else(|| ApiError::conflict("the backtest has not finished"))?;
    let detail: vpp_app::strategies::BacktestDetail = serde_json::from_value(detail).map_err(ApiError::internal)?;
    let strategy = s.store.get_strategy(&id, None).await?;
    let vpp = s.store.get_vpp(&strategy.definition.vpp_id).await?;
    let connector = connector_for(&s.store, strategy.definition.connector_id.as_deref(), vpp.market_type).await?;
    let tz = connector.rules.zone().map_err(ApiError::internal)?;
    let rows: Vec<IntervalRow> = detail
        .intervals
        .iter()
        .zip(&detail.decisions)
        .filter_map(|((t, price, kw, soc, pnl), (action, rule, seen))| {
            let start = jiff::Timestamp::from_microsecond(*t).ok()?;
            (start.to_zoned(tz.clone()).date() == q.date).then(|| IntervalRow {
                start,
                price: *price,
                battery_kw: *kw,
                soc_pct: *soc,
                pnl: *pnl,
                action: action.clone(),
                rule: *rule,
                seen: seen.iter().map(|(f, v)| serde_json::json!({"field": f, "value": v})).collect(),
            })
        })
        .collect();
    if rows.is_empty() {
        return Err(ApiError::invalid("date", format!("{} is outside the backtest", q.date)));
    }
    Ok(Json(rows))
}

/// Asks a running backtest to stop; it ends as CANCELLED.
#[utoipa::path(post, path = "/api/v1/vpp/strategies/{id}/backtest-results/{task_id}/cancel", tag = "strategies",
    responses((status = 202, body = BacktestRecord), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_backtest(
    State(s): State<AppState>,
    Path((id, task_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<BacktestRecord>)> {
    let task = task_of(&s, &id, &task_id).await?;
    if task.status != "RUNNING" || !s.tasks.cancel(&task_id) {
        return Err(ApiError::conflict(format!("backtest `{task_id}` is {}, not running", task.status)));
    }
    Ok((StatusCode::ACCEPTED, Json(task)))
}

/// Decides and places the bid of an ACTIVE strategy for the next delivery
/// day still open (the demo's trader does this every hour). 409 unless
/// ACTIVE; nothing is placed when the VPP already bid for that day.
#[utoipa::path(post, path = "/api/v1/vpp/strategies/{id}/bid", tag = "strategies",
    responses((status = 200, body = StrategyBid), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn strategy_bid(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<StrategyBid>> {
    let strategy = s.store.get_strategy(&id, None).await?;
    match bid_for_strategy(&s.store, &strategy, jiff::Timestamp::now()).await? {
        Some(bid) => Ok(Json(bid)),
        None => Err(ApiError::conflict("the VPP has already bid for the next open delivery day")),
    }
}

/// Which delivery day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    /// Delivery day, `YYYY-MM-DD`.
    pub trading_date: Date,
}

/// Live decisions of a delivery day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveDecisions {
    /// Version that decided.
    pub version: i64,
    /// The bid placed.
    pub bid_id: Option<String>,
    /// Per interval: action, rule, the values seen.
    #[schema(value_type = Vec<Object>)]
    pub decisions: Value,
}

/// Why a strategy bid what it bid on a delivery day.
#[utoipa::path(get, path = "/api/v1/vpp/strategies/{id}/decisions", tag = "strategies", params(DecisionQuery),
    responses((status = 200, body = LiveDecisions), (status = 404, body = Problem)))]
async fn strategy_decisions(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DecisionQuery>,
) -> ApiResult<Json<LiveDecisions>> {
    s.store.get_strategy(&id, None).await?;
    let (version, bid_id, decisions) = s
        .store
        .strategy_decisions(&id, q.trading_date)
        .await?
        .ok_or_else(|| ApiError::not_found("decisions", &format!("{id} on {}", q.trading_date)))?;
    Ok(Json(LiveDecisions { version, bid_id, decisions }))
}

/// Which strategy and period.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PerformanceQuery {
    /// Strategy.
    pub strategy_id: String,
    /// `YYYY-MM`, `YYYY-MM-DD..YYYY-MM-DD`, or `30d` (the last 30 days, the default).
    pub period: Option<String>,
}

/// Live and backtested performance of a strategy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StrategyPerformance {
    /// Strategy at its newest version.
    pub strategy: Strategy,
    /// First delivery day.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Last delivery day, included.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Bids placed by the strategy in the period.
    pub bids: usize,
    /// Of which with a trade.
    pub bids_cleared: usize,
    /// Trade revenue per delivery day (sell positive, buy negative), €.
    pub daily: Vec<DailyPnl>,
    /// Figures of the live trading.
    pub metrics: Metrics,
    /// The newest finished backtest.
    pub latest_backtest: Option<BacktestRecord>,
}

fn parse_period(p: Option<&str>, today: Date) -> ApiResult<(Date, Date)> {
    let bad = |m: String| ApiError::invalid("period", m);
    let text = p.unwrap_or("30d").trim();
    if let Some(days) = text.strip_suffix('d') {
        let n: i64 = days.parse().map_err(|_| bad(format!("`{text}` is not a number of days like 30d")))?;
        if !(1..=1100).contains(&n) {
            return Err(bad("between 1d and 1100d".into()));
        }
        let from = today.checked_sub(jiff::Span::new().days(n - 1)).map_err(|e| bad(e.to_string()))?;
        return Ok((from, today));
    }
    if let Some((a, b)) = text.split_once("..") {
        let a: Date = a.parse().map_err(|_| bad(format!("`{a}` is not a date YYYY-MM-DD")))?;
        let b: Date = b.parse().map_err(|_| bad(format!("`{b}` is not a date YYYY-MM-DD")))?;
        if b < a || (b - a).get_days() > 1100 {
            return Err(bad("the end must follow the start, within 1100 days".into()));
        }
        return Ok((a, b));
    }
    let first: Date =
        format!("{text}-01").parse().map_err(|_| bad(format!("`{text}` is not YYYY-MM, a range or Nd")))?;
    Ok((first, first.last_of_month()))
}

/// Live performance of a strategy over a period (its bids and their
/// trades), with the figures of its newest finished backtest.
#[utoipa::path(get, path = "/api/v1/vpp/reports/strategy-performance", tag = "strategies", params(PerformanceQuery),
    responses((status = 200, body = StrategyPerformance), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn strategy_performance(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<PerformanceQuery>,
) -> ApiResult<Json<StrategyPerformance>> {
    let strategy = s.store.get_strategy(&q.strategy_id, None).await.map_err(vpp_app::error::dangling(
        "strategy_id",
        "strategy",
        &q.strategy_id,
    ))?;
    let vpp = s.store.get_vpp(&strategy.definition.vpp_id).await?;
    let connector = connector_for(&s.store, strategy.definition.connector_id.as_deref(), vpp.market_type).await?;
    let tz = connector.rules.zone().map_err(ApiError::internal)?;
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    let (from, to) = parse_period(q.period.as_deref(), today)?;
    let bids: Vec<_> = s
        .store
        .list_bids(&vpp_store::BidFilter { vpp_id: Some(vpp.id.clone()), limit: 10_000, ..Default::default() })
        .await?
        .into_iter()
        .filter(|b| {
            b.strategy_id.as_deref() == Some(strategy.id.as_str()) && b.trading_date >= from && b.trading_date <= to
        })
        .collect();
    let start = from.to_zoned(tz.clone()).map_err(ApiError::internal)?.timestamp();
    let end = to.tomorrow().and_then(|d| d.to_zoned(tz.clone())).map_err(ApiError::internal)?.timestamp();
    let trades = s
        .store
        .list_trades(&vpp_store::TradeFilter {
            vpp_id: Some(vpp.id.clone()),
            from: Some(start),
            to: Some(end),
            ..Default::default()
        })
        .await?;
    let mut per_day: std::collections::BTreeMap<Date, f64> = std::collections::BTreeMap::new();
    let mut cleared = std::collections::BTreeSet::new();
    for t in trades.iter().filter(|t| t.bid_id.as_ref().is_some_and(|b| bids.iter().any(|x| &x.id == b))) {
        let hours = t.delivery_end.duration_since(t.delivery_start).as_secs_f64() / 3600.0;
        let value = (t.price * t.quantity_mw).to_f64().unwrap_or(0.0) * hours;
        let signed = if t.side == Side::Sell { value } else { -value };
        *per_day.entry(t.delivery_start.to_zoned(tz.clone()).date()).or_default() += signed;
        cleared.insert(t.bid_id.clone());
    }
    let days: Vec<(Date, f64)> = per_day.into_iter().collect();
    let (daily, metrics) = live_metrics(&days);
    let latest_backtest = s.store.list_backtests(&strategy.id, 50).await?.into_iter().find(|b| b.status == "DONE");
    Ok(Json(StrategyPerformance {
        strategy,
        from,
        to,
        bids: bids.len(),
        bids_cleared: cleared.len(),
        daily,
        metrics,
        latest_backtest,
    }))
}
