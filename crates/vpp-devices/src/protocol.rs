//! The MQTT protocol between vpp and its devices: topics and JSON payloads.
//!
//! | topic | direction | payload |
//! |---|---|---|
//! | `{prefix}/{site}/{resource_id}/telemetry` | device → vpp | one sample, `{"samples":[…]}`, or the compact form |
//! | `{prefix}/{site}/{resource_id}/setpoint` | vpp → device, QoS 1 | `{instruction_id, target_kw, start, duration_s}` |
//! | `{prefix}/{site}/{resource_id}/ack` | device → vpp | `{instruction_id, status: "accepted" \| "rejected", reason?}` |
//!
//! The prefix is `vpp` unless configured (`--mqtt-topic-prefix`), for
//! example `tenants/acme/vpp` on a broker shared with other systems: the
//! bridge subscribes under it only, so others' traffic never reaches vpp.
//!
//! A sample is `{ts, power_kw, energy_kwh?, soc_pct?, temperature_c?,
//! status?}`; `ts` is RFC 3339 or epoch milliseconds. The compact form
//! carries many samples of one device at a fixed spacing:
//! `{"t0": ts, "dt_ms": 1000, "power_kw": [...], "soc_pct": [...]?, ...}`.
//! `{site}` is the resource's building name as a slug ([`site_of`]), or
//! `default`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vpp_domain::resource::{Location, ResourceStatus, Telemetry};

/// The topic prefix unless one is configured.
pub const DEFAULT_PREFIX: &str = "vpp";

/// Checks a topic prefix: one or more non-empty levels separated by `/`,
/// without the wildcards `+` and `#` and without NUL, at most 200 bytes.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 200 {
        return Err(format!("the MQTT topic prefix needs 1 to 200 bytes, got {}", prefix.len()));
    }
    if prefix.split('/').any(str::is_empty) {
        return Err(format!("the MQTT topic prefix `{prefix}` has an empty level (a leading, trailing or double `/`)"));
    }
    if prefix.contains(['+', '#', '\0']) {
        return Err(format!("the MQTT topic prefix `{prefix}` may not contain `+`, `#` or NUL"));
    }
    Ok(())
}

/// Most samples one message may carry.
pub const MAX_SAMPLES_PER_MESSAGE: usize = 10_000;

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Measurements from a device.
    Telemetry,
    /// A setpoint for a device.
    Setpoint,
    /// A device's answer to a setpoint.
    Ack,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Setpoint => "setpoint",
            Self::Ack => "ack",
        }
    }
}

/// A parsed topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    /// Site segment.
    pub site: &'a str,
    /// Resource id.
    pub resource_id: &'a str,
    /// What it carries.
    pub kind: Kind,
}

impl<'a> Topic<'a> {
    /// Reads `{prefix}/{site}/{resource_id}/{kind}`; None for any other topic.
    pub fn parse(topic: &'a str, prefix: &str) -> Option<Self> {
        let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let (site, resource_id, kind) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || site.is_empty() || resource_id.is_empty() {
            return None;
        }
        let kind = match kind {
            "telemetry" => Kind::Telemetry,
            "setpoint" => Kind::Setpoint,
            "ack" => Kind::Ack,
            _ => return None,
        };
        Some(Self { site, resource_id, kind })
    }
}

/// The topic of one device's messages of a kind.
pub fn topic(prefix: &str, site: &str, resource_id: &str, kind: Kind) -> String {
    format!("{prefix}/{site}/{resource_id}/{}", kind.as_str())
}

/// The subscription filter for every device's messages of a kind.
pub fn filter(prefix: &str, kind: Kind) -> String {
    format!("{prefix}/+/+/{}", kind.as_str())
}

/// A resource's site segment: its building name in lower case with every
/// run of other characters than letters and digits turned into one `-`, or
/// `default` without a building.
pub fn site_of(location: &Location) -> String {
    vpp_store::site_slug(location.building.as_deref())
}

/// Why a message was dropped: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ProtocolError {
    /// Offending field (JSON path), or `payload`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ProtocolError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// One telemetry message, whatever its form.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryMessage {
    /// Samples in the order sent.
    pub samples: Vec<Telemetry>,
    /// Status the device reports for itself (`ERROR`, `MAINTENANCE`, ...), if any.
    pub status: Option<ResourceStatus>,
}

/// The compact form on the wire (devices and the simulator write it this way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compact {
    /// Time of the first sample, RFC 3339.
    pub t0: Timestamp,
    /// Spacing of the samples, ms.
    pub dt_ms: u64,
    /// Power per sample, kW.
    pub power_kw: Vec<f64>,
    /// Meter reading per sample, kWh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh: Option<Vec<f64>>,
    /// SOC per sample, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soc_pct: Option<Vec<f64>>,
    /// Temperature per sample, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<Vec<f64>>,
}

