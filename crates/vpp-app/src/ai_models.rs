//! The model registry at work: loading a model's data as it was known,
//! training versions, predicting with quantiles and storing predictions as
//! forecast beliefs (so backtests of AI-driven strategies see only what
//! the model could have said at the time), and realised accuracy.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use vpp_domain::ai_model::{
    AiModel, Method, MethodSpec, ModelParams, ModelRequest, ModelType, ModelVersion, Spec, VersionStatus,
};
use vpp_domain::series::{Belief, OwnerKind, Quantity, Series, SourceKind};
use vpp_domain::strategy::backtest::Column;
use vpp_forecast::{ForecastError, Frame, Metrics, Prediction, Trained};
use vpp_store::{NewModelVersion, Store, StoreError};

use crate::error::dangling;
use crate::error::{AppError, AppResult};
use crate::forecasts::physical_column;
use crate::series::series_by_name;
use crate::weather::series_on_grid;
use vpp_forecast::physical::PhysicalModel;

const US: i64 = 1_000_000;

/// Checks a registration against what is stored; returns the decided parameters.
pub async fn check_model(store: &Store, req: &ModelRequest) -> AppResult<Spec> {
    let spec = req.check()?;
    let (_, target) = store.get_series(&req.target_series_id).await.map_err(dangling(
        "target_series_id",
        "series",
        &req.target_series_id,
    ))?;
    let fits = match req.model_type {
        ModelType::Price | ModelType::Risk => target.quantity == Quantity::Price,
        ModelType::Demand | ModelType::Generation => matches!(target.quantity, Quantity::Power | Quantity::Energy),
    };
    if !fits {
        return Err(AppError::invalid(
            "target_series_id",
            format!(
                "a {} model forecasts {}; series `{}` holds {}",
                req.model_type.as_str(),
                match req.model_type {
                    ModelType::Price | ModelType::Risk => "prices",
                    _ => "power or energy",
                },
                target.name,
                target.quantity.as_str()
            ),
        ));
    }
    if target.owner_kind == OwnerKind::Model {
        return Err(AppError::invalid("target_series_id", "a model's own output is not something to learn from"));
    }
    for (i, name) in req.params.regressors.iter().enumerate() {
        series_by_name(store, name)
            .await?
            .ok_or_else(|| AppError::invalid(format!("params.regressors[{i}]"), format!("no series named `{name}`")))?;
    }
    if let Some(name) = &req.params.temperature {
        let (_, series) = series_by_name(store, name)
            .await?
            .ok_or_else(|| AppError::invalid("params.temperature", format!("no series named `{name}`")))?;
        if series.quantity != Quantity::Temperature {
            return Err(AppError::invalid(
                "params.temperature",
                format!("series `{name}` holds {}, not temperature", series.quantity.as_str()),
            ));
        }
    }
    if let Some(region) = &req.params.holidays
        && store.calendar(region).await?.days.is_empty()
    {
        return Err(AppError::invalid(
            "params.holidays",
            format!("no holiday calendar is stored for region `{region}` (PUT /api/v1/vpp/holiday-calendars/{region})"),
        ));
    }
    if req.method == Method::PhysicalCorrection {
        if req.model_type != ModelType::Generation {
            return Err(AppError::invalid("model_type", "a PHYSICAL_CORRECTION model forecasts GENERATION"));
        }
        if target.owner_kind != OwnerKind::Resource || target.quantity != Quantity::Power {
            return Err(AppError::invalid(
                "target_series_id",
                format!("a PHYSICAL_CORRECTION model learns a resource's power series; `{}` is not one", target.name),
            ));
        }
        let resource = store.get_resource(&target.owner_id).await?;
        PhysicalModel::of(&resource).map_err(|e| AppError::invalid("target_series_id", e.to_string()))?;
    }
    Ok(spec)
}

/// The values a model learns from: observed sources only, never forecasts.
const OBSERVED: [SourceKind; 3] = [SourceKind::Price, SourceKind::MeterFinal, SourceKind::LiveMeasurement];

