//! A wind turbine's output from the weather.
//!
//! 1. Wind at hub height from the wind at the measuring height: the
//!    logarithmic profile `v·ln(h/z0)/ln(h_m/z0)` with the roughness length
//!    z0, or Hellman's power law `v·(h/h_m)^α`.
//! 2. Air at hub height: temperature by the standard lapse rate of
//!    6.5 K/km, pressure falling 1/8 hPa per metre, density by the ideal gas
//!    law with R = 287.058 J/(kg·K).
//! 3. Power from the power curve, corrected for density: each curve speed
//!    is scaled by `(1.225/ρ)^p`, with `p` rising linearly from 1/3 at
//!    7.5 m/s to 2/3 at 12.5 m/s (Svenningsen 2010; the cube law below
//!    rated, constant power above). Zero below the first point of the curve,
//!    beyond its last speed and at or above the cut-out speed.

/// Standard sea-level air density of power curves, kg/m³.
pub const STANDARD_DENSITY: f64 = 1.225;

/// How wind speed grows with height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// `v·ln(h/z0)/ln(h_m/z0)`; z0 in m (open farmland 0.03–0.1, crops and
    /// hedges 0.1–0.25, forest and suburbs 0.5–1).
    Logarithmic {
        /// Roughness length, m.
        roughness_m: f64,
    },
    /// `v·(h/h_m)^α` (α = 1/7 over open ground).
    Hellman {
        /// The exponent α.
        exponent: f64,
    },
}

impl Profile {
    /// Wind speed at `to_m` from `v` measured at `from_m`, m/s.
    pub fn extrapolate(self, v: f64, from_m: f64, to_m: f64) -> f64 {
        match self {
            Self::Logarithmic { roughness_m } => v * (to_m / roughness_m).ln() / (from_m / roughness_m).ln(),
            Self::Hellman { exponent } => v * (to_m / from_m).powf(exponent),
        }
    }
}

/// A wind turbine's technical data, as the model needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turbine {
    /// Hub height above ground, m.
    pub hub_height_m: f64,
    /// Power curve at standard density: wind speeds (m/s, increasing) and
    /// electrical output (kW) at each.
    pub curve_ms: Vec<f64>,
    /// Output at each speed of `curve_ms`, kW.
    pub curve_kw: Vec<f64>,
    /// Speed at and above which the turbine stops, m/s.
    pub cut_out_ms: f64,
    /// The density-correction exponent of each curve speed (1/3..2/3).
    exponents: Vec<f64>,
}

/// The exponent of the density correction at curve speed `s`: 1/3 up to
/// 7.5 m/s, 2/3 from 12.5 m/s, linear between.
fn correction_exponent(s: f64) -> f64 {
    1.0 / 3.0 + (s - 7.5).clamp(0.0, 5.0) / 15.0
}

/// Why a power curve cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveError(pub String);

impl Turbine {
    /// A turbine from its curve points `[(m/s, kW)]`; the speeds must
    /// increase and the outputs be finite and non-negative.
    pub fn new(hub_height_m: f64, curve: &[(f64, f64)], cut_out_ms: f64) -> Result<Self, CurveError> {
        if curve.len() < 2 {
            return Err(CurveError("a power curve needs at least two points".into()));
        }
        if curve.windows(2).any(|w| w[1].0 <= w[0].0) {
            return Err(CurveError("the wind speeds of a power curve must increase".into()));
        }
        if curve.iter().any(|&(v, p)| !v.is_finite() || !p.is_finite() || v < 0.0 || p < 0.0) {
            return Err(CurveError("power curve points must be finite and not negative".into()));
        }
        Ok(Self::from_points(hub_height_m, curve, cut_out_ms))
    }

    /// A generic curve shape, scaled so that it tops out at `rated_kw`:
    /// for a turbine whose own curve is not known. The shape is a modern
    /// onshore turbine's (rated at 12 m/s).
    pub fn generic(rated_kw: f64, hub_height_m: f64, cut_in_ms: f64, cut_out_ms: f64) -> Self {
        // Fraction of rated power by wind speed: the cube law between
        // cut-in and rated speed, softened at both ends.
        const SHAPE: [(f64, f64); 11] = [
            (4.0, 0.03),
            (5.0, 0.08),
            (6.0, 0.15),
            (7.0, 0.25),
            (8.0, 0.38),
            (9.0, 0.53),
            (10.0, 0.70),
            (11.0, 0.86),
            (12.0, 0.97),
            (13.0, 1.0),
            (25.0, 1.0),
        ];
        let mut curve = vec![(cut_in_ms, 0.0)];
        curve.extend(SHAPE.iter().filter(|(v, _)| *v > cut_in_ms && *v < cut_out_ms).map(|&(v, f)| (v, f * rated_kw)));
        curve.push((cut_out_ms, rated_kw));
        Self::from_points(hub_height_m, &curve, cut_out_ms)
    }

