//! OCPP 2.0.1 as vpp's CSMS speaks it: the OCPP-J frames, the payloads of
//! the messages it handles (BootNotification, Heartbeat, StatusNotification,
//! MeterValues, TransactionEvent, NotifyEVChargingNeeds, Authorize) and
//! sends (SetChargingProfile, GetCompositeSchedule, ClearChargingProfile),
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
use serde::{Deserialize, Serialize};
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

/// A charging schedule period: from `start_period` seconds after the
/// schedule's start, at most `limit` in the schedule's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePeriod {
    /// Seconds from the schedule's start.
    pub start_period: i64,
    /// Limit, W or A (the schedule's `chargingRateUnit`).
    pub limit: f64,
}

/// A charging schedule (OCPP `ChargingScheduleType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingSchedule {
    /// Schedule id.
    pub id: i64,
    /// `W` or `A`.
    pub charging_rate_unit: String,
    /// When an Absolute schedule starts (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_schedule: Option<Timestamp>,
    /// How long it lasts, s; without one the last period holds on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Its periods, by start.
    pub charging_schedule_period: Vec<SchedulePeriod>,
}

impl ChargingSchedule {
    /// The limit in W at `t`, if the schedule covers it (a schedule in A is
    /// converted at 230 V per phase, three phases).
    pub fn limit_w_at(&self, t: Timestamp) -> Option<f64> {
        let start = self.start_schedule?;
        limit_w_at(&self.charging_rate_unit, start, self.duration, &self.charging_schedule_period, t)
    }
}

/// The limit in W at `t` of periods from `start` lasting `duration_s` (on
/// without one), in `unit` (`W`, or `A` converted by [`AMPS_TO_WATTS`]).
fn limit_w_at(
    unit: &str,
    start: Timestamp,
    duration_s: Option<i64>,
    periods: &[SchedulePeriod],
    t: Timestamp,
) -> Option<f64> {
    let offset = t.duration_since(start).as_secs();
    if offset < 0 || duration_s.is_some_and(|d| offset >= d) {
        return None;
    }
    let period = periods.iter().rev().find(|p| p.start_period <= offset)?;
    Some(if unit == "A" { period.limit * AMPS_TO_WATTS } else { period.limit })
}

/// W per A of a three-phase 230 V connection (3 × 230 V), for schedules in A.
pub const AMPS_TO_WATTS: f64 = 3.0 * 230.0;

/// A charging profile (OCPP `ChargingProfileType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingProfile {
    /// Profile id; a new profile with the same id replaces the old one.
    pub id: i64,
    /// Precedence among profiles of one purpose.
    pub stack_level: i64,
    /// `TxProfile`, `TxDefaultProfile`, `ChargingStationMaxProfile`, …
    pub charging_profile_purpose: String,
    /// `Absolute`, `Recurring` or `Relative`.
    pub charging_profile_kind: String,
    /// The transaction a TxProfile is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// One to three schedules.
    pub charging_schedule: Vec<ChargingSchedule>,
}

/// SetChargingProfile's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetChargingProfile {
    /// EVSE (0: every EVSE of the station).
    pub evse_id: i64,
    /// The profile.
    pub charging_profile: ChargingProfile,
}

/// The profile id vpp gives a running transaction's profile.
pub const TX_PROFILE_ID: i64 = 1;
/// The profile id vpp gives the default profile of a station's EVSEs.
pub const TX_DEFAULT_PROFILE_ID: i64 = 2;

