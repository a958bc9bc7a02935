//! OCPP 2.0.1 as vpp's CSMS speaks it: the OCPP-J frames, the payloads of
//! the messages it handles (BootNotification, Heartbeat, StatusNotification,
//! MeterValues, TransactionEvent, Authorize) and sends (SetChargingProfile),
//! and what they mean to vpp (telemetry in vpp's sign convention, resource
//! status, charging sessions).
//!
//! Only the fields vpp uses are typed; everything else a station sends is
//! accepted and ignored. Field names and enumerations are those of the OCPP
//! 2.0.1 JSON schemas; the peer test (`scripts/ocpp_e2e.py`) runs the
//! Python `ocpp` package, which checks vpp's answers against those schemas.
//! Written here rather than taken from a crate: vpp needs a handful of
//! messages, and a full message-type crate would pull in its own date and
//! decimal types beside jiff and rust_decimal.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::resource::{ResourceStatus, Telemetry};

/// The websocket subprotocol.
pub const SUBPROTOCOL: &str = "ocpp2.0.1";

/// An OCPP-J frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `[2, id, action, payload]`: a request.
    Call {
        /// Message id, echoed in the answer.
        id: String,
        /// Action, e.g. `BootNotification`.
        action: String,
        /// Request payload.
        payload: Value,
    },
    /// `[3, id, payload]`: an answer.
    Result {
        /// The request's id.
        id: String,
        /// Answer payload.
        payload: Value,
    },
    /// `[4, id, code, description, details]`: a refusal.
    Error {
        /// The request's id.
        id: String,
        /// Error code, e.g. `NotImplemented`, `FormatViolation`.
        code: String,
        /// What went wrong.
        description: String,
    },
}

impl Frame {
    /// Parses a text frame; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let a = v.as_array().ok_or("a frame is a JSON array")?;
        let id = a.get(1).and_then(Value::as_str).ok_or("element 1 (message id) must be a string")?.to_string();
        match a.first().and_then(Value::as_u64) {
            Some(2) => Ok(Frame::Call {
                id,
                action: a.get(2).and_then(Value::as_str).ok_or("element 2 (action) must be a string")?.to_string(),
                payload: a.get(3).cloned().ok_or("element 3 (payload) is missing")?,
            }),
            Some(3) => Ok(Frame::Result { id, payload: a.get(2).cloned().ok_or("element 2 (payload) is missing")? }),
            Some(4) => Ok(Frame::Error {
                id,
                code: a.get(2).and_then(Value::as_str).unwrap_or_default().to_string(),
                description: a.get(3).and_then(Value::as_str).unwrap_or_default().to_string(),
            }),
            _ => Err("element 0 (message type) must be 2, 3 or 4".into()),
        }
    }

    /// The frame as text.
    pub fn to_text(&self) -> String {
        match self {
            Frame::Call { id, action, payload } => json!([2, id, action, payload]),
            Frame::Result { id, payload } => json!([3, id, payload]),
            Frame::Error { id, code, description } => json!([4, id, code, description, {}]),
        }
        .to_string()
    }
}

/// StatusNotification (the fields vpp reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotification {
    /// Available, Occupied, Reserved, Unavailable or Faulted.
    pub connector_status: String,
    /// EVSE.
    pub evse_id: i64,
}

impl StatusNotification {
    /// The resource status a connector status means: Faulted is ERROR,
    /// Unavailable is MAINTENANCE, the others ONLINE.
    pub fn resource_status(&self) -> ResourceStatus {
        match self.connector_status.as_str() {
            "Faulted" => ResourceStatus::Error,
            "Unavailable" => ResourceStatus::Maintenance,
            _ => ResourceStatus::Online,
        }
    }
}

/// One meter value: a time and its sampled values.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValue {
    /// When measured.
    pub timestamp: Timestamp,
    /// The values.
    pub sampled_value: Vec<SampledValue>,
}