/// Parses a telemetry payload in any of its three forms.
pub fn parse_telemetry(payload: &[u8]) -> Result<TelemetryMessage, ProtocolError> {
    // Fast path for well-formed compact batches (the bulk of a busy fleet's
    // traffic): typed, without building a JSON tree. Anything it does not
    // take goes the general way, which names the offending field.
    if let Ok(c) = serde_json::from_slice::<Compact>(payload)
        && let Some(message) = from_compact(&c)
    {
        return Ok(message);
    }
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ProtocolError::new("payload", format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ProtocolError::new("payload", "must be a JSON object"));
    };
    if let Some(samples) = obj.get("samples") {
        only(&obj, &["samples", "status"], "")?;
        let Value::Array(list) = samples else {
            return Err(ProtocolError::new("samples", "must be an array"));
        };
        check_count(list.len(), "samples")?;
        let samples = list
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(o) => sample(o, &format!("samples[{i}].")),
                _ => Err(ProtocolError::new(format!("samples[{i}]"), "must be an object")),
            })
            .collect::<Result<_, _>>()?;
        return Ok(TelemetryMessage { samples, status: status(&obj)? });
    }
    if obj.get("power_kw").is_some_and(Value::is_array) {
        return compact(&obj);
    }
    let one = sample(&obj, "")?;
    Ok(TelemetryMessage { samples: vec![one], status: status(&obj)? })
}

fn check_count(n: usize, field: &str) -> Result<(), ProtocolError> {
    if n == 0 || n > MAX_SAMPLES_PER_MESSAGE {
        return Err(ProtocolError::new(field, format!("send 1 to {MAX_SAMPLES_PER_MESSAGE} samples, got {n}")));
    }
    Ok(())
}

fn only(obj: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), ProtocolError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => {
            Err(ProtocolError::new(format!("{prefix}{k}"), format!("unknown field; expected one of {allowed:?}")))
        }
        None => Ok(()),
    }
}

fn status(obj: &Map<String, Value>) -> Result<Option<ResourceStatus>, ProtocolError> {
    match obj.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => ResourceStatus::parse(&s.to_ascii_uppercase())
            .map(Some)
            .ok_or_else(|| ProtocolError::new("status", format!("`{s}` is not ONLINE, OFFLINE, MAINTENANCE or ERROR"))),
        Some(_) => Err(ProtocolError::new("status", "must be a string")),
    }
}

fn timestamp(v: Option<&Value>, field: &str) -> Result<Timestamp, ProtocolError> {
    match v {
        Some(Value::String(s)) => {
            s.parse().map_err(|e| ProtocolError::new(field, format!("`{s}` is not an RFC 3339 time: {e}")))
        }
        Some(Value::Number(n)) => {
            let ms = n.as_i64().ok_or_else(|| ProtocolError::new(field, "epoch milliseconds must be an integer"))?;
            // Seconds sent by mistake would land in 1970.
            if !(1_000_000_000_000..=10_000_000_000_000).contains(&ms) {
                return Err(ProtocolError::new(field, format!("{ms} is not epoch milliseconds (2001..2286)")));
            }
            Timestamp::from_millisecond(ms).map_err(|e| ProtocolError::new(field, e.to_string()))
        }
        Some(_) => Err(ProtocolError::new(field, "must be an RFC 3339 string or epoch milliseconds")),
        None => Err(ProtocolError::new(field, "is required")),
    }
}

fn number(v: Option<&Value>, field: &str) -> Result<Option<f64>, ProtocolError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| ProtocolError::new(field, "must be finite"))
        }
        Some(_) => Err(ProtocolError::new(field, "must be a number")),
    }
}

const SAMPLE_FIELDS: [&str; 6] = ["ts", "power_kw", "energy_kwh", "soc_pct", "temperature_c", "status"];

fn sample(obj: &Map<String, Value>, prefix: &str) -> Result<Telemetry, ProtocolError> {
    only(obj, &SAMPLE_FIELDS, prefix)?;
    let power_kw = number(obj.get("power_kw"), &format!("{prefix}power_kw"))?
        .ok_or_else(|| ProtocolError::new(format!("{prefix}power_kw"), "is required"))?;
    Ok(Telemetry {
        ts: timestamp(obj.get("ts"), &format!("{prefix}ts"))?,
        power_kw,
        energy_kwh: number(obj.get("energy_kwh"), &format!("{prefix}energy_kwh"))?,
        soc_pct: number(obj.get("soc_pct"), &format!("{prefix}soc_pct"))?,
        temperature_c: number(obj.get("temperature_c"), &format!("{prefix}temperature_c"))?,
    })
}

