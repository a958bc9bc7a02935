//! Simulated EV charging stations that speak OCPP 2.0.1 to a CSMS (vpp's
//! own `/ocpp/{station_id}`), as a real station's firmware would: HTTP
//! Basic auth, BootNotification, StatusNotification, a TransactionEvent
//! for each vehicle that comes and goes, NotifyEVChargingNeeds with the
//! vehicle's energy and departure, and MeterValues on an interval. The
//! station follows the charging profiles it is sent (a TxProfile of its
//! transaction overrules the TxDefaultProfile), answers
//! GetCompositeSchedule with the limit it applies, and forgets a profile on
//! ClearChargingProfile. A dropped connection is opened again.
//!
//! The physics is a vehicle charging at the station's maximum, or the
//! profile's limit, until it has what it asked for or leaves. The demo,
//! `vpp simulate` and `vpp bench ocpp` run these against a real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use jiff::{SignedDuration, Timestamp};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use vpp_domain::ocpp::{self, ChargingProfile, Frame, SetChargingProfile};

/// One simulated station.
#[derive(Debug, Clone)]
pub struct StationConfig {
    /// The CSMS, e.g. `ws://127.0.0.1:8080`; the station connects to
    /// `{base_url}/ocpp/{station_id}`.
    pub base_url: String,
    /// Station id (its resource's external id).
    pub station_id: String,
    /// HTTP Basic password.
    pub password: String,
    /// Highest charging power, kW.
    pub max_charge_kw: f64,
    /// Time between two MeterValues.
    pub meter_every: Duration,
    /// Energy a vehicle asks for, kWh (each vehicle asks for 50–150 % of it).
    pub session_kwh: f64,
    /// How long a vehicle stays.
    pub dwell: Duration,
    /// How long the station is free between two vehicles.
    pub idle: Duration,
    /// Seed of the vehicles' randomness.
    pub seed: u64,
}

/// Counts over all simulated stations.
#[derive(Debug, Default)]
pub struct OcppSimStats {
    /// Stations connected now.
    pub connected: AtomicU64,
    /// Connections opened.
    pub connects: AtomicU64,
    /// Connections the CSMS refused at the handshake.
    pub refused: AtomicU64,
    /// MeterValues sent.
    pub meter_values: AtomicU64,
    /// Requests the CSMS answered with an error.
    pub call_errors: AtomicU64,
    /// SetChargingProfile accepted.
    pub profiles_set: AtomicU64,
    /// ClearChargingProfile accepted.
    pub profiles_cleared: AtomicU64,
    /// GetCompositeSchedule answered.
    pub composite_answered: AtomicU64,
    /// Vehicles that arrived.
    pub sessions: AtomicU64,
}

/// A vehicle on the station.
#[derive(Debug, Clone)]
struct Vehicle {
    transaction_id: String,
    need_kwh: f64,
    charged_kwh: f64,
    capacity_kwh: f64,
    soc_start_pct: f64,
    departs: Timestamp,
    seq_no: u64,
}

/// The station's state across connections.
struct Charger {
    config: StationConfig,
    rng: SmallRng,
    register_kwh: f64,
    vehicle: Option<Vehicle>,
    /// Free until then (no vehicle).
    free_until: Timestamp,
    profiles: Vec<ChargingProfile>,
    sessions: u64,
    last: Timestamp,
}

impl Charger {
    fn new(config: StationConfig) -> Self {
        let rng = SmallRng::seed_from_u64(config.seed);
        let now = Timestamp::now();
        Self {
            config,
            rng,
            register_kwh: 0.0,
            vehicle: None,
            free_until: now,
            profiles: Vec::new(),
            sessions: 0,
            last: now,
        }
    }

    /// The limit the profiles set at `t`, W: the transaction's profile
    /// overrules the default one; the station's maximum without either.
    fn limit_w(&self, t: Timestamp) -> f64 {
        let max_w = self.config.max_charge_kw * 1000.0;
        let tx = self.vehicle.as_ref().map(|v| v.transaction_id.as_str());
        let of = |purpose: &str| {
            self.profiles
                .iter()
                .filter(|p| p.charging_profile_purpose == purpose)
                .filter(|p| purpose != "TxProfile" || p.transaction_id.as_deref() == tx)
                .filter_map(|p| p.charging_schedule.first()?.limit_w_at(t))
                .reduce(f64::min)
        };
        of("TxProfile").or_else(|| of("TxDefaultProfile")).map_or(max_w, |w| w.min(max_w))
    }

    /// Charging power now, kW (≥ 0): the limit while the vehicle still
    /// needs energy.
    fn power_kw(&self, t: Timestamp) -> f64 {
        match &self.vehicle {
            Some(v) if v.charged_kwh < v.need_kwh => self.limit_w(t) / 1000.0,
            _ => 0.0,
        }
    }

