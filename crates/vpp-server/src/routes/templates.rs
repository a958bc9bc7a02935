//! `/api/v1/vpp/resource-templates`

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::template::{
    LibraryImportReport, ResourceCategory, ResourceTemplate, ResourceType, TemplateLibrary, TemplateSpec,
    TemplateUpdate,
};
use vpp_store::TemplateFilter;

use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{page, paged};
use crate::state::AppState;

paged!(TemplateList, ResourceTemplate);

/// Filters and paging of the template list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this type.
    #[param(inline)]
    pub resource_type: Option<ResourceType>,
    /// Only this category.
    #[param(inline)]
    pub category: Option<ResourceCategory>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Page size, 1..1000 (default 20).
    pub size: Option<i64>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(export_templates))
        .routes(routes!(import_templates))
        .routes(routes!(get_template, update_template, delete_template))
}

/// List templates, filtered by type and category.
#[utoipa::path(get, path = "/api/v1/vpp/resource-templates", tag = "templates", params(ListQuery),
    responses((status = 200, body = TemplateList), (status = 422, body = Problem)))]
async fn list_templates(State(s): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult<Json<TemplateList>> {
    let filter = TemplateFilter { resource_type: q.resource_type, category: q.category };
    Ok(Json(s.store.list_templates(&filter, page(q.page, q.size)?).await?.into()))
}

/// Create a template with a typed parameter schema.
#[utoipa::path(post, path = "/api/v1/vpp/resource-templates", tag = "templates", request_body = TemplateSpec,
    responses((status = 201, body = ResourceTemplate), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_template(
    State(s): State<AppState>,
    ApiJson(spec): ApiJson<TemplateSpec>,
) -> ApiResult<(StatusCode, Json<ResourceTemplate>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_template(spec).await?)))
}

/// Get one template.
#[utoipa::path(get, path = "/api/v1/vpp/resource-templates/{id}", tag = "templates",
    responses((status = 200, body = ResourceTemplate), (status = 404, body = Problem)))]
async fn get_template(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ResourceTemplate>> {
    Ok(Json(s.store.get_template(&id).await?))
}

/// Update a template; its version goes up by one. Refused (409) if the new
/// schema would make existing resources invalid.
#[utoipa::path(put, path = "/api/v1/vpp/resource-templates/{id}", tag = "templates", request_body = TemplateUpdate,
    responses((status = 200, body = ResourceTemplate), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_template(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<TemplateUpdate>,
) -> ApiResult<Json<ResourceTemplate>> {
    Ok(Json(s.store.update_template(&id, update).await?))
}

/// Delete a template. 409 naming the resources that still use it.
#[utoipa::path(delete, path = "/api/v1/vpp/resource-templates/{id}", tag = "templates",
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_template(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_template(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Export every template as a JSON library file.
#[utoipa::path(get, path = "/api/v1/vpp/resource-templates/export", tag = "templates",
    responses((status = 200, body = TemplateLibrary)))]
async fn export_templates(State(s): State<AppState>) -> ApiResult<Json<TemplateLibrary>> {
    Ok(Json(s.store.export_templates().await?))
}

/// Import a JSON library file: templates matched by name are created,
/// updated or left alone. Any invalid template refuses the whole file.
#[utoipa::path(post, path = "/api/v1/vpp/resource-templates/import", tag = "templates", request_body = TemplateLibrary,
    responses((status = 200, body = LibraryImportReport), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_templates(
    State(s): State<AppState>,
    ApiJson(library): ApiJson<TemplateLibrary>,
) -> ApiResult<Json<LibraryImportReport>> {
    Ok(Json(s.store.import_templates(library).await?))
}
