//! Time series and their beliefs.

use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::series::{Belief, OwnerKind, Quantity, Series, SeriesRequest, SourceKind, View, delivery_date_of};

/// A lead before delivery so negative it never limits a version (about 31
/// years back, well inside i64 microseconds): "no gate closure" in the
/// newest-version SQL.
const NO_LEAD_US: i64 = -1_000_000_000_000_000;

/// What [`Store::newest_beliefs`] reads: one series' beliefs of one source
/// over `[start_us, end_us)`, as `view` sees them.
#[derive(Debug, Clone)]
pub struct BeliefQuery {
    /// The series' internal key.
    pub series_key: i64,
    /// The source kind read.
    pub source: SourceKind,
    /// Window start (interval starts at or after), µs.
    pub start_us: i64,
    /// Window end (interval starts before), µs.
    pub end_us: i64,
    /// The series' interval length, µs: the grid values sit on (all sources
    /// but live measurements); 0 reads without a grid.
    pub grid_us: i64,
    /// Which version of each interval.
    pub view: View,
}

impl BeliefQuery {
    /// The newest version of each interval in `[start_us, end_us)`.
    pub fn latest(series_key: i64, source: SourceKind, (start_us, end_us): (i64, i64), grid_us: i64) -> Self {
        Self { series_key, source, start_us, end_us, grid_us, view: View::Latest }
    }
}

use crate::{Filters, Page, Paged, Result, Store, StoreError, from_micros, new_id, parse_enum, to_micros, unique};

/// Beliefs written per multi-row INSERT statement. Measured with `vpp bench
/// forecasts --assets 100 --versions-per-interval 24` (230,400 beliefs,
/// release build, SQLite): 1,000 rows per statement gave 19,000 beliefs/s,
/// 100 gave 129,000/s and 25 gave 270,000/s; sqlx's per-statement cost grows
/// faster than linearly with the parameter count. PostgreSQL stays near
/// 41,000/s at both 25 and 1,000 (it wants COPY).
const ROWS_PER_STATEMENT: usize = 25;

/// Rows per transaction of a staged write on SQLite (a multiple of
/// [`ROWS_PER_STATEMENT`]): at about 270,000 rows/s a transaction holds the
/// write lock some 40 ms, so telemetry and other writers never wait longer.
/// Writes of more rows are staged; PostgreSQL reports per COPY chunk.
pub(crate) const STAGE_CHUNK: usize = 10_000;

/// A staging batch without a heartbeat for this long belongs to a process
/// that stopped; any process may delete it. A chunk beats within about
/// 40 ms, so a minute leaves room for a long wait on the write lock.
const STALE_BATCH_US: i64 = 60_000_000;

/// Beats a staging batch's heartbeat inside a chunk's transaction; fails
/// when the batch was deleted meanwhile (its process was taken for dead),
/// so the chunk rolls back and nothing of the batch is ever published.
async fn beat(w: &mut crate::WriteTx<'_>, batch: i64) -> Result<()> {
    let beat = sqlx::query("UPDATE belief_batches SET heartbeat_at = $2 WHERE key = $1 AND staging = 1")
        .bind(batch)
        .bind(to_micros(crate::now()))
        .execute(&mut *w.tx)
        .await?;
    if beat.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            field: None,
            message: "the import's staged rows were deleted as abandoned (it stalled for a minute); import it again"
                .into(),
        })
    }
}

/// The condition that keeps a read of beliefs (aliased `$t`) to published
/// rows: rows of a batch still staging are not there yet (see
/// [`Store::insert_beliefs_reporting`]). Part of the one statement, so the
/// read sees the batches and their rows in the same snapshot.
macro_rules! visible {
    ($t:literal) => {
        concat!(
            " AND (",
            $t,
            ".batch = 0 OR ",
            $t,
            ".batch NOT IN (SELECT key FROM belief_batches WHERE staging = 1)) "
        )
    };
}
pub(crate) use visible;

/// Rows per message of a COPY.
const COPY_CHUNK: usize = 16_384;

/// Told how many rows a long write has sent so far; answers false to cancel
/// it (the transaction rolls back).
pub type Progress<'a> = &'a (dyn Fn(u64) -> bool + Send + Sync);

