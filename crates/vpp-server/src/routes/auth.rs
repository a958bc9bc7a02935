//! `/api/v1/auth/*` (sessions, users, API keys) and `/api/v1/audit`.

use axum::Json;
use axum::extract::{Extension, Path, Request, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::auth::{ApiKey, ApiKeyRequest, AuditEntry, Role, User, UserRequest};
use vpp_domain::error::Errors;
use vpp_store::AuditFilter;

use crate::auth::audit::audit_base;
use crate::auth::middleware::{client_ip, record};
use crate::auth::{Principal, hash_password_async, random_token, sha256_hex, unauthorized};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, parse_json};
use crate::routes::{page, paged};
use crate::state::AppState;

paged!(UserList, User);
paged!(ApiKeyList, ApiKey);
paged!(AuditList, AuditEntry);

/// Credentials.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A refresh token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from login or the last refresh.
    pub refresh_token: String,
}

/// Tokens of a session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque token for `POST /auth/refresh`; rotates on every use.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
    /// Who logged in.
    pub user: User,
}

/// A change to a user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// New role.
    pub role: Option<Role>,
    /// Enable or disable; disabling voids every token at once.
    pub active: Option<bool>,
}

/// A new password set by an admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// New password, at least 12 characters.
    pub password: String,
}

/// A new API key: the only time its secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key as stored.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full key for `Authorization: Bearer` or `X-API-Key`. Shown once.
    pub secret: String,
}

/// Who am I.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// `user` or `api_key`.
    pub kind: String,
    /// Id.
    pub id: String,
    /// Username or key name.
    pub name: String,
    /// Role, for users.
    pub role: Option<Role>,
    /// Permissions held.
    pub permissions: Vec<String>,
}

/// Paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page from 1.
    pub page: Option<i64>,
    /// Page size, 1..1000 (default 20).
    pub size: Option<i64>,
}

/// Audit filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// User or key id.
    pub actor_id: Option<String>,
    /// Username or key name.
    pub actor: Option<String>,
    /// Entity kind, e.g. `vpp`, `resource`, `dispatch`, `session`.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// From (RFC 3339), inclusive.
    #[param(value_type = Option<String>)]
    pub from: Option<Timestamp>,
    /// Until (RFC 3339), exclusive.
    #[param(value_type = Option<String>)]
    pub to: Option<Timestamp>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Page size, 1..1000 (default 20).
    pub size: Option<i64>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(reset_password))
        .routes(routes!(revoke_sessions))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(list_audit))
}

/// Reads a JSON body after the address is known (login and refresh audit themselves).
async fn body<T: serde::de::DeserializeOwned>(s: &AppState, request: Request) -> ApiResult<(String, T)> {
    let ip = client_ip(&request, &s.auth.settings.trusted_proxies);
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large", "at most 64 KiB")
    })?;
    Ok((ip, parse_json(&bytes)?))
}

async fn session_audit(
    s: &AppState,
    action: &str,
    ip: &str,
    user: Option<&User>,
    name: &str,
    status: StatusCode,
    detail: &str,
) {
    let principal = user.map(|u| Principal::User {
        id: u.id.clone(),
        username: u.username.clone(),
        role: u.role,
        asset_owner: u.asset_owner.clone(),
    });
    let mut audit = audit_base(principal.as_ref(), action, ip);
    audit.actor_name = Some(name.to_string());
    audit.status = i64::from(status.as_u16());
    audit.entity_type = Some("session".into());
    audit.entity_id = user.map(|u| u.id.clone());
    audit.after = Some(serde_json::json!({"result": detail}));
    record(s, audit).await;
}

async fn issue_tokens(
    s: &AppState,
    user: User,
    token_version: i64,
    family: Option<String>,
) -> ApiResult<TokenResponse> {
    let settings = &s.auth.settings;
    let family = family.unwrap_or_else(vpp_store::new_id);
    let access_token = s.auth.issue_access_token(&user.id, &user.username, user.role, token_version, &family)?;
    let refresh_token = random_token(32);
    let expires = vpp_store::now() + SignedDuration::from_secs(settings.refresh_ttl.as_secs() as i64);
    s.store.insert_refresh_token(&user.id, &family, &sha256_hex(&refresh_token), expires).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: settings.access_ttl.as_secs(),
        refresh_token,
        refresh_expires_in: settings.refresh_ttl.as_secs(),
        user,
    })
}

