//! Resource templates: a kind of DER with a typed parameter schema, a control
//! interface and a version.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Errors, Invalid, check_name};

/// Parameter values of a resource, by parameter name.
pub type Parameters = BTreeMap<String, Value>;

/// The physical kind of a distributed energy resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceType {
    /// Photovoltaic plant.
    Pv,
    /// Wind turbine.
    Wind,
    /// Stationary battery storage.
    Battery,
    /// Electric-vehicle charger, optionally bidirectional (V2G).
    EvCharger,
    /// Electric heat pump.
    HeatPump,
    /// Heating, ventilation and air conditioning.
    Hvac,
    /// Flexible industrial load (shiftable or curtailable process).
    IndustrialLoad,
    /// Diesel generator.
    DieselGenerator,
    /// Combined heat and power unit.
    Chp,
    /// Anything else; its operating limits must be given explicitly.
    Other,
}

impl ResourceType {
    /// Every type, in display order.
    pub const ALL: [ResourceType; 10] = [
        Self::Pv,
        Self::Wind,
        Self::Battery,
        Self::EvCharger,
        Self::HeatPump,
        Self::Hvac,
        Self::IndustrialLoad,
        Self::DieselGenerator,
        Self::Chp,
        Self::Other,
    ];

    /// Stable wire name, e.g. `EV_CHARGER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pv => "PV",
            Self::Wind => "WIND",
            Self::Battery => "BATTERY",
            Self::EvCharger => "EV_CHARGER",
            Self::HeatPump => "HEAT_PUMP",
            Self::Hvac => "HVAC",
            Self::IndustrialLoad => "INDUSTRIAL_LOAD",
            Self::DieselGenerator => "DIESEL_GENERATOR",
            Self::Chp => "CHP",
            Self::Other => "OTHER",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The category a template of this type belongs to unless it says otherwise.
    pub fn default_category(self) -> ResourceCategory {
        match self {
            Self::Pv | Self::Wind | Self::DieselGenerator | Self::Chp => ResourceCategory::Generation,
            Self::Battery => ResourceCategory::Storage,
            Self::Hvac => ResourceCategory::Load,
            Self::EvCharger | Self::HeatPump | Self::IndustrialLoad | Self::Other => ResourceCategory::Flexible,
        }
    }

    /// Typical time from setpoint to full response, in seconds.
    pub fn default_response_time_s(self) -> f64 {
        match self {
            Self::Battery => 1.0,
            Self::Pv | Self::EvCharger => 5.0,
            Self::Wind => 10.0,
            Self::HeatPump | Self::DieselGenerator => 60.0,
            Self::Hvac => 120.0,
            Self::IndustrialLoad | Self::Chp | Self::Other => 300.0,
        }
    }
}

/// What role a resource plays in the portfolio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceCategory {
    /// Produces energy.
    Generation,
    /// Stores and returns energy.
    Storage,
    /// Consumes energy, with some control.
    Load,
    /// Consumption that can be shifted or modulated.
    Flexible,
}

impl ResourceCategory {
    /// Every category, in index order (see [`ResourceCategory::index`]).
    pub const ALL: [ResourceCategory; 4] = [Self::Generation, Self::Storage, Self::Load, Self::Flexible];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generation => "GENERATION",
            Self::Storage => "STORAGE",
            Self::Load => "LOAD",
            Self::Flexible => "FLEXIBLE",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Position in [`ResourceCategory::ALL`], for array-indexed accumulators.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The value type of a template parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// A finite real number.
    Number,
    /// A whole number.
    Integer,
    /// true or false.
    Boolean,
    /// Free text (at most 500 characters).
    String,
    /// One of `options`.
    Enum,
    /// A piecewise-linear curve: `[[x, y], ...]` with strictly increasing x;
    /// `min`/`max` bound y. Example: a wind power curve in (m/s, kW).
    Curve,
}

/// One typed parameter of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// snake_case name, unique within the template; include the unit, e.g. `usable_energy_kwh`.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    /// Unit of the value (for curves: of y), e.g. `kWh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What the parameter means physically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A resource must give a value (or the template a default).
    #[serde(default)]
    pub required: bool,
    /// Inclusive lower bound for numbers, integers and curve y values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Inclusive upper bound for numbers, integers and curve y values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Value used when a resource gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Allowed values of an `enum` parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A rule between two numeric parameters, checked on every resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterRule {
    /// Name of the left-hand parameter.
    pub left: String,
    /// Comparison.
    pub op: RuleOp,
    /// Name of the right-hand parameter.
    pub right: String,
}

