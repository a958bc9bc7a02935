//! Synthetic weather for the demo and the device simulator: smooth,
//! deterministic functions of time and place, so that the demo's forecasts
//! and its simulated measurements see the same sky (the simulator adds its
//! own drift, which becomes the forecast error). It is not a forecast of
//! anything real and is never used where a user has weather.

use crate::pv::{self, PvSystem, PvWeather};
use crate::sun::{Ephemeris, Site, clear_sky_ineichen, extraterrestrial_normal};

/// A hash of integers to [0, 1) (splitmix64's finaliser).
fn unit(a: i64, b: i64, salt: u64) -> f64 {
    let mut z = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64).rotate_left(29) ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE5_E9B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Value noise in [0, 1): random knots every `knot_s` seconds, per whole
/// degree of longitude (weather systems are larger than a site), joined by
/// a cosine so the curve is smooth.
fn smooth(unix_s: f64, lon: f64, knot_s: f64, salt: u64) -> f64 {
    let x = unix_s / knot_s;
    let k = x.floor();
    let f = x - k;
    let cell = lon.floor() as i64;
    let (a, b) = (unit(k as i64, cell, salt), unit(k as i64 + 1, cell, salt));
    let w = (1.0 - (f * std::f64::consts::PI).cos()) / 2.0;
    a + (b - a) * w
}

/// Share of the clear-sky irradiance that reaches the ground, 0.15..1:
/// days vary from overcast to clear, with clouds passing within the day.
pub fn cloud_index(unix_s: f64, lon: f64) -> f64 {
    let day = smooth(unix_s, lon, 86_400.0, 11);
    let passing = smooth(unix_s, lon, 3_600.0, 12);
    (0.15 + 0.85 * (0.7 * day + 0.3 * passing)).clamp(0.15, 1.0)
}

/// Wind speed at 10 m, m/s: weather systems over days, gusts over hours.
pub fn wind_10m_ms(unix_s: f64, lon: f64) -> f64 {
    let system = smooth(unix_s, lon, 2.0 * 86_400.0, 21);
    let hours = smooth(unix_s, lon, 3.0 * 3_600.0, 22);
    1.0 + 9.0 * system + 3.0 * hours
}

/// Air temperature at 2 m, °C: seasons by latitude and a daily swing.
pub fn temp_air_c(unix_s: f64, site: &Site) -> f64 {
    let day_of_year = (unix_s / 86_400.0).rem_euclid(365.25);
    let hemisphere = if site.latitude_deg >= 0.0 { 1.0 } else { -1.0 };
    let seasonal = -hemisphere * (2.0 * std::f64::consts::PI * (day_of_year - 15.0) / 365.25).cos();
    let solar_hour = ((unix_s / 3_600.0) + site.longitude_deg / 15.0).rem_euclid(24.0);
    let daily = -(2.0 * std::f64::consts::PI * (solar_hour - 3.0) / 24.0).cos();
    let mean = 25.0 - 0.35 * site.latitude_deg.abs();
    mean + 9.0 * seasonal + 4.0 * daily
}

/// PV output, kW, at `unix_s` under the clear sky (Ineichen, Linke
/// turbidity 3) dimmed by `cloud_index`, with the synthetic temperature.
pub fn pv_kw(system: &PvSystem, site: &Site, unix_s: f64, cloud_index: f64, wind_ms: f64) -> f64 {
    let sun = site.sun(&Ephemeris::at(unix_s));
    let dni_extra = extraterrestrial_normal(unix_s);
    let ghi = clear_sky_ineichen(&sun, site, 3.0, dni_extra).ghi * cloud_index;
    let weather = PvWeather { ghi, dni_dhi: None, temp_air_c: temp_air_c(unix_s, site), wind_ms };
    pv::power_kw(system, &weather, &sun, dni_extra)
}

/// Global horizontal irradiance, W/m², at `unix_s`: the clear sky
/// (Ineichen, Linke turbidity 3) dimmed by `cloud_index`, as [`pv_kw`] sees it.
pub fn ghi_w_m2(site: &Site, unix_s: f64, cloud_index: f64) -> f64 {
    let sun = site.sun(&Ephemeris::at(unix_s));
    clear_sky_ineichen(&sun, site, 3.0, extraterrestrial_normal(unix_s)).ghi * cloud_index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weather_is_smooth_bounded_and_repeatable() {
        let t0 = 1_796_515_200.0; // 2026-12-06
        let mut last = cloud_index(t0, 13.4);
        for m in 1..(3 * 24 * 60) {
            let t = t0 + f64::from(m) * 60.0;
            let c = cloud_index(t, 13.4);
            assert!((0.15..=1.0).contains(&c));
            assert!((c - last).abs() < 0.01, "a minute moves the clouds a little");
            last = c;
            let w = wind_10m_ms(t, 13.4);
            assert!((1.0..=13.0).contains(&w), "{w}");
        }
        assert_eq!(cloud_index(t0 + 1234.5, 9.9), cloud_index(t0 + 1234.5, 9.9));
        assert_ne!(wind_10m_ms(t0, 9.5), wind_10m_ms(t0, 120.6));
    }

    #[test]
    fn summer_is_warmer_than_winter_in_berlin_and_the_other_way_in_sydney() {
        let (berlin, sydney) = (Site::new(52.5, 13.4, 0.0), Site::new(-33.9, 151.2, 0.0));
        let (january, july) = (1_768_478_400.0, 1_784_116_800.0); // mid-January and mid-July 2026, noon UTC
        assert!(temp_air_c(july, &berlin) > temp_air_c(january, &berlin) + 10.0);
        assert!(temp_air_c(january, &sydney) > temp_air_c(july, &sydney) + 10.0);
    }

    #[test]
    fn pv_is_dark_at_night_and_dimmed_by_clouds() {
        let site = Site::new(52.5, 13.4, 0.0);
        let system = PvSystem::new(100.0, 90.0, 30.0, 180.0);
        let noon = 1_784_116_800.0 - 3_600.0; // mid-July, 11:00 UTC
        let clear = pv_kw(&system, &site, noon, 1.0, 2.0);
        assert!(clear > 60.0 && clear <= 90.0, "{clear}");
        assert!(pv_kw(&system, &site, noon, 0.3, 2.0) < clear * 0.5);
        assert_eq!(pv_kw(&system, &site, noon + 12.0 * 3_600.0, 1.0, 2.0), 0.0);
    }
}
