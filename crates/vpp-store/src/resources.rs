//! Resources and their status history.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::lang::Lang;
use vpp_domain::resource::{
    Location, Resource, ResourceDraft, ResourceRequest, ResourceStatus, ResourceUpdate, StatusChange, StatusRequest,
};
use vpp_domain::status_reason::StatusReason;
use vpp_domain::template::{ResourceCategory, ResourceType};

use crate::templates::get_template_tx;
use crate::{
    Filters, Page, Paged, Result, Store, StoreError, WriteTx, from_json, from_micros, new_id, parse_enum, to_json,
    to_micros, unique,
};

macro_rules! columns {
    () => {
        "id, template_id, resource_type, category, name, external_id, status, capacity_kw, min_power_kw, max_power_kw, \
         efficiency, response_time_s, marginal_cost, lat, lon, timezone, building, device_address, owner, parameters, \
         metadata, created_at, updated_at"
    };
}
const COLUMNS: &str = columns!();

/// `SELECT <all resource columns> FROM resources <rest>` as a static string.
macro_rules! select_resource {
    ($rest:literal) => {
        concat!("SELECT ", columns!(), " FROM resources ", $rest)
    };
}

/// Filters of the resource list.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    /// Only resources of this template.
    pub template_id: Option<String>,
    /// Only resources in this status.
    pub status: Option<ResourceStatus>,
    /// Only this type.
    pub resource_type: Option<ResourceType>,
    /// Only this category.
    pub category: Option<ResourceCategory>,
    /// Order of the list; by name if absent.
    pub sort: Option<ResourceSort>,
}

/// Orders of the resource list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceSort {
    /// By name, A to Z.
    Name,
    /// By name, Z to A.
    NameDesc,
    /// Smallest capacity first.
    Capacity,
    /// Largest capacity first.
    CapacityDesc,
    /// By status, then name.
    Status,
    /// By type, then name.
    Type,
    /// Oldest first.
    Created,
    /// Newest first.
    CreatedDesc,
}

impl ResourceSort {
    /// Every order with its wire name (`-` = descending).
    pub const ALL: [(&'static str, ResourceSort); 8] = [
        ("name", Self::Name),
        ("-name", Self::NameDesc),
        ("capacity_kw", Self::Capacity),
        ("-capacity_kw", Self::CapacityDesc),
        ("status", Self::Status),
        ("resource_type", Self::Type),
        ("created_at", Self::Created),
        ("-created_at", Self::CreatedDesc),
    ];

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(name, _)| *name == s).map(|(_, v)| *v)
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::Name => "name, id",
            Self::NameDesc => "name DESC, id",
            Self::Capacity => "capacity_kw, name, id",
            Self::CapacityDesc => "capacity_kw DESC, name, id",
            Self::Status => "status, name, id",
            Self::Type => "resource_type, name, id",
            Self::Created => "created_at, id",
            Self::CreatedDesc => "created_at DESC, id",
        }
    }
}

/// A page of resources.
pub type ResourcePage = Paged<Resource>;

