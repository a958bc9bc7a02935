//! Pure domain logic of vpp, the virtual power plant platform.
//!
//! This crate owns the meaning of things, each with its formula and unit
//! next to the code:
//!
//! - the registry: resource templates and their typed parameter sets
//!   ([`template`], [`presets`]), resources ([`resource`]) and the
//!   technical-data import diff ([`techdata`]); device links over field
//!   standards ([`device_link`]);
//! - VPPs: memberships with allocation ratios and the double-booking rule
//!   ([`vpp`]), aggregation and dispatch ([`fleet`]), execution tracking and
//!   setpoint delivery ([`execution`]), alerts ([`alert`]);
//! - time series: beliefs, their views (latest, as of, tradeable,
//!   day-ahead), resampling and best of infeed ([`series`]), file parsing
//!   ([`series_import`]), the forecast ETL ([`forecast_etl`]), forecasting
//!   models' registry ([`ai_model`]);
//! - markets: rules, bids and risk, the auction, exchanges, settlement,
//!   invoices and the records kept of them ([`market`]);
//! - strategies: rules, backtests, metrics ([`strategy`]);
//! - tariffs, bills, load and flexibility of industrial parks ([`tariff`],
//!   [`settings`]);
//! - OCPP 2.0.1 messages and their meaning for EV chargers ([`ocpp`]);
//! - weather forecasts as delivered (Open-Meteo JSON, [`weather`]; DWD MOSMIX KML/KMZ, [`mosmix`]);
//! - roles and permissions ([`auth`]); typed errors ([`error`]); text for
//!   spreadsheets ([`export`]).
//!
//! It knows nothing of HTTP, SQL or async runtimes and must not depend on
//! tokio, sqlx, axum or any other vpp crate.
//!
//! Units: power is kW and energy kWh; prices are currency per MWh. Times are
//! UTC [`jiff::Timestamp`]s; intervals are half-open `[start, end)`.

pub mod ai_model;
pub mod alert;
pub mod alert_message;
pub mod auth;
pub mod delivered;
pub mod device_link;
pub mod error;
pub mod execution;
pub mod export;
pub mod fleet;
pub mod forecast_etl;
pub mod ingestion;
pub mod lang;
pub mod market;
pub mod mosmix;
pub mod ocpp;
pub mod presets;
pub mod resource;
pub mod secret;
pub mod series;
pub mod series_import;
pub mod settings;
pub mod status_reason;
pub mod strategy;
pub mod synthetic;
pub mod tariff;
pub mod techdata;
pub mod template;
pub mod vpp;
pub mod weather;

pub use error::{FieldError, Invalid};
