//! `/my/…`: what a user or API key bound to an asset owner may read: its
//! own assets, their best of infeed, invoices and the performance report.
//! Everything else is refused to it by the route table (it holds only
//! `owner:read`); the filtering is in `vpp_app::owners`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::market::invoice::Invoice;
use vpp_domain::resource::Resource;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::routes::series::{WindowQuery, window};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_assets))
        .routes(routes!(my_infeed))
        .routes(routes!(my_invoices))
        .routes(routes!(my_report))
}

/// The asset owner the caller is bound to.
fn owner(p: &Principal) -> ApiResult<String> {
    p.asset_owner().map(str::to_string).ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "the caller is bound to no asset owner")
    })
}

/// The caller's assets: those whose technical data names its owner.
#[utoipa::path(get, path = "/api/v1/vpp/my/assets", tag = "owners",
    responses((status = 200, body = Vec<Resource>), (status = 403, body = Problem)))]
async fn my_assets(State(s): State<AppState>, Extension(p): Extension<Principal>) -> ApiResult<Json<Vec<Resource>>> {
    Ok(Json(vpp_app::owners::owner_assets(&s.store, &owner(&p)?).await?))
}

/// One interval of an asset's best of infeed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfeedPoint {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// kW; null where nothing covers the interval.
    pub value_kw: Option<f64>,
    /// `meter_final`, `live_measurement`, `forecast` or `redispatched`.
    pub source: Option<String>,
}

/// The best of infeed of one of the caller's assets (meter final, then
/// live, then the latest forecast; 0 where redispatched and not measured).
/// Another owner's asset is forbidden.
#[utoipa::path(get, path = "/api/v1/vpp/my/assets/{id}/best-of-infeed", tag = "owners", params(WindowQuery),
    responses((status = 200, body = Vec<InfeedPoint>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn my_infeed(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Vec<InfeedPoint>>> {
    let (start, end, _, _) = window(&q)?;
    let points = vpp_app::owners::owner_infeed(&s.store, &owner(&p)?, &id, start, end).await?;
    Ok(Json(
        points
            .into_iter()
            .map(|(t, pick)| InfeedPoint {
                start: Timestamp::from_microsecond(t).unwrap_or(start),
                value_kw: pick.map(|x| x.value),
                source: pick.map(|x| x.source_name().to_string()),
            })
            .collect(),
    ))
}

/// Which invoices.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MyInvoiceQuery {
    /// Month, `YYYY-MM` (Europe/Berlin).
    pub month: String,
    /// Only this contract (one of the caller's assets; another owner's is forbidden).
    pub contract_id: Option<String>,
    /// VAT for contracts without their own rate, percent (default 19).
    pub vat_pct: Option<String>,
}

/// The invoices of the caller's assets for a month.
#[utoipa::path(get, path = "/api/v1/vpp/my/invoices", tag = "owners", params(MyInvoiceQuery),
    responses((status = 200, body = Vec<Invoice>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn my_invoices(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<MyInvoiceQuery>,
) -> ApiResult<Json<Vec<Invoice>>> {
    let vat: Decimal = match &q.vat_pct {
        Some(v) => v.parse().map_err(|_| ApiError::invalid("vat_pct", format!("`{v}` is not a number")))?,
        None => Decimal::new(19, 0),
    };
    let who = owner(&p)?;
    Ok(Json(vpp_app::owners::owner_invoices(&s.store, &who, &q.month, q.contract_id.as_deref(), vat).await?))
}

/// Which report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MyReportQuery {
    /// A delivery day, `YYYY-MM-DD` (Europe/Berlin); or give `month`.
    pub day: Option<String>,
    /// A month, `YYYY-MM`.
    pub month: Option<String>,
    /// `json` (default), `csv` or `html`.
    pub format: Option<String>,
    /// Language of its prose, `en` or `zh-CN` (default: from `Accept-Language`).
    pub lang: Option<String>,
}

/// The performance report of the caller's assets (production, forecast
/// accuracy, imbalance cost, redispatch, and for a month the contracts'
/// payout and fees), as JSON, CSV or a printable HTML page.
#[utoipa::path(get, path = "/api/v1/vpp/my/report", tag = "owners", params(MyReportQuery),
    responses((status = 200, body = vpp_app::performance::PerformanceReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn my_report(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    accepted: crate::extract::AcceptLanguage,
    ApiQuery(q): ApiQuery<MyReportQuery>,
) -> ApiResult<Response> {
    let lang = accepted.or_query(q.lang.as_deref())?;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "html") {
        return Err(ApiError::invalid("format", format!("`{format}` is not json, csv or html")));
    }
    let who = owner(&p)?;
    let report = vpp_app::owners::owner_report(
        &s.store,
        &who,
        q.day.as_deref(),
        q.month.as_deref(),
        SignedDuration::from_mins(15),
        lang,
    )
    .await?;
    Ok(crate::routes::reports::performance_response(format, report))
}