/// Comparison used by a [`ParameterRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RuleOp {
    /// left < right
    #[serde(rename = "<")]
    Lt,
    /// left <= right
    #[serde(rename = "<=")]
    Le,
}

/// How the platform talks to a device of this kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlInterface {
    /// Protocol: MODBUS_TCP, SUNSPEC, MQTT, OCPP, IEC_61850, OPENADR, HTTP.
    pub protocol: Protocol,
    /// Data points read from or written to the device.
    #[serde(default)]
    pub points: Vec<ControlPoint>,
}

/// A device protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum Protocol {
    ModbusTcp,
    Sunspec,
    Mqtt,
    Ocpp,
    #[serde(rename = "IEC_61850")]
    Iec61850,
    Openadr,
    Http,
}

/// One readable or writable point of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlPoint {
    /// Point name, e.g. `active_power_setpoint`.
    pub name: String,
    /// Protocol address: a Modbus register, an MQTT topic suffix, an OCPP measurand.
    pub address: String,
    /// Unit of the value, e.g. `kW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Read, write or both.
    pub access: PointAccess,
}

/// Access mode of a control point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[allow(missing_docs)]
pub enum PointAccess {
    #[serde(rename = "R")]
    Read,
    #[serde(rename = "W")]
    Write,
    #[serde(rename = "RW")]
    ReadWrite,
}

/// A stored resource template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceTemplate {
    /// Server-assigned id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Physical kind.
    pub resource_type: ResourceType,
    /// Portfolio role.
    pub category: ResourceCategory,
    /// Free description.
    pub description: String,
    /// Typed parameter schema.
    pub parameters: Vec<ParameterSpec>,
    /// Cross-parameter rules.
    pub rules: Vec<ParameterRule>,
    /// How devices of this kind are controlled.
    pub control_interface: ControlInterface,
    /// Starts at 1 and grows by one on every update.
    pub version: i64,
    /// Part of the preset library shipped with vpp.
    pub preset: bool,
    /// When created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// The client-owned content of a template, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Unique name.
    pub name: String,
    /// Physical kind.
    pub resource_type: ResourceType,
    /// Portfolio role; defaults from the type.
    #[serde(default)]
    pub category: Option<ResourceCategory>,
    /// Free description.
    #[serde(default)]
    pub description: String,
    /// Typed parameter schema.
    #[serde(default)]
    pub parameters: Vec<ParameterSpec>,
    /// Cross-parameter rules.
    #[serde(default)]
    pub rules: Vec<ParameterRule>,
    /// How devices of this kind are controlled.
    pub control_interface: ControlInterface,
}