/// Samples of a well-formed compact batch; None if any check fails.
fn from_compact(c: &Compact) -> Option<TelemetryMessage> {
    let n = c.power_kw.len();
    let same = |col: &Option<Vec<f64>>| col.as_ref().is_none_or(|v| v.len() == n && v.iter().all(|x| x.is_finite()));
    if n == 0
        || n > MAX_SAMPLES_PER_MESSAGE
        || !(1..=86_400_000).contains(&c.dt_ms)
        || !c.power_kw.iter().all(|x| x.is_finite())
        || !same(&c.energy_kwh)
        || !same(&c.soc_pct)
        || !same(&c.temperature_c)
    {
        return None;
    }
    let samples = (0..n)
        .map(|i| {
            Some(Telemetry {
                ts: c.t0.checked_add(jiff::SignedDuration::from_millis(c.dt_ms as i64 * i as i64)).ok()?,
                power_kw: c.power_kw[i],
                energy_kwh: c.energy_kwh.as_ref().map(|v| v[i]),
                soc_pct: c.soc_pct.as_ref().map(|v| v[i]),
                temperature_c: c.temperature_c.as_ref().map(|v| v[i]),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(TelemetryMessage { samples, status: None })
}

fn compact(obj: &Map<String, Value>) -> Result<TelemetryMessage, ProtocolError> {
    only(obj, &["t0", "dt_ms", "power_kw", "energy_kwh", "soc_pct", "temperature_c", "status"], "")?;
    let t0 = timestamp(obj.get("t0"), "t0")?;
    let dt_ms = match obj.get("dt_ms") {
        Some(Value::Number(n)) => n.as_u64().filter(|x| (1..=86_400_000).contains(x)),
        _ => None,
    }
    .ok_or_else(|| ProtocolError::new("dt_ms", "must be an integer 1..=86400000"))?;
    let column = |name: &str| -> Result<Option<Vec<f64>>, ProtocolError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(xs)) => xs
                .iter()
                .enumerate()
                .map(|(i, x)| number(Some(x), &format!("{name}[{i}]")))
                .collect::<Result<Option<Vec<f64>>, _>>()
                .and_then(|v| v.ok_or_else(|| ProtocolError::new(name, "null inside the array")).map(Some)),
            Some(_) => Err(ProtocolError::new(name, "must be an array like power_kw")),
        }
    };
    let power = column("power_kw")?.unwrap_or_default();
    check_count(power.len(), "power_kw")?;
    let (energy, soc, temperature) = (column("energy_kwh")?, column("soc_pct")?, column("temperature_c")?);
    for (name, col) in [("energy_kwh", &energy), ("soc_pct", &soc), ("temperature_c", &temperature)] {
        if let Some(c) = col
            && c.len() != power.len()
        {
            return Err(ProtocolError::new(name, format!("has {} values but power_kw has {}", c.len(), power.len())));
        }
    }
    let samples = power
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ts = t0
                .checked_add(jiff::SignedDuration::from_millis(dt_ms as i64 * i as i64))
                .map_err(|e| ProtocolError::new("dt_ms", e.to_string()))?;
            Ok(Telemetry {
                ts,
                power_kw: *p,
                energy_kwh: energy.as_ref().map(|c| c[i]),
                soc_pct: soc.as_ref().map(|c| c[i]),
                temperature_c: temperature.as_ref().map(|c| c[i]),
            })
        })
        .collect::<Result<_, ProtocolError>>()?;
    Ok(TelemetryMessage { samples, status: status(obj)? })
}

pub use vpp_domain::execution::Setpoint;

/// A device's answer to a setpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// Instruction answered.
    pub instruction_id: String,
    /// `accepted` or `rejected`.
    pub status: AckStatus,
    /// Why, when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether a device takes a setpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// It follows the setpoint.
    Accepted,
    /// It cannot (the reason says why).
    Rejected,
}

/// Parses an acknowledgement.
pub fn parse_ack(payload: &[u8]) -> Result<Ack, ProtocolError> {
    serde_json::from_slice(payload).map_err(|e| ProtocolError::new("payload", e.to_string()))
}