    /// Moves the physics to `now`; returns the requests it causes
    /// (a vehicle arriving or leaving).
    fn advance(&mut self, now: Timestamp) -> Vec<(&'static str, Value)> {
        let dt_h = now.duration_since(self.last).as_secs_f64().clamp(0.0, 3600.0) / 3600.0;
        let kw = self.power_kw(self.last);
        self.last = now;
        let mut out = Vec::new();
        if let Some(v) = &mut self.vehicle {
            let kwh = (kw * dt_h).min((v.need_kwh - v.charged_kwh).max(0.0));
            v.charged_kwh += kwh;
            self.register_kwh += kwh;
            if now >= v.departs {
                v.seq_no += 1;
                out.push(("TransactionEvent", self.transaction_event("Ended", "EVDeparted", now)));
                out.push(("StatusNotification", status("Available", now)));
                self.vehicle = None;
                self.profiles.retain(|p| p.charging_profile_purpose != "TxProfile");
                self.free_until = now + signed(self.config.idle);
            }
        } else if now >= self.free_until {
            self.sessions += 1;
            let need_kwh = self.config.session_kwh * self.rng.random_range(0.5..1.5);
            let capacity_kwh = (need_kwh * 2.0).max(40.0);
            let soc_start_pct = 100.0 * (1.0 - need_kwh / capacity_kwh);
            let departs = now + signed(self.config.dwell);
            self.vehicle = Some(Vehicle {
                transaction_id: format!("{}-{}", self.config.station_id, self.sessions),
                need_kwh,
                charged_kwh: 0.0,
                capacity_kwh,
                soc_start_pct,
                departs,
                seq_no: 0,
            });
            out.push(("StatusNotification", status("Occupied", now)));
            out.push(("TransactionEvent", self.transaction_event("Started", "CablePluggedIn", now)));
            out.push((
                "NotifyEVChargingNeeds",
                json!({"evseId": 1, "chargingNeeds": {
                    "requestedEnergyTransfer": "AC_three_phase",
                    "departureTime": departs.round(jiff::Unit::Second).unwrap_or(departs).to_string(),
                    "acChargingParameters": {"energyAmount": (need_kwh * 1000.0).round(), "evMinCurrent": 6,
                                             "evMaxCurrent": 32, "evMaxVoltage": 400}
                }}),
            ));
        }
        out
    }

    fn meter_value(&self, now: Timestamp) -> Value {
        let mut sampled = vec![
            json!({"value": (self.power_kw(now) * 1000.0).round(), "measurand": "Power.Active.Import",
                   "unitOfMeasure": {"unit": "W"}}),
            json!({"value": (self.register_kwh * 1000.0).round(), "measurand": "Energy.Active.Import.Register",
                   "unitOfMeasure": {"unit": "Wh"}}),
        ];
        if let Some(v) = &self.vehicle {
            let soc = v.soc_start_pct + 100.0 * v.charged_kwh / v.capacity_kwh;
            sampled.push(json!({"value": soc.clamp(0.0, 100.0).round(), "measurand": "SoC",
                                "unitOfMeasure": {"unit": "Percent"}}));
        }
        json!([{"timestamp": now.to_string(), "sampledValue": sampled}])
    }

    fn transaction_event(&self, event_type: &str, trigger: &str, now: Timestamp) -> Value {
        let v = self.vehicle.as_ref();
        let mut e = json!({
            "eventType": event_type,
            "timestamp": now.to_string(),
            "triggerReason": trigger,
            "seqNo": v.map_or(0, |v| v.seq_no),
            "transactionInfo": {"transactionId": v.map_or("", |v| v.transaction_id.as_str())},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": self.meter_value(now),
        });
        if event_type == "Started" {
            e["idToken"] = json!({"idToken": format!("SIM-{}", self.sessions), "type": "Central"});
        }
        e
    }