/// SetChargingProfile for a power limit of `limit_kw` (charging, so ≥ 0)
/// from `start` for `duration_s`: a TxProfile of the running transaction on
/// its EVSE, else a TxDefaultProfile for every EVSE (evseId 0).
pub fn set_charging_profile(
    limit_kw: f64,
    start: Timestamp,
    duration_s: u64,
    transaction: Option<(&str, i64)>,
) -> SetChargingProfile {
    let schedule = ChargingSchedule {
        id: 1,
        charging_rate_unit: "W".into(),
        start_schedule: Some(start),
        duration: Some(duration_s.min(i32::MAX as u64) as i64),
        charging_schedule_period: vec![SchedulePeriod { start_period: 0, limit: (limit_kw.max(0.0) * 1000.0).round() }],
    };
    let (evse_id, purpose, id, transaction_id) = match transaction {
        Some((tx, evse)) => (evse, "TxProfile", TX_PROFILE_ID, Some(tx.to_string())),
        None => (0, "TxDefaultProfile", TX_DEFAULT_PROFILE_ID, None),
    };
    SetChargingProfile {
        evse_id,
        charging_profile: ChargingProfile {
            id,
            stack_level: 0,
            charging_profile_purpose: purpose.into(),
            charging_profile_kind: "Absolute".into(),
            transaction_id,
            charging_schedule: vec![schedule],
        },
    }
}

/// GetCompositeSchedule's request: what the station will do on `evse_id`
/// over the next `duration_s`, in W.
pub fn get_composite_schedule(evse_id: i64, duration_s: u64) -> Value {
    json!({"duration": duration_s.clamp(1, i32::MAX as u64), "evseId": evse_id, "chargingRateUnit": "W"})
}

/// ClearChargingProfile's request for one of vpp's profiles.
pub fn clear_charging_profile(profile_id: i64) -> Value {
    json!({"chargingProfileId": profile_id})
}

/// GetCompositeSchedule's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeScheduleAnswer {
    /// `Accepted` or `Rejected`.
    pub status: String,
    /// The schedule, when accepted.
    #[serde(default)]
    pub schedule: Option<CompositeSchedule>,
}

/// A composite schedule: the limits every profile together leaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeSchedule {
    /// When it starts (UTC).
    pub schedule_start: Timestamp,
    /// How long, s.
    pub duration: i64,
    /// `W` or `A`.
    pub charging_rate_unit: String,
    /// Its periods.
    pub charging_schedule_period: Vec<SchedulePeriod>,
}

impl CompositeSchedule {
    /// The limit in W at `t`, if covered.
    pub fn limit_w_at(&self, t: Timestamp) -> Option<f64> {
        limit_w_at(
            &self.charging_rate_unit,
            self.schedule_start,
            Some(self.duration),
            &self.charging_schedule_period,
            t,
        )
    }
}

/// NotifyEVChargingNeeds (ISO 15118 through the station): what the vehicle
/// needs and when it leaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyEvChargingNeeds {
    /// EVSE the vehicle is on.
    pub evse_id: i64,
    /// Its needs.
    pub charging_needs: ChargingNeeds,
}

/// A vehicle's charging needs (the fields vpp reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingNeeds {
    /// `AC_single_phase`, `AC_three_phase`, `DC`, …
    pub requested_energy_transfer: String,
    /// When the driver leaves (UTC).
    #[serde(default)]
    pub departure_time: Option<Timestamp>,
    /// AC: energy and currents.
    #[serde(default)]
    pub ac_charging_parameters: Option<EnergyAmount>,
    /// DC: energy and more.
    #[serde(default)]
    pub dc_charging_parameters: Option<DcChargingParameters>,
}

/// AC charging parameters (the energy the vehicle asks for).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnergyAmount {
    /// Energy requested, Wh.
    pub energy_amount: f64,
}

/// DC charging parameters (the fields vpp reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DcChargingParameters {
    /// Energy requested, Wh.
    #[serde(default)]
    pub energy_amount: Option<f64>,
    /// Battery capacity, Wh.
    #[serde(default)]
    pub ev_energy_capacity: Option<f64>,
    /// State of charge now, %.
    #[serde(default)]
    pub state_of_charge: Option<f64>,
    /// State of charge the vehicle stops at, %.
    #[serde(default)]
    pub full_so_c: Option<f64>,
}

