//! Ridge regression on lags, daily harmonics, weekdays and regressors.
//!
//! The normal equations are small (at most 55 features) and solved by
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

impl Context<'_> {
    fn linear_params(&self) -> (&[usize], usize, &[String]) {
        match &self.spec.method {
            MethodSpec::Linear { lags, harmonics, regressors, .. } => (lags, *harmonics, regressors),
            _ => (&[], 0, &[]),
        }
    }

    fn feature_names(&self) -> Vec<String> {
        let (lags, harmonics, regressors) = self.linear_params();
        let mut names = vec!["intercept".to_string()];
        names.extend(lags.iter().map(|l| format!("lag_{l}")));
        for k in 1..=harmonics {
            names.push(format!("day_sin_{k}"));
            names.push(format!("day_cos_{k}"));
        }
        names.extend(WEEKDAYS.iter().map(|d| d.to_string()));
        names.extend(regressors.iter().cloned());
        names
    }

    /// The features of interval `t`: every lag must lie before any origin
    /// that forecasts `t` (the domain checks lags ≥ horizon).
    pub(crate) fn features(&self, t: usize) -> Result<Vec<f64>, ForecastError> {
        let (lags, harmonics, regressors) = self.linear_params();
        let mut row = Vec::with_capacity(1 + lags.len() + 2 * harmonics + 6 + regressors.len());
        row.push(1.0);
        for lag in lags {
            let v = t.checked_sub(*lag).map(|j| self.filled[j]).filter(|v| v.is_finite());
            row.push(v.ok_or_else(|| ForecastError::History(format!("no value {lag} steps before the forecast")))?);
        }
        let frac = self.calendar.day_frac[t];
        for k in 1..=harmonics {
            let angle = TAU * k as f64 * frac;
            row.push(angle.sin());
            row.push(angle.cos());
        }
        let weekday = self.calendar.weekday[t];
        row.extend((0..6).map(|d| if weekday == d { 1.0 } else { 0.0 }));
        for name in regressors {
            let values = self.frame.regressors.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice());
            let v = values.and_then(|v| v.get(t)).copied().filter(|v| v.is_finite());
            row.push(v.ok_or_else(|| ForecastError::Regressor {
                name: name.clone(),
                at: jiff::Timestamp::from_microsecond(self.frame.time_us(t)).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            })?);
        }
        Ok(row)
    }

    /// Fits on the observed intervals of the window before `end`.
    pub(crate) fn fit_linear(&self, end: usize) -> Result<LinearFit, ForecastError> {
        let MethodSpec::Linear { ridge, regressors, .. } = &self.spec.method else {
            return Err(ForecastError::Method("not a linear model".into()));
        };
        if let Some(missing) = regressors.iter().find(|r| !self.frame.regressors.iter().any(|(n, _)| n == *r)) {
            return Err(ForecastError::Method(format!("regressor `{missing}` was not loaded")));
        }
        let names = self.feature_names();
        let p = names.len();
        let start = end.saturating_sub(self.spec.window_steps(self.frame.step_s)).max(self.first);
        let mut xtx = DMatrix::<f64>::zeros(p, p);
        let mut xty = DVector::<f64>::zeros(p);
        let mut rows = 0usize;
        for t in start..end {
            let y = self.frame.y[t];
            let Ok(x) = self.features(t) else { continue };
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
        for i in 1..p {
            xtx[(i, i)] += ridge * xtx[(i, i)].max(1e-12);
        }
        let beta = match xtx.clone().cholesky() {
            Some(c) => c.solve(&xty),
            None => xtx.svd(true, true).solve(&xty, 1e-10).map_err(|e| ForecastError::Method(e.to_string()))?,
        };
        Ok(LinearFit { names, coefficients: beta.iter().copied().collect() })
    }
}
