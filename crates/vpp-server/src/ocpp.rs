//! vpp as an OCPP 2.0.1 CSMS: EV charging stations connect to
//! `/ocpp/{station_id}` (websocket, subprotocol `ocpp2.0.1`, HTTP Basic auth
//! with the station's password: security profile 1, and profile 2 when the
//! server runs TLS). What they send becomes resource status, telemetry and
//! charging sessions (with the vehicle's needs); dispatches of a station's
//! resource become SetChargingProfile, confirmed by GetCompositeSchedule,
//! and cleared with ClearChargingProfile when their instruction ends. The
//! station's Accepted or Rejected is the delivery state. A station's
//! password is an argon2 hash or a secret reference read at each connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc, oneshot};
use vpp_domain::execution::Setpoint;
use vpp_domain::ocpp::{
    self, CompositeScheduleAnswer, Frame, MeterValues, NotifyEvChargingNeeds, StatusNotification, TransactionEvent,
};
use vpp_domain::resource::ResourceStatus;
use vpp_domain::status_reason::StatusReason;
use vpp_store::{AlertMessage, AlertRule, DeliveryState, SessionEvent, SessionOf, StationCredential, Store};

use crate::state::AppState;

/// The delivery channel of charging profiles.
pub const CHANNEL: &str = "ocpp";

/// How long a station has to answer a request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests sent to a station, by message id, awaiting its answer.
type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<Value, String>>>>>;

/// A connected station: its outgoing frames and the requests awaiting answers.
struct Link {
    resource_id: String,
    out: mpsc::Sender<String>,
    pending: Pending,
    /// Which connection this is (a reconnect replaces it).
    generation: u64,
    /// When it connected.
    connected_at: Timestamp,
    /// Its last message, µs since the epoch (written without the map's lock).
    last_message_us: Arc<AtomicI64>,
    /// Held while a request to it awaits its answer: OCPP-J allows one
    /// outstanding CALL per direction.
    calls: Arc<Mutex<()>>,
}

/// A connected station as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StationConnection {
    /// When the websocket opened (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub connected_at: Timestamp,
    /// The station's last message (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub last_message_at: Timestamp,
}

/// The stations connected to this server, and counters.
#[derive(Default)]
pub struct OcppHub {
    links: Mutex<HashMap<String, Link>>,
    /// When vpp's profiles on stations end (their instruction's end), by
    /// station and profile id: then they are cleared.
    active: Mutex<HashMap<(String, i64), Timestamp>>,
    next: AtomicU64,
    messages: AtomicU64,
    refused: AtomicU64,
    profiles_sent: AtomicU64,
    profiles_accepted: AtomicU64,
    profiles_rejected: AtomicU64,
    profiles_confirmed: AtomicU64,
    profiles_cleared: AtomicU64,
    /// The message count at the start of the rate's window.
    rate: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

/// The OCPP endpoint's counters.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OcppCounts {
    /// Stations connected now.
    pub connected: usize,
    /// Their ids.
    pub stations: Vec<String>,
    /// Requests received from stations.
    pub messages: u64,
    /// Requests per second since the previous status read (at least 1 s before).
    pub messages_per_s: f64,
    /// The newest message of a connected station (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_contact: Option<Timestamp>,
    /// Connections refused (unknown station, wrong password, no subprotocol).
    pub refused: u64,
    /// SetChargingProfile requests sent.
    pub profiles_sent: u64,
    /// … accepted by the station.
    pub profiles_accepted: u64,
    /// … rejected by the station.
    pub profiles_rejected: u64,
    /// … accepted and confirmed by the station's composite schedule.
    pub profiles_confirmed: u64,
    /// Profiles cleared (ClearChargingProfile) when their instruction ended.
    pub profiles_cleared: u64,
}

