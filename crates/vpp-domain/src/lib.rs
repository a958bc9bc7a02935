//! Pure domain logic of vpp, the virtual power plant platform.
//!
//! This crate owns the meaning of things: resource templates and their typed
//! parameter sets, resources, VPP memberships with allocation ratios and the
//! double-booking rule, fleet aggregation, dispatch, execution tracking and the
//! technical-data import diff. It knows nothing of HTTP, SQL or async runtimes
//! and must not depend on tokio, sqlx or axum.
//!
//! Units: power is kW and energy kWh; prices are currency per MWh. Times are
//! UTC [`jiff::Timestamp`]s; intervals are half-open `[start, end)`.

pub mod ai_model;
pub mod auth;
pub mod error;
pub mod execution;
pub mod fleet;
pub mod forecast_etl;
pub mod market;
pub mod presets;
pub mod resource;
pub mod series;
pub mod series_import;
pub mod settings;
pub mod strategy;
pub mod synthetic;
pub mod tariff;
pub mod techdata;
pub mod template;
pub mod vpp;

pub use error::{FieldError, Invalid};
