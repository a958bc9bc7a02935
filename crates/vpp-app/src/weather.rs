//! Weather intake: forecast files (Open-Meteo JSON, DWD MOSMIX KML/KMZ)
//! stored as versioned weather series of a weather point, and the weather nearest a resource read back for its
//! physical forecast.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use vpp_domain::mosmix::{MosmixStation, parse_mosmix};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SeriesRequest, SourceKind, weather_owner_id, weather_point};
use vpp_domain::weather::{WeatherFile, parse_open_meteo};
use vpp_store::{BeliefQuery, Page, SeriesFilter, Store};

use crate::{AppError, AppResult};

/// What one weather quantity's import did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WeatherSeriesReport {
    /// The quantity.
    pub quantity: Quantity,
    /// Its name in the file.
    pub variable: String,
    /// The series it went into.
    pub series_id: String,
    /// Values stored.
    pub accepted: u64,
    /// Values already stored (same interval and version).
    pub duplicates: u64,
    /// `null` values skipped.
    pub nulls: usize,
}

/// A weather station.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Station {
    /// Its id (DWD's station number for MOSMIX).
    pub id: String,
    /// Its name.
    pub name: String,
}

/// What a weather import did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WeatherImportReport {
    /// The weather point's owner id, `latitude,longitude`.
    pub weather_point: String,
    /// The station whose forecast this is (MOSMIX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station: Option<Station>,
    /// The version the values were stored as.
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: Timestamp,
    /// Interval length, seconds.
    pub resolution_s: i64,
    /// One entry per quantity read.
    pub series: Vec<WeatherSeriesReport>,
    /// Variables in the file that vpp does not read.
    pub ignored: Vec<String>,
}

/// Stores an Open-Meteo answer as forecasts issued at `issued_at` (now if
/// absent) in the weather series of its grid point, created as needed. The
/// whole file is read first: a bad file stores nothing.
pub async fn import_open_meteo(
    store: &Store,
    body: &[u8],
    issued_at: Option<Timestamp>,
) -> AppResult<WeatherImportReport> {
    let file = parse_open_meteo(body)?;
    let issued_at = issued_at.unwrap_or_else(vpp_store::now);
    let mut reports = store_weather_files(store, &[(None, &file)], issued_at).await?;
    reports.pop().ok_or_else(|| AppError::internal("one file, one report"))
}

/// Stores a DWD MOSMIX forecast (KML or KMZ) as forecasts issued at its
/// `IssueTime` in the weather series of each station's position (or of the
/// stations in `only`), created as needed. The whole file is read first: a
/// bad file stores nothing.
pub async fn import_mosmix(store: &Store, body: &[u8], only: &[String]) -> AppResult<MosmixImportReport> {
    let body = body.to_vec();
    let only_owned = only.to_vec();
    // Hundreds of MB of XML for every station: read off the async threads.
    let file =
        tokio::task::spawn_blocking(move || parse_mosmix(&body, &only_owned)).await.map_err(AppError::internal)??;
    let issued_at = Timestamp::from_microsecond(file.issued_at_us).map_err(AppError::internal)?;
    let files: Vec<(Option<&MosmixStation>, &WeatherFile)> = file.stations.iter().map(|s| (Some(s), &s.file)).collect();
    let stations = store_weather_files(store, &files, issued_at).await?;
    Ok(MosmixImportReport { issued_at, stations, ignored: file.ignored })
}

/// What a MOSMIX import did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MosmixImportReport {
    /// The file's `IssueTime`: the version every value was stored as.
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: Timestamp,
    /// One report per station stored.
    pub stations: Vec<WeatherImportReport>,
    /// Elements in the file that vpp does not read.
    pub ignored: Vec<String>,
}

