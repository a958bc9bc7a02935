//! Forecasting models in the registry: what a client registers, the method
//! and its parameters, and what each trained version records.
//!
//! The methods themselves live in the `vpp-forecast` crate; this module
//! only names and checks them, so every layer shares one definition.

use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid, check_name};

/// What a model forecasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModelType {
    /// Market prices.
    Price,
    /// Consumption.
    Demand,
    /// Generation.
    Generation,
    /// A risk driver such as the imbalance price.
    Risk,
}

impl ModelType {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Price => "PRICE",
            Self::Demand => "DEMAND",
            Self::Generation => "GENERATION",
            Self::Risk => "RISK",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Price, Self::Demand, Self::Generation, Self::Risk].into_iter().find(|t| t.as_str() == s)
    }
}

/// A forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Method {
    /// The value one season earlier.
    SeasonalNaive,
    /// MSTL decomposition (daily and weekly seasons) with an AutoETS trend.
    Mstl,
    /// Ridge regression on lags, calendar harmonics, weekdays, holidays and weather regressors.
    Linear,
    /// A GENERATION model of a PV or wind resource: its physical forecast
    /// (from technical data and weather) corrected by a ridge regression
    /// learnt on the residual between measured infeed and that forecast.
    PhysicalCorrection,
}

impl Method {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SeasonalNaive => "SEASONAL_NAIVE",
            Self::Mstl => "MSTL",
            Self::Linear => "LINEAR",
            Self::PhysicalCorrection => "PHYSICAL_CORRECTION",
        }
    }
}

/// Parameters as a client sends them; absent ones take the defaults below.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// Season length in steps for SEASONAL_NAIVE (default 672: a week of quarter-hours).
    #[serde(default)]
    pub period: Option<usize>,
    /// Season lengths in steps for MSTL (default [96, 672]).
    #[serde(default)]
    pub periods: Option<Vec<usize>>,
    /// Lags in steps for LINEAR (default [192, 672]); each must be at least the horizon.
    #[serde(default)]
    pub lags: Option<Vec<usize>>,
    /// Daily sine/cosine pairs for LINEAR (default 4) and PHYSICAL_CORRECTION
    /// (default 2: they shape the correction over the day), at most 12.
    #[serde(default)]
    pub harmonics: Option<usize>,
    /// Names of stored series used as regressors by LINEAR (weather, say).
    #[serde(default)]
    pub regressors: Vec<String>,
    /// Ridge penalty for LINEAR and PHYSICAL_CORRECTION (default 0.001).
    #[serde(default)]
    pub ridge: Option<f64>,
    /// Region of the holiday calendar (`PUT /holiday-calendars/{region}`)
    /// whose non-workdays LINEAR learns apart, with their own daily shape.
    #[serde(default)]
    pub holidays: Option<String>,
    /// Name of a stored temperature series (°C) whose heating and cooling
    /// degrees (below and above 18 °C) LINEAR and PHYSICAL_CORRECTION learn from.
    #[serde(default)]
    pub temperature: Option<String>,
    /// Days of history each fit sees (default 365).
    #[serde(default)]
    pub window_days: Option<u32>,
    /// Steps ahead to forecast and to score (default 192: two days of quarter-hours).
    #[serde(default)]
    pub horizon: Option<usize>,
    /// Rolling origins in cross-validation (default 10).
    #[serde(default)]
    pub cv_origins: Option<usize>,
    /// Steps between origins (default 96).
    #[serde(default)]
    pub cv_step: Option<usize>,
}

/// The method with every parameter decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MethodSpec {
    /// The value one season earlier.
    SeasonalNaive {
        /// Season length, steps.
        period: usize,
    },
    /// MSTL with an AutoETS trend.
    Mstl {
        /// Season lengths, steps.
        periods: Vec<usize>,
    },
    /// Ridge regression.
    Linear {
        /// Lags, steps.
        lags: Vec<usize>,
        /// Daily harmonics.
        harmonics: usize,
        /// Regressor series names.
        regressors: Vec<String>,
        /// Ridge penalty.
        ridge: f64,
        /// Holiday calendar region: non-workdays get their own level and daily shape.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holidays: Option<String>,
        /// Temperature series name: heating and cooling degrees are features.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        temperature: Option<String>,
    },
    /// The physical forecast plus a learnt correction of its residual.
    PhysicalCorrection {
        /// Daily harmonics, each multiplied by the physical forecast.
        harmonics: usize,
        /// Regressor series names.
        regressors: Vec<String>,
        /// Ridge penalty.
        ridge: f64,
        /// Temperature series name: heating and cooling degrees are features.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        temperature: Option<String>,
    },
}

