//! Physical forecasts of a PV or wind resource from its technical data,
//! stored as a new forecast version of its power series.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
use vpp_forecast::physical::{PhysicalModel, Weather, WeatherInputs};

use crate::{AppError, AppResult, weather};

/// Longest physical forecast, hours (ten days: as far as weather models go).
pub const MAX_HOURS: i64 = 240;

/// What to forecast.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhysicalRequest {
    /// Hours ahead from the start of the current interval, 1..240 (default 48).
    #[serde(default)]
    pub hours: Option<i64>,
}

/// A stored physical forecast version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhysicalForecast {
    /// The resource forecast.
    pub resource_id: String,
    /// Its power series, where the version was stored.
    pub series_id: String,
    /// The version: the forecast's belief time (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub belief_time: Timestamp,
    /// Start of the first interval (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Interval length, seconds (the series' resolution).
    pub resolution_s: i64,
    /// Intervals forecast and stored (wind: those with a wind forecast).
    pub intervals: usize,
    /// The weather used; `clear_sky` means no weather forecast was
    /// available and the values are a cloudless upper bound.
    pub weather: Weather,
    /// The weather point whose forecast was used (`latitude,longitude`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weather_point: Option<String>,
    /// PV intervals the weather forecast did not cover, forecast under a
    /// clear sky instead.
    pub clear_sky_intervals: usize,
    /// For wind: whether the power curve is the generic shape scaled to the
    /// rated power, because the resource has no `power_curve`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generic_power_curve: Option<bool>,
    /// Highest forecast power, kW.
    pub peak_kw: f64,
    /// Energy over the horizon, kWh.
    pub energy_kwh: f64,
}

/// Forecasts `resource_id` physically for `req.hours` from the interval
/// containing `now` and stores the values as one forecast version (belief
/// time `now`) in the resource's power series, created if it has none. The
/// weather is the newest forecast known now at the weather point nearest
/// the resource (within 30 km).
pub async fn physical_forecast(
    store: &vpp_store::Store,
    resource_id: &str,
    req: PhysicalRequest,
    now: Timestamp,
) -> AppResult<PhysicalForecast> {
    let hours = req.hours.unwrap_or(48);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(AppError::invalid("hours", format!("must be 1..{MAX_HOURS}, got {hours}")));
    }
    // The store keeps microseconds: answer with the belief time it keeps.
    let now = Timestamp::from_microsecond(now.as_microsecond()).map_err(AppError::internal)?;
    let resource = store.get_resource(resource_id).await?;
    let model = PhysicalModel::of(&resource).map_err(|e| AppError::conflict_at("resource_id", e.to_string()))?;
    let (key, series) = store
        .ensure_series(OwnerKind::Resource, &resource.id, Quantity::Power, &format!("{} power", resource.name))
        .await?;
    let step_us = series.resolution_s * 1_000_000;
    let now_us = now.as_microsecond();
    let start_us = now_us - now_us.rem_euclid(step_us);
    let intervals = (hours * 3600 / series.resolution_s) as usize;
    let point = weather::nearest_point(store, resource.location.lat, resource.location.lon).await?;
    let grid = (start_us, step_us, intervals);
    let inputs = match &point {
        Some(point) => {
            let column = |q| weather::weather_on_grid(store, point, q, grid, now_us);
            WeatherInputs {
                ghi: column(Quantity::IrradianceGhi).await?,
                dni: column(Quantity::IrradianceDni).await?,
                dhi: column(Quantity::IrradianceDhi).await?,
                temp_air_c: column(Quantity::Temperature).await?,
                wind_10m: column(Quantity::WindSpeed10m).await?,
                wind_100m: column(Quantity::WindSpeed100m).await?,
                pressure_pa: column(Quantity::Pressure).await?,
            }
        }
        None => WeatherInputs::default(),
    };
    let under_weather = model.under(start_us, series.resolution_s, intervals, &inputs);
    let covered = under_weather.iter().filter(|v| v.is_some()).count();
    let (values, clear_sky_intervals): (Vec<Option<f64>>, usize) = match &model {
        // PV falls back to the clear sky where the weather has no irradiance.
        PhysicalModel::Pv { .. } if covered < intervals => {
            let clear = model
                .clear_sky(start_us, series.resolution_s, intervals)
                .map_err(|e| AppError::conflict_at("resource_id", e.to_string()))?;
            (under_weather.iter().zip(clear).map(|(w, c)| Some(w.unwrap_or(c))).collect(), intervals - covered)
        }
        PhysicalModel::Wind { .. } if covered == 0 => {
            let why = model.clear_sky(start_us, series.resolution_s, intervals).err();
            return Err(AppError::conflict_at(
                "resource_id",
                why.map_or_else(|| "no wind forecast".to_string(), |e| e.to_string()),
            ));
        }
        _ => (under_weather, 0),
    };
    let weather_used = if covered == 0 { Weather::ClearSky } else { Weather::Forecast };
    let beliefs: Vec<Belief> = values
        .iter()
        .enumerate()
        .filter_map(|(i, kw)| {
            Some(Belief {
                event_start_us: start_us + i as i64 * step_us,
                belief_time_us: now_us,
                source: SourceKind::Forecast,
                // Watts are plenty for a forecast.
                value: ((*kw)? * 1000.0).round() / 1000.0,
            })
        })
        .collect();
    store.insert_beliefs(key, &beliefs).await?;
    let generic_power_curve = match &model {
        PhysicalModel::Wind { generic_curve, .. } => Some(*generic_curve),
        PhysicalModel::Pv { .. } => None,
    };
    Ok(PhysicalForecast {
        resource_id: resource.id,
        series_id: series.id,
        belief_time: now,
        start: Timestamp::from_microsecond(start_us).map_err(AppError::internal)?,
        resolution_s: series.resolution_s,
        intervals: beliefs.len(),
        weather: weather_used,
        weather_point: point.filter(|_| covered > 0),
        clear_sky_intervals,
        generic_power_curve,
        peak_kw: beliefs.iter().map(|b| b.value).fold(0.0, f64::max),
        energy_kwh: beliefs.iter().map(|b| b.value).sum::<f64>() * series.resolution_s as f64 / 3600.0,
    })
}