pub(crate) fn resource_from_row(row: &AnyRow) -> Result<Resource> {
    Ok(Resource {
        id: row.try_get("id")?,
        template_id: row.try_get("template_id")?,
        resource_type: parse_enum(row, "resource_type", ResourceType::parse)?,
        category: parse_enum(row, "category", ResourceCategory::parse)?,
        name: row.try_get("name")?,
        external_id: row.try_get("external_id")?,
        status: parse_enum(row, "status", ResourceStatus::parse)?,
        capacity_kw: row.try_get("capacity_kw")?,
        min_power_kw: row.try_get("min_power_kw")?,
        max_power_kw: row.try_get("max_power_kw")?,
        efficiency: row.try_get("efficiency")?,
        response_time_s: row.try_get("response_time_s")?,
        marginal_cost: row.try_get("marginal_cost")?,
        location: Location {
            lat: row.try_get("lat")?,
            lon: row.try_get("lon")?,
            timezone: row.try_get("timezone")?,
            building: row.try_get("building")?,
        },
        device_address: row.try_get("device_address")?,
        owner: row.try_get("owner")?,
        parameters: from_json(row, "parameters")?,
        metadata: from_json(row, "metadata")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

impl Store {
    /// Lists resources by name.
    pub async fn list_resources(&self, filter: &ResourceFilter, page: Page) -> Result<ResourcePage> {
        let mut f = Filters::new();
        f.eq("template_id", filter.template_id.clone())
            .eq("status", filter.status.map(|s| s.as_str().to_string()))
            .eq("resource_type", filter.resource_type.map(|t| t.as_str().to_string()))
            .eq("category", filter.category.map(|c| c.as_str().to_string()));
        let order = filter.sort.unwrap_or(ResourceSort::Name).order_by();
        let (total, rows) = f.page(&self.pool, "resources", COLUMNS, order, page).await?;
        let items = rows.iter().map(resource_from_row).collect::<Result<_>>()?;
        Ok(Paged { items, total, page: page.page, size: page.size })
    }

    /// The resource with this external (asset) id, if there is one.
    pub async fn resource_by_external_id(&self, external_id: &str) -> Result<Option<Resource>> {
        let row = sqlx::query(select_resource!("WHERE external_id = $1"))
            .bind(external_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| resource_from_row(&r)).transpose()
    }

    /// One resource.
    pub async fn get_resource(&self, id: &str) -> Result<Resource> {
        let row =
            sqlx::query(select_resource!("WHERE id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref()
            .map(resource_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "resource", id: id.into() })
    }

    /// Creates a resource from a template. A dangling `template_id` is a field error.
    pub async fn create_resource(&self, request: ResourceRequest) -> Result<Resource> {
        let mut w = self.begin_write().await?;
        let template = match get_template_tx(&mut w, &request.template_id).await {
            Err(StoreError::NotFound { id, .. }) => {
                return Err(vpp_domain::Invalid::one("template_id", format!("template `{id}` does not exist")).into());
            }
            other => other?,
        };
        let draft = ResourceDraft::new(&template, request)?;
        let resource = insert_resource(&mut w, draft).await?;
        w.tx.commit().await?;
        Ok(resource)
    }

    /// Applies a partial update, validated against the template.
    pub async fn update_resource(&self, id: &str, update: ResourceUpdate) -> Result<Resource> {
        let mut w = self.begin_write().await?;
        let current = get_resource_tx(&mut w, id).await?;
        let template = get_template_tx(&mut w, &current.template_id).await?;
        let draft = ResourceDraft::updated(&template, &current, update)?;
        let resource = update_resource_tx(&mut w, &current, draft).await?;
        w.tx.commit().await?;
        Ok(resource)
    }

    /// Changes the status and records the change with its reason.
    pub async fn set_resource_status(&self, id: &str, request: StatusRequest) -> Result<(Resource, StatusChange)> {
        request.validate()?;
        let mut w = self.begin_write().await?;
        let mut resource = get_resource_tx(&mut w, id).await?;
        let change = record_status(&mut w, &resource, request.status, request.reason.trim().into()).await?;
        resource.status = change.to_status;
        resource.updated_at = change.changed_at;
        w.tx.commit().await?;
        Ok((resource, change))
    }

    /// Status changes of a resource, newest first.
    pub async fn status_history(&self, id: &str, limit: i64) -> Result<Vec<StatusChange>> {
        self.get_resource(id).await?;
        let rows = sqlx::query(
            "SELECT resource_id, from_status, to_status, reason, reason_data, changed_at FROM resource_status_history \
             WHERE resource_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusChange {
                    resource_id: r.try_get("resource_id")?,
                    from_status: parse_enum(r, "from_status", ResourceStatus::parse)?,
                    to_status: parse_enum(r, "to_status", ResourceStatus::parse)?,
                    content: StatusReason::from_stored(
                        r.try_get::<Option<String>, _>("reason_data")?.as_deref(),
                        &r.try_get::<String, _>("reason")?,
                    ),
                    reason: r.try_get("reason")?,
                    changed_at: from_micros(r.try_get("changed_at")?)?,
                })
            })
            .collect()
    }
}

pub(crate) async fn get_resource_tx(w: &mut WriteTx<'_>, id: &str) -> Result<Resource> {
    let row = sqlx::query(select_resource!("WHERE id = $1")).bind(id.to_string()).fetch_optional(&mut *w.tx).await?;
    row.as_ref()
        .map(resource_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { entity: "resource", id: id.into() })
}

pub(crate) async fn get_resource_by_external_id(w: &mut WriteTx<'_>, external_id: &str) -> Result<Option<Resource>> {
    let row = sqlx::query(select_resource!("WHERE external_id = $1"))
        .bind(external_id.to_string())
        .fetch_optional(&mut *w.tx)
        .await?;
    row.as_ref().map(resource_from_row).transpose()
}

/// Sets a resource's status and records the change with its reason (the
/// English text, and the code with its figures unless a person typed it).
pub(crate) async fn record_status(
    w: &mut WriteTx<'_>,
    resource: &Resource,
    to: ResourceStatus,
    reason: StatusReason,
) -> Result<StatusChange> {
    let text = reason.render(Lang::En);
    let data = match &reason {
        StatusReason::Text { .. } => None,
        coded => Some(crate::to_json(coded)),
    };
    let now = crate::now();
    sqlx::query("UPDATE resources SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(resource.id.clone())
        .bind(to.as_str())
        .bind(to_micros(now))
        .execute(&mut *w.tx)
        .await?;
    sqlx::query(
        "INSERT INTO resource_status_history (resource_id, from_status, to_status, reason, reason_data, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(resource.id.clone())
    .bind(resource.status.as_str())
    .bind(to.as_str())
    .bind(text.clone())
    .bind(data)
    .bind(to_micros(now))
    .execute(&mut *w.tx)
    .await?;
    Ok(StatusChange {
        resource_id: resource.id.clone(),
        from_status: resource.status,
        to_status: to,
        reason: text,
        content: reason,
        changed_at: now,
    })
}

fn draft_into_resource(id: String, draft: ResourceDraft, created_at: Timestamp, updated_at: Timestamp) -> Resource {
    Resource {
        id,
        template_id: draft.template_id,
        resource_type: draft.resource_type,
        category: draft.category,
        name: draft.name,
        external_id: draft.external_id,
        status: draft.status,
        capacity_kw: draft.limits.capacity_kw,
        min_power_kw: draft.limits.min_power_kw,
        max_power_kw: draft.limits.max_power_kw,
        efficiency: draft.limits.efficiency,
        response_time_s: draft.response_time_s,
        marginal_cost: draft.marginal_cost,
        location: draft.location,
        device_address: draft.device_address,
        owner: draft.owner,
        parameters: draft.parameters,
        metadata: draft.metadata,
        created_at,
        updated_at,
    }
}

fn duplicate_of(r: &Resource) -> impl FnOnce(sqlx::Error) -> StoreError {
    let (name, external_id) = (r.name.clone(), r.external_id.clone());
    move |e| {
        let is_dup = e.as_database_error().is_some_and(|d| d.is_unique_violation());
        let external = is_dup && e.to_string().contains("external_id");
        match (is_dup, external, external_id) {
            (true, true, Some(ext)) => StoreError::Duplicate { entity: "resource", field: "external_id", value: ext },
            _ => unique("resource", "name", &name)(e),
        }
    }
}

/// Binds every column of `r` in the order of `columns!()` ($1 = id ... $23 = updated_at).
fn bind_resource<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    r: &Resource,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(r.id.clone())
        .bind(r.template_id.clone())
        .bind(r.resource_type.as_str())
        .bind(r.category.as_str())
        .bind(r.name.clone())
        .bind(r.external_id.clone())
        .bind(r.status.as_str())
        .bind(r.capacity_kw)
        .bind(r.min_power_kw)
        .bind(r.max_power_kw)
        .bind(r.efficiency)
        .bind(r.response_time_s)
        .bind(r.marginal_cost)
        .bind(r.location.lat)
        .bind(r.location.lon)
        .bind(r.location.timezone.clone())
        .bind(r.location.building.clone())
        .bind(r.device_address.clone())
        .bind(r.owner.clone())
        .bind(to_json(&r.parameters))
        .bind(to_json(&r.metadata))
        .bind(to_micros(r.created_at))
        .bind(to_micros(r.updated_at))
}

pub(crate) async fn insert_resource(w: &mut WriteTx<'_>, draft: ResourceDraft) -> Result<Resource> {
    let now = crate::now();
    let r = draft_into_resource(new_id(), draft, now, now);
    let sql = concat!(
        "INSERT INTO resources (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
    );
    bind_resource(sqlx::query(sql), &r).execute(&mut *w.tx).await.map_err(duplicate_of(&r))?;
    Ok(r)
}

/// Writes a draft over `current`. A status change in the draft is recorded
/// by the caller through [`record_status`]; this keeps the current status.
pub(crate) async fn update_resource_tx(
    w: &mut WriteTx<'_>,
    current: &Resource,
    draft: ResourceDraft,
) -> Result<Resource> {
    let mut r = draft_into_resource(current.id.clone(), draft, current.created_at, crate::now());
    r.status = current.status;
    let sql = "UPDATE resources SET template_id = $2, resource_type = $3, category = $4, name = $5, external_id = $6, \
               status = $7, capacity_kw = $8, min_power_kw = $9, max_power_kw = $10, efficiency = $11, \
               response_time_s = $12, marginal_cost = $13, lat = $14, lon = $15, timezone = $16, building = $17, \
               device_address = $18, owner = $19, parameters = $20, metadata = $21, created_at = $22, updated_at = $23 \
               WHERE id = $1";
    bind_resource(sqlx::query(sql), &r).execute(&mut *w.tx).await.map_err(duplicate_of(&r))?;
    Ok(r)
}
