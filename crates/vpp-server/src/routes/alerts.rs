//! `/api/v1/vpp/alerts`: what the background jobs noticed, and
//! `/api/v1/vpp/devices/bridge`: the MQTT bridge's counters.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_devices::bridge::BridgeCounts;
use vpp_domain::alert::AlertAction;
use vpp_store::Alert;

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::extract::{AcceptLanguage, ApiJson, ApiQuery};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(acknowledge_alert))
        .routes(routes!(resolve_alert))
        .routes(routes!(bridge_status))
}

/// Filters of the alert list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `open`, `acknowledged` or `resolved`.
    pub state: Option<String>,
    /// `device_offline`, `setpoint_not_acknowledged`, `execution_deviation`,
    /// `soc_out_of_window`, `broker_connection_lost` or `ingestion_failed`.
    pub rule: Option<String>,
    /// Resource, VPP or instruction id.
    pub subject: Option<String>,
    /// Most alerts, newest first (1..=1000, default 100).
    pub limit: Option<i64>,
}

/// Alerts, newest first. An alert stays one row while its condition lasts
/// (`occurrences` counts), and is resolved by the system when it clears.
/// `message` is in the language `Accept-Language` prefers (English or
/// Chinese); `content` has its code and figures.
#[utoipa::path(get, path = "/api/v1/vpp/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Vec<Alert>), (status = 422, body = Problem)))]
async fn list_alerts(
    State(s): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<Json<Vec<Alert>>> {
    let limit = super::LimitQuery { limit: q.limit }.get()?;
    let filter = vpp_app::alerts::alert_filter(q.state.as_deref(), q.rule.as_deref(), q.subject, limit)?;
    Ok(Json(s.store.list_alerts(&filter).await?.into_iter().map(|a| a.in_lang(lang)).collect()))
}

/// Acknowledges an open alert: someone is on it. The body's `comment` is
/// optional.
#[utoipa::path(post, path = "/api/v1/vpp/alerts/{id}/acknowledge", tag = "alerts", request_body(content = Option<AlertAction>),
    responses((status = 200, body = Alert), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn acknowledge_alert(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    AcceptLanguage(lang): AcceptLanguage,
    Path(id): Path<String>,
    body: Option<ApiJson<AlertAction>>,
) -> ApiResult<Json<Alert>> {
    let action = body.map(|b| b.0).unwrap_or_default();
    Ok(Json(vpp_app::alerts::acknowledge(&s.store, &id, &p.actor_name(), &action).await?.in_lang(lang)))
}

/// Resolves an alert by hand. The body's `comment` is optional.
#[utoipa::path(post, path = "/api/v1/vpp/alerts/{id}/resolve", tag = "alerts", request_body(content = Option<AlertAction>),
    responses((status = 200, body = Alert), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn resolve_alert(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    AcceptLanguage(lang): AcceptLanguage,
    Path(id): Path<String>,
    body: Option<ApiJson<AlertAction>>,
) -> ApiResult<Json<Alert>> {
    let action = body.map(|b| b.0).unwrap_or_default();
    Ok(Json(vpp_app::alerts::resolve(&s.store, &id, &p.actor_name(), &action).await?.in_lang(lang)))
}

/// Whether the MQTT bridge runs, and its counters.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BridgeStatus {
    /// False when `vpp serve` runs without `--mqtt-url`.
    pub enabled: bool,
    /// Counters since start (absent when disabled).
    pub counts: Option<BridgeCounts>,
}

/// The MQTT bridge: connected or not, messages, samples stored and dropped
/// by reason, setpoints sent, acknowledged, rejected and failed.
#[utoipa::path(get, path = "/api/v1/vpp/devices/bridge", tag = "alerts",
    responses((status = 200, body = BridgeStatus)))]
async fn bridge_status(State(s): State<AppState>) -> Json<BridgeStatus> {
    Json(BridgeStatus { enabled: s.devices.is_some(), counts: s.devices.as_ref().map(|d| d.snapshot()) })
}
