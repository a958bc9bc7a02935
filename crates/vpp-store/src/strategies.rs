//! Strategies, their versions and status changes, and backtest tasks.
//!
//! Every change of a strategy's definition adds a row to
//! `strategy_versions`; the strategy row holds the newest version number
//! and the status. A deleted strategy keeps its rows (bids and backtests
//! name it) and disappears from lists and lookups.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
pub use vpp_domain::strategy::records::{BacktestRecord, StatusChange};
use vpp_domain::strategy::{Strategy, StrategyRequest, StrategyStatus, StrategyType};

use crate::{Result, Store, StoreError, from_json, from_micros, new_id, parse_enum, to_json, to_micros, unique};

/// Which strategies to list.
#[derive(Debug, Clone, Default)]
pub struct StrategyFilter {
    /// Only this VPP's.
    pub vpp_id: Option<String>,
    /// Only of this type.
    pub strategy_type: Option<StrategyType>,
    /// Only in this status.
    pub status: Option<StrategyStatus>,
}

const BACKTEST_COLUMNS: &str =
    "id, strategy_id, version, status, progress, request, summary, error, created_by, created_at, finished_at";

fn backtest_from_row(r: &AnyRow) -> Result<BacktestRecord> {
    let summary: Option<String> = r.try_get("summary")?;
    let finished: Option<i64> = r.try_get("finished_at")?;
    Ok(BacktestRecord {
        id: r.try_get("id")?,
        strategy_id: r.try_get("strategy_id")?,
        version: r.try_get("version")?,
        status: r.try_get("status")?,
        progress: r.try_get("progress")?,
        request: from_json(r, "request")?,
        summary: summary
            .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("summary: {e}"))))
            .transpose()?,
        error: r.try_get("error")?,
        created_by: r.try_get("created_by")?,
        created_at: from_micros(r.try_get("created_at")?)?,
        finished_at: finished.map(from_micros).transpose()?,
    })
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound { entity: "strategy", id: id.into() }
}

