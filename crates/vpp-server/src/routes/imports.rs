//! Background imports: `/import-jobs/{id}` and its cancel action.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::imports::ImportJob;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_import_job)).routes(routes!(cancel_import_job))
}

/// A background import: state, rows sent so far, and its report or error
/// once it ended; `interrupted` when the server stopped while it ran. Jobs
/// are kept in the database, so they outlive a restart. The caller needs the
/// permission that started it.
#[utoipa::path(get, path = "/api/v1/vpp/import-jobs/{id}", tag = "series",
    responses((status = 200, body = ImportJob), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_import_job(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportJob>> {
    Ok(Json(s.imports.get(&id, &p).await?))
}

/// Cancels a running background import, from any server process: nothing
/// of the file is stored, and the job turns `cancelled` (poll it). A job
/// that already ended is answered as it is.
#[utoipa::path(post, path = "/api/v1/vpp/import-jobs/{id}/cancel", tag = "series",
    responses((status = 200, body = ImportJob), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn cancel_import_job(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportJob>> {
    Ok(Json(s.imports.cancel(&id, &p).await?))
}
