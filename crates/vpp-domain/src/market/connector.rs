//! Market connector configuration: which market, which kind of connector,
//! where it connects, how it authenticates and the market's trading rules.
//!
//! Credentials are never stored in clear: a connector holds a *secret
//! reference* (`env:NAME` or `file:/path`) that the server resolves when it
//! connects, and the reference is all the API ever returns.

use serde::{Deserialize, Serialize};

use super::exchange::SimulationConfig;
use super::rules::TradingRules;
use crate::error::{Errors, Invalid, check_name};
use crate::vpp::MarketType;

/// How a connector reaches its market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    /// The built-in simulated exchange (no outside service).
    Simulated,
    /// Imports exchange exports (prices, trades, imbalance prices); takes no bids.
    File,
}

impl ConnectorKind {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::File => "file",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Simulated, Self::File].into_iter().find(|k| k.as_str() == s)
    }
}

/// How a connector authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No credentials (simulated exchange, files).
    None,
    /// A secret the server reads when it connects: `env:NAME` or `file:/path`.
    SecretRef {
        /// Account or user name at the market (not secret).
        #[serde(default)]
        username: Option<String>,
        /// Where the secret lives.
        secret_ref: String,
    },
}

/// What a client sends to configure a connector.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorRequest {
    /// Unique name, e.g. `EPEX DE day-ahead (simulated)`.
    pub name: String,
    /// The market it trades.
    pub market_type: MarketType,
    /// `simulated` (default) or `file`.
    #[serde(default)]
    pub kind: Option<ConnectorKind>,
    /// Market endpoint URL; none for the built-in kinds.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Credentials by reference; default none.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Trading rules; default: the market type's usual rules.
    #[serde(default)]
    pub rules: Option<TradingRules>,
    /// Simulated exchange: counterparty settings.
    #[serde(default)]
    pub simulation: Option<SimulationConfig>,
    /// Simulated exchange: id of a price series whose newest values are the
    /// counterparties' reference price; default a built-in daily shape.
    #[serde(default)]
    pub reference_series_id: Option<String>,
}

/// A configured connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Connector {
    /// Id; also the market id of its price series (`market-data/{id}`).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The market it trades.
    pub market_type: MarketType,
    /// Kind.
    pub kind: ConnectorKind,
    /// Endpoint, if any.
    pub endpoint: Option<String>,
    /// Credentials by reference (never the secret).
    pub auth: AuthConfig,
    /// Trading rules.
    pub rules: TradingRules,
    /// Counterparty settings of the simulated exchange.
    pub simulation: Option<SimulationConfig>,
    /// Reference price series of the simulated exchange.
    pub reference_series_id: Option<String>,
}

impl ConnectorRequest {
    /// Checks the request and fills the defaults; `id` is the new id.
    pub fn into_connector(self, id: String) -> Result<Connector, Invalid> {
        let mut e = Errors::default();
        check_name(&mut e, "name", &self.name);
        let kind = self.kind.unwrap_or(ConnectorKind::Simulated);
        let rules = self.rules.unwrap_or_else(|| TradingRules::defaults(self.market_type));
        if let Err(err) = rules.check("rules") {
            e.extend(err);
        }
        if let Some(url) = &self.endpoint {
            let ok = ["https://", "http://", "wss://"].iter().any(|p| url.starts_with(p)) && url.len() <= 2000;
            e.check(ok, "endpoint", format!("`{url}` is not an http(s) or wss URL"));
        }
        let auth = self.auth.unwrap_or(AuthConfig::None);
        if let AuthConfig::SecretRef { secret_ref, .. } = &auth {
            e.check(crate::secret::check_reference(secret_ref).is_ok(), "auth.secret_ref", "must be a reference like env:EPEX_API_KEY or file:/run/secrets/epex; secrets are never stored in clear");
        }
        let simulation = match kind {
            ConnectorKind::Simulated => {
                let s = self.simulation.unwrap_or_default();
                if let Err(err) = s.check("simulation") {
                    e.extend(err);
                }
                Some(s)
            }
            ConnectorKind::File => {
                e.check(self.simulation.is_none(), "simulation", "only simulated connectors take simulation settings");
                e.check(
                    self.reference_series_id.is_none(),
                    "reference_series_id",
                    "only simulated connectors take a reference series",
                );
                None
            }
        };
        e.finish(Connector {
            id,
            name: self.name.trim().to_string(),
            market_type: self.market_type,
            kind,
            endpoint: self.endpoint,
            auth,
            rules,
            simulation,
            reference_series_id: self.reference_series_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> ConnectorRequest {
        serde_json::from_value(json).expect("request")
    }

    #[test]
    fn defaults_fill_a_simulated_day_ahead_connector() {
        let c = request(serde_json::json!({"name": "DA", "market_type": "SPOT"}))
            .into_connector("c1".into())
            .expect("valid");
        assert_eq!(c.kind, ConnectorKind::Simulated);
        assert_eq!(c.rules.product_minutes, 15);
        assert_eq!(c.auth, AuthConfig::None);
        assert!(c.simulation.is_some());
    }

    #[test]
    fn clear_secrets_and_bad_settings_are_refused_by_field() {
        let err = request(serde_json::json!({
            "name": "x", "market_type": "SPOT", "kind": "file", "endpoint": "ftp://x",
            "auth": {"kind": "secret_ref", "secret_ref": "hunter2"},
            "simulation": {"seed": 1}
        }))
        .into_connector("c1".into())
        .expect_err("invalid");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["endpoint", "auth.secret_ref", "simulation"]);
    }
}
