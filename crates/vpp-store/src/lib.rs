//! Persistence of vpp on SQLite (embedded default) and PostgreSQL.
//!
//! One [`Store`] serves both backends through sqlx's `Any` driver: the SQL is
//! written once in the common subset (`$n` placeholders, `TEXT`, `BIGINT`,
//! `DOUBLE PRECISION`, `ON CONFLICT`), and only the migrations differ, one
//! folder per backend. Timestamps are stored as UTC microseconds, JSON
//! documents as text. Rows are read into private helpers and converted into
//! domain types; the domain never sees SQL.
//!
//! Writes that check invariants across rows (double booking, template use)
//! run in one transaction under a process-wide write lock; on PostgreSQL a
//! transaction-scoped advisory lock also serialises them across processes.
//! A refused write leaves nothing behind.
//!
//! This crate must not depend on HTTP types.

/// The condition of a running job whose node is gone: no node, the node
/// `$me` (a job of that node's previous run; bind '' for none), or a node
/// not seen since `$since` (µs).
macro_rules! orphaned {
    ($me:literal, $since:literal) => {
        concat!(
            "(node_id IS NULL OR node_id = ",
            $me,
            " OR node_id NOT IN (SELECT id FROM cluster_nodes WHERE last_seen_at >= ",
            $since,
            "))"
        )
    };
}

mod ai_models;
mod alerts;
mod cluster;
mod device_links;
mod devices;
mod etl;
mod execution;
mod fleet;
mod ingestion;
mod jobs;
mod markets;
mod ocpp;
mod parks;
mod resources;
mod security;
mod series;
mod strategies;
mod techdata;
mod telemetry;
mod templates;
mod vpps;

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::{Mutex, MutexGuard};
use vpp_domain::Invalid;
use vpp_domain::vpp::DoubleBooking;

pub use ai_models::NewModelVersion;
pub use alerts::{Alert, AlertFilter, AlertMessage, AlertRule, AlertState};
pub use cluster::{ClusterNode, Fence, LeaseRow};
pub use device_links::DeviceLink;
pub use devices::{Delivery, DeliveryState, DeviceInfo, LiveMeasurement, site_slug};
pub use etl::{EtlView, OWN_TABLES, check_table_name};
pub use execution::DeviationRecord;
pub use fleet::{FleetSnapshot, MemberRow};
pub use ingestion::{Claim, IngestionSource, MAX_REFUSED_LINES, RunEnd, RunFilter};
pub use jobs::ImportJobRow;
pub use markets::{
    BidFilter, BidRecord, BidScope, Clearing, KillSwitch, NewBid, SettlementRecord, StepFill, StepRecord, TradeFilter,
    TradeRecord,
};
pub use ocpp::{ChargingSession, OcppStation, SessionEvent, SessionOf, StationCredential};
pub use resources::{ResourceFilter, ResourcePage, ResourceSort};
pub use security::{AuditFilter, NewAudit, RefreshToken, UserCredentials, UserState};
pub use series::{BeliefQuery, Progress, SeriesFilter};
pub use strategies::{BacktestRecord, StatusChange, StrategyFilter};
pub use telemetry::{DispatchRecord, InstructionRecord, LivePower, MAX_TELEMETRY_BATCH, TelemetryWindow};
pub use templates::TemplateFilter;
pub use vpps::VppFilter;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded file database.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// An entity that refers to another (for "in use" answers).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reference {
    /// Id of the referring entity.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The entity does not exist.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Kind of entity.
        entity: &'static str,
        /// Id looked up.
        id: String,
    },
    /// A unique field already holds this value.
    #[error("{entity} with {field} `{value}` already exists")]
    Duplicate {
        /// Kind of entity.
        entity: &'static str,
        /// Field that must be unique.
        field: &'static str,
        /// Value given.
        value: String,
    },
    /// The entity is still used and cannot be removed.
    #[error("{entity} `{id}` is used by {count} {used_by_kind}")]
    InUse {
        /// Kind of entity.
        entity: &'static str,
        /// Its id.
        id: String,
        /// What uses it.
        used_by_kind: &'static str,
        /// How many users.
        count: i64,
        /// The first users.
        used_by: Vec<Reference>,
    },
    /// Input failed validation.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A resource would be promised more than 100 %.
    #[error("{0}")]
    DoubleBooking(Box<DoubleBooking>),
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// Field concerned, if any.
        field: Option<String>,
        /// Explanation.
        message: String,
    },
    /// A long write was cancelled by its caller; nothing was stored.
    #[error("cancelled on request; nothing was stored")]
    Cancelled,
    /// Singleton work was refused its write: another node took its lease.
    #[error("lease `{lease}` is no longer held under token {token}: another node took it; nothing was written")]
    Fenced {
        /// The lease.
        lease: String,
        /// The token the write was started under.
        token: i64,
    },
    /// A stored row could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Result alias of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database handle. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    pool: AnyPool,
    /// A typed pool to the same PostgreSQL database, for what the `Any`
    /// driver cannot do (COPY). `None` on SQLite.
    pg: Option<sqlx::PgPool>,
    backend: Backend,
    write_lock: Mutex<()>,
    /// Set when devices take setpoints over MQTT: every saved dispatch then
    /// queues its instructions for publishing in the same transaction.
    outbox: std::sync::OnceLock<SetpointOutbox>,
    /// Set once a device-link adapter (Modbus) runs: setpoints of resources
    /// with an enabled link are queued for it.
    link_outbox: std::sync::atomic::AtomicBool,
    /// Belief writes of more rows than this are staged on SQLite.
    stage_above: std::sync::atomic::AtomicUsize,
    /// SQLite file: the task that checkpoints the WAL, stopped with the store.
    _checkpointer: Option<Checkpointer>,
    /// The cluster node this process is, once it runs as one: it owns the
    /// background imports and backtests it starts.
    node_id: std::sync::OnceLock<String>,
}

