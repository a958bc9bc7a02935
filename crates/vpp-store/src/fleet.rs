//! Loading a VPP's members into the columnar [`Fleet`] used by aggregation and dispatch.

use sqlx::Row;
use vpp_domain::fleet::{Fleet, FleetMember};
use vpp_domain::resource::{ResourceStatus, StorageModel};
use vpp_domain::template::{Parameters, ResourceCategory};
use vpp_domain::vpp::{MarketType, VppStatus};

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

impl Store {
    /// Loads a VPP's members with their latest SOC, ordered by resource id.
    pub async fn load_fleet(&self, vpp_id: &str) -> Result<FleetSnapshot> {
        let vpp = sqlx::query("SELECT status, market_type FROM vpps WHERE id = $1")
            .bind(vpp_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "vpp", id: vpp_id.into() })?;
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.category, r.status, m.allocation_ratio, m.priority, r.capacity_kw, r.min_power_kw, \
             r.max_power_kw, r.efficiency, r.response_time_s, r.marginal_cost, r.parameters, t.soc_pct \
             FROM vpp_members m JOIN resources r ON r.id = m.resource_id \
             LEFT JOIN resource_latest_telemetry t ON t.resource_id = r.id \
             WHERE m.vpp_id = $1 ORDER BY r.id",
        )
        .bind(vpp_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut fleet = Fleet::with_capacity(rows.len());
        let mut members = Vec::with_capacity(rows.len());
        for row in &rows {
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
            let member = FleetMember {
                category: parse_enum(row, "category", ResourceCategory::parse)?,
                status: parse_enum(row, "status", ResourceStatus::parse)?,
                ratio: row.try_get("allocation_ratio")?,
                capacity_kw: row.try_get("capacity_kw")?,
                min_power_kw: row.try_get("min_power_kw")?,
                max_power_kw: row.try_get("max_power_kw")?,
                efficiency: row.try_get("efficiency")?,
                response_time_s: row.try_get("response_time_s")?,
                marginal_cost: row.try_get("marginal_cost")?,
                priority: row.try_get::<i64, _>("priority")? as i32,
                storage,
            };
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