impl OcppHub {
    /// The counters now.
    pub async fn snapshot(&self) -> OcppCounts {
        let links = self.links.lock().await;
        let mut stations: Vec<String> = links.keys().cloned().collect();
        stations.sort();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let messages = g(&self.messages);
        let now = std::time::Instant::now();
        let mut rate = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        let (since, before) = rate.unwrap_or((now, messages));
        let secs = now.duration_since(since).as_secs_f64();
        let messages_per_s = if secs > 0.0 { (messages - before) as f64 / secs } else { 0.0 };
        if secs >= 1.0 || rate.is_none() {
            *rate = Some((now, messages));
        }
        drop(rate);
        let last_contact = links
            .values()
            .filter_map(|l| Timestamp::from_microsecond(l.last_message_us.load(Ordering::Relaxed)).ok())
            .max();
        OcppCounts {
            connected: links.len(),
            stations,
            messages,
            messages_per_s,
            last_contact,
            refused: g(&self.refused),
            profiles_sent: g(&self.profiles_sent),
            profiles_accepted: g(&self.profiles_accepted),
            profiles_rejected: g(&self.profiles_rejected),
            profiles_confirmed: g(&self.profiles_confirmed),
            profiles_cleared: g(&self.profiles_cleared),
        }
    }

    /// The connected stations by station id.
    pub async fn connections(&self) -> HashMap<String, StationConnection> {
        let links = self.links.lock().await;
        links
            .iter()
            .map(|(id, l)| {
                let last =
                    Timestamp::from_microsecond(l.last_message_us.load(Ordering::Relaxed)).unwrap_or(l.connected_at);
                (id.clone(), StationConnection { connected_at: l.connected_at, last_message_at: last })
            })
            .collect()
    }

    /// Sends a request to a connected station and waits for its answer.
    async fn call(&self, station_id: &str, action: &str, payload: Value) -> Result<Value, String> {
        let (out, pending, calls) = {
            let links = self.links.lock().await;
            let link = links.get(station_id).ok_or("not connected")?;
            (link.out.clone(), link.pending.clone(), link.calls.clone())
        };
        let _one_at_a_time = calls.lock().await;
        let id = vpp_store::new_id();
        let (tx, rx) = oneshot::channel();
        pending.lock().await.insert(id.clone(), tx);
        let frame = Frame::Call { id: id.clone(), action: action.into(), payload };
        out.send(frame.to_text()).await.map_err(|_| "connection closed".to_string())?;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err("connection closed".into()),
            Err(_) => {
                pending.lock().await.remove(&id);
                Err(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))
            }
        }
    }
}

fn refuse(hub: &OcppHub, status: StatusCode, message: &str) -> Response {
    hub.refused.fetch_add(1, Ordering::Relaxed);
    let mut r = (status, message.to_string()).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Basic realm=\"ocpp\""));
    }
    r
}

/// `GET /ocpp/{station_id}`: a charging station's websocket.
pub async fn connect(
    State(s): State<AppState>,
    Path(station_id): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let hub = s.ocpp.clone();
    let offered = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == ocpp::SUBPROTOCOL));
    if !offered {
        return refuse(&hub, StatusCode::BAD_REQUEST, "subprotocol: offer ocpp2.0.1 in Sec-WebSocket-Protocol");
    }
    // Security profile 1/2: Basic auth, user name = station id.
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())));
    let station = match s.store.ocpp_station(&station_id).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "OCPP: reading the station failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let ok = match (&credentials, &station) {
        (Some((user, password)), Some((_, StationCredential::Hash(hash)))) => {
            user == &station_id && s.auth.verify_password(password, Some(hash)).await
        }
        (Some((user, password)), Some((_, StationCredential::Reference(reference)))) => {
            // The same argon2 work as for a hash, so the time taken does not
            // tell a reference station's id from an unknown one.
            s.auth.verify_password(password, None).await;
            match vpp_domain::secret::resolve(reference) {
                // Digests compared, so the time taken says nothing about the secret.
                Ok(secret) => user == &station_id && Sha256::digest(password) == Sha256::digest(secret),
                Err(e) => {
                    tracing::error!(station = %station_id, error = %e, "OCPP: the station's password reference cannot be read");
                    false
                }
            }
        }
        // Same time spent for an unknown station.
        (Some((_, password)), None) => s.auth.verify_password(password, None).await,
        (None, _) => false,
    };
    let Some((station, _)) = station.filter(|_| ok) else {
        tracing::warn!(station = %station_id, "OCPP: connection refused (unknown station or wrong credentials)");
        return refuse(&hub, StatusCode::UNAUTHORIZED, "unknown station or wrong credentials");
    };
    let store = s.store.clone();
    ws.protocols([ocpp::SUBPROTOCOL])
        .on_upgrade(move |socket| serve_station(socket, store, hub, station_id, station.resource_id))
}