/// Checkpoints a SQLite WAL in the background, off every writer's path.
///
/// SQLite otherwise checkpoints inside the commit that crosses the WAL size
/// limit, while vpp's write lock is held, so every other writer waits for
/// it: setpoint publications among them, which showed in the p99 of the
/// device bench. A passive checkpoint runs beside writers without blocking
/// them; the connections' own limit stays as a backstop.
#[derive(Debug)]
struct Checkpointer(tokio::task::AbortHandle);

impl Checkpointer {
    fn start(pool: AnyPool) -> Self {
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if pool.is_closed() {
                    return;
                }
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    tracing::debug!(error = %e, "WAL checkpoint skipped");
                }
            }
        });
        Self(task.abort_handle())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a dispatch instruction becomes a device message (see
/// [`Store::enable_setpoint_outbox`]).
#[derive(Debug, Clone)]
pub struct SetpointOutbox {
    /// The MQTT topic prefix.
    pub topic_prefix: std::sync::Arc<str>,
    /// Topic of a resource at a site: `(prefix, site, resource_id)`.
    pub topic: fn(&str, &str, &str) -> String,
}

/// An open write transaction holding the process-wide write lock.
pub(crate) struct WriteTx<'a> {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Backend of the transaction, for the few statements written per backend.
    pub backend: Backend,
    _guard: MutexGuard<'a, ()>,
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:` or
    /// `postgres://...`). A SQLite file is created if missing and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Invalid(Invalid::one(
                "database_url",
                format!("unsupported database URL `{url}`: use sqlite://FILE or postgres://..."),
            )));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let mut pool = AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // 32 MiB of page cache per connection (not 2), and the
                    // WAL checkpointed in the background (see Checkpointer)
                    // with the commit's own checkpoint at 64 MiB (not 4) as a
                    // backstop: the device bridge's 5,000-sample batches in
                    // 57 ms instead of 81 (`cargo bench -p vpp-store --bench telemetry`).
                    conn.execute("PRAGMA cache_size = -32768").await?;
                    conn.execute("PRAGMA wal_autocheckpoint = 16384").await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        if backend == Backend::Sqlite && !url.contains(":memory:") {
            sqlx::query("PRAGMA journal_mode = WAL").fetch_all(&pool).await?;
        }
        let pg = match backend {
            Backend::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_lazy_with(sqlx::postgres::PgConnectOptions::from_str(&url)?),
            ),
            Backend::Sqlite => None,
        };
        let checkpointer =
            (backend == Backend::Sqlite && !url.contains(":memory:")).then(|| Checkpointer::start(pool.clone()));
        Ok(Self {
            pool,
            pg,
            backend,
            write_lock: Mutex::new(()),
            outbox: std::sync::OnceLock::new(),
            link_outbox: std::sync::atomic::AtomicBool::new(false),
            stage_above: std::sync::atomic::AtomicUsize::new(series::STAGE_CHUNK),
            _checkpointer: checkpointer,
            node_id: std::sync::OnceLock::new(),
        })
    }

    /// From now on every saved dispatch also queues its instructions as
    /// setpoint deliveries, atomically with the dispatch (the device bridge
    /// calls this when it starts). Later calls keep the first outbox.
    pub fn enable_setpoint_outbox(&self, outbox: SetpointOutbox) {
        let _ = self.outbox.set(outbox);
    }

    /// From now on every saved dispatch queues the instructions of resources
    /// with an enabled device link for that link's adapter (the Modbus
    /// adapter calls this when it starts), whether MQTT runs or not.
    pub fn enable_link_outbox(&self) {
        self.link_outbox.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Belief writes of more than `rows` are staged on SQLite (default:
    /// more than one stage transaction holds). `usize::MAX` writes every
    /// import in one transaction, as vpp did before: `vpp bench import`
    /// compares the two.
    pub fn set_stage_above(&self, rows: usize) {
        self.stage_above.store(rows, std::sync::atomic::Ordering::Relaxed);
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the embedded migrations for this backend, then seeds the
    /// preset template library unless it was seeded before.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await?,
        }
        self.seed_presets().await
    }

    /// The value of a setting kept in the database, storing `value` first if absent.
    pub async fn meta_get_or_insert(&self, key: &str, value: &str) -> Result<String> {
        let mut w = self.begin_write().await?;
        let existing = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key.to_string())
            .fetch_optional(&mut *w.tx)
            .await?;
        let value = match existing {
            Some(row) => row.try_get("value")?,
            None => {
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                    .bind(key.to_string())
                    .bind(value.to_string())
                    .execute(&mut *w.tx)
                    .await?;
                value.to_string()
            }
        };
        w.tx.commit().await?;
        Ok(value)
    }

    /// Removes a key from the meta table (nothing if absent).
    pub async fn meta_delete(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM meta WHERE key = $1").bind(key.to_string()).execute(&self.pool).await?;
        Ok(())
    }

    /// The value of a setting kept in the database, if set.
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("value").map_err(StoreError::from)).transpose()
    }

    /// Sets a setting kept in the database.
    pub async fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key.to_string())
        .bind(value.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// True if the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
        self.pool.close().await;
    }

    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>> {
        let guard = self.write_lock.lock().await;
        let tx = match self.backend {
            // IMMEDIATE takes SQLite's write lock up front, so a read-then-write
            // transaction cannot fail half-way with SQLITE_BUSY.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // Serialise invariant-checking writes across server processes.
                sqlx::query("SELECT pg_advisory_xact_lock(7142)").execute(&mut *tx).await?;
                tx
            }
        };
        Ok(WriteTx { tx, backend: self.backend, _guard: guard })
    }
}

