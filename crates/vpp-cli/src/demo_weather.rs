//! The demo's weather, stored the way a weather import stores it: hourly
//! forecast versions of irradiance, temperature and wind at each demo
//! site's weather point. The physical forecasts (on request and the
//! scheduled fleet run) and the park's demand model read it as they would
//! read Open-Meteo.
//!
//! The values come from `vpp_physics::synthetic`, the same sky the device
//! simulator produces under, with an error of its own per version (a
//! weather forecast is not the weather), so forecast and measurement differ
//! as they do in a real fleet. A new version is issued every hour.

use std::sync::Arc;

use jiff::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vpp_domain::series::{Belief, Quantity, SourceKind, weather_owner_id};
use vpp_physics::sun::Site;
use vpp_physics::synthetic;
use vpp_store::Store;

const HOUR_US: i64 = 3_600_000_000;

/// Hours ahead each version covers: beyond the three days the demand model forecasts.
const AHEAD_HOURS: i64 = 96;

/// Values of `quantity` at the hour starting `hour_us`, under this
/// version's error: irradiance is the hour's middle (a mean over the
/// hour), temperature and wind the hour's start (instantaneous).
fn value(quantity: Quantity, site: &Site, hour_us: i64, error: &VersionError) -> f64 {
    let start_s = hour_us as f64 / 1e6;
    match quantity {
        Quantity::IrradianceGhi => {
            let middle_s = start_s + 1800.0;
            let index = (synthetic::cloud_index(middle_s, site.longitude_deg) + error.cloud).clamp(0.05, 1.0);
            synthetic::ghi_w_m2(site, middle_s, index)
        }
        Quantity::Temperature => synthetic::temp_air_c(start_s, site) + error.temp_c,
        Quantity::WindSpeed10m => (synthetic::wind_10m_ms(start_s, site.longitude_deg) + error.wind_ms).max(0.0),
        _ => f64::NAN,
    }
}

/// How far one forecast version is off the synthetic weather.
struct VersionError {
    cloud: f64,
    temp_c: f64,
    wind_ms: f64,
}

impl VersionError {
    /// Repeatable per point and issue time.
    fn of(issued_us: i64, site: &Site) -> Self {
        let seed = (issued_us / HOUR_US) as u64 ^ (site.longitude_deg * 1000.0) as u64;
        let mut rng = SmallRng::seed_from_u64(seed);
        Self {
            cloud: rng.random_range(-0.12..0.12),
            temp_c: rng.random_range(-1.0..1.0),
            wind_ms: rng.random_range(-1.2..1.2),
        }
    }
}

/// Stores one version, issued at `issued_us`, of `quantities` at the point
/// of (`lat`, `lon`) for the hours starting in `[from_us, to_us)`.
async fn store_version(
    store: &Store,
    (lat, lon): (f64, f64),
    quantities: &[Quantity],
    (from_us, to_us): (i64, i64),
    issued_us: i64,
) -> anyhow::Result<()> {
    let site = Site::new(lat, lon, 0.0);
    let point = weather_owner_id(lat, lon);
    let error = VersionError::of(issued_us, &site);
    for &quantity in quantities {
        let (key, _) = vpp_app::weather::weather_series(store, &point, quantity, 3600)
            .await
            .map_err(|e| anyhow::anyhow!("demo weather series: {e}"))?;
        let beliefs: Vec<Belief> = (from_us.div_euclid(HOUR_US)..(to_us + HOUR_US - 1).div_euclid(HOUR_US))
            .map(|h| Belief {
                event_start_us: h * HOUR_US,
                belief_time_us: issued_us,
                source: SourceKind::Forecast,
                value: (value(quantity, &site, h * HOUR_US, &error) * 10.0).round() / 10.0,
            })
            .collect();
        store.insert_beliefs(key, &beliefs).await?;
    }
    Ok(())
}

const PRODUCTION: [Quantity; 3] = [Quantity::IrradianceGhi, Quantity::Temperature, Quantity::WindSpeed10m];

/// Days of weather history at the production sites: what a physical
/// correction of a plant learns from.
pub const HISTORY_DAYS: i64 = 35;

/// Seeds the weather of the production sites (`points`) from
/// [`HISTORY_DAYS`] ago to four days ahead.
pub async fn seed(store: &Store, points: &[(f64, f64)]) -> anyhow::Result<()> {
    let now = vpp_store::now().as_microsecond();
    let from = Timestamp::from_microsecond(now - HISTORY_DAYS * 24 * HOUR_US)?;
    for &point in points {
        seed_history(store, point, &PRODUCTION, from).await?;
    }
    Ok(())
}

/// Seeds `quantities` at `point` from `from` to four days ahead: each past
/// day as forecast at noon (UTC) the day before, the rest as forecast an
/// hour ago.
async fn seed_history(
    store: &Store,
    point: (f64, f64),
    quantities: &[Quantity],
    from: Timestamp,
) -> anyhow::Result<()> {
    let day_us = 24 * HOUR_US;
    let now = vpp_store::now().as_microsecond();
    let mut day = from.as_microsecond() - from.as_microsecond().rem_euclid(day_us);
    while day < now - day_us {
        store_version(store, point, quantities, (day, day + day_us), day - 12 * HOUR_US).await?;
        day += day_us;
    }
    store_version(store, point, quantities, (day, now + AHEAD_HOURS * HOUR_US), now - HOUR_US).await
}

/// Seeds the temperature at `point` from `from` to four days ahead: what a
/// demand model of the park learns from and forecasts with. Returns the
/// series' name.
pub async fn seed_temperature_history(store: &Store, point: (f64, f64), from: Timestamp) -> anyhow::Result<String> {
    seed_history(store, point, &[Quantity::Temperature], from).await?;
    let (_, series) =
        vpp_app::weather::weather_series(store, &weather_owner_id(point.0, point.1), Quantity::Temperature, 3600)
            .await
            .map_err(|e| anyhow::anyhow!("demo weather series: {e}"))?;
    Ok(series.name)
}

/// Issues a new version for every point each hour, until dropped.
pub async fn run(store: Arc<Store>, production: Vec<(f64, f64)>, park: (f64, f64)) {
    loop {
        let now = vpp_store::now().as_microsecond();
        let wait = HOUR_US - now.rem_euclid(HOUR_US);
        tokio::time::sleep(std::time::Duration::from_micros(wait.unsigned_abs())).await;
        let issued = vpp_store::now().as_microsecond();
        let hour = issued - issued.rem_euclid(HOUR_US);
        let window = (hour, hour + AHEAD_HOURS * HOUR_US);
        for &point in &production {
            if let Err(e) = store_version(&store, point, &PRODUCTION, window, issued).await {
                tracing::warn!(error = %e, "demo weather not issued");
            }
        }
        if let Err(e) = store_version(&store, park, &[Quantity::Temperature], window, issued).await {
            tracing::warn!(error = %e, "demo weather not issued");
        }
    }
}