impl TemplateSpec {
    /// Checks the schema itself: names, bounds, defaults, options and rules.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        check_name(&mut errors, "name", &self.name);
        let mut seen = HashSet::new();
        for (i, p) in self.parameters.iter().enumerate() {
            let field = format!("parameters[{i}]");
            let valid_name = !p.name.is_empty()
                && p.name.len() <= 64
                && p.name.starts_with(|c: char| c.is_ascii_lowercase())
                && p.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            errors.check(valid_name, format!("{field}.name"), "must be snake_case ([a-z][a-z0-9_]*, at most 64)");
            errors.check(
                seen.insert(p.name.as_str()),
                format!("{field}.name"),
                format!("duplicate parameter `{}`", p.name),
            );
            for (bound, v) in [("min", p.min), ("max", p.max)] {
                if let Some(v) = v {
                    errors.check(v.is_finite(), format!("{field}.{bound}"), "must be finite");
                }
            }
            if let (Some(lo), Some(hi)) = (p.min, p.max) {
                errors.check(lo <= hi, format!("{field}.min"), format!("min {lo} exceeds max {hi}"));
            }
            if p.kind == ParameterKind::Enum {
                errors.check(!p.options.is_empty(), format!("{field}.options"), "an enum needs at least one option");
            } else {
                errors.check(p.options.is_empty(), format!("{field}.options"), "only enum parameters have options");
            }
            if let Some(Err(message)) = p.default.as_ref().map(|d| check_value(p, d)) {
                errors.push(format!("{field}.default"), message);
            }
        }
        let numeric = |name: &str| {
            self.parameters
                .iter()
                .any(|p| p.name == name && matches!(p.kind, ParameterKind::Number | ParameterKind::Integer))
        };
        for (i, r) in self.rules.iter().enumerate() {
            errors.check(
                numeric(&r.left),
                format!("rules[{i}].left"),
                format!("`{}` is not a numeric parameter", r.left),
            );
            errors.check(
                numeric(&r.right),
                format!("rules[{i}].right"),
                format!("`{}` is not a numeric parameter", r.right),
            );
        }
        let mut points = HashSet::new();
        for (i, p) in self.control_interface.points.iter().enumerate() {
            errors.check(!p.name.trim().is_empty(), format!("control_interface.points[{i}].name"), "must not be empty");
            errors.check(
                points.insert(p.name.as_str()),
                format!("control_interface.points[{i}].name"),
                format!("duplicate point `{}`", p.name),
            );
            errors.check(
                !p.address.trim().is_empty(),
                format!("control_interface.points[{i}].address"),
                "must not be empty",
            );
        }
        // The defaults together must satisfy the rules, or no resource could use them.
        if errors.is_empty() {
            let defaults: Parameters =
                self.parameters.iter().filter_map(|p| Some((p.name.clone(), p.default.clone()?))).collect();
            for (i, r) in self.rules.iter().enumerate() {
                if let Err(message) = check_rule(r, &defaults) {
                    errors.push(format!("rules[{i}]"), format!("the defaults break this rule: {message}"));
                }
            }
        }
        errors.finish(())
    }

    /// The category, defaulted from the type.
    pub fn category(&self) -> ResourceCategory {
        self.category.unwrap_or_else(|| self.resource_type.default_category())
    }
}

/// Partial update of a template: only the given fields change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateUpdate {
    /// New name.
    pub name: Option<String>,
    /// New category.
    pub category: Option<ResourceCategory>,
    /// New description.
    pub description: Option<String>,
    /// New parameter schema (replaces the old one).
    pub parameters: Option<Vec<ParameterSpec>>,
    /// New rules (replace the old ones).
    pub rules: Option<Vec<ParameterRule>>,
    /// New control interface.
    pub control_interface: Option<ControlInterface>,
}

impl ResourceTemplate {
    /// The client-owned part of this template.
    pub fn spec(&self) -> TemplateSpec {
        TemplateSpec {
            name: self.name.clone(),
            resource_type: self.resource_type,
            category: Some(self.category),
            description: self.description.clone(),
            parameters: self.parameters.clone(),
            rules: self.rules.clone(),
            control_interface: self.control_interface.clone(),
        }
    }

    /// Applies an update to the spec and validates the result.
    pub fn updated_spec(&self, update: TemplateUpdate) -> Result<TemplateSpec, Invalid> {
        let mut spec = self.spec();
        if let Some(v) = update.name {
            spec.name = v;
        }
        if let Some(v) = update.category {
            spec.category = Some(v);
        }
        if let Some(v) = update.description {
            spec.description = v;
        }
        if let Some(v) = update.parameters {
            spec.parameters = v;
        }
        if let Some(v) = update.rules {
            spec.rules = v;
        }
        if let Some(v) = update.control_interface {
            spec.control_interface = v;
        }
        spec.validate()?;
        Ok(spec)
    }

    /// Validates resource parameter values against this template and fills in
    /// defaults. Unknown names, missing required values, wrong types, values
    /// out of range and broken rules are all reported, each under
    /// `parameters.<name>`.
    pub fn resolve_parameters(&self, given: &Parameters) -> Result<Parameters, Invalid> {
        let mut errors = Errors::default();
        for name in given.keys() {
            if !self.parameters.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                errors.push(
                    format!("parameters.{name}"),
                    format!("unknown parameter for template `{}`; known: {}", self.name, known.join(", ")),
                );
            }
        }
        let mut resolved = Parameters::new();
        for spec in &self.parameters {
            let field = format!("parameters.{}", spec.name);
            match given.get(&spec.name).filter(|v| !v.is_null()).or(spec.default.as_ref()) {
                Some(value) => match check_value(spec, value) {
                    Ok(()) => {
                        resolved.insert(spec.name.clone(), value.clone());
                    }
                    Err(message) => errors.push(field, message),
                },
                None if spec.required => errors.push(field, "is required"),
                None => {}
            }
        }
        if errors.is_empty() {
            for rule in &self.rules {
                if let Err(message) = check_rule(rule, &resolved) {
                    errors.push(format!("parameters.{}", rule.left), message);
                }
            }
        }
        errors.finish(resolved)
    }
}

