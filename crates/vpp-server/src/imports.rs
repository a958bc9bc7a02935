//! Imports that run in the background, so a client can show their progress
//! and cancel them: an import route called with `background=true` checks
//! the file at once (a malformed file is refused as usual), answers 202 with
//! a job, and stores the rows in a task. `GET /import-jobs/{id}` tells how
//! far it got; `POST /import-jobs/{id}/cancel` stops it, and nothing of the
//! file is stored.
//!
//! Jobs are kept in the database (`import_jobs`): any process reads them,
//! a cancel asked of any process reaches the one running the job (it looks
//! every second), and a restart marks the jobs its predecessor left running
//! `interrupted`. This process keeps only the live progress counters.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use vpp_domain::auth::Permission;
use vpp_store::{ImportJobRow, Store};

use crate::auth::Principal;
use crate::auth::audit::{audit_base, summary};
use crate::error::{ApiError, ApiResult, Problem};

/// How often a running job records its progress and looks for a cancel.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Storing rows.
    Running,
    /// Stored; `report` says what.
    Done,
    /// Refused or failed; `error` says why, and nothing was stored.
    Failed,
    /// Cancelled on request; nothing was stored.
    Cancelled,
    /// The server stopped while it ran; nothing was stored.
    Interrupted,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Done, Self::Failed, Self::Cancelled, Self::Interrupted]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A background import as its client sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    /// Id.
    pub id: String,
    /// What is imported: `series` or `site_load`.
    pub kind: String,
    /// The series or site imported into.
    pub target_id: String,
    /// State.
    pub state: JobState,
    /// Rows of the file to store.
    pub rows: u64,
    /// Rows sent to the database so far (they commit together at the end).
    pub sent: u64,
    /// When it started.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// The import's report once done (the same body the route answers without `background`).
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<Problem>,
}

/// What the process running a job keeps: its live progress and cancel flag.
#[derive(Default)]
struct Live {
    sent: AtomicU64,
    cancel: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens (is dropped) with the answer that started a job.
#[derive(Clone)]
struct StartGate {
    _opens_when_dropped: Arc<tokio::sync::oneshot::Sender<()>>,
}

fn view_of(row: ImportJobRow) -> ApiResult<ImportJob> {
    let state = JobState::parse(&row.state)
        .ok_or_else(|| ApiError::internal(format!("import job {} has the unknown state `{}`", row.id, row.state)))?;
    Ok(ImportJob {
        id: row.id,
        kind: row.kind,
        target_id: row.target_id,
        state,
        rows: row.rows,
        sent: row.sent.min(row.rows),
        started_at: row.started_at,
        finished_at: row.finished_at,
        report: row.report,
        error: row.error.and_then(|e| serde_json::from_value(e).ok()),
    })
}

/// Told how many rows have been sent; false cancels. Given to the store.
pub type ProgressFn = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// The background imports, in the database, and the live counters of
/// those this process runs.
pub struct ImportJobs {
    store: Arc<Store>,
    live: Arc<Mutex<HashMap<String, Arc<Live>>>>,
}

impl ImportJobs {
    /// Over the store's jobs.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store, live: Arc::default() }
    }

