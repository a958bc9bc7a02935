//! `/ai-models`: the forecasting model registry (register, list, train,
//! predict, walk-forward forecasts, performance).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::ai_model::{AiModel, ModelRequest, ModelType, ModelVersion};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use vpp_app::ai_models::{
    BackfillRequest, BackfillResponse, Performance, PredictRequest, PredictionResponse, TrainRequest, backfill_model,
    check_model, performance, predict_model, train_model, used_by,
};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models, create_model))
        .routes(routes!(get_model, delete_model))
        .routes(routes!(model_versions))
        .routes(routes!(train))
        .routes(routes!(predict))
        .routes(routes!(forecasts))
        .routes(routes!(model_performance))
}

/// List filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ModelQuery {
    /// PRICE, DEMAND, GENERATION or RISK.
    #[serde(rename = "type")]
    pub model_type: Option<String>,
}

/// Registered models by name.
#[utoipa::path(get, path = "/api/v1/vpp/ai-models", tag = "ai-models", params(ModelQuery),
    responses((status = 200, body = Vec<AiModel>), (status = 422, body = Problem)))]
async fn list_models(State(s): State<AppState>, ApiQuery(q): ApiQuery<ModelQuery>) -> ApiResult<Json<Vec<AiModel>>> {
    let model_type = q
        .model_type
        .as_deref()
        .map(|t| {
            ModelType::parse(t).ok_or_else(|| {
                ApiError::invalid("type", format!("unknown type `{t}`; use PRICE, DEMAND, GENERATION or RISK"))
            })
        })
        .transpose()?;
    Ok(Json(s.store.list_models(model_type).await?))
}

/// Registers a model; train it before it predicts.
#[utoipa::path(post, path = "/api/v1/vpp/ai-models", tag = "ai-models", request_body = ModelRequest,
    responses((status = 201, body = AiModel), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_model(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(req): ApiJson<ModelRequest>,
) -> ApiResult<(StatusCode, Json<AiModel>)> {
    check_model(&s.store, &req).await?;
    Ok((StatusCode::CREATED, Json(s.store.create_model(&req, &p.actor_name()).await?)))
}

/// A model.
#[utoipa::path(get, path = "/api/v1/vpp/ai-models/{id}", tag = "ai-models",
    responses((status = 200, body = AiModel), (status = 404, body = Problem)))]
async fn get_model(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<AiModel>> {
    Ok(Json(s.store.get_model(&id).await?))
}

/// Deletes a model no strategy uses; its versions and stored forecasts stay.
#[utoipa::path(delete, path = "/api/v1/vpp/ai-models/{id}", tag = "ai-models",
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_model(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.get_model(&id).await?;
    let users = used_by(&s.store, &id).await?;
    if !users.is_empty() {
        let names: Vec<String> = users.into_iter().map(|u| format!("`{}`", u.name)).collect();
        return Err(ApiError::conflict(format!(
            "the model is used by strategy {}; change them first",
            names.join(", ")
        )));
    }
    s.store.delete_model(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every trained version, newest first, with window, parameters and scores.
#[utoipa::path(get, path = "/api/v1/vpp/ai-models/{id}/versions", tag = "ai-models",
    responses((status = 200, body = Vec<ModelVersion>), (status = 404, body = Problem)))]
async fn model_versions(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<ModelVersion>>> {
    Ok(Json(s.store.model_versions(&id).await?))
}

/// Trains the next version: rolling-origin cross-validation (MAE, RMSE and
/// WAPE by hour ahead), then a fit on the whole window.
#[utoipa::path(post, path = "/api/v1/vpp/ai-models/{id}/train", tag = "ai-models", request_body = TrainRequest,
    responses((status = 201, body = ModelVersion), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn train(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TrainRequest>,
) -> ApiResult<(StatusCode, Json<ModelVersion>)> {
    Ok((StatusCode::CREATED, Json(train_model(&s.store, &id, req, &p.actor_name()).await?)))
}

/// Forecasts with p10 and p90 from data known at the origin; `store: true`
/// keeps it as forecast beliefs of the model's output series.
#[utoipa::path(post, path = "/api/v1/vpp/ai-models/{id}/predict", tag = "ai-models", request_body = PredictRequest,
    responses((status = 200, body = PredictionResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn predict(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PredictRequest>,
) -> ApiResult<Json<PredictionResponse>> {
    Ok(Json(predict_model(&s.store, &id, req).await?))
}

/// Walk-forward forecasts for a range of days, each made `lead_hours`
/// before its day from the data known then, stored as beliefs: the input
/// of honest backtests of AI-driven and hybrid strategies.
#[utoipa::path(post, path = "/api/v1/vpp/ai-models/{id}/forecasts", tag = "ai-models", request_body = BackfillRequest,
    responses((status = 200, body = BackfillResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn forecasts(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<BackfillRequest>,
) -> ApiResult<Json<BackfillResponse>> {
    Ok(Json(backfill_model(&s.store, &id, req).await?))
}

/// Window of realised accuracy.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PerformanceQuery {
    /// Days back (default 30, at most 400).
    pub days: Option<i64>,
}

/// Scores of every version, realised accuracy of stored forecasts, and the strategies using the model.
#[utoipa::path(get, path = "/api/v1/vpp/ai-models/{id}/performance", tag = "ai-models", params(PerformanceQuery),
    responses((status = 200, body = Performance), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn model_performance(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PerformanceQuery>,
) -> ApiResult<Json<Performance>> {
    let days = q.days.unwrap_or(30);
    if !(1..=400).contains(&days) {
        return Err(ApiError::invalid("days", "must be between 1 and 400"));
    }
    Ok(Json(performance(&s.store, &id, days).await?))
}
