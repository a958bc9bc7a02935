//! Users, refresh tokens, API keys and the audit trail.
//!
//! Secrets never reach this module in clear: it stores and compares hashes
//! computed by the caller. The audit table is append-only: this module has
//! no update or delete for it, and database triggers refuse both.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::auth::{ApiKey, AuditEntry, Permission, Role, User};

use crate::{Filters, Page, Paged, Result, Store, StoreError, from_micros, new_id, parse_enum, to_micros, unique};

/// What login needs to know about a user.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// PHC string of the password hash.
    pub password_hash: String,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// Bumped to invalidate every access token of the user.
    pub token_version: i64,
}

/// What request authentication needs to know about a user, per request.
#[derive(Debug, Clone)]
pub struct UserState {
    /// Login name.
    pub username: String,
    /// Current role.
    pub role: Role,
    /// Still allowed in.
    pub active: bool,
    /// Access tokens with another version are void.
    pub token_version: i64,
    /// The asset owner an `asset_owner` user is bound to.
    pub asset_owner: Option<String>,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Token id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Rotation family: every token descended from one login.
    pub family_id: String,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Set once used (rotated), logged out or revoked.
    pub revoked_at: Option<Timestamp>,
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// User or key id.
    pub actor_id: Option<String>,
    /// Username or key name.
    pub actor_name: Option<String>,
    /// Entity kind.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// From this time, inclusive.
    pub from: Option<Timestamp>,
    /// Until this time, exclusive.
    pub to: Option<Timestamp>,
}

/// A new audit record (the id and time are assigned on insert).
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    /// `user`, `api_key`, `anonymous`, or `cli` (a control action taken with the `vpp` command).
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Actor name.
    pub actor_name: Option<String>,
    /// Role.
    pub role: Option<Role>,
    /// Action.
    pub action: String,
    /// HTTP status.
    pub status: i64,
    /// Entity kind.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// Before.
    pub before: Option<serde_json::Value>,
    /// After.
    pub after: Option<serde_json::Value>,
    /// Client address.
    pub ip: Option<String>,
}

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: parse_enum(row, "role", Role::parse)?,
        active: row.try_get::<i64, _>("active")? != 0,
        locked_until: row.try_get::<Option<i64>, _>("locked_until")?.map(from_micros).transpose()?,
        asset_owner: row.try_get("asset_owner")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn api_key_from_row(row: &AnyRow) -> Result<ApiKey> {
    let scopes: Vec<String> = crate::from_json(row, "scopes")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: scopes
            .iter()
            .map(|s| Permission::parse(s).ok_or_else(|| StoreError::Corrupt(format!("scope `{s}`"))))
            .collect::<Result<_>>()?,
        vpp_id: row.try_get("vpp_id")?,
        asset_owner: row.try_get("asset_owner")?,
        created_by: row.try_get("created_by")?,
        owner_id: row.try_get("owner_id")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_micros).transpose()?,
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_micros).transpose()?,
    })
}

macro_rules! user_columns {
    () => {
        "id, username, role, active, locked_until, asset_owner, created_at, updated_at"
    };
}
const USER_COLUMNS: &str = user_columns!();

impl Store {
    /// Number of users.
    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// Creates a user with an already hashed password.
    pub async fn create_user(&self, username: &str, password_hash: &str, role: Role) -> Result<User> {
        self.create_bound_user(username, password_hash, role, None).await
    }