impl Store {
    /// Stores a new strategy as version 1 in DRAFT.
    pub async fn create_strategy(&self, request: &StrategyRequest, by: &str) -> Result<Strategy> {
        let id = new_id();
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO strategies (id, name, vpp_id, strategy_type, status, version, created_at) \
             VALUES ($1, $2, $3, $4, 'DRAFT', 1, $5)",
        )
        .bind(id.clone())
        .bind(request.name.trim().to_string())
        .bind(request.vpp_id.clone())
        .bind(request.strategy_type.as_str())
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(unique("strategy", "name", &request.name))?;
        insert_version(&mut w.tx, &id, 1, request, by, now).await?;
        w.tx.commit().await?;
        self.get_strategy(&id, None).await
    }

    /// Stores a changed definition as the next version. An ACTIVE strategy
    /// is not changed in place: it must be suspended first.
    pub async fn update_strategy(&self, id: &str, request: &StrategyRequest, by: &str) -> Result<Strategy> {
        let mut w = self.begin_write().await?;
        let row = sqlx::query("SELECT status, version FROM strategies WHERE id = $1 AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or_else(|| not_found(id))?;
        let status = parse_enum(&row, "status", StrategyStatus::parse)?;
        if status == StrategyStatus::Active {
            return Err(StoreError::Conflict {
                field: Some("status".into()),
                message: "an ACTIVE strategy is not changed while it trades; suspend it first".into(),
            });
        }
        let version: i64 = row.try_get("version")?;
        let now = to_micros(crate::now());
        sqlx::query("UPDATE strategies SET name = $2, vpp_id = $3, strategy_type = $4, version = $5 WHERE id = $1")
            .bind(id.to_string())
            .bind(request.name.trim().to_string())
            .bind(request.vpp_id.clone())
            .bind(request.strategy_type.as_str())
            .bind(version + 1)
            .execute(&mut *w.tx)
            .await
            .map_err(unique("strategy", "name", &request.name))?;
        insert_version(&mut w.tx, id, version + 1, request, by, now).await?;
        w.tx.commit().await?;
        self.get_strategy(id, None).await
    }

    /// A strategy at its newest version, or at `version`.
    pub async fn get_strategy(&self, id: &str, version: Option<i64>) -> Result<Strategy> {
        let row = sqlx::query(
            "SELECT s.id, s.status, s.created_at, v.version, v.definition, v.created_at AS updated_at, \
                    v.created_by FROM strategies s JOIN strategy_versions v ON v.strategy_id = s.id \
             WHERE s.id = $1 AND s.deleted_at IS NULL AND v.version = COALESCE($2, s.version)",
        )
        .bind(id.to_string())
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => strategy_from_row(&r),
            None if version.is_some() => {
                let exists = sqlx::query("SELECT id FROM strategies WHERE id = $1 AND deleted_at IS NULL")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                match exists {
                    Some(_) => Err(StoreError::NotFound {
                        entity: "strategy version",
                        id: format!("{id} v{}", version.unwrap_or(0)),
                    }),
                    None => Err(not_found(id)),
                }
            }
            None => Err(not_found(id)),
        }
    }

    /// Every version of a strategy, oldest first.
    pub async fn strategy_versions(&self, id: &str) -> Result<Vec<Strategy>> {
        let rows = sqlx::query(
            "SELECT s.id, s.status, s.created_at, v.version, v.definition, v.created_at AS updated_at, \
                    v.created_by FROM strategies s JOIN strategy_versions v ON v.strategy_id = s.id \
             WHERE s.id = $1 AND s.deleted_at IS NULL ORDER BY v.version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(not_found(id));
        }
        rows.iter().map(strategy_from_row).collect()
    }

    /// Strategies at their newest version, by name.
    pub async fn list_strategies(&self, f: &StrategyFilter) -> Result<Vec<Strategy>> {
        let rows = sqlx::query(
            "SELECT s.id, s.status, s.created_at, v.version, v.definition, v.created_at AS updated_at, \
                    v.created_by FROM strategies s JOIN strategy_versions v \
                    ON v.strategy_id = s.id AND v.version = s.version \
             WHERE s.deleted_at IS NULL AND ($1 IS NULL OR s.vpp_id = $1) \
               AND ($2 IS NULL OR s.strategy_type = $2) AND ($3 IS NULL OR s.status = $3) \
             ORDER BY s.name",
        )
        .bind(f.vpp_id.clone())
        .bind(f.strategy_type.map(StrategyType::as_str))
        .bind(f.status.map(StrategyStatus::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(strategy_from_row).collect()
    }

    /// Moves a strategy to `to` if the move is allowed from its current
    /// status (checked inside the transaction), recording who and why.
    pub async fn set_strategy_status(
        &self,
        id: &str,
        to: StrategyStatus,
        by: &str,
        reason: &str,
    ) -> Result<(StrategyStatus, Strategy)> {
        let mut w = self.begin_write().await?;
        let row = sqlx::query("SELECT status FROM strategies WHERE id = $1 AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or_else(|| not_found(id))?;
        let from = parse_enum(&row, "status", StrategyStatus::parse)?;
        from.check_move(to).map_err(StoreError::Invalid)?;
        sqlx::query("UPDATE strategies SET status = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(to.as_str())
            .execute(&mut *w.tx)
            .await?;
        sqlx::query(
            "INSERT INTO strategy_status_history (strategy_id, at, from_status, to_status, changed_by, reason) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(to_micros(crate::now()))
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(by.to_string())
        .bind(reason.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok((from, self.get_strategy(id, None).await?))
    }

    /// Status changes of a strategy, oldest first.
    pub async fn strategy_status_history(&self, id: &str) -> Result<Vec<StatusChange>> {
        let rows = sqlx::query(
            "SELECT at, from_status, to_status, changed_by, reason FROM strategy_status_history \
             WHERE strategy_id = $1 ORDER BY at",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusChange {
                    at: from_micros(r.try_get("at")?)?,
                    from: parse_enum(r, "from_status", StrategyStatus::parse)?,
                    to: parse_enum(r, "to_status", StrategyStatus::parse)?,
                    by: r.try_get("changed_by")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Deletes a strategy that does not trade; its versions, bids and
    /// backtests stay for the record.
    pub async fn delete_strategy(&self, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let row = sqlx::query("SELECT status FROM strategies WHERE id = $1 AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or_else(|| not_found(id))?;
        if parse_enum(&row, "status", StrategyStatus::parse)? == StrategyStatus::Active {
            return Err(StoreError::Conflict {
                field: Some("status".into()),
                message: "an ACTIVE strategy cannot be deleted; suspend it first".into(),
            });
        }
        sqlx::query("UPDATE strategies SET deleted_at = $2, name = name || ' (deleted ' || id || ')' WHERE id = $1")
            .bind(id.to_string())
            .bind(to_micros(crate::now()))
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Records a backtest task as RUNNING.
    pub async fn create_backtest(&self, strategy_id: &str, version: i64, request: &Value, by: &str) -> Result<String> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO backtests (id, strategy_id, version, status, progress, request, created_by, created_at, node_id) \
             VALUES ($1, $2, $3, 'RUNNING', 0, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(strategy_id.to_string())
        .bind(version)
        .bind(to_json(request))
        .bind(by.to_string())
        .bind(to_micros(crate::now()))
        .bind(self.node_id().map(str::to_string))
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Records progress of a running task.
    pub async fn backtest_progress(&self, id: &str, progress: f64) -> Result<()> {
        sqlx::query("UPDATE backtests SET progress = $2 WHERE id = $1 AND status = 'RUNNING'")
            .bind(id.to_string())
            .bind(progress)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a task: DONE with its figures and detail, or FAILED or
    /// CANCELLED with the reason.
    pub async fn finish_backtest(
        &self,
        id: &str,
        status: &str,
        summary: Option<&Value>,
        detail: Option<&Value>,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE backtests SET status = $2, summary = $3, detail = $4, error = $5, finished_at = $6, \
                    progress = CASE WHEN $2 = 'DONE' THEN 1 ELSE progress END \
             WHERE id = $1 AND status = 'RUNNING'",
        )
        .bind(id.to_string())
        .bind(status.to_string())
        .bind(summary.map(to_json))
        .bind(detail.map(to_json))
        .bind(error.map(str::to_string))
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A backtest task.
    pub async fn get_backtest(&self, id: &str) -> Result<BacktestRecord> {
        let sql = format!("SELECT {BACKTEST_COLUMNS} FROM backtests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "backtest", id: id.into() })?;
        backtest_from_row(&row)
    }

    /// The per-day and per-interval detail of a finished task.
    pub async fn backtest_detail(&self, id: &str) -> Result<Option<Value>> {
        let row = sqlx::query("SELECT detail FROM backtests WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "backtest", id: id.into() })?;
        let text: Option<String> = row.try_get("detail")?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("detail: {e}")))).transpose()
    }

    /// Backtests of a strategy, newest first.
    pub async fn list_backtests(&self, strategy_id: &str, limit: i64) -> Result<Vec<BacktestRecord>> {
        let sql = format!(
            "SELECT {BACKTEST_COLUMNS} FROM backtests WHERE strategy_id = $1 ORDER BY created_at DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(strategy_id.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(backtest_from_row).collect()
    }

    /// Records the live decisions of a strategy for a delivery day.
    pub async fn record_strategy_decisions(
        &self,
        strategy_id: &str,
        version: i64,
        day: jiff::civil::Date,
        bid_id: Option<&str>,
        decisions: &Value,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO strategy_decisions (strategy_id, version, trading_date, bid_id, decisions, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(strategy_id.to_string())
        .bind(version)
        .bind(day.to_string())
        .bind(bid_id.map(str::to_string))
        .bind(to_json(decisions))
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await
        .map_err(unique("strategy decision", "trading_date", &day.to_string()))?;
        Ok(())
    }

    /// The live decisions of a strategy for a delivery day: version, bid id, decisions.
    pub async fn strategy_decisions(
        &self,
        strategy_id: &str,
        day: jiff::civil::Date,
    ) -> Result<Option<(i64, Option<String>, Value)>> {
        let row = sqlx::query(
            "SELECT version, bid_id, decisions FROM strategy_decisions WHERE strategy_id = $1 AND trading_date = $2",
        )
        .bind(strategy_id.to_string())
        .bind(day.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("version")?, r.try_get("bid_id")?, from_json(&r, "decisions")?))).transpose()
    }

    /// Marks tasks left RUNNING by a stopped server as INTERRUPTED; those
    /// of nodes still alive are left alone (as for import jobs, see
    /// [`Store::interrupt_import_jobs`]).
    pub async fn interrupt_stale_backtests(
        &self,
        alive_since: jiff::Timestamp,
        restarted: Option<&str>,
    ) -> Result<u64> {
        Ok(sqlx::query(concat!(
            "UPDATE backtests SET status = 'INTERRUPTED', error = 'the server stopped while it ran; run it again', \
             finished_at = $1 WHERE status = 'RUNNING' AND ",
            orphaned!("$2", "$3")
        ))
        .bind(to_micros(crate::now()))
        .bind(restarted.unwrap_or_default().to_string())
        .bind(to_micros(alive_since))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

fn strategy_from_row(r: &AnyRow) -> Result<Strategy> {
    Ok(Strategy {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        status: parse_enum(r, "status", StrategyStatus::parse)?,
        definition: from_json(r, "definition")?,
        updated_by: r.try_get("created_by")?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
        created_at: from_micros(r.try_get("created_at")?)?,
    })
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    version: i64,
    request: &StrategyRequest,
    by: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO strategy_versions (strategy_id, version, definition, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(version)
    .bind(to_json(request))
    .bind(now)
    .bind(by.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
