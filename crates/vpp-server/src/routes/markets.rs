//! Markets and trading: `/market-connectors`, `/market-data/{market_id}/…`,
//! `/trading/submit-bid`, `/trading/results`, `/trading/position`, bids (approve, cancel), the
//! kill switch, risk limits, auction clearing, and `/settlement/…`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::market::connector::{Connector, ConnectorRequest};
use vpp_domain::market::rules::{BidStatus, RiskLimits};
use vpp_domain::series::{OwnerKind, Quantity, SourceKind};
use vpp_domain::vpp::MarketType;
use vpp_store::{BidFilter, BidRecord, KillSwitch, SettlementRecord, TradeFilter, TradeRecord};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem, rejected_file};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use vpp_app::error::dangling;
use vpp_app::exchange_files::{ExchangeFileQuery, ExchangeImport};
use vpp_app::markets::{ClearingSummary, SubmitBid, clear_day, connector_for, place_bid, settle_vpp, slot_room};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connectors, create_connector))
        .routes(routes!(get_connector))
        .routes(routes!(import_exchange_file))
        .routes(routes!(market_realtime))
        .routes(routes!(market_history))
        .routes(routes!(submit_bid))
        .routes(routes!(trading_results))
        .routes(routes!(trading_position))
        .routes(routes!(get_bid))
        .routes(routes!(approve_bid))
        .routes(routes!(cancel_bid))
        .routes(routes!(get_kill_switch, set_kill_switch))
        .routes(routes!(get_risk_limits, set_risk_limits))
        .routes(routes!(clear_auction))
        .routes(routes!(calculate_settlement))
        .routes(routes!(settlement_records))
        .routes(routes!(list_contracts))
        .routes(routes!(import_contracts))
        .routes(routes!(list_invoices))
}

/// Configured market connectors.
#[utoipa::path(get, path = "/api/v1/vpp/market-connectors", tag = "markets",
    responses((status = 200, body = Vec<Connector>)))]
async fn list_connectors(State(s): State<AppState>) -> ApiResult<Json<Vec<Connector>>> {
    Ok(Json(s.store.list_connectors().await?))
}

/// Configures a connector: market type, kind (`simulated` by default or
/// `file`), endpoint, credentials by secret reference only, trading rules
/// (defaults per market type) and the simulated counterparties.
#[utoipa::path(post, path = "/api/v1/vpp/market-connectors", tag = "markets", request_body = ConnectorRequest,
    responses((status = 201, body = Connector), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_connector(
    State(s): State<AppState>,
    ApiJson(r): ApiJson<ConnectorRequest>,
) -> ApiResult<(StatusCode, Json<Connector>)> {
    if let Some(id) = &r.reference_series_id {
        let (_, series) = s.store.get_series(id).await.map_err(dangling("reference_series_id", "series", id))?;
        if series.quantity != Quantity::Price {
            return Err(ApiError::invalid(
                "reference_series_id",
                format!("series `{id}` holds {}, not prices", series.quantity.as_str()),
            ));
        }
    }
    let c = r.into_connector(vpp_store::new_id())?;
    Ok((StatusCode::CREATED, Json(s.store.create_connector(&c).await?)))
}

/// One connector.
#[utoipa::path(get, path = "/api/v1/vpp/market-connectors/{id}", tag = "markets",
    responses((status = 200, body = Connector), (status = 404, body = Problem)))]
async fn get_connector(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Connector>> {
    Ok(Json(s.store.get_connector(&id).await?))
}

/// A market price as a belief.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PricePoint {
    /// Slot start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Slot end (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Price, currency/MWh.
    pub value: f64,
    /// When it was published.
    #[schema(value_type = String, format = DateTime)]
    pub belief_time: Timestamp,
    /// Source kind: `price`.
    pub source: SourceKind,
}

/// Prices of a market.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MarketData {
    /// Market (connector) id.
    pub market_id: String,
    /// Series holding the prices; use it with the series API.
    pub series_id: Option<String>,
    /// Unit, e.g. `EUR/MWh`.
    pub unit: String,
    /// Cleared volume of the whole market per slot, MW, where cleared.
    pub volumes: Vec<VolumePoint>,
    /// Prices by slot.
    pub points: Vec<PricePoint>,
}

