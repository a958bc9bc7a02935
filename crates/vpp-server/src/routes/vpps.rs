//! `/api/v1/vpp/vpps`, aggregation, dispatch and `/api/v1/vpp/conflicts`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::execution::DispatchRequest;
use vpp_domain::fleet::{AggregatedParams, DispatchOrigin};
use vpp_domain::vpp::{Conflict, MarketType, Member, MembershipChange, Vpp, VppRequest, VppStatus, VppUpdate};
use vpp_store::VppFilter;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{LimitQuery, page, paged};
use crate::state::AppState;
use vpp_app::dispatch::DispatchResponse;

paged!(VppList, Vpp);

/// Filters and paging of the VPP list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this market.
    #[param(inline)]
    pub market_type: Option<MarketType>,
    /// Only this status.
    #[param(inline)]
    pub status: Option<VppStatus>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Page size, 1..1000 (default 20).
    pub size: Option<i64>,
}

/// Longest duration availability can be asked for, hours (one week).
const MAX_DURATION_HOURS: f64 = 168.0;

/// Duration over which availability must be sustained.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AggregateQuery {
    /// Hours the available power must be held, (0, 168]; default 1. Limits storage by its SOC.
    pub duration_hours: Option<f64>,
}

/// What a VPP can do now.
///
/// - `total_capacity_kw`: Σ ratio × capacity over all members;
/// - `available_up_kw`: Σ over ONLINE members of ratio × max(max_power, 0),
///   storage further limited to (SOC − SOC_min) × energy × η_discharge / duration;
/// - `available_down_kw`: Σ over ONLINE members of ratio × max(−min_power, 0),
///   storage limited to (SOC_max − SOC) × energy / (η_charge × duration);
/// - `response_time_s`: the slowest contributing member;
/// - `efficiency`: capacity-weighted mean over contributing members.
///
/// Storage that never reported its SOC contributes nothing (`soc_unknown_count`).
/// PV and wind offer at most what they measured in the last quarter-hour,
/// and nothing without such a measurement (`output_unknown_count`): the
/// weather, not the nameplate, sets what they can give.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AggregatedParamsResponse {
    /// VPP id.
    pub vpp_id: String,
    /// VPP status.
    pub vpp_status: VppStatus,
    /// When the member data was read (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub data_as_of: Timestamp,
    /// The figures.
    #[serde(flatten)]
    pub params: AggregatedParams,
}

/// A past dispatch (without its instructions).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DispatchSummary {
    /// Dispatch id.
    pub dispatch_id: String,
    /// Target, kW.
    pub target_kw: f64,
    /// Start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// End (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Split rule, or `schedule` for setpoints from the stored schedule.
    pub mode: DispatchOrigin,
    /// Σ allocations, kW.
    pub total_dispatched: f64,
    /// Uncovered, kW.
    pub unmet_demand: f64,
    /// When issued.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vpps, create_vpp))
        .routes(routes!(preview_vpp))
        .routes(routes!(get_vpp, update_vpp, delete_vpp))
        .routes(routes!(change_members))
        .routes(routes!(aggregated_params))
        .routes(routes!(dispatch_vpp))
        .routes(routes!(preview_dispatch))
        .routes(routes!(list_dispatches))
        .routes(routes!(conflicts))
}

/// List VPPs, filtered by market type and status.
#[utoipa::path(get, path = "/api/v1/vpp/vpps", tag = "vpps", params(ListQuery),
    responses((status = 200, body = VppList), (status = 422, body = Problem)))]
async fn list_vpps(State(s): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult<Json<VppList>> {
    let filter = VppFilter { market_type: q.market_type, status: q.status };
    Ok(Json(s.store.list_vpps(&filter, page(q.page, q.size)?).await?.into()))
}

/// Create a VPP with `resource_ids` (whole resources) and/or `members`
/// (with ratio and priority). 409 on double booking.
#[utoipa::path(post, path = "/api/v1/vpp/vpps", tag = "vpps", request_body = VppRequest,
    responses((status = 201, body = Vpp), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_vpp(
    State(s): State<AppState>,
    ApiJson(request): ApiJson<VppRequest>,
) -> ApiResult<(StatusCode, Json<Vpp>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_vpp(request).await?)))
}

/// Get one VPP with its members.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}", tag = "vpps",
    responses((status = 200, body = Vpp), (status = 404, body = Problem)))]
