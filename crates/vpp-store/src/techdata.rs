//! Technical-data imports with their history.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::Row;
use vpp_domain::Invalid;
use vpp_domain::error::Errors;
use vpp_domain::resource::{Resource, ResourceDraft};
use vpp_domain::status_reason::StatusReason;
use vpp_domain::techdata::{
    AssetChanges, AssetRef, FieldChange, ImportReport, TechnicalDataFile, diff, file_timestamp,
};
use vpp_domain::template::{ResourceTemplate, ResourceType};

use crate::resources::{get_resource_by_external_id, insert_resource, record_status, update_resource_tx};
use crate::templates::get_template_tx;
use crate::{Result, Store, StoreError, WriteTx, from_json, from_micros, new_id, to_json, to_micros};

/// What to do with one asset, decided before anything is written.
enum Plan {
    Add(ResourceDraft),
    Change(Box<Resource>, ResourceDraft, Vec<FieldChange>),
    Same,
}

impl Store {
    /// Imports a technical-data file. Every asset is validated and planned
    /// first; any error refuses the whole file. A file older than the newest
    /// one already imported is refused, so an old delivery cannot undo a newer one.
    /// With `dry_run` everything is checked and the report (with every field
    /// change) returned, and the transaction rolled back: a preview.
    pub async fn import_technical_data(
        &self,
        file_name: &str,
        file: TechnicalDataFile,
        dry_run: bool,
    ) -> Result<ImportReport> {
        let file_name = file_name.trim();
        if file_name.is_empty() || file_name.len() > 255 {
            return Err(Invalid::one("file_name", "must be 1 to 255 characters").into());
        }
        let file_created_at = file_timestamp(file_name);
        let records = file.records()?;
        let mut w = self.begin_write().await?;
        if let Some(created) = file_created_at {
            let newer = sqlx::query(
                "SELECT file_name, file_created_at FROM technical_data_imports WHERE file_created_at > $1 \
                 ORDER BY file_created_at DESC LIMIT 1",
            )
            .bind(to_micros(created))
            .fetch_optional(&mut *w.tx)
            .await?;
            if let Some(row) = newer {
                let name: String = row.try_get("file_name")?;
                return Err(StoreError::Conflict {
                    field: Some("file_name".into()),
                    message: format!("`{file_name}` ({created}) is older than the already imported `{name}`"),
                });
            }
        }
        let mut templates: HashMap<ResourceType, ResourceTemplate> = HashMap::new();
        let mut errors = Errors::default();
        let mut plans = Vec::with_capacity(records.len());
        for record in &records {
            let template = match templates.get(&record.resource_type) {
                Some(t) => t.clone(),
                None => match template_for(&mut w, record.resource_type).await? {
                    Some(t) => templates.entry(record.resource_type).or_insert(t).clone(),
                    None => {
                        errors.push(
                            format!("{}.type", record.field),
                            format!("no template of type {}", record.resource_type.as_str()),
                        );
                        continue;
                    }
                },
            };
            let planned = match get_resource_by_external_id(&mut w, &record.asset_id).await? {
                None => record.new_resource(&template).map(Plan::Add),
                Some(current) => {
                    let tpl = if current.template_id == template.id {
                        template.clone()
                    } else {
                        get_template_tx(&mut w, &current.template_id).await?
                    };
                    record.updated_resource(&tpl, &current).map(|draft| {
                        let changes = diff(&current, &draft);
                        if changes.is_empty() { Plan::Same } else { Plan::Change(Box::new(current), draft, changes) }
                    })
                }
            };
            match planned {
                Ok(p) => plans.push((record.asset_id.clone(), p)),
                Err(e) => errors.extend(e),
            }
        }
        errors.finish(())?;

        let now = crate::now();
        let import_id = new_id();
        let mut report = ImportReport {
            import_id: import_id.clone(),
            file_name: file_name.to_string(),
            file_created_at,
            imported_at: now,
            ..ImportReport::default()
        };
        let reason = StatusReason::TechnicalData { file: file_name.to_string() };
        let mut history = Vec::new();
        for (asset_id, plan) in plans {
            match plan {
                Plan::Same => report.unchanged_count += 1,
                Plan::Add(draft) => {
                    let r = insert_resource(&mut w, draft).await?;
                    report.added.push(AssetRef { asset_id, resource_id: r.id, name: r.name });
                }
                Plan::Change(current, draft, changes) => {
                    let status = draft.status;
                    update_resource_tx(&mut w, &current, draft).await?;
                    if status != current.status {
                        record_status(&mut w, &current, status, reason.clone()).await?;
                    }
                    history.push((current.id.clone(), asset_id.clone(), changes.clone()));
                    report.changed.push(AssetChanges { asset_id, resource_id: current.id.clone(), changes });
                }
            }
        }
        let seen: std::collections::HashSet<&str> = records.iter().map(|r| r.asset_id.as_str()).collect();
        let known = sqlx::query(
            "SELECT id, name, external_id FROM resources WHERE external_id IS NOT NULL ORDER BY external_id",
        )
        .fetch_all(&mut *w.tx)
        .await?;
        for row in &known {
            let asset_id: String = row.try_get("external_id")?;
            if !seen.contains(asset_id.as_str()) {
                report.missing.push(AssetRef { asset_id, resource_id: row.try_get("id")?, name: row.try_get("name")? });
            }
        }
        if dry_run {
            w.tx.rollback().await?;
            report.dry_run = true;
            return Ok(report);
        }
        sqlx::query("INSERT INTO technical_data_imports (id, file_name, file_created_at, imported_at, report) VALUES ($1, $2, $3, $4, $5)")
            .bind(import_id.clone())
            .bind(file_name.to_string())
            .bind(file_created_at.map(to_micros))
            .bind(to_micros(now))
            .bind(to_json(&report))
            .execute(&mut *w.tx)
            .await?;
        for (resource_id, asset_id, changes) in history {
            for c in changes {
                sqlx::query(
                    "INSERT INTO resource_changes (import_id, resource_id, asset_id, field, old_value, new_value, changed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(import_id.clone())
                .bind(resource_id.clone())
                .bind(asset_id.clone())
                .bind(c.field)
                .bind(c.old.to_string())
                .bind(c.new.to_string())
                .bind(to_micros(now))
                .execute(&mut *w.tx)
                .await?;
            }
        }
        w.tx.commit().await?;
        Ok(report)
    }

    /// Past imports, newest first.
    pub async fn list_imports(&self, limit: i64) -> Result<Vec<ImportReport>> {
        let rows = sqlx::query("SELECT report FROM technical_data_imports ORDER BY imported_at DESC, id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| from_json(r, "report")).collect()
    }

    /// Field changes made to a resource by imports, newest first: (import file, time, change).
    pub async fn resource_changes(&self, resource_id: &str) -> Result<Vec<(String, Timestamp, FieldChange)>> {
        self.get_resource(resource_id).await?;
        let rows = sqlx::query(
            "SELECT i.file_name, c.changed_at, c.field, c.old_value, c.new_value FROM resource_changes c \
             JOIN technical_data_imports i ON i.id = c.import_id WHERE c.resource_id = $1 ORDER BY c.changed_at DESC, c.id",
        )
        .bind(resource_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let parse = |col: &str| -> Result<serde_json::Value> {
                    let text: String = r.try_get(col)?;
                    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
                };
                Ok((
                    r.try_get("file_name")?,
                    from_micros(r.try_get("changed_at")?)?,
                    FieldChange { field: r.try_get("field")?, old: parse("old_value")?, new: parse("new_value")? },
                ))
            })
            .collect()
    }
}

/// The template imports use for a type: the preset, else the oldest of that type.
async fn template_for(w: &mut WriteTx<'_>, t: ResourceType) -> Result<Option<ResourceTemplate>> {
    let row = sqlx::query(
        "SELECT id FROM resource_templates WHERE resource_type = $1 ORDER BY preset DESC, created_at LIMIT 1",
    )
    .bind(t.as_str())
    .fetch_optional(&mut *w.tx)
    .await?;
    match row {
        Some(r) => Ok(Some(get_template_tx(w, &r.try_get::<String, _>("id")?).await?)),
        None => Ok(None),
    }
}
