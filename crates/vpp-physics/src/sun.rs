//! The sun seen from a site: position, top-of-atmosphere irradiance, air
//! mass and a cloudless sky.
//!
//! The position is split in two so that fleets are cheap: [`Ephemeris`]
//! depends only on the instant (declination, equation of time) and is shared
//! by every site; [`Site::sun`] adds the site's latitude and longitude with
//! no trigonometry of the instant's angles left to do.

use std::f64::consts::PI;

const DEG: f64 = PI / 180.0;

/// Seconds per day.
const DAY_S: f64 = 86_400.0;

/// Julian day of the UNIX epoch, 1970-01-01 00:00 UTC.
const JD_UNIX_EPOCH: f64 = 2_440_587.5;

/// Julian day of J2000.0, 2000-01-01 12:00 TT.
const JD_J2000: f64 = 2_451_545.0;

/// The sun's place on the sky at one instant, for any site.
///
/// Source: the NOAA solar calculator's implementation of J. Meeus,
/// *Astronomical Algorithms* (1991), ch. 25 (low accuracy): geometric mean
/// longitude and anomaly, equation of the centre, nutation in longitude by
/// the moon's node, obliquity of the ecliptic, then declination and the
/// equation of time. Good to about 0.01° between 1900 and 2100; the 69 s of
/// ΔT between UT and TT move the sun by 0.0008° and are left out.
#[derive(Debug, Clone, Copy)]
pub struct Ephemeris {
    /// sin and cos of the declination δ.
    sin_decl: f64,
    cos_decl: f64,
    /// Greenwich hour angle of the sun, radians: the hour angle at longitude 0.
    gha: f64,
    /// Declination, degrees.
    pub declination_deg: f64,
    /// Equation of time: apparent minus mean solar time, minutes.
    pub equation_of_time_min: f64,
}

impl Ephemeris {
    /// The sun at `unix_s`, UNIX seconds UTC.
    pub fn at(unix_s: f64) -> Self {
        let jd = unix_s / DAY_S + JD_UNIX_EPOCH;
        let t = (jd - JD_J2000) / 36_525.0; // Julian centuries
        let l0 = (280.466_46 + t * (36_000.769_83 + t * 0.000_303_2)).rem_euclid(360.0) * DEG;
        let m = (357.529_11 + t * (35_999.050_29 - t * 0.000_153_7)) * DEG;
        let e = 0.016_708_634 - t * (0.000_042_037 + t * 0.000_000_126_7);
        let (sin_m, cos_m) = m.sin_cos();
        let sin_2m = 2.0 * sin_m * cos_m;
        let sin_3m = sin_m * (3.0 - 4.0 * sin_m * sin_m);
        let centre = sin_m * (1.914_602 - t * (0.004_817 + t * 0.000_014))
            + sin_2m * (0.019_993 - t * 0.000_101)
            + sin_3m * 0.000_289;
        let omega = (125.04 - 1_934.136 * t) * DEG;
        let sin_omega = omega.sin();
        let apparent_longitude = (l0 / DEG + centre - 0.005_69 - 0.004_78 * sin_omega) * DEG;
        let mean_obliquity = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.000_59 - t * 0.001_813))) / 60.0) / 60.0;
        let obliquity = (mean_obliquity + 0.002_56 * omega.cos()) * DEG;
        let sin_decl = obliquity.sin() * apparent_longitude.sin();
        let decl = sin_decl.asin();
        // Equation of time, Meeus (28.3) in Smart's form, radians → minutes.
        let y = (obliquity / 2.0).tan().powi(2);
        let (sin_2l0, cos_2l0) = (2.0 * l0).sin_cos();
        let eot = y * sin_2l0 - 2.0 * e * sin_m + 4.0 * e * y * sin_m * cos_2l0
            - 0.5 * y * y * (4.0 * l0).sin()
            - 1.25 * e * e * sin_2m;
        let equation_of_time_min = 4.0 * eot / DEG;
        // True solar time at Greenwich, minutes, then the hour angle.
        let utc_min = unix_s.rem_euclid(DAY_S) / 60.0;
        let gha = ((utc_min + equation_of_time_min) / 4.0 - 180.0) * DEG;
        Self { sin_decl, cos_decl: decl.cos(), gha, declination_deg: decl / DEG, equation_of_time_min }
    }
}

