//! JSON body and query extractors whose rejections are problem JSON naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Syntax errors answer 400 with line and column; wrong types,
/// unknown or missing fields and out-of-range values answer 422 with the path
/// of the field (e.g. `members[2].allocation_ratio`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !sent_as_json(&req) {
            return Err(unsupported_media_type());
        }
        parse_json(&read_body(req, state).await?).map(ApiJson)
    }
}

fn sent_as_json(req: &Request) -> bool {
    req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json_media_type)
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        "send the body as Content-Type: application/json",
    )
}

/// The body's bytes; too large is 413, unreadable 400.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                rejection.body_text(),
            )
        } else {
            ApiError::malformed("body", rejection.body_text())
        }
    })
}

/// An optional JSON body (`Option<ApiJson<T>>`): an empty body is none,
/// whatever its content type; anything else is read as [`ApiJson`] reads it.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let is_json = sent_as_json(&req);
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        if !is_json {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(|v| Some(ApiJson(v)))
    }
}

/// `application/json` or an `application/…+json` type, parameters aside
/// (`application/jsonx` is neither).
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses JSON with the error naming the field (400 for syntax, 422 at
/// the field for wrong values): [`vpp_app::json::parse`] as problem JSON.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    Ok(vpp_app::json::parse(bytes)?)
}

/// Query parameters. Unknown parameters and bad values answer 422 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            ApiError::invalid(vpp_app::json::field_path(&path, &message), message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        ratio: f64,
    }

    fn field_of(json: &str) -> (u16, Option<String>) {
        let e = parse_json::<Body>(json.as_bytes()).expect_err("invalid");
        (e.0.status, e.0.field.clone())
    }

    #[test]
    fn only_json_media_types_are_json() {
        for ct in
            ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/problem+json"]
        {
            assert!(is_json_media_type(ct), "{ct}");
        }
        for ct in ["application/jsonx", "text/json+x", "text/plain", "application/x-json-stream"] {
            assert!(!is_json_media_type(ct), "{ct}");
        }
    }

    #[test]
    fn a_nul_character_is_refused_at_its_field() {
        assert_eq!(field_of(r#"{"name":"a\u0000b","items":[]}"#), (422, Some("name".into())));
        assert_eq!(field_of(r#"{"name":"a","items":[{"ratio":1,"x\u0000":2}]}"#), (422, Some("items[0]".into())));
        // An escaped backslash before `u0000` is text, not NUL.
        let ok: Result<Body, _> = parse_json(br#"{"name":"a\\u0000","items":[]}"#);
        assert!(ok.is_ok());
    }

    #[test]
    fn errors_name_fields() {
        assert_eq!(field_of(r#"{"name":"a","items":[{"ratio":"x"}]}"#), (422, Some("items[0].ratio".into())));
        assert_eq!(field_of(r#"{"name":"a","items":[],"colour":1}"#), (422, Some("colour".into())));
        assert_eq!(field_of(r#"{"items":[]}"#), (422, Some("name".into())));
        assert_eq!(field_of(r#"{"name":"a","items":[{"ratio":1,"x":2}]}"#), (422, Some("items[0].x".into())));
        assert_eq!(field_of(r#"{"name":"a","#), (400, Some("body".into())));
        assert_eq!(field_of(r#"{"name":"a","items":[]} x"#), (400, Some("body".into())));
    }
}

/// The language of the prose the server writes into an answer (alert
/// messages, bill lines and notes, savings formulas, report notes, the
/// printable reports), from `Accept-Language`: Chinese when a `zh` range is
/// preferred over `en`, else English. Codes and enums are not translated;
/// the console names them.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptLanguage(pub vpp_domain::lang::Lang);

impl<S: Send + Sync> FromRequestParts<S> for AcceptLanguage {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ok(Self(header.map(vpp_domain::lang::Lang::negotiate).unwrap_or_default()))
    }
}

impl AcceptLanguage {
    /// A `lang` query parameter (`en`, `zh-CN` or `zh`) wins over the
    /// header: links and event streams a browser opens cannot set it.
    pub fn or_query(self, lang: Option<&str>) -> Result<vpp_domain::lang::Lang, ApiError> {
        use vpp_domain::lang::Lang;
        match lang {
            None => Ok(self.0),
            Some("en") => Ok(Lang::En),
            Some("zh-CN" | "zh") => Ok(Lang::Zh),
            Some(other) => Err(ApiError::invalid("lang", format!("must be en or zh-CN, got `{other}`"))),
        }
    }
}
