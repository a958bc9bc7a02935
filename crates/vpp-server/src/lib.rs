//! The REST API of vpp (axum).
//!
//! Owns HTTP: routing, extraction, authentication and roles, the audit
//! trail of requests, problem-JSON errors (one mapping of
//! [`vpp_app::AppError`]), OpenAPI, metrics, the fleet cache, the
//! embedded console, and the OCPP 2.0.1 endpoint for charging stations
//! ([`ocpp`]), a device protocol that arrives over HTTP. Use cases and background jobs live in `vpp-app`,
//! business rules in `vpp-domain`, persistence in `vpp-store`. One module
//! per resource under [`routes`], each with its handlers, request and
//! response types and router.

pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
pub mod imports;
mod metrics;
pub mod ocpp;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
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
        (name = "series", description = "Versioned forecasts, measurements and prices"),
        (name = "optimisation", description = "Optimal schedules for a VPP's members"),
        (name = "trading", description = "Execution tracking"),
        (name = "owners", description = "What an asset owner reads: its own assets, their best of infeed, invoices and report"),
        (name = "ingestion", description = "Scheduled ingestion: inbox folders, URLs and S3-compatible buckets looked at on a cron schedule, and what came in"),
        (name = "devices", description = "Device links over field standards (Modbus TCP, SunSpec) and link health per protocol"),
        (name = "auth", description = "Login, sessions, users, API keys and the audit trail"),
        (name = "parks", description = "Industrial parks: TOU tariffs, load curves, bills, flexibility and savings"),
        (name = "strategies", description = "Strategies: rules, versions, status, backtests, live bids and performance"),
        (name = "ai-models", description = "Forecasting models: registry, training with cross-validation, predictions with quantiles"),
        (name = "ops", description = "Health and metrics")
    ),
    // Referenced by a query parameter, which utoipa does not collect, and
    // the payload of the dashboard's server-sent events.
    components(schemas(vpp_domain::tariff::load::TimeLabel, routes::events::DashboardSnapshot)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

/// Declares the bearer scheme: an access token from `/auth/login` or an API key.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT access token, or API key vppk_<id>.<secret>")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Completes what utoipa leaves out of the document, for every operation:
/// - a response without a description gets its status's reason phrase
///   (OpenAPI requires one);
/// - problem answers are declared as `application/problem+json`, the type
///   they are sent with;
/// - a `default` response says that any other status is a problem JSON
///   (401 without credentials, 403 without the permission, 413, 415, 429,
///   …), which every route may answer through the middleware.
fn complete_document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
    const PROBLEM: &str = "#/components/schemas/Problem";
    let problem = || ContentBuilder::new().schema(Some(utoipa::openapi::Ref::new(PROBLEM))).build();
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (code, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(r) = response else { continue };
                if r.description.is_empty() {
                    r.description = code
                        .parse::<u16>()
                        .ok()
                        .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
                        .and_then(|c| c.canonical_reason())
                        .unwrap_or("Answer")
                        .to_string();
                }
                let is_problem = r.content.get("application/json").is_some_and(|c| {
                    matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(reference)) if reference.ref_location == PROBLEM))
                });
                if is_problem && let Some(content) = r.content.shift_remove("application/json") {
                    r.content.insert("application/problem+json".into(), content);
                }
            }
            operation.responses.responses.entry("default".into()).or_insert_with(|| {
                ResponseBuilder::new()
                    .description("An error, as RFC 7807 problem JSON naming the field where one is at fault")
                    .content("application/problem+json", problem())
                    .into()
            });
        }
    }
}

/// Opens closed schemas where a response flattens them (`allOf` of a
/// request type that refuses unknown fields, plus the stored fields): with
/// `additionalProperties: false` inside `allOf`, no stored record would
/// conform. The request types themselves stay closed.
fn open_flattened(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let Some(components) = openapi.components.as_mut() else { return };
    let closed: std::collections::HashMap<String, Schema> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(o))
                if matches!(o.additional_properties.as_deref(), Some(AdditionalProperties::FreeForm(false))) =>
            {
                let mut open = o.clone();
                open.additional_properties = None;
                Some((format!("#/components/schemas/{name}"), Schema::Object(open)))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::AllOf(all)) = schema {
            for item in &mut all.items {
                if let RefOr::Ref(r) = item
                    && let Some(open) = closed.get(&r.ref_location)
                {
                    *item = RefOr::T(open.clone());
                }
            }
        }
    }
}

/// Headers on every answer: no sniffing, no framing, no referrer, and a
/// content security policy that allows only this origin's scripts.
fn security_headers(router: Router<AppState>) -> Router<AppState> {
    const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                       script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'";
    let headers: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (HeaderName::from_static("permissions-policy"), "geolocation=(), camera=(), microphone=()"),
    ];
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
    })
}

/// CORS: only the configured origins; none means same-origin only.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-api-key")])
            .max_age(std::time::Duration::from_secs(600))
    })
}

/// The full router with its OpenAPI document and docs page.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit_bytes;
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::templates::router())
        .merge(routes::resources::router())
        .merge(routes::vpps::router())
        .merge(routes::trading::router())
        .merge(routes::ops::router())
        .merge(routes::auth::router())
        .merge(routes::series::router())
        .merge(routes::imports::router())
        .merge(routes::schedules::router())
        .merge(routes::alerts::router())
        .merge(routes::devices::router())
        .merge(routes::ingestion::router())
        .merge(routes::redispatch::router())
        .merge(routes::owner::router())
        .merge(routes::markets::router())
        .merge(routes::strategies::router())
        .merge(routes::ai_models::router())
        .merge(routes::reports::router())
        .merge(routes::parks::router())
        .merge(routes::events::router())
        .merge(routes::weather::router())
        .split_for_parts();
    complete_document(&mut openapi);
    open_flattened(&mut openapi);
    let cors = cors(&state.settings.cors_origins);
    let router = api
        .route("/ocpp/{station_id}", axum::routing::get(ocpp::connect))
        .merge(SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", openapi))
        .fallback(console::serve)
        .layer(middleware::from_fn_with_state(state.clone(), invalidate_fleets_on_write))
        .layer(middleware::from_fn_with_state(state.clone(), auth::middleware::guard))
        .layer(middleware::from_fn(metrics::track));
    let router = security_headers(router).layer(DefaultBodyLimit::max(body_limit));
    let router = match cors {
        Some(c) => router.layer(c),
        None => router,
    };
    // gzip or brotli as the client accepts; server-sent events, images and
    // bodies of 32 bytes or less go out as they are (tower-http's default).
    router.layer(CompressionLayer::new()).layer(TraceLayer::new_for_http()).with_state(state)
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

/// Serves the API over TLS (rustls, certificate and key as PEM files) on
/// `listener` until `shutdown` completes. Answers carry
/// `Strict-Transport-Security`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // ring is the one crypto provider compiled in; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert_pem, key_pem).await?;
    let app = router(state).layer(SetResponseHeaderLayer::if_not_present(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    listener.set_nonblocking(true)?;
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
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
