//! Closed-loop execution records: scheduled against measured power per
//! finished interval, per member and per VPP.

use jiff::Timestamp;
use sqlx::Row;

pub use vpp_domain::execution::DeviationRecord;

use crate::{Result, Store, from_micros, to_micros};

impl Store {
    /// Records an interval's execution; an interval already recorded for a
    /// VPP is left as it was. Returns how many rows were new.
    pub async fn record_execution(&self, rows: &[DeviationRecord]) -> Result<u64> {
        let mut w = self.begin_write().await?;
        let mut inserted = 0;
        for r in rows {
            inserted += sqlx::query(
                "INSERT INTO execution_deviations (vpp_id, interval_start, resource_id, interval_end, scheduled_kw, \
                 measured_kw, samples, deviation_kw, action, dispatch_id, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            )
            .bind(r.vpp_id.clone())
            .bind(to_micros(r.interval_start))
            .bind(r.resource_id.clone())
            .bind(to_micros(r.interval_end))
            .bind(r.scheduled_kw)
            .bind(r.measured_kw)
            .bind(r.samples)
            .bind(r.deviation_kw)
            .bind(r.action.clone())
            .bind(r.dispatch_id.clone())
            .bind(to_micros(r.recorded_at))
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        }
        w.tx.commit().await?;
        Ok(inserted)
    }

    /// True if the VPP's interval starting at `start` was recorded.
    pub async fn execution_recorded(&self, vpp_id: &str, start: Timestamp) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM execution_deviations WHERE vpp_id = $1 AND interval_start = $2 AND resource_id = ''",
        )
        .bind(vpp_id.to_string())
        .bind(to_micros(start))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Execution rows of a VPP with interval start in `[from, to)`, by time;
    /// the VPP totals only unless `members`.
    pub async fn execution(
        &self,
        vpp_id: &str,
        from: Timestamp,
        to: Timestamp,
        members: bool,
    ) -> Result<Vec<DeviationRecord>> {
        let rows = sqlx::query(
            "SELECT vpp_id, interval_start, resource_id, interval_end, scheduled_kw, measured_kw, samples, \
             deviation_kw, action, dispatch_id, recorded_at FROM execution_deviations \
             WHERE vpp_id = $1 AND interval_start >= $2 AND interval_start < $3 AND ($4 = 1 OR resource_id = '') \
             ORDER BY interval_start, resource_id",
        )
        .bind(vpp_id.to_string())
        .bind(to_micros(from))
        .bind(to_micros(to))
        .bind(i64::from(members))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeviationRecord {
                    vpp_id: r.try_get("vpp_id")?,
                    resource_id: r.try_get("resource_id")?,
                    interval_start: from_micros(r.try_get("interval_start")?)?,
                    interval_end: from_micros(r.try_get("interval_end")?)?,
                    scheduled_kw: r.try_get("scheduled_kw")?,
                    measured_kw: r.try_get("measured_kw")?,
                    samples: r.try_get("samples")?,
                    deviation_kw: r.try_get("deviation_kw")?,
                    action: r.try_get("action")?,
                    dispatch_id: r.try_get("dispatch_id")?,
                    recorded_at: from_micros(r.try_get("recorded_at")?)?,
                })
            })
            .collect()
    }
}
