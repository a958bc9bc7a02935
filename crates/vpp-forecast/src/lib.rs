//! Forecasting models of the vpp platform.
//!
//! Three methods, all fitted only on data before the forecast origin:
//!
//! * **Seasonal naive**: the value one season earlier; the baseline every
//!   other method must beat.
//! * **MSTL** from the `augurs` crate: daily and weekly seasons are
//!   decomposed, the remaining trend is forecast by AutoETS.
//! * **Linear**: ridge regression on lags (each at least the horizon long,
//!   so every feature is known at the origin), daily harmonics, weekday
//!   dummies, non-workdays of a holiday calendar with their own daily
//!   shape, heating and cooling degrees, and regressor series such as
//!   weather forecasts.
//! * **Physical correction**: a PV or wind resource's physical forecast
//!   plus a ridge regression of the residual (measured − physical) on the
//!   physical forecast itself, its daily shape and the weather. It is
//!   scored against the physical forecast alone, so its skill says what the
//!   learning adds to the physics.
//!
//! [`train`] scores a method by rolling-origin cross-validation (MAE, RMSE
//! and WAPE by hour ahead) and turns the errors into quantile offsets by
//! hour ahead, so [`predict`] returns p10 and p90 beside the point. The
//! coverage of those quantiles is itself checked leave-one-origin-out,
//! since augurs' own intervals under-cover on 15-minute prices.

mod linear;
pub mod physical;
mod score;

use std::time::Instant;

use augurs::ets::AutoETS;
use augurs::mstl::{FittedTrendModel, MSTLModel, TrendModel};
use augurs::{Fit, Predict};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use vpp_domain::ai_model::{MethodSpec, Spec};
use vpp_domain::tariff::tou::HolidayCalendar;

pub use score::{HourScore, Metrics, Score, accuracy};

/// A forecasting failure.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// Not enough usable history for the method and parameters.
    #[error("not enough history: {0}")]
    History(String),
    /// A regressor has no value where one is needed.
    #[error("regressor `{name}` has no value for {at}")]
    Regressor {
        /// Its series name.
        name: String,
        /// The interval without a value.
        at: Timestamp,
    },
    /// The method itself failed.
    #[error("{0}")]
    Method(String),
}

/// A regular series with its regressors, on one time grid.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Start of the first interval, µs.
    pub start_us: i64,
    /// Interval length, seconds.
    pub step_s: i64,
    /// Where calendar features are taken (weekday, hour of day).
    pub tz: TimeZone,
    /// Observed values; NaN where missing.
    pub y: Vec<f64>,
    /// Regressors by name, on the same grid, possibly running beyond `y`
    /// (forecasts of the weather, say); NaN where missing.
    pub regressors: Vec<(String, Vec<f64>)>,
    /// The holiday calendar whose non-workdays a LINEAR model with
    /// `holidays` learns apart (weekends only when it lists no days).
    pub holidays: Option<HolidayCalendar>,
    /// The physical forecast on the same grid, possibly running beyond `y`
    /// (PHYSICAL_CORRECTION only); NaN where missing.
    pub physical: Vec<f64>,
}

impl Frame {
    /// A frame of observed values `y` without regressors, calendar or physics.
    pub fn new(start_us: i64, step_s: i64, tz: TimeZone, y: Vec<f64>) -> Self {
        Self { start_us, step_s, tz, y, regressors: Vec::new(), holidays: None, physical: Vec::new() }
    }

    /// The physical forecast of interval `i`, if known.
    fn physical_at(&self, i: usize) -> Option<f64> {
        self.physical.get(i).copied().filter(|v| v.is_finite())
    }

    /// Start of interval `i`, µs.
    pub fn time_us(&self, i: usize) -> i64 {
        self.start_us + i as i64 * self.step_s * 1_000_000
    }

    /// Index of the interval starting at `t_us` (which must be on the grid).
    pub fn index_of(&self, t_us: i64) -> Option<usize> {
        let step = self.step_s * 1_000_000;
        let d = t_us - self.start_us;
        (d >= 0 && d % step == 0).then_some((d / step) as usize)
    }