async fn serve_station(
    socket: WebSocket,
    store: Arc<Store>,
    hub: Arc<OcppHub>,
    station_id: String,
    resource_id: String,
) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<String>(64);
    let pending: Pending = Arc::default();
    let generation = hub.next.fetch_add(1, Ordering::Relaxed);
    let connected_at = Timestamp::now();
    let last_message_us = Arc::new(AtomicI64::new(connected_at.as_microsecond()));
    hub.links.lock().await.insert(
        station_id.clone(),
        Link {
            resource_id: resource_id.clone(),
            out: out.clone(),
            pending: pending.clone(),
            generation,
            connected_at,
            last_message_us: last_message_us.clone(),
            calls: Arc::default(),
        },
    );
    tracing::info!(station = %station_id, resource = %resource_id, "OCPP station connected");
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let station = Station { store: store.clone(), id: station_id.clone(), resource_id: resource_id.clone() };
    while let Some(Ok(message)) = stream.next().await {
        last_message_us.store(Timestamp::now().as_microsecond(), Ordering::Relaxed);
        let text = match message {
            Message::Text(t) => t.to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        match Frame::parse(&text) {
            Ok(Frame::Call { id, action, payload }) => {
                hub.messages.fetch_add(1, Ordering::Relaxed);
                let answer = match station.handle(&action, payload).await {
                    Ok(payload) => Frame::Result { id, payload },
                    Err((code, description)) => Frame::Error { id, code: code.into(), description },
                };
                if out.send(answer.to_text()).await.is_err() {
                    break;
                }
            }
            Ok(Frame::Result { id, payload }) => {
                if let Some(tx) = pending.lock().await.remove(&id) {
                    let _ = tx.send(Ok(payload));
                }
            }
            Ok(Frame::Error { id, code, description }) => {
                if let Some(tx) = pending.lock().await.remove(&id) {
                    let _ = tx.send(Err(format!("{code}: {description}")));
                }
            }
            Err(e) => tracing::warn!(station = %station_id, error = %e, "OCPP: unreadable frame"),
        }
    }
    writer.abort();
    let mut links = hub.links.lock().await;
    if links.get(&station_id).is_some_and(|l| l.generation == generation) {
        links.remove(&station_id);
        drop(links);
        tracing::info!(station = %station_id, "OCPP station disconnected");
        let reason = StatusReason::StationDisconnected;
        if let Ok(true) =
            store.set_status_if(&resource_id, &[ResourceStatus::Online], ResourceStatus::Offline, reason).await
            && let Err(e) = store
                .raise_alert(
                    AlertRule::DeviceOffline,
                    &resource_id,
                    AlertMessage::StationDisconnected { resource: resource_id.clone(), station: station_id.clone() },
                )
                .await
        {
            tracing::warn!(error = %e, "could not raise an alert");
        }
    }
}

/// One station's requests.
struct Station {
    store: Arc<Store>,
    id: String,
    resource_id: String,
}

type Refusal = (&'static str, String);

fn payload<T: serde::de::DeserializeOwned>(action: &str, value: Value) -> Result<T, Refusal> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| ("FormatViolation", format!("{action}.{}: {}", e.path(), e.inner())))
}

