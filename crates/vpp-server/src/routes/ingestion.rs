//! Scheduled ingestion (`/ingestion/sources`, `/ingestion/runs`): folders,
//! URLs and buckets vpp looks at on a schedule, and what came in from them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::ingestion::{IngestionRun, RunOutcome, SourceSpec};
use vpp_store::{IngestionSource, RunFilter};

use crate::error::{ApiResult, Problem};
use crate::extract::{AcceptLanguage, ApiJson, ApiQuery};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, put_source, delete_source))
        .routes(routes!(run_now))
        .routes(routes!(list_runs))
}

/// Every ingestion source, by name.
#[utoipa::path(get, path = "/api/v1/vpp/ingestion/sources", tag = "ingestion",
    responses((status = 200, body = Vec<IngestionSource>)))]
async fn list_sources(State(s): State<AppState>) -> ApiResult<Json<Vec<IngestionSource>>> {
    Ok(Json(s.store.list_ingestion_sources().await?))
}

/// Adds a source: a folder on the server (an inbox), an HTTP(S) URL or an
/// S3-compatible bucket that vpp looks at when its cron `schedule` fires,
/// and the importer its files go to. Credentials are secret references
/// (`env:NAME`, `file:/path`). A market target names its file connector.
#[utoipa::path(post, path = "/api/v1/vpp/ingestion/sources", tag = "ingestion",
    request_body = SourceSpec,
    responses((status = 201, body = IngestionSource), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_source(
    State(s): State<AppState>,
    ApiJson(spec): ApiJson<SourceSpec>,
) -> ApiResult<(StatusCode, Json<IngestionSource>)> {
    let source = vpp_app::ingestion::create_source(&s.store, &spec).await?;
    Ok((StatusCode::CREATED, Json(source)))
}

/// One source, by id or name.
#[utoipa::path(get, path = "/api/v1/vpp/ingestion/sources/{id}", tag = "ingestion",
    responses((status = 200, body = IngestionSource), (status = 404, body = Problem)))]
async fn get_source(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<IngestionSource>> {
    Ok(Json(s.store.get_ingestion_source(&id).await?))
}

/// Replaces a source's configuration; it is next due when its schedule next fires.
#[utoipa::path(put, path = "/api/v1/vpp/ingestion/sources/{id}", tag = "ingestion",
    request_body = SourceSpec,
    responses((status = 200, body = IngestionSource), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_source(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<SourceSpec>,
) -> ApiResult<Json<IngestionSource>> {
    Ok(Json(vpp_app::ingestion::update_source(&s.store, &id, &spec).await?))
}

/// Removes a source and its runs (the files stay where they are).
#[utoipa::path(delete, path = "/api/v1/vpp/ingestion/sources/{id}", tag = "ingestion",
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_source(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    vpp_app::ingestion::delete_source(&s.store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Looks at a source now, on demand, whatever its schedule: the runs of
/// this look (empty when nothing new was there).
#[utoipa::path(post, path = "/api/v1/vpp/ingestion/sources/{id}/run", tag = "ingestion",
    responses((status = 200, body = Vec<IngestionRun>), (status = 404, body = Problem)))]
async fn run_now(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AcceptLanguage(lang): AcceptLanguage,
) -> ApiResult<Json<Vec<IngestionRun>>> {
    let source = s.store.get_ingestion_source(&id).await?;
    // A task of its own: a client that hangs up does not cut an import short.
    let store = s.store.clone();
    let runs = tokio::spawn(async move { vpp_app::ingestion::run_source(&store, &source).await })
        .await
        .map_err(|e| vpp_app::error::AppError::internal(format!("ingestion look: {e}")))??;
    Ok(Json(runs.into_iter().map(|r| r.in_lang(lang)).collect()))
}

/// Which runs to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    /// Of one source (id or name).
    source: Option<String>,
    /// `running`, `imported`, `partial`, `refused` or `failed`.
    #[param(inline)]
    outcome: Option<RunOutcome>,
    /// Newest first, at most this many (1–1000, default 100).
    limit: Option<i64>,
}

/// What came in, when, and with what result: one run per file taken (and
/// one per look at a location that could not be read), newest first. The
/// messages are in the language of `Accept-Language`.
#[utoipa::path(get, path = "/api/v1/vpp/ingestion/runs", tag = "ingestion", params(RunsQuery),
    responses((status = 200, body = Vec<IngestionRun>), (status = 404, body = Problem)))]
async fn list_runs(
    State(s): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> ApiResult<Json<Vec<IngestionRun>>> {
    let source_id = match &q.source {
        Some(id) => Some(s.store.get_ingestion_source(id).await?.id),
        None => None,
    };
    let runs = s.store.list_ingestion_runs(&RunFilter { source_id, outcome: q.outcome, limit: q.limit }).await?;
    Ok(Json(runs.into_iter().map(|r| r.in_lang(lang)).collect()))
}
