//! Tariffs and bills for industrial parks: time-of-use windows and
//! versions ([`tou`]), load curves and their profiles ([`load`]), monthly
//! bills and their reconciliation ([`bill`]), and the flexibility of
//! adjustable loads with the savings it brings ([`flex`]).
//!
//! Local time appears only here, at the edge: windows, months and holidays
//! are local to the tariff's zone; every interval is a UTC timestamp.
//! Energy is kWh, power kW, prices and money in the tariff's currency
//! (exact decimals on bills, f64 in estimates).

pub mod bill;
pub mod flex;
pub mod load;
pub mod tou;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};

/// What a client sends to register a park site (a metering point).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteRequest {
    /// Unique name.
    pub name: String,
    /// Tariff it is billed under; its zone is the site's.
    pub tariff_id: String,
    /// Transformer capacity, kVA (needed by a capacity-based demand charge).
    #[serde(default)]
    pub transformer_kva: Option<f64>,
    /// A battery resource on the site, used in peak-shaving and payback scenarios.
    #[serde(default)]
    pub battery_resource_id: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

impl SiteRequest {
    /// Checks ranges and lengths.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        crate::error::check_name(&mut errors, "name", &self.name);
        errors.check(!self.tariff_id.trim().is_empty(), "tariff_id", "must not be empty");
        if let Some(kva) = self.transformer_kva {
            errors.range("transformer_kva", kva, 1.0, 10_000_000.0);
        }
        errors.check(self.description.chars().count() <= 2000, "description", "at most 2000 characters");
        errors.finish(())
    }
}

/// A registered site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Site {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Tariff.
    pub tariff_id: String,
    /// Transformer capacity, kVA.
    pub transformer_kva: Option<f64>,
    /// Battery resource.
    pub battery_resource_id: Option<String>,
    /// Free text.
    pub description: String,
    /// When registered.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}
