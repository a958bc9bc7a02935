//! Audit records of the request layer: who did what, with secrets
//! redacted and large answers summarised. Used by the middleware and by
//! jobs that end after their request (imports).

use serde_json::Value;
use vpp_store::NewAudit;

use super::Principal;

/// The top-level scalar fields of a large answer, and the sizes of its lists.
pub fn summary(answer: &Value) -> Value {
    let Some(map) = answer.as_object() else { return serde_json::json!({"note": "large answer not recorded"}) };
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        match v {
            Value::Array(items) => {
                out.insert(format!("{k}_count"), Value::from(items.len()));
            }
            Value::Object(_) => {}
            scalar => {
                out.insert(k.clone(), scalar.clone());
            }
        }
    }
    out.insert("note".into(), Value::from("answer too large to record in full"));
    Value::Object(out)
}

/// Replaces secrets anywhere in a JSON value.
pub fn redact(mut value: Value) -> Value {
    const SECRET_KEYS: [&str; 6] = ["password", "secret", "access_token", "refresh_token", "api_key", "password_hash"];
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) {
                        *child = Value::String("[redacted]".into());
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// An audit record with the actor filled in.
pub fn audit_base(principal: Option<&Principal>, action: &str, ip: &str) -> NewAudit {
    NewAudit {
        actor_kind: principal.map_or("anonymous", Principal::kind).to_string(),
        actor_id: principal.map(|p| p.id().to_string()),
        actor_name: principal.map(|p| p.name().to_string()),
        role: principal.and_then(Principal::role),
        action: action.to_string(),
        ip: Some(ip.to_string()),
        ..NewAudit::default()
    }
}
