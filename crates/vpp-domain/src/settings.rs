//! VPP configuration: the named parameters the park calculations use
//! (compensation prices, thresholds, the power-factor target, battery
//! costs), each with a unit, a range and a default.
//!
//! Only known keys exist; a value outside its range or in another unit is
//! refused. Units written `{cur}/kWh` take any ISO 4217 currency, which must
//! match the tariff's when a calculation uses it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};

/// A known setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    /// Key.
    pub key: &'static str,
    /// Unit; `{cur}` stands for a currency code.
    pub unit: &'static str,
    /// Default value.
    pub default: f64,
    /// Lowest value.
    pub min: f64,
    /// Highest value.
    pub max: f64,
    /// What it means.
    pub description: &'static str,
}

const fn def(
    key: &'static str,
    unit: &'static str,
    default: f64,
    min: f64,
    max: f64,
    description: &'static str,
) -> SettingDef {
    SettingDef { key, unit, default, min, max, description }
}

/// Every setting.
pub const SETTINGS: [SettingDef; 11] = [
    def(
        "power_factor_target",
        "1",
        0.90,
        0.5,
        1.0,
        "Power factor a tariff's adjustment is measured against when it names none",
    ),
    def(
        "dr_compensation_price",
        "{cur}/kWh",
        3.0,
        0.0,
        1000.0,
        "Paid per kWh of load reduced in a demand-response event",
    ),
    def("dr_events_per_year", "events/year", 20.0, 0.0, 365.0, "Demand-response events expected per year"),
    def("dr_event_hours", "h", 2.0, 0.25, 24.0, "Length of one demand-response event"),
    def(
        "dr_max_response_min",
        "min",
        30.0,
        0.0,
        1440.0,
        "Slowest response a load may have to count for demand response",
    ),
    def(
        "peak_shaving_response_min",
        "min",
        15.0,
        0.0,
        1440.0,
        "Slowest response a load may have to help shave the monthly peak",
    ),
    def("battery_capex_per_kwh", "{cur}/kWh", 1000.0, 0.0, 100_000.0, "Battery investment per kWh of capacity"),
    def("battery_capex_per_kw", "{cur}/kW", 300.0, 0.0, 100_000.0, "Battery investment per kW of power"),
    def("battery_om_pct_per_year", "%/year", 2.0, 0.0, 100.0, "Yearly operation and maintenance, % of the investment"),
    def("battery_lifetime_years", "years", 10.0, 1.0, 40.0, "Economic life of a battery"),
    def("discount_rate_pct", "%", 6.0, 0.0, 100.0, "Discount rate of the net present value"),
];

/// The definition of `key`.
pub fn definition(key: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|d| d.key == key)
}

/// A setting as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Setting {
    /// Key.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// What it means.
    pub description: String,
    /// Allowed range.
    pub min: f64,
    /// Allowed range.
    pub max: f64,
    /// Still the default.
    pub is_default: bool,
    /// When last changed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    /// Who changed it last.
    pub updated_by: Option<String>,
}

/// What a client sends to change a setting.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingRequest {
    /// New value.
    pub value: f64,
    /// Unit; must be the setting's (a currency may be chosen where it shows `{cur}`).
    pub unit: String,
    /// New description; the standard one if absent.
    #[serde(default)]
    pub description: Option<String>,
}

fn unit_matches(pattern: &str, unit: &str) -> bool {
    match pattern.strip_prefix("{cur}") {
        Some(rest) => {
            unit.len() == 3 + rest.len() && unit.ends_with(rest) && unit[..3].chars().all(|c| c.is_ascii_uppercase())
        }
        None => unit == pattern,
    }
}

impl SettingRequest {
    /// Checks the request for `key`.
    pub fn validate(&self, key: &str) -> Result<&'static SettingDef, Invalid> {
        let Some(d) = definition(key) else {
            let known: Vec<&str> = SETTINGS.iter().map(|d| d.key).collect();
            return Err(Invalid::one("key", format!("`{key}` is not a setting; known: {}", known.join(", "))));
        };
        let mut errors = Errors::default();
        errors.range("value", self.value, d.min, d.max);
        errors.check(
            unit_matches(d.unit, self.unit.trim()),
            "unit",
            format!("must be {}", d.unit.replace("{cur}", "a currency code, e.g. CNY")),
        );
        if let Some(text) = &self.description {
            errors.check(text.chars().count() <= 500, "description", "at most 500 characters");
        }
        errors.finish(d)
    }
}

/// Stored values by key: (value, unit).
#[derive(Debug, Clone, Default)]
pub struct Settings(pub BTreeMap<String, (f64, String)>);

impl Settings {
    /// The value of `key`, or its default.
    pub fn get(&self, key: &str) -> f64 {
        self.0.get(key).map(|v| v.0).or_else(|| definition(key).map(|d| d.default)).unwrap_or(f64::NAN)
    }

    /// The unit of `key`, `{cur}` read as `default_currency` when not stored.
    pub fn unit(&self, key: &str, default_currency: &str) -> String {
        self.0
            .get(key)
            .map(|v| v.1.clone())
            .or_else(|| definition(key).map(|d| d.unit.replace("{cur}", default_currency)))
            .unwrap_or_default()
    }

    /// A money setting in `currency`, or an error naming the setting.
    pub fn money(&self, key: &str, currency: &str) -> Result<f64, Invalid> {
        let unit = self.unit(key, currency);
        if unit.starts_with(currency) {
            Ok(self.get(key))
        } else {
            Err(Invalid::one(
                format!("configuration.{key}.unit"),
                format!("is {unit}, but the tariff bills in {currency}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_ranges_are_checked() {
        let ok = SettingRequest { value: 2.5, unit: "EUR/kWh".into(), description: None };
        assert!(ok.validate("dr_compensation_price").is_ok());
        let bad = SettingRequest { value: 2.5, unit: "kWh".into(), description: None };
        assert!(bad.validate("dr_compensation_price").expect_err("unit").to_string().contains("unit"));
        let far = SettingRequest { value: 1.5, unit: "1".into(), description: None };
        assert!(far.validate("power_factor_target").expect_err("range").to_string().contains("value"));
        assert!(ok.validate("nope").expect_err("unknown").to_string().contains("known:"));
    }

    #[test]
    fn money_in_another_currency_is_refused() {
        let mut s = Settings::default();
        assert_eq!(s.money("dr_compensation_price", "CNY").expect("default"), 3.0);
        s.0.insert("dr_compensation_price".into(), (0.4, "EUR/kWh".into()));
        assert!(s.money("dr_compensation_price", "CNY").is_err());
    }
}