async fn get_vpp(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vpp>> {
    Ok(Json(s.store.get_vpp(&id).await?))
}

/// Update name, description, market type or status. Activation is refused
/// (409) if a member would be double-booked.
#[utoipa::path(put, path = "/api/v1/vpp/vpps/{id}", tag = "vpps", request_body = VppUpdate,
    responses((status = 200, body = Vpp), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_vpp(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<VppUpdate>,
) -> ApiResult<Json<Vpp>> {
    Ok(Json(s.store.update_vpp(&id, update).await?))
}

/// Delete a VPP; its dispatch history is kept.
#[utoipa::path(delete, path = "/api/v1/vpp/vpps/{id}", tag = "vpps",
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_vpp(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_vpp(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add, remove and update members in one step, all or nothing. Ratios are in
/// (0, 1]; the sum over active VPPs per resource must not exceed 1 (409 names
/// the resource, the VPPs and the ratio left).
#[utoipa::path(put, path = "/api/v1/vpp/vpps/{id}/resources", tag = "vpps", request_body = MembershipChange,
    responses((status = 200, body = Vpp), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn change_members(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<MembershipChange>,
) -> ApiResult<Json<Vpp>> {
    Ok(Json(s.store.change_members(&id, change).await?))
}

/// What the VPP can deliver now, in total and by category.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/aggregated-params", tag = "vpps", params(AggregateQuery),
    responses((status = 200, body = AggregatedParamsResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn aggregated_params(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AggregateQuery>,
) -> ApiResult<Json<AggregatedParamsResponse>> {
    let hours = q.duration_hours.unwrap_or(1.0);
    if !(hours > 0.0 && hours <= MAX_DURATION_HOURS) {
        return Err(ApiError::invalid("duration_hours", format!("must be in (0, {MAX_DURATION_HOURS}], got {hours}")));
    }
    let cached = s.fleets.get(&s.store, &id).await?;
    Ok(Json(AggregatedParamsResponse {
        vpp_id: id,
        vpp_status: cached.snapshot.vpp_status,
        data_as_of: cached.loaded_at,
        params: AggregatedParams::clone(&cached.aggregate(hours)),
    }))
}

/// Split a power target across the VPP's ONLINE members and store the
/// instructions. Positive targets inject, negative absorb. Members keep to
/// their min/max power (scaled by ratio), SOC and priority; what cannot be
/// covered is `unmet_demand`.
#[utoipa::path(post, path = "/api/v1/vpp/vpps/{id}/dispatch", tag = "vpps", request_body = DispatchRequest,
    responses((status = 201, body = DispatchResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn dispatch_vpp(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<DispatchRequest>,
) -> ApiResult<(StatusCode, Json<DispatchResponse>)> {
    let answer = vpp_app::dispatch::dispatch_vpp(&s.store, &id, &request, false).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The split a dispatch of this request would make now, without storing or
/// sending anything (`preview: true`, no ids). Refused like the dispatch
/// itself: an inactive VPP is a conflict, a bad field 422.
#[utoipa::path(post, path = "/api/v1/vpp/vpps/{id}/dispatch/preview", tag = "vpps", request_body = DispatchRequest,
    responses((status = 200, body = DispatchResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn preview_dispatch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<DispatchRequest>,
) -> ApiResult<Json<DispatchResponse>> {
    Ok(Json(vpp_app::dispatch::dispatch_vpp(&s.store, &id, &request, true).await?))
}

/// Recent dispatches of a VPP, newest first.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/dispatches", tag = "vpps", params(LimitQuery),
    responses((status = 200, body = Vec<DispatchSummary>), (status = 404, body = Problem)))]
async fn list_dispatches(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<DispatchSummary>>> {
    s.store.get_vpp(&id).await?;
    let list = s.store.list_dispatches(&id, q.get()?).await?;
    Ok(Json(
        list.into_iter()
            .map(|d| DispatchSummary {
                dispatch_id: d.id,
                target_kw: d.target_kw,
                start: d.start,
                end: d.end,
                mode: d.mode,
                total_dispatched: d.total_dispatched_kw,
                unmet_demand: d.unmet_kw,
                created_at: d.created_at,
            })
            .collect(),
    ))
}

/// Current conflicts: resources over-allocated across active VPPs, and active
/// VPP members that are not ONLINE (left by status changes).
#[utoipa::path(get, path = "/api/v1/vpp/conflicts", tag = "vpps",
    responses((status = 200, body = Vec<Conflict>)))]
async fn conflicts(State(s): State<AppState>) -> ApiResult<Json<Vec<Conflict>>> {
    Ok(Json(s.store.conflicts().await?))
}

/// A membership to preview.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The VPP being edited (its own allocations do not count against it); none for a new VPP.
    #[serde(default)]
    pub vpp_id: Option<String>,
    /// The members as they would be.
    pub members: Vec<Member>,
    /// Hours the availability must be held for (default 1).
    #[serde(default)]
    pub duration_hours: Option<f64>,
}

/// What the membership would give.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewResponse {
    /// Aggregated parameters of the members.
    pub aggregated: AggregatedParams,
    /// Members that would be double booked if the VPP were active, with the VPPs holding them.
    pub double_booking: Vec<vpp_domain::vpp::DoubleBooking>,
}

/// Previews a membership without storing anything: the aggregated
/// parameters the members would give, and every member that would be
/// double booked beside the other active VPPs, naming them.
#[utoipa::path(post, path = "/api/v1/vpp/vpps/preview", tag = "vpps", request_body = PreviewRequest,
    responses((status = 200, body = PreviewResponse), (status = 422, body = Problem)))]
async fn preview_vpp(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<PreviewRequest>,
) -> ApiResult<Json<PreviewResponse>> {
    let hours = req.duration_hours.unwrap_or(1.0);
    if !(hours > 0.0 && hours <= MAX_DURATION_HOURS) {
        return Err(ApiError::invalid("duration_hours", format!("must be in (0, {MAX_DURATION_HOURS}], got {hours}")));
    }
    if req.members.len() > vpp_store::MAX_PAGE_SIZE as usize * 10 {
        return Err(ApiError::invalid("members", "at most 10000 members"));
    }
    if let Some(id) = &req.vpp_id {
        s.store.get_vpp(id).await.map_err(vpp_app::error::dangling("vpp_id", "VPP", id))?;
    }
    let (fleet, double_booking) = s.store.preview_members(req.vpp_id.as_deref(), &req.members).await?;
    Ok(Json(PreviewResponse { aggregated: vpp_domain::fleet::aggregate(&fleet, hours), double_booking }))
}
