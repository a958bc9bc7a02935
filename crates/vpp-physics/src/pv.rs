//! A PV plant's AC output from the weather: the PVWatts chain.
//!
//! 1. Decomposition (only when DNI and DHI are not given): Erbs, Klein and
//!    Duffie (1982) diffuse fraction from the clearness index.
//! 2. Transposition to the plane of array: beam by the angle of incidence,
//!    sky diffuse by Hay and Davies (1980), ground reflection with an albedo.
//! 3. Reflection loss of the beam by the ASHRAE incidence-angle modifier
//!    (Souka and Safwat 1966), `1 − b (1/cos θ − 1)`.
//! 4. Cell temperature by Faiman (2008), `T_air + E / (u0 + u1·v)`.
//! 5. DC power by PVWatts (Dobos 2014): `P_dc0 · E/1000 · (1 + γ (T_cell − 25))`,
//!    less the system losses (wiring, soiling, mismatch: 14 % by default).
//! 6. AC power by the PVWatts inverter curve, clipped at the inverter's rating.

use crate::sun::{Irradiance, SunPosition};

const DEG: f64 = std::f64::consts::PI / 180.0;

/// A PV plant's technical data, as the model needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvSystem {
    /// DC peak power at standard test conditions, kWp.
    pub peak_kw: f64,
    /// AC rating of the inverters, kW: the output is clipped there.
    pub inverter_kw: f64,
    /// Module tilt from horizontal, degrees.
    pub tilt_deg: f64,
    /// Module azimuth, degrees clockwise from north (180 = south).
    pub azimuth_deg: f64,
    /// Nominal inverter efficiency, 0..1.
    pub inverter_efficiency: f64,
    /// Temperature coefficient of power, 1/K (crystalline silicon: −0.0037).
    pub gamma_per_k: f64,
    /// DC losses before the inverter, 0..1 (PVWatts default 0.14).
    pub losses: f64,
    /// Ground reflectance, 0..1 (grass 0.2–0.25, fresh snow 0.8).
    pub albedo: f64,
    /// ASHRAE incidence-angle coefficient b (glass: 0.05).
    pub iam_b: f64,
    /// Faiman's constant heat-loss factor u0, W/(m²·K).
    pub u0: f64,
    /// Faiman's wind heat-loss factor u1, W·s/(m³·K).
    pub u1: f64,
}

impl PvSystem {
    /// A plant of `peak_kw` behind `inverter_kw` of inverters at `tilt_deg`
    /// and `azimuth_deg`, with the usual defaults for the rest.
    pub fn new(peak_kw: f64, inverter_kw: f64, tilt_deg: f64, azimuth_deg: f64) -> Self {
        Self {
            peak_kw,
            inverter_kw,
            tilt_deg,
            azimuth_deg,
            inverter_efficiency: 0.96,
            gamma_per_k: -0.0037,
            losses: 0.14,
            albedo: 0.25,
            iam_b: 0.05,
            u0: 25.0,
            u1: 6.84,
        }
    }

    /// A plant from the PV template's parameters, looked up by name:
    /// `peak_kw` and `inverter_kw` are needed (the error names the missing
    /// one); `tilt_deg` (30), `azimuth_deg` (180), `inverter_efficiency`,
    /// `temp_coeff_pct_per_k` (%/K), `system_losses_pct` (%) and `albedo`
    /// fall back to the defaults of [`PvSystem::new`].
    pub fn from_parameters(get: impl Fn(&str) -> Option<f64>) -> Result<Self, &'static str> {
        let peak = get("peak_kw").ok_or("peak_kw")?;
        let inverter = get("inverter_kw").ok_or("inverter_kw")?;
        let mut s = Self::new(peak, inverter, get("tilt_deg").unwrap_or(30.0), get("azimuth_deg").unwrap_or(180.0));
        s.inverter_efficiency = get("inverter_efficiency").unwrap_or(s.inverter_efficiency);
        s.gamma_per_k = get("temp_coeff_pct_per_k").map_or(s.gamma_per_k, |c| c / 100.0);
        s.losses = get("system_losses_pct").map_or(s.losses, |l| l / 100.0);
        s.albedo = get("albedo").unwrap_or(s.albedo);
        Ok(s)
    }

    /// The plane of array's unit normal (east, north, up).
    fn normal(&self) -> [f64; 3] {
        let (sin_t, cos_t) = (self.tilt_deg * DEG).sin_cos();
        let (sin_a, cos_a) = (self.azimuth_deg * DEG).sin_cos();
        [sin_t * sin_a, sin_t * cos_a, cos_t]
    }
}