/// Stores weather files (each a weather point's columns, from a station
/// or not) as forecasts issued at `issued_at`. Every series is found or
/// created and checked before any value is stored, so a conflict stores
/// nothing.
async fn store_weather_files(
    store: &Store,
    files: &[(Option<&MosmixStation>, &WeatherFile)],
    issued_at: Timestamp,
) -> AppResult<Vec<WeatherImportReport>> {
    let issued_at = Timestamp::from_microsecond(issued_at.as_microsecond()).map_err(AppError::internal)?;
    let mut targets = Vec::new();
    for (station, file) in files {
        let point = weather_owner_id(file.latitude, file.longitude);
        for column in &file.columns {
            let (key, series) = weather_series(store, &point, column.quantity, file.step_s).await?;
            if series.resolution_s != file.step_s {
                let at = station.map_or_else(|| format!("{}.time", file.block), |s| format!("Placemark[{}]", s.id));
                return Err(AppError::conflict_at(
                    at,
                    format!(
                        "the {} series of {point} has intervals of {} s, the file {} s",
                        column.quantity.as_str(),
                        series.resolution_s,
                        file.step_s
                    ),
                ));
            }
            targets.push((key, series));
        }
    }
    let mut targets = targets.into_iter();
    let mut reports = Vec::with_capacity(files.len());
    for (station, file) in files {
        let mut series_reports = Vec::with_capacity(file.columns.len());
        for column in &file.columns {
            let (key, series) = targets.next().ok_or_else(|| AppError::internal("a series per column"))?;
            let beliefs: Vec<Belief> = column
                .values
                .iter()
                .map(|&(start, value)| Belief {
                    event_start_us: start,
                    belief_time_us: issued_at.as_microsecond(),
                    source: SourceKind::Forecast,
                    value,
                })
                .collect();
            let accepted = store.insert_beliefs(key, &beliefs).await?;
            series_reports.push(WeatherSeriesReport {
                quantity: column.quantity,
                variable: column.variable.clone(),
                series_id: series.id,
                accepted,
                duplicates: beliefs.len() as u64 - accepted,
                nulls: column.nulls,
            });
        }
        reports.push(WeatherImportReport {
            weather_point: weather_owner_id(file.latitude, file.longitude),
            station: station.map(|s| Station { id: s.id.clone(), name: s.name.clone() }),
            issued_at,
            resolution_s: file.step_s,
            series: series_reports,
            ignored: file.ignored.clone(),
        });
    }
    Ok(reports)
}

/// The `quantity` series of weather point `point`, created with intervals
/// of `step_s` if it has none.
pub async fn weather_series(
    store: &Store,
    point: &str,
    quantity: Quantity,
    step_s: i64,
) -> AppResult<(i64, vpp_domain::series::Series)> {
    if let Some(found) = store.find_series(OwnerKind::Weather, point, quantity).await? {
        return Ok(found);
    }
    let request = SeriesRequest {
        name: format!("Weather {point} {}", quantity.as_str()),
        owner_kind: OwnerKind::Weather,
        owner_id: point.to_string(),
        quantity,
        unit: None,
        resolution_s: Some(step_s),
    };
    match store.create_series(request).await {
        Ok(series) => Ok(store.get_series(&series.id).await?),
        // Created meanwhile by another import.
        Err(vpp_store::StoreError::Duplicate { .. }) => store
            .find_series(OwnerKind::Weather, point, quantity)
            .await?
            .ok_or_else(|| AppError::internal("a weather series vanished")),
        Err(e) => Err(e.into()),
    }
}

/// How far a weather point may be from a resource to stand for its
/// weather: 0.3° (about 30 km), the size of a coarse weather model's cell.
pub const NEAREST_WEATHER_DEG: f64 = 0.3;

/// The weather points that have any weather series, with their positions.
#[derive(Debug, Clone, Default)]
pub struct WeatherPoints(Vec<(String, f64, f64)>);

impl WeatherPoints {
    /// Every weather point in the store.
    pub async fn load(store: &Store) -> AppResult<Self> {
        let filter = SeriesFilter { owner_kind: Some(OwnerKind::Weather), ..Default::default() };
        let mut points: Vec<(String, f64, f64)> = Vec::new();
        for page in 1.. {
            let series = store.list_series(&filter, Page { page, size: 1000 }).await?;
            for s in &series.items {
                if let Ok((lat, lon)) = weather_point(&s.owner_id) {
                    points.push((s.owner_id.clone(), lat, lon));
                }
            }
            if series.items.len() < 1000 {
                break;
            }
        }
        // One entry per point, not per quantity.
        points.sort_by(|a, b| a.0.cmp(&b.0));
        points.dedup_by(|a, b| a.0 == b.0);
        Ok(Self(points))
    }

    /// The point nearest (`lat`, `lon`) within [`NEAREST_WEATHER_DEG`].
    pub fn nearest(&self, lat: f64, lon: f64) -> Option<&str> {
        self.nearest_with_distance(lat, lon).map(|(p, _)| p)
    }

    /// The point nearest (`lat`, `lon`) within [`NEAREST_WEATHER_DEG`], and
    /// how far it is, degrees of latitude.
    pub fn nearest_with_distance(&self, lat: f64, lon: f64) -> Option<(&str, f64)> {
        let distance = |plat: f64, plon: f64| {
            // Across the date line too: the shorter way round.
            let dlon = ((plon - lon + 540.0).rem_euclid(360.0) - 180.0) * lat.to_radians().cos();
            (plat - lat).hypot(dlon)
        };
        self.0
            .iter()
            .map(|(p, plat, plon)| (distance(*plat, *plon), p))
            .filter(|(d, _)| *d <= NEAREST_WEATHER_DEG)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(d, p)| (p.as_str(), d))
    }
}

