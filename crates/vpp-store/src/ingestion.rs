//! Ingestion sources and their runs. A file is claimed by inserting its run
//! (unique by source, name and checksum), so on several nodes, or on two
//! looks at once, each file is taken exactly once; a source's next run is
//! moved on by compare-and-set, so a due run is started by one looker.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use vpp_domain::ingestion::{IngestionRun, RunOutcome, SourceSpec};
use vpp_domain::lang::Lang;
use vpp_domain::series_import::RowError;

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// A stored ingestion source.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IngestionSource {
    /// Source id.
    pub id: String,
    /// The source as configured.
    #[serde(flatten)]
    pub spec: SourceSpec,
    /// When it is next looked at (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub next_run_at: Timestamp,
    /// When created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A claim on a file that had been claimed by a process that stopped is
/// taken over after this long.
const STALE_CLAIM_US: i64 = 15 * 60 * 1_000_000;

/// At most this many refused lines are kept per run.
pub const MAX_REFUSED_LINES: usize = 100;

fn source_from_row(r: &sqlx::any::AnyRow) -> Result<IngestionSource> {
    let spec: String = r.try_get("spec")?;
    Ok(IngestionSource {
        id: r.try_get("id")?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("ingestion source: {e}")))?,
        next_run_at: from_micros(r.try_get("next_run_at")?)?,
        created_at: from_micros(r.try_get("created_at")?)?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
    })
}

fn run_from_row(r: &sqlx::any::AnyRow) -> Result<IngestionRun> {
    let lines: String = r.try_get("refused_lines")?;
    let finished: Option<i64> = r.try_get("finished_at")?;
    let bytes: Option<i64> = r.try_get("bytes")?;
    Ok(IngestionRun {
        id: r.try_get("id")?,
        source_id: r.try_get("source_id")?,
        file_name: r.try_get("file_name")?,
        checksum: r.try_get("checksum")?,
        bytes: bytes.map(|b| b.max(0) as u64),
        started_at: from_micros(r.try_get("started_at")?)?,
        finished_at: finished.map(from_micros).transpose()?,
        outcome: crate::parse_enum(r, "outcome", RunOutcome::parse)?,
        accepted: r.try_get::<i64, _>("accepted")?.max(0) as u64,
        refused: r.try_get::<i64, _>("refused")?.max(0) as u64,
        content: vpp_domain::ingestion::RunMessage::from_stored(
            r.try_get::<Option<String>, _>("message_data")?.as_deref(),
            &r.try_get::<String, _>("message")?,
        ),
        message: r.try_get("message")?,
        refused_lines: serde_json::from_str::<Vec<RowError>>(&lines)
            .map_err(|e| StoreError::Corrupt(format!("ingestion run: {e}")))?,
    })
}

macro_rules! select_sources {
    ($tail:literal) => {
        concat!("SELECT id, spec, next_run_at, created_at, updated_at FROM ingestion_sources", $tail)
    };
}

macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, source_id, file_name, checksum, bytes, started_at, finished_at, outcome, \
             accepted, refused, message, message_data, refused_lines FROM ingestion_runs",
            $tail
        )
    };
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Of one source.
    pub source_id: Option<String>,
    /// With one outcome.
    pub outcome: Option<RunOutcome>,
    /// Newest first, at most this many (default 100).
    pub limit: Option<i64>,
}

/// A claim on a file.
#[derive(Debug, Clone)]
pub enum Claim {
    /// This caller takes the file; its run is `running`.
    Taken(IngestionRun),
    /// Another look took it before, or is taking it now: its run.
    Held(IngestionRun),
}

/// How a file's import ended, to record on its run.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// How it ended.
    pub outcome: RunOutcome,
    /// What went in.
    pub accepted: u64,
    /// Rows refused.
    pub refused: u64,
    /// What it did.
    pub message: vpp_domain::ingestion::RunMessage,
    /// The refused lines (the first [`MAX_REFUSED_LINES`] are kept).
    pub refused_lines: Vec<RowError>,
}

