//! Resources: concrete devices made from a template.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Errors, Invalid, check_name};
use crate::template::{Parameters, ResourceCategory, ResourceTemplate, ResourceType};

/// Operational status of a resource. Only `ONLINE` resources are available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceStatus {
    /// Reporting and controllable.
    Online,
    /// Not reporting or switched off.
    Offline,
    /// Planned outage.
    Maintenance,
    /// Faulted.
    Error,
}

impl ResourceStatus {
    /// Every status, in index order.
    pub const ALL: [ResourceStatus; 4] = [Self::Online, Self::Offline, Self::Maintenance, Self::Error];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "ONLINE",
            Self::Offline => "OFFLINE",
            Self::Maintenance => "MAINTENANCE",
            Self::Error => "ERROR",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a resource is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude in degrees, −90..90.
    pub lat: f64,
    /// Longitude in degrees, −180..180.
    pub lon: f64,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Building or site name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
}

impl Location {
    /// Checks coordinates and that the time zone exists.
    pub fn validate(&self, errors: &mut Errors, field: &str) {
        errors.range(&format!("{field}.lat"), self.lat, -90.0, 90.0);
        errors.range(&format!("{field}.lon"), self.lon, -180.0, 180.0);
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            errors.push(format!("{field}.timezone"), format!("unknown IANA time zone `{}`", self.timezone));
        }
    }
}

/// Power limits and efficiency of a resource. Positive power is injection
/// into the grid (generation, discharge), negative is consumption.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperatingLimits {
    /// Rated power in kW (> 0); bounds |min_power_kw| and |max_power_kw|.
    pub capacity_kw: f64,
    /// Lowest setpoint in kW while running; negative means consumption.
    pub min_power_kw: f64,
    /// Highest setpoint in kW; negative means the resource always consumes.
    pub max_power_kw: f64,
    /// Conversion efficiency in (0, 1].
    pub efficiency: f64,
}

/// A stored resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resource {
    /// Server-assigned id.
    pub id: String,
    /// Template it was made from.
    pub template_id: String,
    /// Type, copied from the template.
    pub resource_type: ResourceType,
    /// Category, copied from the template.
    pub category: ResourceCategory,
    /// Unique display name.
    pub name: String,
    /// Id in the asset owner's master data (technical-data imports), unique.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Operational status.
    pub status: ResourceStatus,
    /// Rated power in kW.
    pub capacity_kw: f64,
    /// Lowest setpoint in kW while running (negative = consumption).
    pub min_power_kw: f64,
    /// Highest setpoint in kW.
    pub max_power_kw: f64,
    /// Conversion efficiency in (0, 1].
    pub efficiency: f64,
    /// Time from setpoint to full response in seconds.
    pub response_time_s: f64,
    /// Cost of one more MWh of flexibility from this resource, currency/MWh; ranks merit-order dispatch.
    pub marginal_cost: f64,
    /// Where it is.
    pub location: Location,
    /// Device address, e.g. `modbus://127.0.0.1:1502/1` or an MQTT client id.
    pub device_address: String,
    /// Asset owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Parameters, validated against the template, defaults filled in.
    #[schema(value_type = Object)]
    pub parameters: Parameters,
    /// Extra attributes from imports that the template has no parameter for.
    #[schema(value_type = Object)]
    pub metadata: Parameters,
    /// When created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl Resource {
    /// Power limits of this resource.
    pub fn limits(&self) -> OperatingLimits {
        OperatingLimits {
            capacity_kw: self.capacity_kw,
            min_power_kw: self.min_power_kw,
            max_power_kw: self.max_power_kw,
            efficiency: self.efficiency,
        }
    }

    /// The storage model if this resource stores energy (it has `usable_energy_kwh`).
    pub fn storage(&self) -> Option<StorageModel> {
        StorageModel::from_parameters(&self.parameters)
    }
}

