//! Who may do what: roles, permissions, the permission matrix, users and API keys.
//!
//! The matrix is written down once, here ([`MATRIX`]); the server maps every
//! route to one [`Permission`] and asks [`Role::allows`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, API keys and the audit trail.
    Admin,
    /// Resources, VPPs, telemetry and dispatch.
    Operator,
    /// Strategies, bids and markets.
    Trader,
    /// Reads everything, including reports and the audit trail.
    Analyst,
    /// Reads, nothing else.
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [Self::Admin, Self::Operator, Self::Trader, Self::Analyst, Self::Viewer];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Trader => "trader",
            Self::Analyst => "analyst",
            Self::Viewer => "viewer",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True if the matrix grants `permission` to this role.
    pub fn allows(self, permission: Permission) -> bool {
        MATRIX.iter().any(|(p, roles)| *p == permission && roles.contains(&self))
    }
}

/// One thing a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Permission {
    /// Read templates, resources, status history, real-time data, imports.
    #[serde(rename = "registry:read")]
    RegistryRead,
    /// Create and change templates and resources, change status, import technical data.
    #[serde(rename = "registry:write")]
    RegistryWrite,
    /// Report device telemetry.
    #[serde(rename = "telemetry:write")]
    TelemetryWrite,
    /// Create series and store beliefs (forecasts, measurements, prices).
    #[serde(rename = "series:write")]
    SeriesWrite,
    /// Read VPPs, aggregated parameters, conflicts, dispatch history and execution status.
    #[serde(rename = "vpps:read")]
    VppsRead,
    /// Create, change and delete VPPs and their members.
    #[serde(rename = "vpps:write")]
    VppsWrite,
    /// Dispatch power targets to a VPP.
    #[serde(rename = "dispatch:write")]
    DispatchWrite,
    /// Bids, trades and market connectors (markets issue).
    #[serde(rename = "trading:write")]
    TradingWrite,
    /// Read the audit trail.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Manage users and revoke their sessions.
    #[serde(rename = "users:manage")]
    UsersManage,
    /// Create, list and revoke API keys.
    #[serde(rename = "apikeys:manage")]
    ApiKeysManage,
    /// Scrape Prometheus metrics.
    #[serde(rename = "metrics:read")]
    MetricsRead,
    /// Tariffs, holiday calendars, sites, load curves, adjustable loads, actual bills and configuration.
    #[serde(rename = "parks:write")]
    ParksWrite,
    /// Strategies: create, change, delete, change status, backtest.
    #[serde(rename = "strategies:write")]
    StrategiesWrite,
    /// Ingestion sources: create, change, delete, run. They read server
    /// folders and send secrets to the URLs they name, so only admins.
    #[serde(rename = "ingestion:manage")]
    IngestionManage,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 15] = [
        Self::RegistryRead,
        Self::RegistryWrite,
        Self::TelemetryWrite,
        Self::SeriesWrite,
        Self::VppsRead,
        Self::VppsWrite,
        Self::DispatchWrite,
        Self::TradingWrite,
        Self::AuditRead,
        Self::UsersManage,
        Self::ApiKeysManage,
        Self::MetricsRead,
        Self::ParksWrite,
        Self::StrategiesWrite,
        Self::IngestionManage,
    ];

    /// Stable wire name, e.g. `telemetry:write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistryRead => "registry:read",
            Self::RegistryWrite => "registry:write",
            Self::TelemetryWrite => "telemetry:write",
            Self::SeriesWrite => "series:write",
            Self::VppsRead => "vpps:read",
            Self::VppsWrite => "vpps:write",
            Self::DispatchWrite => "dispatch:write",
            Self::TradingWrite => "trading:write",
            Self::AuditRead => "audit:read",
            Self::UsersManage => "users:manage",
            Self::ApiKeysManage => "apikeys:manage",
            Self::MetricsRead => "metrics:read",
            Self::ParksWrite => "parks:write",
            Self::StrategiesWrite => "strategies:write",
            Self::IngestionManage => "ingestion:manage",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

use Role::{Admin, Analyst, Operator, Trader, Viewer};

/// The permission matrix: which roles hold each permission.
pub const MATRIX: [(Permission, &[Role]); 15] = [
    (Permission::RegistryRead, &[Admin, Operator, Trader, Analyst, Viewer]),
    (Permission::RegistryWrite, &[Admin, Operator]),
    (Permission::TelemetryWrite, &[Admin, Operator]),
    (Permission::SeriesWrite, &[Admin, Operator, Trader]),
    (Permission::VppsRead, &[Admin, Operator, Trader, Analyst, Viewer]),
    (Permission::VppsWrite, &[Admin, Operator]),
    (Permission::DispatchWrite, &[Admin, Operator]),
    (Permission::TradingWrite, &[Admin, Trader]),
    (Permission::AuditRead, &[Admin, Analyst]),
    (Permission::UsersManage, &[Admin]),
    (Permission::ApiKeysManage, &[Admin]),
    (Permission::MetricsRead, &[Admin, Operator, Analyst]),
    (Permission::ParksWrite, &[Admin, Operator]),
    (Permission::StrategiesWrite, &[Admin, Trader]),
    (Permission::IngestionManage, &[Admin]),
];

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Checks a username: 3..64 of `[a-z0-9._-]`, starting with a letter or digit.
pub fn check_username(errors: &mut Errors, field: &str, username: &str) {
    let ok = (3..=64).contains(&username.len())
        && username.starts_with(|c: char| c.is_ascii_alphanumeric())
        && username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    errors.check(ok, field, "must be 3 to 64 characters of a-z, 0-9, '.', '_' or '-'");
}