    /// Answers a request of the CSMS.
    fn answer(&mut self, action: &str, payload: Value, stats: &OcppSimStats) -> Result<Value, (&'static str, String)> {
        let now = Timestamp::now();
        match action {
            "SetChargingProfile" => {
                let request: SetChargingProfile = serde_json::from_value(payload)
                    .map_err(|e| ("FormatViolation", format!("SetChargingProfile: {e}")))?;
                let p = request.charging_profile;
                let tx = self.vehicle.as_ref().map(|v| v.transaction_id.as_str());
                if p.charging_profile_purpose == "TxProfile" && p.transaction_id.as_deref() != tx {
                    return Ok(json!({"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}));
                }
                self.profiles.retain(|old| old.id != p.id);
                self.profiles.push(p);
                stats.profiles_set.fetch_add(1, Ordering::Relaxed);
                Ok(json!({"status": "Accepted"}))
            }
            "ClearChargingProfile" => {
                let id = payload["chargingProfileId"].as_i64();
                let before = self.profiles.len();
                self.profiles.retain(|p| id.is_some_and(|id| p.id != id));
                let cleared = self.profiles.len() < before;
                if cleared {
                    stats.profiles_cleared.fetch_add(1, Ordering::Relaxed);
                }
                Ok(json!({"status": if cleared { "Accepted" } else { "Unknown" }}))
            }
            "GetCompositeSchedule" => {
                let duration = payload["duration"].as_i64().unwrap_or(0).max(1);
                let evse_id = payload["evseId"].as_i64().unwrap_or(0);
                stats.composite_answered.fetch_add(1, Ordering::Relaxed);
                Ok(json!({"status": "Accepted", "schedule": self.composite(now, duration, evse_id)}))
            }
            other => Err(("NotImplemented", format!("the simulated station does not handle {other}"))),
        }
    }

    /// The limits over `duration_s` from `now`: a period wherever the
    /// applied limit changes (a profile starting or ending).
    fn composite(&self, now: Timestamp, duration_s: i64, evse_id: i64) -> Value {
        let mut edges: Vec<i64> = vec![0];
        for s in self.profiles.iter().filter_map(|p| p.charging_schedule.first()) {
            let Some(start) = s.start_schedule else { continue };
            let from = start.duration_since(now).as_secs();
            edges.push(from);
            edges.extend(s.charging_schedule_period.iter().map(|p| from + p.start_period));
            if let Some(d) = s.duration {
                edges.push(from + d);
            }
        }
        edges.retain(|e| (0..duration_s).contains(e));
        edges.sort_unstable();
        edges.dedup();
        let mut periods: Vec<Value> = Vec::new();
        let mut last = None;
        for e in edges {
            let w = self.limit_w(now + SignedDuration::from_secs(e)).round();
            if last != Some(w) {
                periods.push(json!({"startPeriod": e, "limit": w}));
                last = Some(w);
            }
        }
        json!({"evseId": evse_id, "duration": duration_s, "scheduleStart": now.to_string(),
               "chargingRateUnit": "W", "chargingSchedulePeriod": periods})
    }
}

fn status(connector: &str, now: Timestamp) -> Value {
    json!({"timestamp": now.to_string(), "connectorStatus": connector, "evseId": 1, "connectorId": 1})
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// The CSMS refused the handshake (unknown station, wrong password).
    #[error("refused by the CSMS: HTTP {0}")]
    Refused(u16),
    /// The connection could not be opened or broke.
    #[error("{0}")]
    Connection(String),
}

/// Runs a station until the task is dropped: connects, and connects again
/// one to ten seconds after a connection ends.
pub async fn run(config: StationConfig, stats: Arc<OcppSimStats>) {
    let mut charger = Charger::new(config);
    let mut backoff = Duration::from_secs(1);
    loop {
        match connect_once(&mut charger, &stats).await {
            Ok(()) => backoff = Duration::from_secs(1),
            Err(e) => {
                if matches!(e, StationError::Refused(_)) {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(station = %charger.config.station_id, error = %e, "simulated station disconnected");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One connection: boot, then meter values and answers until it ends.
async fn connect_once(charger: &mut Charger, stats: &OcppSimStats) -> Result<(), StationError> {
    let c = &charger.config;
    let url = format!("{}/ocpp/{}", c.base_url.trim_end_matches('/'), c.station_id);
    let mut request = url.into_client_request().map_err(|e| StationError::Connection(e.to_string()))?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.station_id, c.password));
    let header = |v: String| HeaderValue::from_str(&v).map_err(|e| StationError::Connection(e.to_string()));
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(ocpp::SUBPROTOCOL));
    request.headers_mut().insert("authorization", header(format!("Basic {token}"))?);
    let (socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => StationError::Refused(r.status().as_u16()),
        other => StationError::Connection(other.to_string()),
    })?;
    stats.connects.fetch_add(1, Ordering::Relaxed);
    stats.connected.fetch_add(1, Ordering::Relaxed);
    let result = converse(charger, socket, stats).await;
    stats.connected.fetch_sub(1, Ordering::Relaxed);
    result
}

async fn converse<S>(
    charger: &mut Charger,
    socket: tokio_tungstenite::WebSocketStream<S>,
    stats: &OcppSimStats,
) -> Result<(), StationError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let mut next_id = 0u64;
    let mut call = |action: &str, payload: Value| {
        next_id += 1;
        Message::Text(Frame::Call { id: next_id.to_string(), action: action.into(), payload }.to_text().into())
    };
    let broken = |e: tokio_tungstenite::tungstenite::Error| StationError::Connection(e.to_string());
    let now = Timestamp::now();
    let boot = json!({"reason": "PowerUp", "chargingStation": {"model": "vpp-sim-ac22", "vendorName": "vpp"}});
    sink.send(call("BootNotification", boot)).await.map_err(broken)?;
    let connector = if charger.vehicle.is_some() { "Occupied" } else { "Available" };
    sink.send(call("StatusNotification", status(connector, now))).await.map_err(broken)?;
    let mut meter = tokio::time::interval(charger.config.meter_every);
    meter.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | None => return Ok(()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(broken(e)),
                };
                match Frame::parse(&text) {
                    Ok(Frame::Call { id, action, payload }) => {
                        let answer = match charger.answer(&action, payload, stats) {
                            Ok(payload) => Frame::Result { id, payload },
                            Err((code, description)) => Frame::Error { id, code: code.into(), description },
                        };
                        sink.send(Message::Text(answer.to_text().into())).await.map_err(broken)?;
                    }
                    Ok(Frame::Error { .. }) => {
                        stats.call_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Frame::Result { .. }) => {}
                    Err(e) => tracing::debug!(error = %e, "simulated station: unreadable frame"),
                }
            }
            _ = meter.tick() => {
                let now = Timestamp::now();
                for (action, payload) in charger.advance(now) {
                    if action == "TransactionEvent" && payload["eventType"] == "Started" {
                        stats.sessions.fetch_add(1, Ordering::Relaxed);
                    }
                    sink.send(call(action, payload)).await.map_err(broken)?;
                }
                let values = json!({"evseId": 1, "meterValue": charger.meter_value(now)});
                sink.send(call("MeterValues", values)).await.map_err(broken)?;
                stats.meter_values.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StationConfig {
        StationConfig {
            base_url: "ws://127.0.0.1:1".into(),
            station_id: "CS-1".into(),
            password: "x".into(),
            max_charge_kw: 11.0,
            meter_every: Duration::from_secs(10),
            session_kwh: 20.0,
            dwell: Duration::from_secs(3600),
            idle: Duration::from_secs(60),
            seed: 1,
        }
    }

    #[test]
    fn a_vehicle_arrives_states_its_needs_charges_under_the_profile_and_leaves() {
        let mut c = Charger::new(config());
        let t0 = c.last;
        let sent: Vec<&str> = c.advance(t0).into_iter().map(|(a, _)| a).collect();
        assert_eq!(sent, ["StatusNotification", "TransactionEvent", "NotifyEVChargingNeeds"]);
        assert_eq!(c.power_kw(t0), 11.0);
        let stats = OcppSimStats::default();
        // A profile of another transaction is refused; the right one is applied.
        let wrong = ocpp::set_charging_profile(3.7, t0, 900, Some(("other", 1)));
        let a = c.answer("SetChargingProfile", serde_json::to_value(&wrong).unwrap(), &stats).unwrap();
        assert_eq!(a["status"], "Rejected");
        let tx = c.vehicle.as_ref().unwrap().transaction_id.clone();
        let right = ocpp::set_charging_profile(3.7, t0, 900, Some((&tx, 1)));
        c.answer("SetChargingProfile", serde_json::to_value(&right).unwrap(), &stats).unwrap();
        assert_eq!(c.power_kw(t0), 3.7);
        let composite = c.answer("GetCompositeSchedule", json!({"duration": 1800, "evseId": 1}), &stats).unwrap();
        let periods = &composite["schedule"]["chargingSchedulePeriod"];
        assert_eq!(periods, &json!([{"startPeriod": 0, "limit": 3700.0}, {"startPeriod": 900, "limit": 11000.0}]));
        // Fifteen minutes at 3.7 kW.
        c.advance(t0 + SignedDuration::from_mins(15));
        assert!((c.register_kwh - 3.7 / 4.0).abs() < 1e-9, "{}", c.register_kwh);
        let cleared = c.answer("ClearChargingProfile", json!({"chargingProfileId": right.charging_profile.id}), &stats);
        assert_eq!(cleared.unwrap()["status"], "Accepted");
        assert_eq!(c.power_kw(t0), 11.0);
        // It leaves after its dwell time: Ended, then the connector is free.
        let left: Vec<&str> = c.advance(t0 + SignedDuration::from_hours(1)).into_iter().map(|(a, _)| a).collect();
        assert_eq!(left, ["TransactionEvent", "StatusNotification"]);
        assert!(c.vehicle.is_none() && c.power_kw(t0) == 0.0);
        assert!(c.answer("Reset", json!({}), &stats).is_err());
    }
}