/// Energy limits of a storage resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageModel {
    /// Usable energy between 0 % and 100 % SOC, kWh.
    pub energy_kwh: f64,
    /// Lowest allowed SOC as a fraction.
    pub soc_min: f64,
    /// Highest allowed SOC as a fraction.
    pub soc_max: f64,
    /// Grid-to-cell efficiency; √ of the round-trip efficiency.
    pub charge_efficiency: f64,
    /// Cell-to-grid efficiency; √ of the round-trip efficiency.
    pub discharge_efficiency: f64,
}

impl StorageModel {
    /// Reads `usable_energy_kwh`, `soc_min_pct`, `soc_max_pct` and
    /// `round_trip_efficiency` (split evenly between charge and discharge).
    pub fn from_parameters(p: &Parameters) -> Option<Self> {
        let energy_kwh = p.get("usable_energy_kwh")?.as_f64().filter(|e| *e > 0.0)?;
        let pct = |name: &str, default: f64| p.get(name).and_then(Value::as_f64).unwrap_or(default) / 100.0;
        let one_way = p.get("round_trip_efficiency").and_then(Value::as_f64).unwrap_or(1.0).sqrt();
        Some(Self {
            energy_kwh,
            soc_min: pct("soc_min_pct", 0.0),
            soc_max: pct("soc_max_pct", 100.0),
            charge_efficiency: one_way,
            discharge_efficiency: one_way,
        })
    }
}

fn param(p: &Parameters, name: &str) -> Option<f64> {
    p.get(name).and_then(Value::as_f64)
}

/// Operating limits implied by the parameters of a preset type, or `None`
/// when the type has no rule or the parameters it needs are absent.
pub fn derived_limits(resource_type: ResourceType, p: &Parameters) -> Option<OperatingLimits> {
    let limits = |capacity_kw: f64, min_power_kw: f64, max_power_kw: f64, efficiency: f64| OperatingLimits {
        capacity_kw,
        min_power_kw,
        max_power_kw,
        efficiency,
    };
    match resource_type {
        ResourceType::Pv => {
            let ac = param(p, "inverter_kw").or(param(p, "peak_kw"))?;
            Some(limits(ac, 0.0, ac, param(p, "inverter_efficiency").unwrap_or(0.97)))
        }
        ResourceType::Wind => {
            let rated = param(p, "rated_kw")?;
            Some(limits(rated, 0.0, rated, 1.0))
        }
        ResourceType::Battery => {
            let (charge, discharge) = (param(p, "max_charge_kw")?, param(p, "max_discharge_kw")?);
            Some(limits(charge.max(discharge), -charge, discharge, param(p, "round_trip_efficiency").unwrap_or(0.9)))
        }
        ResourceType::EvCharger => {
            let charge = param(p, "max_charge_kw")?;
            let v2g = p.get("v2g").and_then(Value::as_bool).unwrap_or(false);
            let discharge = if v2g { param(p, "max_discharge_kw").unwrap_or(0.0) } else { 0.0 };
            Some(limits(charge.max(discharge), -charge, discharge, 0.95))
        }
        ResourceType::HeatPump => {
            let rated = param(p, "rated_electrical_kw")?;
            Some(limits(rated, -rated, 0.0, 1.0))
        }
        ResourceType::Hvac => {
            let rated = param(p, "rated_kw")?;
            Some(limits(rated, -rated, 0.0, 1.0))
        }
        ResourceType::IndustrialLoad => {
            let max = param(p, "max_load_kw")?;
            Some(limits(max, -max, 0.0, 1.0))
        }
        ResourceType::DieselGenerator => {
            let rated = param(p, "rated_kw")?;
            Some(limits(rated, param(p, "min_stable_kw").unwrap_or(0.0), rated, 0.35))
        }
        ResourceType::Chp => {
            let rated = param(p, "electrical_kw")?;
            Some(limits(
                rated,
                param(p, "min_electrical_kw").unwrap_or(0.0),
                rated,
                param(p, "electrical_efficiency").unwrap_or(0.38),
            ))
        }
        ResourceType::Other => None,
    }
}

