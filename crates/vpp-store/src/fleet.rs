//! Loading a VPP's members into the columnar [`Fleet`] used by aggregation and dispatch.

use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::fleet::{Fleet, FleetMember, Output};
use vpp_domain::resource::{ResourceStatus, StorageModel};
use vpp_domain::template::{Parameters, ResourceCategory};
use vpp_domain::vpp::{DoubleBooking, MarketType, Member, VppStatus, check_double_booking};

use crate::{Result, Store, StoreError, parse_enum};

/// A VPP's members at one moment, ready for aggregation and dispatch.
#[derive(Debug, Clone)]
pub struct FleetSnapshot {
    /// VPP id.
    pub vpp_id: String,
    /// VPP status when loaded.
    pub vpp_status: VppStatus,
    /// Market served.
    pub market_type: MarketType,
    /// Member rows, same order as the fleet columns.
    pub members: Vec<MemberRow>,
    /// Columnar member data.
    pub fleet: Fleet,
}

/// Identity of one fleet member.
#[derive(Debug, Clone)]
pub struct MemberRow {
    /// Resource id.
    pub resource_id: String,
    /// Resource name.
    pub name: String,
    /// Category.
    pub category: ResourceCategory,
    /// Status when loaded.
    pub status: ResourceStatus,
}

/// How old a PV or wind measurement may be and still say what the weather
/// gives now: one quarter-hour, the series' usual interval.
pub const FRESH_OUTPUT_US: i64 = 15 * 60 * 1_000_000;

/// The columns [`member_from_row`] reads, from `resources r` left-joined
/// with `resource_latest_telemetry t` (a macro, so that queries stay
/// literal strings).
macro_rules! member_columns {
    () => {
        "r.id, r.name, r.category, r.resource_type, r.status, r.capacity_kw, r.min_power_kw, r.max_power_kw, \
         r.efficiency, r.response_time_s, r.marginal_cost, r.parameters, t.soc_pct, t.power_kw, t.ts"
    };
}

/// The fleet member of a row of `member_columns!()` at `ratio` and
/// `priority`: its latest SOC, and for PV and wind its output if measured
/// within [`FRESH_OUTPUT_US`] of `now_us`.
fn member_from_row(row: &AnyRow, ratio: f64, priority: i32, now_us: i64) -> Result<FleetMember> {
    let params_text: String = row.try_get("parameters")?;
    // Only storage needs its parameters parsed; skip the JSON otherwise.
    let storage = if params_text.contains("usable_energy_kwh") {
        let params: Parameters =
            serde_json::from_str(&params_text).map_err(|e| StoreError::Corrupt(format!("parameters: {e}")))?;
        let soc: Option<f64> = row.try_get("soc_pct")?;
        StorageModel::from_parameters(&params).map(|model| (model, soc.map(|s| s / 100.0)))
    } else {
        None
    };
    Ok(FleetMember {
        category: parse_enum(row, "category", ResourceCategory::parse)?,
        status: parse_enum(row, "status", ResourceStatus::parse)?,
        ratio,
        capacity_kw: row.try_get("capacity_kw")?,
        min_power_kw: row.try_get("min_power_kw")?,
        max_power_kw: row.try_get("max_power_kw")?,
        efficiency: row.try_get("efficiency")?,
        response_time_s: row.try_get("response_time_s")?,
        marginal_cost: row.try_get("marginal_cost")?,
        priority,
        storage,
        output: output_of(row, now_us)?,
    })
}

/// PV and wind produce what the weather gives: their latest measured power
/// when fresh (telemetry times are microseconds), else unknown.
fn output_of(row: &AnyRow, now_us: i64) -> Result<Output> {
    let kind: String = row.try_get("resource_type")?;
    if kind != "PV" && kind != "WIND" {
        return Ok(Output::Dispatchable);
    }
    let ts: Option<i64> = row.try_get("ts")?;
    let power: Option<f64> = row.try_get("power_kw")?;
    let now_kw = match (ts, power) {
        (Some(ts), Some(p)) if now_us - ts <= FRESH_OUTPUT_US => Some(p),
        _ => None,
    };
    Ok(Output::Weather { now_kw })
}

impl Store {
    /// What a VPP of `members` would be, without storing anything: its fleet
    /// (for aggregated parameters) and every member that would be double
    /// booked if the VPP were active, beside the other active VPPs (the VPP
    /// `vpp_id` itself, when editing one, is left out). Unknown resources are
    /// field errors.
    pub async fn preview_members(
        &self,
        vpp_id: Option<&str>,
        members: &[Member],
    ) -> Result<(Fleet, Vec<DoubleBooking>)> {
        let now_us = jiff::Timestamp::now().as_microsecond();
        let mut fleet = Fleet::with_capacity(members.len());
        let mut bookings = Vec::new();
        let mut missing = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let row = sqlx::query(concat!(
                "SELECT ",
                member_columns!(),
                " FROM resources r LEFT JOIN resource_latest_telemetry t ON t.resource_id = r.id WHERE r.id = $1"
            ))
            .bind(m.resource_id.clone())
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                missing.push(vpp_domain::FieldError::new(
                    format!("members[{i}].resource_id"),
                    format!("resource `{}` does not exist", m.resource_id),
                ));
                continue;
            };
            fleet.push(&member_from_row(&row, m.allocation_ratio.get(), m.priority, now_us)?);
            let others = crate::vpps::other_allocations(&self.pool, &m.resource_id, vpp_id.unwrap_or_default()).await?;
            let name: String = row.try_get("name")?;
            let field = format!("members[{i}].allocation_ratio");
            if let Err(b) = check_double_booking(&field, &m.resource_id, &name, m.allocation_ratio.get(), others) {
                bookings.push(b);
            }
        }
        if !missing.is_empty() {
            return Err(vpp_domain::Invalid(missing).into());
        }
        Ok((fleet, bookings))
    }

    /// Loads a VPP's members with their latest SOC, ordered by resource id.
    /// PV and wind count their output measured within the last quarter-hour
    /// (see [`Output::Weather`]).
    pub async fn load_fleet(&self, vpp_id: &str) -> Result<FleetSnapshot> {
        let now_us = jiff::Timestamp::now().as_microsecond();
        let vpp = sqlx::query("SELECT status, market_type FROM vpps WHERE id = $1")
            .bind(vpp_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "vpp", id: vpp_id.into() })?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            member_columns!(),
            ", m.allocation_ratio, m.priority FROM vpp_members m JOIN resources r ON r.id = m.resource_id \
             LEFT JOIN resource_latest_telemetry t ON t.resource_id = r.id WHERE m.vpp_id = $1 ORDER BY r.id"
        ))
        .bind(vpp_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut fleet = Fleet::with_capacity(rows.len());
        let mut members = Vec::with_capacity(rows.len());
        for row in &rows {
            let member = member_from_row(
                row,
                row.try_get("allocation_ratio")?,
                row.try_get::<i64, _>("priority")? as i32,
                now_us,
            )?;
            fleet.push(&member);
            members.push(MemberRow {
                resource_id: row.try_get("id")?,
                name: row.try_get("name")?,
                category: member.category,
                status: member.status,
            });
        }
        Ok(FleetSnapshot {
            vpp_id: vpp_id.to_string(),
            vpp_status: parse_enum(&vpp, "status", VppStatus::parse)?,
            market_type: parse_enum(&vpp, "market_type", MarketType::parse)?,
            members,
            fleet,
        })
    }
}
