//! `/api/v1/vpp/resource-instances`

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_app::forecasts::{self, PhysicalForecast, PhysicalRequest};
use vpp_domain::resource::{
    Resource, ResourceRequest, ResourceStatus, ResourceUpdate, StatusChange, StatusRequest, Telemetry,
};
use vpp_domain::techdata::{FieldChange, ImportReport, TechnicalDataFile};
use vpp_domain::template::{ResourceCategory, ResourceType};
use vpp_store::ResourceFilter;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{AcceptLanguage, ApiJson, ApiQuery};
use crate::routes::{LimitQuery, page, paged};
use crate::state::AppState;

paged!(ResourceList, Resource);

/// Filters and paging of the resource list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only resources of this template.
    pub template_id: Option<String>,
    /// Only resources in this status.
    #[param(inline)]
    pub status: Option<ResourceStatus>,
    /// Only this type.
    #[param(inline)]
    pub resource_type: Option<ResourceType>,
    /// Only this category.
    #[param(inline)]
    pub category: Option<ResourceCategory>,
    /// Order: `name` (default), `-name`, `capacity_kw`, `-capacity_kw`, `status`, `resource_type`, `created_at`, `-created_at`.
    pub sort: Option<String>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Page size, 1..1000 (default 20).
    pub size: Option<i64>,
}

/// A status change as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusResponse {
    /// The resource after the change.
    pub resource: Resource,
    /// The recorded change.
    pub change: StatusChange,
}

/// Latest telemetry of a resource.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RealtimeData {
    /// Resource id.
    pub resource_id: String,
    /// Resource status.
    pub status: ResourceStatus,
    /// Measurement time of the sample (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// When the sample arrived (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Timestamp,
    /// Seconds between the measurement and now.
    pub age_s: f64,
    /// Active power, kW (positive = injection).
    pub power_kw: f64,
    /// Energy meter reading, kWh, if reported.
    pub energy_kwh: Option<f64>,
    /// State of charge, %, if reported.
    pub soc_pct: Option<f64>,
    /// Temperature, °C, if reported.
    pub temperature_c: Option<f64>,
}

/// A batch of telemetry samples.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBatch {
    /// 1 to 10,000 samples.
    pub samples: Vec<Telemetry>,
}

/// Outcome of a telemetry upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TelemetryAccepted {
    /// New samples stored.
    pub accepted: usize,
    /// Samples already stored (same time), ignored.
    pub duplicates: usize,
}

/// The file name of a technical-data upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Name of the delivered file; its creation timestamp is read from it.
    pub file_name: String,
    /// Check and report the changes without applying them (a preview).
    #[serde(default)]
    pub dry_run: bool,
}

/// One recorded field change of a resource.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceChange {
    /// File that made the change.
    pub file_name: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: Timestamp,
    /// What changed.
    #[serde(flatten)]
    pub change: FieldChange,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_resources, create_resource))
        .routes(routes!(import_technical_data))
        .routes(routes!(list_imports))
        .routes(routes!(get_resource, update_resource))
        .routes(routes!(set_status))
        .routes(routes!(status_history))
        .routes(routes!(realtime_data))
        .routes(routes!(recent_setpoints))
        .routes(routes!(post_telemetry))
        .routes(routes!(resource_changes))
        .routes(routes!(physical_forecast))
        .routes(routes!(nearby_weather))
}

/// List resources, filtered by template, status, type and category.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances", tag = "resources", params(ListQuery),
    responses((status = 200, body = ResourceList), (status = 422, body = Problem)))]
async fn list_resources(State(s): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult<Json<ResourceList>> {
    let sort = match q.sort.as_deref() {
        None => None,
        Some(name) => Some(vpp_store::ResourceSort::parse(name).ok_or_else(|| {
            let known: Vec<&str> = vpp_store::ResourceSort::ALL.iter().map(|(n, _)| *n).collect();
            ApiError::invalid("sort", format!("`{name}` is not an order; use one of {}", known.join(", ")))
        })?),
    };
    let filter = ResourceFilter {
        template_id: q.template_id,
        status: q.status,
        resource_type: q.resource_type,
        category: q.category,
        sort,
    };
    Ok(Json(s.store.list_resources(&filter, page(q.page, q.size)?).await?.into()))
}

/// Create a resource from a template. Parameters are validated against the
/// template; omitted limits are derived from them.
#[utoipa::path(post, path = "/api/v1/vpp/resource-instances", tag = "resources", request_body = ResourceRequest,
    responses((status = 201, body = Resource), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_resource(
    State(s): State<AppState>,
    ApiJson(request): ApiJson<ResourceRequest>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_resource(request).await?)))
}

/// Get one resource.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}", tag = "resources",
    responses((status = 200, body = Resource), (status = 404, body = Problem)))]