/// A market volume.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VolumePoint {
    /// Slot start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Traded volume of the market, MW.
    pub volume_mw: f64,
}

/// Query of market history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// From (inclusive, UTC or with offset).
    pub start: String,
    /// To (exclusive).
    pub end: String,
}

fn parse_ts(field: &str, s: &str) -> ApiResult<Timestamp> {
    s.parse().map_err(|e| ApiError::invalid(field, format!("`{s}` is not an RFC 3339 time: {e}")))
}

async fn market_data(s: &AppState, market_id: &str, start: Timestamp, end: Timestamp) -> ApiResult<MarketData> {
    let c = s.store.get_connector(market_id).await?;
    let unit = format!("{}/MWh", c.rules.currency);
    let step = c.rules.product();
    let Some((key, series)) = s.store.find_series(OwnerKind::Market, &c.id, Quantity::Price).await? else {
        return Ok(MarketData { market_id: c.id, series_id: None, unit, volumes: vec![], points: vec![] });
    };
    let step_us = step.as_micros() as i64;
    let newest = s
        .store
        .newest_beliefs(&vpp_store::BeliefQuery::latest(
            key,
            SourceKind::Price,
            (start.as_microsecond(), end.as_microsecond()),
            step_us,
        ))
        .await?;
    let points = newest
        .iter()
        .filter_map(|b| {
            let start = Timestamp::from_microsecond(b.event_start_us).ok()?;
            Some(PricePoint {
                start,
                end: start + step,
                value: b.value,
                belief_time: Timestamp::from_microsecond(b.belief_time_us).ok()?,
                source: SourceKind::Price,
            })
        })
        .collect();
    let tz = c.rules.zone().map_err(ApiError::internal)?;
    let mut volumes = Vec::new();
    let mut day = vpp_domain::series::delivery_date_of(start, &tz);
    while day.to_zoned(tz.clone()).map_err(ApiError::internal)?.timestamp() < end {
        if let Some((_, slots)) = s.store.clearing(&c.id, day).await? {
            volumes.extend(
                slots
                    .iter()
                    .filter(|r| r.time_slot >= start && r.time_slot < end)
                    .map(|r| VolumePoint { start: r.time_slot, volume_mw: r.volume_mw }),
            );
        }
        day = day.tomorrow().map_err(ApiError::internal)?;
    }
    Ok(MarketData { market_id: c.id, series_id: Some(series.id), unit, volumes, points })
}

/// Today's and tomorrow's prices (in the market's zone) as `price` beliefs,
/// with cleared volumes.
#[utoipa::path(get, path = "/api/v1/vpp/market-data/{market_id}/realtime", tag = "markets",
    responses((status = 200, body = MarketData), (status = 404, body = Problem)))]
async fn market_realtime(State(s): State<AppState>, Path(market_id): Path<String>) -> ApiResult<Json<MarketData>> {
    let c = s.store.get_connector(&market_id).await?;
    let tz = c.rules.zone().map_err(ApiError::internal)?;
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    let start = today.to_zoned(tz.clone()).map_err(ApiError::internal)?.timestamp();
    let end = today
        .checked_add(jiff::Span::new().days(2))
        .and_then(|d| d.to_zoned(tz))
        .map_err(ApiError::internal)?
        .timestamp();
    Ok(Json(market_data(&s, &market_id, start, end).await?))
}