/// Marginal cost implied by a preset type's parameters, currency/MWh.
pub fn derived_marginal_cost(resource_type: ResourceType, p: &Parameters) -> f64 {
    match resource_type {
        ResourceType::Battery => param(p, "cycle_cost_per_kwh").map_or(20.0, |c| c * 1000.0),
        ResourceType::DieselGenerator => param(p, "fuel_cost_per_mwh").unwrap_or(250.0),
        ResourceType::Chp => 90.0,
        ResourceType::Pv | ResourceType::Wind => 0.0,
        ResourceType::EvCharger => 30.0,
        ResourceType::HeatPump | ResourceType::Hvac => 40.0,
        ResourceType::IndustrialLoad => 120.0,
        ResourceType::Other => 50.0,
    }
}

/// What a client sends to create a resource from a template.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRequest {
    /// Template to create the resource from.
    pub template_id: String,
    /// Unique display name.
    pub name: String,
    /// Id in the owner's master data, unique if given.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Initial status; `OFFLINE` until the device reports, unless given.
    #[serde(default)]
    pub status: Option<ResourceStatus>,
    /// Template parameter values; defaults fill in the rest.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Parameters,
    /// Rated power in kW; derived from the parameters when omitted.
    #[serde(default)]
    pub capacity_kw: Option<f64>,
    /// Lowest setpoint in kW; derived when omitted.
    #[serde(default)]
    pub min_power_kw: Option<f64>,
    /// Highest setpoint in kW; derived when omitted.
    #[serde(default)]
    pub max_power_kw: Option<f64>,
    /// Efficiency in (0, 1]; derived when omitted.
    #[serde(default)]
    pub efficiency: Option<f64>,
    /// Response time in s; defaults by type.
    #[serde(default)]
    pub response_time_s: Option<f64>,
    /// Marginal cost in currency/MWh; derived by type when omitted.
    #[serde(default)]
    pub marginal_cost: Option<f64>,
    /// Where it is.
    pub location: Location,
    /// Device address.
    pub device_address: String,
    /// Asset owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// Extra attributes.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Parameters,
}

/// Partial update of a resource: only given fields change. The template cannot change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceUpdate {
    /// New name.
    pub name: Option<String>,
    /// New external id.
    pub external_id: Option<String>,
    /// Parameter values to change (merged into the current ones; `null` resets to the default).
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Parameters>,
    /// New rated power, kW.
    pub capacity_kw: Option<f64>,
    /// New lowest setpoint, kW.
    pub min_power_kw: Option<f64>,
    /// New highest setpoint, kW.
    pub max_power_kw: Option<f64>,
    /// New efficiency.
    pub efficiency: Option<f64>,
    /// New response time, s.
    pub response_time_s: Option<f64>,
    /// New marginal cost, currency/MWh.
    pub marginal_cost: Option<f64>,
    /// New location.
    pub location: Option<Location>,
    /// New device address.
    pub device_address: Option<String>,
    /// New owner.
    pub owner: Option<String>,
    /// New extra attributes (replace the old ones).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Parameters>,
}

/// The validated client-owned fields of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDraft {
    /// Template id.
    pub template_id: String,
    /// Type from the template.
    pub resource_type: ResourceType,
    /// Category from the template.
    pub category: ResourceCategory,
    /// Display name, trimmed.
    pub name: String,
    /// External id.
    pub external_id: Option<String>,
    /// Status.
    pub status: ResourceStatus,
    /// Limits.
    pub limits: OperatingLimits,
    /// Response time, s.
    pub response_time_s: f64,
    /// Marginal cost, currency/MWh.
    pub marginal_cost: f64,
    /// Location.
    pub location: Location,
    /// Device address.
    pub device_address: String,
    /// Owner.
    pub owner: Option<String>,
    /// Resolved parameters.
    pub parameters: Parameters,
    /// Extra attributes.
    pub metadata: Parameters,
}

