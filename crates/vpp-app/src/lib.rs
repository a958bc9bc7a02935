//! The application layer of vpp: every use case and background job, once.
//!
//! HTTP handlers (vpp-server), the CLI and the demo (vpp-cli) and the
//! device adapters are thin translators into these functions. A use case
//! loads what it needs from [`vpp_store`], applies the rules of
//! [`vpp_domain`], calls the optimiser ([`vpp_optim`]) or the forecasters
//! ([`vpp_forecast`]) and stores the outcome; it answers with its own
//! [`AppError`], which each interface maps once (problem JSON, a line on
//! stderr).
//!
//! It must not depend on vpp-server, vpp-cli or any HTTP framework. Types
//! it returns derive `utoipa::ToSchema` so the HTTP layer can publish them,
//! and nothing more of the web.
//!
//! | module | use cases and jobs |
//! |---|---|
//! | [`markets`] | place a bid, clear a trading day, settle, invoices |
//! | [`imbalance`] | imbalance cost per asset and portfolio: best of infeed against the traded position, at the final (else estimated) imbalance price |
//! | [`exchange_files`] | exchange and regulator files into a file connector: prices, trades, public trades (the VWAP index), imbalance prices |
//! | [`market_job`] | the job that lets ACTIVE strategies bid and clears closed days |
//! | [`strategies`] | check a strategy, backtests as tasks, live bids of ACTIVE strategies |
//! | [`ai_models`] | train model versions, predict, accuracy |
//! | [`forecasts`] | physical forecasts of PV and wind from technical data; the fleet run every 15 minutes (a job) |
//! | [`weather`] | weather forecast files (Open-Meteo, DWD MOSMIX) into weather series; the weather nearest a resource |
//! | [`parks`] | park load import, bills, profiles, flexibility, savings, the battery plan on the demand forecast, reports |
//! | [`schedules`] | optimal schedules of a VPP, dispatching the stored schedule |
//! | [`series`] | file imports, measured values per interval, resampled live measurements |
//! | [`routing`] | files that name their asset go to its power series; technical data gives new PV and wind their series |
//! | [`dispatch`] | dispatch of a VPP: a power target split across its members, previewed or stored |
//! | [`alerts`] | alerts listed, acknowledged and resolved with a comment |
//! | [`control`] | the closed loop on deviations (a job) |
//! | [`users`] | the first admin, password hashing, random tokens |
//! | [`webhook`] | alert delivery to a webhook (a job) |

pub mod ai_models;
pub mod alerts;
pub mod cluster;
pub mod control;
pub mod dispatch;
pub mod error;
pub mod exchange_files;
pub mod forecasts;
pub mod imbalance;
pub mod ingestion;
pub mod json;
pub mod market_job;
pub mod markets;
pub mod owners;
pub mod parks;
pub mod performance;
pub mod redispatch;
pub mod routing;
pub mod schedules;
pub mod series;
pub mod stations;
pub mod strategies;
pub mod users;
pub mod weather;
pub mod webhook;

pub use error::{AppError, AppResult};

/// Who performs a use case: the name written into records and the audit
/// trail, and the party accountable for it. Two actors with the same party
/// are one person for four eyes: a user and the API keys that user owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Login name, `api-key:{name}`, `strategy:{name}`, …
    pub name: String,
    /// `user:{id}` for a user and for a key its owner's user id, or
    /// another stable id (`key:{id}`, `strategy:{id}`).
    pub party: String,
}

impl Actor {
    /// An actor that is its own party (jobs, the demo, strategies).
    pub fn named(name: impl Into<String>) -> Self {
        let name = name.into();
        Self { party: name.clone(), name }
    }
}
