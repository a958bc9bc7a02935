//! `/api/v1/vpp/trading/execution-status/{id}`: how dispatch instructions are executed.

use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::execution::{Deviation, ExecutionPhase, deviation, phase};
use vpp_store::{InstructionRecord, StoreError};

use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Execution of one resource's instruction.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstructionStatus {
    /// Instruction id.
    pub instruction_id: String,
    /// Dispatch it belongs to.
    pub dispatch_id: String,
    /// Resource instructed.
    pub resource_id: String,
    /// Where the delivery window is relative to now.
    pub status: ExecutionPhase,
    /// Setpoint, kW.
    pub target_kw: f64,
    /// Window start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Window end, exclusive (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Mean measured power in the window so far, kW; null without telemetry in the window.
    pub actual_kw: Option<f64>,
    /// Telemetry samples in the window.
    pub samples: i64,
    /// Time of the last sample in the window.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub measured_until: Option<Timestamp>,
    /// actual − target; null without telemetry.
    pub deviation: Option<Deviation>,
    /// How the setpoint went out over MQTT (sent, acknowledged, rejected,
    /// failed, with attempts); null when no device bridge carried it.
    pub delivery: Option<vpp_store::Delivery>,
}

/// Execution of a whole dispatch or one instruction.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExecutionStatus {
    /// The id asked about.
    pub id: String,
    /// `dispatch` or `instruction`.
    pub kind: String,
    /// Where the window is relative to now.
    pub status: ExecutionPhase,
    /// Σ setpoints, kW.
    pub target_kw: f64,
    /// Σ mean measured power over instructions with telemetry, kW; null if none has any.
    pub actual_kw: Option<f64>,
    /// Σ actual − Σ target over the instructions with telemetry; null if none.
    pub deviation: Option<Deviation>,
    /// Instructions with telemetry in the window / all instructions.
    pub measured_instructions: usize,
    /// All instructions.
    pub instruction_count: usize,
    /// Per-instruction detail.
    pub instructions: Vec<InstructionStatus>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(execution_status))
}

pub(crate) async fn instruction_status(
    s: &AppState,
    i: InstructionRecord,
    now: Timestamp,
) -> ApiResult<InstructionStatus> {
    let window = s.store.telemetry_window(&i.resource_id, i.start, i.end).await?;
    let delivery = s.store.setpoint_delivery(&i.id).await?;
    Ok(InstructionStatus {
        delivery,
        status: phase(i.start, i.end, now),
        actual_kw: window.map(|w| w.mean_power_kw),
        samples: window.map_or(0, |w| w.samples),
        measured_until: window.map(|w| w.last_ts),
        deviation: window.map(|w| deviation(i.target_kw, w.mean_power_kw)),
        instruction_id: i.id,
        dispatch_id: i.dispatch_id,
        resource_id: i.resource_id,
        target_kw: i.target_kw,
        start: i.start,
        end: i.end,
    })
}

/// Status, measured power and deviation of a dispatch or of one instruction.
/// Measured power is the mean of the resource's telemetry inside the
/// delivery window; without telemetry it is null, never invented.
#[utoipa::path(get, path = "/api/v1/vpp/trading/execution-status/{instruction_id}", tag = "trading",
    responses((status = 200, body = ExecutionStatus), (status = 404, body = Problem)))]
async fn execution_status(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ExecutionStatus>> {
    let now = Timestamp::now();
    let (kind, start, end, records) = match s.store.get_instruction(&id).await {
        Ok(i) => ("instruction", i.start, i.end, vec![i]),
        Err(StoreError::NotFound { .. }) => {
            let d = s.store.get_dispatch(&id).await.map_err(|e| match e {
                StoreError::NotFound { .. } => {
                    StoreError::NotFound { entity: "instruction or dispatch", id: id.clone() }
                }
                other => other,
            })?;
            ("dispatch", d.start, d.end, d.instructions)
        }
        Err(e) => return Err(e.into()),
    };
    let mut instructions = Vec::with_capacity(records.len());
    for r in records {
        instructions.push(instruction_status(&s, r, now).await?);
    }
    let measured: Vec<&InstructionStatus> = instructions.iter().filter(|i| i.actual_kw.is_some()).collect();
    let actual = (!measured.is_empty()).then(|| measured.iter().filter_map(|i| i.actual_kw).sum::<f64>());
    let measured_target: f64 = measured.iter().map(|i| i.target_kw).sum();
    Ok(Json(ExecutionStatus {
        id,
        kind: kind.into(),
        status: phase(start, end, now),
        target_kw: instructions.iter().map(|i| i.target_kw).sum(),
        actual_kw: actual,
        deviation: actual.map(|a| deviation(measured_target, a)),
        measured_instructions: measured.len(),
        instruction_count: instructions.len(),
        instructions,
    }))
}