    fn from_points(hub_height_m: f64, curve: &[(f64, f64)], cut_out_ms: f64) -> Self {
        Self {
            hub_height_m,
            curve_ms: curve.iter().map(|p| p.0).collect(),
            curve_kw: curve.iter().map(|p| p.1).collect(),
            cut_out_ms,
            exponents: curve.iter().map(|p| correction_exponent(p.0)).collect(),
        }
    }

    /// A turbine from the wind template's parameters, looked up by name:
    /// `rated_kw` is needed; `hub_height_m` (120), `cut_in_ms` (3) and
    /// `cut_out_ms` (25) have defaults. With `curve` (the `power_curve`
    /// parameter) that curve is used, else [`Turbine::generic`] scaled to
    /// `rated_kw`; the flag says which.
    pub fn from_parameters(
        get: impl Fn(&str) -> Option<f64>,
        curve: Option<&[(f64, f64)]>,
    ) -> Result<(Self, bool), CurveError> {
        let hub = get("hub_height_m").unwrap_or(120.0);
        let cut_out = get("cut_out_ms").unwrap_or(25.0);
        match curve {
            Some(points) => {
                let turbine =
                    Self::new(hub, points, cut_out).map_err(|e| CurveError(format!("power_curve: {}", e.0)))?;
                Ok((turbine, false))
            }
            None => {
                let rated = get("rated_kw").ok_or_else(|| CurveError("rated_kw is missing".into()))?;
                Ok((Self::generic(rated, hub, get("cut_in_ms").unwrap_or(3.0), cut_out), true))
            }
        }
    }

    /// The most the curve gives, kW.
    pub fn rated_kw(&self) -> f64 {
        self.curve_kw.iter().copied().fold(0.0, f64::max)
    }

    /// Output at hub-height wind `v` (m/s) and air density `rho` (kg/m³).
    pub fn power_kw(&self, v: f64, rho: f64) -> f64 {
        if v.is_nan() || v < 0.0 || v >= self.cut_out_ms {
            return 0.0;
        }
        // Curve speed i at this density: s_i·(1.225/ρ)^p_i. The corrected
        // speeds still increase, so a binary search finds the segment with
        // a handful of exponentials instead of one per curve point.
        let ln_ratio = (STANDARD_DENSITY / rho).ln();
        let corrected = |i: usize| self.curve_ms[i] * (self.exponents[i] * ln_ratio).exp();
        let n = self.curve_ms.len();
        let (first, last) = (corrected(0), corrected(n - 1));
        if v < first {
            return 0.0;
        }
        if v > last {
            // Dense air pulls the curve's end below its speed; the turbine
            // still runs at its last output until that speed (the cut-out
            // is a wind speed, not a point of the corrected curve).
            return if v <= self.curve_ms[n - 1] { self.curve_kw[n - 1] } else { 0.0 };
        }
        let (mut lo, mut hi) = (0, n - 1);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if corrected(mid) <= v { lo = mid } else { hi = mid }
        }
        let (lo_v, hi_v) = (corrected(lo), corrected(hi));
        let (lo_p, hi_p) = (self.curve_kw[lo], self.curve_kw[hi]);
        lo_p + (hi_p - lo_p) * (v - lo_v) / (hi_v - lo_v)
    }
}

/// Air at a height: temperature by the lapse rate, pressure by the
/// barometric step of 1/8 hPa per metre, density by the ideal gas law.
///
/// `temp_c` is measured at `temp_height_m`, `pressure_pa` at
/// `pressure_height_m`; the result is kg/m³ at `height_m`.
pub fn air_density(temp_c: f64, temp_height_m: f64, pressure_pa: f64, pressure_height_m: f64, height_m: f64) -> f64 {
    let temp_k = temp_c + 273.15 - 0.0065 * (height_m - temp_height_m);
    let pressure = (pressure_pa / 100.0 - (height_m - pressure_height_m) / 8.0) * 100.0;
    pressure / (287.058 * temp_k)
}

/// Weather at one instant, as the wind chain reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindWeather {
    /// Wind speed, m/s, at `wind_height_m`.
    pub wind_ms: f64,
    /// Height of the wind measurement, m (10 m for most forecasts).
    pub wind_height_m: f64,
    /// Air temperature, °C, at 2 m.
    pub temp_air_c: f64,
    /// Surface air pressure, Pa.
    pub pressure_pa: f64,
}