/// Loads the frame `[from_us, to_us)` of a model's target as known at
/// `as_of_us`, with its regressors running `ahead` steps beyond.
async fn load_frame(
    store: &Store,
    model: &AiModel,
    spec: &Spec,
    (from_us, to_us): (i64, i64),
    as_of_us: i64,
    ahead: usize,
) -> AppResult<Frame> {
    let def = &model.definition;
    let (key, target) = store.get_series(&def.target_series_id).await?;
    let step_us = target.resolution_s * US;
    let from_us = from_us - from_us.rem_euclid(step_us);
    let beliefs = store.beliefs(key, &OBSERVED, from_us, to_us).await?;
    let source = OBSERVED.into_iter().find(|k| beliefs.iter().any(|b| b.source == *k));
    let Some(source) = source else {
        return Err(AppError::invalid(
            "target_series_id",
            format!("series `{}` has no observed values (prices or meter readings) in the window", target.name),
        ));
    };
    let column = Column::from_beliefs(&beliefs, source, target.resolution_s);
    let n = ((to_us - from_us) / step_us).max(0) as usize;
    let y = (0..n).map(|i| column.as_of(from_us + i as i64 * step_us, as_of_us).unwrap_or(f64::NAN)).collect();
    let tz = TimeZone::get(&def.time_zone).map_err(|e| AppError::invalid("time_zone", e.to_string()))?;
    let mut frame = Frame::new(from_us, target.resolution_s, tz, y);
    let grid = (from_us, step_us, n + ahead);
    let (names, temperature, holidays) = match &spec.method {
        MethodSpec::Linear { regressors, temperature, holidays, .. } => (regressors.as_slice(), temperature, holidays),
        MethodSpec::PhysicalCorrection { regressors, temperature, .. } => (regressors.as_slice(), temperature, &None),
        _ => (&[][..], &None, &None),
    };
    for name in names.iter().chain(temperature) {
        frame.regressors.push((name.clone(), regressor_on_grid(store, name, grid, as_of_us).await?));
    }
    if let Some(region) = holidays {
        frame.holidays = Some(store.calendar(region).await?);
    }
    if let MethodSpec::PhysicalCorrection { .. } = &spec.method {
        let resource = store.get_resource(&target.owner_id).await?;
        let model =
            PhysicalModel::of(&resource).map_err(|e| AppError::conflict_at("target_series_id", e.to_string()))?;
        let column =
            physical_column(store, &resource, &model, (from_us, target.resolution_s, n + ahead), as_of_us).await?;
        frame.physical = column.values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    }
    Ok(frame)
}

/// A regressor series named `name` on the frame's grid, as known at
/// `as_of_us`: a weather series read between its points (hourly weather on
/// quarter-hours), any other as stored (forecasts first, else observed).
async fn regressor_on_grid(
    store: &Store,
    name: &str,
    (from_us, step_us, n): (i64, i64, usize),
    as_of_us: i64,
) -> AppResult<Vec<f64>> {
    let (key, series) = series_by_name(store, name)
        .await?
        .ok_or_else(|| AppError::invalid("params.regressors", format!("no series named `{name}`")))?;
    if series.owner_kind == OwnerKind::Weather {
        let values = series_on_grid(store, key, &series, (from_us, step_us, n), as_of_us).await?;
        return Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect());
    }
    let all = store.beliefs(key, &[], from_us, from_us + n as i64 * step_us).await?;
    // Weather comes as forecasts; fall back to what was observed.
    let source = [SourceKind::Forecast, SourceKind::MeterFinal, SourceKind::LiveMeasurement, SourceKind::Price]
        .into_iter()
        .find(|k| all.iter().any(|b| b.source == *k))
        .unwrap_or(SourceKind::Forecast);
    let col = Column::from_beliefs(&all, source, series.resolution_s);
    Ok((0..n).map(|i| col.as_of(from_us + i as i64 * step_us, as_of_us).unwrap_or(f64::NAN)).collect())
}

/// What a client asks of a training run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// End of the training data (exclusive; now if absent).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<Timestamp>,
    /// New parameters; they replace the model's and are recorded with the version.
    #[serde(default)]
    pub params: Option<ModelParams>,
}