/// A place on the earth, with its trigonometry done once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Latitude, degrees north.
    pub latitude_deg: f64,
    /// Longitude, degrees east.
    pub longitude_deg: f64,
    /// Height above sea level, m.
    pub altitude_m: f64,
    sin_lat: f64,
    cos_lat: f64,
    sin_lon: f64,
    cos_lon: f64,
}

/// Where the sun stands for a site at an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunPosition {
    /// Angle from the vertical, degrees, geometric (no refraction).
    pub zenith_deg: f64,
    /// Angle from the vertical as seen through the atmosphere, degrees.
    pub apparent_zenith_deg: f64,
    /// Compass bearing, degrees clockwise from north (180 = south).
    pub azimuth_deg: f64,
    /// Unit vector towards the apparent sun: east, north, up.
    pub direction: [f64; 3],
}

impl SunPosition {
    /// cos of the apparent zenith, 0 when the sun is below the horizon.
    pub fn cos_zenith(&self) -> f64 {
        self.direction[2].max(0.0)
    }
}

impl Site {
    /// A site at `latitude_deg` north, `longitude_deg` east and `altitude_m`.
    pub fn new(latitude_deg: f64, longitude_deg: f64, altitude_m: f64) -> Self {
        let (sin_lat, cos_lat) = (latitude_deg * DEG).sin_cos();
        let (sin_lon, cos_lon) = (longitude_deg * DEG).sin_cos();
        Self { latitude_deg, longitude_deg, altitude_m, sin_lat, cos_lat, sin_lon, cos_lon }
    }

    /// The sun from this site at the instant of `eph`.
    ///
    /// Refraction as in NREL's SPA (Reda and Andreas 2004, eq. 42) at
    /// 1013.25 hPa and 12 °C, applied down to the sun's lower limb on the
    /// horizon (−0.83°).
    pub fn sun(&self, eph: &Ephemeris) -> SunPosition {
        // Hour angle H = GHA + longitude, by the angle-addition formulas.
        let (sin_gha, cos_gha) = eph.gha.sin_cos();
        let sin_h = sin_gha * self.cos_lon + cos_gha * self.sin_lon;
        let cos_h = cos_gha * self.cos_lon - sin_gha * self.sin_lon;
        let up = self.sin_lat * eph.sin_decl + self.cos_lat * eph.cos_decl * cos_h;
        let east = -eph.cos_decl * sin_h;
        let north = eph.sin_decl * self.cos_lat - eph.cos_decl * self.sin_lat * cos_h;
        let zenith_deg = up.clamp(-1.0, 1.0).acos() / DEG;
        let elevation = 90.0 - zenith_deg;
        let refraction = if elevation >= -(0.266_67 + 0.566_7) {
            (1013.25 / 1010.0) * (283.0 / (273.0 + 12.0)) * 1.02
                / (60.0 * ((elevation + 10.3 / (elevation + 5.11)) * DEG).tan())
        } else {
            0.0
        };
        let apparent_zenith_deg = zenith_deg - refraction;
        let horizontal = east.hypot(north);
        let azimuth_deg = east.atan2(north).rem_euclid(2.0 * PI) / DEG;
        let (sin_z, cos_z) = (apparent_zenith_deg * DEG).sin_cos();
        let direction = if horizontal > 0.0 {
            [east / horizontal * sin_z, north / horizontal * sin_z, cos_z]
        } else {
            [0.0, 0.0, cos_z]
        };
        SunPosition { zenith_deg, apparent_zenith_deg, azimuth_deg, direction }
    }

    /// Air pressure from the altitude by the standard atmosphere, Pa.
    pub fn pressure_pa(&self) -> f64 {
        100.0 * ((44_331.514 - self.altitude_m) / 11_880.516).powf(1.0 / 0.190_263_2)
    }
}

