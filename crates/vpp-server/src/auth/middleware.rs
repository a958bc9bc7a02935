//! The guard in front of every route: authenticate, authorise, rate-limit,
//! and record state changes in the audit trail.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use vpp_store::NewAudit;

use super::audit::{audit_base, redact, summary};
use super::rules::{Access, Entity, rule_for};
use super::{Principal, unauthorized};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest answer recorded whole as an audit record's after state; larger
/// answers are recorded by their top-level scalar fields.
const MAX_AUDITED_BODY: usize = 256 * 1024;

/// Largest answer the audit step will hold in memory. Answers of writes are
/// entity documents and import reports, far below this; one above it would be
/// lost, so it is refused loudly rather than truncated.
const MAX_BUFFERED_BODY: usize = 256 * 1024 * 1024;

/// Client address: the peer, or `unknown` when served without connection
/// info (tests). Only when the peer is one of the `trusted` proxies does
/// `X-Forwarded-For` count: its nearest address that is not itself a
/// trusted proxy is the client. Anyone else's header is ignored, so no
/// client can pick the address its limits and locks are counted under.
pub fn client_ip(request: &Request, trusted: &[std::net::IpAddr]) -> String {
    let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let hops: Vec<std::net::IpAddr> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map_while(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer).to_string()
}

fn credential(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_string());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| value.trim().to_string())
}

/// The middleware.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return next.run(request).await; // unmatched: the 404 fallback
    };
    let method = request.method().clone();
    let Some(rule) = rule_for(&method, &path) else {
        let allowed: Vec<&str> =
            super::rules::RULES.iter().filter(|r| r.path == path).map(|r| r.method.as_str()).collect();
        if !allowed.is_empty() {
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{method} is not served here; use {}", allowed.join(", ")),
            )
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, v);
            }
            return response;
        }
        tracing::error!(%method, %path, "route without an access rule refused");
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "this route has no access rule")
            .into_response();
    };
    if rule.access == Access::Public {
        return next.run(request).await;
    }
    let ip = client_ip(&request, &state.auth.settings.trusted_proxies);
    let writes = !method.is_safe();
    let action = format!("{method} {path}");
    let raw_path = request.uri().path().to_string();
    let principal = match authorize(&state, credential(request.headers()), rule.access, &path, &raw_path).await {
        Ok(p) => p,
        Err((principal, mut err)) => {
            // No valid credential: the address's budget is checked before
            // anything is written, so a flood is answered 429 cheaply. A
            // server error stays what it is.
            if principal.is_none()
                && err.0.status == 401
                && let Err(limited) = state.auth.check_anonymous_rate(&ip)
            {
                err = limited;
            }
            if writes {
                let mut audit = audit_base(principal.as_ref(), &action, &ip);
                audit.status = i64::from(err.0.status);
                audit.after = Some(serde_json::json!({"refused": err.0.detail}));
                record_refusal(&state, audit).await;
            }
            return err.into_response();
        }
    };
    let limited = if writes { state.auth.check_write_rate(principal.id(), rule.is_control()).err() } else { None };
    if let Some(err) = limited {
        let mut audit = audit_base(Some(&principal), &action, &ip);
        audit.status = 429;
        audit.after = Some(serde_json::json!({"refused": err.0.detail}));
        record_refusal(&state, audit).await;
        return err.into_response();
    }
    request.extensions_mut().insert(principal.clone());
    if !writes || rule.entity == Entity::None {
        return next.run(request).await;
    }

    // A state change: record who, what, before and after.
    let id = path_id(&mut request).await;
    let before = match &id {
        Some(id) => snapshot(&state, rule.entity, id).await,
        None => None,
    };
    let response = next.run(request).await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BUFFERED_BODY).await.ok();
    let answer: Option<Value> = bytes
        .as_ref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .map(|a| if bytes.as_ref().is_some_and(|b| b.len() > MAX_AUDITED_BODY) { summary(&a) } else { a });
    let entity_id = id.or_else(|| {
        answer
            .as_ref()
            .and_then(|a| a.get("id").or_else(|| a.get("dispatch_id")))
            .and_then(Value::as_str)
            .map(String::from)
    });
    let after = if !status.is_success() {
        answer.clone()
    } else if method == axum::http::Method::DELETE {
        None
    } else {
        match (&entity_id, rule.entity) {
            (Some(id), Entity::Template | Entity::Resource | Entity::Vpp | Entity::User | Entity::ApiKey) => {
                snapshot(&state, rule.entity, id).await
            }
            _ => answer.clone(),
        }
    };
    let mut audit = audit_base(Some(&principal), &action, &ip);
    audit.status = i64::from(status.as_u16());
    audit.entity_type = Some(entity_name(rule.entity).to_string());
    audit.entity_id = entity_id;
    audit.before = before;
    audit.after = after
        .map(redact)
        .or_else(|| bytes.is_none().then(|| serde_json::json!({"note": "answer too large to record"})));
    record(&state, audit).await;
    if status.is_success() && path.starts_with("/api/v1/auth/") {
        state.auth.forget_cached();
    }
    match bytes {
        Some(b) => Response::from_parts(parts, Body::from(b)),
        None => ApiError::internal("an audited answer exceeded the audit size limit").into_response(),
    }
}

