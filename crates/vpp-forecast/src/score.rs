//! Accuracy by hour ahead, error quantiles and their honest coverage.

use serde::{Deserialize, Serialize};

use crate::Frame;

/// Accuracy over a set of forecast errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ForecastMetrics)]
pub struct Metrics {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Weighted absolute percentage error: Σ|error| / Σ|actual| (null when the actuals sum to zero).
    pub wape: Option<f64>,
    /// Errors counted.
    pub n: usize,
}

/// Accuracy of one hour ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HourScore {
    /// Hours ahead of the origin, 1 = the first hour.
    pub hour_ahead: usize,
    /// Accuracy.
    #[serde(flatten)]
    pub metrics: Metrics,
    /// 10 % quantile of actual − forecast.
    pub q10: f64,
    /// 90 % quantile of actual − forecast.
    pub q90: f64,
}

/// A cross-validation's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Score {
    /// Forecast origins, µs.
    pub origins_us: Vec<i64>,
    /// All hours together.
    pub overall: Metrics,
    /// By hour ahead.
    pub by_hour: Vec<HourScore>,
    /// What the skill is measured against: `weekly seasonal naive`, or
    /// `physical forecast` for a physical correction.
    #[serde(default)]
    pub baseline: Option<String>,
    /// MAE of the baseline forecast on the same origins.
    pub baseline_mae: Option<f64>,
    /// 1 − MAE / baseline MAE: above zero beats the baseline.
    pub skill: Option<f64>,
    /// Share of actuals inside [p10, p90] when each origin's band comes
    /// from the other origins' errors (0.8 is well calibrated).
    pub interval_coverage: Option<f64>,
}

#[derive(Default)]
struct Acc {
    abs: f64,
    sq: f64,
    actual: f64,
    n: usize,
}

impl Acc {
    fn add(&mut self, actual: f64, err: f64) {
        self.abs += err.abs();
        self.sq += err * err;
        self.actual += actual.abs();
        self.n += 1;
    }

    fn metrics(&self) -> Metrics {
        let n = self.n.max(1) as f64;
        Metrics {
            mae: self.abs / n,
            rmse: (self.sq / n).sqrt(),
            wape: (self.actual > 0.0).then(|| self.abs / self.actual),
            n: self.n,
        }
    }
}

/// Accuracy of `(actual, forecast)` pairs; `None` without any.
pub fn accuracy(pairs: impl IntoIterator<Item = (f64, f64)>) -> Option<Metrics> {
    let mut acc = Acc::default();
    for (actual, forecast) in pairs {
        acc.add(actual, actual - forecast);
    }
    (acc.n > 0).then(|| acc.metrics())
}

/// Type-7 quantile (linear between order statistics) of sorted values.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn band(errors: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut e: Vec<f64> = errors.collect();
    e.sort_by(f64::total_cmp);
    (quantile(&e, 0.1), quantile(&e, 0.9))
}

/// Scores folds `(origin, forecast)` against the frame's actuals.
pub(crate) fn score(
    frame: &Frame,
    folds: &[(usize, &[f64])],
    baseline: Option<&[Vec<f64>]>,
    per_hour: usize,
) -> (Score, Vec<(f64, f64)>) {
    let horizon = folds.iter().map(|(_, f)| f.len()).max().unwrap_or(0);
    let hours = horizon.div_ceil(per_hour);
    // errors[fold][hour] = actual − forecast for every observed actual.
    let errors: Vec<Vec<Vec<f64>>> = folds
        .iter()
        .map(|(origin, forecast)| {
            let mut by_hour = vec![Vec::new(); hours];
            for (h, f) in forecast.iter().enumerate() {
                if let Some(a) = frame.y.get(origin + h).filter(|a| a.is_finite()) {
                    by_hour[h / per_hour].push(a - f);
                }
            }
            by_hour
        })
        .collect();
    let mut overall = Acc::default();
    let mut by_hour = Vec::with_capacity(hours);
    let mut quantiles = Vec::with_capacity(hours);
    for hour in 0..hours {
        let mut acc = Acc::default();
        for (origin, forecast) in folds {
            for (h, f) in forecast.iter().enumerate().skip(hour * per_hour).take(per_hour) {
                if let Some(a) = frame.y.get(origin + h).filter(|a| a.is_finite()) {
                    acc.add(*a, a - f);
                    overall.add(*a, a - f);
                }
            }
        }
        let (q10, q90) = band(errors.iter().flat_map(|e| e[hour].iter().copied()));
        quantiles.push((q10, q90));
        by_hour.push(HourScore { hour_ahead: hour + 1, metrics: acc.metrics(), q10, q90 });
    }
    // Leave one origin out: is each fold's actual inside the band learnt
    // from the other folds?
    let (mut inside, mut total) = (0usize, 0usize);
    if folds.len() > 1 {
        for (k, errs) in errors.iter().enumerate() {
            for (hour, hour_errs) in errs.iter().enumerate() {
                let others =
                    errors.iter().enumerate().filter(|(j, _)| *j != k).flat_map(|(_, e)| e[hour].iter().copied());
                let (lo, hi) = band(others);
                inside += hour_errs.iter().filter(|e| (lo..=hi).contains(*e)).count();
                total += hour_errs.len();
            }
        }
    }
    let overall = overall.metrics();
    let baseline_mae = baseline.map(|b| {
        let mut acc = Acc::default();
        for ((origin, _), forecast) in folds.iter().zip(b) {
            for (h, f) in forecast.iter().enumerate().filter(|(_, f)| f.is_finite()) {
                if let Some(a) = frame.y.get(origin + h).filter(|a| a.is_finite()) {
                    acc.add(*a, a - f);
                }
            }
        }
        acc.metrics().mae
    });
    let skill = baseline_mae.filter(|b| *b > 0.0).map(|b| 1.0 - overall.mae / b);
    let score = Score {
        origins_us: folds.iter().map(|(o, _)| frame.time_us(*o)).collect(),
        overall,
        by_hour,
        baseline: None,
        baseline_mae,
        skill,
        interval_coverage: (total > 0).then(|| inside as f64 / total as f64),
    };
    (score, quantiles)
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantile_is_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert!((quantile(&v, 0.1) - 1.9).abs() < 1e-12);
        assert!((quantile(&v, 0.9) - 9.1).abs() < 1e-12);
        assert_eq!(quantile(&[3.0], 0.9), 3.0);
    }
}
