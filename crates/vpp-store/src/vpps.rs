//! VPPs, their members, and the double-booking rule.

use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::Invalid;
use vpp_domain::resource::ResourceStatus;
use vpp_domain::vpp::{
    Allocation, AllocationRatio, Conflict, ConflictKind, MarketType, Member, MembershipChange, RATIO_EPSILON, Vpp,
    VppRequest, VppStatus, VppUpdate, check_double_booking,
};

use crate::{
    Filters, Page, Paged, Result, Store, StoreError, WriteTx, from_micros, new_id, parse_enum, to_micros, unique,
};

const COLUMNS: &str = "id, name, description, market_type, status, created_at, updated_at";

/// Filters of the VPP list.
#[derive(Debug, Clone, Default)]
pub struct VppFilter {
    /// Only this market.
    pub market_type: Option<MarketType>,
    /// Only this status.
    pub status: Option<VppStatus>,
}

fn vpp_from_row(row: &AnyRow, members: Vec<Member>) -> Result<Vpp> {
    Ok(Vpp {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        market_type: parse_enum(row, "market_type", MarketType::parse)?,
        status: parse_enum(row, "status", VppStatus::parse)?,
        members,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn member_from_row(row: &AnyRow) -> Result<Member> {
    let ratio: f64 = row.try_get("allocation_ratio")?;
    Ok(Member {
        resource_id: row.try_get("resource_id")?,
        allocation_ratio: AllocationRatio::new(ratio).map_err(StoreError::Corrupt)?,
        priority: row.try_get::<i64, _>("priority")? as i32,
    })
}

async fn members_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(exec: E, vpp_id: &str) -> Result<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT resource_id, allocation_ratio, priority FROM vpp_members WHERE vpp_id = $1 ORDER BY resource_id",
    )
    .bind(vpp_id.to_string())
    .fetch_all(exec)
    .await?;
    rows.iter().map(member_from_row).collect()
}

impl Store {
    /// Lists VPPs by name, each with its members.
    pub async fn list_vpps(&self, filter: &VppFilter, page: Page) -> Result<Paged<Vpp>> {
        let mut f = Filters::new();
        f.eq("market_type", filter.market_type.map(|m| m.as_str().to_string()))
            .eq("status", filter.status.map(|s| s.as_str().to_string()));
        let (total, rows) = f.page(&self.pool, "vpps", COLUMNS, "name, id", page).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            items.push(vpp_from_row(row, members_of(&self.pool, &id).await?)?);
        }
        Ok(Paged { items, total, page: page.page, size: page.size })
    }

    /// One VPP with its members.
    pub async fn get_vpp(&self, id: &str) -> Result<Vpp> {
        let row = sqlx::query(
            "SELECT id, name, description, market_type, status, created_at, updated_at FROM vpps WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "vpp", id: id.into() })?;
        vpp_from_row(&row, members_of(&self.pool, id).await?)
    }

    /// Creates a VPP with its initial members. Dangling resource ids and
    /// double booking refuse the whole request.
    pub async fn create_vpp(&self, request: VppRequest) -> Result<Vpp> {
        let members = request.validate()?;
        let status = request.status.unwrap_or(VppStatus::Active);
        let fields: Vec<String> = (0..members.len())
            .map(|i| {
                if i < request.resource_ids.len() {
                    format!("resource_ids[{i}]")
                } else {
                    format!("members[{}].allocation_ratio", i - request.resource_ids.len())
                }
            })
            .collect();
        let mut w = self.begin_write().await?;
        let now = crate::now();
        let id = new_id();
        let name = request.name.trim().to_string();
        sqlx::query("INSERT INTO vpps (id, name, description, market_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
            .bind(id.clone())
            .bind(name.clone())
            .bind(request.description.clone())
            .bind(request.market_type.as_str())
            .bind(status.as_str())
            .bind(to_micros(now))
            .execute(&mut *w.tx)
            .await
            .map_err(unique("vpp", "name", &name))?;
        let with_fields: Vec<(Member, String)> = members.into_iter().zip(fields).collect();
        check_members(&mut w, &id, status, &with_fields).await?;
        for (m, _) in &with_fields {
            insert_member(&mut w, &id, m).await?;
        }
        w.tx.commit().await?;
        self.get_vpp(&id).await
    }

    /// Updates name, description, market or status. Activation re-checks
    /// every member against double booking.
    pub async fn update_vpp(&self, id: &str, update: VppUpdate) -> Result<Vpp> {
        let mut w = self.begin_write().await?;
        let current = get_vpp_tx(&mut w, id).await?;
        let name = update.name.map(|n| n.trim().to_string()).unwrap_or(current.name.clone());
        let description = update.description.unwrap_or(current.description.clone());
        let mut errors = vpp_domain::error::Errors::default();
        vpp_domain::error::check_name(&mut errors, "name", &name);
        errors.check(description.chars().count() <= 2000, "description", "must be at most 2000 characters");
        errors.finish(())?;
        let status = update.status.unwrap_or(current.status);
        if status == VppStatus::Active && current.status != VppStatus::Active {
            let members: Vec<(Member, String)> =
                current.members.iter().map(|m| (m.clone(), "status".to_string())).collect();
            check_members(&mut w, id, status, &members).await?;
        }
        sqlx::query(
            "UPDATE vpps SET name = $2, description = $3, market_type = $4, status = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(name.clone())
        .bind(description)
        .bind(update.market_type.unwrap_or(current.market_type).as_str())
        .bind(status.as_str())
        .bind(to_micros(crate::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(unique("vpp", "name", &name))?;
        w.tx.commit().await?;
        self.get_vpp(id).await
    }

    /// Deletes a VPP and its memberships. Its dispatch history is kept.
    pub async fn delete_vpp(&self, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        get_vpp_tx(&mut w, id).await?;
        sqlx::query("DELETE FROM vpp_members WHERE vpp_id = $1").bind(id.to_string()).execute(&mut *w.tx).await?;
        let deleted = sqlx::query("DELETE FROM vpps WHERE id = $1").bind(id.to_string()).execute(&mut *w.tx).await;
        if let Err(e) = &deleted
            && e.as_database_error().is_some_and(|d| d.is_foreign_key_violation())
        {
            // Found by schemathesis: a VPP with records answered 500.
            return Err(StoreError::Conflict {
                field: None,
                message: format!(
                    "VPP `{id}` has records (bids, schedules, dispatches, series or keys) and cannot be deleted; \
                     set its status to INACTIVE instead"
                ),
            });
        }
        deleted?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Adds, removes and updates members all together or not at all.
    pub async fn change_members(&self, id: &str, change: MembershipChange) -> Result<Vpp> {
        let mut w = self.begin_write().await?;
        let current = get_vpp_tx(&mut w, id).await?;
        let next = change.apply(&current.members)?;
        // Only new or changed allocations need the double-booking check.
        let touched: Vec<(Member, String)> =
            next.iter().filter(|(m, _)| !current.members.contains(m)).cloned().collect();
        check_members(&mut w, id, current.status, &touched).await?;
        sqlx::query("DELETE FROM vpp_members WHERE vpp_id = $1").bind(id.to_string()).execute(&mut *w.tx).await?;
        for (m, _) in &next {
            insert_member(&mut w, id, m).await?;
        }
        sqlx::query("UPDATE vpps SET updated_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(to_micros(crate::now()))
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        self.get_vpp(id).await
    }

    /// All current conflicts: resources over-allocated across active VPPs,
    /// and active VPP members that are not ONLINE.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>> {
        let rows = sqlx::query(
            "SELECT m.resource_id, r.name AS resource_name, r.status, v.id AS vpp_id, v.name AS vpp_name, m.allocation_ratio \
             FROM vpp_members m JOIN vpps v ON v.id = m.vpp_id JOIN resources r ON r.id = m.resource_id \
             WHERE v.status = 'ACTIVE' ORDER BY m.resource_id, v.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut conflicts = Vec::new();
        let mut i = 0;
        while i < rows.len() {
            let resource_id: String = rows[i].try_get("resource_id")?;
            let resource_name: String = rows[i].try_get("resource_name")?;
            let status = parse_enum(&rows[i], "status", ResourceStatus::parse)?;
            let mut allocations = Vec::new();
            while i < rows.len() && rows[i].try_get::<String, _>("resource_id")? == resource_id {
                allocations.push(Allocation {
                    vpp_id: rows[i].try_get("vpp_id")?,
                    vpp_name: rows[i].try_get("vpp_name")?,
                    allocation_ratio: rows[i].try_get("allocation_ratio")?,
                });
                i += 1;
            }
            let total_ratio: f64 = allocations.iter().map(|a| a.allocation_ratio).sum();
            let mut push = |kind, detail: String| {
                conflicts.push(Conflict {
                    kind,
                    resource_id: resource_id.clone(),
                    resource_name: resource_name.clone(),
                    resource_status: status,
                    allocations: allocations.clone(),
                    total_ratio,
                    detail,
                })
            };
            if total_ratio > 1.0 + RATIO_EPSILON {
                push(
                    ConflictKind::OverAllocated,
                    format!("allocated {total_ratio:.4} across {} active VPPs", allocations.len()),
                );
            }
            if status != ResourceStatus::Online {
                push(
                    ConflictKind::UnavailableMember,
                    format!("resource is {} but counted by {} active VPP(s)", status.as_str(), allocations.len()),
                );
            }
        }
        Ok(conflicts)
    }
}

async fn get_vpp_tx(w: &mut WriteTx<'_>, id: &str) -> Result<Vpp> {
    let row = sqlx::query(
        "SELECT id, name, description, market_type, status, created_at, updated_at FROM vpps WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *w.tx)
    .await?
    .ok_or_else(|| StoreError::NotFound { entity: "vpp", id: id.into() })?;
    let members = members_of(&mut *w.tx, id).await?;
    vpp_from_row(&row, members)
}

async fn insert_member(w: &mut WriteTx<'_>, vpp_id: &str, m: &Member) -> Result<()> {
    sqlx::query("INSERT INTO vpp_members (vpp_id, resource_id, allocation_ratio, priority) VALUES ($1, $2, $3, $4)")
        .bind(vpp_id.to_string())
        .bind(m.resource_id.clone())
        .bind(m.allocation_ratio.get())
        .bind(m.priority as i64)
        .execute(&mut *w.tx)
        .await?;
    Ok(())
}

/// Checks that each member's resource exists and, if the VPP is active, that
/// its allocation fits beside the other active VPPs.
async fn check_members(
    w: &mut WriteTx<'_>,
    vpp_id: &str,
    status: VppStatus,
    members: &[(Member, String)],
) -> Result<()> {
    let mut missing = Vec::new();
    for (m, field) in members {
        let row = sqlx::query("SELECT name FROM resources WHERE id = $1")
            .bind(m.resource_id.clone())
            .fetch_optional(&mut *w.tx)
            .await?;
        let Some(row) = row else {
            let field = field.replace(".allocation_ratio", ".resource_id");
            missing.push(vpp_domain::FieldError::new(field, format!("resource `{}` does not exist", m.resource_id)));
            continue;
        };
        if status != VppStatus::Active || !missing.is_empty() {
            continue;
        }
        let others = other_allocations(&mut *w.tx, &m.resource_id, vpp_id).await?;
        let name: String = row.try_get("name")?;
        check_double_booking(field, &m.resource_id, &name, m.allocation_ratio.get(), others)
            .map_err(|e| StoreError::DoubleBooking(Box::new(e)))?;
    }
    if missing.is_empty() { Ok(()) } else { Err(Invalid(missing).into()) }
}

/// The allocations of a resource held by active VPPs other than `vpp_id`, by VPP name.
pub(crate) async fn other_allocations<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    resource_id: &str,
    vpp_id: &str,
) -> Result<Vec<Allocation>> {
    sqlx::query(
        "SELECT v.id, v.name, m.allocation_ratio FROM vpp_members m JOIN vpps v ON v.id = m.vpp_id \
         WHERE m.resource_id = $1 AND v.status = 'ACTIVE' AND v.id <> $2 ORDER BY v.name",
    )
    .bind(resource_id.to_string())
    .bind(vpp_id.to_string())
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok(Allocation {
            vpp_id: r.try_get("id")?,
            vpp_name: r.try_get("name")?,
            allocation_ratio: r.try_get("allocation_ratio")?,
        })
    })
    .collect()
}
