//! The web console, embedded: every path the API does not serve is a file
//! of the built console, or its `index.html` (the console routes in the
//! browser). Unknown `/api/…` paths stay 404 problem JSON.

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

#[cfg(feature = "console")]
#[derive(rust_embed::RustEmbed)]
#[folder = "$OUT_DIR/console"]
struct Assets;

/// The fallback handler.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    // The console is read with GET; anything else here is an unknown route.
    let readable = method == Method::GET || method == Method::HEAD;
    if !readable || path.starts_with("api/") || path == "api" {
        return ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("no route {}", uri.path()))
            .into_response();
    }
    file(path)
}

#[cfg(feature = "console")]
fn file(path: &str) -> Response {
    let (name, found) = match Assets::get(path) {
        Some(f) if !path.is_empty() => (path, f),
        _ => match Assets::get("index.html") {
            Some(f) => ("index.html", f),
            None => return (StatusCode::NOT_FOUND, "the console was not built").into_response(),
        },
    };
    // Vite names assets by content hash, so they never change; index.html may.
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    use axum::http::header;
    (
        [(header::CONTENT_TYPE, found.metadata.mimetype().to_string()), (header::CACHE_CONTROL, cache.to_string())],
        found.data.into_owned(),
    )
        .into_response()
}

#[cfg(not(feature = "console"))]
fn file(_path: &str) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "this build has no web console (built with --no-default-features); the API is under /api/v1",
    )
    .into_response()
}