pub(crate) fn source_code(s: SourceKind) -> i64 {
    SourceKind::ALL.iter().position(|k| *k == s).unwrap_or(0) as i64
}

fn series_from_row(row: &AnyRow) -> Result<(i64, Series)> {
    Ok((
        row.try_get("key")?,
        Series {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            owner_kind: parse_enum(row, "owner_kind", OwnerKind::parse)?,
            owner_id: row.try_get("owner_id")?,
            quantity: parse_enum(row, "quantity", Quantity::parse)?,
            unit: row.try_get("unit")?,
            resolution_s: row.try_get("resolution_s")?,
            created_at: from_micros(row.try_get("created_at")?)?,
        },
    ))
}

/// Filters of the series list.
#[derive(Debug, Clone, Default)]
pub struct SeriesFilter {
    /// Owner kind.
    pub owner_kind: Option<OwnerKind>,
    /// Owner id.
    pub owner_id: Option<String>,
    /// Quantity.
    pub quantity: Option<Quantity>,
}

impl Store {
    /// Creates a series; a resource or VPP owner must exist.
    pub async fn create_series(&self, request: SeriesRequest) -> Result<Series> {
        let (unit, resolution_s) = request.validate()?;
        let exists = match request.owner_kind {
            OwnerKind::Resource => self.get_resource(&request.owner_id).await.map(|_| ()),
            OwnerKind::Vpp => self.get_vpp(&request.owner_id).await.map(|_| ()),
            // Markets are free identifiers; weather points are checked by the request.
            OwnerKind::Market | OwnerKind::Weather => Ok(()),
            OwnerKind::Site => self.get_site(&request.owner_id).await.map(|_| ()),
            OwnerKind::Model => {
                let model_id = request.owner_id.split('/').next().unwrap_or_default();
                self.get_model(model_id).await.map(|_| ())
            }
        };
        if let Err(StoreError::NotFound { entity, id }) = exists {
            return Err(vpp_domain::Invalid::one("owner_id", format!("{entity} `{id}` does not exist")).into());
        }
        let id = new_id();
        let name = request.name.trim().to_string();
        sqlx::query(
            "INSERT INTO series (id, name, owner_kind, owner_id, quantity, unit, resolution_s, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.clone())
        .bind(name.clone())
        .bind(request.owner_kind.as_str())
        .bind(request.owner_id.trim().to_string())
        .bind(request.quantity.as_str())
        .bind(unit)
        .bind(resolution_s)
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            let text = e.to_string();
            if text.contains("owner") || text.contains("quantity") {
                StoreError::Duplicate {
                    entity: "series",
                    field: "quantity",
                    value: format!(
                        "{} of {} {}",
                        request.quantity.as_str(),
                        request.owner_kind.as_str(),
                        request.owner_id
                    ),
                }
            } else {
                unique("series", "name", &name)(e)
            }
        })?;
        Ok(self.get_series(&id).await?.1)
    }

    /// The series of `quantity` owned by `owner`, created (named `name`) if
    /// there is none yet.
    pub async fn ensure_series(
        &self,
        owner_kind: OwnerKind,
        owner_id: &str,
        quantity: Quantity,
        name: &str,
    ) -> Result<(i64, Series)> {
        if let Some(found) = self.find_series(owner_kind, owner_id, quantity).await? {
            return Ok(found);
        }
        let request = SeriesRequest {
            name: name.to_string(),
            owner_kind,
            owner_id: owner_id.to_string(),
            quantity,
            unit: None,
            resolution_s: None,
        };
        match self.create_series(request).await {
            Ok(series) => self.get_series(&series.id).await,
            // Created meanwhile by another request.
            Err(StoreError::Duplicate { field: "quantity", .. }) => self
                .find_series(owner_kind, owner_id, quantity)
                .await?
                .ok_or_else(|| StoreError::Corrupt("series vanished".into())),
            Err(e) => Err(e),
        }
    }

    /// The series of `quantity` owned by `owner`, with its key, if there is one.
    pub async fn find_series(
        &self,
        owner_kind: OwnerKind,
        owner_id: &str,
        quantity: Quantity,
    ) -> Result<Option<(i64, Series)>> {
        let row = sqlx::query(
            "SELECT key, id, name, owner_kind, owner_id, quantity, unit, resolution_s, created_at FROM series \
             WHERE owner_kind = $1 AND owner_id = $2 AND quantity = $3",
        )
        .bind(owner_kind.as_str())
        .bind(owner_id.to_string())
        .bind(quantity.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(series_from_row).transpose()
    }

    /// The newest `schedule` belief of a resource's power series for the
    /// interval (of that series) containing `at_us`: (interval start µs,
    /// interval end µs, kW). `None` without a power series or a schedule.
    pub async fn scheduled_power(&self, resource_id: &str, at_us: i64) -> Result<Option<(i64, i64, f64)>> {
        self.scheduled_of(OwnerKind::Resource, resource_id, at_us).await
    }

    /// The VPP's market commitment for the interval containing `at_us`: the
    /// newest `schedule` belief of the VPP's power series (written when an
    /// auction clears; kW, positive = injection). `None` without one.
    pub async fn committed_power(&self, vpp_id: &str, at_us: i64) -> Result<Option<(i64, i64, f64)>> {
        self.scheduled_of(OwnerKind::Vpp, vpp_id, at_us).await
    }

    async fn scheduled_of(&self, owner: OwnerKind, id: &str, at_us: i64) -> Result<Option<(i64, i64, f64)>> {
        let Some((key, series)) = self.find_series(owner, id, Quantity::Power).await? else {
            return Ok(None);
        };
        let grid = series.resolution_s * 1_000_000;
        let start = at_us.div_euclid(grid) * grid;
        let newest =
            self.newest_beliefs(&BeliefQuery::latest(key, SourceKind::Schedule, (start, start + grid), grid)).await?;
        Ok(newest.first().map(|b| (start, start + grid, b.value)))
    }

    /// A series and its internal key.
    pub async fn get_series(&self, id: &str) -> Result<(i64, Series)> {
        let row = sqlx::query("SELECT key, id, name, owner_kind, owner_id, quantity, unit, resolution_s, created_at FROM series WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "series", id: id.into() })?;
        series_from_row(&row)
    }

    /// Lists series by name.
    pub async fn list_series(&self, filter: &SeriesFilter, page: Page) -> Result<Paged<Series>> {
        let mut f = Filters::new();
        f.eq("owner_kind", filter.owner_kind.map(|o| o.as_str().to_string()))
            .eq("owner_id", filter.owner_id.clone())
            .eq("quantity", filter.quantity.map(|q| q.as_str().to_string()));
        let (total, rows) = f
            .page(
                &self.pool,
                "series",
                "key, id, name, owner_kind, owner_id, quantity, unit, resolution_s, created_at",
                "name, id",
                page,
            )
            .await?;
        let items = rows.iter().map(|r| series_from_row(r).map(|(_, s)| s)).collect::<Result<_>>()?;
        Ok(Paged { items, total, page: page.page, size: page.size })
    }

    /// The series of `quantity` owned by the members of a VPP, with each
    /// member's allocation ratio.
    pub async fn member_series(&self, vpp_id: &str, quantity: Quantity) -> Result<Vec<(i64, Series, f64)>> {
        self.get_vpp(vpp_id).await?;
        let rows = sqlx::query(
            "SELECT s.key, s.id, s.name, s.owner_kind, s.owner_id, s.quantity, s.unit, s.resolution_s, s.created_at, m.allocation_ratio \
             FROM series s JOIN vpp_members m ON m.resource_id = s.owner_id \
             WHERE m.vpp_id = $1 AND s.owner_kind = 'resource' AND s.quantity = $2 ORDER BY s.owner_id",
        )
        .bind(vpp_id.to_string())
        .bind(quantity.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let (key, series) = series_from_row(r)?;
                Ok((key, series, r.try_get("allocation_ratio")?))
            })
            .collect()
    }

    /// Stores beliefs in one transaction; a belief already stored is left as
    /// it is. Returns how many were new.
    pub async fn insert_beliefs(&self, series_key: i64, beliefs: &[Belief]) -> Result<u64> {
        self.insert_beliefs_reporting(series_key, beliefs, &|_| true).await
    }

    /// [`Store::insert_beliefs`] for long imports: `progress` is told how
    /// many rows have been sent to the database so far (every few thousand)
    /// and cancels the import by answering false, which rolls the whole
    /// transaction back and returns [`StoreError::Cancelled`].
    pub async fn insert_beliefs_reporting(
        &self,
        series_key: i64,
        beliefs: &[Belief],
        progress: Progress<'_>,
    ) -> Result<u64> {
        if let Some(pg) = &self.pg {
            return copy_beliefs(pg, series_key, beliefs, progress).await;
        }
        if beliefs.len() > self.stage_above.load(std::sync::atomic::Ordering::Relaxed) {
            return self.insert_beliefs_staged(series_key, beliefs, progress).await;
        }
        let mut w = self.begin_write().await?;
        let inserted = insert_rows(&mut w, series_key, 0, beliefs).await?;
        if !progress(beliefs.len() as u64) {
            return Err(StoreError::Cancelled);
        }
        w.tx.commit().await?;
        Ok(inserted)
    }

    /// A large write on SQLite, all or nothing without holding the one
    /// write lock for its whole run: the rows go in as a batch of short
    /// transactions, invisible to every read while the batch is staging,
    /// and the batch is published in one tiny transaction at the end. A
    /// cancelled or failed batch has its rows deleted.
    ///
    /// Each chunk's transaction also beats the batch's heartbeat and fails
    /// if the batch is gone, so a batch whose process died (no beat for
    /// [`STALE_BATCH_US`]) can be deleted by any process
    /// ([`Store::discard_staged_batches`]) without ever publishing half a
    /// file. One live batch per series at a time: a second large import
    /// into the same series is refused while the first runs.
    async fn insert_beliefs_staged(&self, series_key: i64, beliefs: &[Belief], progress: Progress<'_>) -> Result<u64> {
        self.discard_stale_batches(Some(series_key)).await?;
        let batch = {
            let mut w = self.begin_write().await?;
            let now = to_micros(crate::now());
            let running: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM belief_batches WHERE series_key = $1 AND staging = 1 AND heartbeat_at >= $2",
            )
            .bind(series_key)
            .bind(now - STALE_BATCH_US)
            .fetch_one(&mut *w.tx)
            .await?;
            if running > 0 {
                return Err(StoreError::Conflict {
                    field: None,
                    message: "another large import into this series is still running; try again when it ended".into(),
                });
            }
            let batch: i64 = sqlx::query_scalar(
                "INSERT INTO belief_batches (series_key, staging, created_at, heartbeat_at) VALUES ($1, 1, $2, $2) \
                 RETURNING key",
            )
            .bind(series_key)
            .bind(now)
            .fetch_one(&mut *w.tx)
            .await?;
            w.tx.commit().await?;
            batch
        };
        let staged = async {
            let mut inserted = 0;
            let mut sent = 0;
            for chunk in beliefs.chunks(STAGE_CHUNK) {
                {
                    // The write lock is released before progress is told.
                    let mut w = self.begin_write().await?;
                    beat(&mut w, batch).await?;
                    inserted += insert_rows(&mut w, series_key, batch, chunk).await?;
                    w.tx.commit().await?;
                }
                sent += chunk.len();
                if !progress(sent as u64) {
                    return Err(StoreError::Cancelled);
                }
            }
            let mut w = self.begin_write().await?;
            beat(&mut w, batch).await?;
            sqlx::query("UPDATE belief_batches SET staging = 0 WHERE key = $1").bind(batch).execute(&mut *w.tx).await?;
            w.tx.commit().await?;
            Ok(inserted)
        }
        .await;
        if staged.is_err()
            && let Err(cleanup) = self.discard_batch(series_key, batch).await
        {
            tracing::error!(error = %cleanup, batch, "deleting a staged batch failed; it is retried once stale");
        }
        staged
    }

    async fn discard_batch(&self, series_key: i64, batch: i64) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM beliefs WHERE series_key = $1 AND batch = $2")
            .bind(series_key)
            .bind(batch)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("DELETE FROM belief_batches WHERE key = $1").bind(batch).execute(&mut *w.tx).await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Deletes the rows of staging batches whose process stopped (no
    /// heartbeat for [`STALE_BATCH_US`]), of one series or of all. Run at
    /// start, every minute by the server, and before each staged import.
    pub async fn discard_staged_batches(&self) -> Result<u64> {
        self.discard_stale_batches(None).await
    }

    async fn discard_stale_batches(&self, series_key: Option<i64>) -> Result<u64> {
        let batches: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT series_key, key FROM belief_batches WHERE staging = 1 AND heartbeat_at < $1 \
             AND ($2 < 0 OR series_key = $2)",
        )
        .bind(to_micros(crate::now()) - STALE_BATCH_US)
        .bind(series_key.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        for (series_key, batch) in &batches {
            self.discard_batch(*series_key, *batch).await?;
        }
        Ok(batches.len() as u64)
    }

    /// The newest belief per interval that the query's view sees, one row
    /// per interval, sorted by interval start. A day-ahead view is asked per
    /// delivery day, since its cutoff moves with the local calendar.
    pub async fn newest_beliefs(&self, q: &BeliefQuery) -> Result<Vec<vpp_domain::series::Selected>> {
        let at = |cutoff_us, lead_us| self.newest_in(q, (q.start_us, q.end_us), cutoff_us, lead_us);
        match &q.view {
            View::Latest => at(i64::MAX, NO_LEAD_US).await,
            View::AsOf(t) => at(t.as_microsecond(), NO_LEAD_US).await,
            View::Tradeable { lead } => at(i64::MAX, lead.as_micros() as i64).await,
            View::DayAhead { tz, .. } => {
                let mut selected = Vec::new();
                let mut lo = q.start_us;
                while lo < q.end_us {
                    let start = jiff::Timestamp::from_microsecond(lo)
                        .map_err(|e| StoreError::Corrupt(format!("day-ahead window: {e}")))?;
                    let next_day = delivery_date_of(start, tz)
                        .tomorrow()
                        .map_err(|e| StoreError::Corrupt(format!("day-ahead window: {e}")))?;
                    let day_end = next_day
                        .to_zoned(tz.clone())
                        .map_err(|e| StoreError::Corrupt(format!("day-ahead window: {e}")))?
                        .timestamp()
                        .as_microsecond();
                    let hi = day_end.min(q.end_us);
                    selected.extend(self.newest_in(q, (lo, hi), q.view.cutoff_us(lo), NO_LEAD_US).await?);
                    lo = hi;
                }
                Ok(selected)
            }
        }
    }

    /// Per event in `[start_us, end_us)`, the newest belief of `source` whose
    /// belief time is at or before both `cutoff_us` and `event_start −
    /// lead_us`: latest (no limits), as of a time, or tradeable before gate
    /// closure. Only one row per event is read back.
    ///
    /// Sources on the series' grid (`grid_us`, all but live measurements)
    /// are answered by walking the grid: per interval one backward probe of
    /// the primary key for the newest version and one for its value, so the
    /// cost grows with intervals, not with versions. `CROSS JOIN` makes
    /// SQLite keep the grid as the outer loop (PostgreSQL plans it so anyway).
    /// Measured with 192 versions per interval, one day of one series: 0.35
    /// ms in SQLite among 10M beliefs (12 ms before), 0.9 ms in PostgreSQL
    /// among 22M (122 ms before), against filtering every version in the
    /// window with a correlated MAX, which live measurements still use.
    async fn newest_in(
        &self,
        q: &BeliefQuery,
        (start_us, end_us): (i64, i64),
        cutoff_us: i64,
        lead_us: i64,
    ) -> Result<Vec<vpp_domain::series::Selected>> {
        let (series_key, source, grid_us) = (q.series_key, q.source, q.grid_us);
        const MAX_GRID_STEPS: i64 = 200_000;
        let on_grid = source != SourceKind::LiveMeasurement
            && grid_us > 0
            && end_us > start_us
            && (end_us - start_us) / grid_us <= MAX_GRID_STEPS;
        let query = if on_grid {
            // First grid point at or after start_us.
            let first =
                start_us.div_euclid(grid_us) * grid_us + if start_us.rem_euclid(grid_us) == 0 { 0 } else { grid_us };
            sqlx::query(concat!(
                "WITH RECURSIVE grid(s) AS (SELECT CAST($3 AS BIGINT) WHERE CAST($3 AS BIGINT) < CAST($4 AS BIGINT) \
                     UNION ALL SELECT s + CAST($7 AS BIGINT) FROM grid WHERE s + CAST($7 AS BIGINT) < CAST($4 AS BIGINT)) \
                 SELECT b.event_start, b.belief_time, b.value FROM grid CROSS JOIN beliefs b \
                   WHERE b.series_key = $1 AND b.source = $2 AND b.event_start = grid.s",
                visible!("b"),
                "AND b.belief_time = (SELECT MAX(v.belief_time) FROM beliefs v \
                       WHERE v.series_key = $1 AND v.source = $2 AND v.event_start = grid.s \
                       AND v.belief_time <= $5 AND v.belief_time <= grid.s - $6",
                visible!("v"),
                ") ORDER BY b.event_start",
            ))
            .bind(series_key)
            .bind(source_code(source))
            .bind(first)
            .bind(end_us)
            .bind(cutoff_us)
            .bind(lead_us)
            .bind(grid_us)
        } else {
            sqlx::query(concat!(
                "SELECT b.event_start, b.belief_time, b.value FROM beliefs b \
                 WHERE b.series_key = $1 AND b.source = $2 AND b.event_start >= $3 AND b.event_start < $4",
                visible!("b"),
                "AND b.belief_time = (SELECT MAX(v.belief_time) FROM beliefs v \
                     WHERE v.series_key = b.series_key AND v.source = b.source AND v.event_start = b.event_start \
                     AND v.belief_time <= $5 AND v.belief_time <= b.event_start - $6",
                visible!("v"),
                ") ORDER BY b.event_start",
            ))
            .bind(series_key)
            .bind(source_code(source))
            .bind(start_us)
            .bind(end_us)
            .bind(cutoff_us)
            .bind(lead_us)
        };
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(vpp_domain::series::Selected {
                    event_start_us: r.try_get("event_start")?,
                    belief_time_us: r.try_get("belief_time")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }

    /// Beliefs of a series with event start in `[start_us, end_us)`, of the
    /// given sources (all if empty), sorted by (event start, belief time).
    pub async fn beliefs(
        &self,
        series_key: i64,
        sources: &[SourceKind],
        start_us: i64,
        end_us: i64,
    ) -> Result<Vec<Belief>> {
        let mut out = Vec::new();
        let kinds: Vec<SourceKind> = if sources.is_empty() { SourceKind::ALL.to_vec() } else { sources.to_vec() };
        for kind in kinds {
            let rows = sqlx::query(concat!(
                "SELECT b.event_start, b.belief_time, b.value FROM beliefs b \
                 WHERE b.series_key = $1 AND b.source = $2 AND b.event_start >= $3 AND b.event_start < $4",
                visible!("b"),
                "ORDER BY b.event_start, b.belief_time",
            ))
            .bind(series_key)
            .bind(source_code(kind))
            .bind(start_us)
            .bind(end_us)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                out.push(Belief {
                    event_start_us: r.try_get("event_start")?,
                    belief_time_us: r.try_get("belief_time")?,
                    source: kind,
                    value: r.try_get("value")?,
                });
            }
        }
        if sources.len() != 1 {
            out.sort_by_key(|b| (b.event_start_us, b.belief_time_us));
        }
        Ok(out)
    }
}

/// PostgreSQL ingest by COPY. The beliefs are first copied straight into the
/// table under a savepoint; if one of them is stored already, that attempt
/// is rolled back and they go through a transaction-local staging table and
/// `INSERT … SELECT … ON CONFLICT DO NOTHING` instead, since COPY itself
/// cannot skip stored rows. Fresh data (the usual import) thus pays for one
/// COPY only (the import benchmark: docs/benchmarks.md); multi-row
/// INSERTs through the `Any` driver stayed near 41,000 beliefs/s.
/// Inserts beliefs of one batch (0: none) in multi-row statements; a belief
/// already stored is left as it is. Returns how many were new.
async fn insert_rows(w: &mut crate::WriteTx<'_>, series_key: i64, batch: i64, beliefs: &[Belief]) -> Result<u64> {
    let mut inserted = 0;
    for chunk in beliefs.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(96 + chunk.len() * 36);
        sql.push_str("INSERT INTO beliefs (series_key, source, event_start, belief_time, value, batch) VALUES ");
        for i in 0..chunk.len() {
            let p = i * 5;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${},${},${},${},${},{batch})", p + 1, p + 2, p + 3, p + 4, p + 5));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        // Only placeholders and the batch number are interpolated; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in chunk {
            q = q
                .bind(series_key)
                .bind(source_code(b.source))
                .bind(b.event_start_us)
                .bind(b.belief_time_us)
                .bind(b.value);
        }
        inserted += q.execute(&mut *w.tx).await?.rows_affected();
    }
    Ok(inserted)
}

