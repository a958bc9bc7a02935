//! Physical forecasts of a PV or wind resource from its technical data,
//! stored as a new forecast version of its power series.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
use vpp_domain::template::ResourceType;
use vpp_forecast::physical::{PhysicalModel, Weather, WeatherInputs};
use vpp_store::{Page, ResourceFilter};

use crate::{AppError, AppResult, weather};

/// Longest physical forecast, hours (ten days: as far as weather models go).
pub const MAX_HOURS: i64 = 240;

/// Hours ahead the scheduled fleet forecasts cover: through the next day,
/// whatever the hour (day-ahead gate closures are at noon).
pub const JOB_HOURS: i64 = 48;

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
    let resource = store.get_resource(resource_id).await?;
    let points = weather::WeatherPoints::load(store).await?;
    forecast_one(store, &resource, &points, &mut WeatherCache::default(), hours, now).await
}

/// Weather inputs already read in a run, by weather point and grid.
#[derive(Default)]
struct WeatherCache(HashMap<(String, i64, i64, usize), WeatherInputs>);

/// Forecasts one resource and stores the version (see [`physical_forecast`]).
async fn forecast_one(
    store: &vpp_store::Store,
    resource: &vpp_domain::resource::Resource,
    points: &weather::WeatherPoints,
    cache: &mut WeatherCache,
    hours: i64,
    now: Timestamp,
) -> AppResult<PhysicalForecast> {
    // The store keeps microseconds: answer with the belief time it keeps.
    let now = Timestamp::from_microsecond(now.as_microsecond()).map_err(AppError::internal)?;
    let model = PhysicalModel::of(resource).map_err(|e| AppError::conflict_at("resource_id", e.to_string()))?;
    let (key, series) = store
        .ensure_series(OwnerKind::Resource, &resource.id, Quantity::Power, &format!("{} power", resource.name))
        .await?;
    let step_us = series.resolution_s * 1_000_000;
    let now_us = now.as_microsecond();
    let start_us = now_us - now_us.rem_euclid(step_us);
    let intervals = (hours * 3600 / series.resolution_s) as usize;
    let point = points.nearest(resource.location.lat, resource.location.lon).map(str::to_string);
    let inputs = match &point {
        Some(p) => {
            let grid = (start_us, step_us, intervals);
            let entry = (p.clone(), start_us, step_us, intervals);
            if !cache.0.contains_key(&entry) {
                let read = weather::inputs_at(store, p, grid, now_us).await?;
                cache.0.insert(entry.clone(), read);
            }
            cache.0.get(&entry).cloned().unwrap_or_default()
        }
        None => WeatherInputs::default(),
    };
    let column = physical_values(&model, &inputs, point, (start_us, series.resolution_s, intervals))?;
    let PhysicalColumn { values, weather, point, clear_sky_intervals, generic_power_curve } = column;
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
    Ok(PhysicalForecast {
        resource_id: resource.id.clone(),
        series_id: series.id,
        belief_time: now,
        start: Timestamp::from_microsecond(start_us).map_err(AppError::internal)?,
        resolution_s: series.resolution_s,
        intervals: beliefs.len(),
        weather,
        weather_point: point,
        clear_sky_intervals,
        generic_power_curve,
        peak_kw: beliefs.iter().map(|b| b.value).fold(0.0, f64::max),
        energy_kwh: beliefs.iter().map(|b| b.value).sum::<f64>() * series.resolution_s as f64 / 3600.0,
    })
}

/// A resource's physical forecast on a grid, and the weather it stood on.
#[derive(Debug, Clone)]
pub struct PhysicalColumn {
    /// Power per interval, kW; `None` where wind has no wind forecast.
    pub values: Vec<Option<f64>>,
    /// Whether any weather forecast was used.
    pub weather: Weather,
    /// The weather point used, if any.
    pub point: Option<String>,
    /// PV intervals forecast under a clear sky for want of irradiance.
    pub clear_sky_intervals: usize,
    /// For wind: whether the generic power curve stands in for the resource's.
    pub generic_power_curve: Option<bool>,
}

/// The physical forecast of `resource` for `n` intervals of `step_s`
/// seconds from `start_us`, under the newest weather known at `as_of_us`
/// at the weather point nearest it (within 30 km). PV falls back to the
/// clear sky where the weather has no irradiance; wind without any wind
/// forecast is refused (409), since calm is not a forecast.
pub async fn physical_column(
    store: &vpp_store::Store,
    resource: &vpp_domain::resource::Resource,
    model: &PhysicalModel,
    (start_us, step_s, n): (i64, i64, usize),
    as_of_us: i64,
) -> AppResult<PhysicalColumn> {
    let points = weather::WeatherPoints::load(store).await?;
    let point = points.nearest(resource.location.lat, resource.location.lon).map(str::to_string);
    let inputs = match &point {
        Some(point) => weather::inputs_at(store, point, (start_us, step_s * 1_000_000, n), as_of_us).await?,
        None => WeatherInputs::default(),
    };
    physical_values(model, &inputs, point, (start_us, step_s, n))
}

