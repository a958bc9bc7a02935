//! The preset template library shipped with vpp and seeded on first start.
//!
//! Parameter names carry their unit. Ranges are generous physical bounds that
//! catch unit mistakes (a battery of 5,000,000 kWh is likely Wh given as kWh)
//! without refusing real equipment.

use serde_json::Value;

use crate::template::{
    ControlInterface, ControlPoint, ParameterKind, ParameterRule, ParameterSpec, PointAccess, Protocol, ResourceType,
    RuleOp, TemplateSpec,
};

fn number(name: &str, unit: &str, min: f64, max: f64, default: Option<f64>, description: &str) -> ParameterSpec {
    ParameterSpec {
        name: name.into(),
        kind: ParameterKind::Number,
        unit: Some(unit.into()),
        description: Some(description.into()),
        required: default.is_none(),
        min: Some(min),
        max: Some(max),
        default: default.map(Value::from),
        options: vec![],
    }
}

fn optional_number(name: &str, unit: &str, min: f64, max: f64, description: &str) -> ParameterSpec {
    ParameterSpec { required: false, ..number(name, unit, min, max, None, description) }
}

fn integer(name: &str, min: i64, max: i64, default: i64, description: &str) -> ParameterSpec {
    ParameterSpec {
        kind: ParameterKind::Integer,
        unit: None,
        required: false,
        default: Some(Value::from(default)),
        ..number(name, "", min as f64, max as f64, None, description)
    }
}

fn boolean(name: &str, default: bool, description: &str) -> ParameterSpec {
    ParameterSpec {
        name: name.into(),
        kind: ParameterKind::Boolean,
        unit: None,
        description: Some(description.into()),
        required: false,
        min: None,
        max: None,
        default: Some(Value::from(default)),
        options: vec![],
    }
}

fn choice(name: &str, options: &[&str], default: &str, description: &str) -> ParameterSpec {
    ParameterSpec {
        kind: ParameterKind::Enum,
        options: options.iter().map(|s| s.to_string()).collect(),
        default: Some(Value::from(default)),
        ..boolean(name, false, description)
    }
}

fn rule(left: &str, op: RuleOp, right: &str) -> ParameterRule {
    ParameterRule { left: left.into(), op, right: right.into() }
}

fn point(name: &str, address: &str, unit: Option<&str>, access: PointAccess) -> ControlPoint {
    ControlPoint { name: name.into(), address: address.into(), unit: unit.map(String::from), access }
}

fn modbus(points: Vec<ControlPoint>) -> ControlInterface {
    ControlInterface { protocol: Protocol::ModbusTcp, points }
}

fn power_points(setpoint: bool) -> Vec<ControlPoint> {
    let mut points = vec![point("active_power", "40083", Some("kW"), PointAccess::Read)];
    if setpoint {
        points.push(point("active_power_setpoint", "40200", Some("kW"), PointAccess::ReadWrite));
    }
    points
}

fn spec(
    name: &str,
    resource_type: ResourceType,
    description: &str,
    parameters: Vec<ParameterSpec>,
    rules: Vec<ParameterRule>,
    control_interface: ControlInterface,
) -> TemplateSpec {
    TemplateSpec {
        name: name.into(),
        resource_type,
        category: None,
        description: description.into(),
        parameters,
        rules,
        control_interface,
    }
}