/// Checks a new password: 12..256 characters.
pub fn check_password(errors: &mut Errors, field: &str, password: &str) {
    let n = password.chars().count();
    errors.check(n >= MIN_PASSWORD_LEN, field, format!("must be at least {MIN_PASSWORD_LEN} characters"));
    errors.check(n <= 256, field, "must be at most 256 characters");
}

/// A user as the API shows it (never with a password or hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Server-assigned id.
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot log in and their tokens stop working.
    pub active: bool,
    /// Locked after repeated failed logins until this time.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<Timestamp>,
    /// When created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A request to create a user.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// Login name.
    pub username: String,
    /// Initial password (at least 12 characters).
    pub password: String,
    /// Role.
    pub role: Role,
}

impl UserRequest {
    /// Checks username and password.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        check_username(&mut errors, "username", &self.username);
        check_password(&mut errors, "password", &self.password);
        errors.finish(())
    }
}

/// An API key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Key id; also the public prefix of the key.
    pub id: String,
    /// What the key is for.
    pub name: String,
    /// Permissions granted.
    pub scopes: Vec<Permission>,
    /// If set, the key acts only on this VPP and its members.
    pub vpp_id: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// User id of the key's owner (its creator, or the owner of the key
    /// that created it): the key acts for that person, so four eyes never
    /// lets it approve the owner's bids.
    pub owner_id: Option<String>,
    /// When created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When revoked; revoked keys authenticate nothing.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    /// Last successful use.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
}

/// A request to create an API key.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    /// What the key is for, e.g. `gateway Adlershof`.
    pub name: String,
    /// Permissions, e.g. `["telemetry:write"]`. Management permissions cannot be given to keys.
    pub scopes: Vec<Permission>,
    /// Restrict the key to one VPP and its member resources.
    #[serde(default)]
    pub vpp_id: Option<String>,
}

impl ApiKeyRequest {
    /// Checks name and scopes.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        crate::error::check_name(&mut errors, "name", &self.name);
        errors.check(!self.scopes.is_empty(), "scopes", "give at least one scope");
        for (i, s) in self.scopes.iter().enumerate() {
            errors.check(
                !matches!(s, Permission::UsersManage | Permission::ApiKeysManage),
                format!("scopes[{i}]"),
                format!("{} cannot be given to an API key", s.as_str()),
            );
        }
        errors.finish(())
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// `user`, `api_key` or `anonymous`.
    pub actor_kind: String,
    /// User or key id; null for anonymous.
    pub actor_id: Option<String>,
    /// Username or key name (for failed logins: the name tried).
    pub actor_name: Option<String>,
    /// Role of the user, if a user.
    pub role: Option<Role>,
    /// What was done, e.g. `POST /api/v1/vpp/vpps/{id}/dispatch` or `login`.
    pub action: String,
    /// HTTP status of the answer.
    pub status: i64,
    /// Kind of entity changed, e.g. `vpp`.
    pub entity_type: Option<String>,
    /// Its id.
    pub entity_id: Option<String>,
    /// The entity before (null for creations and failures).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The entity after, or the answer for actions (secrets redacted).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// Client address, if known.
    pub ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_in_the_matrix_once() {
        for p in Permission::ALL {
            assert_eq!(MATRIX.iter().filter(|(q, _)| *q == p).count(), 1, "{p:?}");
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn viewer_only_reads_and_admin_does_everything() {
        for p in Permission::ALL {
            assert!(Role::Admin.allows(p));
            assert_eq!(
                Role::Viewer.allows(p),
                p.as_str().ends_with(":read") && p != Permission::AuditRead && p != Permission::MetricsRead,
                "{p:?}"
            );
        }
        assert!(Role::Operator.allows(Permission::DispatchWrite));
        assert!(!Role::Trader.allows(Permission::DispatchWrite));
        assert!(Role::Trader.allows(Permission::TradingWrite));
        assert!(Role::Analyst.allows(Permission::AuditRead));
    }

    #[test]
    fn usernames_and_passwords() {
        let check =
            |u: &str, p: &str| UserRequest { username: u.into(), password: p.into(), role: Role::Viewer }.validate();
        assert!(check("ops.lead-1", "correct horse battery").is_ok());
        assert_eq!(check("Admin", "correct horse battery").expect_err("upper case").0[0].field, "username");
        assert_eq!(check("ab", "correct horse battery").expect_err("short").0[0].field, "username");
        assert_eq!(check("alice", "short").expect_err("short").0[0].field, "password");
        assert!(check("x'; DROP TABLE users; --", "correct horse battery").is_err());
    }
}
