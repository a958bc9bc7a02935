//! Redispatch: the DSO's compensation prices in (`/redispatch/compensation/import`)
//! and the payout per asset out (`/vpps/{id}/redispatch-payout`).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_app::redispatch::{CompensationImport, PayoutReport};

use crate::error::{ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::routes::series::{WindowQuery, window};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_compensation)).routes(routes!(payout))
}

/// How to read a compensation file.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CompensationQuery {
    /// The file's name, which names the asset when the file has no asset column.
    file_name: Option<String>,
    /// Zone of times without an offset (IANA); default UTC.
    timezone: Option<String>,
}

/// Imports a DSO's redispatch compensation file: per quarter-hour (a longer
/// interval covers each of its quarter-hours) and per asset (an asset id,
/// metering point or resource id column, else the asset `file_name` names)
/// the price paid for curtailed energy, EUR/MWh or ct/kWh. A refused row
/// stores nothing (422 with every refused line).
#[utoipa::path(post, path = "/api/v1/vpp/redispatch/compensation/import", tag = "settlement",
    params(CompensationQuery),
    request_body(content = String, description = "compensation file", content_type = "text/csv"),
    responses((status = 200, body = CompensationImport), (status = 422, body = Problem)))]
async fn import_compensation(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<CompensationQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<CompensationImport>> {
    let name = q.file_name.as_deref().unwrap_or("");
    Ok(Json(vpp_app::redispatch::import_compensation(&s.store, name, &body, q.timezone.as_deref()).await?))
}

/// The redispatch payout of a VPP's assets: per quarter-hour flagged as
/// redispatched, the latest forecast × allocation ratio × hours × the DSO's
/// compensation price. Paid to each asset's owner and claimed from the DSO;
/// a quarter-hour without a forecast or a price is counted as incomplete.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/redispatch-payout", tag = "settlement", params(WindowQuery),
    responses((status = 200, body = PayoutReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn payout(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<PayoutReport>> {
    let (start, end, _, _) = window(&q)?;
    s.store.get_vpp(&id).await?;
    Ok(Json(vpp_app::redispatch::redispatch_payout(&s.store, &id, start, end).await?))
}
