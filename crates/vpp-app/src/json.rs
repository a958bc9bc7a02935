//! JSON input with errors that name the field: a syntax error is
//! malformed input (with line and column), a wrong value, an unknown or a
//! missing field is invalid at its path (e.g. `members[2].allocation_ratio`).
//! Request bodies, uploaded files and files the CLI reads all go through it.

use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// Parses JSON with the error naming the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| AppError::malformed("body", format!("trailing data after the JSON value: {e}")))?;
    Ok(value)
}

fn json_error(path: &str, e: &serde_json::Error) -> AppError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            AppError::malformed("body", format!("malformed JSON at line {} column {}: {e}", e.line(), e.column()))
        }
        Category::Data => {
            let message = e.to_string();
            // Strip serde's " at line L column C" suffix; the field path says where.
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            AppError::invalid(field_path(path, &message), message)
        }
    }
}

/// The field a serde error is about: the path, extended by the name of an
/// unknown or missing field, which serde reports only in its message.
pub fn field_path(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let base = if path == "." { "" } else { path };
    // serde_path_to_error already ends the path with an unknown field's name.
    let named = named.filter(|name| base.rsplit('.').next() != Some(*name));
    match (base.is_empty(), named) {
        (true, Some(name)) => name.to_string(),
        (false, Some(name)) => format!("{base}.{name}"),
        (true, None) => "body".to_string(),
        (false, None) => base.to_string(),
    }
}