impl ChargingNeeds {
    /// Energy to deliver, kWh: the energy asked for, else (DC) the capacity
    /// times the SOC still missing to full.
    pub fn energy_kwh(&self) -> Option<f64> {
        let from_dc = self.dc_charging_parameters.as_ref().and_then(|d| {
            d.energy_amount.or_else(|| {
                let missing = (d.full_so_c.unwrap_or(100.0) - d.state_of_charge?).max(0.0);
                Some(d.ev_energy_capacity? * missing / 100.0)
            })
        });
        let wh = self.ac_charging_parameters.as_ref().map(|a| a.energy_amount).or(from_dc)?;
        (wh.is_finite() && wh >= 0.0).then_some(wh / 1000.0)
    }
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
        let p = serde_json::to_value(set_charging_profile(3.7, start, 900, Some(("T1", 1)))).unwrap();
        assert_eq!(p["evseId"], json!(1));
        assert_eq!(p["chargingProfile"]["chargingProfilePurpose"], json!("TxProfile"));
        assert_eq!(p["chargingProfile"]["transactionId"], json!("T1"));
        assert_eq!(p["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"], json!(3700.0));
        assert_eq!(p["chargingProfile"]["chargingSchedule"][0]["startSchedule"], json!("2026-12-07T10:00:00Z"));
        let d = set_charging_profile(-1.0, start, 900, None);
        assert_eq!((d.evse_id, d.charging_profile.charging_profile_purpose.as_str()), (0, "TxDefaultProfile"));
        let schedule = &d.charging_profile.charging_schedule[0];
        assert_eq!(schedule.limit_w_at(start), Some(0.0));
        // The station reads back what vpp sent.
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<SetChargingProfile>(&text).unwrap(), d);
    }

    #[test]
    fn a_schedule_covers_its_window_only_and_amperes_become_watts() {
        let start: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let s = ChargingSchedule {
            id: 1,
            charging_rate_unit: "A".into(),
            start_schedule: Some(start),
            duration: Some(600),
            charging_schedule_period: vec![
                SchedulePeriod { start_period: 0, limit: 16.0 },
                SchedulePeriod { start_period: 300, limit: 8.0 },
            ],
        };
        let at = |s_: i64| start + jiff::SignedDuration::from_secs(s_);
        assert_eq!(s.limit_w_at(at(-1)), None);
        assert_eq!(s.limit_w_at(at(0)), Some(16.0 * 690.0));
        assert_eq!(s.limit_w_at(at(299)), Some(16.0 * 690.0));
        assert_eq!(s.limit_w_at(at(300)), Some(8.0 * 690.0));
        assert_eq!(s.limit_w_at(at(600)), None);
        let answer: CompositeScheduleAnswer = serde_json::from_value(json!({
            "status": "Accepted",
            "schedule": {"evseId": 1, "duration": 900, "scheduleStart": "2026-12-07T10:00:00Z",
                         "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3700}]}
        }))
        .unwrap();
        assert_eq!(answer.schedule.unwrap().limit_w_at(at(10)), Some(3700.0));
    }

    #[test]
    fn charging_needs_give_the_energy_in_kwh() {
        let ac: NotifyEvChargingNeeds = serde_json::from_value(json!({
            "evseId": 1,
            "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase", "departureTime": "2026-12-07T17:00:00Z",
                              "acChargingParameters": {"energyAmount": 24000, "evMinCurrent": 6,
                                                       "evMaxCurrent": 16, "evMaxVoltage": 400}}
        }))
        .unwrap();
        assert_eq!(ac.charging_needs.energy_kwh(), Some(24.0));
        assert_eq!(ac.charging_needs.departure_time, Some("2026-12-07T17:00:00Z".parse().unwrap()));
        let dc: ChargingNeeds = serde_json::from_value(json!({
            "requestedEnergyTransfer": "DC",
            "dcChargingParameters": {"evMaxCurrent": 200, "evMaxVoltage": 800, "evEnergyCapacity": 60000,
                                     "stateOfCharge": 30, "fullSoC": 80}
        }))
        .unwrap();
        assert_eq!(dc.energy_kwh(), Some(30.0));
        let none: ChargingNeeds = serde_json::from_value(json!({"requestedEnergyTransfer": "DC"})).unwrap();
        assert_eq!(none.energy_kwh(), None);
    }
}