/// Parses a setpoint (devices and the simulator).
pub fn parse_setpoint(payload: &[u8]) -> Result<Setpoint, ProtocolError> {
    let s: Setpoint = serde_json::from_slice(payload).map_err(|e| ProtocolError::new("payload", e.to_string()))?;
    if !s.target_kw.is_finite() {
        return Err(ProtocolError::new("target_kw", "must be finite"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        let t = topic(DEFAULT_PREFIX, "plant-1", "r42", Kind::Telemetry);
        assert_eq!(t, "vpp/plant-1/r42/telemetry");
        let parsed = Some(Topic { site: "plant-1", resource_id: "r42", kind: Kind::Telemetry });
        assert_eq!(Topic::parse(&t, "vpp"), parsed);
        for bad in ["vpp/a/b", "vpp/a/b/c", "other/a/b/ack", "vpp//b/ack", "vpp/a/b/ack/x", "vppx/a/b/ack"] {
            assert_eq!(Topic::parse(bad, "vpp"), None, "{bad}");
        }
        // A prefix of several levels, on a broker shared with others.
        let t = topic("tenants/acme/vpp", "plant-1", "r42", Kind::Telemetry);
        assert_eq!(Topic::parse(&t, "tenants/acme/vpp"), parsed);
        assert_eq!(Topic::parse(&t, "vpp"), None);
        assert_eq!(Topic::parse("vpp/plant-1/r42/telemetry", "tenants/acme/vpp"), None);
        assert_eq!(filter("tenants/acme/vpp", Kind::Ack), "tenants/acme/vpp/+/+/ack");
        assert!(check_prefix("tenants/acme/vpp").is_ok());
        for bad in ["", "/vpp", "vpp/", "a//b", "vpp/+", "#", "a\0b"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        let loc =
            |b: Option<&str>| Location { lat: 0.0, lon: 0.0, timezone: "UTC".into(), building: b.map(String::from) };
        assert_eq!(site_of(&loc(Some("Hall 3 / North"))), "hall-3-north");
        assert_eq!(site_of(&loc(Some("  "))), "default");
        assert_eq!(site_of(&loc(None)), "default");
    }

    #[test]
    fn three_forms_of_telemetry() {
        let one = parse_telemetry(br#"{"ts":"2026-11-22T10:00:00Z","power_kw":-3.5,"soc_pct":40,"status":"online"}"#)
            .unwrap();
        assert_eq!(one.samples.len(), 1);
        assert_eq!(one.samples[0].soc_pct, Some(40.0));
        assert_eq!(one.status, Some(ResourceStatus::Online));
        let batch = parse_telemetry(
            br#"{"samples":[{"ts":1795341600000,"power_kw":1},{"ts":"2026-11-22T10:00:01Z","power_kw":2}]}"#,
        )
        .unwrap();
        assert_eq!(batch.samples.len(), 2);
        let compact =
            parse_telemetry(br#"{"t0":"2026-11-22T10:00:00Z","dt_ms":500,"power_kw":[1,2,3],"soc_pct":[50,51,52]}"#)
                .unwrap();
        assert_eq!(compact.samples.len(), 3);
        assert_eq!(compact.samples[2].ts.to_string(), "2026-11-22T10:00:01Z");
        assert_eq!(compact.samples[1].soc_pct, Some(51.0));
    }

    #[test]
    fn bad_telemetry_names_the_field() {
        let cases: [(&[u8], &str); 9] = [
            (b"not json", "payload"),
            (b"[1]", "payload"),
            (br#"{"ts":"2026-11-22T10:00:00Z"}"#, "power_kw"),
            (br#"{"ts":"yesterday","power_kw":1}"#, "ts"),
            (br#"{"ts":1795341600,"power_kw":1}"#, "ts"),
            (br#"{"ts":"2026-11-22T10:00:00Z","power_kw":"3"}"#, "power_kw"),
            (br#"{"ts":"2026-11-22T10:00:00Z","power_kw":1,"volts":230}"#, "volts"),
            (br#"{"samples":[{"ts":"2026-11-22T10:00:00Z","power_kw":1},{"power_kw":1}]}"#, "samples[1].ts"),
            (br#"{"t0":"2026-11-22T10:00:00Z","dt_ms":1000,"power_kw":[1,2],"soc_pct":[1]}"#, "soc_pct"),
        ];
        for (payload, field) in cases {
            let e = parse_telemetry(payload).unwrap_err();
            assert_eq!(e.field, field, "{}: {e}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn setpoints_and_acks() {
        let s = Setpoint {
            instruction_id: "i1".into(),
            target_kw: -5.0,
            start: "2026-11-22T10:00:00Z".parse().unwrap(),
            duration_s: 900,
        };
        let bytes = serde_json::to_vec(&s).unwrap();
        assert_eq!(parse_setpoint(&bytes).unwrap(), s);
        let a = parse_ack(br#"{"instruction_id":"i1","status":"rejected","reason":"SOC at 5 %"}"#).unwrap();
        assert_eq!(a.status, AckStatus::Rejected);
        assert!(parse_ack(br#"{"instruction_id":"i1","status":"maybe"}"#).is_err());
    }
}