/// Prices and volumes over `[start, end)` (at most 366 days).
#[utoipa::path(get, path = "/api/v1/vpp/market-data/{market_id}/history", tag = "markets", params(HistoryQuery),
    responses((status = 200, body = MarketData), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn market_history(
    State(s): State<AppState>,
    Path(market_id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<MarketData>> {
    let (start, end) = (parse_ts("start", &q.start)?, parse_ts("end", &q.end)?);
    if end <= start || end.duration_since(start) > SignedDuration::from_hours(24 * 366) {
        return Err(ApiError::invalid("end", "must be after start and at most 366 days later"));
    }
    Ok(Json(market_data(&s, &market_id, start, end).await?))
}

/// Submits a bid. It is checked against the connector's rules (gate
/// closure, product slots, tick size, price limits, bid size), the VPP's
/// available capacity per slot (after its open bids and cleared positions)
/// and its risk limits; refusals name the field and the rule. Bids above
/// the four-eyes size wait in PENDING_APPROVAL for a second trader.
#[utoipa::path(post, path = "/api/v1/vpp/trading/submit-bid", tag = "trading", request_body = SubmitBid,
    responses((status = 201, body = BidRecord), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn submit_bid(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(r): ApiJson<SubmitBid>,
) -> ApiResult<(StatusCode, Json<BidRecord>)> {
    let bid = place_bid(&s.store, &r, &p.actor(), Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(bid)))
}

/// Filters of the trading results.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    /// Only this VPP.
    pub vpp_id: Option<String>,
    /// Only this delivery day.
    pub trading_date: Option<String>,
    /// Only this market type.
    pub market_type: Option<String>,
    /// Only bids in this status.
    pub status: Option<String>,
    /// Most bids, newest first (1..=1000, default 100).
    pub limit: Option<i64>,
}

/// Bids with their cleared quantities and prices, and the trades made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TradingResults {
    /// Bids, newest first.
    pub bids: Vec<BidRecord>,
    /// Trades of those bids.
    pub trades: Vec<TradeRecord>,
}

fn parse_market(field: &str, m: Option<&str>) -> ApiResult<Option<MarketType>> {
    m.map(|x| {
        MarketType::parse(x).ok_or_else(|| {
            ApiError::invalid(field, format!("unknown market type `{x}`; use SPOT, ANCILLARY or CAPACITY"))
        })
    })
    .transpose()
}

/// Trading results filtered by VPP, delivery day, market and status.
#[utoipa::path(get, path = "/api/v1/vpp/trading/results", tag = "trading", params(ResultsQuery),
    responses((status = 200, body = TradingResults), (status = 422, body = Problem)))]
async fn trading_results(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> ApiResult<Json<TradingResults>> {
    let trading_date = q
        .trading_date
        .as_deref()
        .map(|d| d.parse::<Date>().map_err(|e| ApiError::invalid("trading_date", format!("`{d}` is not a date: {e}"))))
        .transpose()?;
    let status = q
        .status
        .as_deref()
        .map(|x| BidStatus::parse(x).ok_or_else(|| ApiError::invalid("status", format!("unknown status `{x}`"))))
        .transpose()?;
    let filter = BidFilter {
        vpp_id: q.vpp_id.clone(),
        market_type: parse_market("market_type", q.market_type.as_deref())?,
        trading_date,
        status,
        limit: super::LimitQuery { limit: q.limit }.get()?,
    };
    let bids = s.store.list_bids(&filter).await?;
    let ids: std::collections::HashSet<&str> = bids.iter().map(|b| b.id.as_str()).collect();
    let mut trades = Vec::new();
    if !bids.is_empty() {
        let from = bids.iter().flat_map(|b| b.steps.iter().map(|x| x.step.time_slot)).min();
        let to = bids
            .iter()
            .flat_map(|b| b.steps.iter().map(|x| x.step.time_slot))
            .max()
            .map(|t| t + SignedDuration::from_secs(1));
        let all =
            s.store.list_trades(&TradeFilter { vpp_id: q.vpp_id.clone(), from, to, ..TradeFilter::default() }).await?;
        trades = all.into_iter().filter(|t| t.bid_id.as_deref().is_some_and(|b| ids.contains(b))).collect();
    }
    Ok(Json(TradingResults { bids, trades }))
}

/// One bid with its steps.
#[utoipa::path(get, path = "/api/v1/vpp/trading/bids/{id}", tag = "trading",
    responses((status = 200, body = BidRecord), (status = 404, body = Problem)))]
