//! `/api/v1/vpp/reports/*`: trading figures ready for charts and CSV export.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::market::analysis::{Figures, analyse};
use vpp_domain::market::rules::BidStatus;
use vpp_domain::market::settlement::{Grid, TradeLine};
use vpp_store::{BidFilter, TradeFilter, TradeRecord};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(revenue_analysis))
        .routes(routes!(operation_report))
        .routes(routes!(performance_report))
}

/// Which performance report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PerformanceQuery {
    /// The VPP (the portfolio).
    pub vpp_id: String,
    /// A delivery day, `YYYY-MM-DD` (Europe/Berlin); or give `month`.
    pub day: Option<String>,
    /// A month, `YYYY-MM` (Europe/Berlin); adds the contracts' payout and fees.
    pub month: Option<String>,
    /// The tradeable forecast is the newest issued this many minutes before delivery (default 15).
    pub gate_closure_minutes: Option<i64>,
    /// `json` (default), `csv` or `html` (a printable page).
    pub format: Option<String>,
    /// Language of its prose, `en` or `zh-CN` (default: from `Accept-Language`).
    pub lang: Option<String>,
}

/// The portfolio performance report of a direct marketer, per asset and in
/// total, for a delivery day or a month: production (best of infeed, with
/// the MWh of each source), forecast accuracy (latest and tradeable, MAE
/// and bias), the VPP's own trading against the market VWAP, imbalance
/// cost, redispatch volume and payout, and for a month the contracts'
/// payout and fees. What cannot be computed is null, and `notes` says why.
#[utoipa::path(get, path = "/api/v1/vpp/reports/performance", tag = "settlement", params(PerformanceQuery),
    responses((status = 200, body = vpp_app::performance::PerformanceReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn performance_report(
    State(s): State<AppState>,
    accepted: crate::extract::AcceptLanguage,
    ApiQuery(q): ApiQuery<PerformanceQuery>,
) -> ApiResult<Response> {
    let lang = accepted.or_query(q.lang.as_deref())?;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "html") {
        return Err(ApiError::invalid("format", format!("`{format}` is not json, csv or html")));
    }
    let lead = q.gate_closure_minutes.unwrap_or(15);
    if !(0..=7 * 24 * 60).contains(&lead) {
        return Err(ApiError::invalid("gate_closure_minutes", "must be 0..10080"));
    }
    s.store.get_vpp(&q.vpp_id).await.map_err(vpp_app::error::dangling("vpp_id", "vpp", &q.vpp_id))?;
    let report = vpp_app::performance::performance_report(
        &s.store,
        &q.vpp_id,
        q.day.as_deref(),
        q.month.as_deref(),
        SignedDuration::from_mins(lead),
        lang,
    )
    .await?;
    Ok(performance_response(format, report))
}

/// A performance report as JSON, CSV or a printable HTML page.
pub(crate) fn performance_response(format: &str, report: vpp_app::performance::PerformanceReport) -> Response {
    match format {
        "csv" => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], vpp_app::performance::report_csv(&report))
            .into_response(),
        "html" => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], vpp_app::performance::report_html(&report))
            .into_response(),
        _ => Json(report).into_response(),
    }
}