impl Station {
    async fn handle(&self, action: &str, body: Value) -> Result<Value, Refusal> {
        let now = Timestamp::now().round(jiff::Unit::Second).unwrap_or(Timestamp::now()).to_string();
        let internal = |e: vpp_store::StoreError| ("InternalError", e.to_string());
        match action {
            "BootNotification" => {
                self.online(StatusReason::StationBooted).await;
                Ok(json!({"currentTime": now, "interval": 60, "status": "Accepted"}))
            }
            "Heartbeat" => Ok(json!({"currentTime": now})),
            "StatusNotification" => {
                let n: StatusNotification = payload(action, body)?;
                let to = n.resource_status();
                let from = [
                    ResourceStatus::Online,
                    ResourceStatus::Offline,
                    ResourceStatus::Error,
                    ResourceStatus::Maintenance,
                ];
                let reason = StatusReason::StationStatus { status: n.connector_status.clone(), evse: n.evse_id };
                self.store.set_status_if(&self.resource_id, &from, to, reason).await.map_err(internal)?;
                Ok(json!({}))
            }
            "MeterValues" => {
                let m: MeterValues = payload(action, body)?;
                self.meter(m.meter_value.iter().filter_map(ocpp::MeterValue::telemetry).collect()).await?;
                Ok(json!({}))
            }
            "TransactionEvent" => {
                let e: TransactionEvent = payload(action, body)?;
                let meter_kwh = e.meter_value.iter().filter_map(|m| m.metered().energy_kwh).next_back();
                self.store
                    .record_session_event(&SessionEvent {
                        station_id: &self.id,
                        resource_id: &self.resource_id,
                        transaction_id: &e.transaction_info.transaction_id,
                        evse_id: e.evse.as_ref().map(|x| x.id),
                        id_token: e.id_token.as_ref().map(|t| t.id_token.as_str()),
                        at: e.timestamp,
                        meter_kwh,
                        ended: e.event_type == "Ended",
                    })
                    .await
                    .map_err(internal)?;
                self.meter(e.meter_value.iter().filter_map(ocpp::MeterValue::telemetry).collect()).await?;
                Ok(match e.id_token {
                    Some(_) => json!({"idTokenInfo": {"status": "Accepted"}}),
                    None => json!({}),
                })
            }
            "NotifyEVChargingNeeds" => {
                let n: NotifyEvChargingNeeds = payload(action, body)?;
                let needs = &n.charging_needs;
                let stored = self
                    .store
                    .record_charging_needs(&self.id, n.evse_id, needs.energy_kwh(), needs.departure_time)
                    .await
                    .map_err(internal)?;
                // Taken into the next schedule of the charger. vpp sends a
                // profile when a dispatch comes, not now: Processing (Accepted
                // would promise a schedule at once).
                Ok(if stored {
                    json!({"status": "Processing"})
                } else {
                    json!({"status": "Rejected", "statusInfo": {"reasonCode": "NoTransaction",
                        "additionalInfo": "no running transaction on this station"}})
                })
            }
            // Every token is accepted: who may charge is the station operator's
            // business; vpp keeps who charged with the session.
            "Authorize" => Ok(json!({"idTokenInfo": {"status": "Accepted"}})),
            other => Err(("NotImplemented", format!("vpp does not handle {other}"))),
        }
    }

    async fn online(&self, reason: StatusReason) {
        let from = [ResourceStatus::Offline];
        if let Ok(true) = self.store.set_status_if(&self.resource_id, &from, ResourceStatus::Online, reason).await {
            let _ = self.store.clear_alert(AlertRule::DeviceOffline, &self.resource_id).await;
        }
    }

    /// Stores meter values as telemetry; a value out of range is refused
    /// naming it, and nothing of the message is stored.
    async fn meter(&self, samples: Vec<vpp_domain::resource::Telemetry>) -> Result<(), Refusal> {
        if samples.is_empty() {
            return Ok(());
        }
        self.online(StatusReason::StationMeterValues).await;
        match self.store.record_telemetry(&self.resource_id, &samples).await {
            Ok(_) => Ok(()),
            Err(vpp_store::StoreError::Invalid(invalid)) => Err(("PropertyConstraintViolation", invalid.to_string())),
            Err(e) => Err(("InternalError", e.to_string())),
        }
        .inspect_err(|(_, e)| tracing::warn!(station = %self.id, error = %e, "OCPP: meter values refused"))
    }
}