/// Log in with username and password. Five failures in a row from one
/// address lock that username for that address for 15 minutes (doubling
/// for each further lockout, at most a day), answered like a wrong
/// password; bursts are answered 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, security(),
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn login(State(s): State<AppState>, request: Request) -> ApiResult<Json<TokenResponse>> {
    let (ip, LoginRequest { username, password }) = body(&s, request).await?;
    if let Err(e) = s.auth.check_login_rate(&ip, &username) {
        session_audit(&s, "login", &ip, None, &username, StatusCode::TOO_MANY_REQUESTS, "rate limited").await;
        return Err(e);
    }
    let now = Timestamp::now();
    // Locks are per (username, address), for known and unknown names alike,
    // and answered like a wrong password: nobody can lock a user out from
    // elsewhere, and no answer tells whether a name exists or is locked.
    let locked = s.store.login_locked_until(&username, &ip, now).await?;
    let creds = s.store.user_credentials(&username).await?;
    let known = creds.as_ref().map(|c| c.user.clone());
    let hash = creds.as_ref().filter(|_| locked.is_none()).map(|c| c.password_hash.as_str());
    let ok = s.auth.verify_password(&password, hash).await;
    let refused = unauthorized("wrong username or password");
    if let Some(until) = locked {
        let detail = format!("locked for this address until {until}");
        session_audit(&s, "login_failed", &ip, known.as_ref(), &username, StatusCode::UNAUTHORIZED, &detail).await;
        return Err(refused);
    }
    let Some(creds) = creds.filter(|_| ok) else {
        let lockout = SignedDuration::from_secs(s.auth.settings.lockout.as_secs() as i64);
        let locked =
            s.store.record_login_failure(&username, &ip, s.auth.settings.max_failed_logins, lockout, now).await?;
        let mut detail = "wrong username or password".to_string();
        if let Some(until) = locked {
            detail.push_str(&format!("; locked for this address until {until}"));
        }
        session_audit(&s, "login_failed", &ip, known.as_ref(), &username, StatusCode::UNAUTHORIZED, &detail).await;
        return Err(refused);
    };
    let user = creds.user;
    if !user.active {
        session_audit(&s, "login_failed", &ip, Some(&user), &username, StatusCode::UNAUTHORIZED, "user disabled").await;
        return Err(unauthorized("the user is disabled"));
    }
    s.store.clear_login_failures(&username, &ip).await?;
    session_audit(&s, "login", &ip, Some(&user), &username, StatusCode::OK, "logged in").await;
    let user = User { locked_until: None, ..user };
    Ok(Json(issue_tokens(&s, user, creds.token_version, None).await?))
}

/// Trade a refresh token for a new access and refresh token. Each refresh
/// token works once; presenting a used one revokes the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, security(),
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
async fn refresh(State(s): State<AppState>, request: Request) -> ApiResult<Json<TokenResponse>> {
    let (ip, RefreshRequest { refresh_token }) = body(&s, request).await?;
    let Some(token) = s.store.find_refresh_token(&sha256_hex(&refresh_token)).await? else {
        return Err(unauthorized("unknown refresh token"));
    };
    let user = s.store.get_user(&token.user_id).await?;
    if token.revoked_at.is_some() || !s.store.consume_refresh_token(&token.id).await? {
        s.store.revoke_refresh_family(&token.family_id).await?;
        s.auth.revoke_session(&s.store, &token.family_id).await?;
        session_audit(
            &s,
            "refresh_replayed",
            &ip,
            Some(&user),
            &user.username,
            StatusCode::UNAUTHORIZED,
            "used token presented; session revoked",
        )
        .await;
        return Err(unauthorized("the refresh token was already used or revoked; log in again"));
    }
    if token.expires_at <= Timestamp::now() {
        return Err(unauthorized("the refresh token expired; log in again"));
    }
    let state = s.store.user_state(&user.id).await?.ok_or_else(|| unauthorized("the user no longer exists"))?;
    if !state.active {
        return Err(unauthorized("the user is disabled"));
    }
    session_audit(&s, "refresh", &ip, Some(&user), &user.username, StatusCode::OK, "tokens rotated").await;
    Ok(Json(issue_tokens(&s, user, state.token_version, Some(token.family_id)).await?))
}

