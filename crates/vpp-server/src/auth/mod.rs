//! Authentication and authorisation.
//!
//! - Users log in with a password (argon2id) and get a short-lived HS256 JWT
//!   access token and an opaque refresh token that rotates on every use; a
//!   replayed refresh token revokes its whole family.
//! - Machines use API keys `vppk_<id>.<secret>`: the secret is stored as a
//!   SHA-256 hash (it is 256 random bits, so a slow hash adds nothing) and
//!   compared in constant time. Keys carry scopes and may be bound to one VPP.
//! - Every route has exactly one rule in [`rules::RULES`]; a route without a
//!   rule is refused (fail closed), and a test walks every route × role.
//! - Every state-changing request is recorded in the append-only audit trail.

pub mod audit;
pub mod middleware;
pub mod refusals;
pub mod rules;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vpp_domain::auth::{Permission, Role};
use vpp_store::{Store, UserState};

use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;

/// Settings of authentication, sessions and rate limits.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// HMAC secret for access tokens: `env:NAME`, `file:/path` or the
    /// secret itself (at least 32 bytes). When `None`, each process draws a
    /// random one that is never stored: tokens then end with the process
    /// (clients refresh), and several nodes need a configured secret.
    pub jwt_secret: Option<String>,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Failed logins in a row that lock an account.
    pub max_failed_logins: i64,
    /// How long a locked account stays locked.
    pub lockout: Duration,
    /// Login attempts per minute per client address and per username (also the burst).
    pub logins_per_minute: u32,
    /// Write requests per second per authenticated caller (user or API
    /// key), whatever its address: one caller cannot spend another's budget.
    pub writes_per_second: u32,
    /// Burst of write requests above the steady rate.
    pub write_burst: u32,
    /// Control actions (dispatch, status changes, bids, the kill switch)
    /// per second per caller: a budget of their own, so bulk writes never
    /// hold back a dispatch.
    pub control_per_second: u32,
    /// Burst of control actions above the steady rate.
    pub control_burst: u32,
    /// Requests per second per client address that carry no valid
    /// credential, reads and writes: past it they are answered 429 before
    /// anything is written.
    pub anonymous_per_second: u32,
    /// Burst of such requests above the steady rate.
    pub anonymous_burst: u32,
    /// How long user and key state may be cached before it is read again.
    pub cache_ttl: Duration,
    /// Reverse proxies trusted to name the client in `X-Forwarded-For`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            max_failed_logins: 5,
            lockout: Duration::from_secs(15 * 60),
            logins_per_minute: 20,
            writes_per_second: 100,
            write_burst: 500,
            control_per_second: 20,
            control_burst: 100,
            anonymous_per_second: 5,
            anonymous_burst: 50,
            cache_ttl: Duration::from_secs(2),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A logged-in user.
    User {
        /// User id.
        id: String,
        /// Login name.
        username: String,
        /// Current role.
        role: Role,
        /// The asset owner an `asset_owner` user is bound to.
        asset_owner: Option<String>,
    },
    /// A machine with an API key.
    ApiKey {
        /// Key id.
        id: String,
        /// Key name.
        name: String,
        /// User id of the key's owner, if known.
        owner_id: Option<String>,
        /// Granted permissions.
        scopes: Vec<Permission>,
        /// VPP the key is bound to.
        vpp_id: Option<String>,
        /// The asset owner an `owner:read` key reads for.
        asset_owner: Option<String>,
    },
}

impl Principal {
    /// The name actions are recorded under: the login name, or
    /// `api-key:{name}`.
    pub fn actor_name(&self) -> String {
        match self {
            Principal::User { username, .. } => username.clone(),
            Principal::ApiKey { name, .. } => format!("api-key:{name}"),
        }
    }

    /// The caller as the application layer sees it: a key acts for its
    /// owner, so it shares the owner's party.
    pub fn actor(&self) -> vpp_app::Actor {
        let party = match self {
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::ApiKey { owner_id: Some(owner), .. } => format!("user:{owner}"),
            Principal::ApiKey { id, .. } => format!("key:{id}"),
        };
        vpp_app::Actor { name: self.actor_name(), party }
    }