/// Everything a training run needs besides the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Spec {
    /// The method.
    #[serde(flatten)]
    pub method: MethodSpec,
    /// Days of history each fit sees.
    pub window_days: u32,
    /// Steps ahead.
    pub horizon: usize,
    /// Rolling origins.
    pub cv_origins: usize,
    /// Steps between origins.
    pub cv_step: usize,
}

impl Spec {
    /// Steps of history each fit sees at `step_s` seconds per step.
    pub fn window_steps(&self, step_s: i64) -> usize {
        (i64::from(self.window_days) * 86_400 / step_s.max(1)) as usize
    }
}

impl ModelParams {
    /// Method-specific fields and whether each is set.
    fn set_fields(&self) -> [(bool, &'static str); 8] {
        [
            (self.period.is_some(), "period"),
            (self.periods.is_some(), "periods"),
            (self.lags.is_some(), "lags"),
            (self.harmonics.is_some(), "harmonics"),
            (!self.regressors.is_empty(), "regressors"),
            (self.ridge.is_some(), "ridge"),
            (self.holidays.is_some(), "holidays"),
            (self.temperature.is_some(), "temperature"),
        ]
    }

    fn harmonics(&self, e: &mut Errors, default: usize) -> usize {
        let harmonics = self.harmonics.unwrap_or(default);
        e.check(harmonics <= 12, "params.harmonics", "must be at most 12");
        harmonics
    }

    fn regressors(&self, e: &mut Errors) -> Vec<String> {
        e.check(self.regressors.len() <= 8, "params.regressors", "must name at most 8 series");
        for (i, r) in self.regressors.iter().enumerate() {
            check_name(e, &format!("params.regressors[{i}]"), r);
        }
        self.regressors.clone()
    }

    fn ridge(&self, e: &mut Errors) -> f64 {
        let ridge = self.ridge.unwrap_or(1e-3);
        e.range("params.ridge", ridge, 0.0, 1e6);
        ridge
    }

    fn temperature(&self, e: &mut Errors) -> Option<String> {
        if let Some(name) = &self.temperature {
            check_name(e, "params.temperature", name);
        }
        self.temperature.clone()
    }
}

impl ModelParams {
    /// Decides every parameter for `method`, naming each bad field
    /// (`params.<name>`).
    pub fn check(&self, method: Method) -> Result<Spec, Invalid> {
        let mut e = Errors::default();
        let horizon = self.horizon.unwrap_or(192);
        e.check((1..=2880).contains(&horizon), "params.horizon", "must be between 1 and 2880 steps");
        let window_days = self.window_days.unwrap_or(365);
        e.check((7..=3650).contains(&window_days), "params.window_days", "must be between 7 and 3650 days");
        let cv_origins = self.cv_origins.unwrap_or(10);
        e.check((2..=100).contains(&cv_origins), "params.cv_origins", "must be between 2 and 100");
        let cv_step = self.cv_step.unwrap_or(96);
        e.check((1..=2880).contains(&cv_step), "params.cv_step", "must be between 1 and 2880 steps");
        let unused = |e: &mut Errors, set: bool, field: &str| {
            e.check(!set, format!("params.{field}"), format!("is not a parameter of {}", method.as_str()));
        };
        let method = match method {
            Method::SeasonalNaive => {
                for (set, field) in self.set_fields() {
                    if field != "period" {
                        unused(&mut e, set, field);
                    }
                }
                let period = self.period.unwrap_or(672);
                e.check((1..=20_160).contains(&period), "params.period", "must be between 1 and 20160 steps");
                MethodSpec::SeasonalNaive { period }
            }
            Method::Mstl => {
                for (set, field) in self.set_fields() {
                    if field != "periods" {
                        unused(&mut e, set, field);
                    }
                }
                let periods = self.periods.clone().unwrap_or_else(|| vec![96, 672]);
                e.check(!periods.is_empty() && periods.len() <= 4, "params.periods", "must name one to four seasons");
                for (i, p) in periods.iter().enumerate() {
                    e.check(
                        (2..=20_160).contains(p),
                        format!("params.periods[{i}]"),
                        "must be between 2 and 20160 steps",
                    );
                }
                MethodSpec::Mstl { periods }
            }
            Method::Linear => {
                unused(&mut e, self.period.is_some(), "period");
                unused(&mut e, self.periods.is_some(), "periods");
                let lags = self.lags.clone().unwrap_or_else(|| vec![192, 672]);
                e.check(lags.len() <= 16, "params.lags", "must name at most 16 lags");
                for (i, lag) in lags.iter().enumerate() {
                    e.check(
                        *lag >= horizon && *lag <= 20_160,
                        format!("params.lags[{i}]"),
                        format!("must be between the horizon ({horizon}) and 20160 steps: a shorter lag is unknown when forecasting that far"),
                    );
                }
                if let Some(region) = &self.holidays {
                    e.check(
                        !region.trim().is_empty() && region.len() <= 64,
                        "params.holidays",
                        "must be a region code of 1 to 64 characters",
                    );
                }
                MethodSpec::Linear {
                    lags,
                    harmonics: self.harmonics(&mut e, 4),
                    regressors: self.regressors(&mut e),
                    ridge: self.ridge(&mut e),
                    holidays: self.holidays.clone(),
                    temperature: self.temperature(&mut e),
                }
            }
            Method::PhysicalCorrection => {
                for (set, field) in self.set_fields() {
                    if ["period", "periods", "lags", "holidays"].contains(&field) {
                        unused(&mut e, set, field);
                    }
                }
                MethodSpec::PhysicalCorrection {
                    harmonics: self.harmonics(&mut e, 2),
                    regressors: self.regressors(&mut e),
                    ridge: self.ridge(&mut e),
                    temperature: self.temperature(&mut e),
                }
            }
        };
        e.finish(Spec { method, window_days, horizon, cv_origins, cv_step })
    }
}

/// A model as a client registers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRequest {
    /// Unique name.
    pub name: String,
    /// What it forecasts.
    pub model_type: ModelType,
    /// The series it learns from and forecasts.
    pub target_series_id: String,
    /// The method.
    pub method: Method,
    /// Method parameters.
    #[serde(default)]
    pub params: ModelParams,
    /// IANA zone of the calendar features (hour of day, weekday).
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_zone() -> String {
    "Europe/Berlin".into()
}

impl ModelRequest {
    /// Checks the request and decides the parameters.
    pub fn check(&self) -> Result<Spec, Invalid> {
        let mut e = Errors::default();
        check_name(&mut e, "name", &self.name);
        e.check(!self.target_series_id.trim().is_empty(), "target_series_id", "must not be empty");
        if let Err(err) = jiff::tz::TimeZone::get(&self.time_zone) {
            e.push("time_zone", format!("unknown time zone `{}`: {err}", self.time_zone));
        }
        if let Some(d) = &self.description {
            e.check(d.chars().count() <= 2000, "description", "must be at most 2000 characters");
        }
        let spec = self.params.check(self.method);
        if let Err(inner) = &spec {
            e.extend(inner.clone());
        }
        e.finish(())?;
        spec
    }
}

/// Where a trained version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionStatus {
    /// Trained and scored; predicts.
    Ready,
    /// Training failed; the error says why.
    Failed,
}