/// Authenticates and checks the rule. On failure, the principal if known and the error.
async fn authorize(
    state: &AppState,
    credential: Option<String>,
    access: Access,
    path: &str,
    raw_path: &str,
) -> Result<Principal, (Option<Principal>, ApiError)> {
    let Some(credential) = credential else {
        return Err((None, unauthorized("send `Authorization: Bearer <access token or API key>`")));
    };
    let principal = state.auth.authenticate(&state.store, &credential).await.map_err(|e| (None, e))?;
    let allowed = match access {
        Access::Public | Access::Authenticated => true,
        Access::Permission(p) => principal.allows(p),
    };
    if !allowed {
        let needed = match access {
            Access::Permission(p) => p.as_str(),
            _ => "",
        };
        let who = principal.role().map_or("this API key".to_string(), |r| format!("role {}", r.as_str()));
        let err = ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", format!("{who} lacks {needed}"))
            .with("required", needed);
        return Err((Some(principal), err));
    }
    if let Principal::ApiKey { vpp_id: Some(vpp), .. } = &principal
        && let Err(e) = check_vpp_binding(state, vpp, path, raw_path).await
    {
        return Err((Some(principal), e));
    }
    Ok(principal)
}

/// A key bound to one VPP may act on that VPP and on its member resources only.
async fn check_vpp_binding(state: &AppState, vpp: &str, path: &str, raw_path: &str) -> Result<(), ApiError> {
    // `/api/v1/vpp/<collection>/<id>/...`: the id is the fifth segment.
    let id = raw_path.split('/').nth(5).unwrap_or_default().to_string();
    let allowed = if path.starts_with("/api/v1/vpp/vpps/{id}") {
        id == vpp
    } else if path.starts_with("/api/v1/vpp/resource-instances/{id}") {
        state.store.is_member(vpp, &id).await.map_err(ApiError::from)?
    } else {
        false
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("this API key acts only on VPP `{vpp}` and its members"),
        ))
    }
}

async fn path_id(request: &mut Request) -> Option<String> {
    let (mut parts, body) = std::mem::take(request).into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, &()).await.ok();
    *request = Request::from_parts(parts, body);
    params?.iter().find(|(k, _)| *k == "id").map(|(_, v)| v.to_string())
}

fn entity_name(entity: Entity) -> &'static str {
    match entity {
        Entity::None => "none",
        Entity::Template => "template",
        Entity::Resource => "resource",
        Entity::Vpp => "vpp",
        Entity::User => "user",
        Entity::ApiKey => "api_key",
        Entity::Action(name) => name,
    }
}

/// The current state of an entity as JSON, if it exists.
async fn snapshot(state: &AppState, entity: Entity, id: &str) -> Option<Value> {
    let store = &state.store;
    let value = match entity {
        Entity::Template => store.get_template(id).await.ok().and_then(|v| serde_json::to_value(v).ok()),
        Entity::Resource => store.get_resource(id).await.ok().and_then(|v| serde_json::to_value(v).ok()),
        Entity::Vpp => store.get_vpp(id).await.ok().and_then(|v| serde_json::to_value(v).ok()),
        Entity::User => store.get_user(id).await.ok().and_then(|v| serde_json::to_value(v).ok()),
        Entity::ApiKey => store.get_api_key(id).await.ok().and_then(|(k, _)| serde_json::to_value(k).ok()),
        Entity::None | Entity::Action(_) => None,
    };
    value.map(redact)
}

/// Records a refusal: the first of its kind in a minute at once, the rest
/// as one count row (see [`super::refusals`]).
async fn record_refusal(state: &AppState, audit: NewAudit) {
    let now = jiff::Timestamp::now();
    for audit in state.auth.refusals.note(audit, now) {
        let own_row = !super::refusals::is_count_row(&audit);
        if let Err(e) = state.store.append_audit(audit.clone()).await {
            tracing::error!(error = %e, "writing the audit trail failed");
            // Counted into the window instead: the count row carries it.
            if own_row {
                state.auth.refusals.unwritten(&audit, now);
            }
        }
    }
}

/// Appends an audit record; a failure is logged loudly.
pub async fn record(state: &AppState, audit: NewAudit) {
    if let Err(e) = state.store.append_audit(audit).await {
        tracing::error!(error = %e, "writing the audit trail failed");
    }
}