impl ResourceDraft {
    /// Builds and validates a new resource from `request` and its `template`.
    pub fn new(template: &ResourceTemplate, request: ResourceRequest) -> Result<Self, Invalid> {
        let mut errors = Errors::default();
        let parameters = match template.resolve_parameters(&request.parameters) {
            Ok(p) => p,
            Err(e) => {
                errors.extend(e);
                Parameters::new()
            }
        };
        let derived = derived_limits(template.resource_type, &parameters);
        let pick = |given: Option<f64>, from: fn(&OperatingLimits) -> f64, field: &str, errors: &mut Errors| {
            given.or(derived.as_ref().map(from)).unwrap_or_else(|| {
                errors.push(field, "is required: the template's parameters do not imply it");
                0.0
            })
        };
        let limits = OperatingLimits {
            capacity_kw: pick(request.capacity_kw, |l| l.capacity_kw, "capacity_kw", &mut errors),
            min_power_kw: pick(request.min_power_kw, |l| l.min_power_kw, "min_power_kw", &mut errors),
            max_power_kw: pick(request.max_power_kw, |l| l.max_power_kw, "max_power_kw", &mut errors),
            efficiency: request.efficiency.or(derived.map(|l| l.efficiency)).unwrap_or(1.0),
        };
        let draft = Self {
            template_id: template.id.clone(),
            resource_type: template.resource_type,
            category: template.category,
            name: request.name.trim().to_string(),
            external_id: request.external_id.map(|s| s.trim().to_string()),
            status: request.status.unwrap_or(ResourceStatus::Offline),
            limits,
            response_time_s: request.response_time_s.unwrap_or(template.resource_type.default_response_time_s()),
            marginal_cost: request
                .marginal_cost
                .unwrap_or_else(|| derived_marginal_cost(template.resource_type, &parameters)),
            location: request.location,
            device_address: request.device_address.trim().to_string(),
            owner: request.owner,
            parameters,
            metadata: request.metadata,
        };
        draft.check(&mut errors);
        errors.finish(draft)
    }

    /// Applies a partial update to an existing resource and validates the result.
    /// Limits not given explicitly follow changed parameters.
    pub fn updated(template: &ResourceTemplate, current: &Resource, update: ResourceUpdate) -> Result<Self, Invalid> {
        let mut parameters = current.parameters.clone();
        let params_changed = update.parameters.is_some();
        for (k, v) in update.parameters.unwrap_or_default() {
            if v.is_null() {
                parameters.remove(&k);
            } else {
                parameters.insert(k, v);
            }
        }
        // Re-derive limits from the parameters only if they changed and the
        // caller did not pin the limit.
        let keep = |given: Option<f64>, current: f64| {
            if params_changed { given } else { given.or(Some(current)) }
        };
        let request = ResourceRequest {
            template_id: template.id.clone(),
            name: update.name.unwrap_or_else(|| current.name.clone()),
            external_id: update.external_id.or_else(|| current.external_id.clone()),
            status: Some(current.status),
            parameters,
            capacity_kw: keep(update.capacity_kw, current.capacity_kw),
            min_power_kw: keep(update.min_power_kw, current.min_power_kw),
            max_power_kw: keep(update.max_power_kw, current.max_power_kw),
            efficiency: keep(update.efficiency, current.efficiency),
            response_time_s: update.response_time_s.or(Some(current.response_time_s)),
            marginal_cost: update.marginal_cost.or(Some(current.marginal_cost)),
            location: update.location.unwrap_or_else(|| current.location.clone()),
            device_address: update.device_address.unwrap_or_else(|| current.device_address.clone()),
            owner: update.owner.or_else(|| current.owner.clone()),
            metadata: update.metadata.unwrap_or_else(|| current.metadata.clone()),
        };
        Self::new(template, request)
    }