/// The physical forecast of `model` under `inputs` (the weather at `point`,
/// if any), with PV's clear-sky fallback; see [`physical_column`].
pub fn physical_values(
    model: &PhysicalModel,
    inputs: &WeatherInputs,
    point: Option<String>,
    (start_us, step_s, n): (i64, i64, usize),
) -> AppResult<PhysicalColumn> {
    let under_weather = model.under(start_us, step_s, n, inputs);
    let covered = under_weather.iter().filter(|v| v.is_some()).count();
    let (values, clear_sky_intervals) = match model {
        PhysicalModel::Pv { .. } if covered < n => {
            let clear = model
                .clear_sky(start_us, step_s, n)
                .map_err(|e| AppError::conflict_at("resource_id", e.to_string()))?;
            (under_weather.iter().zip(clear).map(|(w, c)| Some(w.unwrap_or(c))).collect(), n - covered)
        }
        PhysicalModel::Wind { .. } if covered == 0 => {
            let why = model.clear_sky(start_us, step_s, n).err();
            return Err(AppError::conflict_at(
                "resource_id",
                why.map_or_else(|| "no wind forecast".to_string(), |e| e.to_string()),
            ));
        }
        _ => (under_weather, 0),
    };
    let generic_power_curve = match model {
        PhysicalModel::Wind { generic_curve, .. } => Some(*generic_curve),
        PhysicalModel::Pv { .. } => None,
    };
    Ok(PhysicalColumn {
        values,
        weather: if covered == 0 { Weather::ClearSky } else { Weather::Forecast },
        point: point.filter(|_| covered > 0),
        clear_sky_intervals,
        generic_power_curve,
    })
}

/// A resource the fleet run could not forecast, and why.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Skipped {
    /// The resource.
    pub resource_id: String,
    /// Why (a wind turbine without a wind forecast, say).
    pub reason: String,
}

/// What one run over the fleet did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FleetForecastRun {
    /// The version stored for every resource: the run's belief time.
    #[schema(value_type = String, format = DateTime)]
    pub belief_time: Timestamp,
    /// PV and wind resources found.
    pub resources: usize,
    /// Resources with a new forecast version.
    pub forecast: usize,
    /// Of these, forecast under weather forecasts.
    pub under_weather: usize,
    /// Of these, forecast under a clear sky for want of weather.
    pub clear_sky: usize,
    /// Intervals stored, all resources together.
    pub intervals: usize,
    /// Resources that could not be forecast.
    pub skipped: Vec<Skipped>,
    /// Wall time, ms.
    pub elapsed_ms: f64,
}

/// Forecasts every PV and wind resource physically for `hours` and stores
/// one new version each, known at `now`. A resource that cannot be
/// forecast is skipped and named; the others still get their version.
pub async fn forecast_fleet(store: &vpp_store::Store, hours: i64, now: Timestamp) -> AppResult<FleetForecastRun> {
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(AppError::invalid("hours", format!("must be 1..{MAX_HOURS}, got {hours}")));
    }
    let started = std::time::Instant::now();
    let points = weather::WeatherPoints::load(store).await?;
    let mut cache = WeatherCache::default();
    let mut run = FleetForecastRun {
        belief_time: Timestamp::from_microsecond(now.as_microsecond()).map_err(AppError::internal)?,
        resources: 0,
        forecast: 0,
        under_weather: 0,
        clear_sky: 0,
        intervals: 0,
        skipped: Vec::new(),
        elapsed_ms: 0.0,
    };
    for resource_type in [ResourceType::Pv, ResourceType::Wind] {
        let filter = ResourceFilter { resource_type: Some(resource_type), ..Default::default() };
        for page in 1.. {
            let listed = store.list_resources(&filter, Page { page, size: 500 }).await?;
            for resource in &listed.items {
                run.resources += 1;
                match forecast_one(store, resource, &points, &mut cache, hours, now).await {
                    Ok(f) => {
                        run.forecast += 1;
                        run.intervals += f.intervals;
                        match f.weather {
                            Weather::Forecast => run.under_weather += 1,
                            Weather::ClearSky => run.clear_sky += 1,
                        }
                    }
                    Err(AppError::Store(e @ vpp_store::StoreError::Database(_))) => return Err(AppError::Store(e)),
                    Err(e) => run.skipped.push(Skipped { resource_id: resource.id.clone(), reason: e.to_string() }),
                }
            }
            if listed.items.len() < 500 {
                break;
            }
        }
    }
    run.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(run)
}

/// Runs [`forecast_fleet`] now and then at every multiple of `every`
/// (aligned to the clock: 15 minutes gives :00, :15, :30, :45) until the
/// task is dropped. A failed run is logged and the next one goes ahead.
/// One job per database is assumed, as for the market job.
pub fn spawn_physical_forecast_job(
    store: std::sync::Arc<vpp_store::Store>,
    every: std::time::Duration,
    hours: i64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every_us = i64::try_from(every.as_micros()).unwrap_or(i64::MAX).max(1_000_000);
        // A resource that cannot be forecast says why once, not every run.
        let mut told = std::collections::HashSet::new();
        loop {
            match forecast_fleet(&store, hours, Timestamp::now()).await {
                Ok(run) => {
                    tracing::info!(
                        resources = run.resources,
                        forecast = run.forecast,
                        under_weather = run.under_weather,
                        clear_sky = run.clear_sky,
                        ms = run.elapsed_ms,
                        "physical forecasts stored"
                    );
                    for s in run.skipped {
                        if told.insert((s.resource_id.clone(), s.reason.clone())) {
                            tracing::warn!(resource = %s.resource_id, reason = %s.reason, "no physical forecast");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "physical forecasts failed"),
            }
            let now_us = Timestamp::now().as_microsecond();
            let wait_us = every_us - now_us.rem_euclid(every_us);
            tokio::time::sleep(std::time::Duration::from_micros(wait_us.unsigned_abs())).await;
        }
    })
}