    /// The values with gaps filled from the past only: the value a day
    /// earlier if known, else the previous value. Leading gaps stay NaN.
    fn filled(&self) -> Vec<f64> {
        let day = (86_400 / self.step_s.max(1)) as usize;
        let mut out = self.y.clone();
        for i in 0..out.len() {
            if !out[i].is_finite() {
                let a_day_ago = i.checked_sub(day).map(|j| out[j]).filter(|v| v.is_finite());
                out[i] = a_day_ago.or_else(|| i.checked_sub(1).map(|j| out[j])).unwrap_or(f64::NAN);
            }
        }
        out
    }

    /// Index of the first observed value.
    fn first_observed(&self) -> Option<usize> {
        self.y.iter().position(|v| v.is_finite())
    }
}

/// A point forecast with its 10 % and 90 % quantiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Start of the first forecast interval, µs.
    pub start_us: i64,
    /// Point forecasts.
    pub point: Vec<f64>,
    /// 10 % quantiles.
    pub p10: Vec<f64>,
    /// 90 % quantiles.
    pub p90: Vec<f64>,
}

/// What training leaves behind for prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    /// Cross-validation scores.
    pub score: Score,
    /// Error quantiles (q10, q90) by hour ahead, added to point forecasts.
    pub quantiles: Vec<(f64, f64)>,
    /// Regression coefficients by feature name (LINEAR only).
    pub coefficients: Option<Vec<(String, f64)>>,
    /// End of the training data (exclusive), µs: the coefficients saw
    /// nothing from here on.
    pub trained_to_us: i64,
    /// Values used from the training window and gaps filled in it.
    pub observations: usize,
    /// Gaps filled from the past.
    pub filled: usize,
    /// Wall time of training and cross-validation, ms.
    pub fit_ms: f64,
}