    /// The user id this caller acts for: the user, or the key's owner.
    pub fn owner_id(&self) -> Option<&str> {
        match self {
            Principal::User { id, .. } => Some(id),
            Principal::ApiKey { owner_id, .. } => owner_id.as_deref(),
        }
    }

    /// The asset owner the caller is bound to, if any.
    pub fn asset_owner(&self) -> Option<&str> {
        match self {
            Self::User { asset_owner, .. } | Self::ApiKey { asset_owner, .. } => asset_owner.as_deref(),
        }
    }

    /// True if the caller holds `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        match self {
            Self::User { role, .. } => role.allows(permission),
            Self::ApiKey { scopes, .. } => scopes.contains(&permission),
        }
    }

    /// Stable id for rate limits and the audit trail.
    pub fn id(&self) -> &str {
        match self {
            Self::User { id, .. } | Self::ApiKey { id, .. } => id,
        }
    }

    /// Username or key name.
    pub fn name(&self) -> &str {
        match self {
            Self::User { username, .. } => username,
            Self::ApiKey { name, .. } => name,
        }
    }

    /// `user` or `api_key`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::ApiKey { .. } => "api_key",
        }
    }

    /// The user's role, if a user.
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::User { role, .. } => Some(*role),
            Self::ApiKey { .. } => None,
        }
    }
}

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    role: Role,
    /// The user's token version when issued; a change voids the token.
    ver: i64,
    /// The session (refresh token family) it belongs to; logging out of
    /// the session voids it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    iat: i64,
    exp: i64,
    typ: String,
}

/// A cached user or key state.
struct Cached<T> {
    value: T,
    at: Instant,
}

/// An API key and the hash of its secret.
type KeyWithHash = (vpp_domain::auth::ApiKey, String);