/// Beam and diffuse from the global horizontal irradiance alone, by Erbs,
/// Klein and Duffie (1982). The clearness index is GHI over the
/// extraterrestrial horizontal irradiance, with cos z floored at 0.065 and
/// the index capped at 1; DNI is set to 0 (all diffuse) above 87° zenith,
/// and never exceeds the extraterrestrial irradiance (a GHI too high for a
/// low sun would otherwise give an impossible beam).
pub fn erbs(ghi: f64, sun: &SunPosition, dni_extra: f64) -> Irradiance {
    let cos_z = sun.direction[2];
    let kt = (ghi / (dni_extra * cos_z.max(0.065))).clamp(0.0, 1.0);
    let diffuse_fraction = if kt <= 0.22 {
        1.0 - 0.09 * kt
    } else if kt <= 0.8 {
        0.9511 - 0.1604 * kt + 4.388 * kt.powi(2) - 16.638 * kt.powi(3) + 12.336 * kt.powi(4)
    } else {
        0.165
    };
    let dhi = diffuse_fraction * ghi;
    let dni = (ghi - dhi) / cos_z;
    if sun.apparent_zenith_deg > 87.0 || ghi < 0.0 || dni.is_nan() || dni < 0.0 {
        Irradiance { ghi, dni: 0.0, dhi: ghi }
    } else if dni > dni_extra {
        Irradiance { ghi, dni: dni_extra, dhi: ghi - dni_extra * cos_z }
    } else {
        Irradiance { ghi, dni, dhi }
    }
}

/// Irradiance on the plane of array, W/m².
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlaneOfArray {
    /// Beam on the plane.
    pub direct: f64,
    /// Sky diffuse on the plane.
    pub sky_diffuse: f64,
    /// Reflected from the ground.
    pub ground: f64,
    /// cos of the beam's angle of incidence (negative: behind the plane).
    pub cos_aoi: f64,
}

impl PlaneOfArray {
    /// Everything reaching the plane.
    pub fn global(&self) -> f64 {
        self.direct + self.sky_diffuse + self.ground
    }
}

/// `irr` transposed onto `system`'s plane: the beam by the angle of
/// incidence, sky diffuse by Hay and Davies (1980) — an isotropic part and a
/// circumsolar part weighted by the anisotropy index DNI/DNI_extra — and the
/// ground's reflection `GHI·ρ·(1 − cos β)/2`.
pub fn plane_of_array(system: &PvSystem, irr: &Irradiance, sun: &SunPosition, dni_extra: f64) -> PlaneOfArray {
    let n = system.normal();
    let d = sun.direction;
    let cos_aoi = n[0] * d[0] + n[1] * d[1] + n[2] * d[2];
    let cos_tilt = n[2];
    let direct = (irr.dni * cos_aoi).max(0.0);
    // Ratio of beam on the plane to beam on the horizontal; the floor at
    // cos 89° keeps it finite at sunrise.
    let rb = cos_aoi.max(0.0) / d[2].max(0.017_45);
    let anisotropy = irr.dni / dni_extra;
    let isotropic = (irr.dhi * (1.0 - anisotropy) * 0.5 * (1.0 + cos_tilt)).max(0.0);
    let circumsolar = (irr.dhi * anisotropy * rb).max(0.0);
    let ground = irr.ghi * system.albedo * (1.0 - cos_tilt) * 0.5;
    PlaneOfArray { direct, sky_diffuse: isotropic + circumsolar, ground, cos_aoi }
}