    fn check(&self, errors: &mut Errors) {
        check_name(errors, "name", &self.name);
        if let Some(ext) = &self.external_id {
            errors.check(!ext.is_empty() && ext.len() <= 200, "external_id", "must be 1 to 200 characters");
        }
        let l = &self.limits;
        errors.range("capacity_kw", l.capacity_kw, 0.001, 10_000_000.0);
        errors.range("min_power_kw", l.min_power_kw, -10_000_000.0, 10_000_000.0);
        errors.range("max_power_kw", l.max_power_kw, -10_000_000.0, 10_000_000.0);
        errors.check(
            l.min_power_kw <= l.max_power_kw,
            "min_power_kw",
            format!("min_power_kw ({}) exceeds max_power_kw ({})", l.min_power_kw, l.max_power_kw),
        );
        let slack = 1e-9 * l.capacity_kw.abs();
        errors.check(
            l.max_power_kw.abs() <= l.capacity_kw + slack,
            "max_power_kw",
            format!("|max_power_kw| ({}) exceeds capacity_kw ({})", l.max_power_kw, l.capacity_kw),
        );
        errors.check(
            l.min_power_kw.abs() <= l.capacity_kw + slack,
            "min_power_kw",
            format!("|min_power_kw| ({}) exceeds capacity_kw ({})", l.min_power_kw, l.capacity_kw),
        );
        if !(l.efficiency.is_finite() && l.efficiency > 0.0 && l.efficiency <= 1.0) {
            errors.push("efficiency", format!("must be in (0, 1], got {}", l.efficiency));
        }
        errors.range("response_time_s", self.response_time_s, 0.0, 86_400.0);
        errors.range("marginal_cost", self.marginal_cost, -10_000.0, 100_000.0);
        self.location.validate(errors, "location");
        errors.check(
            !self.device_address.is_empty() && self.device_address.len() <= 500,
            "device_address",
            "must be 1 to 500 characters",
        );
    }
}

/// One recorded status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    /// Resource id.
    pub resource_id: String,
    /// Status before.
    pub from_status: ResourceStatus,
    /// Status after.
    pub to_status: ResourceStatus,
    /// Why it changed, in the language the request asked for
    /// (`Accept-Language`); what a person typed stays as typed.
    pub reason: String,
    /// The same as a code with its figures.
    pub content: crate::status_reason::StatusReason,
    /// When it changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: Timestamp,
}

impl StatusChange {
    /// The change with its reason in `lang`.
    pub fn in_lang(mut self, lang: crate::lang::Lang) -> Self {
        self.reason = self.content.render(lang);
        self
    }
}

/// A request to change a resource's status.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// New status.
    pub status: ResourceStatus,
    /// Why; required, at most 500 characters.
    pub reason: String,
}

impl StatusRequest {
    /// Checks the reason.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        let reason = self.reason.trim();
        errors.check(!reason.is_empty(), "reason", "must not be empty");
        errors.check(reason.chars().count() <= 500, "reason", "must be at most 500 characters");
        errors.finish(())
    }
}

/// One telemetry sample from a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// Measurement time (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub ts: Timestamp,
    /// Active power in kW, positive = injection.
    pub power_kw: f64,
    /// Energy meter reading in kWh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh: Option<f64>,
    /// State of charge in %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soc_pct: Option<f64>,
    /// Device temperature in °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
}

impl Telemetry {
    /// Range checks that catch unit mistakes: power within 1.5 × capacity
    /// (meters overshoot a little), SOC 0..100 %, temperature −60..150 °C.
    pub fn validate(&self, capacity_kw: f64) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        let bound = capacity_kw * 1.5;
        errors.range("power_kw", self.power_kw, -bound, bound);
        if let Some(e) = self.energy_kwh {
            errors.range("energy_kwh", e, -1e12, 1e12);
        }
        if let Some(s) = self.soc_pct {
            errors.range("soc_pct", s, 0.0, 100.0);
        }
        if let Some(t) = self.temperature_c {
            errors.range("temperature_c", t, -60.0, 150.0);
        }
        errors.finish(())
    }
}
