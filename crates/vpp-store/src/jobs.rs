//! Background import jobs in the database: any process sees them, and a
//! restart finds the ones its predecessor left running and marks them
//! `interrupted` (see migration 0012).

use jiff::Timestamp;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// A background import job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJobRow {
    /// Id.
    pub id: String,
    /// What is imported: `series` or `site_load`.
    pub kind: String,
    /// The series or site imported into.
    pub target_id: String,
    /// The permission a caller needs to see or cancel it.
    pub permission: String,
    /// Who started it (actor id).
    pub started_by: Option<String>,
    /// `running`, `done`, `failed`, `cancelled` or `interrupted`.
    pub state: String,
    /// Rows of the file to store.
    pub rows: u64,
    /// Rows sent to the database so far, as last recorded.
    pub sent: u64,
    /// A cancel was asked for (by any process).
    pub cancel_requested: bool,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// The import's report once done.
    pub report: Option<Value>,
    /// Why it failed, as a problem document.
    pub error: Option<Value>,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json_column(row: &AnyRow, col: &str) -> Result<Option<Value>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))).transpose()
}

fn job_from_row(r: &AnyRow) -> Result<ImportJobRow> {
    let finished: Option<i64> = r.try_get("finished_at")?;
    Ok(ImportJobRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        target_id: r.try_get("target_id")?,
        permission: r.try_get("permission")?,
        started_by: r.try_get("started_by")?,
        state: r.try_get("state")?,
        rows: u64::try_from(r.try_get::<i64, _>("rows_total")?).unwrap_or(0),
        sent: u64::try_from(r.try_get::<i64, _>("rows_sent")?).unwrap_or(0),
        cancel_requested: r.try_get::<i64, _>("cancel_requested")? != 0,
        started_at: from_micros(r.try_get("started_at")?)?,
        finished_at: finished.map(from_micros).transpose()?,
        report: json_column(r, "report_json")?,
        error: json_column(r, "error_json")?,
    })
}