/// The current time at the storage precision (microseconds), so that what a
/// write returns equals what a later read returns.
pub fn now() -> Timestamp {
    at_storage_precision(Timestamp::now())
}

/// `ts` truncated to microseconds, as it will be stored.
pub fn at_storage_precision(ts: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts)
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn to_micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(format!("timestamp {us}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain domain structs and maps to a string cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn parse_enum<T>(row: &AnyRow, col: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = row.try_get(col)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{col}: unknown value `{text}`")))
}

/// Maps a unique-constraint violation to [`StoreError::Duplicate`].
pub(crate) fn unique(entity: &'static str, field: &'static str, value: &str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Duplicate { entity, field, value: value.to_string() },
        _ => StoreError::Database(e),
    }
}

/// Page size limits shared by all lists.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// A page request: `page` from 1, `size` 1..=[`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Page number from 1.
    pub page: i64,
    /// Items per page.
    pub size: i64,
}

impl Page {
    /// Rows to skip; a page far beyond the data saturates (and is empty)
    /// instead of overflowing.
    pub(crate) fn offset(&self) -> i64 {
        self.page.saturating_sub(1).saturating_mul(self.size)
    }
}

/// A page of results with the total count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Paged<T> {
    /// Items on this page.
    pub items: Vec<T>,
    /// Total matching items.
    pub total: i64,
    /// Page number.
    pub page: i64,
    /// Page size.
    pub size: i64,
}

/// Builds a WHERE clause from optional equality filters with `$n` placeholders.
/// Only fixed column names are ever interpolated, never values.
pub(crate) struct Filters {
    clauses: Vec<String>,
    pub values: Vec<String>,
}

impl Filters {
    pub fn new() -> Self {
        Self { clauses: vec![], values: vec![] }
    }

    pub fn eq(&mut self, column: &'static str, value: Option<String>) -> &mut Self {
        if let Some(v) = value {
            self.values.push(v);
            self.clauses.push(format!("{column} = ${}", self.values.len()));
        }
        self
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!(" WHERE {}", self.clauses.join(" AND ")) }
    }

    /// Runs `SELECT COUNT(*)` and a paged `SELECT` with these filters.
    pub async fn page(
        &self,
        pool: &AnyPool,
        table: &'static str,
        columns: &'static str,
        order: &'static str,
        page: Page,
    ) -> Result<(i64, Vec<AnyRow>)> {
        let where_sql = self.sql();
        let count_sql = format!("SELECT COUNT(*) AS n FROM {table}{where_sql}");
        let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql));
        for v in &self.values {
            count = count.bind(v.clone());
        }
        let total: i64 = count.fetch_one(pool).await?.try_get("n")?;
        let n = self.values.len();
        let list_sql =
            format!("SELECT {columns} FROM {table}{where_sql} ORDER BY {order} LIMIT ${} OFFSET ${}", n + 1, n + 2);
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for v in &self.values {
            list = list.bind(v.clone());
        }
        let rows = list.bind(page.size).bind(page.offset()).fetch_all(pool).await?;
        Ok((total, rows))
    }
}
