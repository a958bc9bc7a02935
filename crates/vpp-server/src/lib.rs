//! The REST API of vpp (axum).
//!
//! Owns HTTP concerns only: routing, extraction, problem-JSON errors,
//! OpenAPI, metrics and the fleet cache. Business rules live in
//! `vpp-domain`, persistence in `vpp-store`. One module per resource under
//! [`routes`], each with its handlers, request and response types and router.

pub mod error;
pub mod extract;
mod metrics;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use state::{AppState, ServerSettings};

/// Top-level OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vpp",
        description = "Virtual power plant platform: resource registry, VPP aggregation, dispatch.\n\n\
                       Power is kW (positive = injection into the grid, negative = consumption), energy kWh, \
                       prices currency/MWh, times RFC 3339 UTC. Errors are RFC 7807 problem JSON naming the field."
    ),
    tags(
        (name = "templates", description = "Resource templates and the preset library"),
        (name = "resources", description = "Registered distributed energy resources"),
        (name = "vpps", description = "Virtual power plants, aggregation and dispatch"),
        (name = "trading", description = "Execution tracking"),
        (name = "ops", description = "Health and metrics")
    )
)]
struct ApiDoc;

/// The full router with its OpenAPI document and docs page.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit_bytes;
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::templates::router())
        .merge(routes::resources::router())
        .merge(routes::vpps::router())
        .merge(routes::trading::router())
        .merge(routes::ops::router())
        .split_for_parts();
    api.merge(SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", openapi))
        .layer(middleware::from_fn_with_state(state.clone(), invalidate_fleets_on_write))
        .layer(middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Any successful write may change a fleet: drop cached fleets.
async fn invalidate_fleets_on_write(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !request.method().is_safe();
    let response = next.run(request).await;
    if writes && response.status().is_success() {
        state.fleets.invalidate();
    }
    response
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