async fn get_bid(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<BidRecord>> {
    Ok(Json(s.store.get_bid(&id).await?))
}

/// Approves a bid waiting for four eyes; the approver must not be its
/// submitter. The bid is then handed to the market (gate closure is checked
/// again).
#[utoipa::path(post, path = "/api/v1/vpp/trading/bids/{id}/approve", tag = "trading",
    responses((status = 200, body = BidRecord), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn approve_bid(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<BidRecord>> {
    Ok(Json(vpp_app::markets::approve_bid(&s.store, &id, &p.actor(), Timestamp::now()).await?))
}

/// Cancels a bid that has not been auctioned yet.
#[utoipa::path(post, path = "/api/v1/vpp/trading/bids/{id}/cancel", tag = "trading",
    responses((status = 200, body = BidRecord), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn cancel_bid(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<BidRecord>> {
    let bid = s.store.get_bid(&id).await?;
    if !bid.status.is_open() {
        return Err(ApiError::invalid(
            "status",
            format!("bid `{id}` is {}; only open bids can be cancelled", bid.status.as_str()),
        ));
    }
    Ok(Json(s.store.cancel_bid(&id, bid.status, &p.actor_name()).await?))
}

/// The kill switch.
#[utoipa::path(get, path = "/api/v1/vpp/trading/kill-switch", tag = "trading",
    responses((status = 200, body = KillSwitch)))]
async fn get_kill_switch(State(s): State<AppState>) -> ApiResult<Json<KillSwitch>> {
    Ok(Json(s.store.kill_switch().await?))
}

/// Setting of the kill switch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchRequest {
    /// True cancels every open bid and refuses new ones; false releases.
    pub active: bool,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The switch after the change, with the bids it cancelled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KillSwitchChange {
    /// The switch.
    #[serde(flatten)]
    pub switch: KillSwitch,
    /// Bids cancelled by this change.
    pub cancelled_bids: Vec<String>,
}

/// Sets or releases the kill switch.
#[utoipa::path(put, path = "/api/v1/vpp/trading/kill-switch", tag = "trading", request_body = KillSwitchRequest,
    responses((status = 200, body = KillSwitchChange), (status = 422, body = Problem)))]
async fn set_kill_switch(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(r): ApiJson<KillSwitchRequest>,
) -> ApiResult<Json<KillSwitchChange>> {
    if r.reason.as_ref().is_some_and(|x| x.chars().count() > 500) {
        return Err(ApiError::invalid("reason", "must be at most 500 characters"));
    }
    let (switch, cancelled_bids) = s.store.set_kill_switch(r.active, r.reason.as_deref(), &p.actor_name()).await?;
    Ok(Json(KillSwitchChange { switch, cancelled_bids }))
}

fn market_from_path(m: &str) -> ApiResult<MarketType> {
    parse_market("market_type", Some(m))?.ok_or_else(|| ApiError::invalid("market_type", "missing"))
}

/// Risk limits of a VPP on a market (all null: none).
#[utoipa::path(get, path = "/api/v1/vpp/trading/risk-limits/{vpp_id}/{market_type}", tag = "trading",
    responses((status = 200, body = RiskLimits), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_risk_limits(
    State(s): State<AppState>,
    Path((vpp_id, market)): Path<(String, String)>,
) -> ApiResult<Json<RiskLimits>> {
    let market = market_from_path(&market)?;
    s.store.get_vpp(&vpp_id).await?;
    Ok(Json(s.store.risk_limits(&vpp_id, market).await?))
}

/// Replaces the risk limits of a VPP on a market.
#[utoipa::path(put, path = "/api/v1/vpp/trading/risk-limits/{vpp_id}/{market_type}", tag = "trading", request_body = RiskLimits,
    responses((status = 200, body = RiskLimits), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn set_risk_limits(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((vpp_id, market)): Path<(String, String)>,
    ApiJson(limits): ApiJson<RiskLimits>,
) -> ApiResult<Json<RiskLimits>> {
    let market = market_from_path(&market)?;
    limits.check()?;
    s.store.set_risk_limits(&vpp_id, market, &limits, &p.actor_name()).await?;
    Ok(Json(s.store.risk_limits(&vpp_id, market).await?))
}

/// Which auction to run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRequest {
    /// Simulated connector.
    pub connector_id: String,
    /// Delivery day.
    #[schema(value_type = String, format = Date)]
    pub trading_date: Date,
}

/// Runs a simulated connector's auction for a day over its submitted bids
/// (the server also does this at gate closure). Clearing prices are stored
/// as `price` beliefs of the market's series.
#[utoipa::path(post, path = "/api/v1/vpp/trading/clear", tag = "trading", request_body = ClearRequest,
    responses((status = 200, body = ClearingSummary), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn clear_auction(
    State(s): State<AppState>,
    ApiJson(r): ApiJson<ClearRequest>,
) -> ApiResult<Json<ClearingSummary>> {
    let c = s.store.get_connector(&r.connector_id).await?;
    let first = c.rules.slots(r.trading_date).map_err(|e| ApiError::invalid("trading_date", e.to_string()))?;
    let closure = c
        .rules
        .gate_closure_at(r.trading_date, first[0])
        .map_err(|e| ApiError::invalid("trading_date", e.to_string()))?;
    if Timestamp::now() < closure {
        return Err(ApiError::invalid("trading_date", format!("rule gate_closure: the auction runs after {closure}")));
    }
    Ok(Json(clear_day(&s.store, &c, r.trading_date, None).await?))
}

/// A settlement run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementRequest {
    /// VPP to settle.
    pub vpp_id: String,
    /// Connector whose imbalance prices apply (default: the first SPOT connector).
    #[serde(default)]
    pub connector_id: Option<String>,
    /// Period start (UTC or with offset), on a quarter-hour.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Period end, exclusive.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

/// A settlement run's result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettlementRun {
    /// VPP.
    pub vpp_id: String,
    /// Currency.
    pub currency: String,
    /// Σ trade revenue.
    #[schema(value_type = String)]
    pub trade_revenue: Decimal,
    /// Σ imbalance.
    #[schema(value_type = String)]
    pub imbalance_amount: Decimal,
    /// Σ reserve payments.
    #[schema(value_type = String)]
    pub reserve_payments: Decimal,
    /// Σ fees.
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Σ net.
    #[schema(value_type = String)]
    pub net: Decimal,
    /// Intervals.
    pub intervals: Vec<SettlementRecord>,
}

fn run_of(vpp_id: String, currency: String, intervals: Vec<SettlementRecord>) -> SettlementRun {
    let sum = |f: fn(&SettlementRecord) -> Decimal| intervals.iter().map(f).sum::<Decimal>();
    SettlementRun {
        trade_revenue: sum(|r| r.interval.trade_revenue),
        imbalance_amount: sum(|r| r.interval.imbalance_amount),
        reserve_payments: sum(|r| r.interval.reserve_payments),
        fees: sum(|r| r.interval.fees),
        net: sum(|r| r.interval.net),
        vpp_id,
        currency,
        intervals,
    }
}

/// Settles a VPP over a period per quarter-hour: trade revenue, imbalance
/// (delivered − sold, at the final imbalance price or the estimate), reserve
/// payments, fees and net, in exact decimals. Missing measurements or
/// prices refuse the run, naming the intervals; a rerun replaces the period.
#[utoipa::path(post, path = "/api/v1/vpp/settlement/calculate", tag = "settlement", request_body = SettlementRequest,
    responses((status = 200, body = SettlementRun), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn calculate_settlement(
    State(s): State<AppState>,
    ApiJson(r): ApiJson<SettlementRequest>,
) -> ApiResult<Json<SettlementRun>> {
    for (field, t) in [("start", r.start), ("end", r.end)] {
        if t.as_second() % 900 != 0 || t.subsec_nanosecond() != 0 {
            return Err(ApiError::invalid(field, format!("{t} is not on a quarter-hour")));
        }
    }
    if r.end <= r.start {
        return Err(ApiError::invalid("end", "must be after start"));
    }
    let c = connector_for(&s.store, r.connector_id.as_deref(), MarketType::Spot).await?;
    let intervals = settle_vpp(&s.store, &r.vpp_id, &c, r.start, r.end).await?;
    Ok(Json(run_of(r.vpp_id, c.rules.currency, intervals)))
}

/// Filters of settlement records.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// Only this VPP.
    pub vpp_id: Option<String>,
    /// From (inclusive).
    pub start: String,
    /// To (exclusive).
    pub end: String,
}

/// Stored settlement intervals with their sums.
#[utoipa::path(get, path = "/api/v1/vpp/settlement/records", tag = "settlement", params(RecordsQuery),
    responses((status = 200, body = SettlementRun), (status = 422, body = Problem)))]