/// One sampled value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampledValue {
    /// The value in its unit.
    pub value: f64,
    /// What it is; `Energy.Active.Import.Register` when absent.
    #[serde(default)]
    pub measurand: Option<String>,
    /// Phase, if per phase (ignored: vpp keeps totals).
    #[serde(default)]
    pub phase: Option<String>,
    /// Unit and its power of ten.
    #[serde(default)]
    pub unit_of_measure: Option<UnitOfMeasure>,
}

/// A sampled value's unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitOfMeasure {
    /// `W`, `kW`, `Wh`, `kWh`, `Percent`, …
    #[serde(default)]
    pub unit: Option<String>,
    /// Power of ten the value is multiplied by.
    #[serde(default)]
    pub multiplier: Option<i32>,
}

/// MeterValues.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValues {
    /// EVSE (0: the station's main meter).
    pub evse_id: i64,
    /// The values.
    pub meter_value: Vec<MeterValue>,
}

/// TransactionEvent (the fields vpp reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionEvent {
    /// Started, Updated or Ended.
    pub event_type: String,
    /// When.
    pub timestamp: Timestamp,
    /// The transaction.
    pub transaction_info: TransactionInfo,
    /// The EVSE, if sent.
    #[serde(default)]
    pub evse: Option<Evse>,
    /// Who charges, if sent.
    #[serde(default)]
    pub id_token: Option<IdToken>,
    /// Meter values with the event.
    #[serde(default)]
    pub meter_value: Vec<MeterValue>,
}

/// A transaction's id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionInfo {
    /// Id the station gave it.
    pub transaction_id: String,
}

/// An EVSE.
#[derive(Debug, Clone, Deserialize)]
pub struct Evse {
    /// EVSE id.
    pub id: i64,
}

/// An id token.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdToken {
    /// The token.
    pub id_token: String,
    /// Its kind (ISO14443, eMAID, Central, …).
    #[serde(rename = "type")]
    pub kind: String,
}

/// What meter values say, in vpp's units and sign convention.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metered {
    /// Active power, kW; charging is consumption, so negative.
    pub power_kw: Option<f64>,
    /// Imported energy register, kWh.
    pub energy_kwh: Option<f64>,
    /// The vehicle's state of charge, %.
    pub soc_pct: Option<f64>,
}

fn scaled(v: &SampledValue) -> f64 {
    let m = v.unit_of_measure.as_ref().and_then(|u| u.multiplier).unwrap_or(0);
    v.value * 10f64.powi(m)
}

fn to_kilo(v: &SampledValue, base: &str) -> f64 {
    let unit = v.unit_of_measure.as_ref().and_then(|u| u.unit.as_deref()).unwrap_or(base);
    let x = scaled(v);
    if unit.starts_with('k') { x } else { x / 1000.0 }
}

impl MeterValue {
    /// Power (import minus export), energy register and SOC of one meter
    /// value; per-phase values are left out when a total is present.
    pub fn metered(&self) -> Metered {
        let mut m = Metered::default();
        let totals: Vec<&SampledValue> = {
            let total: Vec<&SampledValue> = self.sampled_value.iter().filter(|v| v.phase.is_none()).collect();
            if total.is_empty() { self.sampled_value.iter().collect() } else { total }
        };
        for v in totals {
            match v.measurand.as_deref().unwrap_or("Energy.Active.Import.Register") {
                "Power.Active.Import" => m.power_kw = Some(m.power_kw.unwrap_or(0.0) - to_kilo(v, "W")),
                "Power.Active.Export" => m.power_kw = Some(m.power_kw.unwrap_or(0.0) + to_kilo(v, "W")),
                "Energy.Active.Import.Register" => m.energy_kwh = Some(m.energy_kwh.unwrap_or(0.0) + to_kilo(v, "Wh")),
                "SoC" => m.soc_pct = Some(scaled(v)),
                _ => {}
            }
        }
        m
    }

    /// The sample vpp stores, if the value carries power.
    pub fn telemetry(&self) -> Option<Telemetry> {
        let m = self.metered();
        Some(Telemetry {
            ts: self.timestamp,
            power_kw: m.power_kw?,
            energy_kwh: m.energy_kwh,
            soc_pct: m.soc_pct,
            temperature_c: None,
        })
    }
}