/// Trains the next version: rolling-origin cross-validation on the window
/// before `to`, then a fit on all of it. Not enough history is the
/// client's problem (422, nothing stored); a numerical failure is stored
/// as a FAILED version.
pub async fn train_model(store: &Store, model_id: &str, req: TrainRequest, by: &str) -> AppResult<ModelVersion> {
    let mut model = store.get_model(model_id).await?;
    if let Some(params) = req.params {
        let changed = ModelRequest { params, ..model.definition.clone() };
        check_model(store, &changed).await?;
        model = store.update_model_definition(model_id, &changed).await?;
    }
    let spec = model.definition.check()?;
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    let step_us = target.resolution_s * US;
    let to = req.to.unwrap_or_else(vpp_store::now);
    let to_us = to.as_microsecond() - to.as_microsecond().rem_euclid(step_us);
    let from_us = to_us - spec.window_steps(target.resolution_s) as i64 * step_us;
    // Everything known now about the window trains the model: meter data
    // arrives after the interval it measures, and a model trained today on
    // last month learns from last month's meter readings.
    let known_us = vpp_store::now().as_microsecond().max(to_us);
    let frame = load_frame(store, &model, &spec, (from_us, to_us), known_us, 0).await?;
    let run_spec = spec.clone();
    let outcome = tokio::task::spawn_blocking(move || vpp_forecast::train(&run_spec, &frame))
        .await
        .map_err(AppError::internal)?;
    let window = |from_us: i64| -> AppResult<(Timestamp, Timestamp)> {
        Ok((
            Timestamp::from_microsecond(from_us).map_err(AppError::internal)?,
            Timestamp::from_microsecond(to_us).map_err(AppError::internal)?,
        ))
    };
    let (train_from, train_to) = window(from_us)?;
    let new = match outcome {
        Ok(trained) => NewModelVersion {
            status: VersionStatus::Ready,
            spec,
            train_from,
            train_to,
            fit_ms: trained.fit_ms,
            trained: Some(serde_json::to_value(&trained).map_err(AppError::internal)?),
            error: None,
        },
        Err(ForecastError::History(why)) => return Err(AppError::invalid("to", why)),
        Err(ForecastError::Regressor { name, at }) => {
            return Err(AppError::invalid("params.regressors", format!("`{name}` has no value for {at}")));
        }
        Err(ForecastError::Method(why)) => NewModelVersion {
            status: VersionStatus::Failed,
            spec,
            train_from,
            train_to,
            fit_ms: 0.0,
            trained: None,
            error: Some(why),
        },
    };
    Ok(store.add_model_version(model_id, &new, by).await?)
}

/// One forecast interval.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictedInterval {
    /// Start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Point forecast.
    pub point: f64,
    /// 10 % quantile.
    pub p10: f64,
    /// 90 % quantile.
    pub p90: f64,
}

/// A model's answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictionResponse {
    /// The model.
    pub model_id: String,
    /// The version that answered.
    pub version: i64,
    /// The moment the forecast stands at: only data known by then was used.
    #[schema(value_type = String, format = DateTime)]
    pub origin: Timestamp,
    /// Unit of the target series.
    pub unit: String,
    /// The intervals.
    pub intervals: Vec<PredictedInterval>,
    /// Output series (point, p10, p90) when stored.
    pub stored_series: Option<Vec<String>>,
}

/// What a client asks of a prediction.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Data known until this moment is used (now if absent); the first
    /// forecast interval starts at the interval containing it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub origin: Option<Timestamp>,
    /// Steps ahead (the model's horizon if absent).
    #[serde(default)]
    pub horizon: Option<usize>,
    /// Version (the current one if absent).
    #[serde(default)]
    pub version: Option<i64>,
    /// Store the forecast as beliefs of the model's output series, known at the origin.
    #[serde(default)]
    pub store: bool,
}

/// The model's trained state of a version.
fn trained_of(version: &ModelVersion) -> AppResult<Trained> {
    let value = version
        .trained
        .clone()
        .ok_or_else(|| AppError::conflict(format!("version {} failed to train and cannot predict", version.version)))?;
    serde_json::from_value(value).map_err(AppError::internal)
}

