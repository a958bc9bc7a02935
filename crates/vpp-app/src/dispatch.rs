//! Dispatch of a VPP: one split of a power target across its ONLINE
//! members, previewed or stored with one instruction per member, as the
//! API, the CLI, the console, the closed loop and the adapters use it.

use jiff::Timestamp;
use serde::Serialize;
use vpp_domain::execution::DispatchRequest;
use vpp_domain::fleet::{DispatchMode, DispatchPlan, dispatch};
use vpp_domain::resource::ResourceStatus;
use vpp_domain::template::ResourceCategory;
use vpp_domain::vpp::VppStatus;
use vpp_store::{DispatchRecord, FleetSnapshot, InstructionRecord, Store};

use crate::error::{AppError, AppResult};

/// One resource's share of a dispatch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AllocationLine {
    /// Instruction id, for `GET /trading/execution-status/{id}`; absent in a
    /// preview, which stores nothing.
    pub instruction_id: Option<String>,
    /// Resource id.
    pub resource_id: String,
    /// Resource name.
    pub name: String,
    /// Category.
    pub category: ResourceCategory,
    /// Setpoint, kW (positive = inject).
    pub target_kw: f64,
}

/// A member that got nothing because it is not ONLINE.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExcludedMember {
    /// Resource id.
    pub resource_id: String,
    /// Resource name.
    pub name: String,
    /// Its status.
    pub status: ResourceStatus,
}

/// The outcome of a dispatch, or of its preview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DispatchResponse {
    /// Dispatch id; also accepted by `GET /trading/execution-status/{id}`.
    /// Absent in a preview.
    pub dispatch_id: Option<String>,
    /// True when nothing was stored or sent (`dry_run=true`).
    pub preview: bool,
    /// VPP dispatched.
    pub vpp_id: String,
    /// Requested net setpoint, kW.
    pub target_kw: f64,
    /// Delivery start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Delivery end, exclusive (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Split rule.
    pub mode: DispatchMode,
    /// Σ allocations, kW.
    pub total_dispatched: f64,
    /// target − total_dispatched, kW: what the VPP cannot cover.
    pub unmet_demand: f64,
    /// Non-zero allocations by resource id.
    pub allocations: Vec<AllocationLine>,
    /// Members left out because they are not ONLINE.
    pub excluded: Vec<ExcludedMember>,
}

/// Splits `request`'s target across VPP `id`'s ONLINE members, read fresh
/// (dispatch acts on equipment, so not from a cache). With `preview` the
/// split is only computed; otherwise it is stored with its instructions,
/// and the device adapters deliver them. Only an ACTIVE VPP is dispatched,
/// preview or not, so a preview never promises what a send would refuse.
pub async fn dispatch_vpp(
    store: &Store,
    id: &str,
    request: &DispatchRequest,
    preview: bool,
) -> AppResult<DispatchResponse> {
    request.validate()?;
    let snapshot = store.load_fleet(id).await?;
    require_active(id, snapshot.vpp_status)?;
    let now = vpp_store::now();
    let (start, end) = request.window(now);
    let (start, end) = (vpp_store::at_storage_precision(start), vpp_store::at_storage_precision(end));
    let hours = request.duration_minutes as f64 / 60.0;
    let plan = dispatch(&snapshot.fleet, request.target_kw, hours, request.mode);
    let (dispatch_id, instruction_ids): (Option<String>, Vec<Option<String>>) = if preview {
        (None, vec![None; plan.allocations.len()])
    } else {
        let record = dispatch_record(&snapshot, request.target_kw, (start, end), request.mode, &plan, now);
        store.save_dispatch(&record).await?;
        (Some(record.id), record.instructions.into_iter().map(|i| Some(i.id)).collect())
    };
    let allocations = plan
        .allocations
        .iter()
        .zip(instruction_ids)
        .map(|(&(i, kw), instruction_id)| AllocationLine {
            instruction_id,
            resource_id: snapshot.members[i].resource_id.clone(),
            name: snapshot.members[i].name.clone(),
            category: snapshot.members[i].category,
            target_kw: kw,
        })
        .collect();
    let excluded = snapshot
        .members
        .iter()
        .filter(|m| m.status != ResourceStatus::Online)
        .map(|m| ExcludedMember { resource_id: m.resource_id.clone(), name: m.name.clone(), status: m.status })
        .collect();
    Ok(DispatchResponse {
        dispatch_id,
        preview,
        vpp_id: id.to_string(),
        target_kw: request.target_kw,
        start,
        end,
        mode: request.mode,
        total_dispatched: plan.total_dispatched_kw,
        unmet_demand: plan.unmet_kw,
        allocations,
        excluded,
    })
}

/// Only an ACTIVE VPP is dispatched; any other status is a conflict at
/// `status`.
pub fn require_active(id: &str, status: VppStatus) -> AppResult<()> {
    if status == VppStatus::Active {
        return Ok(());
    }
    Err(AppError::conflict_at(
        "status",
        format!("VPP `{id}` is {}; only ACTIVE VPPs can be dispatched", status.as_str()),
    ))
}

/// The record of a split `plan` of `target_kw` over `[start, end)`, one
/// instruction per allocation, ready to store.
pub fn dispatch_record(
    snapshot: &FleetSnapshot,
    target_kw: f64,
    (start, end): (Timestamp, Timestamp),
    mode: DispatchMode,
    plan: &DispatchPlan,
    now: Timestamp,
) -> DispatchRecord {
    let dispatch_id = vpp_store::new_id();
    DispatchRecord {
        id: dispatch_id.clone(),
        vpp_id: snapshot.vpp_id.clone(),
        target_kw,
        start,
        end,
        mode: mode.into(),
        total_dispatched_kw: plan.total_dispatched_kw,
        unmet_kw: plan.unmet_kw,
        created_at: now,
        instructions: plan
            .allocations
            .iter()
            .map(|&(i, kw)| InstructionRecord {
                id: vpp_store::new_id(),
                dispatch_id: dispatch_id.clone(),
                resource_id: snapshot.members[i].resource_id.clone(),
                target_kw: kw,
                start,
                end,
            })
            .collect(),
    }
}