/// The preset library: one template per resource type except `OTHER`.
pub fn preset_templates() -> Vec<TemplateSpec> {
    use ResourceType::*;
    vec![
        spec(
            "PV plant",
            Pv,
            "Rooftop or ground-mounted photovoltaic plant with a controllable inverter",
            vec![
                number("peak_kw", "kWp", 0.1, 1_000_000.0, None, "DC peak power at standard test conditions"),
                number("inverter_kw", "kW", 0.1, 1_000_000.0, None, "AC rating of the inverters"),
                number("tilt_deg", "deg", 0.0, 90.0, Some(30.0), "Module tilt from horizontal"),
                number("azimuth_deg", "deg", 0.0, 360.0, Some(180.0), "Module azimuth, 180 = south"),
                number("inverter_efficiency", "1", 0.5, 1.0, Some(0.97), "European-weighted inverter efficiency"),
                number("degradation_pct_per_year", "%/a", 0.0, 5.0, Some(0.5), "Yearly loss of peak power"),
            ],
            vec![],
            ControlInterface {
                protocol: Protocol::Sunspec,
                points: vec![
                    point("active_power", "40083", Some("kW"), PointAccess::Read),
                    point("power_limit_pct", "40232", Some("%"), PointAccess::ReadWrite),
                ],
            },
        ),
        spec(
            "Wind turbine",
            Wind,
            "Onshore wind turbine with pitch control",
            vec![
                number("rated_kw", "kW", 1.0, 20_000.0, None, "Rated electrical output"),
                number("hub_height_m", "m", 10.0, 200.0, Some(120.0), "Hub height above ground"),
                number("rotor_diameter_m", "m", 5.0, 250.0, Some(130.0), "Rotor diameter"),
                number("cut_in_ms", "m/s", 0.5, 10.0, Some(3.0), "Wind speed where generation starts"),
                number("cut_out_ms", "m/s", 10.0, 40.0, Some(25.0), "Wind speed where the turbine stops"),
                ParameterSpec {
                    name: "power_curve".into(),
                    kind: ParameterKind::Curve,
                    unit: Some("kW".into()),
                    description: Some(
                        "Power curve: [[wind speed m/s, output kW], ...]; without one, forecasts use a \
                         generic curve scaled to rated_kw"
                            .into(),
                    ),
                    required: false,
                    min: Some(0.0),
                    max: Some(20_000.0),
                    // No default: a fixed curve would cap every turbine at its
                    // own rating (a 4.5 MW turbine at 3.4 MW); the physical
                    // model scales its generic shape to `rated_kw` instead.
                    default: None,
                    options: vec![],
                },
            ],
            vec![rule("cut_in_ms", RuleOp::Lt, "cut_out_ms")],
            modbus(power_points(true)),
        ),
        spec(
            "Battery storage",
            Battery,
            "Stationary lithium-ion battery energy storage system",
            vec![
                number("usable_energy_kwh", "kWh", 0.5, 5_000_000.0, None, "Usable energy between 0 % and 100 % SOC"),
                number("max_charge_kw", "kW", 0.1, 2_000_000.0, None, "Maximum charging power at the grid connection"),
                number(
                    "max_discharge_kw",
                    "kW",
                    0.1,
                    2_000_000.0,
                    None,
                    "Maximum discharging power at the grid connection",
                ),
                number("round_trip_efficiency", "1", 0.5, 1.0, Some(0.9), "AC-to-AC round-trip efficiency"),
                number("soc_min_pct", "%", 0.0, 100.0, Some(10.0), "Lowest allowed state of charge"),
                number("soc_max_pct", "%", 0.0, 100.0, Some(90.0), "Highest allowed state of charge"),
                number(
                    "cycle_cost_per_kwh",
                    "currency/kWh",
                    0.0,
                    1.0,
                    Some(0.02),
                    "Degradation cost per kWh of throughput",
                ),
                choice("chemistry", &["LFP", "NMC", "NCA", "LTO", "SODIUM_ION", "FLOW"], "LFP", "Cell chemistry"),
            ],
            vec![rule("soc_min_pct", RuleOp::Lt, "soc_max_pct")],
            modbus(vec![
                point("active_power", "40083", Some("kW"), PointAccess::Read),
                point("soc", "40100", Some("%"), PointAccess::Read),
                point("active_power_setpoint", "40200", Some("kW"), PointAccess::ReadWrite),
            ]),
        ),
        spec(
            "EV charger",
            EvCharger,
            "Public or depot EV charging point, managed over OCPP",
            vec![
                number("max_charge_kw", "kW", 1.0, 1_000.0, None, "Maximum charging power"),
                boolean("v2g", false, "Bidirectional: can discharge connected vehicles"),
                number("max_discharge_kw", "kW", 0.0, 1_000.0, Some(0.0), "Maximum discharging power (V2G only)"),
                integer("connectors", 1, 64, 2, "Number of connectors"),
                number(
                    "min_charge_kw",
                    "kW",
                    0.0,
                    50.0,
                    Some(1.4),
                    "Smallest controllable charging power (6 A single phase)",
                ),
                number(
                    "default_session_kwh",
                    "kWh",
                    0.0,
                    1_000.0,
                    Some(20.0),
                    "Energy a schedule plans for when no vehicle states its need (NotifyEVChargingNeeds)",
                ),
            ],
            vec![rule("min_charge_kw", RuleOp::Le, "max_charge_kw")],
            ControlInterface {
                protocol: Protocol::Ocpp,
                points: vec![
                    point("power_active_import", "Power.Active.Import", Some("kW"), PointAccess::Read),
                    point("charging_profile_limit", "SetChargingProfile", Some("kW"), PointAccess::Write),
                ],
            },
        ),
        spec(
            "Heat pump",
            HeatPump,
            "Electric heat pump with thermal buffer, switched by smart-grid signal",
            vec![
                number("rated_electrical_kw", "kW", 0.5, 50_000.0, None, "Electrical input at full load"),
                number("cop", "1", 1.0, 8.0, Some(3.5), "Coefficient of performance at the design point"),
                number("thermal_storage_kwh", "kWh", 0.0, 1_000_000.0, Some(0.0), "Thermal buffer capacity"),
                integer("min_run_minutes", 0, 240, 20, "Minimum run time once started"),
            ],
            vec![],
            modbus(power_points(true)),
        ),
        spec(
            "HVAC",
            Hvac,
            "Building heating, ventilation and air conditioning with a setpoint band",
            vec![
                number("rated_kw", "kW", 0.5, 50_000.0, None, "Electrical input at full load"),
                number("setpoint_c", "°C", 10.0, 30.0, Some(22.0), "Comfort setpoint"),
                number("comfort_band_c", "K", 0.0, 5.0, Some(1.5), "Allowed deviation from the setpoint"),
                number("thermal_time_constant_h", "h", 0.1, 100.0, Some(4.0), "Building thermal time constant"),
            ],
            vec![],
            ControlInterface {
                protocol: Protocol::Openadr,
                points: vec![point("load_level", "LOAD_DISPATCH", Some("kW"), PointAccess::Write)],
            },
        ),
        spec(
            "Flexible industrial load",
            IndustrialLoad,
            "Shiftable or curtailable industrial process (compressors, cold stores, electrolysers)",
            vec![
                number("max_load_kw", "kW", 1.0, 500_000.0, None, "Consumption at full production"),
                number(
                    "min_load_kw",
                    "kW",
                    0.0,
                    500_000.0,
                    Some(0.0),
                    "Consumption that cannot be curtailed while running",
                ),
                number("max_shift_hours", "h", 0.0, 48.0, Some(4.0), "How far production can move in time"),
                number("max_curtail_minutes", "min", 0.0, 1_440.0, Some(60.0), "Longest curtailment per event"),
                ParameterSpec {
                    kind: ParameterKind::String,
                    required: false,
                    default: None,
                    min: None,
                    max: None,
                    unit: None,
                    ..number("process", "", 0.0, 0.0, None, "Name of the process")
                },
            ],
            vec![rule("min_load_kw", RuleOp::Le, "max_load_kw")],
            modbus(power_points(true)),
        ),
        spec(
            "Diesel generator",
            DieselGenerator,
            "Stand-by diesel generator set usable for peak and reserve",
            vec![
                number("rated_kw", "kW", 1.0, 50_000.0, None, "Rated electrical output"),
                number("min_stable_kw", "kW", 0.0, 50_000.0, Some(0.0), "Lowest stable output while running"),
                number(
                    "fuel_cost_per_mwh",
                    "currency/MWh",
                    0.0,
                    2_000.0,
                    Some(250.0),
                    "Fuel cost per MWh of electricity",
                ),
                number("start_cost", "currency", 0.0, 100_000.0, Some(20.0), "Cost of one start"),
                integer("min_up_minutes", 0, 1_440, 30, "Minimum run time"),
                integer("min_down_minutes", 0, 1_440, 15, "Minimum stop time"),
                optional_number("ramp_kw_per_min", "kW/min", 0.0, 100_000.0, "Ramp rate"),
            ],
            vec![rule("min_stable_kw", RuleOp::Le, "rated_kw")],
            modbus(power_points(true)),
        ),
        spec(
            "CHP unit",
            Chp,
            "Gas-fired combined heat and power unit",
            vec![
                number("electrical_kw", "kW", 1.0, 500_000.0, None, "Rated electrical output"),
                number("thermal_kw", "kW", 0.0, 1_000_000.0, None, "Rated heat output"),
                number("min_electrical_kw", "kW", 0.0, 500_000.0, Some(0.0), "Lowest stable electrical output"),
                number("electrical_efficiency", "1", 0.1, 0.7, Some(0.38), "Fuel to electricity"),
                number("thermal_efficiency", "1", 0.1, 0.8, Some(0.5), "Fuel to heat"),
            ],
            vec![rule("min_electrical_kw", RuleOp::Le, "electrical_kw")],
            modbus(power_points(true)),
        ),
    ]
}