impl VersionStatus {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Failed => "FAILED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ready, Self::Failed].into_iter().find(|t| t.as_str() == s)
    }
}

/// A registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AiModel {
    /// Id.
    pub id: String,
    /// Its definition.
    #[serde(flatten)]
    pub definition: ModelRequest,
    /// Newest READY version, 0 before the first training.
    pub version: i64,
    /// Who registered it.
    pub created_by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
}

/// A trained version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersion {
    /// The model.
    pub model_id: String,
    /// 1, 2, …
    pub version: i64,
    /// READY or FAILED.
    pub status: VersionStatus,
    /// The parameters it was trained with.
    pub spec: Spec,
    /// First interval of the training data.
    #[schema(value_type = String, format = DateTime)]
    pub train_from: jiff::Timestamp,
    /// End of the training data (exclusive).
    #[schema(value_type = String, format = DateTime)]
    pub train_to: jiff::Timestamp,
    /// Scores, quantiles and coefficients (READY only).
    #[schema(value_type = Option<Object>)]
    pub trained: Option<serde_json::Value>,
    /// Why training failed.
    pub error: Option<String>,
    /// Training and cross-validation wall time, ms.
    pub fit_ms: f64,
    /// Who trained it.
    pub trained_by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub trained_at: jiff::Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_decided_and_bad_fields_named() {
        let spec = ModelParams::default().check(Method::Mstl).expect("defaults");
        assert_eq!(spec.method, MethodSpec::Mstl { periods: vec![96, 672] });
        assert_eq!((spec.horizon, spec.cv_origins, spec.window_days), (192, 10, 365));
        assert_eq!(spec.window_steps(900), 35_040);

        let bad = ModelParams { lags: Some(vec![96, 672]), ridge: Some(-1.0), period: Some(4), ..Default::default() };
        let fields: Vec<String> = bad.check(Method::Linear).expect_err("bad").0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["params.period", "params.lags[0]", "params.ridge"]);

        let req = ModelRequest {
            name: " ".into(),
            model_type: ModelType::Price,
            target_series_id: "s".into(),
            method: Method::SeasonalNaive,
            params: ModelParams { horizon: Some(0), ..Default::default() },
            time_zone: "Europe/Berlin".into(),
            description: None,
        };
        let fields: Vec<String> = req.check().expect_err("bad").0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "params.horizon"]);
    }
}