    /// Creates a user bound to an asset owner (validated by the caller).
    pub async fn create_bound_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        asset_owner: Option<&str>,
    ) -> Result<User> {
        let now = crate::now();
        let id = new_id();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, active, failed_logins, locked_until, token_version, \
             asset_owner, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, 0, NULL, 0, $6, $5, $5)",
        )
        .bind(id.clone())
        .bind(username.to_string())
        .bind(password_hash.to_string())
        .bind(role.as_str())
        .bind(to_micros(now))
        .bind(asset_owner.map(|o| o.trim().to_string()))
        .execute(&mut *w.tx)
        .await
        .map_err(unique("user", "username", username))?;
        w.tx.commit().await?;
        self.get_user(&id).await
    }

    /// One user.
    pub async fn get_user(&self, id: &str) -> Result<User> {
        self.user_where(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1")), id).await
    }

    /// One user by login name.
    pub async fn get_user_by_name(&self, username: &str) -> Result<User> {
        self.user_where(sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1")), username)
            .await
    }

    async fn user_where(
        &self,
        query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        value: &str,
    ) -> Result<User> {
        let row = query.bind(value.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref()
            .map(user_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "user", id: value.into() })
    }

    /// Users by name.
    pub async fn list_users(&self, page: Page) -> Result<Paged<User>> {
        let (total, rows) = Filters::new().page(&self.pool, "users", USER_COLUMNS, "username", page).await?;
        Ok(Paged {
            items: rows.iter().map(user_from_row).collect::<Result<_>>()?,
            total,
            page: page.page,
            size: page.size,
        })
    }

    /// Credentials for login, if the user exists.
    pub async fn user_credentials(&self, username: &str) -> Result<Option<UserCredentials>> {
        let row = sqlx::query(
            "SELECT id, username, role, active, locked_until, asset_owner, created_at, updated_at, password_hash, \
             failed_logins, token_version FROM users WHERE username = $1",
        )
        .bind(username.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(UserCredentials {
                user: user_from_row(&r)?,
                password_hash: r.try_get("password_hash")?,
                failed_logins: r.try_get("failed_logins")?,
                token_version: r.try_get("token_version")?,
            })
        })
        .transpose()
    }

    /// Role, activity and token version of a user, for authenticating a request.
    pub async fn user_state(&self, id: &str) -> Result<Option<UserState>> {
        let row = sqlx::query("SELECT username, role, active, token_version, asset_owner FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(UserState {
                username: r.try_get("username")?,
                role: parse_enum(&r, "role", Role::parse)?,
                active: r.try_get::<i64, _>("active")? != 0,
                token_version: r.try_get("token_version")?,
                asset_owner: r.try_get("asset_owner")?,
            })
        })
        .transpose()
    }

    /// Until when logins of `username` from `address` are locked, if they are now.
    pub async fn login_locked_until(&self, username: &str, address: &str, now: Timestamp) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT locked_until FROM login_failures WHERE username = $1 AND address = $2")
            .bind(username.to_lowercase())
            .bind(address.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let until = match row {
            Some(r) => r.try_get::<Option<i64>, _>("locked_until")?.map(from_micros).transpose()?,
            None => None,
        };
        Ok(until.filter(|t| *t > now))
    }

    /// Counts a failed login of `username` from `address` (known user or
    /// not, so a lock tells nothing). The `max_failures`-th in a row locks
    /// the pair for `lockout`, doubled for each earlier lockout of the pair
    /// (at most a day). Returns the lock's end if it locked now.
    pub async fn record_login_failure(
        &self,
        username: &str,
        address: &str,
        max_failures: i64,
        lockout: jiff::SignedDuration,
        now: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let (username, address) = (username.to_lowercase(), address.to_string());
        let mut w = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO login_failures (username, address, failures, lockouts, locked_until, updated_at) \
             VALUES ($1, $2, 1, 0, NULL, $3) \
             ON CONFLICT (username, address) DO UPDATE SET failures = login_failures.failures + 1, updated_at = $3 \
             RETURNING failures, lockouts",
        )
        .bind(username.clone())
        .bind(address.clone())
        .bind(to_micros(now))
        .fetch_one(&mut *w.tx)
        .await?;
        let (failures, lockouts): (i64, i64) = (row.try_get("failures")?, row.try_get("lockouts")?);
        let locked = if failures >= max_failures {
            let factor = 1i32 << lockouts.clamp(0, 16);
            let span = (lockout * factor).min(jiff::SignedDuration::from_hours(24));
            let until = now + span;
            sqlx::query(
                "UPDATE login_failures SET failures = 0, lockouts = lockouts + 1, locked_until = $3 \
                 WHERE username = $1 AND address = $2",
            )
            .bind(username)
            .bind(address)
            .bind(to_micros(until))
            .execute(&mut *w.tx)
            .await?;
            Some(until)
        } else {
            None
        };
        w.tx.commit().await?;
        Ok(locked)
    }

    /// Forgets the failed logins of `username` from `address` after a
    /// successful one.
    pub async fn clear_login_failures(&self, username: &str, address: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1 AND address = $2")
            .bind(username.to_lowercase())
            .bind(address.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Changes role and/or activity. Either change voids the user's tokens.
    pub async fn update_user(&self, id: &str, role: Option<Role>, active: Option<bool>) -> Result<User> {
        let current = self.get_user(id).await?;
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET role = $2, active = $3, token_version = token_version + 1, updated_at = $4 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(role.unwrap_or(current.role).as_str())
        .bind(active.unwrap_or(current.active) as i64)
        .bind(to_micros(crate::now()))
        .execute(&mut *w.tx)
        .await?;
        revoke_user_tokens(&mut w, id).await?;
        w.tx.commit().await?;
        self.get_user(id).await
    }

    /// Sets a new password hash, unlocks the account and voids every token.
    pub async fn set_password(&self, id: &str, password_hash: &str) -> Result<User> {
        self.get_user(id).await?;
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL, token_version = token_version + 1, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(password_hash.to_string())
        .bind(to_micros(crate::now()))
        .execute(&mut *w.tx)
        .await?;
        // A new password lifts every address's lock of this user.
        sqlx::query("DELETE FROM login_failures WHERE username = (SELECT lower(username) FROM users WHERE id = $1)")
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        revoke_user_tokens(&mut w, id).await?;
        w.tx.commit().await?;
        self.get_user(id).await
    }

    /// Voids every access and refresh token of a user.
    pub async fn revoke_user_sessions(&self, id: &str) -> Result<()> {
        self.get_user(id).await?;
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE users SET token_version = token_version + 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        revoke_user_tokens(&mut w, id).await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Stores a new refresh token (its hash).
    pub async fn insert_refresh_token(
        &self,
        user_id: &str,
        family_id: &str,
        token_hash: &str,
        expires_at: Timestamp,
    ) -> Result<String> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.clone())
        .bind(user_id.to_string())
        .bind(family_id.to_string())
        .bind(token_hash.to_string())
        .bind(to_micros(expires_at))
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Finds a refresh token by its hash.
    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        let row = sqlx::query(
            "SELECT id, user_id, family_id, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(RefreshToken {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                family_id: r.try_get("family_id")?,
                expires_at: from_micros(r.try_get("expires_at")?)?,
                revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(from_micros).transpose()?,
            })
        })
        .transpose()
    }

    /// Marks a refresh token used, if it still is unused. Returns false if it
    /// was already revoked (a replay: the caller should revoke the family).
    pub async fn consume_refresh_token(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(to_micros(crate::now()))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Revokes every token of a rotation family (logout, or a replayed token).
    pub async fn revoke_refresh_family(&self, family_id: &str) -> Result<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
            .bind(family_id.to_string())
            .bind(to_micros(crate::now()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that a session (refresh token family) was logged out.
    pub async fn revoke_session(&self, family_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO revoked_sessions (family_id, revoked_at) VALUES ($1, $2) ON CONFLICT (family_id) DO NOTHING",
        )
        .bind(family_id.to_string())
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a session was logged out.
    pub async fn session_revoked(&self, family_id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM revoked_sessions WHERE family_id = $1")
            .bind(family_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Stores a new API key (its secret hashed).
    pub async fn create_api_key(
        &self,
        id: &str,
        secret_hash: &str,
        request: &vpp_domain::auth::ApiKeyRequest,
        created_by: &str,
        owner_id: Option<&str>,
    ) -> Result<ApiKey> {
        let (name, scopes, vpp_id) = (&request.name, &request.scopes, request.vpp_id.as_deref());
        if let Some(v) = vpp_id {
            match self.get_vpp(v).await {
                Err(StoreError::NotFound { .. }) => {
                    return Err(vpp_domain::Invalid::one("vpp_id", format!("VPP `{v}` does not exist")).into());
                }
                other => other?,
            };
        }
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        sqlx::query(
            "INSERT INTO api_keys (id, name, secret_hash, scopes, vpp_id, created_by, owner_id, created_at, asset_owner) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(name.trim().to_string())
        .bind(secret_hash.to_string())
        .bind(crate::to_json(&names))
        .bind(vpp_id.map(String::from))
        .bind(created_by.to_string())
        .bind(owner_id.map(String::from))
        .bind(to_micros(crate::now()))
        .bind(request.asset_owner.as_deref().map(|o| o.trim().to_string()))
        .execute(&self.pool)
        .await?;
        self.get_api_key(id).await.map(|(k, _)| k)
    }

    /// A key and its secret hash.
    pub async fn get_api_key(&self, id: &str) -> Result<(ApiKey, String)> {
        let row = sqlx::query(
            "SELECT id, name, secret_hash, scopes, vpp_id, asset_owner, created_by, owner_id, created_at, revoked_at, \
             last_used_at FROM api_keys WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "api key", id: id.into() })?;
        Ok((api_key_from_row(&row)?, row.try_get("secret_hash")?))
    }

    /// Keys, newest first, without secrets.
    pub async fn list_api_keys(&self, page: Page) -> Result<Paged<ApiKey>> {
        let (total, rows) = Filters::new()
            .page(
                &self.pool,
                "api_keys",
                "id, name, scopes, vpp_id, asset_owner, created_by, owner_id, created_at, revoked_at, last_used_at",
                "created_at DESC, id",
                page,
            )
            .await?;
        Ok(Paged {
            items: rows.iter().map(api_key_from_row).collect::<Result<_>>()?,
            total,
            page: page.page,
            size: page.size,
        })
    }

    /// Revokes a key for good.
    pub async fn revoke_api_key(&self, id: &str) -> Result<ApiKey> {
        self.get_api_key(id).await?;
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(to_micros(crate::now()))
            .execute(&self.pool)
            .await?;
        self.get_api_key(id).await.map(|(k, _)| k)
    }

    /// Notes that a key was used (callers throttle this).
    pub async fn touch_api_key(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(to_micros(crate::now()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// True if `resource_id` is a member of `vpp_id`.
    pub async fn is_member(&self, vpp_id: &str, resource_id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 AS one FROM vpp_members WHERE vpp_id = $1 AND resource_id = $2")
            .bind(vpp_id.to_string())
            .bind(resource_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Appends an audit record.
    pub async fn append_audit(&self, a: NewAudit) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, role, action, status, entity_type, entity_id, before_json, after_json, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(to_micros(crate::now()))
        .bind(a.actor_kind)
        .bind(a.actor_id)
        .bind(a.actor_name)
        .bind(a.role.map(|r| r.as_str().to_string()))
        .bind(a.action)
        .bind(a.status)
        .bind(a.entity_type)
        .bind(a.entity_id)
        .bind(a.before.map(|v| v.to_string()))
        .bind(a.after.map(|v| v.to_string()))
        .bind(a.ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Audit records, newest first.
    pub async fn list_audit(&self, filter: &AuditFilter, page: Page) -> Result<Paged<AuditEntry>> {
        let mut clauses = Vec::new();
        let mut texts = Vec::new();
        let mut times = Vec::new();
        for (column, value) in [
            ("actor_id", &filter.actor_id),
            ("actor_name", &filter.actor_name),
            ("entity_type", &filter.entity_type),
            ("entity_id", &filter.entity_id),
        ] {
            if let Some(v) = value {
                texts.push(v.clone());
                clauses.push(format!("{column} = ${}", texts.len()));
            }
        }
        for (op, value) in [(">=", filter.from), ("<", filter.to)] {
            if let Some(t) = value {
                times.push(to_micros(t));
                clauses.push(format!("at {op} ${}", texts.len() + times.len()));
            }
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let n = texts.len() + times.len();
        let count_sql = format!("SELECT COUNT(*) AS n FROM audit_log{where_sql}");
        let list_sql = format!(
            "SELECT id, at, actor_kind, actor_id, actor_name, role, action, status, entity_type, entity_id, before_json, after_json, ip \
             FROM audit_log{where_sql} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql));
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for v in &texts {
            count = count.bind(v.clone());
            list = list.bind(v.clone());
        }
        for t in &times {
            count = count.bind(*t);
            list = list.bind(*t);
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let rows = list.bind(page.size).bind(page.offset()).fetch_all(&self.pool).await?;
        let json = |r: &AnyRow, col: &str| -> Result<Option<serde_json::Value>> {
            r.try_get::<Option<String>, _>(col)?
                .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
                .transpose()
        };
        let items = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: from_micros(r.try_get("at")?)?,
                    actor_kind: r.try_get("actor_kind")?,
                    actor_id: r.try_get("actor_id")?,
                    actor_name: r.try_get("actor_name")?,
                    role: r.try_get::<Option<String>, _>("role")?.and_then(|s| Role::parse(&s)),
                    action: r.try_get("action")?,
                    status: r.try_get("status")?,
                    entity_type: r.try_get("entity_type")?,
                    entity_id: r.try_get("entity_id")?,
                    before: json(r, "before_json")?,
                    after: json(r, "after_json")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Paged { items, total, page: page.page, size: page.size })
    }
}

async fn revoke_user_tokens(w: &mut crate::WriteTx<'_>, user_id: &str) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id.to_string())
        .bind(to_micros(crate::now()))
        .execute(&mut *w.tx)
        .await?;
    Ok(())
}