/// Day of the year (1 = 1 January) of `unix_s` in UTC.
pub fn day_of_year(unix_s: f64) -> u32 {
    // Civil date from days since the epoch (the proleptic Gregorian
    // calendar's 400-year cycle starting 1 March 0000).
    let days = (unix_s / DAY_S).floor() as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_from_march = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let year = yoe + era * 400 + i64::from(doy_from_march >= 306);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let jan_feb = 31 + if leap { 29 } else { 28 };
    let doy = if doy_from_march >= 306 { doy_from_march - 306 } else { doy_from_march + jan_feb };
    doy as u32 + 1
}

/// Solar irradiance at the top of the atmosphere on a plane facing the sun,
/// W/m²: the solar constant 1366.1 W/m² times the inverse square of the
/// earth–sun distance by Spencer's (1971) Fourier series in the day angle.
pub fn extraterrestrial_normal(unix_s: f64) -> f64 {
    let b = 2.0 * PI * f64::from(day_of_year(unix_s) - 1) / 365.0;
    let (s1, c1) = b.sin_cos();
    let (s2, c2) = (2.0 * b).sin_cos();
    1366.1 * (1.000_11 + 0.034_221 * c1 + 0.001_28 * s1 + 0.000_719 * c2 + 0.000_077 * s2)
}

/// Relative optical air mass at sea level for the apparent zenith, by
/// Kasten and Young (1989); `None` with the sun below the horizon.
pub fn relative_air_mass(apparent_zenith_deg: f64) -> Option<f64> {
    (apparent_zenith_deg < 90.0).then(|| {
        1.0 / ((apparent_zenith_deg * DEG).cos() + 0.505_72 * (96.079_95 - apparent_zenith_deg).powf(-1.636_4))
    })
}

/// Global, direct normal and diffuse horizontal irradiance, W/m².
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Irradiance {
    /// Global horizontal irradiance (GHI).
    pub ghi: f64,
    /// Direct normal irradiance (DNI).
    pub dni: f64,
    /// Diffuse horizontal irradiance (DHI).
    pub dhi: f64,
}

/// A cloudless sky by Ineichen and Perez (2002), with `linke_turbidity`
/// (about 2 over clean mountain air, 3–4 over central Europe, 5–7 in hazy
/// cities) and the site's altitude; zero with the sun down.
pub fn clear_sky_ineichen(sun: &SunPosition, site: &Site, linke_turbidity: f64, dni_extra: f64) -> Irradiance {
    let Some(am) = relative_air_mass(sun.apparent_zenith_deg) else {
        return Irradiance::default();
    };
    let cos_z = sun.cos_zenith();
    let am_abs = am * site.pressure_pa() / 101_325.0;
    let alt = site.altitude_m;
    let fh1 = (-alt / 8000.0).exp();
    let fh2 = (-alt / 1250.0).exp();
    let cg1 = 5.09e-5 * alt + 0.868;
    let cg2 = 3.92e-5 * alt + 0.0387;
    let tl = linke_turbidity;
    let ghi = cg1 * dni_extra * cos_z * (-cg2 * am_abs * (fh1 + fh2 * (tl - 1.0))).exp().max(0.0);
    let b = 0.664 + 0.163 / fh1;
    let beam = dni_extra * (b * (-0.09 * am_abs * (tl - 1.0)).exp()).max(0.0);
    // The empirical cap on the beam from the global (Solar Energy 73, 2002).
    let cap = ghi * ((1.0 - (0.1 - 0.2 * (-tl).exp()) / (0.1 + 0.882 / fh1)) / cos_z).clamp(0.0, 1e20);
    let dni = beam.min(cap);
    Irradiance { ghi, dni, dhi: ghi - dni * cos_z }
}

