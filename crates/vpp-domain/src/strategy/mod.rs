//! Strategies: what turns forecasts and prices into bids and schedules.
//!
//! A strategy is rule-based (IF conditions THEN actions, [`rules`]),
//! AI-driven (a registered forecasting model's prediction feeds the
//! optimiser) or hybrid (the model's prediction feeds the rules). Every
//! change makes a new version; a backtest names the version it ran.
//! Status moves DRAFT → TESTING → ACTIVE ⇄ SUSPENDED, and only an ACTIVE
//! strategy trades.

pub mod backtest;
pub mod metrics;
pub mod records;
pub mod rules;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Errors, Invalid, check_name};
use rules::RuleSet;

/// How a strategy decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StrategyType {
    /// IF conditions THEN actions.
    RuleBased,
    /// A registered model's forecast drives the optimiser.
    AiDriven,
    /// A registered model's forecast feeds the rules.
    Hybrid,
}

impl StrategyType {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RuleBased => "RULE_BASED",
            Self::AiDriven => "AI_DRIVEN",
            Self::Hybrid => "HYBRID",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::RuleBased, Self::AiDriven, Self::Hybrid].into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a strategy is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StrategyStatus {
    /// Being written; may be backtested.
    Draft,
    /// Under test: backtests and A/B runs, no trading.
    Testing,
    /// Trades.
    Active,
    /// Stopped from trading; its history stays.
    Suspended,
}

impl StrategyStatus {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Testing => "TESTING",
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Testing, Self::Active, Self::Suspended].into_iter().find(|t| t.as_str() == s)
    }

    /// The statuses reachable from this one: DRAFT → TESTING → ACTIVE ⇄
    /// SUSPENDED; a TESTING or SUSPENDED strategy may go back to DRAFT, a
    /// SUSPENDED one back to TESTING.
    pub fn next(self) -> &'static [StrategyStatus] {
        use StrategyStatus::*;
        match self {
            Draft => &[Testing],
            Testing => &[Active, Draft],
            Active => &[Suspended],
            Suspended => &[Active, Testing, Draft],
        }
    }

    /// Checks a move, naming the allowed ones when refused.
    pub fn check_move(self, to: StrategyStatus) -> Result<(), Invalid> {
        if self.next().contains(&to) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.next().iter().map(|s| s.as_str()).collect();
        Err(Invalid::one(
            "status",
            format!("cannot go from {} to {}; allowed: {}", self.as_str(), to.as_str(), allowed.join(", ")),
        ))
    }
}

/// A strategy as a client sends it (create and update).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyRequest {
    /// Display name, unique.
    pub name: String,
    /// The VPP it trades.
    pub vpp_id: String,
    /// How it decides.
    #[serde(rename = "type")]
    pub strategy_type: StrategyType,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Market connector it trades on (the VPP's market's connector if absent).
    #[serde(default)]
    pub connector_id: Option<String>,
    /// Price series whose prices clear and whose forecasts the rules see
    /// (the connector's reference series if absent).
    #[serde(default)]
    pub price_series_id: Option<String>,
    /// Forecasting model (AI_DRIVEN and HYBRID): its predictions are the
    /// `forecast_price` the rules and the optimiser see.
    #[serde(default)]
    pub model_id: Option<String>,
    /// Rules: `[{name?, conditions: [...], actions: [...]}]`.
    #[serde(default = "empty_rules")]
    #[schema(value_type = Vec<Object>)]
    pub rules: Value,
}

fn empty_rules() -> Value {
    Value::Array(Vec::new())
}

impl StrategyRequest {
    /// Checks everything that needs no data and returns the parsed rules;
    /// an AI_DRIVEN strategy without rules follows the optimiser.
    pub fn check(&self) -> Result<RuleSet, Invalid> {
        let mut e = Errors::default();
        check_name(&mut e, "name", &self.name);
        e.check(!self.vpp_id.trim().is_empty(), "vpp_id", "must not be empty");
        if let Some(d) = &self.description {
            e.check(d.chars().count() <= 4000, "description", "must be at most 4000 characters");
        }
        let rules = match RuleSet::parse(&self.rules, "rules") {
            Ok(r) => r,
            Err(invalid) => {
                e.extend(invalid);
                RuleSet::default()
            }
        };
        match self.strategy_type {
            StrategyType::RuleBased => {
                e.check(!self.rules_empty(), "rules", "a RULE_BASED strategy needs at least one rule");
                e.check(
                    self.model_id.is_none(),
                    "model_id",
                    "a RULE_BASED strategy uses no model; make it HYBRID to feed the rules with one",
                );
            }
            StrategyType::AiDriven => {
                e.check(self.model_id.is_some(), "model_id", "an AI_DRIVEN strategy needs a registered model");
            }
            StrategyType::Hybrid => {
                e.check(self.model_id.is_some(), "model_id", "a HYBRID strategy needs a registered model");
                e.check(!self.rules_empty(), "rules", "a HYBRID strategy needs at least one rule");
            }
        }
        let rules = if self.strategy_type == StrategyType::AiDriven && rules.rules.is_empty() {
            RuleSet::parse(
                &serde_json::json!([{"name": "follow the optimiser", "actions": [{"type": "optimise"}]}]),
                "rules",
            )?
        } else {
            rules
        };
        e.finish(rules)
    }

    fn rules_empty(&self) -> bool {
        self.rules.as_array().is_none_or(|r| r.is_empty())
    }
}

/// A stored strategy at one version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Strategy {
    /// Id.
    pub id: String,
    /// Version, from 1; every change adds one.
    pub version: i64,
    /// Status.
    pub status: StrategyStatus,
    /// The definition of this version.
    #[serde(flatten)]
    pub definition: StrategyRequest,
    /// Who made this version.
    pub updated_by: String,
    /// When this version was made.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
    /// When the strategy was created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

/// The benchmark a backtest compares against when none is named: charge
/// in the cheapest quarter of the day and discharge in the dearest, by
/// the prices known at gate closure.
pub fn benchmark_rules() -> Value {
    serde_json::json!([
        {"name": "benchmark: charge in the cheapest quarter",
         "conditions": [{"field": "price_percentile", "operator": "<=", "value": 25}],
         "actions": [{"type": "charge"}]},
        {"name": "benchmark: discharge in the dearest quarter",
         "conditions": [{"field": "price_percentile", "operator": ">=", "value": 75}],
         "actions": [{"type": "discharge"}]}
    ])
}

#[cfg(test)]
mod tests;