async fn settlement_records(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<RecordsQuery>,
) -> ApiResult<Json<SettlementRun>> {
    let (start, end) = (parse_ts("start", &q.start)?, parse_ts("end", &q.end)?);
    let vpp = q.vpp_id.clone().unwrap_or_default();
    let records = s.store.settlement_records(&vpp, start, end).await?;
    let currency = records.first().map_or_else(|| "EUR".to_string(), |r| r.currency.clone());
    Ok(Json(run_of(vpp, currency, records)))
}

/// Imports an exchange export into a `file` connector: market prices, the
/// VPP's own trades, an exchange's public trades (all participants'; stored
/// as the market VWAP index per quarter-hour, which market-price invoices
/// use first) or German imbalance prices. The file is checked whole first: a
/// malformed file is refused with every bad line and changes nothing; a
/// trade id imported before refuses the whole file.
#[utoipa::path(post, path = "/api/v1/vpp/market-connectors/{id}/import", tag = "markets", params(ExchangeFileQuery),
    request_body(content = String, description = "the exchange file", content_type = "text/csv"),
    responses((status = 200, body = ExchangeImport), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_exchange_file(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ExchangeFileQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ExchangeImport>> {
    Ok(Json(vpp_app::exchange_files::import_exchange_file(&s.store, &id, &q, &body).await?))
}

/// Every contract version with asset owners.
#[utoipa::path(get, path = "/api/v1/vpp/contracts", tag = "settlement",
    responses((status = 200, body = Vec<vpp_domain::market::invoice::Contract>)))]