    /// Starts `work` as a task and answers 202 with its job. `work` gets the
    /// progress callback to hand to the store.
    ///
    /// The task waits until the answer is on its way: the audit record of
    /// the request that started it is written after the handler, and must
    /// not queue behind the import's writes. The answer carries the gate in
    /// its extensions; it opens when the answer is dropped, after the audit
    /// step and once the server has written the head.
    ///
    /// How the job ended goes to the audit trail under the caller's name
    /// (the 202 itself is audited like any write).
    pub async fn start<R, Fut>(
        &self,
        caller: &Principal,
        kind: &str,
        permission: Permission,
        target_id: &str,
        rows: usize,
        work: impl FnOnce(ProgressFn) -> Fut,
    ) -> ApiResult<Response>
    where
        R: Serialize + Send,
        Fut: Future<Output = ApiResult<R>> + Send + 'static,
    {
        let row = ImportJobRow {
            id: vpp_store::new_id(),
            kind: kind.into(),
            target_id: target_id.into(),
            permission: permission.as_str().into(),
            started_by: Some(caller.id().to_string()),
            state: JobState::Running.as_str().into(),
            rows: rows as u64,
            sent: 0,
            cancel_requested: false,
            started_at: vpp_store::now(),
            finished_at: None,
            report: None,
            error: None,
        };
        self.store.create_import_job(&row).await?;
        let id = row.id.clone();
        let view = view_of(row)?;
        let live = Arc::new(Live::default());
        lock(&self.live).insert(id.clone(), live.clone());
        let watcher = live.clone();
        let progress: ProgressFn = Arc::new(move |sent| {
            watcher.sent.fetch_max(sent, Ordering::Relaxed);
            !watcher.cancel.load(Ordering::Relaxed)
        });
        let future = work(progress);
        let (gate, opened) = tokio::sync::oneshot::channel::<()>();
        let store = self.store.clone();
        let mut audit = audit_base(Some(caller), &format!("{kind} import job ended"), "");
        audit.ip = None;
        audit.entity_type = Some("import_job".into());
        let (kind, target_id, rows) = (view.kind.clone(), view.target_id.clone(), view.rows);
        let lives = self.live.clone();
        // Progress is recorded, and a cancel asked of another process looked
        // for, by a task of its own: on SQLite it waits for the write lock,
        // which the import itself may hold.
        let (ended_tx, mut ended) = tokio::sync::watch::channel(false);
        let recorder = {
            let (store, live, id) = (store.clone(), live.clone(), id.clone());
            async move {
                let mut tick = tokio::time::interval(PROGRESS_EVERY);
                loop {
                    tokio::select! {
                        _ = ended.changed() => break,
                        _ = tick.tick() => {}
                    }
                    let sent = live.sent.load(Ordering::Relaxed);
                    match store.import_job_progress(&id, sent).await {
                        Ok(true) => live.cancel.store(true, Ordering::Relaxed),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, job = %id, "recording import progress failed"),
                    }
                }
            }
        };
        tokio::spawn(async move {
            let _ = opened.await;
            let recorder = tokio::spawn(recorder);
            let outcome = future.await;
            let _ = ended_tx.send(true);
            let _ = recorder.await;
            let mut sent = live.sent.load(Ordering::Relaxed).min(rows);
            let (state, report, error) = match outcome {
                Ok(report) => {
                    sent = rows;
                    (JobState::Done, serde_json::to_value(report).ok(), None)
                }
                Err(_) if live.cancel.load(Ordering::Relaxed) => (JobState::Cancelled, None, None),
                Err(e) => (JobState::Failed, None, Some(*e.0)),
            };
            let error_json = error.as_ref().and_then(|p| serde_json::to_value(p).ok());
            if let Err(e) =
                store.finish_import_job(&id, state.as_str(), sent, report.as_ref(), error_json.as_ref()).await
            {
                tracing::error!(error = %e, job = %id, "recording the end of an import job failed");
            }
            lock(&lives).remove(&id);
            audit.status = match (&state, &error) {
                (JobState::Done, _) => 200,
                (_, Some(problem)) => i64::from(problem.status),
                _ => 409,
            };
            audit.entity_id = Some(id);
            // The report's figures, with its lists (rejected lines, gaps) counted.
            let report = report.as_ref().map(|r| {
                let mut figures = summary(r);
                if let Some(m) = figures.as_object_mut() {
                    m.remove("note");
                }
                figures
            });
            audit.after = Some(serde_json::json!({
                "state": state, "kind": kind, "target_id": target_id, "rows": rows,
                "sent": sent, "report": report, "error": error.as_ref().map(|p| &p.detail),
            }));
            if let Err(e) = store.append_audit(audit).await {
                tracing::error!(error = %e, "writing the audit trail failed");
            }
        });
        let mut answer = (StatusCode::ACCEPTED, Json(view)).into_response();
        answer.extensions_mut().insert(StartGate { _opens_when_dropped: Arc::new(gate) });
        Ok(answer)
    }

    /// A job, if the caller holds the permission that started it.
    async fn find(&self, id: &str, caller: &Principal) -> ApiResult<ImportJobRow> {
        let row = self.store.get_import_job(id).await?;
        let permission = Permission::parse(&row.permission).ok_or_else(|| {
            ApiError::internal(format!("import job {id} names the unknown permission `{}`", row.permission))
        })?;
        if !caller.allows(permission) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                format!("{} lacks {}, which this import needs", caller.actor_name(), permission.as_str()),
            ));
        }
        Ok(row)
    }

    /// A job as it stands; a job this process runs shows its live progress.
    pub async fn get(&self, id: &str, caller: &Principal) -> ApiResult<ImportJob> {
        let mut row = self.find(id, caller).await?;
        if row.state == JobState::Running.as_str()
            && let Some(live) = lock(&self.live).get(id)
        {
            row.sent = row.sent.max(live.sent.load(Ordering::Relaxed));
        }
        view_of(row)
    }

    /// Asks a running job to stop, whichever process runs it; a finished
    /// job is answered as it is. The job turns `cancelled` once its rows are
    /// gone (poll it).
    pub async fn cancel(&self, id: &str, caller: &Principal) -> ApiResult<ImportJob> {
        let row = self.find(id, caller).await?;
        if row.state == JobState::Running.as_str() {
            self.store.request_import_cancel(id).await?;
            if let Some(live) = lock(&self.live).get(id) {
                live.cancel.store(true, Ordering::Relaxed);
            }
        }
        self.get(id, caller).await
    }
}