impl Store {
    /// Adds a source (validated by the caller), due first at `next_run_at`.
    pub async fn create_ingestion_source(&self, spec: &SourceSpec, next_run_at: Timestamp) -> Result<IngestionSource> {
        let now = crate::now();
        let id = crate::new_id();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO ingestion_sources (id, name, enabled, spec, next_run_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id.clone())
        .bind(spec.name.trim().to_string())
        .bind(i64::from(spec.enabled))
        .bind(crate::to_json(spec))
        .bind(to_micros(next_run_at))
        .bind(to_micros(now))
        .execute(&mut *w.tx)
        .await
        .map_err(crate::unique("ingestion source", "name", spec.name.trim()))?;
        w.tx.commit().await?;
        self.get_ingestion_source(&id).await
    }

    /// Replaces a source's configuration; it is next due at `next_run_at`.
    pub async fn update_ingestion_source(
        &self,
        id: &str,
        spec: &SourceSpec,
        next_run_at: Timestamp,
    ) -> Result<IngestionSource> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE ingestion_sources SET name = $2, enabled = $3, spec = $4, next_run_at = $5, updated_at = $6 \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(spec.name.trim().to_string())
        .bind(i64::from(spec.enabled))
        .bind(crate::to_json(spec))
        .bind(to_micros(next_run_at))
        .bind(to_micros(crate::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(crate::unique("ingestion source", "name", spec.name.trim()))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "ingestion source", id: id.into() });
        }
        w.tx.commit().await?;
        self.get_ingestion_source(id).await
    }

    /// A source by id or name.
    pub async fn get_ingestion_source(&self, id_or_name: &str) -> Result<IngestionSource> {
        let row = sqlx::query(select_sources!(" WHERE id = $1 OR name = $1"))
            .bind(id_or_name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(source_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "ingestion source", id: id_or_name.into() })
    }

    /// Every source, by name.
    pub async fn list_ingestion_sources(&self) -> Result<Vec<IngestionSource>> {
        let rows = sqlx::query(select_sources!(" ORDER BY name")).fetch_all(&self.pool).await?;
        rows.iter().map(source_from_row).collect()
    }

    /// Removes a source and its runs.
    pub async fn delete_ingestion_source(&self, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM ingestion_runs WHERE source_id = $1").bind(id.to_string()).execute(&mut *w.tx).await?;
        let done =
            sqlx::query("DELETE FROM ingestion_sources WHERE id = $1").bind(id.to_string()).execute(&mut *w.tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "ingestion source", id: id.into() });
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// Enabled sources due at `now`.
    pub async fn due_ingestion_sources(&self, now: Timestamp) -> Result<Vec<IngestionSource>> {
        let rows = sqlx::query(select_sources!(" WHERE enabled = 1 AND next_run_at <= $1 ORDER BY next_run_at"))
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(source_from_row).collect()
    }

    /// Moves a due source on to `next`, if it is still due at `was` (nobody
    /// else took this run); true when this caller takes it.
    pub async fn take_ingestion_run(&self, id: &str, was: Timestamp, next: Timestamp) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query("UPDATE ingestion_sources SET next_run_at = $3 WHERE id = $1 AND next_run_at = $2")
            .bind(id.to_string())
            .bind(to_micros(was))
            .bind(to_micros(next))
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims a file for import by its name and checksum: `Taken` with its
    /// new run (`running`), or `Held` with the run that took it before. A
    /// claim left `running` by a stopped process for 15 minutes is taken
    /// over; with `retake_refused`, so is a file refused before (delivered
    /// again after its cause was fixed).
    pub async fn claim_ingestion_file(
        &self,
        source_id: &str,
        file_name: &str,
        checksum: &str,
        bytes: u64,
        retake_refused: bool,
    ) -> Result<Claim> {
        let now = to_micros(crate::now());
        let id = crate::new_id();
        let mut w = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO ingestion_runs (id, source_id, file_name, checksum, bytes, started_at, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, 'running') \
             ON CONFLICT (source_id, file_name, checksum) WHERE checksum IS NOT NULL DO NOTHING",
        )
        .bind(id.clone())
        .bind(source_id.to_string())
        .bind(file_name.to_string())
        .bind(checksum.to_string())
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(now)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        let taken_over = inserted == 0
            && sqlx::query(
                "UPDATE ingestion_runs SET started_at = $4, finished_at = NULL, outcome = 'running', accepted = 0, \
                 refused = 0, message = '', message_data = NULL, refused_lines = '[]' WHERE source_id = $1 AND file_name = $2 \
                 AND checksum = $3 AND ((outcome = 'running' AND started_at < $5) OR (outcome = 'refused' AND $6 = 1))",
            )
            .bind(source_id.to_string())
            .bind(file_name.to_string())
            .bind(checksum.to_string())
            .bind(now)
            .bind(now - STALE_CLAIM_US)
            .bind(i64::from(retake_refused))
            .execute(&mut *w.tx)
            .await?
            .rows_affected()
                == 1;
        let row = sqlx::query(select_runs!(" WHERE source_id = $1 AND file_name = $2 AND checksum = $3"))
            .bind(source_id.to_string())
            .bind(file_name.to_string())
            .bind(checksum.to_string())
            .fetch_one(&mut *w.tx)
            .await?;
        let run = run_from_row(&row)?;
        w.tx.commit().await?;
        Ok(if inserted == 1 || taken_over { Claim::Taken(run) } else { Claim::Held(run) })
    }

    /// Whether a file of this name and size was taken (or refused) after
    /// `modified`, so an unchanged file left in place need not be read again.
    pub async fn ingested_since(
        &self,
        source_id: &str,
        file_name: &str,
        bytes: u64,
        modified: Timestamp,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM ingestion_runs WHERE source_id = $1 AND file_name = $2 AND bytes = $3 \
             AND started_at >= $4 AND checksum IS NOT NULL",
        )
        .bind(source_id.to_string())
        .bind(file_name.to_string())
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(to_micros(modified))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Brings a source's next look forward to `at` (if it was later).
    pub async fn hasten_ingestion_source(&self, id: &str, at: Timestamp) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE ingestion_sources SET next_run_at = $2 WHERE id = $1 AND next_run_at > $2")
            .bind(id.to_string())
            .bind(to_micros(at))
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Records how a claimed file's import ended. A `failed` run (the
    /// platform failed, not the file) gives up its claim: the next look
    /// tries the file again.
    pub async fn finish_ingestion_run(&self, id: &str, end: &RunEnd) -> Result<IngestionRun> {
        let lines = &end.refused_lines[..end.refused_lines.len().min(MAX_REFUSED_LINES)];
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE ingestion_runs SET finished_at = $2, outcome = $3, accepted = $4, refused = $5, message = $6, \
             refused_lines = $7, message_data = $8, checksum = CASE WHEN $3 = 'failed' THEN NULL ELSE checksum END \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(to_micros(crate::now()))
        .bind(end.outcome.as_str())
        .bind(i64::try_from(end.accepted).unwrap_or(i64::MAX))
        .bind(i64::try_from(end.refused).unwrap_or(i64::MAX))
        .bind(end.message.render(Lang::En))
        .bind(crate::to_json(&lines))
        .bind(crate::to_json(&end.message))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        self.get_ingestion_run(id).await
    }

    /// Records a look at a source that could not read its location (no
    /// file), or a file it could not read.
    pub async fn record_ingestion_failure(
        &self,
        source_id: &str,
        file_name: Option<&str>,
        message: &vpp_domain::ingestion::RunMessage,
    ) -> Result<IngestionRun> {
        let now = to_micros(crate::now());
        let id = crate::new_id();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO ingestion_runs (id, source_id, file_name, started_at, finished_at, outcome, message, message_data) \
             VALUES ($1, $2, $5, $3, $3, 'failed', $4, $6)",
        )
        .bind(id.clone())
        .bind(source_id.to_string())
        .bind(now)
        .bind(message.render(Lang::En))
        .bind(file_name.map(str::to_string))
        .bind(crate::to_json(message))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        self.get_ingestion_run(&id).await
    }

    /// One run.
    pub async fn get_ingestion_run(&self, id: &str) -> Result<IngestionRun> {
        let row = sqlx::query(select_runs!(" WHERE id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref()
            .map(run_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "ingestion run", id: id.into() })
    }

    /// Runs, newest first.
    pub async fn list_ingestion_runs(&self, filter: &RunFilter) -> Result<Vec<IngestionRun>> {
        let rows = sqlx::query(select_runs!(
            " WHERE ($1 IS NULL OR source_id = $1) AND ($2 IS NULL OR outcome = $2) \
              ORDER BY started_at DESC, id DESC LIMIT $3"
        ))
        .bind(filter.source_id.clone())
        .bind(filter.outcome.map(|o| o.as_str().to_string()))
        .bind(filter.limit.unwrap_or(100).clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }
}