async fn list_contracts(State(s): State<AppState>) -> ApiResult<Json<Vec<vpp_domain::market::invoice::Contract>>> {
    Ok(Json(s.store.list_contracts().await?))
}

/// What a contract import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContractImport {
    /// Versions in the file.
    pub versions: usize,
    /// New versions stored (identical ones already stored are skipped).
    pub added: usize,
    /// Versions stored before whose end, metering point, capacity or technology changed.
    pub updated: usize,
}

/// Imports contract versions: vpp's own file
/// (`contract_id;resource_id;valid_from;price_model;fixed_price;fee_model;fee_value;vat_pct;redispatch_price`)
/// or a CRM export keyed by asset (`contract_id, asset_id, metering_point_id,
/// capacity, technology, contract_begin, contract_end, price_model, price,
/// fee_model, fee, fee_percent`), columns by name, any delimiter. An asset
/// id is a resource id or a resource's external id. A newer version of a
/// contract supersedes the older one from its `valid_from`. Contradictory
/// rows (a fixed price model without a price…) and unknown assets refuse
/// the whole file with every bad line.
#[utoipa::path(post, path = "/api/v1/vpp/contracts/import", tag = "settlement",
    request_body(content = String, description = "contract file", content_type = "text/csv"),
    responses((status = 200, body = ContractImport), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_contracts(State(s): State<AppState>, body: axum::body::Bytes) -> ApiResult<Json<ContractImport>> {
    let contracts = vpp_domain::market::invoice::parse_contracts(&body).map_err(rejected_file)?;
    let (added, updated) = s.store.import_contracts(&contracts).await?;
    Ok(Json(ContractImport { versions: contracts.len(), added, updated }))
}

/// Which invoices.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    /// Month, `YYYY-MM` (Europe/Berlin).
    pub month: String,
    /// Only this contract.
    pub contract_id: Option<String>,
    /// VAT for contracts without their own rate, percent (default 19).
    pub vat_pct: Option<String>,
}

