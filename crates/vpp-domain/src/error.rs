//! Validation errors that name the offending field.

use serde::{Deserialize, Serialize};

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `parameters.soc_min_pct` or `bids[2].price`.
    pub field: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Input refused: one or more fields are invalid. Never empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// A single-field error.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

/// Collects field errors while validating, then turns into a result.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    /// Records a problem with `field`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Adds the errors of a nested validation.
    pub fn extend(&mut self, other: Invalid) {
        self.0.extend(other.0);
    }

    /// Records a problem unless `ok` holds.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.push(field, message);
        }
    }

    /// Checks that a number is finite and within `[min, max]`.
    pub fn range(&mut self, field: &str, value: f64, min: f64, max: f64) {
        if !value.is_finite() {
            self.push(field, "must be a finite number");
        } else if value < min || value > max {
            self.push(field, format!("must be between {min} and {max}, got {value}"));
        }
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: T) -> Result<T, Invalid> {
        if self.0.is_empty() { Ok(value) } else { Err(Invalid(self.0)) }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks a display name: non-empty after trimming and at most 200 characters.
pub fn check_name(errors: &mut Errors, field: &str, name: &str) {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        errors.push(field, "must not be empty");
    } else if trimmed.chars().count() > 200 {
        errors.push(field, "must be at most 200 characters");
    }
}
