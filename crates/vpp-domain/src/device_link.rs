//! A resource's link to its device over a field standard (Modbus TCP with
//! SunSpec or an explicit register map), as configured by an operator.
//!
//! Safety: nothing connects to a device unless its link is `enabled` with a
//! host and port. A resource's `device_address` is a label and starts
//! nothing.

use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};

/// The protocol of a device link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkProtocol {
    /// Modbus TCP (holding registers, function codes 3, 6 and 16).
    ModbusTcp,
}

impl LinkProtocol {
    /// Name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModbusTcp => "modbus_tcp",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        (s == "modbus_tcp").then_some(Self::ModbusTcp)
    }
}

/// How vpp reaches one device, and what it reads and writes there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceLinkSpec {
    /// `modbus_tcp`.
    pub protocol: LinkProtocol,
    /// Polling and setpoints run only while true.
    pub enabled: bool,
    /// Host name or IP address of the device or its gateway (no scheme).
    pub host: String,
    /// TCP port (Modbus: 502 unless the device says otherwise).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Modbus unit id (slave address behind a gateway), 0..=247.
    #[serde(default = "default_unit")]
    pub unit_id: u8,
    /// Seconds between polls, 0.5..=3600.
    #[serde(default = "default_poll")]
    pub poll_interval_s: f64,
    /// Longest wait for one answer, ms, 50..=60,000.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Where the values are.
    pub register_map: RegisterMap,
}

fn default_port() -> u16 {
    502
}
fn default_unit() -> u8 {
    1
}
fn default_poll() -> f64 {
    5.0
}
fn default_timeout() -> u64 {
    1000
}

/// Where a device keeps its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegisterMap {
    /// Discovered at run time: the `SunS` marker at 40000, 50000 or 0 (or
    /// at `base_address`), then the chain of SunSpec models.
    Sunspec {
        /// Where the marker is, if not at one of the usual places.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_address: Option<u16>,
    },
    /// Registers named one by one.
    Explicit {
        /// The registers.
        points: Vec<RegisterPoint>,
    },
}

/// One value at a register address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPoint {
    /// What the value is.
    pub meaning: PointMeaning,
    /// Holding register address (0-based, as on the wire).
    pub address: u16,
    /// How the registers hold it (32-bit types take two registers, high word first).
    #[serde(rename = "type")]
    pub data_type: RegisterType,
    /// Unit of the raw value times its scale: W or kW for power, Wh or kWh
    /// for energy, % for SOC, °C for temperature.
    pub unit: String,
    /// Fixed multiplier of the raw value (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    /// Register holding a SunSpec-style scale factor: the value is raw × 10^sf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_factor_address: Option<u16>,
}

/// What a register means to vpp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointMeaning {
    /// Active power, positive into the grid (read).
    ActivePower,
    /// Energy counter (read).
    Energy,
    /// State of charge (read).
    Soc,
    /// Temperature (read).
    Temperature,
    /// Active power setpoint, positive into the grid (written by dispatch, read back).
    PowerSetpoint,
}

impl PointMeaning {
    /// Name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActivePower => "active_power",
            Self::Energy => "energy",
            Self::Soc => "soc",
            Self::Temperature => "temperature",
            Self::PowerSetpoint => "power_setpoint",
        }
    }

    fn units(self) -> &'static [&'static str] {
        match self {
            Self::ActivePower | Self::PowerSetpoint => &["W", "kW"],
            Self::Energy => &["Wh", "kWh"],
            Self::Soc => &["%"],
            Self::Temperature => &["°C"],
        }
    }
}

/// Register encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum RegisterType {
    U16,
    I16,
    U32,
    I32,
    F32,
}

impl RegisterType {
    /// Registers it occupies.
    pub fn width(self) -> u16 {
        match self {
            Self::U16 | Self::I16 => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
        }
    }

    /// The value of its registers (high word first).
    pub fn decode(self, regs: &[u16]) -> Option<f64> {
        let word = |i: usize| regs.get(i).copied();
        let long = || Some((u32::from(word(0)?) << 16) | u32::from(word(1)?));
        Some(match self {
            Self::U16 => f64::from(word(0)?),
            Self::I16 => f64::from(word(0)? as i16),
            Self::U32 => f64::from(long()?),
            Self::I32 => f64::from(long()? as i32),
            Self::F32 => f64::from(f32::from_bits(long()?)),
        })
    }

    /// The registers of `value` (rounded for integers), or `None` if it does not fit.
    pub fn encode(self, value: f64) -> Option<Vec<u16>> {
        let v = value.round();
        let fits = |lo: f64, hi: f64| value.is_finite() && (lo..=hi).contains(&v);
        let split = |x: u32| vec![(x >> 16) as u16, x as u16];
        match self {
            Self::U16 => fits(0.0, 65535.0).then(|| vec![v as u16]),
            Self::I16 => fits(-32768.0, 32767.0).then(|| vec![v as i16 as u16]),
            Self::U32 => fits(0.0, f64::from(u32::MAX)).then(|| split(v as u32)),
            Self::I32 => fits(f64::from(i32::MIN), f64::from(i32::MAX)).then(|| split(v as i32 as u32)),
            Self::F32 => value.is_finite().then(|| split((value as f32).to_bits())),
        }
    }
}