/// The whole chain for one instant: AC power, kW.
pub fn power_kw(turbine: &Turbine, profile: Profile, weather: &WindWeather) -> f64 {
    let v = profile.extrapolate(weather.wind_ms, weather.wind_height_m, turbine.hub_height_m);
    let rho = air_density(weather.temp_air_c, 2.0, weather.pressure_pa, 0.0, turbine.hub_height_m);
    turbine.power_kw(v, rho)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turbine() -> Turbine {
        Turbine::new(100.0, &[(3.0, 0.0), (5.0, 300.0), (8.0, 1400.0), (12.0, 3000.0), (25.0, 3000.0)], 25.0)
            .expect("valid curve")
    }

    #[test]
    fn the_curve_at_standard_density() {
        let t = turbine();
        assert_eq!(t.power_kw(2.9, STANDARD_DENSITY), 0.0);
        assert!((t.power_kw(4.0, STANDARD_DENSITY) - 150.0).abs() < 1e-9);
        assert!((t.power_kw(10.0, STANDARD_DENSITY) - 2200.0).abs() < 1e-9);
        assert_eq!(t.power_kw(20.0, STANDARD_DENSITY), 3000.0);
        // Cut-out: nothing at 25 m/s and above.
        assert_eq!(t.power_kw(25.0, STANDARD_DENSITY), 0.0);
        assert_eq!(t.power_kw(31.0, STANDARD_DENSITY), 0.0);
    }

    #[test]
    fn thin_air_gives_less() {
        let t = turbine();
        // At 1.1 kg/m³ the 5 m/s point moves to 5·(1.225/1.1)^(1/3) = 5.1813 m/s,
        // so 5 m/s now gives 150 + 150·(5 − 3.1088)/(5.1813 − 3.1088).
        let at5 = t.power_kw(5.0, 1.1);
        let (s3, s5) = (3.0 * (1.225f64 / 1.1).powf(1.0 / 3.0), 5.0 * (1.225f64 / 1.1).powf(1.0 / 3.0));
        assert!((at5 - 300.0 * (5.0 - s3) / (s5 - s3)).abs() < 1e-9, "{at5}");
        assert!(t.power_kw(10.0, 1.1) < t.power_kw(10.0, STANDARD_DENSITY));
        assert_eq!(t.power_kw(20.0, 1.1), 3000.0);
        // Cold dense air moves the curve's last point to 25·(1.225/1.325)^(2/3)
        // = 23.7 m/s; the turbine still gives its 3 MW until it cuts out.
        assert_eq!(t.power_kw(24.5, 1.325), 3000.0);
        assert_eq!(t.power_kw(25.0, 1.325), 0.0);
    }

    #[test]
    fn wind_grows_with_height() {
        let log = Profile::Logarithmic { roughness_m: 0.1 };
        // ln(1000)/ln(100) = 1.5
        assert!((log.extrapolate(6.0, 10.0, 100.0) - 9.0).abs() < 1e-12);
        let hellman = Profile::Hellman { exponent: 1.0 / 7.0 };
        assert!((hellman.extrapolate(6.0, 10.0, 100.0) - 6.0 * 10f64.powf(1.0 / 7.0)).abs() < 1e-12);
    }

    #[test]
    fn standard_air_is_standard() {
        // 15 °C and 1013.25 hPa at sea level: 1.2250 kg/m³.
        let rho = air_density(15.0, 0.0, 101_325.0, 0.0, 0.0);
        assert!((rho - 1.2250).abs() < 1e-3, "{rho}");
        // 100 m up: 0.65 K cooler, 12.5 hPa lower.
        let up = air_density(15.0, 0.0, 101_325.0, 0.0, 100.0);
        assert!((up - 100_075.0 / (287.058 * 287.5)).abs() < 1e-9, "{up}");
    }

    #[test]
    fn a_generic_curve_tops_out_at_the_rating() {
        let t = Turbine::generic(4500.0, 120.0, 3.0, 25.0);
        assert_eq!(t.rated_kw(), 4500.0);
        assert_eq!(t.power_kw(15.0, STANDARD_DENSITY), 4500.0);
        assert_eq!(t.power_kw(2.0, STANDARD_DENSITY), 0.0);
        assert_eq!(t.power_kw(26.0, STANDARD_DENSITY), 0.0);
    }

    #[test]
    fn bad_curves_are_refused() {
        assert!(Turbine::new(100.0, &[(3.0, 0.0)], 25.0).is_err());
        assert!(Turbine::new(100.0, &[(3.0, 0.0), (3.0, 10.0)], 25.0).is_err());
        assert!(Turbine::new(100.0, &[(3.0, 0.0), (4.0, -1.0)], 25.0).is_err());
    }
}
