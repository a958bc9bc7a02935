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
    /// Reads its own assets' data, invoices and reports (those whose
    /// technical data names its owner), and nothing else; writes nothing.
    AssetOwner,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] =
        [Self::Admin, Self::Operator, Self::Trader, Self::Analyst, Self::Viewer, Self::AssetOwner];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Trader => "trader",
            Self::Analyst => "analyst",
            Self::Viewer => "viewer",
            Self::AssetOwner => "asset_owner",
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
    /// Read the caller's own assets, their data, invoices and reports
    /// (`/my/…`), for a user or key bound to an asset owner.
    #[serde(rename = "owner:read")]
    OwnerRead,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 16] = [
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
        Self::OwnerRead,
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
            Self::OwnerRead => "owner:read",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

use Role::{Admin, Analyst, AssetOwner, Operator, Trader, Viewer};

/// The permission matrix: which roles hold each permission.
pub const MATRIX: [(Permission, &[Role]); 16] = [
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
    (Permission::OwnerRead, &[AssetOwner]),
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
    /// The asset owner an `asset_owner` user is bound to (the `owner` of its assets' technical data).
    #[serde(default)]
    pub asset_owner: Option<String>,
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
    /// For `asset_owner`: the owner it is bound to, as the assets' technical data names it.
    #[serde(default)]
    pub asset_owner: Option<String>,
}

impl UserRequest {
    /// Checks username, password and the owner binding.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        check_username(&mut errors, "username", &self.username);
        check_password(&mut errors, "password", &self.password);
        check_binding(&mut errors, self.role == Role::AssetOwner, self.asset_owner.as_deref());
        errors.finish(())
    }
}

/// An `asset_owner` is bound to an owner, and only it is.
fn check_binding(errors: &mut Errors, owner_role: bool, asset_owner: Option<&str>) {
    match (owner_role, asset_owner.map(str::trim)) {
        (true, None | Some("")) => errors.push("asset_owner", "an asset_owner is bound to an owner: name it"),
        (true, Some(o)) => errors.check(o.len() <= 200, "asset_owner", "must be at most 200 characters"),
        (false, Some(_)) => {
            errors.push("asset_owner", "only an asset_owner (role or owner:read key) is bound to an owner")
        }
        (false, None) => {}
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
    /// The asset owner an `owner:read` key is bound to.
    #[serde(default)]
    pub asset_owner: Option<String>,
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
    /// For an `owner:read` key: the asset owner it reads for (then its only scope).
    #[serde(default)]
    pub asset_owner: Option<String>,
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
        let owner_key = self.scopes.contains(&Permission::OwnerRead);
        check_binding(&mut errors, owner_key, self.asset_owner.as_deref());
        // An owner's key reads its assets, and does nothing else.
        errors.check(
            !owner_key || self.scopes.iter().all(|s| *s == Permission::OwnerRead),
            "scopes",
            "an owner:read key carries no other scope",
        );
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
    /// `user`, `api_key`, `anonymous`, or `cli` (a control action taken with the `vpp` command).
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
            // owner:read is an asset owner's alone: it needs a binding no admin has.
            assert_eq!(Role::Admin.allows(p), p != Permission::OwnerRead, "{p:?}");
            assert_eq!(
                Role::Viewer.allows(p),
                p.as_str().ends_with(":read")
                    && p != Permission::AuditRead
                    && p != Permission::MetricsRead
                    && p != Permission::OwnerRead,
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
        let check = |u: &str, p: &str| {
            UserRequest { username: u.into(), password: p.into(), role: Role::Viewer, asset_owner: None }.validate()
        };
        assert!(check("ops.lead-1", "correct horse battery").is_ok());
        assert_eq!(check("Admin", "correct horse battery").expect_err("upper case").0[0].field, "username");
        assert_eq!(check("ab", "correct horse battery").expect_err("short").0[0].field, "username");
        assert_eq!(check("alice", "short").expect_err("short").0[0].field, "password");
        assert!(check("x'; DROP TABLE users; --", "correct horse battery").is_err());
    }

    #[test]
    fn an_asset_owner_is_bound_and_reads_only_its_own() {
        let owner = |o: Option<&str>| UserRequest {
            username: "nord".into(),
            password: "correct horse battery".into(),
            role: Role::AssetOwner,
            asset_owner: o.map(String::from),
        };
        assert_eq!(owner(None).validate().expect_err("unbound").0[0].field, "asset_owner");
        owner(Some("Bürgerwind Nord eG")).validate().unwrap();
        assert!(Permission::ALL.iter().all(|p| Role::AssetOwner.allows(*p) == (*p == Permission::OwnerRead)));
        let key = |scopes: Vec<Permission>, o: Option<&str>| ApiKeyRequest {
            name: "portal".into(),
            scopes,
            vpp_id: None,
            asset_owner: o.map(String::from),
        };
        key(vec![Permission::OwnerRead], Some("Heide Solar GmbH")).validate().unwrap();
        assert!(key(vec![Permission::OwnerRead], None).validate().is_err());
        assert!(key(vec![Permission::OwnerRead, Permission::VppsRead], Some("H")).validate().is_err());
        assert!(key(vec![Permission::VppsRead], Some("H")).validate().is_err());
    }
}