/// A cloudless sky's global horizontal irradiance by Haurwitz (1945),
/// W/m²: needs nothing but the sun's height.
pub fn clear_sky_haurwitz(sun: &SunPosition) -> f64 {
    let cos_z = sun.direction[2];
    if cos_z <= 0.0 { 0.0 } else { 1098.0 * cos_z * (-0.059 / cos_z).exp() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UNIX seconds of a UTC civil time (test helper; the calendar maths is
    /// checked against `day_of_year` below).
    fn utc(y: i64, mo: i64, d: i64, h: f64) -> f64 {
        let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
        let era = y2.div_euclid(400);
        let yoe = y2 - era * 400;
        let doy = (153 * m2 + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days as f64 * DAY_S + h * 3600.0
    }

    /// The UTC hour, within `[from, to)`, where the apparent sun crosses the
    /// horizon's −0.833° (the almanac's sunrise and sunset), found by bisection.
    fn crossing(site: &Site, day: f64, from: f64, to: f64) -> f64 {
        let alt = |h: f64| 90.0 - site.sun(&Ephemeris::at(day + h * 3600.0)).zenith_deg + 0.833;
        let (mut a, mut b) = (from, to);
        for _ in 0..60 {
            let m = (a + b) / 2.0;
            if alt(a).signum() == alt(m).signum() { a = m } else { b = m }
        }
        a
    }

    /// The UTC hour of the sun's highest point between `from` and `to`, by
    /// ternary search on the zenith angle.
    fn transit(site: &Site, day: f64, from: f64, to: f64) -> f64 {
        let z = |h: f64| site.sun(&Ephemeris::at(day + h * 3600.0)).zenith_deg;
        let (mut a, mut b) = (from, to);
        for _ in 0..100 {
            let (m1, m2) = (a + (b - a) / 3.0, b - (b - a) / 3.0);
            if z(m1) < z(m2) { b = m2 } else { a = m1 }
        }
        a
    }

    /// Asserts that `hour` (UTC, from midnight of the test's day) is within
    /// 20 s of `expected`, "hh:mm:ss".
    fn near(hour: f64, expected: &str) {
        let parts: Vec<f64> = expected.split(':').map(|p| p.parse().expect("hh:mm:ss")).collect();
        let want = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0;
        assert!((hour - want).abs() * 3600.0 < 20.0, "{:.0} s from {expected}", (hour - want) * 3600.0);
    }

    #[test]
    fn days_of_the_year() {
        assert_eq!(day_of_year(utc(2026, 1, 1, 0.0)), 1);
        assert_eq!(day_of_year(utc(2026, 12, 31, 23.9)), 365);
        assert_eq!(day_of_year(utc(2024, 12, 31, 12.0)), 366);
        assert_eq!(day_of_year(utc(2024, 3, 1, 0.0)), 61);
        assert_eq!(day_of_year(utc(1999, 3, 1, 0.0)), 60);
    }

    // Expected times and heights below are NREL's SPA (Reda and Andreas
    // 2004) as pvlib 0.16 computes them (`sun_rise_set_transit_spa`,
    // `get_solarposition`): an independent implementation of a more precise
    // algorithm. Rise and set are the almanac's, upper limb at −0.833°.

    /// Berlin (52.52 N, 13.405 E) on 21 June 2026: sunrise 02:43:05, transit
    /// 11:08:11, sunset 19:33:18 UTC; the sun 60.92° high at transit.
    #[test]
    fn berlin_midsummer() {
        let berlin = Site::new(52.52, 13.405, 34.0);
        let day = utc(2026, 6, 21, 0.0);
        near(crossing(&berlin, day, 0.0, 8.0), "02:43:05");
        let noon = transit(&berlin, day, 8.0, 14.0);
        near(noon, "11:08:11");
        near(crossing(&berlin, day, 14.0, 23.0), "19:33:18");
        let sun = berlin.sun(&Ephemeris::at(day + noon * 3600.0));
        assert!((90.0 - sun.zenith_deg - 60.917).abs() < 0.01, "{sun:?}");
        assert!((90.0 - sun.apparent_zenith_deg - 60.926).abs() < 0.01, "{sun:?}");
        assert!((sun.azimuth_deg - 180.0).abs() < 0.01, "{sun:?}");
    }

    /// Berlin on 6 December 2026: sunrise 07:01:06, transit 10:57:22,
    /// sunset 14:53:22 UTC; 14.96° of sun at transit (15.02° seen).
    #[test]
    fn berlin_december() {
        let berlin = Site::new(52.52, 13.405, 34.0);
        let day = utc(2026, 12, 6, 0.0);
        near(crossing(&berlin, day, 4.0, 10.0), "07:01:06");
        let noon = transit(&berlin, day, 8.0, 14.0);
        near(noon, "10:57:22");
        near(crossing(&berlin, day, 12.0, 18.0), "14:53:22");
        let sun = berlin.sun(&Ephemeris::at(day + noon * 3600.0));
        assert!((90.0 - sun.zenith_deg - 14.960).abs() < 0.01, "{sun:?}");
        assert!((90.0 - sun.apparent_zenith_deg - 15.021).abs() < 0.01, "{sun:?}");
    }

    /// Suzhou (31.30 N, 120.62 E) on 21 June 2026: sunrise 04:53:52, transit
    /// 11:59:16, sunset 19:04:53 China time (UTC+8); 82.14° at transit.
    #[test]
    fn suzhou_midsummer() {
        let suzhou = Site::new(31.30, 120.62, 5.0);
        let day = utc(2026, 6, 21, -8.0); // local midnight
        near(crossing(&suzhou, day, 2.0, 8.0), "04:53:52");
        let noon = transit(&suzhou, day, 9.0, 15.0);
        near(noon, "11:59:16");
        near(crossing(&suzhou, day, 16.0, 22.0), "19:04:53");
        let sun = suzhou.sun(&Ephemeris::at(day + noon * 3600.0));
        assert!((90.0 - sun.zenith_deg - 82.138).abs() < 0.01, "{sun:?}");
    }

    #[test]
    fn equation_of_time_and_declination_at_known_dates() {
        // SPA via pvlib: +16.450 min on 3 November, −14.172 min on 11 February;
        // Meeus' short series is within 4 s (0.015° of hour angle).
        let november = Ephemeris::at(utc(2026, 11, 3, 12.0)).equation_of_time_min;
        assert!((november - 16.450).abs() < 0.06, "{november}");
        let february = Ephemeris::at(utc(2026, 2, 11, 12.0)).equation_of_time_min;
        assert!((february + 14.172).abs() < 0.06, "{february}");
        assert!((Ephemeris::at(utc(2026, 6, 21, 8.0)).declination_deg - 23.44).abs() < 0.01);
    }

    #[test]
    fn the_sky_is_bright_by_day_and_dark_by_night() {
        let site = Site::new(52.52, 13.405, 34.0);
        let t = utc(2026, 6, 21, 11.1);
        let sun = site.sun(&Ephemeris::at(t));
        let clear = clear_sky_ineichen(&sun, &site, 3.0, extraterrestrial_normal(t));
        assert!((800.0..900.0).contains(&clear.ghi), "{clear:?}");
        assert!((clear.ghi - clear.dni * sun.cos_zenith() - clear.dhi).abs() < 1e-9);
        assert!(clear.dhi > 50.0 && clear.dni > 700.0, "{clear:?}");
        let haurwitz = clear_sky_haurwitz(&sun);
        assert!((haurwitz - clear.ghi).abs() < 100.0, "{haurwitz} {clear:?}");
        let night = site.sun(&Ephemeris::at(utc(2026, 6, 21, 23.0)));
        assert_eq!(clear_sky_ineichen(&night, &site, 3.0, 1400.0), Irradiance::default());
        assert_eq!(clear_sky_haurwitz(&night), 0.0);
        // Perihelion in January, aphelion in July (pvlib: 1414.02 and 1320.46).
        assert!((extraterrestrial_normal(utc(2026, 1, 3, 0.0)) - 1414.02).abs() < 0.01);
        assert!((extraterrestrial_normal(utc(2026, 7, 4, 0.0)) - 1320.46).abs() < 0.01);
    }
}
