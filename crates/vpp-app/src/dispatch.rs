//! Dispatch records: one split of a power target, with one instruction per
//! member, as the API, the closed loop and the adapters store it.

use jiff::Timestamp;
use vpp_domain::fleet::{DispatchMode, DispatchPlan};
use vpp_domain::vpp::VppStatus;
use vpp_store::{DispatchRecord, FleetSnapshot, InstructionRecord};

use crate::error::{AppError, AppResult};

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
