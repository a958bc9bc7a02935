//! The model registry: registered forecasting models and their trained
//! versions with training window, parameters and scores.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::ai_model::{AiModel, ModelRequest, ModelType, ModelVersion, Spec, VersionStatus};

use crate::{Result, Store, StoreError, from_json, from_micros, new_id, parse_enum, to_json, to_micros, unique};

const MODEL_COLUMNS: &str = "id, definition, version, created_by, created_at, updated_at";
const VERSION_COLUMNS: &str =
    "model_id, version, status, spec, train_from, train_to, trained, error, fit_ms, trained_by, trained_at";

fn model_from_row(r: &AnyRow) -> Result<AiModel> {
    Ok(AiModel {
        id: r.try_get("id")?,
        definition: from_json(r, "definition")?,
        version: r.try_get("version")?,
        created_by: r.try_get("created_by")?,
        created_at: from_micros(r.try_get("created_at")?)?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
    })
}

fn version_from_row(r: &AnyRow) -> Result<ModelVersion> {
    let trained: Option<String> = r.try_get("trained")?;
    Ok(ModelVersion {
        model_id: r.try_get("model_id")?,
        version: r.try_get("version")?,
        status: parse_enum(r, "status", VersionStatus::parse)?,
        spec: from_json(r, "spec")?,
        train_from: from_micros(r.try_get("train_from")?)?,
        train_to: from_micros(r.try_get("train_to")?)?,
        trained: trained
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("trained: {e}"))))
            .transpose()?,
        error: r.try_get("error")?,
        fit_ms: r.try_get("fit_ms")?,
        trained_by: r.try_get("trained_by")?,
        trained_at: from_micros(r.try_get("trained_at")?)?,
    })
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound { entity: "ai model", id: id.into() }
}

/// A training run's outcome, to be stored as the next version.
#[derive(Debug, Clone)]
pub struct NewModelVersion {
    /// READY or FAILED.
    pub status: VersionStatus,
    /// Decided parameters.
    pub spec: Spec,
    /// Training data window.
    pub train_from: Timestamp,
    /// End of it (exclusive).
    pub train_to: Timestamp,
    /// Scores, quantiles and coefficients.
    pub trained: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Wall time, ms.
    pub fit_ms: f64,
}

impl Store {
    /// Registers a model (checked by the caller) without versions.
    pub async fn create_model(&self, request: &ModelRequest, by: &str) -> Result<AiModel> {
        let id = new_id();
        let now = to_micros(crate::now());
        sqlx::query(
            "INSERT INTO ai_models (id, name, model_type, method, target_series_id, definition, version, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8)",
        )
        .bind(id.clone())
        .bind(request.name.trim().to_string())
        .bind(request.model_type.as_str())
        .bind(request.method.as_str())
        .bind(request.target_series_id.clone())
        .bind(to_json(request))
        .bind(by.to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(unique("ai model", "name", &request.name))?;
        self.get_model(&id).await
    }

    /// A model that is not deleted.
    pub async fn get_model(&self, id: &str) -> Result<AiModel> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM ai_models WHERE id = $1 AND deleted_at IS NULL");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await?;
        model_from_row(&row.ok_or_else(|| not_found(id))?)
    }

    /// Models by name, optionally of one type.
    pub async fn list_models(&self, model_type: Option<ModelType>) -> Result<Vec<AiModel>> {
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM ai_models WHERE deleted_at IS NULL AND ($1 = '' OR model_type = $1) \
             ORDER BY name"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(model_type.map_or("", ModelType::as_str).to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(model_from_row).collect()
    }

    /// Changes a model's parameters (a training run asked for new ones).
    pub async fn update_model_definition(&self, id: &str, request: &ModelRequest) -> Result<AiModel> {
        let done =
            sqlx::query("UPDATE ai_models SET definition = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL")
                .bind(to_json(request))
                .bind(to_micros(crate::now()))
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        self.get_model(id).await
    }

    /// Hides a model; its versions stay for what names them.
    pub async fn delete_model(&self, id: &str) -> Result<()> {
        let done = sqlx::query("UPDATE ai_models SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(to_micros(crate::now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    /// Stores a training run as the next version; a READY one becomes the
    /// model's current version.
    pub async fn add_model_version(&self, id: &str, new: &NewModelVersion, by: &str) -> Result<ModelVersion> {
        let mut w = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT COALESCE(MAX(v.version), 0) AS n FROM ai_models m \
             LEFT JOIN ai_model_versions v ON v.model_id = m.id WHERE m.id = $1 AND m.deleted_at IS NULL \
             GROUP BY m.id",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or_else(|| not_found(id))?;
        let version: i64 = row.try_get::<i64, _>("n")? + 1;
        let now = to_micros(crate::now());
        sqlx::query(
            "INSERT INTO ai_model_versions (model_id, version, status, spec, train_from, train_to, trained, error, \
             fit_ms, trained_by, trained_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id.to_string())
        .bind(version)
        .bind(new.status.as_str())
        .bind(to_json(&new.spec))
        .bind(to_micros(new.train_from))
        .bind(to_micros(new.train_to))
        .bind(new.trained.as_ref().map(to_json))
        .bind(new.error.clone())
        .bind(new.fit_ms)
        .bind(by.to_string())
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        if new.status == VersionStatus::Ready {
            sqlx::query("UPDATE ai_models SET version = $1, updated_at = $2 WHERE id = $3")
                .bind(version)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *w.tx)
                .await?;
        }
        w.tx.commit().await?;
        self.model_version(id, Some(version)).await
    }

    /// One version, or the current (newest READY) one.
    pub async fn model_version(&self, id: &str, version: Option<i64>) -> Result<ModelVersion> {
        let model = self.get_model(id).await?;
        let wanted = version.unwrap_or(model.version);
        let sql = format!("SELECT {VERSION_COLUMNS} FROM ai_model_versions WHERE model_id = $1 AND version = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).bind(wanted).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => version_from_row(&r),
            None if version.is_none() => Err(StoreError::Conflict {
                field: Some("version".into()),
                message: format!("model `{}` has no trained version yet; train it first", model.definition.name),
            }),
            None => Err(StoreError::NotFound { entity: "ai model version", id: format!("{id} v{wanted}") }),
        }
    }

    /// Every version of a model, newest first.
    pub async fn model_versions(&self, id: &str) -> Result<Vec<ModelVersion>> {
        self.get_model(id).await?;
        let sql = format!("SELECT {VERSION_COLUMNS} FROM ai_model_versions WHERE model_id = $1 ORDER BY version DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_all(&self.pool).await?;
        rows.iter().map(version_from_row).collect()
    }
}