/// Scores `spec` by rolling-origin cross-validation on `frame` and fits it
/// on everything observed.
pub fn train(spec: &Spec, frame: &Frame) -> Result<Trained, ForecastError> {
    let started = Instant::now();
    let filled = frame.filled();
    let first = frame.first_observed().ok_or_else(|| ForecastError::History("the series has no values".into()))?;
    let end = frame.y.iter().rposition(|v| v.is_finite()).map_or(0, |i| i + 1);
    let calendar = Calendar::new(frame, end + spec.horizon);
    let needed = min_history(spec, frame.step_s);
    let last_origin = end.saturating_sub(spec.horizon);
    let earliest = last_origin.saturating_sub((spec.cv_origins - 1) * spec.cv_step);
    if last_origin < spec.horizon || earliest < first + needed {
        return Err(ForecastError::History(format!(
            "{} origins {} steps apart with a horizon of {} need {} observed steps; the series has {}",
            spec.cv_origins,
            spec.cv_step,
            spec.horizon,
            needed + (spec.cv_origins - 1) * spec.cv_step + spec.horizon,
            end - first
        )));
    }
    let origins: Vec<usize> = (0..spec.cv_origins).map(|k| earliest + k * spec.cv_step).collect();
    let ctx = Context { spec, frame, filled: &filled, calendar: &calendar, first };
    // Folds are independent: split them over two threads (the machines have two cores).
    let forecasts: Vec<Result<Vec<f64>, ForecastError>> = std::thread::scope(|s| {
        let (a, b) = origins.split_at(origins.len() / 2);
        let ctx = &ctx;
        let other = s.spawn(move || a.iter().map(|&o| ctx.forecast(o, spec.horizon, None)).collect::<Vec<_>>());
        let mut mine: Vec<_> = b.iter().map(|&o| ctx.forecast(o, spec.horizon, None)).collect();
        let mut all = other.join().unwrap_or_else(|_| vec![Err(ForecastError::Method("a fold panicked".into()))]);
        all.append(&mut mine);
        all
    });
    let forecasts = forecasts.into_iter().collect::<Result<Vec<_>, _>>()?;
    let (baseline_name, baseline) = match &spec.method {
        // What the learning adds to the physics: the physical forecast alone.
        MethodSpec::PhysicalCorrection { .. } => (
            "physical forecast",
            origins
                .iter()
                .map(|&o| (o..o + spec.horizon).map(|t| frame.physical_at(t).unwrap_or(f64::NAN)).collect())
                .collect::<Vec<Vec<f64>>>(),
        ),
        _ => {
            let baseline_spec =
                Spec { method: MethodSpec::SeasonalNaive { period: baseline_period(frame.step_s) }, ..spec.clone() };
            let baseline_ctx = Context { spec: &baseline_spec, ..ctx };
            let forecasts: Result<Vec<Vec<f64>>, _> =
                origins.iter().map(|&o| baseline_ctx.forecast(o, spec.horizon, None)).collect();
            ("weekly seasonal naive", forecasts.unwrap_or_default())
        }
    };
    let baseline = (!baseline.is_empty()).then_some(baseline);
    let per_hour = (3600 / frame.step_s.max(1)).max(1) as usize;
    let folds: Vec<(usize, &[f64])> = origins.iter().copied().zip(forecasts.iter().map(Vec::as_slice)).collect();
    let (mut score, quantiles) = score::score(frame, &folds, baseline.as_deref(), per_hour);
    score.baseline = baseline.is_some().then(|| baseline_name.to_string());
    let coefficients = match &spec.method {
        MethodSpec::Linear { .. } | MethodSpec::PhysicalCorrection { .. } => Some(ctx.fit_linear(end)?.named()),
        _ => None,
    };
    let window_start = end.saturating_sub(spec.window_steps(frame.step_s)).max(first);
    Ok(Trained {
        score,
        quantiles,
        coefficients,
        trained_to_us: frame.time_us(end),
        observations: frame.y[window_start..end].iter().filter(|v| v.is_finite()).count(),
        filled: frame.y[window_start..end].iter().filter(|v| !v.is_finite()).count(),
        fit_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Forecasts `horizon` steps from `origin_us` (an interval start on the
/// frame's grid) using only values before it. A LINEAR model reuses its
/// trained coefficients when the origin is at or after the end of its
/// training data, and is refitted on the window before the origin
/// otherwise, so a replay of the past never sees the future.
pub fn predict(
    spec: &Spec,
    trained: &Trained,
    frame: &Frame,
    origin_us: i64,
    horizon: usize,
) -> Result<Prediction, ForecastError> {
    let origin = frame
        .index_of(origin_us)
        .ok_or_else(|| ForecastError::History("the origin is not on the series' grid".into()))?;
    let filled = frame.filled();
    let first = frame.first_observed().ok_or_else(|| ForecastError::History("the series has no values".into()))?;
    let calendar = Calendar::new(frame, origin + horizon);
    let ctx = Context { spec, frame, filled: &filled, calendar: &calendar, first };
    if origin < first + min_history(spec, frame.step_s) {
        return Err(ForecastError::History(format!(
            "{} observed steps before the origin are needed",
            min_history(spec, frame.step_s)
        )));
    }
    let stored = match (&trained.coefficients, origin_us >= trained.trained_to_us) {
        (Some(named), true) => Some(named.iter().map(|(_, c)| *c).collect::<Vec<_>>()),
        _ => None,
    };
    let point = ctx.forecast(origin, horizon, stored.as_deref())?;
    let per_hour = (3600 / frame.step_s.max(1)).max(1) as usize;
    let band =
        |h: usize| trained.quantiles.get(h / per_hour).or(trained.quantiles.last()).copied().unwrap_or((0.0, 0.0));
    let p10 = point.iter().enumerate().map(|(h, p)| p + band(h).0).collect();
    let p90 = point.iter().enumerate().map(|(h, p)| p + band(h).1).collect();
    Ok(Prediction { start_us: origin_us, point, p10, p90 })
}

/// AutoETS fitted on the most recent part of MSTL's deseasonalised
/// series only: the trend forecast depends on where the level is now, and
/// fitting all of a year costs ~0.8 s per fit against ~50 ms for four weeks,
/// the difference between 8 s and 1 s for a cross-validated training run.
#[derive(Debug)]
struct RecentTrend {
    steps: usize,
}

impl TrendModel for RecentTrend {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("AutoETS on the last four weeks")
    }

    fn fit(
        &self,
        y: &[f64],
    ) -> Result<Box<dyn FittedTrendModel + Sync + Send>, Box<dyn std::error::Error + Send + Sync>> {
        AutoETS::non_seasonal().into_trend_model().fit(&y[y.len().saturating_sub(self.steps)..])
    }
}

/// The seasonal-naive period used as the baseline: a week of steps.
fn baseline_period(step_s: i64) -> usize {
    (7 * 86_400 / step_s.max(1)) as usize
}

/// Observed steps a method needs before its first origin.
fn min_history(spec: &Spec, step_s: i64) -> usize {
    let day = (86_400 / step_s.max(1)) as usize;
    match &spec.method {
        MethodSpec::SeasonalNaive { period } => *period,
        MethodSpec::Mstl { periods } => 2 * periods.iter().copied().max().unwrap_or(1),
        MethodSpec::Linear { lags, .. } => lags.iter().copied().max().unwrap_or(0) + 14 * day,
        // Two weeks of measurements against the physics; no seasonal baseline.
        MethodSpec::PhysicalCorrection { .. } => return 14 * day,
    }
    .max(baseline_period(step_s))
}

/// Local day fraction, weekday and day kind of every interval.
struct Calendar {
    day_frac: Vec<f64>,
    /// 0 = Monday … 6 = Sunday.
    weekday: Vec<u8>,
    /// Not a workday by the frame's holiday calendar (weekends without one).
    non_workday: Vec<bool>,
}

impl Calendar {
    fn new(frame: &Frame, len: usize) -> Self {
        let mut day_frac = Vec::with_capacity(len);
        let mut weekday = Vec::with_capacity(len);
        let mut non_workday = Vec::with_capacity(len);
        let no_holidays = HolidayCalendar { days: Vec::new() };
        let holidays = frame.holidays.as_ref().unwrap_or(&no_holidays);
        for i in 0..len {
            let z = Timestamp::from_microsecond(frame.time_us(i))
                .unwrap_or(Timestamp::UNIX_EPOCH)
                .to_zoned(frame.tz.clone());
            let secs = i64::from(z.hour()) * 3600 + i64::from(z.minute()) * 60 + i64::from(z.second());
            day_frac.push(secs as f64 / 86_400.0);
            weekday.push(z.weekday().to_monday_zero_offset() as u8);
            non_workday.push(!holidays.is_workday(z.date()));
        }
        Self { day_frac, weekday, non_workday }
    }
}

/// What every fold shares.
#[derive(Clone, Copy)]
struct Context<'a> {
    spec: &'a Spec,
    frame: &'a Frame,
    filled: &'a [f64],
    calendar: &'a Calendar,
    first: usize,
}

impl Context<'_> {
    /// Forecasts `horizon` steps from `origin` from values before it.
    fn forecast(&self, origin: usize, horizon: usize, coefficients: Option<&[f64]>) -> Result<Vec<f64>, ForecastError> {
        let window_start = origin.saturating_sub(self.spec.window_steps(self.frame.step_s)).max(self.first);
        match &self.spec.method {
            MethodSpec::SeasonalNaive { period } => (0..horizon)
                .map(|h| {
                    let back = (h / period + 1) * period;
                    (origin + h)
                        .checked_sub(back)
                        .map(|j| self.filled[j])
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| ForecastError::History(format!("no value {back} steps before the forecast")))
                })
                .collect(),
            MethodSpec::Mstl { periods } => {
                let model =
                    MSTLModel::new(periods.clone(), RecentTrend { steps: 28 * 86_400 / self.frame.step_s as usize });
                let fit =
                    model.fit(&self.filled[window_start..origin]).map_err(|e| ForecastError::Method(e.to_string()))?;
                let forecast = fit.predict(horizon, None).map_err(|e| ForecastError::Method(e.to_string()))?;
                Ok(forecast.point)
            }
            MethodSpec::Linear { .. } | MethodSpec::PhysicalCorrection { .. } => {
                let fitted;
                let coefficients = match coefficients {
                    Some(c) => c,
                    None => {
                        fitted = self.fit_linear(origin)?;
                        &fitted.coefficients
                    }
                };
                let design = self.design();
                // Generation is not negative, whatever the correction says at night.
                let floor = match self.spec.method {
                    MethodSpec::PhysicalCorrection { .. } => 0.0,
                    _ => f64::NEG_INFINITY,
                };
                (origin..origin + horizon)
                    .map(|t| Ok((self.offset(t)? + linear::dot(coefficients, &self.features(&design, t)?)).max(floor)))
                    .collect()
            }
        }
    }
}