/// AC power, kW, from the plane-of-array irradiance, the air temperature
/// (°C) and the wind speed (m/s).
pub fn ac_kw(system: &PvSystem, poa: &PlaneOfArray, temp_air_c: f64, wind_ms: f64) -> f64 {
    // ASHRAE reflection loss on the beam only; none beyond 90°.
    let iam = if poa.cos_aoi <= 0.0 { 0.0 } else { (1.0 - system.iam_b * (1.0 / poa.cos_aoi - 1.0)).max(0.0) };
    let effective = poa.direct * iam + poa.sky_diffuse + poa.ground;
    let temp_cell = temp_air_c + poa.global() / (system.u0 + system.u1 * wind_ms);
    let dc =
        effective * 0.001 * system.peak_kw * (1.0 + system.gamma_per_k * (temp_cell - 25.0)) * (1.0 - system.losses);
    inverter_kw(system, dc)
}

/// The PVWatts inverter: efficiency `η = η_nom/0.9637 · (−0.0162ζ − 0.0059/ζ
/// + 0.9858)` at the load ratio `ζ = P_dc / P_dc0`, with `P_dc0` the DC input
/// at the rated AC output; the output is clipped to `[0, inverter_kw]`.
pub fn inverter_kw(system: &PvSystem, dc_kw: f64) -> f64 {
    if dc_kw <= 0.0 {
        return 0.0;
    }
    let eta_nom = system.inverter_efficiency;
    let dc0 = system.inverter_kw / eta_nom;
    let zeta = dc_kw / dc0;
    let eta = eta_nom / 0.9637 * (-0.0162 * zeta - 0.0059 / zeta + 0.9858);
    // Not `clamp`: a rating that is not a positive number must give 0, not panic.
    (eta * dc_kw).min(system.inverter_kw).max(0.0)
}

/// Weather at one instant, as the PV chain reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvWeather {
    /// Global horizontal irradiance, W/m².
    pub ghi: f64,
    /// Direct normal and diffuse horizontal, W/m², when the source gives
    /// them; else they are split from the GHI by [`erbs`].
    pub dni_dhi: Option<(f64, f64)>,
    /// Air temperature at 2 m, °C.
    pub temp_air_c: f64,
    /// Wind speed, m/s.
    pub wind_ms: f64,
}