/// End a session: its refresh tokens and its access tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest, security(),
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout(State(s): State<AppState>, request: Request) -> ApiResult<StatusCode> {
    let (ip, RefreshRequest { refresh_token }) = body(&s, request).await?;
    let Some(token) = s.store.find_refresh_token(&sha256_hex(&refresh_token)).await? else {
        return Err(unauthorized("unknown refresh token"));
    };
    s.store.revoke_refresh_family(&token.family_id).await?;
    s.auth.revoke_session(&s.store, &token.family_id).await?;
    let user = s.store.get_user(&token.user_id).await?;
    session_audit(&s, "logout", &ip, Some(&user), &user.username, StatusCode::NO_CONTENT, "session revoked").await;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller and its permissions.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn me(Extension(p): Extension<Principal>) -> Json<Me> {
    let permissions = vpp_domain::auth::Permission::ALL
        .into_iter()
        .filter(|x| p.allows(*x))
        .map(|x| x.as_str().to_string())
        .collect();
    Json(Me { kind: p.kind().into(), id: p.id().into(), name: p.name().into(), role: p.role(), permissions })
}

/// List users.
#[utoipa::path(get, path = "/api/v1/auth/users", tag = "auth", params(PageQuery), responses((status = 200, body = UserList)))]
async fn list_users(State(s): State<AppState>, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<UserList>> {
    Ok(Json(s.store.list_users(page(q.page, q.size)?).await?.into()))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/auth/users", tag = "auth", request_body = UserRequest,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(s): State<AppState>,
    crate::extract::ApiJson(r): crate::extract::ApiJson<UserRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    r.validate()?;
    let hash = hash_password_async(&r.password).await?;
    let user = s.store.create_bound_user(&r.username, &hash, r.role, r.asset_owner.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Get a user.
#[utoipa::path(get, path = "/api/v1/auth/users/{id}", tag = "auth", responses((status = 200, body = User), (status = 404, body = Problem)))]
async fn get_user(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<User>> {
    Ok(Json(s.store.get_user(&id).await?))
}

/// Change a user's role or disable them; either voids their tokens at once.
#[utoipa::path(put, path = "/api/v1/auth/users/{id}", tag = "auth", request_body = UserUpdate,
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_user(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    crate::extract::ApiJson(u): crate::extract::ApiJson<UserUpdate>,
) -> ApiResult<Json<User>> {
    if p.id() == id && (u.active == Some(false) || u.role.is_some_and(|r| r != Role::Admin)) {
        return Err(
            ApiError::conflict("an admin cannot disable or demote themselves; ask another admin").field("active")
        );
    }
    // An asset owner's binding is made with the user: no role turns into
    // one, and it turns into no other.
    if let Some(role) = u.role {
        let user = s.store.get_user(&id).await?;
        if role != user.role && (role == Role::AssetOwner || user.role == Role::AssetOwner) {
            return Err(ApiError::invalid(
                "role",
                "an asset_owner is created with its owner and keeps its role; create another user instead",
            ));
        }
    }
    Ok(Json(s.store.update_user(&id, u.role, u.active).await?))
}

/// Set a new password; unlocks the account and voids every token.
#[utoipa::path(post, path = "/api/v1/auth/users/{id}/reset-password", tag = "auth", request_body = PasswordReset,
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reset_password(
    State(s): State<AppState>,
    Path(id): Path<String>,
    crate::extract::ApiJson(r): crate::extract::ApiJson<PasswordReset>,
) -> ApiResult<Json<User>> {
    let mut errors = Errors::default();
    vpp_domain::auth::check_password(&mut errors, "password", &r.password);
    errors.finish(())?;
    s.store.get_user(&id).await?;
    let hash = hash_password_async(&r.password).await?;
    Ok(Json(s.store.set_password(&id, &hash).await?))
}

/// Revoke every session of a user (access and refresh tokens).
#[utoipa::path(post, path = "/api/v1/auth/users/{id}/revoke-sessions", tag = "auth",
    responses((status = 200, body = User), (status = 404, body = Problem)))]
async fn revoke_sessions(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<User>> {
    s.store.revoke_user_sessions(&id).await?;
    Ok(Json(s.store.get_user(&id).await?))
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/auth/api-keys", tag = "auth", params(PageQuery), responses((status = 200, body = ApiKeyList)))]
async fn list_api_keys(State(s): State<AppState>, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<ApiKeyList>> {
    Ok(Json(s.store.list_api_keys(page(q.page, q.size)?).await?.into()))
}

/// Create a scoped API key. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/auth/api-keys", tag = "auth", request_body = ApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = Problem)))]
async fn create_api_key(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    crate::extract::ApiJson(r): crate::extract::ApiJson<ApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    r.validate()?;
    let id = vpp_store::new_id().replace('-', "");
    let secret = random_token(32);
    let key = s.store.create_api_key(&id, &sha256_hex(&secret), &r, p.name(), p.owner_id()).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, secret: format!("vppk_{id}.{secret}") })))
}

/// Revoke an API key for good.
#[utoipa::path(delete, path = "/api/v1/auth/api-keys/{id}", tag = "auth",
    responses((status = 200, body = ApiKey), (status = 404, body = Problem)))]
async fn revoke_api_key(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(s.store.revoke_api_key(&id).await?))
}

/// The audit trail, newest first, filtered by actor, entity and time.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_audit(State(s): State<AppState>, ApiQuery(q): ApiQuery<AuditQuery>) -> ApiResult<Json<AuditList>> {
    let filter = AuditFilter {
        actor_id: q.actor_id,
        actor_name: q.actor,
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        from: q.from,
        to: q.to,
    };
    Ok(Json(s.store.list_audit(&filter, page(q.page, q.size)?).await?.into()))
}