/// Period and grouping of a report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `time` (per quarter-hour, default), `strategy` or `resource`.
    pub dimension: Option<String>,
    /// Only this VPP (required for `resource`).
    pub vpp_id: Option<String>,
    /// Period start (inclusive, on a quarter-hour).
    pub start: String,
    /// Period end (exclusive), at most 93 days after start.
    pub end: String,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One row of a revenue analysis.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevenueRow {
    /// Quarter-hour start (UTC) for `time`, strategy id for `strategy`, resource id for `resource`.
    pub key: String,
    /// Resource name (`resource`).
    pub name: Option<String>,
    /// Share of the VPP's figures (`resource`: capacity × allocation ratio over the VPP's).
    pub share: Option<f64>,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Revenue analysis of a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevenueAnalysis {
    /// Grouping.
    pub dimension: String,
    /// Period start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Period end.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Rows.
    pub rows: Vec<RevenueRow>,
    /// The whole period.
    pub total: Figures,
}

fn period(q: &ReportQuery) -> ApiResult<(Timestamp, Timestamp, Grid)> {
    let parse = |field: &str, s: &str| -> ApiResult<Timestamp> {
        s.parse().map_err(|e| ApiError::invalid(field, format!("`{s}` is not an RFC 3339 time: {e}")))
    };
    let (start, end) = (parse("start", &q.start)?, parse("end", &q.end)?);
    if start.as_second() % 900 != 0 {
        return Err(ApiError::invalid("start", "must be on a quarter-hour"));
    }
    if end <= start || end.duration_since(start) > SignedDuration::from_hours(24 * 93) {
        return Err(ApiError::invalid("end", "must be after start and at most 93 days later"));
    }
    Ok((start, end, Grid::between(start, end, 900)))
}

/// The trades (of the query's VPP, if any) whose delivery overlaps
/// `[start, end)`; products are at most a day long.
async fn trades_in(s: &AppState, q: &ReportQuery, start: Timestamp, end: Timestamp) -> ApiResult<Vec<TradeRecord>> {
    if let Some(v) = &q.vpp_id {
        s.store.get_vpp(v).await?;
    }
    let filter = TradeFilter {
        vpp_id: q.vpp_id.clone(),
        from: Some(start - SignedDuration::from_hours(24)),
        to: Some(end),
        ..TradeFilter::default()
    };
    Ok(s.store.list_trades(&filter).await?.into_iter().filter(|t| t.delivery_end > start).collect())
}

fn lines(trades: &[&TradeRecord]) -> Vec<TradeLine> {
    trades.iter().map(|t| t.line()).collect()
}

fn scaled(f: &Figures, share: Decimal) -> Figures {
    Figures {
        start: f.start,
        revenue: (f.revenue * share).round_dp(2),
        trade_count: f.trade_count,
        net_volume_mwh: (f.net_volume_mwh * share).round_dp(6),
        traded_mwh: (f.traded_mwh * share).round_dp(6),
        vwap: f.vwap,
        reserve_payments: (f.reserve_payments * share).round_dp(2),
    }
}

/// Revenue, trade count, net volume and VWAP of the trades delivered in the
/// period, per quarter-hour (`time`), per strategy, or per resource (the
/// VPP's figures shared by capacity × allocation ratio). Hourly trades count
/// a quarter in each of their quarter-hours. `format=csv` gives the rows as CSV.
#[utoipa::path(get, path = "/api/v1/vpp/reports/revenue-analysis", tag = "reports", params(ReportQuery),
    responses((status = 200, body = RevenueAnalysis), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn revenue_analysis(State(s): State<AppState>, ApiQuery(q): ApiQuery<ReportQuery>) -> ApiResult<Response> {
    let (start, end, grid) = period(&q)?;
    let dimension = q.dimension.clone().unwrap_or_else(|| "time".into());
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::invalid("format", format!("unknown format `{other}`; use json or csv"))),
    };
    let trades = trades_in(&s, &q, start, end).await?;
    let all: Vec<&TradeRecord> = trades.iter().collect();
    let bad = |e: vpp_domain::market::settlement::TradeError| ApiError::invalid("trades", e.to_string());
    let (per, total) = analyse(&grid, &lines(&all)).map_err(bad)?;
    let rows: Vec<RevenueRow> = match dimension.as_str() {
        "time" => per
            .into_iter()
            .map(|f| RevenueRow {
                key: f.start.map(|t| t.to_string()).unwrap_or_default(),
                name: None,
                share: None,
                figures: f,
            })
            .collect(),
        "strategy" => {
            let mut strategy_of: BTreeMap<String, String> = BTreeMap::new();
            for t in &trades {
                if let Some(b) = &t.bid_id
                    && !strategy_of.contains_key(b)
                {
                    let bid = s.store.get_bid(b).await?;
                    strategy_of.insert(b.clone(), bid.strategy_id.unwrap_or_else(|| "manual".into()));
                }
            }
            let mut groups: BTreeMap<String, Vec<&TradeRecord>> = BTreeMap::new();
            for t in &trades {
                let key = t
                    .bid_id
                    .as_ref()
                    .and_then(|b| strategy_of.get(b).cloned())
                    .unwrap_or_else(|| format!("{}-import", t.source));
                groups.entry(key).or_default().push(t);
            }
            let mut rows = Vec::new();
            for (key, group) in groups {
                let (_, figures) = analyse(&grid, &lines(&group)).map_err(bad)?;
                rows.push(RevenueRow { key, name: None, share: None, figures });
            }
            rows
        }
        "resource" => {
            let Some(vpp_id) = &q.vpp_id else {
                return Err(ApiError::invalid("vpp_id", "required for dimension=resource"));
            };
            let vpp = s.store.get_vpp(vpp_id).await?;
            let mut members = Vec::with_capacity(vpp.members.len());
            for m in &vpp.members {
                let r = s.store.get_resource(&m.resource_id).await?;
                let weight = r.capacity_kw * m.allocation_ratio.get();
                members.push((r, weight));
            }
            let sum: f64 = members.iter().map(|(_, w)| w).sum();
            let mut rows = Vec::new();
            for (r, w) in members {
                let share = if sum > 0.0 { w / sum } else { 0.0 };
                let exact = Decimal::try_from(share).unwrap_or_default().round_dp(6);
                rows.push(RevenueRow {
                    key: r.id,
                    name: Some(r.name),
                    share: Some(share),
                    figures: scaled(&total, exact),
                });
            }
            rows
        }
        other => {
            return Err(ApiError::invalid(
                "dimension",
                format!("unknown dimension `{other}`; use time, strategy or resource"),
            ));
        }
    };
    let report = RevenueAnalysis { dimension, start, end, rows, total };
    if csv {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], to_csv(&report)).into_response());
    }
    Ok(Json(report).into_response())
}

