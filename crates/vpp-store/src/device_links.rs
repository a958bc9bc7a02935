//! Device links: how vpp reaches a resource's device over a field standard.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use vpp_domain::device_link::{DeviceLinkSpec, LinkProtocol};

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// A stored device link.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviceLink {
    /// The resource it belongs to.
    pub resource_id: String,
    /// The link as configured.
    #[serde(flatten)]
    pub spec: DeviceLinkSpec,
    /// When last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<DeviceLink> {
    let spec: String = r.try_get("spec")?;
    Ok(DeviceLink {
        resource_id: r.try_get("resource_id")?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("device link: {e}")))?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
    })
}

impl Store {
    /// Sets a resource's device link (validated by the caller), replacing
    /// any it had. The resource must exist.
    pub async fn put_device_link(&self, resource_id: &str, spec: &DeviceLinkSpec) -> Result<DeviceLink> {
        let mut w = self.begin_write().await?;
        crate::resources::get_resource_tx(&mut w, resource_id).await?;
        let now = crate::now();
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO device_links (resource_id, protocol, enabled, spec, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (resource_id) DO UPDATE SET protocol = excluded.protocol, enabled = excluded.enabled, \
             spec = excluded.spec, updated_at = excluded.updated_at",
        )
        .bind(resource_id.to_string())
        .bind(spec.protocol.as_str())
        .bind(i64::from(spec.enabled))
        .bind(json)
        .bind(to_micros(now))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(DeviceLink { resource_id: resource_id.into(), spec: spec.clone(), updated_at: now })
    }

    /// A resource's device link; not found if it has none.
    pub async fn get_device_link(&self, resource_id: &str) -> Result<DeviceLink> {
        let row = sqlx::query("SELECT resource_id, spec, updated_at FROM device_links WHERE resource_id = $1")
            .bind(resource_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "device link", id: resource_id.into() })
    }

    /// Removes a resource's device link (polling stops at the adapter's next look).
    pub async fn delete_device_link(&self, resource_id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM device_links WHERE resource_id = $1")
            .bind(resource_id.to_string())
            .execute(&mut *w.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "device link", id: resource_id.into() });
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// Every link, enabled or not, of one protocol (all protocols if `None`), by resource id.
    pub async fn device_links(&self, protocol: Option<LinkProtocol>, enabled_only: bool) -> Result<Vec<DeviceLink>> {
        let rows = sqlx::query(
            "SELECT resource_id, spec, updated_at FROM device_links \
             WHERE ($1 IS NULL OR protocol = $1) AND ($2 = 0 OR enabled = 1) ORDER BY resource_id",
        )
        .bind(protocol.map(|p| p.as_str().to_string()))
        .bind(i64::from(enabled_only))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
