//! What is kept of a strategy's life: its status changes and its backtest
//! tasks.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::strategy::StrategyStatus;

/// A status change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = StrategyStatusChange)]
pub struct StatusChange {
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// From.
    pub from: StrategyStatus,
    /// To.
    pub to: StrategyStatus,
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// A backtest task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BacktestRecord {
    /// Task id.
    pub id: String,
    /// Strategy.
    pub strategy_id: String,
    /// The version it ran.
    pub version: i64,
    /// RUNNING, DONE, FAILED, CANCELLED or INTERRUPTED (the server stopped while it ran).
    pub status: String,
    /// Share done, 0..1.
    pub progress: f64,
    /// What was asked.
    #[schema(value_type = Object)]
    pub request: Value,
    /// Figures, when done.
    #[schema(value_type = Option<Object>)]
    pub summary: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Who started it.
    pub created_by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
}