impl Store {
    /// Records a job that starts running.
    pub async fn create_import_job(&self, j: &ImportJobRow) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO import_jobs (id, kind, target_id, permission, started_by, state, rows_total, rows_sent, \
             cancel_requested, started_at, node_id) VALUES ($1, $2, $3, $4, $5, 'running', $6, 0, 0, $7, $8)",
        )
        .bind(j.id.clone())
        .bind(j.kind.clone())
        .bind(j.target_id.clone())
        .bind(j.permission.clone())
        .bind(j.started_by.clone())
        .bind(count(j.rows))
        .bind(to_micros(j.started_at))
        .bind(self.node_id().map(str::to_string))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// A job by id.
    pub async fn get_import_job(&self, id: &str) -> Result<ImportJobRow> {
        let row = sqlx::query("SELECT * FROM import_jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "import job", id: id.to_string() })?;
        job_from_row(&row)
    }

    /// Records how far a running job got; answers whether a cancel was asked for.
    pub async fn import_job_progress(&self, id: &str, sent: u64) -> Result<bool> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE import_jobs SET rows_sent = $2 WHERE id = $1 AND state = 'running' AND rows_sent < $2")
            .bind(id.to_string())
            .bind(count(sent))
            .execute(&mut *w.tx)
            .await?;
        // Stop when asked to, or when the job is no longer running (another
        // node marked it interrupted while this one was paused): an
        // interrupted import must not commit after all.
        let row = sqlx::query("SELECT cancel_requested, state FROM import_jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("cancel_requested")? != 0 || r.try_get::<String, _>("state")? != "running",
            None => false,
        })
    }

    /// Asks a running job to stop, whichever process runs it.
    pub async fn request_import_cancel(&self, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE import_jobs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'")
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Records how a running job ended.
    pub async fn finish_import_job(
        &self,
        id: &str,
        state: &str,
        sent: u64,
        report: Option<&Value>,
        error: Option<&Value>,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE import_jobs SET state = $2, rows_sent = $3, finished_at = $4, report_json = $5, error_json = $6 \
             WHERE id = $1 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(state.to_string())
        .bind(count(sent))
        .bind(to_micros(crate::now()))
        .bind(report.map(Value::to_string))
        .bind(error.map(Value::to_string))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Jobs left running by a process that stopped are `interrupted` (their
    /// imports committed nothing: a series import publishes all its rows at
    /// once at its end, see [`Store::insert_beliefs_reporting`]), and the
    /// rows of abandoned staging batches are deleted. Returns the jobs
    /// marked. A job is left running while its node is alive (seen since
    /// `alive_since`), unless it is `restarted`, a node starting again under
    /// the same id; a job without a node is from a single process, which
    /// has stopped.
    pub async fn interrupt_import_jobs(&self, alive_since: Timestamp, restarted: Option<&str>) -> Result<u64> {
        let error = serde_json::json!({
            "type": "urn:vpp:problem:interrupted", "title": "Interrupted", "status": 409,
            "detail": "the server stopped while the job ran; nothing of the file was stored, import it again",
        });
        let marked = sqlx::query(concat!(
            "UPDATE import_jobs SET state = 'interrupted', finished_at = $1, error_json = $2 WHERE state = 'running' AND ",
            orphaned!("$3", "$4")
        ))
        .bind(to_micros(crate::now()))
        .bind(error.to_string())
        .bind(restarted.unwrap_or_default().to_string())
        .bind(to_micros(alive_since))
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.discard_staged_batches().await?;
        Ok(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpp_domain::series::{Belief, OwnerKind, Quantity, SeriesRequest, SourceKind};

    async fn temp_store() -> (Store, std::path::PathBuf) {
        let file = std::env::temp_dir().join(format!("vpp-jobs-{}.db", crate::new_id()));
        let store = Store::connect(&format!("sqlite://{}", file.display())).await.expect("connect");
        store.migrate().await.expect("migrate");
        (store, file)
    }

    async fn drop_store(store: Store, file: std::path::PathBuf) {
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    /// A large write on SQLite is staged: while it runs, a read sees none of
    /// its rows (other writers go on between its chunks); a cancelled one
    /// leaves nothing; a finished one shows every row at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_staged_import_is_invisible_until_published_and_gone_when_cancelled() {
        let (store, file) = temp_store().await;
        let request = |name: &str| SeriesRequest {
            name: name.into(),
            owner_kind: OwnerKind::Market,
            owner_id: name.into(),
            quantity: Quantity::Price,
            unit: None,
            resolution_s: Some(900),
        };
        let series = store.create_series(request("prices")).await.expect("series");
        let (key, _) = store.get_series(&series.id).await.expect("key");
        let t0 = 1_767_225_600_000_000_i64;
        let rows: Vec<Belief> = (0..35_000)
            .map(|i| Belief {
                event_start_us: t0 + i * 900_000_000,
                belief_time_us: t0 - 3_600_000_000,
                source: SourceKind::Forecast,
                value: i as f64,
            })
            .collect();
        let end = t0 + 35_000 * 900_000_000;
        let visible = |store: &Store| {
            let handle = tokio::runtime::Handle::current();
            tokio::task::block_in_place(|| {
                handle.block_on(store.beliefs(key, &[SourceKind::Forecast], t0, end)).expect("read").len()
            })
        };
        // Cancelled after the second chunk: nothing was ever visible, nothing stays.
        let seen = std::sync::Mutex::new(Vec::new());
        let second = std::sync::Mutex::new(None);
        let cancelled = store
            .insert_beliefs_reporting(key, &rows, &|sent| {
                seen.lock().unwrap().push((sent, visible(&store)));
                if sent == 10_000 {
                    // Another large import into the same series meanwhile.
                    let handle = tokio::runtime::Handle::current();
                    let other = tokio::task::block_in_place(|| {
                        handle.block_on(store.insert_beliefs_reporting(key, &rows, &|_| true))
                    });
                    *second.lock().unwrap() = Some(other);
                }
                sent < 20_000
            })
            .await;
        let second = second.lock().unwrap().take().expect("tried");
        assert!(matches!(second, Err(StoreError::Conflict { .. })), "one staging batch per series: {second:?}");
        assert!(matches!(cancelled, Err(StoreError::Cancelled)), "{cancelled:?}");
        assert_eq!(*seen.lock().unwrap(), vec![(10_000, 0), (20_000, 0)]);
        assert_eq!(visible(&store), 0, "a cancelled import leaves nothing");
        // Finished: every row at once, as a reader saw none before.
        let seen = std::sync::Mutex::new(Vec::new());
        let inserted = store
            .insert_beliefs_reporting(key, &rows, &|sent| {
                seen.lock().unwrap().push(visible(&store));
                sent > 0
            })
            .await
            .expect("import");
        assert_eq!(inserted, 35_000);
        assert!(seen.lock().unwrap().iter().all(|n| *n == 0), "{:?}", seen.lock().unwrap());
        assert_eq!(visible(&store), 35_000);
        // A batch whose process died (no heartbeat for a minute) is deleted
        // with its rows by any process; a live one is left alone, and keeps
        // a second large import out of its series.
        let dead = store.create_series(request("dead")).await.expect("series");
        let (dead_key, _) = store.get_series(&dead.id).await.expect("key");
        let live = store.create_series(request("live")).await.expect("series");
        let (live_key, _) = store.get_series(&live.id).await.expect("key");
        let batch = |series: i64, beat: i64| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO belief_batches (series_key, staging, created_at, heartbeat_at) VALUES ($1, 1, $2, $2) \
                 RETURNING key",
            )
            .bind(series)
            .bind(beat)
            .fetch_one(&store.pool)
        };
        let dead_batch = batch(dead_key, 0).await.expect("a dead batch");
        batch(live_key, crate::to_micros(crate::now())).await.expect("a live batch");
        sqlx::query("INSERT INTO beliefs (series_key, source, event_start, belief_time, value, batch) VALUES ($1, 0, 1, 0, 1.0, $2)")
            .bind(dead_key)
            .bind(dead_batch)
            .execute(&store.pool)
            .await
            .expect("a staged row");
        assert_eq!(store.discard_staged_batches().await.expect("discard"), 1, "only the dead batch");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM beliefs WHERE batch = $1")
            .bind(dead_batch)
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!(left, 0, "the dead batch's rows are gone");
        let refused = store.insert_beliefs_reporting(live_key, &rows, &|_| true).await;
        assert!(matches!(refused, Err(StoreError::Conflict { .. })), "{refused:?}");
        assert_eq!(store.insert_beliefs_reporting(dead_key, &rows, &|_| true).await.expect("import"), 35_000);
        drop_store(store, file).await;
    }

    /// Two nodes on one database: a node starting, or sweeping, leaves the
    /// jobs of a node that is alive running and interrupts those of a node
    /// that is gone, and its own of a previous run under the same id.
    #[tokio::test]
    async fn only_the_jobs_of_a_stopped_node_are_interrupted() {
        let (a, file) = temp_store().await;
        let b = Store::connect(&format!("sqlite://{}", file.display())).await.expect("second node");
        a.set_node_id("node-a");
        b.set_node_id("node-b");
        let now = Timestamp::now();
        let job = |id: &str| ImportJobRow {
            id: id.into(),
            kind: "series".into(),
            target_id: "s1".into(),
            permission: "series:write".into(),
            started_by: None,
            state: "running".into(),
            rows: 10,
            sent: 0,
            cancel_requested: false,
            started_at: now,
            finished_at: None,
            report: None,
            error: None,
        };
        a.create_import_job(&job("of-a")).await.expect("a's job");
        b.create_import_job(&job("of-b")).await.expect("b's job");
        a.node_alive("node-a", "test", now, now).await.expect("a alive");
        b.node_alive("node-b", "test", now, now).await.expect("b alive");
        let since = now - jiff::SignedDuration::from_secs(30);
        // Both alive: a sweep interrupts nothing.
        assert_eq!(a.interrupt_import_jobs(since, None).await.expect("sweep"), 0);
        // b restarts under its id: its own old job is interrupted, a's is not.
        assert_eq!(b.interrupt_import_jobs(since, Some("node-b")).await.expect("restart"), 1);
        assert_eq!(a.get_import_job("of-a").await.expect("a").state, "running");
        // a is not seen for a while: b's sweep interrupts a's job.
        assert_eq!(b.interrupt_import_jobs(now + jiff::SignedDuration::from_secs(1), None).await.expect("b sweeps"), 1);
        assert_eq!(b.get_import_job("of-a").await.expect("a").state, "interrupted");
        b.close().await;
        drop_store(a, file).await;
    }

    #[tokio::test]
    async fn a_job_left_running_is_interrupted_at_the_next_start() {
        let (store, file) = temp_store().await;
        let job = ImportJobRow {
            id: "j1".into(),
            kind: "series".into(),
            target_id: "s1".into(),
            permission: "series:write".into(),
            started_by: Some("u1".into()),
            state: "running".into(),
            rows: 10,
            sent: 0,
            cancel_requested: false,
            started_at: Timestamp::now(),
            finished_at: None,
            report: None,
            error: None,
        };
        store.create_import_job(&job).await.expect("create");
        assert!(!store.import_job_progress("j1", 4).await.expect("progress"));
        store.request_import_cancel("j1").await.expect("cancel");
        assert!(store.import_job_progress("j1", 6).await.expect("progress"), "the cancel is seen");
        assert_eq!(store.interrupt_import_jobs(crate::now(), None).await.expect("interrupt"), 1);
        let back = store.get_import_job("j1").await.expect("get");
        assert_eq!((back.state.as_str(), back.sent), ("interrupted", 6));
        assert_eq!(back.error.expect("error")["type"], "urn:vpp:problem:interrupted");
        assert_eq!(store.interrupt_import_jobs(crate::now(), None).await.expect("again"), 0);
        assert!(matches!(store.get_import_job("nope").await, Err(StoreError::NotFound { .. })));
        drop_store(store, file).await;
    }
}