impl DeviceLinkSpec {
    /// Checks every field; errors name them (`register_map.points[2].unit`).
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut e = Errors::default();
        let host = self.host.trim();
        e.check(!host.is_empty(), "host", "must not be empty");
        e.check(
            host.len() <= 253 && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_')),
            "host",
            "must be a host name or IP address, without scheme or port",
        );
        e.check(self.port > 0, "port", "must be between 1 and 65535");
        e.check(self.unit_id <= 247, "unit_id", "must be between 0 and 247");
        e.check(
            self.poll_interval_s.is_finite() && (0.5..=3600.0).contains(&self.poll_interval_s),
            "poll_interval_s",
            "must be between 0.5 and 3600 seconds",
        );
        e.check((50..=60_000).contains(&self.timeout_ms), "timeout_ms", "must be between 50 and 60000 ms");
        if let RegisterMap::Explicit { points } = &self.register_map {
            e.check(!points.is_empty(), "register_map.points", "must name at least one register");
            e.check(
                points.iter().any(|p| p.meaning != PointMeaning::PowerSetpoint),
                "register_map.points",
                "must name at least one value to read (active_power, energy, soc or temperature)",
            );
            for (i, p) in points.iter().enumerate() {
                let at = |f: &str| format!("register_map.points[{i}].{f}");
                if points[..i].iter().any(|q| q.meaning == p.meaning) {
                    e.push(at("meaning"), format!("{} is named twice", p.meaning.as_str()));
                }
                let units = p.meaning.units();
                e.check(units.contains(&p.unit.as_str()), at("unit"), format!("must be one of {}", units.join(", ")));
                e.check(
                    u32::from(p.address) + u32::from(p.data_type.width()) <= 65536,
                    at("address"),
                    "the value runs past register 65535",
                );
                if let Some(s) = p.scale {
                    e.check(s.is_finite() && s != 0.0, at("scale"), "must be a finite number other than 0");
                }
                e.check(
                    !(p.scale.is_some() && p.scale_factor_address.is_some()),
                    at("scale"),
                    "give either scale or scale_factor_address, not both",
                );
            }
        }
        e.finish(())
    }

    /// `modbus://host:port/unit`, for logs and lists.
    pub fn address(&self) -> String {
        format!("modbus://{}:{}/{}", self.host.trim(), self.port, self.unit_id)
    }
}

/// The multiplier to kW, kWh, % or °C of a point's unit.
pub fn unit_factor(unit: &str) -> f64 {
    match unit {
        "W" | "Wh" => 0.001,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(map: RegisterMap) -> DeviceLinkSpec {
        DeviceLinkSpec {
            protocol: LinkProtocol::ModbusTcp,
            enabled: true,
            host: "127.0.0.1".into(),
            port: 1502,
            unit_id: 1,
            poll_interval_s: 5.0,
            timeout_ms: 1000,
            register_map: map,
        }
    }

    fn point(meaning: PointMeaning, unit: &str) -> RegisterPoint {
        RegisterPoint {
            meaning,
            address: 100,
            data_type: RegisterType::I32,
            unit: unit.into(),
            scale: None,
            scale_factor_address: None,
        }
    }

    #[test]
    fn a_sunspec_link_from_json_takes_the_defaults() {
        let l: DeviceLinkSpec = serde_json::from_str(
            r#"{"protocol":"modbus_tcp","enabled":true,"host":"127.0.0.1","register_map":{"kind":"sunspec"}}"#,
        )
        .unwrap();
        assert_eq!((l.port, l.unit_id, l.poll_interval_s, l.timeout_ms), (502, 1, 5.0, 1000));
        assert!(l.validate().is_ok());
        assert_eq!(l.address(), "modbus://127.0.0.1:502/1");
    }

    #[test]
    fn bad_fields_are_named() {
        let mut l = link(RegisterMap::Explicit {
            points: vec![point(PointMeaning::ActivePower, "MW"), point(PointMeaning::ActivePower, "kW")],
        });
        l.host = "modbus://x".into();
        l.poll_interval_s = 0.1;
        let fields: Vec<String> = l.validate().unwrap_err().0.into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            ["host", "poll_interval_s", "register_map.points[0].unit", "register_map.points[1].meaning"]
        );
        let only_write = link(RegisterMap::Explicit { points: vec![point(PointMeaning::PowerSetpoint, "W")] });
        assert_eq!(only_write.validate().unwrap_err().0[0].field, "register_map.points");
    }

    #[test]
    fn registers_decode_and_encode_high_word_first() {
        assert_eq!(RegisterType::I16.decode(&[0xFFFE]), Some(-2.0));
        assert_eq!(RegisterType::U32.decode(&[0x0001, 0x0002]), Some(65538.0));
        assert_eq!(RegisterType::I32.decode(&[0xFFFF, 0xFFFF]), Some(-1.0));
        assert_eq!(RegisterType::F32.decode(&RegisterType::F32.encode(1.5).unwrap()), Some(1.5));
        assert_eq!(RegisterType::I32.encode(-70000.0).map(|r| RegisterType::I32.decode(&r)), Some(Some(-70000.0)));
        assert_eq!(RegisterType::U16.encode(-1.0), None);
        assert_eq!(RegisterType::I16.decode(&[]), None);
    }
}
