//! Alerts: what raised them, their lifecycle (open, acknowledged,
//! resolved) and how often their condition was seen. The store keeps them
//! and background jobs raise them; the API and the console show them.

use jiff::Timestamp;
use serde::Serialize;

/// What raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// A device stopped reporting.
    DeviceOffline,
    /// A setpoint was not acknowledged in time (or was rejected).
    SetpointNotAcknowledged,
    /// A VPP's measured power strayed from its schedule past the threshold.
    ExecutionDeviation,
    /// A battery reported a SOC outside its window.
    SocOutOfWindow,
    /// The MQTT broker cannot be reached.
    BrokerConnectionLost,
    /// An ingestion source's file was refused (whole or in part), or its location could not be read.
    IngestionFailed,
}

impl AlertRule {
    /// Every rule.
    pub const ALL: [AlertRule; 6] = [
        Self::DeviceOffline,
        Self::SetpointNotAcknowledged,
        Self::ExecutionDeviation,
        Self::SocOutOfWindow,
        Self::BrokerConnectionLost,
        Self::IngestionFailed,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceOffline => "device_offline",
            Self::SetpointNotAcknowledged => "setpoint_not_acknowledged",
            Self::ExecutionDeviation => "execution_deviation",
            Self::SocOutOfWindow => "soc_out_of_window",
            Self::BrokerConnectionLost => "broker_connection_lost",
            Self::IngestionFailed => "ingestion_failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// How bad it is: `critical` or `warning`.
    pub fn severity(self) -> &'static str {
        match self {
            Self::BrokerConnectionLost | Self::ExecutionDeviation => "critical",
            _ => "warning",
        }
    }
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised, nobody has looked.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

impl AlertState {
    /// Its stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Resolved].into_iter().find(|x| x.as_str() == s)
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// Alert id.
    pub id: String,
    /// Rule that raised it.
    pub rule: AlertRule,
    /// What it is about: a resource, VPP or instruction id, or `broker`.
    pub subject: String,
    /// `critical` or `warning`.
    pub severity: String,
    /// What happened, with the values seen (the latest occurrence).
    pub message: String,
    /// Open, acknowledged or resolved.
    pub state: AlertState,
    /// How often the condition was seen while the alert was active.
    pub occurrences: i64,
    /// First seen (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub first_seen_at: Timestamp,
    /// Last seen (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: Timestamp,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    /// Who resolved it (`system` when the condition cleared).
    pub resolved_by: Option<String>,
    /// When.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
}