/// The whole chain for one instant: AC power, kW.
pub fn power_kw(system: &PvSystem, weather: &PvWeather, sun: &SunPosition, dni_extra: f64) -> f64 {
    if sun.direction[2] <= 0.0 || weather.ghi <= 0.0 {
        return 0.0;
    }
    let irr = match weather.dni_dhi {
        Some((dni, dhi)) => Irradiance { ghi: weather.ghi, dni, dhi },
        None => erbs(weather.ghi, sun, dni_extra),
    };
    let poa = plane_of_array(system, &irr, sun, dni_extra);
    ac_kw(system, &poa, weather.temp_air_c, weather.wind_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sun::{Ephemeris, Site, extraterrestrial_normal};

    fn sun_at(zenith_deg: f64, azimuth_deg: f64) -> SunPosition {
        let (sz, cz) = (zenith_deg * DEG).sin_cos();
        let (sa, ca) = (azimuth_deg * DEG).sin_cos();
        SunPosition { zenith_deg, apparent_zenith_deg: zenith_deg, azimuth_deg, direction: [sz * sa, sz * ca, cz] }
    }

    /// Worked by hand: a south-facing 30° plane, the sun due south at 40°
    /// zenith, so the beam meets the plane at 10°. DNI 800, DHI 100, GHI
    /// 800·cos 40° + 100 = 712.84, DNI_extra 1361.
    #[test]
    fn plane_of_array_by_hand() {
        let system = PvSystem::new(100.0, 100.0, 30.0, 180.0);
        let sun = sun_at(40.0, 180.0);
        let irr = Irradiance { ghi: 800.0 * (40.0 * DEG).cos() + 100.0, dni: 800.0, dhi: 100.0 };
        let poa = plane_of_array(&system, &irr, &sun, 1361.0);
        assert!((poa.cos_aoi - (10.0 * DEG).cos()).abs() < 1e-12);
        // 800 · cos 10° = 787.85
        assert!((poa.direct - 787.846).abs() < 1e-3, "{poa:?}");
        // A = 800/1361 = 0.58780; Rb = cos 10°/cos 40° = 1.28558;
        // 100·(1 − A)·(1 + cos 30°)/2 + 100·A·Rb = 38.4587 + 75.5663
        // (pvlib's haydavies: 114.0250)
        assert!((poa.sky_diffuse - 114.025).abs() < 1e-3, "{poa:?}");
        // 712.84 · 0.25 · (1 − cos 30°)/2 = 11.9377
        assert!((poa.ground - 11.9377).abs() < 1e-3, "{poa:?}");
    }

    #[test]
    fn erbs_splits_by_clearness() {
        let sun = sun_at(30.0, 180.0);
        // kt = 900 / (1361 cos 30°) = 0.7636: the quartic branch,
        // 0.9511 − 0.1604 kt + 4.388 kt² − 16.638 kt³ + 12.336 kt⁴ = 0.17334.
        let clear = erbs(900.0, &sun, 1361.0);
        assert!((clear.dhi / clear.ghi - 0.17334).abs() < 1e-4, "{clear:?}");
        assert!((clear.dni * (30.0 * DEG).cos() + clear.dhi - 900.0).abs() < 1e-9);
        let overcast = erbs(100.0, &sun, 1361.0);
        assert!((overcast.dhi / overcast.ghi - (1.0 - 0.09 * 100.0 / (1361.0 * (30.0 * DEG).cos()))).abs() < 1e-9);
        let low = erbs(20.0, &sun_at(88.0, 90.0), 1361.0);
        assert_eq!((low.dni, low.dhi), (0.0, 20.0));
        // 300 W/m² with the sun 4° up cannot be beam: capped at the top of
        // the atmosphere, the rest diffuse.
        let dawn = erbs(300.0, &sun_at(86.0, 120.0), 1361.0);
        assert_eq!(dawn.dni, 1361.0);
        assert!((dawn.dni * (86.0 * DEG).cos() + dawn.dhi - 300.0).abs() < 1e-9);
    }

    #[test]
    fn the_inverter_clips_and_is_efficient_at_part_load() {
        let system = PvSystem::new(1200.0, 1000.0, 30.0, 180.0);
        assert_eq!(inverter_kw(&system, 5000.0), 1000.0);
        assert_eq!(inverter_kw(&system, 0.0), 0.0);
        let half = inverter_kw(&system, 500.0);
        assert!((half / 500.0 - 0.9625).abs() < 0.002, "{half}");
        // 1000 W/m² on the plane at 25 °C cell: 1200 kWp less 14 % is 1032
        // kW DC, above what the 1000 kW inverter gives.
        let poa = PlaneOfArray { direct: 900.0, sky_diffuse: 100.0, ground: 0.0, cos_aoi: 1.0 };
        assert_eq!(ac_kw(&system, &poa, -100.0, 0.0), 1000.0);
    }

    #[test]
    fn hot_cells_give_less() {
        let system = PvSystem::new(100.0, 200.0, 30.0, 180.0);
        let poa = PlaneOfArray { direct: 700.0, sky_diffuse: 100.0, ground: 0.0, cos_aoi: 1.0 };
        let cold = ac_kw(&system, &poa, 0.0, 5.0);
        let hot = ac_kw(&system, &poa, 35.0, 0.0);
        // Cells at 0 + 800/59.2 = 13.5 °C against 35 + 800/25 = 67 °C: 53.5 K × 0.37 %/K.
        assert!((hot / cold - (1.0 - 0.0037 * (67.0 - 25.0)) / (1.0 - 0.0037 * (13.514 - 25.0))).abs() < 0.01);
    }

    #[test]
    fn no_sun_no_power() {
        let system = PvSystem::new(100.0, 90.0, 30.0, 180.0);
        let berlin = Site::new(52.52, 13.405, 34.0);
        let midnight = 1_781_913_600.0; // 2026-06-20 00:00 UTC
        let sun = berlin.sun(&Ephemeris::at(midnight));
        let weather = PvWeather { ghi: 50.0, dni_dhi: None, temp_air_c: 15.0, wind_ms: 2.0 };
        assert_eq!(power_kw(&system, &weather, &sun, extraterrestrial_normal(midnight)), 0.0);
    }
}