async fn get_resource(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Resource>> {
    Ok(Json(s.store.get_resource(&id).await?))
}

/// Update a resource; only given fields change.
#[utoipa::path(put, path = "/api/v1/vpp/resource-instances/{id}", tag = "resources", request_body = ResourceUpdate,
    responses((status = 200, body = Resource), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_resource(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<ResourceUpdate>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(s.store.update_resource(&id, update).await?))
}

/// Change the status; the change is recorded with time and reason.
#[utoipa::path(put, path = "/api/v1/vpp/resource-instances/{id}/status", tag = "resources", request_body = StatusRequest,
    responses((status = 200, body = StatusResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn set_status(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StatusRequest>,
) -> ApiResult<Json<StatusResponse>> {
    let (resource, change) = s.store.set_resource_status(&id, request).await?;
    Ok(Json(StatusResponse { resource, change }))
}

/// Forecast a PV or wind resource from its technical data and store the
/// values as a new forecast version of its power series (created if it has
/// none). The weather is the newest forecast within 30 km
/// (`POST /weather/open-meteo` brings it in). Without one the PV forecast is
/// a clear sky, an upper bound, and says so in `weather`; a wind turbine
/// needs a wind forecast and is refused with 409.
#[utoipa::path(post, path = "/api/v1/vpp/resource-instances/{id}/physical-forecast", tag = "resources",
    request_body = PhysicalRequest,
    responses((status = 201, body = PhysicalForecast), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn physical_forecast(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<PhysicalRequest>,
) -> ApiResult<(StatusCode, Json<PhysicalForecast>)> {
    let forecast = forecasts::physical_forecast(&s.store, &id, request, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(forecast)))
}

/// The weather a resource's physical forecast reads: the nearest weather
/// point within 30 km and its series (`weather_point` null when there is
/// none, and PV is then forecast under a clear sky).
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/weather", tag = "resources",
    responses((status = 200, body = vpp_app::weather::NearbyWeather), (status = 404, body = Problem)))]
async fn nearby_weather(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<vpp_app::weather::NearbyWeather>> {
    Ok(Json(vpp_app::weather::weather_near(&s.store, &id).await?))
}

/// Status changes, newest first. The reasons vpp wrote itself (a silent
/// device, a station's report, a technical-data file) are in the language
/// of `Accept-Language`; `content` has them as a code with figures.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/status-history", tag = "resources", params(LimitQuery),
    responses((status = 200, body = Vec<StatusChange>), (status = 404, body = Problem)))]
async fn status_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AcceptLanguage(lang): AcceptLanguage,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<StatusChange>>> {
    Ok(Json(s.store.status_history(&id, q.get()?).await?.into_iter().map(|c| c.in_lang(lang)).collect()))
}

/// Latest telemetry. 404 `no-telemetry` if the device has never reported:
/// values are never invented.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/realtime-data", tag = "resources",
    responses((status = 200, body = RealtimeData), (status = 404, body = Problem)))]
async fn realtime_data(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<RealtimeData>> {
    let resource = s.store.get_resource(&id).await?;
    let Some((t, received_at)) = s.store.latest_telemetry(&id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no-telemetry",
            "No telemetry yet",
            format!("resource `{id}` exists but has not reported any telemetry yet"),
        )
        .with("resource_id", &id));
    };
    Ok(Json(RealtimeData {
        resource_id: id,
        status: resource.status,
        timestamp: t.ts,
        received_at,
        age_s: Timestamp::now().duration_since(t.ts).as_secs_f64(),
        power_kw: t.power_kw,
        energy_kwh: t.energy_kwh,
        soc_pct: t.soc_pct,
        temperature_c: t.temperature_c,
    }))
}

/// A resource's newest setpoints (by start; `limit` 1..100, default 100),
/// each with its delivery to the device (`null` without a device link), its
/// phase and the measured power in its window.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/setpoints", tag = "resources", params(LimitQuery),
    responses((status = 200, body = Vec<super::trading::InstructionStatus>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn recent_setpoints(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<super::trading::InstructionStatus>>> {
    // Each setpoint costs two reads (its delivery, its telemetry window): at most 100.
    let limit = q.get()?;
    if limit > 100 {
        return Err(ApiError::invalid("limit", format!("at most 100 setpoints at a time, got {limit}")));
    }
    let now = Timestamp::now();
    let mut out = Vec::new();
    for i in s.store.recent_instructions(&id, limit).await? {
        out.push(super::trading::instruction_status(&s, i, now).await?);
    }
    Ok(Json(out))
}

/// Upload telemetry samples for a resource (device gateways). Idempotent per sample time.
#[utoipa::path(post, path = "/api/v1/vpp/resource-instances/{id}/telemetry", tag = "resources", request_body = TelemetryBatch,
    responses((status = 200, body = TelemetryAccepted), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn post_telemetry(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(batch): ApiJson<TelemetryBatch>,
) -> ApiResult<Json<TelemetryAccepted>> {
    let accepted = s.store.record_telemetry(&id, &batch.samples).await?;
    Ok(Json(TelemetryAccepted { accepted, duplicates: batch.samples.len() - accepted }))
}

/// Field changes made to a resource by technical-data imports.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/changes", tag = "resources",
    responses((status = 200, body = Vec<ResourceChange>), (status = 404, body = Problem)))]
async fn resource_changes(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<ResourceChange>>> {
    let changes = s.store.resource_changes(&id).await?;
    Ok(Json(
        changes
            .into_iter()
            .map(|(file_name, changed_at, change)| ResourceChange { file_name, changed_at, change })
            .collect(),
    ))
}

/// Import a technical-data file (`{"assets":[...]}`). Resources are upserted
/// by asset id; the answer lists added, changed (field by field) and missing
/// assets, and the power series made for new PV and wind assets. Any invalid asset refuses the whole file. `dry_run=true` checks
/// and reports the same without applying anything (a preview of the diff).
#[utoipa::path(post, path = "/api/v1/vpp/resource-instances/technical-data", tag = "resources", params(ImportQuery),
    request_body = TechnicalDataFile,
    responses((status = 200, body = ImportReport), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_technical_data(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiJson(file): ApiJson<TechnicalDataFile>,
) -> ApiResult<Json<ImportReport>> {
    Ok(Json(vpp_app::routing::import_technical_data(&s.store, &q.file_name, file, q.dry_run).await?))
}

/// Past technical-data imports, newest first.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/technical-data/imports", tag = "resources", params(LimitQuery),
    responses((status = 200, body = Vec<ImportReport>)))]
async fn list_imports(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<ImportReport>>> {
    Ok(Json(s.store.list_imports(q.get()?).await?))
}