/// SetChargingProfile for a power limit of `limit_kw` (charging, so ≥ 0)
/// from `start` for `duration_s`: a TxProfile of the running transaction on
/// its EVSE, else a TxDefaultProfile for every EVSE (evseId 0).
pub fn set_charging_profile(
    limit_kw: f64,
    start: Timestamp,
    duration_s: u64,
    transaction: Option<(&str, i64)>,
) -> Value {
    let schedule = json!({
        "id": 1,
        "chargingRateUnit": "W",
        "startSchedule": start.to_string(),
        "duration": duration_s.min(i32::MAX as u64),
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": (limit_kw.max(0.0) * 1000.0).round()}],
    });
    let (evse_id, purpose, profile_id, tx) = match transaction {
        Some((id, evse)) => (evse, "TxProfile", 1, Some(id)),
        None => (0, "TxDefaultProfile", 2, None),
    };
    let mut profile = json!({
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [schedule],
    });
    if let Some(tx) = tx {
        profile["transactionId"] = json!(tx);
    }
    json!({"evseId": evse_id, "chargingProfile": profile})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_ones_are_named() {
        let f = Frame::parse(r#"[2,"19223201","BootNotification",{"reason":"PowerUp"}]"#).unwrap();
        assert!(matches!(&f, Frame::Call { action, .. } if action == "BootNotification"));
        assert_eq!(Frame::parse(&f.to_text()).unwrap(), f);
        assert_eq!(
            Frame::parse(r#"[3,"1",{"status":"Accepted"}]"#).unwrap(),
            Frame::Result { id: "1".into(), payload: json!({"status": "Accepted"}) }
        );
        assert_eq!(Frame::parse("{}").unwrap_err(), "a frame is a JSON array");
        assert_eq!(Frame::parse(r#"[9,"1"]"#).unwrap_err(), "element 0 (message type) must be 2, 3 or 4");
        assert_eq!(Frame::parse(r#"[2,"1",5,{}]"#).unwrap_err(), "element 2 (action) must be a string");
    }

    #[test]
    fn meter_values_become_consumption_in_kw() {
        let mv: MeterValue = serde_json::from_value(json!({
            "timestamp": "2026-12-07T10:00:00Z",
            "sampledValue": [
                {"value": 7.4, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
                {"value": 2400, "measurand": "Power.Active.Import", "phase": "L1"},
                {"value": 12345, "measurand": "Energy.Active.Import.Register"},
                {"value": 41, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}}
            ]
        }))
        .unwrap();
        let t = mv.telemetry().unwrap();
        assert_eq!((t.power_kw, t.energy_kwh, t.soc_pct), (-7.4, Some(12.345), Some(41.0)));
        let watts: MeterValue = serde_json::from_value(json!({"timestamp": "2026-12-07T10:00:00Z",
            "sampledValue": [{"value": 3.7, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W", "multiplier": 3}}]}))
        .unwrap();
        assert_eq!(watts.metered().power_kw, Some(-3.7));
        let energy_only: MeterValue =
            serde_json::from_value(json!({"timestamp": "2026-12-07T10:00:00Z", "sampledValue": [{"value": 1000}]}))
                .unwrap();
        assert_eq!(energy_only.metered().energy_kwh, Some(1.0));
        assert!(energy_only.telemetry().is_none());
    }

    #[test]
    fn a_profile_limits_the_running_transaction_or_the_default() {
        let start: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let p = set_charging_profile(3.7, start, 900, Some(("T1", 1)));
        assert_eq!(p["evseId"], json!(1));
        assert_eq!(p["chargingProfile"]["chargingProfilePurpose"], json!("TxProfile"));
        assert_eq!(p["chargingProfile"]["transactionId"], json!("T1"));
        assert_eq!(p["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"], json!(3700.0));
        let d = set_charging_profile(-1.0, start, 900, None);
        assert_eq!(
            (d["evseId"].clone(), d["chargingProfile"]["chargingProfilePurpose"].clone()),
            (json!(0), json!("TxDefaultProfile"))
        );
        assert_eq!(d["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"], json!(0.0));
    }
}