fn check_rule(rule: &ParameterRule, values: &Parameters) -> Result<(), String> {
    let (Some(l), Some(r)) =
        (values.get(&rule.left).and_then(Value::as_f64), values.get(&rule.right).and_then(Value::as_f64))
    else {
        return Ok(()); // an absent optional parameter cannot break a rule
    };
    let (holds, sym) = match rule.op {
        RuleOp::Lt => (l < r, "<"),
        RuleOp::Le => (l <= r, "<="),
    };
    if holds { Ok(()) } else { Err(format!("{} ({l}) must be {sym} {} ({r})", rule.left, rule.right)) }
}

fn check_bounds(spec: &ParameterSpec, v: f64, what: &str) -> Result<(), String> {
    if !v.is_finite() {
        return Err(format!("{what} must be finite"));
    }
    if let Some(min) = spec.min.filter(|m| v < *m) {
        return Err(format!("{what} {v} is below the minimum {min}{}", unit_suffix(spec)));
    }
    if let Some(max) = spec.max.filter(|m| v > *m) {
        return Err(format!("{what} {v} is above the maximum {max}{}", unit_suffix(spec)));
    }
    Ok(())
}

fn unit_suffix(spec: &ParameterSpec) -> String {
    spec.unit.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
}

/// Checks one value against its spec.
fn check_value(spec: &ParameterSpec, value: &Value) -> Result<(), String> {
    match spec.kind {
        ParameterKind::Number => {
            let v = value.as_f64().ok_or_else(|| format!("expected a number, got {value}"))?;
            check_bounds(spec, v, "value")
        }
        ParameterKind::Integer => {
            let v = value.as_i64().ok_or_else(|| format!("expected an integer, got {value}"))?;
            check_bounds(spec, v as f64, "value")
        }
        ParameterKind::Boolean => {
            value.as_bool().map(|_| ()).ok_or_else(|| format!("expected true or false, got {value}"))
        }
        ParameterKind::String => match value.as_str() {
            Some(s) if s.chars().count() <= 500 => Ok(()),
            Some(_) => Err("text longer than 500 characters".into()),
            None => Err(format!("expected a string, got {value}")),
        },
        ParameterKind::Enum => match value.as_str() {
            Some(s) if spec.options.iter().any(|o| o == s) => Ok(()),
            _ => Err(format!("expected one of {}, got {value}", spec.options.join(", "))),
        },
        ParameterKind::Curve => check_curve(spec, value),
    }
}

fn check_curve(spec: &ParameterSpec, value: &Value) -> Result<(), String> {
    let points = value.as_array().ok_or("expected a curve: an array of [x, y] pairs")?;
    if points.len() < 2 {
        return Err("a curve needs at least 2 points".into());
    }
    let mut last_x = f64::NEG_INFINITY;
    for (i, point) in points.iter().enumerate() {
        let pair = point.as_array().filter(|p| p.len() == 2).ok_or(format!("point {i} must be [x, y]"))?;
        let (Some(x), Some(y)) = (pair[0].as_f64(), pair[1].as_f64()) else {
            return Err(format!("point {i} must hold two numbers"));
        };
        if !x.is_finite() || x <= last_x {
            return Err(format!("point {i}: x values must be finite and strictly increasing"));
        }
        last_x = x;
        check_bounds(spec, y, &format!("point {i}: y"))?;
    }
    Ok(())
}

/// A JSON library file of templates, for export and import.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateLibrary {
    /// Always `vpp-template-library`.
    pub format: String,
    /// Library format version; currently 1.
    pub format_version: u32,
    /// When exported.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub exported_at: Option<Timestamp>,
    /// The templates, identified by name on import.
    pub templates: Vec<TemplateSpec>,
}

impl TemplateLibrary {
    /// The format tag of library files.
    pub const FORMAT: &'static str = "vpp-template-library";