/// Keys, caches and rate limiters of authentication.
pub struct Auth {
    /// Settings.
    pub settings: AuthSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    users: RwLock<HashMap<String, Cached<Option<UserState>>>>,
    sessions: RwLock<HashMap<String, Cached<bool>>>,
    keys: RwLock<HashMap<String, Cached<Option<KeyWithHash>>>>,
    login_by_ip: DefaultKeyedRateLimiter<String>,
    login_by_user: DefaultKeyedRateLimiter<String>,
    writes_by_caller: DefaultKeyedRateLimiter<String>,
    control_by_caller: DefaultKeyedRateLimiter<String>,
    anonymous_by_ip: DefaultKeyedRateLimiter<String>,
    dummy_hash: String,
    /// Refused requests, counted per minute for the audit trail.
    pub refusals: refusals::Refusals,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("settings", &"…").finish_non_exhaustive()
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Auth {
    /// Sets up signing keys (from settings or the database) and limiters.
    pub async fn new(store: &Store, settings: AuthSettings) -> vpp_store::Result<Self> {
        let secret = match &settings.jwt_secret {
            Some(reference) => resolve_secret(reference)
                .map_err(|e| vpp_store::StoreError::Invalid(vpp_domain::Invalid::one("jwt_secret", e)))?,
            None => {
                tracing::warn!(
                    "no jwt_secret configured: access tokens are signed with a random key of this process \
                     (set jwt_secret = \"env:NAME\" or \"file:/path\" to keep them across restarts and nodes)"
                );
                random_token(32)
            }
        };
        // Earlier versions kept a generated secret in clear in the database,
        // where anyone who reads it could forge tokens: it is removed.
        store.meta_delete("jwt_secret").await?;
        let login = Quota::per_minute(nonzero(settings.logins_per_minute));
        let per_second = |rate, burst| Quota::per_second(nonzero(rate)).allow_burst(nonzero(burst));
        let writes = per_second(settings.writes_per_second, settings.write_burst);
        let control = per_second(settings.control_per_second, settings.control_burst);
        let anonymous = per_second(settings.anonymous_per_second, settings.anonymous_burst);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            users: RwLock::default(),
            sessions: RwLock::default(),
            keys: RwLock::default(),
            login_by_ip: RateLimiter::keyed(login),
            login_by_user: RateLimiter::keyed(login),
            writes_by_caller: RateLimiter::keyed(writes),
            control_by_caller: RateLimiter::keyed(control),
            anonymous_by_ip: RateLimiter::keyed(anonymous),
            dummy_hash: hash_password("timing-equaliser-not-a-password").unwrap_or_default(),
            refusals: refusals::Refusals::default(),
            settings,
        })
    }

    /// Drops cached user and key states (after user or key changes).
    pub fn forget_cached(&self) {
        self.users.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.keys.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Issues an access token for a user at `token_version`.
    pub fn issue_access_token(
        &self,
        user_id: &str,
        username: &str,
        role: Role,
        token_version: i64,
        session: &str,
    ) -> ApiResult<String> {
        let now = jiff::Timestamp::now().as_second();
        let claims = Claims {
            sub: user_id.into(),
            name: username.into(),
            role,
            ver: token_version,
            sid: Some(session.into()),
            iat: now,
            exp: now + self.settings.access_ttl.as_secs() as i64,
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Authenticates a bearer credential: an access token or an API key.
    pub async fn authenticate(&self, store: &Store, credential: &str) -> ApiResult<Principal> {
        if let Some(key) = credential.strip_prefix("vppk_") {
            return self.authenticate_key(store, key).await;
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(credential, &self.decoding, &validation)
            .map_err(|e| unauthorized(format!("invalid access token: {e}")))?;
        let c = data.claims;
        if c.typ != "access" {
            return Err(unauthorized("not an access token"));
        }
        // A token that claims a longer life than this server issues was not
        // made by it, whatever its signature.
        if c.exp.saturating_sub(c.iat) > self.settings.access_ttl.as_secs() as i64 {
            return Err(unauthorized("the token's lifetime exceeds the configured maximum"));
        }
        if let Some(sid) = &c.sid
            && self.session_revoked(store, sid).await?
        {
            return Err(unauthorized("the session was logged out; log in again"));
        }
        let state = self.user_state(store, &c.sub).await?.ok_or_else(|| unauthorized("the user no longer exists"))?;
        if !state.active {
            return Err(unauthorized("the user is disabled"));
        }
        if state.token_version != c.ver {
            return Err(unauthorized("the token was revoked; log in again"));
        }
        Ok(Principal::User { id: c.sub, username: state.username, role: state.role, asset_owner: state.asset_owner })
    }

    /// Whether a session was logged out (cached like user states; this
    /// node's own logouts count at once).
    async fn session_revoked(&self, store: &Store, sid: &str) -> ApiResult<bool> {
        if let Some(c) = self.sessions.read().unwrap_or_else(|e| e.into_inner()).get(sid)
            && (c.value || c.at.elapsed() < self.settings.cache_ttl)
        {
            return Ok(c.value);
        }
        let revoked = store.session_revoked(sid).await?;
        let mut cache = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 100_000 {
            cache.retain(|_, c| c.value && c.at.elapsed() < self.settings.access_ttl);
        }
        cache.insert(sid.into(), Cached { value: revoked, at: Instant::now() });
        Ok(revoked)
    }

    /// Records that a session was logged out: its access tokens stop working.
    pub async fn revoke_session(&self, store: &Store, sid: &str) -> ApiResult<()> {
        store.revoke_session(sid).await?;
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid.into(), Cached { value: true, at: Instant::now() });
        Ok(())
    }

    async fn user_state(&self, store: &Store, id: &str) -> ApiResult<Option<UserState>> {
        if let Some(c) = self.users.read().unwrap_or_else(|e| e.into_inner()).get(id)
            && c.at.elapsed() < self.settings.cache_ttl
        {
            return Ok(c.value.clone());
        }
        let state = store.user_state(id).await?;
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.into(), Cached { value: state.clone(), at: Instant::now() });
        Ok(state)
    }

    async fn authenticate_key(&self, store: &Store, key: &str) -> ApiResult<Principal> {
        let (id, secret) = key.split_once('.').ok_or_else(|| unauthorized("malformed API key"))?;
        let cached = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .filter(|c| c.at.elapsed() < self.settings.cache_ttl)
            .map(|c| c.value.clone());
        let entry = match cached {
            Some(v) => v,
            None => {
                let found = match store.get_api_key(id).await {
                    Ok(k) => Some(k),
                    Err(vpp_store::StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                self.keys
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.into(), Cached { value: found.clone(), at: Instant::now() });
                if found.as_ref().is_some_and(|(k, _)| {
                    k.last_used_at.is_none_or(|t| jiff::Timestamp::now().duration_since(t).as_secs() > 60)
                }) {
                    store.touch_api_key(id).await?;
                }
                found
            }
        };
        let (meta, hash) = entry.ok_or_else(|| unauthorized("unknown API key"))?;
        if !constant_time_eq(&sha256_hex(secret), &hash) {
            return Err(unauthorized("unknown API key"));
        }
        if meta.revoked_at.is_some() {
            return Err(unauthorized("the API key was revoked"));
        }
        Ok(Principal::ApiKey {
            id: meta.id,
            name: meta.name,
            owner_id: meta.owner_id,
            scopes: meta.scopes,
            vpp_id: meta.vpp_id,
            asset_owner: meta.asset_owner,
        })
    }

    /// Checks the login limits for an address and a username.
    pub fn check_login_rate(&self, ip: &str, username: &str) -> ApiResult<()> {
        check(&self.login_by_ip, ip.to_string())?;
        check(&self.login_by_user, username.to_string())
    }

    /// Checks an authenticated caller's write budget: the control budget
    /// for control actions, the general one for other writes.
    pub fn check_write_rate(&self, caller: &str, control: bool) -> ApiResult<()> {
        let limiter = if control { &self.control_by_caller } else { &self.writes_by_caller };
        check(limiter, caller.to_string())
    }

    /// Checks the budget of requests without a valid credential from an address.
    pub fn check_anonymous_rate(&self, ip: &str) -> ApiResult<()> {
        check(&self.anonymous_by_ip, ip.to_string())
    }

    /// Verifies a password against a PHC hash; with no hash, burns the same
    /// time against a dummy so unknown usernames cannot be told by timing.
    pub async fn verify_password(&self, password: &str, hash: Option<&str>) -> bool {
        let (password, hash, real) =
            (password.to_string(), hash.unwrap_or(&self.dummy_hash).to_string(), hash.is_some());
        tokio::task::spawn_blocking(move || {
            let ok = PasswordHash::new(&hash)
                .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
            ok && real
        })
        .await
        .unwrap_or(false)
    }
}

/// The JWT secret a setting names: `env:NAME`, `file:/path`, or the
/// secret itself. It must have at least 32 bytes.
pub fn resolve_secret(reference: &str) -> Result<String, String> {
    let secret = if reference.starts_with("env:") || reference.starts_with("file:") {
        vpp_domain::secret::resolve(reference).map_err(|e| format!("jwt_secret: {e}"))?
    } else {
        reference.to_string()
    };
    if secret.len() < 32 {
        return Err(format!("jwt_secret: needs at least 32 bytes, got {}", secret.len()));
    }
    Ok(secret)
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> ApiResult<()> {
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("slow down; retry in {secs} s"),
        )
        .with("retry_after_s", secs.max(1))
    })
}

/// 401 with a reason.
pub fn unauthorized(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
}

// Password hashing and tokens belong to the users use cases; the HTTP
// layer uses them from there.
pub use vpp_app::users::{hash_password, hash_password_async, random_token};

/// Hex SHA-256 of a high-entropy secret.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Shared handle.
pub type SharedAuth = Arc<Auth>;

#[cfg(test)]
mod tests {
    use super::resolve_secret;

    #[test]
    fn jwt_secrets_come_from_references() {
        let path = std::env::temp_dir().join(format!("vpp-jwt-{}", std::process::id()));
        std::fs::write(&path, "s".repeat(40) + "\n").unwrap();
        assert_eq!(resolve_secret(&format!("file:{}", path.display())).unwrap(), "s".repeat(40));
        std::fs::remove_file(&path).unwrap();
        assert!(resolve_secret(&format!("file:{}", path.display())).unwrap_err().contains("cannot read"));
        assert!(resolve_secret("env:VPP_TEST_SURELY_UNSET_SECRET").unwrap_err().contains("not set"));
        assert!(resolve_secret("too-short").unwrap_err().contains("at least 32 bytes"));
        assert_eq!(resolve_secret(&"x".repeat(32)).unwrap(), "x".repeat(32));
    }
}
