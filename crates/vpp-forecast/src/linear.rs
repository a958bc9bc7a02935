//! Ridge regression on lags, daily harmonics, weekdays, non-workdays,
//! temperature degrees and regressors; or on a physical forecast and its
//! daily shape, to correct it.
//!
//! The normal equations are small (at most 82 features) and solved by
//! nalgebra's Cholesky factorisation, falling back to its SVD when a
//! feature is constant in the window (weekday dummies in a short window,
//! say).

use std::f64::consts::TAU;

use nalgebra::{DMatrix, DVector};
use vpp_domain::ai_model::MethodSpec;

use crate::{Context, ForecastError};

/// Fitted coefficients with the names of their features.
pub(crate) struct LinearFit {
    pub(crate) names: Vec<String>,
    pub(crate) coefficients: Vec<f64>,
}

impl LinearFit {
    pub(crate) fn named(self) -> Vec<(String, f64)> {
        self.names.into_iter().zip(self.coefficients).collect()
    }
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

const WEEKDAYS: [&str; 6] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/// One column of the design matrix.
pub(crate) enum Feature<'a> {
    Intercept,
    Lag(usize),
    DaySin(usize),
    DayCos(usize),
    /// 0 = Monday … 5 = Saturday (Sunday is the reference).
    Weekday(u8),
    NonWorkday,
    /// The value at the same time of the latest day of the same kind
    /// (workday or not) that is at least the horizon back.
    SameKindOfDay,
    NonWorkdaySin(usize),
    NonWorkdayCos(usize),
    Regressor(&'a str),
    /// max(0, 18 °C − T), or max(0, T − 18 °C), of the temperature series.
    HeatingDegrees(&'a str),
    CoolingDegrees(&'a str),
    Physical,
    PhysicalSin(usize),
    PhysicalCos(usize),
    PhysicalHeatingDegrees(&'a str),
    PhysicalCoolingDegrees(&'a str),
}

/// Base temperature of heating and cooling degrees, °C (the usual
/// degree-day base, about 65 °F).
const DEGREE_BASE_C: f64 = 18.0;

impl Feature<'_> {
    fn name(&self) -> String {
        match self {
            Self::Intercept => "intercept".into(),
            Self::Lag(l) => format!("lag_{l}"),
            Self::DaySin(k) => format!("day_sin_{k}"),
            Self::DayCos(k) => format!("day_cos_{k}"),
            Self::Weekday(d) => WEEKDAYS[usize::from(*d)].into(),
            Self::NonWorkday => "non_workday".into(),
            Self::SameKindOfDay => "same_kind_of_day".into(),
            Self::NonWorkdaySin(k) => format!("non_workday_day_sin_{k}"),
            Self::NonWorkdayCos(k) => format!("non_workday_day_cos_{k}"),
            Self::Regressor(name) => (*name).into(),
            Self::HeatingDegrees(_) => "heating_degrees".into(),
            Self::CoolingDegrees(_) => "cooling_degrees".into(),
            Self::Physical => "physical".into(),
            Self::PhysicalSin(k) => format!("physical_day_sin_{k}"),
            Self::PhysicalCos(k) => format!("physical_day_cos_{k}"),
            Self::PhysicalHeatingDegrees(_) => "physical_heating_degrees".into(),
            Self::PhysicalCoolingDegrees(_) => "physical_cooling_degrees".into(),
        }
    }
}

impl Context<'_> {
    /// The design of the method's regression, in coefficient order.
    pub(crate) fn design(&self) -> Vec<Feature<'_>> {
        let mut f = Vec::new();
        match &self.spec.method {
            MethodSpec::Linear { lags, harmonics, regressors, holidays, temperature, .. } => {
                f.push(Feature::Intercept);
                f.extend(lags.iter().map(|l| Feature::Lag(*l)));
                for k in 1..=*harmonics {
                    f.extend([Feature::DaySin(k), Feature::DayCos(k)]);
                }
                f.extend((0..6).map(Feature::Weekday));
                if holidays.is_some() {
                    // A non-workday has its own level and its own daily shape.
                    f.extend([Feature::NonWorkday, Feature::SameKindOfDay]);
                    for k in 1..=*harmonics {
                        f.extend([Feature::NonWorkdaySin(k), Feature::NonWorkdayCos(k)]);
                    }
                }
                f.extend(regressors.iter().map(|r| Feature::Regressor(r)));
                if let Some(t) = temperature {
                    f.extend([Feature::HeatingDegrees(t), Feature::CoolingDegrees(t)]);
                }
            }
            MethodSpec::PhysicalCorrection { harmonics, regressors, temperature, .. } => {
                // Corrections scale with the physical output (a wrong
                // capacity, orientation or soiling), shaped over the day;
                // so do temperature effects on the panels or the air. No
                // intercept: where the physics says nothing is produced
                // (PV at night, wind below cut-in) nothing is added.
                f.push(Feature::Physical);
                for k in 1..=*harmonics {
                    f.extend([Feature::PhysicalSin(k), Feature::PhysicalCos(k)]);
                }
                f.extend(regressors.iter().map(|r| Feature::Regressor(r)));
                if let Some(t) = temperature {
                    f.extend([Feature::PhysicalHeatingDegrees(t), Feature::PhysicalCoolingDegrees(t)]);
                }
            }
            _ => {}
        }
        f
    }

    pub(crate) fn feature_names(&self) -> Vec<String> {
        self.design().iter().map(Feature::name).collect()
    }

    /// A regressor's value at `t`.
    fn regressor(&self, name: &str, t: usize) -> Result<f64, ForecastError> {
        let values = self.frame.regressors.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice());
        values.and_then(|v| v.get(t)).copied().filter(|v| v.is_finite()).ok_or_else(|| self.missing(name, t))
    }

    fn missing(&self, name: &str, t: usize) -> ForecastError {
        ForecastError::Regressor {
            name: name.to_string(),
            at: jiff::Timestamp::from_microsecond(self.frame.time_us(t)).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    /// The value at `t`'s time of day on the latest earlier day of `t`'s
    /// kind (workday or not) that lies at least the horizon back: after a
    /// holiday week a workday learns from the last workday, not from the
    /// holiday a week earlier. Up to three weeks back.
    fn same_kind_of_day(&self, t: usize) -> Result<f64, ForecastError> {
        let day = (86_400 / self.frame.step_s.max(1)) as usize;
        let first = self.spec.horizon.div_ceil(day).max(1);
        (first..=21)
            .filter_map(|k| t.checked_sub(k * day))
            .find(|&j| self.calendar.non_workday[j] == self.calendar.non_workday[t])
            .and_then(|j| self.filled.get(j).copied())
            .filter(|v| v.is_finite())
            .ok_or_else(|| ForecastError::History("no earlier day of the same kind in three weeks".into()))
    }

    /// What the regression adds to: the physical forecast for a physical
    /// correction, zero otherwise.
    pub(crate) fn offset(&self, t: usize) -> Result<f64, ForecastError> {
        match self.spec.method {
            MethodSpec::PhysicalCorrection { .. } => {
                self.frame.physical_at(t).ok_or_else(|| self.missing("physical forecast", t))
            }
            _ => Ok(0.0),
        }
    }

    /// The features of interval `t`: every lag must lie before any origin
    /// that forecasts `t` (the domain checks lags ≥ horizon).
    pub(crate) fn features(&self, design: &[Feature<'_>], t: usize) -> Result<Vec<f64>, ForecastError> {
        let frac = self.calendar.day_frac[t];
        let harmonic = |k: usize, sin: bool| {
            let angle = TAU * k as f64 * frac;
            if sin { angle.sin() } else { angle.cos() }
        };
        let non_workday = if self.calendar.non_workday[t] { 1.0 } else { 0.0 };
        let degrees = |name: &str, heating: bool| -> Result<f64, ForecastError> {
            let c = self.regressor(name, t)?;
            Ok(if heating { (DEGREE_BASE_C - c).max(0.0) } else { (c - DEGREE_BASE_C).max(0.0) })
        };
        let physical = || self.offset(t);
        design
            .iter()
            .map(|f| match f {
                Feature::Intercept => Ok(1.0),
                // A forecast further ahead than the lag has no value there.
                Feature::Lag(lag) => t
                    .checked_sub(*lag)
                    .and_then(|j| self.filled.get(j).copied())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| ForecastError::History(format!("no value {lag} steps before the forecast"))),
                Feature::DaySin(k) => Ok(harmonic(*k, true)),
                Feature::DayCos(k) => Ok(harmonic(*k, false)),
                Feature::Weekday(d) => Ok(if self.calendar.weekday[t] == *d { 1.0 } else { 0.0 }),
                Feature::NonWorkday => Ok(non_workday),
                Feature::SameKindOfDay => self.same_kind_of_day(t),
                Feature::NonWorkdaySin(k) => Ok(non_workday * harmonic(*k, true)),
                Feature::NonWorkdayCos(k) => Ok(non_workday * harmonic(*k, false)),
                Feature::Regressor(name) => self.regressor(name, t),
                Feature::HeatingDegrees(name) => degrees(name, true),
                Feature::CoolingDegrees(name) => degrees(name, false),
                Feature::Physical => physical(),
                Feature::PhysicalSin(k) => Ok(physical()? * harmonic(*k, true)),
                Feature::PhysicalCos(k) => Ok(physical()? * harmonic(*k, false)),
                Feature::PhysicalHeatingDegrees(name) => Ok(physical()? * degrees(name, true)?),
                Feature::PhysicalCoolingDegrees(name) => Ok(physical()? * degrees(name, false)?),
            })
            .collect()
    }

    /// Fits on the observed intervals of the window before `end`.
    pub(crate) fn fit_linear(&self, end: usize) -> Result<LinearFit, ForecastError> {
        let (ridge, regressors, temperature) = match &self.spec.method {
            MethodSpec::Linear { ridge, regressors, temperature, .. }
            | MethodSpec::PhysicalCorrection { ridge, regressors, temperature, .. } => (ridge, regressors, temperature),
            _ => return Err(ForecastError::Method("not a regression model".into())),
        };
        let needed = regressors.iter().chain(temperature);
        if let Some(missing) = needed.into_iter().find(|r| !self.frame.regressors.iter().any(|(n, _)| n == *r)) {
            return Err(ForecastError::Method(format!("regressor `{missing}` was not loaded")));
        }
        let design = self.design();
        let names = self.feature_names();
        let p = names.len();
        let start = end.saturating_sub(self.spec.window_steps(self.frame.step_s)).max(self.first);
        let mut xtx = DMatrix::<f64>::zeros(p, p);
        let mut xty = DVector::<f64>::zeros(p);
        let mut rows = 0usize;
        for t in start..end {
            let (Ok(x), Ok(offset)) = (self.features(&design, t), self.offset(t)) else { continue };
            // The regression learns what the offset (the physics) misses.
            let y = self.frame.y[t] - offset;
            if !y.is_finite() {
                continue;
            }
            rows += 1;
            for i in 0..p {
                xty[i] += x[i] * y;
                for j in i..p {
                    xtx[(i, j)] += x[i] * x[j];
                }
            }
        }
        if rows < 4 * p {
            return Err(ForecastError::History(format!(
                "{rows} complete rows in the window for {p} features; at least {} are needed",
                4 * p
            )));
        }
        for i in 0..p {
            for j in 0..i {
                xtx[(i, j)] = xtx[(j, i)];
            }
        }
        // The penalty scales with each feature's own size, so one ridge
        // value suits prices, temperatures and harmonics alike; the
        // intercept is not penalised.
        for (i, feature) in design.iter().enumerate() {
            if !matches!(feature, Feature::Intercept) {
                xtx[(i, i)] += ridge * xtx[(i, i)].max(1e-12);
            }
        }
        let beta = match xtx.clone().cholesky() {
            Some(c) => c.solve(&xty),
            None => xtx.svd(true, true).solve(&xty, 1e-10).map_err(|e| ForecastError::Method(e.to_string()))?,
        };
        Ok(LinearFit { names, coefficients: beta.iter().copied().collect() })
    }
}