/// Forecasts from `origin_us` (an interval start) for `horizon` steps with
/// the data known at `known_us` (the origin, or the moment in its interval
/// the forecast is made).
async fn forecast_at(
    store: &Store,
    model: &AiModel,
    version: &ModelVersion,
    trained: &Trained,
    (origin_us, known_us): (i64, i64),
    horizon: usize,
) -> AppResult<Prediction> {
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    let step_us = target.resolution_s * US;
    let spec = &version.spec;
    let from_us = origin_us - spec.window_steps(target.resolution_s).max(2 * 672 + 2 * horizon) as i64 * step_us;
    let frame = load_frame(store, model, spec, (from_us, origin_us), known_us, horizon).await?;
    let spec = spec.clone();
    let trained = trained.clone();
    tokio::task::spawn_blocking(move || vpp_forecast::predict(&spec, &trained, &frame, origin_us, horizon))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| match e {
            ForecastError::History(why) => AppError::invalid("origin", why),
            ForecastError::Regressor { name, at } => {
                AppError::invalid("origin", format!("regressor `{name}` has no value known at the origin for {at}"))
            }
            ForecastError::Method(why) => AppError::internal(why),
        })
}

/// The model's three output series, created when first needed.
async fn output_series(store: &Store, model: &AiModel, target: &Series) -> AppResult<[(i64, Series); 3]> {
    let mut out = Vec::with_capacity(3);
    for (suffix, label) in [("p50", ""), ("p10", " p10"), ("p90", " p90")] {
        let owner = format!("{}/{suffix}", model.id);
        let name = format!("{} forecast{label}", model.definition.name);
        out.push(store.ensure_series(OwnerKind::Model, &owner, target.quantity, &name).await?);
    }
    out.try_into().map_err(|_| AppError::internal("three output series"))
}

/// Predicts (and, when asked, stores) a forecast.
pub async fn predict_model(store: &Store, model_id: &str, req: PredictRequest) -> AppResult<PredictionResponse> {
    let model = store.get_model(model_id).await?;
    let version = store.model_version(model_id, req.version).await?;
    let trained = trained_of(&version)?;
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    let step_us = target.resolution_s * US;
    let horizon = req.horizon.unwrap_or(version.spec.horizon);
    if !(1..=2880).contains(&horizon) {
        return Err(AppError::invalid("horizon", "must be between 1 and 2880 steps"));
    }
    let origin = req.origin.unwrap_or_else(vpp_store::now).as_microsecond();
    let origin_us = origin - origin.rem_euclid(step_us);
    let p = forecast_at(store, &model, &version, &trained, (origin_us, origin), horizon).await?;
    let stored_series =
        if req.store { Some(store_known_at(store, &model, &[(p.clone(), origin)], step_us).await?) } else { None };
    Ok(PredictionResponse {
        model_id: model.id.clone(),
        version: version.version,
        origin: Timestamp::from_microsecond(origin_us).map_err(AppError::internal)?,
        unit: target.unit.clone(),
        intervals: p
            .point
            .iter()
            .zip(&p.p10)
            .zip(&p.p90)
            .enumerate()
            .map(|(h, ((point, p10), p90))| {
                Ok(PredictedInterval {
                    start: Timestamp::from_microsecond(origin_us + h as i64 * step_us).map_err(AppError::internal)?,
                    point: *point,
                    p10: *p10,
                    p90: *p90,
                })
            })
            .collect::<AppResult<_>>()?,
        stored_series,
    })
}

/// Walk-forward forecasts for a range of days.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// First delivery day (model time zone).
    #[schema(value_type = String, format = Date)]
    pub from: jiff::civil::Date,
    /// Last delivery day, included.
    #[schema(value_type = String, format = Date)]
    pub to: jiff::civil::Date,
    /// Hours before each day's start the forecast is made (default 12: before a noon gate closure).
    #[serde(default)]
    pub lead_hours: Option<u32>,
    /// Version (the current one if absent).
    #[serde(default)]
    pub version: Option<i64>,
}

/// What a backfill did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackfillResponse {
    /// Days forecast.
    pub days: usize,
    /// Intervals stored per output series.
    pub intervals: usize,
    /// Output series (point, p10, p90).
    pub stored_series: Vec<String>,
    /// Wall time, ms.
    pub elapsed_ms: f64,
}

