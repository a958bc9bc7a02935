//! Imports that run in the background, so a client can show their progress
//! and cancel them: an import route called with `background=true` checks
//! the file at once (a malformed file is refused as usual), answers 202 with
//! a job, and stores the rows in a task. `GET /import-jobs/{id}` tells how
//! far it got; `POST /import-jobs/{id}/cancel` stops it, and the import's
//! one transaction rolls back, so a cancelled import stores nothing.
//!
//! Jobs live in this process's memory: after a restart a job is gone (its
//! import either committed or rolled back with the process).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use vpp_domain::auth::Permission;
use vpp_store::Store;

use crate::auth::Principal;
use crate::auth::audit::{audit_base, summary};
use crate::error::{ApiError, ApiResult, Problem};

/// Finished jobs kept for their clients to read; the oldest go first.
const KEEP_FINISHED: usize = 200;

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

struct Job {
    /// What the caller needs to follow or cancel it: what started it.
    permission: Permission,
    view: Mutex<ImportJob>,
    sent: AtomicU64,
    cancel: AtomicBool,
}

impl Job {
    fn snapshot(&self) -> ImportJob {
        let mut view = lock(&self.view).clone();
        view.sent = self.sent.load(Ordering::Relaxed).min(view.rows);
        view
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens (is dropped) with the answer that started a job.
#[derive(Clone)]
struct StartGate {
    _opens_when_dropped: Arc<tokio::sync::oneshot::Sender<()>>,
}

/// Told how many rows have been sent; false cancels. Given to the store.
pub type ProgressFn = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// The background imports of this process.
pub struct ImportJobs {
    /// Where their ends are audited.
    store: Arc<Store>,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl ImportJobs {
    /// No jobs yet.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store, jobs: Mutex::default() }
    }

    /// Starts `work` as a task and answers 202 with its job. `work` gets the
    /// progress callback to hand to the store.
    ///
    /// The task waits until the answer is on its way: on SQLite the import
    /// holds the one write lock until it commits, and the audit record of the
    /// request that started it (written after the handler) would otherwise
    /// wait for the whole import, holding the 202 back. The answer carries the
    /// gate in its extensions; it opens when the answer is dropped, after the
    /// audit step and once the server has written the head.
    ///
    /// How the job ended goes to the audit trail under the caller's name
    /// (the 202 itself is audited like any write).
    pub fn start<R, Fut>(
        &self,
        caller: &Principal,
        kind: &str,
        permission: Permission,
        target_id: &str,
        rows: usize,
        work: impl FnOnce(ProgressFn) -> Fut,
    ) -> Response
    where
        R: Serialize + Send,
        Fut: Future<Output = ApiResult<R>> + Send + 'static,
    {
        let view = ImportJob {
            id: vpp_store::new_id(),
            kind: kind.into(),
            target_id: target_id.into(),
            state: JobState::Running,
            rows: rows as u64,
            sent: 0,
            started_at: Timestamp::now(),
            finished_at: None,
            report: None,
            error: None,
        };
        let job = Arc::new(Job {
            permission,
            view: Mutex::new(view.clone()),
            sent: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
        });
        self.insert(job.clone());
        let watcher = job.clone();
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
        tokio::spawn(async move {
            let _ = opened.await;
            let outcome = future.await;
            let ended = {
                let mut view = lock(&job.view);
                view.finished_at = Some(Timestamp::now());
                match outcome {
                    Ok(report) => {
                        view.state = JobState::Done;
                        job.sent.store(view.rows, Ordering::Relaxed);
                        view.report = serde_json::to_value(report).ok();
                    }
                    Err(_) if job.cancel.load(Ordering::Relaxed) => view.state = JobState::Cancelled,
                    Err(e) => {
                        view.state = JobState::Failed;
                        view.error = Some(*e.0);
                    }
                }
                view.sent = job.sent.load(Ordering::Relaxed).min(view.rows);
                view.clone()
            };
            audit.status = match (&ended.state, &ended.error) {
                (JobState::Done, _) => 200,
                (_, Some(problem)) => i64::from(problem.status),
                _ => 409,
            };
            audit.entity_id = Some(ended.id.clone());
            // The report's figures, with its lists (rejected lines, gaps) counted.
            let report = ended.report.as_ref().map(|r| {
                let mut figures = summary(r);
                if let Some(m) = figures.as_object_mut() {
                    m.remove("note");
                }
                figures
            });
            audit.after = Some(serde_json::json!({
                "state": ended.state, "kind": ended.kind, "target_id": ended.target_id, "rows": ended.rows,
                "sent": ended.sent, "report": report, "error": ended.error.as_ref().map(|p| &p.detail),
            }));
            if let Err(e) = store.append_audit(audit).await {
                tracing::error!(error = %e, "writing the audit trail failed");
            }
        });
        let mut answer = (StatusCode::ACCEPTED, Json(view)).into_response();
        answer.extensions_mut().insert(StartGate { _opens_when_dropped: Arc::new(gate) });
        answer
    }

    fn insert(&self, job: Arc<Job>) {
        let mut jobs = lock(&self.jobs);
        let id = lock(&job.view).id.clone();
        jobs.insert(id, job);
        let mut finished: Vec<(Timestamp, String)> = jobs
            .values()
            .filter_map(|j| {
                let v = lock(&j.view);
                v.finished_at.map(|at| (at, v.id.clone()))
            })
            .collect();
        if finished.len() > KEEP_FINISHED {
            finished.sort();
            for (_, id) in &finished[..finished.len() - KEEP_FINISHED] {
                jobs.remove(id);
            }
        }
    }

    fn find(&self, id: &str, caller: &Principal) -> ApiResult<Arc<Job>> {
        let job = lock(&self.jobs).get(id).cloned().ok_or_else(|| ApiError::not_found("import job", id))?;
        if !caller.allows(job.permission) {
            let needed = job.permission.as_str();
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                format!("{} lacks {needed}, which this import needs", caller.actor_name()),
            ));
        }
        Ok(job)
    }

    /// A job as it stands.
    pub fn get(&self, id: &str, caller: &Principal) -> ApiResult<ImportJob> {
        Ok(self.find(id, caller)?.snapshot())
    }

    /// Asks a running job to stop; a finished job is answered as it is.
    /// The job turns `cancelled` once its transaction has rolled back.
    pub fn cancel(&self, id: &str, caller: &Principal) -> ApiResult<ImportJob> {
        let job = self.find(id, caller)?;
        if lock(&job.view).state == JobState::Running {
            job.cancel.store(true, Ordering::Relaxed);
        }
        Ok(job.snapshot())
    }
}
