//! Alerts: what raised them, their lifecycle (open, acknowledged,
//! resolved) and how often their condition was seen. The store keeps them
//! and background jobs raise them; the API and the console show them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Invalid;
pub use crate::alert_message::AlertMessage;
use crate::lang::Lang;

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
    /// What happened, with the values seen (the latest occurrence), in the
    /// language the request asked for (`Accept-Language`: English or Chinese).
    pub message: String,
    /// The same as a code with its figures.
    pub content: AlertMessage,
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
    /// What the person who acknowledged it wrote.
    pub acknowledged_comment: Option<String>,
    /// Who resolved it (`system` when the condition cleared).
    pub resolved_by: Option<String>,
    /// When.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    /// What the person who resolved it wrote.
    pub resolved_comment: Option<String>,
}

impl Alert {
    /// The alert with its message in `lang`.
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.message = self.content.render(lang);
        self
    }
}

/// A person's acknowledgement or resolution of an alert.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertAction {
    /// Why, or what was done (at most 1,000 characters; line breaks allowed).
    #[serde(default)]
    pub comment: Option<String>,
}

impl AlertAction {
    /// The comment, trimmed; an empty one is none. Over 1,000 characters or
    /// with control characters other than line breaks and tabs is refused
    /// at `comment`.
    pub fn comment(&self) -> Result<Option<String>, Invalid> {
        let Some(text) = self.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > 1000 {
            return Err(Invalid::one("comment", "must be at most 1000 characters"));
        }
        if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(Invalid::one("comment", "must not contain control characters"));
        }
        Ok(Some(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(comment: &str) -> AlertAction {
        AlertAction { comment: Some(comment.into()) }
    }

    #[test]
    fn a_comment_is_trimmed_and_an_empty_one_is_none() {
        assert_eq!(action("  on site, breaker reset\n").comment().unwrap().as_deref(), Some("on site, breaker reset"));
        assert_eq!(action("   ").comment().unwrap(), None);
        assert_eq!(AlertAction::default().comment().unwrap(), None);
    }

    #[test]
    fn a_long_comment_or_control_characters_are_refused_at_comment() {
        let long = action(&"x".repeat(1001)).comment().unwrap_err();
        assert_eq!(long.0[0].field, "comment");
        let nul = action("a\u{0}b").comment().unwrap_err();
        assert!(nul.0[0].message.contains("control"), "{nul:?}");
        assert!(action("line one\nline two\tend").comment().is_ok());
    }
}