/// Forecasts each day of a range as the model would have at `lead_hours`
/// before the day, refitting on the data known then, and stores them.
/// This is what makes a backtest of an AI-driven strategy honest.
pub async fn backfill_model(store: &Store, model_id: &str, req: BackfillRequest) -> AppResult<BackfillResponse> {
    let started = std::time::Instant::now();
    let model = store.get_model(model_id).await?;
    let version = store.model_version(model_id, req.version).await?;
    let trained = trained_of(&version)?;
    let lead = req.lead_hours.unwrap_or(12);
    if lead > 72 {
        return Err(AppError::invalid("lead_hours", "must be at most 72"));
    }
    if req.to < req.from {
        return Err(AppError::invalid("to", "must not be before `from`"));
    }
    let days = (req.to - req.from).get_days() as usize + 1;
    if days > 400 {
        return Err(AppError::invalid("to", "at most 400 days per call"));
    }
    let tz = TimeZone::get(&model.definition.time_zone).map_err(AppError::internal)?;
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    let step_us = target.resolution_s * US;
    // Every day is forecast before anything is stored: a day that cannot
    // be forecast leaves no partial backfill behind.
    let mut made = Vec::with_capacity(days);
    let mut day = req.from;
    while day <= req.to {
        let start = day.to_zoned(tz.clone()).map_err(AppError::internal)?;
        let end = day.tomorrow().map_err(AppError::internal)?.to_zoned(tz.clone()).map_err(AppError::internal)?;
        let start_us = start.timestamp().as_microsecond();
        let origin_us = start_us - i64::from(lead) * 3600 * US;
        let origin_us = origin_us - origin_us.rem_euclid(step_us);
        let horizon = ((end.timestamp().as_microsecond() - origin_us) / step_us) as usize;
        let p = forecast_at(store, &model, &version, &trained, (origin_us, origin_us), horizon).await?;
        // Keep the delivery day only: the lead-in belongs to the previous day's forecast.
        let skip = ((start_us - origin_us) / step_us) as usize;
        let day_only = Prediction {
            start_us,
            point: p.point[skip..].to_vec(),
            p10: p.p10[skip..].to_vec(),
            p90: p.p90[skip..].to_vec(),
        };
        made.push((day_only, origin_us));
        day = day.tomorrow().map_err(AppError::internal)?;
    }
    let intervals = made.iter().map(|(p, _)| p.point.len()).sum();
    let stored_series = store_known_at(store, &model, &made, step_us).await?;
    Ok(BackfillResponse { days, intervals, stored_series, elapsed_ms: started.elapsed().as_secs_f64() * 1000.0 })
}

/// Stores predictions, each with the moment it was known, as beliefs of
/// the model's output series (one write per series).
async fn store_known_at(
    store: &Store,
    model: &AiModel,
    made: &[(Prediction, i64)],
    step_us: i64,
) -> AppResult<Vec<String>> {
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    let series = output_series(store, model, &target).await?;
    let columns: [fn(&Prediction) -> &Vec<f64>; 3] = [|p| &p.point, |p| &p.p10, |p| &p.p90];
    for ((key, _), column) in series.iter().zip(columns) {
        let beliefs: Vec<Belief> = made
            .iter()
            .flat_map(|(p, known_us)| {
                column(p).iter().enumerate().map(move |(h, v)| Belief {
                    event_start_us: p.start_us + h as i64 * step_us,
                    belief_time_us: *known_us,
                    source: SourceKind::Forecast,
                    value: *v,
                })
            })
            .collect();
        store.insert_beliefs(*key, &beliefs).await?;
    }
    Ok(series.into_iter().map(|(_, s)| s.id).collect())
}

/// Accuracy of the forecasts a model has stored, against what happened.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Realised {
    /// Window start.
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    /// Window end.
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// Accuracy of the newest stored point forecast of each interval.
    pub metrics: Option<Metrics>,
    /// Share of actuals inside the stored [p10, p90].
    pub interval_coverage: Option<f64>,
}

/// A model's performance: every version's cross-validation scores, the
/// realised accuracy of its stored forecasts over the last `days`, and the
/// strategies that use it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Performance {
    /// The model.
    pub model: AiModel,
    /// Versions, newest first, with training window, parameters and scores.
    pub versions: Vec<ModelVersion>,
    /// Stored forecasts against actuals.
    pub realised: Realised,
    /// Strategies naming the model: (id, name, status).
    pub used_by: Vec<UsedBy>,
}

