//! The one error of the application layer. Each interface maps it once:
//! the HTTP layer to problem JSON, the CLI to one line on stderr.

use vpp_domain::Invalid;
use vpp_domain::series_import::RowError;
use vpp_store::StoreError;

/// Why a use case did not happen. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that breaks a rule, naming each field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Input that cannot be read at all (bad syntax, trailing data).
    #[error("{detail}")]
    Malformed {
        /// Where: `body`, `file`, or the part that could not be read.
        field: String,
        /// What is wrong, with line and column where known.
        detail: String,
    },
    /// A file refused as a whole: every bad line, and nothing imported.
    #[error("{} bad lines, nothing imported; first: {}", .0.len(), first_line(.0))]
    RejectedFile(Vec<RowError>),
    /// No such `entity` with `id`.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// The kind of thing asked for (`vpp`, `strategy`, …).
        entity: &'static str,
        /// Its id as given.
        id: String,
    },
    /// The request is valid but the state forbids it (a closed gate, a
    /// kill switch, a status), optionally at a field.
    #[error("{message}")]
    Conflict {
        /// The field that conflicts, when one does.
        field: Option<String>,
        /// What stands in the way.
        message: String,
        /// Named details for the caller (what was left out, …).
        details: serde_json::Map<String, serde_json::Value>,
    },
    /// The caller may not do this, whatever its permissions (four eyes).
    #[error("{0}")]
    Forbidden(String),
    /// No schedule meets the request: the constraints in the way, named in
    /// the request's terms.
    #[error("{}", .0.iter().map(|c| c.message.as_str()).collect::<Vec<_>>().join("; "))]
    Infeasible(Vec<vpp_optim::Conflict>),
    /// The optimiser failed on a problem it was given.
    #[error("{0}")]
    Solver(String),
    /// A storage outcome (missing, duplicate, in use, double booking, …).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure of the platform itself, with the detail for the log;
    /// logged where it was made and never shown to a client.
    #[error("the server failed; see its log")]
    Internal(String),
}

fn first_line(errors: &[RowError]) -> String {
    errors.first().map(|e| format!("line {}: {}", e.line, e.reason)).unwrap_or_default()
}

impl AppError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Invalid::one(field, detail).into()
    }

    /// Input that cannot be read at all.
    pub fn malformed(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Malformed { field: field.into(), detail: detail.into() }
    }

    /// No such `entity` with `id`.
    pub fn not_found(entity: &'static str, id: &str) -> Self {
        Self::NotFound { entity, id: id.into() }
    }

    /// A conflict with the state, not at one field.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict { field: None, message: message.into(), details: Default::default() }
    }

    /// A conflict at `field`.
    pub fn conflict_at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { field: Some(field.into()), message: message.into(), details: Default::default() }
    }

    /// Adds a named detail to a conflict (other kinds carry theirs in
    /// their own fields and are returned as they are).
    pub fn with(mut self, key: &str, value: impl serde::Serialize) -> Self {
        if let Self::Conflict { details, .. } = &mut self {
            details.insert(key.into(), serde_json::to_value(value).unwrap_or(serde_json::Value::Null));
        }
        self
    }

    /// A failure of the platform: the detail is logged here and kept for
    /// the log of whoever reports it, never shown to a client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::Internal(detail.to_string())
    }
}

impl AppError {
    /// The field the error is about, when it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid(i) => i.0.first().map(|f| f.field.as_str()),
            Self::RejectedFile(_) => Some("file"),
            Self::Malformed { field, .. } => Some(field),
            Self::Conflict { field, .. } => field.as_deref(),
            Self::Infeasible(conflicts) => conflicts.first().map(|c| c.field.as_str()),
            Self::Store(StoreError::Invalid(i)) => i.0.first().map(|f| f.field.as_str()),
            Self::Store(StoreError::Duplicate { field, .. }) => Some(field),
            Self::Store(StoreError::Conflict { field, .. }) => field.as_deref(),
            Self::Store(StoreError::DoubleBooking(d)) => Some(&d.field),
            _ => None,
        }
    }
}

/// Maps "not found" to a 422 naming `field` (a dangling id in a request),
/// and passes every other store error on.
pub fn dangling(field: &'static str, entity: &'static str, id: &str) -> impl FnOnce(StoreError) -> AppError {
    let id = id.to_string();
    move |e| match e {
        StoreError::NotFound { .. } => AppError::invalid(field, format!("{entity} `{id}` does not exist")),
        other => other.into(),
    }
}

/// Result of a use case.
pub type AppResult<T> = Result<T, AppError>;