/// Sends due charging profiles to connected stations: held until the
/// instruction starts, tried again while the station is away, and failed
/// with an alert when its instruction ended undelivered or after three
/// unanswered attempts.
pub fn spawn_deliveries(store: Arc<Store>, hub: Arc<OcppHub>) -> tokio::task::JoinHandle<()> {
    store.enable_link_outbox();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = Timestamp::now();
            let due = match store.due_setpoints(CHANNEL, now, 500).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "OCPP: could not read due setpoints");
                    continue;
                }
            };
            for d in due {
                let Ok(setpoint) = serde_json::from_str::<Setpoint>(&d.payload) else { continue };
                let end = setpoint.start + jiff::SignedDuration::from_secs(setpoint.duration_s as i64);
                let station_id = d.topic.trim_start_matches("ocpp://").to_string();
                let connected = hub.links.lock().await.get(&station_id).is_some_and(|l| l.resource_id == d.resource_id);
                // Ended or unanswered three times: failed. Not started yet, or
                // the station away: held back. Otherwise sent now.
                let (resource, instruction) = (d.resource_id.clone(), d.instruction_id.clone());
                let failed = if end <= now {
                    Some((
                        "the instruction ended before the station took it".to_string(),
                        AlertMessage::SetpointExpired { resource, instruction },
                    ))
                } else {
                    (d.attempts >= 3).then(|| {
                        let reason = format!("no answer after {} attempts", d.attempts);
                        (reason, AlertMessage::SetpointUnanswered { resource, instruction, attempts: d.attempts })
                    })
                };
                if let Some((reason, alert)) = failed {
                    let answer = (d.instruction_id, d.resource_id, DeliveryState::Failed, Some(reason), now);
                    record(&store, &hub, answer, Some(alert)).await;
                    continue;
                }
                // A station away from this node: looked at again in a second,
                // by whichever node it is connected to (with several nodes,
                // any one may hold it), so the queue's head moves on; if no
                // node holds it, the setpoint fails when its window ends.
                let later = setpoint.start > now + jiff::SignedDuration::from_millis(200);
                if later || !connected {
                    let at = if connected { setpoint.start } else { now + jiff::SignedDuration::from_secs(1) };
                    if let Err(e) = store.postpone_setpoint(&d.instruction_id, at).await {
                        tracing::warn!(error = %e, "OCPP: could not hold a setpoint back");
                    }
                    continue;
                }
                // Two requests (the profile, then the composite schedule) and a margin.
                let answer_by = now + jiff::SignedDuration::from_secs(2 * ANSWER_TIMEOUT.as_secs() as i64 + 2);
                if let Err(e) = store.setpoints_sent(std::slice::from_ref(&d.instruction_id), answer_by).await {
                    tracing::warn!(error = %e, "OCPP: could not record a request");
                    continue;
                }
                // vpp's profiles on this station are not cleared while this one covers the time.
                {
                    let mut active = hub.active.lock().await;
                    for id in [ocpp::TX_PROFILE_ID, ocpp::TX_DEFAULT_PROFILE_ID] {
                        if let Some(until) = active.get_mut(&(station_id.clone(), id)) {
                            *until = (*until).max(end);
                        }
                    }
                }
                let (store, hub) = (store.clone(), hub.clone());
                tokio::spawn(async move {
                    let running = store.running_session(SessionOf::Station(&station_id)).await.ok().flatten();
                    let tx = running.as_ref().map(|s| (s.transaction_id.as_str(), s.evse_id.unwrap_or(1)));
                    // Charging is consumption: a target of −3.7 kW is a limit of 3.7 kW.
                    let request =
                        ocpp::set_charging_profile(-setpoint.target_kw, setpoint.start, setpoint.duration_s, tx);
                    let answer = deliver(&hub, &station_id, &request, end).await;
                    let Some((state, reason)) = answer else { return };
                    record(&store, &hub, (d.instruction_id, d.resource_id, state, reason, Timestamp::now()), None)
                        .await;
                });
            }
            // After the sends, which keep a station's profiles while a new one covers the time.
            clear_ended(&hub, now).await;
        }
    })
}