/// A strategy using a model.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsedBy {
    /// Strategy id.
    pub strategy_id: String,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: String,
}

/// Strategies whose newest version names the model.
pub async fn used_by(store: &Store, model_id: &str) -> AppResult<Vec<UsedBy>> {
    let all = store.list_strategies(&vpp_store::StrategyFilter::default()).await?;
    Ok(all
        .into_iter()
        .filter(|s| s.definition.model_id.as_deref() == Some(model_id))
        .map(|s| UsedBy { strategy_id: s.id, name: s.definition.name, status: s.status.as_str().to_string() })
        .collect())
}

/// Gathers a model's performance.
pub async fn performance(store: &Store, model_id: &str, days: i64) -> AppResult<Performance> {
    let model = store.get_model(model_id).await?;
    let versions = store.model_versions(model_id).await?;
    let to = vpp_store::now();
    let from = to.checked_sub(jiff::SignedDuration::from_hours(24 * days)).map_err(AppError::internal)?;
    let (from_us, to_us) = (from.as_microsecond(), to.as_microsecond());
    let (key, target) = store.get_series(&model.definition.target_series_id).await?;
    let actual_beliefs = store.beliefs(key, &OBSERVED, from_us, to_us).await?;
    let source = OBSERVED.into_iter().find(|k| actual_beliefs.iter().any(|b| b.source == *k));
    let mut realised = Realised { from, to, metrics: None, interval_coverage: None };
    if let Some(source) = source {
        let actual = Column::from_beliefs(&actual_beliefs, source, target.resolution_s);
        let mut columns = Vec::new();
        for suffix in ["p50", "p10", "p90"] {
            let found = store.find_series(OwnerKind::Model, &format!("{model_id}/{suffix}"), target.quantity).await?;
            let Some((k, s)) = found else { break };
            let b = store.beliefs(k, &[SourceKind::Forecast], from_us, to_us).await?;
            columns.push(Column::from_beliefs(&b, SourceKind::Forecast, s.resolution_s));
        }
        if let [p50, p10, p90] = columns.as_slice() {
            let step_us = target.resolution_s * US;
            let (mut pairs, mut inside) = (Vec::new(), 0usize);
            let mut t = from_us - from_us.rem_euclid(step_us);
            while t < to_us {
                if let (Some(a), Some(f)) = (actual.last(t), p50.last(t)) {
                    pairs.push((a, f));
                    if let (Some(lo), Some(hi)) = (p10.last(t), p90.last(t)) {
                        inside += usize::from(lo <= a && a <= hi);
                    }
                }
                t += step_us;
            }
            realised.interval_coverage = (!pairs.is_empty()).then(|| inside as f64 / pairs.len() as f64);
            realised.metrics = vpp_forecast::accuracy(pairs);
        }
    }
    Ok(Performance { used_by: used_by(store, model_id).await?, model, versions, realised })
}

/// A registered model's id turned into the point-forecast series the
/// strategies read, if it has stored any.
pub async fn model_forecast_series(store: &Store, model_id: &str) -> AppResult<Option<(i64, Series)>> {
    let model = store.get_model(model_id).await.map_err(|e| match e {
        StoreError::NotFound { .. } => AppError::invalid("model_id", format!("model `{model_id}` does not exist")),
        other => other.into(),
    })?;
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    Ok(store.find_series(OwnerKind::Model, &format!("{model_id}/p50"), target.quantity).await?)
}

/// Predicts and stores the model's forecast made now, for live bidding.
pub async fn forecast_now(store: &Store, model_id: &str, through_us: i64) -> AppResult<()> {
    let model = store.get_model(model_id).await?;
    let (_, target) = store.get_series(&model.definition.target_series_id).await?;
    let step_us = target.resolution_s * US;
    let now = vpp_store::now().as_microsecond();
    let origin_us = now - now.rem_euclid(step_us);
    let horizon = ((through_us - origin_us) / step_us).clamp(1, 2880) as usize;
    predict_model(
        store,
        model_id,
        PredictRequest {
            origin: Some(Timestamp::from_microsecond(origin_us).map_err(AppError::internal)?),
            horizon: Some(horizon),
            version: None,
            store: true,
        },
    )
    .await
    .map(|_| ())
}
