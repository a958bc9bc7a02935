//! Device links over field standards (`/resource-instances/{id}/device-link`,
//! `/devices/links`) and the status of every device protocol
//! (`/devices/protocols`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_devices::modbus::{LinkState, ModbusCounts};
use vpp_domain::device_link::DeviceLinkSpec;
use vpp_store::DeviceLink;

use crate::error::{ApiResult, Problem};
use crate::extract::ApiJson;
use crate::routes::alerts::BridgeStatus;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_link, put_link, delete_link))
        .routes(routes!(list_links))
        .routes(routes!(list_stations))
        .routes(routes!(protocols))
        .routes(routes!(register_station))
        .routes(routes!(charging_sessions))
}

/// A device link with what its adapter sees now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceLinkView {
    /// The link as configured.
    #[serde(flatten)]
    pub link: DeviceLink,
    /// Connection, last contact, errors, SunSpec models and the newest
    /// reading; absent while the link is disabled or not yet started (the
    /// adapter looks for changes every 5 s).
    pub state: Option<LinkState>,
}

fn view(s: &AppState, link: DeviceLink) -> DeviceLinkView {
    let state = s.modbus.as_ref().and_then(|m| m.link(&link.resource_id));
    DeviceLinkView { link, state }
}

/// A resource's device link and its state.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/device-link", tag = "devices",
    responses((status = 200, body = DeviceLinkView), (status = 404, body = Problem)))]
async fn get_link(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<DeviceLinkView>> {
    let link = s.store.get_device_link(&id).await?;
    Ok(Json(view(&s, link)))
}

/// Sets how vpp reaches a resource's device: Modbus TCP with SunSpec
/// discovery or an explicit register map. Polling and setpoints start only
/// while `enabled` is true, and only at the host and port given here (a
/// resource's `device_address` starts nothing). The adapter picks up the
/// change within 5 s.
#[utoipa::path(put, path = "/api/v1/vpp/resource-instances/{id}/device-link", tag = "devices",
    request_body = DeviceLinkSpec,
    responses((status = 200, body = DeviceLinkView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_link(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<DeviceLinkSpec>,
) -> ApiResult<Json<DeviceLinkView>> {
    spec.validate()?;
    let link = s.store.put_device_link(&id, &spec).await?;
    Ok(Json(view(&s, link)))
}

/// Removes a resource's device link; polling stops within 5 s.
#[utoipa::path(delete, path = "/api/v1/vpp/resource-instances/{id}/device-link", tag = "devices",
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_link(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_device_link(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every device link with its state, by resource id.
#[utoipa::path(get, path = "/api/v1/vpp/devices/links", tag = "devices",
    responses((status = 200, body = Vec<DeviceLinkView>)))]
async fn list_links(State(s): State<AppState>) -> ApiResult<Json<Vec<DeviceLinkView>>> {
    let links = s.store.device_links(None, false).await?;
    Ok(Json(links.into_iter().map(|l| view(&s, l)).collect()))
}

/// A registered OCPP station and its connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StationView {
    /// The station as registered.
    #[serde(flatten)]
    pub station: vpp_store::OcppStation,
    /// Its websocket to this server, absent while it is not connected.
    pub connection: Option<crate::ocpp::StationConnection>,
}

/// Every registered OCPP charging station with its connection to this
/// server (when it opened, the last message).
#[utoipa::path(get, path = "/api/v1/vpp/devices/stations", tag = "devices",
    responses((status = 200, body = Vec<StationView>)))]
async fn list_stations(State(s): State<AppState>) -> ApiResult<Json<Vec<StationView>>> {
    let mut connected = s.ocpp.connections().await;
    let stations = s.store.ocpp_stations().await?;
    Ok(Json(
        stations
            .into_iter()
            .map(|station| StationView { connection: connected.remove(&station.station_id), station })
            .collect(),
    ))
}

/// The Modbus links' status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModbusStatus {
    /// False when the server runs without device links.
    pub enabled: bool,
    /// Devices, connections, polls, errors and setpoints (absent when disabled).
    pub counts: Option<ModbusCounts>,
}

/// One status per device protocol.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProtocolsStatus {
    /// The MQTT bridge.
    pub mqtt: BridgeStatus,
    /// Modbus TCP links.
    pub modbus_tcp: ModbusStatus,
    /// EV charging stations over OCPP 2.0.1.
    pub ocpp: crate::ocpp::OcppCounts,
}

/// Link health per device protocol: MQTT (broker connection, messages,
/// samples, setpoints) and Modbus TCP (devices polled, connected, last
/// contact, failed polls, polls per second, setpoints).
#[utoipa::path(get, path = "/api/v1/vpp/devices/protocols", tag = "devices",
    responses((status = 200, body = ProtocolsStatus)))]
async fn protocols(State(s): State<AppState>) -> Json<ProtocolsStatus> {
    Json(ProtocolsStatus {
        mqtt: BridgeStatus { enabled: s.devices.is_some(), counts: s.devices.as_ref().map(|d| d.snapshot()) },
        modbus_tcp: ModbusStatus { enabled: s.modbus.is_some(), counts: s.modbus.as_ref().map(|m| m.snapshot()) },
        ocpp: s.ocpp.snapshot().await,
    })
}

/// A charging station's credentials, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StationCredentials {
    /// The station as registered.
    #[serde(flatten)]
    pub station: vpp_store::OcppStation,
    /// Its new HTTP Basic password (user name: the station id), when vpp
    /// generated one. Shown only now; vpp keeps a hash.
    pub password: Option<String>,
    /// Where the station connects: `/ocpp/{station_id}` on this server
    /// (ws://, or wss:// when the server runs TLS), subprotocol `ocpp2.0.1`.
    pub path: String,
}

/// How a station's password is set.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationPassword {
    /// Read the password from a secret reference at each connection
    /// (`env:NAME` or `file:/path`) instead of generating one.
    pub password_ref: Option<String>,
}

/// Registers an EV charger as an OCPP 2.0.1 charging station, or gives it
/// a new password. The station id is the resource's external id. Without
/// a body the password is generated, returned once and stored hashed; with
/// `password_ref` it is read from that secret reference when the station
/// connects. The station's previous password stops working.
#[utoipa::path(post, path = "/api/v1/vpp/resource-instances/{id}/ocpp-station", tag = "devices",
    request_body(content = Option<StationPassword>, description = "optional: a secret reference for the password"),
    responses((status = 200, body = StationCredentials), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn register_station(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<ApiJson<StationPassword>>,
) -> ApiResult<Json<StationCredentials>> {
    let password_ref = body.and_then(|ApiJson(b)| b.password_ref);
    let (station, password) = vpp_app::stations::register_station(&s.store, &id, password_ref).await?;
    let path = format!("/ocpp/{}", station.station_id);
    Ok(Json(StationCredentials { station, password, path }))
}

/// A charging station's sessions (OCPP transactions), newest first.
#[utoipa::path(get, path = "/api/v1/vpp/resource-instances/{id}/charging-sessions", tag = "devices",
    responses((status = 200, body = Vec<vpp_store::ChargingSession>), (status = 404, body = Problem)))]
async fn charging_sessions(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<vpp_store::ChargingSession>>> {
    s.store.get_resource(&id).await?;
    Ok(Json(s.store.charging_sessions(&id, 100).await?))
}