/// Sends a charging profile and confirms it with GetCompositeSchedule:
/// the station's Accepted is the delivery, unless the composite schedule
/// then allows more than was sent. None when unanswered (tried again).
async fn deliver(
    hub: &OcppHub,
    station_id: &str,
    request: &ocpp::SetChargingProfile,
    end: Timestamp,
) -> Option<(DeliveryState, Option<String>)> {
    hub.profiles_sent.fetch_add(1, Ordering::Relaxed);
    let body = serde_json::to_value(request).unwrap_or_default();
    let answer = match hub.call(station_id, "SetChargingProfile", body).await {
        Ok(v) => v,
        // Answered again after the timeout (or failed after three).
        Err(e) => {
            tracing::warn!(station = %station_id, error = %e, "OCPP: SetChargingProfile unanswered");
            return None;
        }
    };
    if answer["status"] != "Accepted" {
        let why = answer["statusInfo"]["reasonCode"].as_str().unwrap_or("no reason given");
        return Some((
            DeliveryState::Rejected,
            Some(format!("{}: {why}", answer["status"].as_str().unwrap_or("Rejected"))),
        ));
    }
    let profile = &request.charging_profile;
    // This profile replaced any of the same id on the station (requests to
    // a station go one at a time, so the last accepted is the one it has):
    // it is cleared at its own end.
    hub.active.lock().await.insert((station_id.to_string(), profile.id), end);
    let evse = if request.evse_id > 0 { request.evse_id } else { 1 };
    let remaining_s = end.duration_since(Timestamp::now()).as_secs().max(1) as u64;
    match hub.call(station_id, "GetCompositeSchedule", ocpp::get_composite_schedule(evse, remaining_s)).await {
        Ok(v) => {
            let composite =
                serde_json::from_value::<CompositeScheduleAnswer>(v).ok().filter(|a| a.status == "Accepted");
            // Both limits at one instant: the profile's start if it is still ahead.
            let schedule = profile.charging_schedule.first();
            let at = Timestamp::now().max(schedule.and_then(|s| s.start_schedule).unwrap_or_default());
            let sent_w = schedule.and_then(|s| s.limit_w_at(at));
            match (composite.and_then(|a| a.schedule).and_then(|c| c.limit_w_at(at)), sent_w) {
                (Some(allowed), Some(sent)) if allowed > sent + 1.0 => {
                    return Some((
                        DeliveryState::Rejected,
                        Some(format!("the station's composite schedule allows {allowed} W, above the {sent} W sent")),
                    ));
                }
                (Some(_), _) => {
                    hub.profiles_confirmed.fetch_add(1, Ordering::Relaxed);
                }
                (None, _) => tracing::debug!(station = %station_id, "OCPP: no composite schedule to confirm with"),
            }
        }
        // A station without GetCompositeSchedule: its Accepted stands.
        Err(e) => tracing::debug!(station = %station_id, error = %e, "OCPP: GetCompositeSchedule unanswered"),
    }
    Some((DeliveryState::Acknowledged, None))
}

/// Sends ClearChargingProfile for vpp's profiles whose instruction has
/// ended, so the station returns to its own limits. A station away then
/// keeps the profile until its schedule's duration runs out.
async fn clear_ended(hub: &Arc<OcppHub>, now: Timestamp) {
    let ended: Vec<(String, i64)> = {
        let mut active = hub.active.lock().await;
        let ended: Vec<(String, i64)> =
            active.iter().filter(|(_, until)| **until <= now).map(|(k, _)| k.clone()).collect();
        for k in &ended {
            active.remove(k);
        }
        ended
    };
    for (station_id, profile_id) in ended {
        let hub = hub.clone();
        tokio::spawn(async move {
            match hub.call(&station_id, "ClearChargingProfile", ocpp::clear_charging_profile(profile_id)).await {
                Ok(v) if v["status"] == "Accepted" => {
                    hub.profiles_cleared.fetch_add(1, Ordering::Relaxed);
                }
                Ok(v) => tracing::info!(station = %station_id, answer = %v, "OCPP: ClearChargingProfile not accepted"),
                Err(e) => tracing::info!(station = %station_id, error = %e, "OCPP: ClearChargingProfile unanswered"),
            }
        });
    }
}

/// Stores a station's answer (or vpp's verdict) on a charging profile and
/// raises an alert unless it was accepted: `alert` when vpp gave up on it,
/// else the station's refusal with its reason.
async fn record(
    store: &Store,
    hub: &OcppHub,
    answer: (String, String, DeliveryState, Option<String>, Timestamp),
    alert: Option<AlertMessage>,
) {
    match store.answer_setpoints(std::slice::from_ref(&answer)).await {
        Ok(changed) => {
            for d in changed {
                match d.state {
                    DeliveryState::Acknowledged => {
                        hub.profiles_accepted.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    DeliveryState::Rejected => hub.profiles_rejected.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                let message = alert.clone().unwrap_or_else(|| AlertMessage::ChargingProfileRefused {
                    resource: d.resource_id.clone(),
                    instruction: d.instruction_id.clone(),
                    state: d.state.as_str().to_string(),
                    reason: d.reason.clone(),
                });
                if let Err(e) = store.raise_alert(AlertRule::SetpointNotAcknowledged, &d.instruction_id, message).await
                {
                    tracing::warn!(error = %e, "could not raise an alert");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "OCPP: could not store an answer"),
    }
}