async fn copy_beliefs(pg: &sqlx::PgPool, series_key: i64, beliefs: &[Belief], progress: Progress<'_>) -> Result<u64> {
    let mut tx = pg.begin().await?;
    sqlx::query("SAVEPOINT direct_copy").execute(&mut *tx).await?;
    let direct = "COPY beliefs (series_key, source, event_start, belief_time, value) FROM STDIN (FORMAT binary)";
    match copy_rows(&mut tx, direct, series_key, beliefs, progress).await {
        Ok(rows) => {
            tx.commit().await?;
            return Ok(rows);
        }
        Err(CopyError::Database(e)) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
            sqlx::query("ROLLBACK TO SAVEPOINT direct_copy").execute(&mut *tx).await?;
        }
        Err(e) => return Err(e.into()),
    }
    sqlx::query(
        "CREATE TEMP TABLE belief_stage (series_key BIGINT, source BIGINT, event_start BIGINT, \
         belief_time BIGINT, value DOUBLE PRECISION) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    copy_rows(&mut tx, "COPY belief_stage FROM STDIN (FORMAT binary)", series_key, beliefs, progress).await?;
    let inserted = sqlx::query(
        "INSERT INTO beliefs (series_key, source, event_start, belief_time, value) \
         SELECT series_key, source, event_start, belief_time, value FROM belief_stage ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(inserted)
}

/// Why a COPY stopped.
enum CopyError {
    Database(sqlx::Error),
    Cancelled,
}

impl From<CopyError> for StoreError {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Database(e) => e.into(),
            CopyError::Cancelled => StoreError::Cancelled,
        }
    }
}

