//! `/healthz`, `/readyz`, `/metrics` and the cluster's nodes and leases.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(cluster))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = String), (status = 503, body = Problem)))]
async fn readyz(State(s): State<AppState>) -> ApiResult<&'static str> {
    s.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "database not ready");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready", "the database does not answer")
    })?;
    Ok("ready")
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, body = String)))]
async fn metrics() -> impl IntoResponse {
    let body = crate::metrics::handle().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The nodes serving this database (those that said they were alive in the
/// last three lease times: id, version, start, last seen) and every lease
/// of singleton work with its holder, fencing token and expiry. On SQLite
/// there is one node; several nodes need PostgreSQL.
#[utoipa::path(get, path = "/api/v1/vpp/cluster", tag = "ops",
    responses((status = 200, body = vpp_app::cluster::Cluster)))]
async fn cluster(State(s): State<AppState>) -> ApiResult<axum::Json<vpp_app::cluster::Cluster>> {
    let now = jiff::Timestamp::now();
    Ok(axum::Json(vpp_app::cluster::cluster(&s.store, s.node_id.as_deref(), now).await?))
}
