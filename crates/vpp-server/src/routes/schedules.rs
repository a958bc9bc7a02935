//! HTTP routes of schedules: compute and store a VPP's optimal schedule,
//! dispatch the stored one, and the execution view. The work is
//! [`vpp_app::schedules`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_app::schedules::{
    ScheduleDispatchRequest, ScheduleDispatchResponse, ScheduleRequest, ScheduleResponse, StoredSchedule,
    dispatch_stored_schedule, schedule_vpp, stored_schedule,
};

use crate::error::{ApiError, ApiResult, Problem as ProblemJson};
use crate::extract::ApiJson;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_schedule, get_stored_schedule))
        .routes(routes!(dispatch_schedule))
        .routes(routes!(get_execution))
}

/// Compute an optimal schedule for a VPP
///
/// Members are modelled from their template parameters, scaled by their
/// allocation ratio: batteries (SOC from the last telemetry), PV and wind as
/// curtailable generation under their latest forecast, generators with
/// commitment, and flexible loads when `members.{id}.energy_kwh` is given.
/// Members that cannot be modelled are listed in `left_out` with the reason.
/// Above 50 members, with one price for import and export, members are
/// solved separately and in parallel, coupled through the site limits; the
/// result's `decomposition` gives the method, a lower bound and the gap.
/// An impossible request is answered 422 with `conflicts` naming the
/// constraints and their values.
#[utoipa::path(post, path = "/api/v1/vpp/vpps/{id}/schedules", tag = "optimisation",
    params(("id" = String, Path, description = "VPP id")),
    request_body = ScheduleRequest,
    responses((status = 201, body = ScheduleResponse), (status = 404, body = ProblemJson), (status = 422, body = ProblemJson)))]
async fn create_schedule(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<ScheduleRequest>,
) -> ApiResult<(StatusCode, Json<ScheduleResponse>)> {
    Ok((StatusCode::CREATED, Json(schedule_vpp(&s.store, &id, &r).await?)))
}

/// Which stored plan to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StoredScheduleQuery {
    /// Delivery day (YYYY-MM-DD) in `tz` (default: tomorrow).
    #[param(value_type = Option<String>, format = Date)]
    pub day: Option<jiff::civil::Date>,
    /// Time zone of the day (default Europe/Berlin).
    pub tz: Option<String>,
}

/// The stored schedule of a VPP
///
/// The plan in force for a delivery day: per member, the newest stored
/// `schedule` value of each 15-minute step (null where none is stored).
/// `members` is empty when no plan is stored for the day.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/schedules", tag = "optimisation",
    params(("id" = String, Path, description = "VPP id"), StoredScheduleQuery),
    responses((status = 200, body = StoredSchedule), (status = 404, body = ProblemJson), (status = 422, body = ProblemJson)))]
async fn get_stored_schedule(
    State(s): State<AppState>,
    Path(id): Path<String>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<StoredScheduleQuery>,
) -> ApiResult<Json<StoredSchedule>> {
    Ok(Json(stored_schedule(&s.store, &id, q.day, q.tz.as_deref()).await?))
}

/// Dispatch the stored schedule
///
/// Turns the newest stored `schedule` belief of each ONLINE member for the
/// interval containing `at` (default now) into dispatch instructions, tracked
/// like any dispatch (`mode` = `schedule`). 409 if the VPP is not ACTIVE or
/// no member has a schedule for that interval.
#[utoipa::path(post, path = "/api/v1/vpp/vpps/{id}/schedules/dispatch", tag = "optimisation",
    params(("id" = String, Path, description = "VPP id")),
    request_body = ScheduleDispatchRequest,
    responses((status = 201, body = ScheduleDispatchResponse), (status = 404, body = ProblemJson), (status = 409, body = ProblemJson)))]
async fn dispatch_schedule(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<ScheduleDispatchRequest>,
) -> ApiResult<(StatusCode, Json<ScheduleDispatchResponse>)> {
    Ok((StatusCode::CREATED, Json(dispatch_stored_schedule(&s.store, &id, r.at).await?)))
}

/// Window of the execution view.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExecutionQuery {
    /// From (UTC, inclusive; default: 24 hours before `end`).
    #[param(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    /// To (UTC, exclusive; default now).
    #[param(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    /// Include one row per member besides the VPP totals.
    pub members: Option<bool>,
}

/// Execution of a VPP over time
///
/// Per finished step, as recorded by the closed-loop job: scheduled power,
/// measured mean power, deviation and what the loop did (`within_threshold`,
/// `no_telemetry`, `redispatched` with the dispatch id, `no_flexibility`).
/// Member rows (`members=true`) have their resource id; the VPP rows an empty one.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/execution", tag = "optimisation",
    params(("id" = String, Path, description = "VPP id"), ExecutionQuery),
    responses((status = 200, body = Vec<vpp_store::DeviationRecord>), (status = 404, body = ProblemJson), (status = 422, body = ProblemJson)))]
async fn get_execution(
    State(s): State<AppState>,
    Path(id): Path<String>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ExecutionQuery>,
) -> ApiResult<Json<Vec<vpp_store::DeviationRecord>>> {
    s.store.get_vpp(&id).await?;
    let end = q.end.unwrap_or_else(vpp_store::now);
    let start = q.start.unwrap_or(end - SignedDuration::from_hours(24));
    if start >= end {
        return Err(ApiError::invalid("end", "must be after start"));
    }
    if end.duration_since(start) > SignedDuration::from_hours(24 * 366) {
        return Err(ApiError::invalid("end", "a window spans at most 366 days"));
    }
    Ok(Json(s.store.execution(&id, start, end, q.members.unwrap_or(false)).await?))
}