/// Streams beliefs in COPY's binary format (8-byte big-endian integers and
/// IEEE doubles), which the server parses faster than text; returns the
/// rows copied. `progress` hears of every chunk sent and may cancel.
async fn copy_rows(
    conn: &mut sqlx::PgConnection,
    statement: &'static str,
    series_key: i64,
    beliefs: &[Belief],
    progress: Progress<'_>,
) -> std::result::Result<u64, CopyError> {
    const ROW_BYTES: usize = 2 + 5 * (4 + 8);
    let mut copy = conn.copy_in_raw(statement).await.map_err(CopyError::Database)?;
    let mut buf = Vec::with_capacity(19 + COPY_CHUNK * ROW_BYTES);
    // Signature, flags, header extension length.
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    let mut sent = 0;
    for (i, chunk) in beliefs.chunks(COPY_CHUNK).enumerate() {
        if i > 0 {
            buf.clear();
        }
        for b in chunk {
            buf.extend_from_slice(&5i16.to_be_bytes());
            for field in [series_key, source_code(b.source), b.event_start_us, b.belief_time_us] {
                buf.extend_from_slice(&8i32.to_be_bytes());
                buf.extend_from_slice(&field.to_be_bytes());
            }
            buf.extend_from_slice(&8i32.to_be_bytes());
            buf.extend_from_slice(&b.value.to_bits().to_be_bytes());
        }
        if let Err(e) = copy.send(buf.as_slice()).await {
            let _ = copy.abort("send failed").await;
            return Err(CopyError::Database(e));
        }
        sent += chunk.len() as u64;
        if !progress(sent) {
            let _ = copy.abort("cancelled").await;
            return Err(CopyError::Cancelled);
        }
    }
    if let Err(e) = copy.send(&(-1i16).to_be_bytes()[..]).await {
        let _ = copy.abort("send failed").await;
        return Err(CopyError::Database(e));
    }
    copy.finish().await.map_err(CopyError::Database)
}