/// The weather a resource's physical forecast stands on.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NearbyWeather {
    /// The resource.
    pub resource_id: String,
    /// The nearest weather point within 30 km (`latitude,longitude`), if any.
    pub weather_point: Option<String>,
    /// How far it is from the resource, km.
    pub distance_km: Option<f64>,
    /// Its weather series (irradiance, temperature, wind, …).
    pub series: Vec<vpp_domain::series::Series>,
}

/// The weather point nearest resource `resource_id` and its series.
pub async fn weather_near(store: &Store, resource_id: &str) -> AppResult<NearbyWeather> {
    let resource = store.get_resource(resource_id).await?;
    let points = WeatherPoints::load(store).await?;
    let nearest = points.nearest_with_distance(resource.location.lat, resource.location.lon);
    let mut series = Vec::new();
    if let Some((point, _)) = nearest {
        let filter = SeriesFilter {
            owner_kind: Some(OwnerKind::Weather),
            owner_id: Some(point.to_string()),
            ..Default::default()
        };
        series = store.list_series(&filter, Page { page: 1, size: 100 }).await?.items;
    }
    Ok(NearbyWeather {
        resource_id: resource.id,
        weather_point: nearest.map(|(p, _)| p.to_string()),
        // A degree of latitude is 111.2 km; the distance is measured along it.
        distance_km: nearest.map(|(_, d)| (d * 111.2 * 10.0).round() / 10.0),
        series,
    })
}

/// Everything a physical model reads of the weather at `point`, on a grid
/// `(start_us, step_us, n)`, as known at `as_of_us`.
pub async fn inputs_at(
    store: &Store,
    point: &str,
    grid: (i64, i64, usize),
    as_of_us: i64,
) -> AppResult<vpp_forecast::physical::WeatherInputs> {
    let column = |q| weather_on_grid(store, point, q, grid, as_of_us);
    Ok(vpp_forecast::physical::WeatherInputs {
        ghi: column(Quantity::IrradianceGhi).await?,
        dni: column(Quantity::IrradianceDni).await?,
        dhi: column(Quantity::IrradianceDhi).await?,
        temp_air_c: column(Quantity::Temperature).await?,
        wind_10m: column(Quantity::WindSpeed10m).await?,
        wind_100m: column(Quantity::WindSpeed100m).await?,
        pressure_pa: column(Quantity::Pressure).await?,
    })
}

/// The newest forecast of `quantity` at `point` known at `as_of_us`, for
/// each interval of `step_us` starting at `start_us` (`n` of them), read at
/// the interval's middle: a mean over an interval (irradiance) counts for
/// every instant in it, instantaneous values are interpolated linearly.
/// `None` where the weather has no value.
pub async fn weather_on_grid(
    store: &Store,
    point: &str,
    quantity: Quantity,
    grid: (i64, i64, usize),
    as_of_us: i64,
) -> AppResult<Vec<Option<f64>>> {
    match store.find_series(OwnerKind::Weather, point, quantity).await? {
        Some((key, series)) => series_on_grid(store, key, &series, grid, as_of_us).await,
        None => Ok(vec![None; grid.2]),
    }
}

/// The newest forecasts of weather series `series` (key `key`) known at
/// `as_of_us`, read on a grid as [`weather_on_grid`] does.
pub async fn series_on_grid(
    store: &Store,
    key: i64,
    series: &vpp_domain::series::Series,
    (start_us, step_us, n): (i64, i64, usize),
    as_of_us: i64,
) -> AppResult<Vec<Option<f64>>> {
    let quantity = series.quantity;
    let grid_us = series.resolution_s * 1_000_000;
    let end_us = start_us + n as i64 * step_us;
    let mut query = BeliefQuery::latest(key, SourceKind::Forecast, (start_us - grid_us, end_us + grid_us), grid_us);
    query.view = vpp_domain::series::View::AsOf(Timestamp::from_microsecond(as_of_us).map_err(AppError::internal)?);
    let known = store.newest_beliefs(&query).await?;
    let mean = matches!(quantity, Quantity::IrradianceGhi | Quantity::IrradianceDni | Quantity::IrradianceDhi);
    Ok((0..n)
        .map(|i| {
            let t = start_us + i as i64 * step_us + step_us / 2;
            let after = known.partition_point(|s| s.event_start_us <= t);
            if mean {
                let s = known.get(after.checked_sub(1)?)?;
                (t < s.event_start_us + grid_us).then_some(s.value)
            } else {
                // Instantaneous values stand at their interval's start.
                let a = known.get(after.checked_sub(1)?)?;
                if a.event_start_us == t {
                    return Some(a.value);
                }
                let b = known.get(after)?;
                if b.event_start_us - a.event_start_us > grid_us {
                    return None;
                }
                let w = (t - a.event_start_us) as f64 / (b.event_start_us - a.event_start_us) as f64;
                Some(a.value + (b.value - a.value) * w)
            }
        })
        .collect())
}
