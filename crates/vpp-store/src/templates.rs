//! Resource templates and the preset library.

use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::Invalid;
use vpp_domain::presets::preset_templates;
use vpp_domain::template::{
    LibraryImportReport, ResourceCategory, ResourceTemplate, ResourceType, TemplateLibrary, TemplateSpec,
    TemplateUpdate,
};

use crate::{
    Filters, Page, Paged, Reference, Result, Store, StoreError, WriteTx, from_json, from_micros, new_id, parse_enum,
    to_json, to_micros, unique,
};

macro_rules! columns {
    () => {
        "id, name, resource_type, category, description, parameters, rules, control_interface, version, preset, created_at, updated_at"
    };
}
const COLUMNS: &str = columns!();

/// `SELECT <all template columns> FROM resource_templates <rest>` as a static string.
macro_rules! select_template {
    ($rest:literal) => {
        concat!("SELECT ", columns!(), " FROM resource_templates ", $rest)
    };
}

/// Filters of the template list.
#[derive(Debug, Clone, Default)]
pub struct TemplateFilter {
    /// Only this type.
    pub resource_type: Option<ResourceType>,
    /// Only this category.
    pub category: Option<ResourceCategory>,
}

fn template_from_row(row: &AnyRow) -> Result<ResourceTemplate> {
    Ok(ResourceTemplate {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        resource_type: parse_enum(row, "resource_type", ResourceType::parse)?,
        category: parse_enum(row, "category", ResourceCategory::parse)?,
        description: row.try_get("description")?,
        parameters: from_json(row, "parameters")?,
        rules: from_json(row, "rules")?,
        control_interface: from_json(row, "control_interface")?,
        version: row.try_get("version")?,
        preset: row.try_get::<i64, _>("preset")? != 0,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

impl Store {
    /// Lists templates by name.
    pub async fn list_templates(&self, filter: &TemplateFilter, page: Page) -> Result<Paged<ResourceTemplate>> {
        let mut f = Filters::new();
        f.eq("resource_type", filter.resource_type.map(|t| t.as_str().to_string()))
            .eq("category", filter.category.map(|c| c.as_str().to_string()));
        let (total, rows) = f.page(&self.pool, "resource_templates", COLUMNS, "name, id", page).await?;
        let items = rows.iter().map(template_from_row).collect::<Result<_>>()?;
        Ok(Paged { items, total, page: page.page, size: page.size })
    }

    /// All templates, by name.
    pub async fn all_templates(&self) -> Result<Vec<ResourceTemplate>> {
        let rows = sqlx::query(select_template!("ORDER BY name")).fetch_all(&self.pool).await?;
        rows.iter().map(template_from_row).collect()
    }

    /// One template.
    pub async fn get_template(&self, id: &str) -> Result<ResourceTemplate> {
        let row =
            sqlx::query(select_template!("WHERE id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref()
            .map(template_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "template", id: id.into() })
    }

    /// Creates a template from a validated spec.
    pub async fn create_template(&self, spec: TemplateSpec) -> Result<ResourceTemplate> {
        spec.validate()?;
        let mut w = self.begin_write().await?;
        let template = insert_template(&mut w, spec, false).await?;
        w.tx.commit().await?;
        Ok(template)
    }

    /// Applies an update, raising the version. Every resource of the template
    /// must stay valid under the new schema; their parameters are re-resolved
    /// (new defaults filled in) in the same transaction.
    pub async fn update_template(&self, id: &str, update: TemplateUpdate) -> Result<ResourceTemplate> {
        let mut w = self.begin_write().await?;
        let current = get_template_tx(&mut w, id).await?;
        let spec = current.updated_spec(update)?;
        let template = replace_template(&mut w, &current, spec).await?;
        w.tx.commit().await?;
        Ok(template)
    }

    /// Deletes a template nobody uses; otherwise [`StoreError::InUse`] naming the resources.
    pub async fn delete_template(&self, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        get_template_tx(&mut w, id).await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM resources WHERE template_id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *w.tx)
            .await?
            .try_get("n")?;
        if count > 0 {
            let rows = sqlx::query("SELECT id, name FROM resources WHERE template_id = $1 ORDER BY name LIMIT 20")
                .bind(id.to_string())
                .fetch_all(&mut *w.tx)
                .await?;
            let used_by = rows
                .iter()
                .map(|r| Ok(Reference { id: r.try_get("id")?, name: r.try_get("name")? }))
                .collect::<Result<_>>()?;
            return Err(StoreError::InUse {
                entity: "template",
                id: id.into(),
                used_by_kind: "resources",
                count,
                used_by,
            });
        }
        sqlx::query("DELETE FROM resource_templates WHERE id = $1").bind(id.to_string()).execute(&mut *w.tx).await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// The whole library as a file.
    pub async fn export_templates(&self) -> Result<TemplateLibrary> {
        Ok(TemplateLibrary {
            format: TemplateLibrary::FORMAT.into(),
            format_version: 1,
            exported_at: Some(crate::now()),
            templates: self.all_templates().await?.iter().map(ResourceTemplate::spec).collect(),
        })
    }

    /// Imports a library file: templates are matched by name, created, updated
    /// or left alone. The file is checked whole first; any error changes nothing.
    pub async fn import_templates(&self, library: TemplateLibrary) -> Result<LibraryImportReport> {
        library.validate()?;
        let mut w = self.begin_write().await?;
        let mut report = LibraryImportReport::default();
        for (i, spec) in library.templates.into_iter().enumerate() {
            let existing = sqlx::query(select_template!("WHERE name = $1"))
                .bind(spec.name.trim().to_string())
                .fetch_optional(&mut *w.tx)
                .await?;
            let name = spec.name.trim().to_string();
            match existing.as_ref().map(template_from_row).transpose()? {
                None => {
                    insert_template(&mut w, spec, false).await?;
                    report.created.push(name);
                }
                Some(current) if current.spec() == TemplateSpec { category: Some(spec.category()), ..spec.clone() } => {
                    report.unchanged.push(name)
                }
                Some(current) => {
                    if current.resource_type != spec.resource_type {
                        return Err(Invalid::one(
                            format!("templates[{i}].resource_type"),
                            format!("template `{name}` exists with type {}", current.resource_type.as_str()),
                        )
                        .into());
                    }
                    replace_template(&mut w, &current, spec).await?;
                    report.updated.push(name);
                }
            }
        }
        w.tx.commit().await?;
        Ok(report)
    }

    /// Seeds the preset library on first start. Presets deleted later stay deleted.
    pub(crate) async fn seed_presets(&self) -> Result<()> {
        let mut w = self.begin_write().await?;
        let seeded =
            sqlx::query("SELECT value FROM meta WHERE key = 'presets_seeded'").fetch_optional(&mut *w.tx).await?;
        if seeded.is_some() {
            return Ok(());
        }
        for spec in preset_templates() {
            let exists = sqlx::query("SELECT id FROM resource_templates WHERE name = $1")
                .bind(spec.name.clone())
                .fetch_optional(&mut *w.tx)
                .await?;
            if exists.is_none() {
                insert_template(&mut w, spec, true).await?;
            }
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('presets_seeded', $1)")
            .bind(crate::now().to_string())
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(())
    }
}

pub(crate) async fn get_template_tx(w: &mut WriteTx<'_>, id: &str) -> Result<ResourceTemplate> {
    let row = sqlx::query(select_template!("WHERE id = $1")).bind(id.to_string()).fetch_optional(&mut *w.tx).await?;
    row.as_ref()
        .map(template_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { entity: "template", id: id.into() })
}

async fn insert_template(w: &mut WriteTx<'_>, spec: TemplateSpec, preset: bool) -> Result<ResourceTemplate> {
    let now = crate::now();
    let t = ResourceTemplate {
        id: new_id(),
        name: spec.name.trim().to_string(),
        resource_type: spec.resource_type,
        category: spec.category(),
        description: spec.description,
        parameters: spec.parameters,
        rules: spec.rules,
        control_interface: spec.control_interface,
        version: 1,
        preset,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO resource_templates (id, name, resource_type, category, description, parameters, rules, control_interface, version, preset, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(t.id.clone())
    .bind(t.name.clone())
    .bind(t.resource_type.as_str())
    .bind(t.category.as_str())
    .bind(t.description.clone())
    .bind(to_json(&t.parameters))
    .bind(to_json(&t.rules))
    .bind(to_json(&t.control_interface))
    .bind(t.version)
    .bind(preset as i64)
    .bind(to_micros(now))
    .bind(to_micros(now))
    .execute(&mut *w.tx)
    .await
    .map_err(unique("template", "name", &t.name))?;
    Ok(t)
}

/// Replaces the content of `current` with `spec`, re-validating its resources.
async fn replace_template(
    w: &mut WriteTx<'_>,
    current: &ResourceTemplate,
    spec: TemplateSpec,
) -> Result<ResourceTemplate> {
    let now = crate::now();
    let t = ResourceTemplate {
        id: current.id.clone(),
        name: spec.name.trim().to_string(),
        resource_type: current.resource_type,
        category: spec.category(),
        description: spec.description,
        parameters: spec.parameters,
        rules: spec.rules,
        control_interface: spec.control_interface,
        version: current.version + 1,
        preset: current.preset,
        created_at: current.created_at,
        updated_at: now,
    };
    let users = sqlx::query("SELECT id, name, parameters FROM resources WHERE template_id = $1 ORDER BY name")
        .bind(t.id.clone())
        .fetch_all(&mut *w.tx)
        .await?;
    let mut broken = Vec::new();
    let mut resolved = Vec::with_capacity(users.len());
    for row in &users {
        let id: String = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        match t.resolve_parameters(&from_json(row, "parameters")?) {
            Ok(p) => resolved.push((id, p)),
            Err(e) => broken.push(format!("{name} ({id}): {e}")),
        }
    }
    if !broken.is_empty() {
        return Err(StoreError::Conflict {
            field: Some("parameters".into()),
            message: format!(
                "the new schema would make {} resource(s) invalid: {}",
                broken.len(),
                broken.into_iter().take(10).collect::<Vec<_>>().join("; ")
            ),
        });
    }
    sqlx::query("UPDATE resource_templates SET name = $2, category = $3, description = $4, parameters = $5, rules = $6, control_interface = $7, version = $8, updated_at = $9 WHERE id = $1")
        .bind(t.id.clone())
        .bind(t.name.clone())
        .bind(t.category.as_str())
        .bind(t.description.clone())
        .bind(to_json(&t.parameters))
        .bind(to_json(&t.rules))
        .bind(to_json(&t.control_interface))
        .bind(t.version)
        .bind(to_micros(now))
        .execute(&mut *w.tx)
        .await
        .map_err(unique("template", "name", &t.name))?;
    for (id, params) in resolved {
        sqlx::query("UPDATE resources SET parameters = $2, category = $3 WHERE id = $1")
            .bind(id)
            .bind(to_json(&params))
            .bind(t.category.as_str())
            .execute(&mut *w.tx)
            .await?;
    }
    Ok(t)
}
