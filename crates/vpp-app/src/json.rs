//! JSON input with errors that name the field: a syntax error is
//! malformed input (with line and column), a wrong value, an unknown or a
//! missing field is invalid at its path (e.g. `members[2].allocation_ratio`).
//! Request bodies, uploaded files and files the CLI reads all go through it.

use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// Parses JSON with the error naming the field. A string or key holding
/// NUL (U+0000) is refused at its path: PostgreSQL cannot store it in text
/// and SQLite would cut it, so no backend sees it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    // JSON can carry NUL only as the escape `\u0000`: look closer only then.
    if bytes.windows(6).any(|w| w == br"\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = nul_at(&value, String::new())
    {
        let field = if path.is_empty() { "body".to_string() } else { path };
        return Err(AppError::invalid(field, "must not contain the NUL character (U+0000)"));
    }
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

/// The path (`a.b[2]`) of the first string or key holding NUL, if any; a
/// key with NUL is reported at the object that holds it.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(path.clone());
            }
            let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            nul_at(v, child)
        }),
        _ => None,
    }
}
