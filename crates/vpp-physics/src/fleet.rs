//! Whole series for whole fleets: the sun's ephemeris is computed once per
//! instant and shared by every asset, the rest runs per asset over columns,
//! the assets spread over the machine's cores.

use crate::pv::{self, PvSystem, PvWeather};
use crate::sun::{Ephemeris, Site, clear_sky_ineichen, extraterrestrial_normal};
use crate::wind::{self, Profile, Turbine};

/// The instants modelled (normally the middles of the intervals), with what
/// depends on the instant alone.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// UNIX seconds, UTC.
    pub unix_s: Vec<f64>,
    ephemeris: Vec<Ephemeris>,
    dni_extra: Vec<f64>,
}

impl Timeline {
    /// The ephemeris of every instant in `unix_s`.
    pub fn new(unix_s: Vec<f64>) -> Self {
        let ephemeris = unix_s.iter().map(|&t| Ephemeris::at(t)).collect();
        let dni_extra = unix_s.iter().map(|&t| extraterrestrial_normal(t)).collect();
        Self { unix_s, ephemeris, dni_extra }
    }

    /// Number of instants.
    pub fn len(&self) -> usize {
        self.unix_s.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.unix_s.is_empty()
    }
}

/// PV weather as columns on a [`Timeline`].
#[derive(Debug, Clone, Default)]
pub struct PvWeatherColumns {
    /// Global horizontal irradiance, W/m².
    pub ghi: Vec<f64>,
    /// Direct normal and diffuse horizontal irradiance, W/m², if known.
    pub dni_dhi: Option<(Vec<f64>, Vec<f64>)>,
    /// Air temperature at 2 m, °C.
    pub temp_air_c: Vec<f64>,
    /// Wind speed, m/s.
    pub wind_ms: Vec<f64>,
}

/// AC power, kW, of `system` at `site` for every instant of `timeline`.
pub fn pv_series(timeline: &Timeline, site: &Site, system: &PvSystem, weather: &PvWeatherColumns) -> Vec<f64> {
    (0..timeline.len())
        .map(|i| {
            let sun = site.sun(&timeline.ephemeris[i]);
            let w = PvWeather {
                ghi: weather.ghi[i],
                dni_dhi: weather.dni_dhi.as_ref().map(|(dni, dhi)| (dni[i], dhi[i])),
                temp_air_c: weather.temp_air_c[i],
                wind_ms: weather.wind_ms[i],
            };
            pv::power_kw(system, &w, &sun, timeline.dni_extra[i])
        })
        .collect()
}

/// AC power, kW, of `system` at `site` under a cloudless sky (Ineichen with
/// `linke_turbidity`) at `temp_air_c` and 1 m/s of wind: the upper bound
/// used when no weather forecast is available.
pub fn pv_clear_sky_series(
    timeline: &Timeline,
    site: &Site,
    system: &PvSystem,
    linke_turbidity: f64,
    temp_air_c: f64,
) -> Vec<f64> {
    (0..timeline.len())
        .map(|i| {
            let sun = site.sun(&timeline.ephemeris[i]);
            let sky = clear_sky_ineichen(&sun, site, linke_turbidity, timeline.dni_extra[i]);
            let w = PvWeather { ghi: sky.ghi, dni_dhi: Some((sky.dni, sky.dhi)), temp_air_c, wind_ms: 1.0 };
            pv::power_kw(system, &w, &sun, timeline.dni_extra[i])
        })
        .collect()
}

/// Wind weather as columns.
#[derive(Debug, Clone, Default)]
pub struct WindWeatherColumns {
    /// Wind speed, m/s, at `wind_height_m`.
    pub wind_ms: Vec<f64>,
    /// Height of the wind speeds, m.
    pub wind_height_m: f64,
    /// Air temperature at 2 m, °C.
    pub temp_air_c: Vec<f64>,
    /// Surface air pressure, Pa.
    pub pressure_pa: Vec<f64>,
}

/// AC power, kW, of `turbine` for every row of `weather`.
pub fn wind_series(turbine: &Turbine, profile: Profile, weather: &WindWeatherColumns) -> Vec<f64> {
    // Both profiles are linear in the measured speed: one factor per turbine.
    let to_hub = profile.extrapolate(1.0, weather.wind_height_m, turbine.hub_height_m);
    (0..weather.wind_ms.len())
        .map(|i| {
            let rho = wind::air_density(weather.temp_air_c[i], 2.0, weather.pressure_pa[i], 0.0, turbine.hub_height_m);
            turbine.power_kw(weather.wind_ms[i] * to_hub, rho)
        })
        .collect()
}

/// `f` over every item, the items split into one contiguous share per core
/// (std's scoped threads: the work is uniform, so no work stealing is needed).
pub fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores == 1 || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    let share = items.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let workers: Vec<_> =
            items.chunks(share).map(|chunk| scope.spawn(|| chunk.iter().map(&f).collect::<Vec<R>>())).collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-06-21 00:00 UTC.
    const MIDSUMMER: f64 = 1_782_000_000.0 - 1_782_000_000.0 % 86_400.0;

    #[test]
    fn a_clear_day_in_berlin() {
        let timeline = Timeline::new((0..96).map(|q| MIDSUMMER + (f64::from(q) + 0.5) * 900.0).collect());
        let berlin = Site::new(52.52, 13.405, 34.0);
        let system = PvSystem::new(387.0, 350.0, 30.0, 180.0);
        let kw = pv_clear_sky_series(&timeline, &berlin, &system, 3.0, 20.0);
        // Dark before 02:43 UTC and after 19:33 UTC, the peak near 11:08.
        assert!(kw[..10].iter().chain(&kw[79..]).all(|&p| p == 0.0), "{kw:?}");
        let peak = (0..96).max_by(|&a, &b| kw[a].total_cmp(&kw[b])).expect("96 values");
        assert!((43..=45).contains(&peak), "peak at quarter {peak}");
        assert!(kw[peak] > 250.0 && kw[peak] <= 350.0, "{}", kw[peak]);
        let december: Vec<f64> = (0..96).map(|q| MIDSUMMER + 168.0 * 86_400.0 + (f64::from(q) + 0.5) * 900.0).collect();
        let winter = pv_clear_sky_series(&Timeline::new(december), &berlin, &system, 3.0, 0.0);
        let energy = |v: &[f64]| v.iter().sum::<f64>() / 4.0;
        assert!(energy(&winter) < energy(&kw) / 3.0, "{} {}", energy(&winter), energy(&kw));
    }

    #[test]
    fn the_fleet_in_parallel_is_the_fleet_in_order() {
        let items: Vec<u64> = (0..1001).collect();
        assert_eq!(in_parallel(&items, |x| x * 2), items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn wind_series_follow_the_curve() {
        let turbine = Turbine::generic(4500.0, 120.0, 3.0, 25.0);
        let weather = WindWeatherColumns {
            wind_ms: vec![0.0, 5.0, 10.0, 20.0, 30.0],
            wind_height_m: 120.0,
            temp_air_c: vec![15.0; 5],
            pressure_pa: vec![101_325.0; 5],
        };
        let kw = wind_series(&turbine, Profile::Hellman { exponent: 1.0 / 7.0 }, &weather);
        assert_eq!(kw[0], 0.0);
        assert!(kw[1] > 0.0 && kw[1] < kw[2] && kw[2] < 4500.0, "{kw:?}");
        assert_eq!(kw[3], 4500.0);
        assert_eq!(kw[4], 0.0);
    }
}