/// Invoices to asset owners for a month, one per contract: payout, fees,
/// redispatch compensation, net, VAT and gross, with line items.
#[utoipa::path(get, path = "/api/v1/vpp/invoices", tag = "settlement", params(InvoiceQuery),
    responses((status = 200, body = Vec<vpp_domain::market::invoice::Invoice>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_invoices(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> ApiResult<Json<Vec<vpp_domain::market::invoice::Invoice>>> {
    let vat: Decimal = match q.vat_pct.as_deref() {
        None => Decimal::from(19),
        Some(v) => v.parse().map_err(|_| ApiError::invalid("vat_pct", format!("`{v}` is not a number")))?,
    };
    Ok(Json(vpp_app::markets::invoices_for_month(&s.store, &q.month, q.contract_id.as_deref(), vat).await?))
}

/// Which VPP and day a position is asked for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PositionQuery {
    /// VPP.
    pub vpp_id: String,
    /// Delivery day in the market's zone, `YYYY-MM-DD`.
    #[param(value_type = String, format = Date)]
    pub trading_date: Date,
    /// Connector; default the first connector of the VPP's market type.
    pub connector_id: Option<String>,
}

/// One slot of a VPP's position.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PositionSlot {
    /// Slot start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Net position of open and cleared bids (sold − bought), MW.
    pub position_mw: f64,
    /// Up-regulation available in the slot, which selling is measured
    /// against, MW: dispatchable members and storage as they stand now, PV
    /// and wind at their latest forecast for the slot.
    pub available_up_mw: f64,
    /// What the VPP may still sell in the slot, MW.
    pub room_sell_mw: f64,
    /// What it may still buy, MW.
    pub room_buy_mw: f64,
}

/// A VPP's position for a day against its capacity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Position {
    /// VPP.
    pub vpp_id: String,
    /// Connector whose products make the slots.
    pub connector_id: String,
    /// Delivery day.
    #[schema(value_type = String, format = Date)]
    pub trading_date: Date,
    /// Notional of the day's live bids, in the market's currency.
    #[schema(value_type = String)]
    pub notional: Decimal,
    /// Per product of the day.
    pub slots: Vec<PositionSlot>,
}

/// A VPP's position per slot of a day against its available capacity: what
/// its open and cleared bids hold and the room left to sell and to buy (the
/// same figures a new bid is checked against).
#[utoipa::path(get, path = "/api/v1/vpp/trading/position", tag = "trading", params(PositionQuery),
    responses((status = 200, body = Position), (status = 422, body = Problem)))]
async fn trading_position(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<PositionQuery>,
) -> ApiResult<Json<Position>> {
    let vpp = s.store.get_vpp(&q.vpp_id).await.map_err(dangling("vpp_id", "VPP", &q.vpp_id))?;
    let c = connector_for(&s.store, q.connector_id.as_deref(), vpp.market_type).await?;
    let slots = c.rules.slots(q.trading_date).map_err(|e| ApiError::invalid("trading_date", e.to_string()))?;
    let exposure = s.store.exposure(&vpp.id, vpp.market_type, q.trading_date, slots.len()).await?;
    let room = slot_room(&s.store, &vpp.id, &c, &slots, &exposure, Timestamp::now()).await?;
    let slots = slots
        .iter()
        .zip(&exposure.position_mw)
        .zip(&room)
        .map(|((start, held), room)| {
            let position_mw = held.to_f64().unwrap_or(0.0);
            PositionSlot {
                start: *start,
                position_mw,
                available_up_mw: room.sell_mw + position_mw,
                room_sell_mw: room.sell_mw,
                room_buy_mw: room.buy_mw,
            }
        })
        .collect();
    Ok(Json(Position {
        vpp_id: vpp.id,
        connector_id: c.id,
        trading_date: q.trading_date,
        notional: exposure.notional,
        slots,
    }))
}
