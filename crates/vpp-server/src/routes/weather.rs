//! `/api/v1/vpp/weather`: weather forecast files into weather series; and
//! `/api/v1/vpp/forecasts/physical`: the fleet's physical forecasts from them.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_app::forecasts::{self, FleetForecastRun};
use vpp_app::weather::{self, MosmixImportReport, WeatherImportReport};

use crate::error::{ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// The version a weather file is stored as.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WeatherImportQuery {
    /// When the forecast was issued (RFC 3339); now if absent.
    pub issued_at: Option<Timestamp>,
}

/// Store an Open-Meteo forecast or historical answer (JSON, `hourly` or
/// `minutely_15`) as weather forecasts of its grid point: one series per
/// quantity (irradiance GHI/DNI/DHI, temperature, wind speed at 10 and
/// 100 m, pressure, cloud cover), created as needed. Radiation stamped at
/// the end of its hour is stored for that hour; `null` values are skipped.
/// Physical forecasts of resources within 30 km read it. A bad file stores
/// nothing and names the field.
#[utoipa::path(post, path = "/api/v1/vpp/weather/open-meteo", tag = "series", params(WeatherImportQuery),
    request_body(content = String, description = "the Open-Meteo JSON answer", content_type = "application/json"),
    responses((status = 200, body = WeatherImportReport), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_open_meteo(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<WeatherImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<WeatherImportReport>> {
    Ok(Json(weather::import_open_meteo(&s.store, &body, q.issued_at).await?))
}

/// Which stations of a MOSMIX file to store.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MosmixQuery {
    /// Station ids, comma-separated (e.g. `10382,10870`); every station in the file if absent.
    pub stations: Option<String>,
}

/// Store a DWD MOSMIX forecast (KML, or the KMZ DWD publishes) as weather
/// forecasts issued at its `IssueTime`, in the weather series of each
/// station's position: temperature (`TTT`, K → °C), wind speed at 10 m
/// (`FF`), pressure (`PPPP`), cloud cover (`N`) and global irradiance
/// (`Rad1h`, kJ/m² over the hour before its time → W/m² for that hour);
/// `-` values are skipped. Physical forecasts of resources within 30 km read
/// it. A bad file stores nothing and names the station and element.
#[utoipa::path(post, path = "/api/v1/vpp/weather/mosmix", tag = "series", params(MosmixQuery),
    request_body(content = Vec<u8>, description = "the MOSMIX KML or KMZ file", content_type = "application/octet-stream"),
    responses((status = 200, body = MosmixImportReport), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_mosmix(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<MosmixQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<MosmixImportReport>> {
    let stations: Vec<String> = q
        .stations
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    Ok(Json(weather::import_mosmix(&s.store, &body, &stations).await?))
}

/// How far the fleet is forecast.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FleetQuery {
    /// Hours ahead from the start of the current interval, 1..240 (default 48).
    pub hours: Option<i64>,
}

/// Forecast every PV and wind resource physically now: one new forecast
/// version each in its power series, from the newest weather within 30 km
/// (PV under a clear sky without it). The server does this on its own
/// every `--physical-forecast-interval-min` (15 by default). Resources that
/// cannot be forecast (a wind turbine without a wind forecast) are named
/// under `skipped`; the others are stored.
#[utoipa::path(post, path = "/api/v1/vpp/forecasts/physical", tag = "series", params(FleetQuery),
    responses((status = 200, body = FleetForecastRun), (status = 422, body = Problem)))]
async fn forecast_fleet(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> ApiResult<Json<FleetForecastRun>> {
    let hours = q.hours.unwrap_or(forecasts::JOB_HOURS);
    Ok(Json(forecasts::forecast_fleet(&s.store, hours, Timestamp::now()).await?))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_open_meteo))
        .routes(routes!(import_mosmix))
        .routes(routes!(forecast_fleet))
}