fn to_csv(r: &RevenueAnalysis) -> String {
    let mut out = String::from("key,name,share,revenue,trade_count,net_volume_mwh,traded_mwh,vwap,reserve_payments\n");
    // Keys and names are chosen by people: quoted for CSV, and never read
    // as a formula by a spreadsheet.
    let quote = |s: &str| {
        let s = vpp_domain::export::spreadsheet_text(s);
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.into_owned() }
    };
    let line = |key: &str, name: &str, share: String, f: &Figures| {
        format!(
            "{},{},{share},{},{},{},{},{},{}\n",
            quote(key),
            quote(name),
            f.revenue,
            f.trade_count,
            f.net_volume_mwh,
            f.traded_mwh,
            f.vwap.map(|v| v.to_string()).unwrap_or_default(),
            f.reserve_payments
        )
    };
    for row in &r.rows {
        out += &line(
            &row.key,
            row.name.as_deref().unwrap_or(""),
            row.share.map(|x| format!("{x:.6}")).unwrap_or_default(),
            &row.figures,
        );
    }
    out += &line("total", "", String::new(), &r.total);
    out
}

/// Operation figures of a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OperationReport {
    /// VPP, if one was asked for.
    pub vpp_id: Option<String>,
    /// Bids for delivery days in the period, by status.
    pub bids_by_status: BTreeMap<String, usize>,
    /// Trades delivered in the period.
    pub trades: usize,
    /// The trading figures of the period.
    pub trading: Figures,
    /// Settled intervals in the period.
    pub settled_intervals: usize,
    /// Σ settled net, currency.
    #[schema(value_type = String)]
    pub settled_net: Decimal,
    /// Σ imbalance energy of settled intervals, MWh.
    #[schema(value_type = String)]
    pub imbalance_mwh: Decimal,
    /// Σ imbalance money, currency.
    #[schema(value_type = String)]
    pub imbalance_amount: Decimal,
}

/// Bids by status, trades, trading figures and settlement sums of a period.
#[utoipa::path(get, path = "/api/v1/vpp/reports/operation", tag = "reports", params(ReportQuery),
    responses((status = 200, body = OperationReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn operation_report(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<OperationReport>> {
    let (start, end, grid) = period(&q)?;
    let trades = trades_in(&s, &q, start, end).await?;
    let all: Vec<&TradeRecord> = trades.iter().collect();
    let (_, trading) = analyse(&grid, &lines(&all)).map_err(|e| ApiError::invalid("trades", e.to_string()))?;
    let bids = s
        .store
        .list_bids(&BidFilter { vpp_id: q.vpp_id.clone(), limit: vpp_store::MAX_PAGE_SIZE, ..BidFilter::default() })
        .await?;
    let mut bids_by_status: BTreeMap<String, usize> =
        BidStatus::ALL.iter().map(|st| (st.as_str().to_string(), 0)).collect();
    for b in bids.iter().filter(|b| b.steps.iter().any(|x| x.step.time_slot >= start && x.step.time_slot < end)) {
        *bids_by_status.entry(b.status.as_str().to_string()).or_default() += 1;
    }
    let records = s.store.settlement_records(q.vpp_id.as_deref().unwrap_or(""), start, end).await?;
    Ok(Json(OperationReport {
        vpp_id: q.vpp_id.clone(),
        bids_by_status,
        trades: trades.len(),
        trading,
        settled_intervals: records.len(),
        settled_net: records.iter().map(|r| r.interval.net).sum(),
        imbalance_mwh: records.iter().map(|r| r.interval.imbalance_mwh).sum(),
        imbalance_amount: records.iter().map(|r| r.interval.imbalance_amount).sum(),
    }))
}