    /// Checks the header, every template, and that names are unique in the file.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        errors.check(self.format == Self::FORMAT, "format", format!("must be `{}`", Self::FORMAT));
        errors.check(self.format_version == 1, "format_version", "only version 1 is supported");
        let mut names = HashSet::new();
        for (i, t) in self.templates.iter().enumerate() {
            if let Err(Invalid(list)) = t.validate() {
                for e in list {
                    errors.push(format!("templates[{i}].{}", e.field), e.message);
                }
            }
            errors.check(
                names.insert(t.name.trim()),
                format!("templates[{i}].name"),
                format!("duplicate name `{}` in the file", t.name),
            );
        }
        errors.finish(())
    }
}

/// Outcome of importing a template library file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LibraryImportReport {
    /// Names of templates created.
    pub created: Vec<String>,
    /// Names of templates changed (version raised).
    pub updated: Vec<String>,
    /// Names of templates already identical.
    pub unchanged: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::preset_templates;
    use serde_json::json;

    fn battery() -> ResourceTemplate {
        let spec =
            preset_templates().into_iter().find(|t| t.resource_type == ResourceType::Battery).expect("battery preset");
        ResourceTemplate {
            id: "t".into(),
            name: spec.name.clone(),
            resource_type: spec.resource_type,
            category: spec.category(),
            description: spec.description,
            parameters: spec.parameters,
            rules: spec.rules,
            control_interface: spec.control_interface,
            version: 1,
            preset: true,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn params(v: Value) -> Parameters {
        serde_json::from_value(v).expect("object")
    }

    #[test]
    fn presets_are_valid() {
        for t in preset_templates() {
            t.validate().unwrap_or_else(|e| panic!("{}: {e}", t.name));
        }
    }

    #[test]
    fn battery_defaults_fill_in() {
        let p = battery()
            .resolve_parameters(&params(
                json!({"usable_energy_kwh": 200, "max_charge_kw": 100, "max_discharge_kw": 100}),
            ))
            .expect("valid");
        assert_eq!(p["soc_min_pct"], json!(10.0));
        assert_eq!(p["round_trip_efficiency"], json!(0.9));
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let err = battery()
            .resolve_parameters(&params(json!({"usable_energy_kwh": -5, "max_charge_kw": "fast", "colour": "red"})))
            .expect_err("invalid");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"parameters.usable_energy_kwh"), "{fields:?}");
        assert!(fields.contains(&"parameters.max_charge_kw"), "{fields:?}");
        assert!(fields.contains(&"parameters.colour"), "{fields:?}");
        assert!(fields.contains(&"parameters.max_discharge_kw"), "missing required: {fields:?}");
    }

    #[test]
    fn rules_are_enforced() {
        let err = battery()
            .resolve_parameters(&params(json!({
                "usable_energy_kwh": 200, "max_charge_kw": 100, "max_discharge_kw": 100,
                "soc_min_pct": 80, "soc_max_pct": 20
            })))
            .expect_err("soc window inverted");
        assert_eq!(err.0[0].field, "parameters.soc_min_pct");
    }

    #[test]
    fn curve_x_must_increase() {
        let spec = ParameterSpec {
            name: "power_curve".into(),
            kind: ParameterKind::Curve,
            unit: Some("kW".into()),
            description: None,
            required: true,
            min: Some(0.0),
            max: None,
            default: None,
            options: vec![],
        };
        assert!(check_value(&spec, &json!([[3, 0], [12, 2000]])).is_ok());
        assert!(check_value(&spec, &json!([[3, 0], [3, 10]])).is_err());
        assert!(check_value(&spec, &json!([[3, -1], [4, 10]])).is_err());
        assert!(check_value(&spec, &json!([[3, 0]])).is_err());
    }

    #[test]
    fn schema_errors_are_reported() {
        let mut spec = preset_templates().remove(0);
        spec.parameters[0].min = Some(10.0);
        spec.parameters[0].max = Some(1.0);
        spec.parameters.push(spec.parameters[1].clone());
        spec.rules.push(ParameterRule { left: "nope".into(), op: RuleOp::Lt, right: spec.parameters[0].name.clone() });
        let err = spec.validate().expect_err("invalid schema");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"parameters[0].min"), "{fields:?}");
        assert!(fields.iter().any(|f| f.ends_with(".name")), "{fields:?}");
        assert!(fields.contains(&"rules[0].left") || fields.iter().any(|f| f.starts_with("rules[")), "{fields:?}");
    }
}
