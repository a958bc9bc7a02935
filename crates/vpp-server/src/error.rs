//! One error format everywhere: RFC 7807 problem JSON that names the field.
//!
//! 400 malformed body, 404 missing, 409 conflict (double booking, in use,
//! duplicates), 413 too large, 415 wrong media type, 422 invalid values,
//! 500 logged with detail and answered without it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vpp_app::AppError;
use vpp_domain::{FieldError, Invalid};
use vpp_store::StoreError;

/// A problem detail (RFC 7807). Extension members go in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI identifying the kind of problem, `urn:vpp:problem:<kind>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// The offending field, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every invalid field, for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members (e.g. `allocations`, `ratio_left`, `used_by`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// An error answered as problem JSON.
#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl ApiError {
    /// A problem of `kind` with `status`.
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(Problem {
            problem_type: format!("urn:vpp:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: vec![],
            extra: Map::new(),
        }))
    }

    /// Names the offending field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.0.extra.insert(key.into(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// 400: the body or query could not be parsed.
    pub fn malformed(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request", detail).field(field)
    }

    /// 422: one invalid field.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Invalid::one(field, detail).into()
    }

    /// 404.
    pub fn not_found(entity: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("{entity} `{id}` not found"))
            .with("entity", entity)
            .with("id", id)
    }

    /// 409 with a message.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 500: the detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            "the server failed; see its log",
        )
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        let detail = e.to_string();
        let mut err = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid input", detail);
        err.0.field = e.0.first().map(|f| f.field.clone());
        err.0.errors = e.0;
        err
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => Self::not_found(entity, &id),
            StoreError::Duplicate { entity, field, value } => Self::new(
                StatusCode::CONFLICT,
                "duplicate",
                "Duplicate",
                format!("a {entity} with {field} `{value}` already exists"),
            )
            .field(field),
            StoreError::InUse { entity, id, used_by_kind, count, used_by } => {
                let names: Vec<String> = used_by.iter().map(|r| format!("{} ({})", r.name, r.id)).collect();
                Self::new(
                    StatusCode::CONFLICT,
                    "in-use",
                    "Still in use",
                    format!("{entity} `{id}` is used by {count} {used_by_kind}: {}", names.join(", ")),
                )
                .with("used_by", used_by)
                .with("used_by_count", count)
            }
            StoreError::Invalid(invalid) => invalid.into(),
            StoreError::DoubleBooking(d) => {
                Self::new(StatusCode::CONFLICT, "double-booking", "Double booking", d.to_string())
                    .field(d.field.clone())
                    .with("resource_id", &d.resource_id)
                    .with("resource_name", &d.resource_name)
                    .with("requested_ratio", d.requested_ratio)
                    .with("allocations", &d.allocations)
                    .with("ratio_left", d.ratio_left)
            }
            StoreError::Conflict { field, message } => {
                let err = Self::conflict(message);
                match field {
                    Some(f) => err.field(f),
                    None => err,
                }
            }
            StoreError::Cancelled => Self::conflict("cancelled on request; nothing was stored"),
            fenced @ StoreError::Fenced { .. } => Self::conflict(fenced.to_string()),
            other @ (StoreError::Corrupt(_) | StoreError::Database(_) | StoreError::Migrate(_)) => {
                Self::internal(other)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&*self.0)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.0.extra.get("retry_after_s").and_then(Value::as_u64) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// A refused file: every bad line, under `rejected`, and nothing imported.
pub(crate) fn rejected_file(errors: Vec<vpp_domain::series_import::RowError>) -> ApiError {
    AppError::RejectedFile(errors).into()
}

/// The one mapping of the application layer's errors onto problem JSON.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(invalid) => invalid.into(),
            AppError::Malformed { field, detail } => Self::malformed(field, detail),
            AppError::RejectedFile(ref errors) => ApiError::invalid("file", e.to_string()).with("rejected", errors),
            AppError::NotFound { entity, id } => Self::not_found(entity, &id),
            AppError::Conflict { field, message, details } => {
                let mut err = Self::conflict(message);
                err.0.field = field;
                err.0.extra.extend(details);
                err
            }
            AppError::Infeasible(ref conflicts) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "infeasible",
                "The request cannot be satisfied",
                e.to_string(),
            )
            .field(conflicts.first().map(|c| c.field.clone()).unwrap_or_default())
            .with("conflicts", conflicts),
            AppError::Forbidden(detail) => Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail),
            AppError::Solver(detail) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "solver", "Solver failed", detail),
            AppError::Store(e) => e.into(),
            // Logged where it was made.
            AppError::Internal(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
                "the server failed; see its log",
            ),
        }
    }
}
