//! Device telemetry and dispatch instructions.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::Invalid;
use vpp_domain::fleet::DispatchOrigin;
use vpp_domain::resource::Telemetry;

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// Power now of a fleet or a VPP, from the newest sample of each resource.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LivePower {
    /// Σ power, kW (injection positive; a VPP's members weighted by their
    /// ratio); none when no resource reported recently.
    pub kw: Option<f64>,
    /// Resources whose newest sample is recent enough to count.
    pub reporting: i64,
}

/// Largest batch of samples accepted at once.
pub const MAX_TELEMETRY_BATCH: usize = 10_000;

/// A stored dispatch: the VPP-level request and its per-resource instructions.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchRecord {
    /// Dispatch id.
    pub id: String,
    /// VPP dispatched.
    pub vpp_id: String,
    /// Requested net setpoint, kW.
    pub target_kw: f64,
    /// Delivery start (UTC).
    pub start: Timestamp,
    /// Delivery end, exclusive (UTC).
    pub end: Timestamp,
    /// Split rule used.
    pub mode: DispatchOrigin,
    /// Σ instructions, kW.
    pub total_dispatched_kw: f64,
    /// target − total, kW.
    pub unmet_kw: f64,
    /// When issued.
    pub created_at: Timestamp,
    /// Per-resource instructions.
    pub instructions: Vec<InstructionRecord>,
}

/// One resource's setpoint for a dispatch window.
#[derive(Debug, Clone, Serialize)]
pub struct InstructionRecord {
    /// Instruction id.
    pub id: String,
    /// Dispatch it belongs to.
    pub dispatch_id: String,
    /// Resource instructed.
    pub resource_id: String,
    /// Setpoint, kW.
    pub target_kw: f64,
    /// Delivery start.
    pub start: Timestamp,
    /// Delivery end, exclusive.
    pub end: Timestamp,
}

/// Telemetry of one resource inside a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TelemetryWindow {
    /// Mean active power of the samples, kW.
    pub mean_power_kw: f64,
    /// Number of samples.
    pub samples: i64,
    /// Time of the last sample.
    pub last_ts: Timestamp,
}

fn telemetry_from_row(row: &AnyRow) -> Result<Telemetry> {
    Ok(Telemetry {
        ts: from_micros(row.try_get("ts")?)?,
        power_kw: row.try_get("power_kw")?,
        energy_kwh: row.try_get("energy_kwh")?,
        soc_pct: row.try_get("soc_pct")?,
        temperature_c: row.try_get("temperature_c")?,
    })
}

fn instruction_from_row(row: &AnyRow) -> Result<InstructionRecord> {
    Ok(InstructionRecord {
        id: row.try_get("id")?,
        dispatch_id: row.try_get("dispatch_id")?,
        resource_id: row.try_get("resource_id")?,
        target_kw: row.try_get("target_kw")?,
        start: from_micros(row.try_get("start_at")?)?,
        end: from_micros(row.try_get("end_at")?)?,
    })
}

impl Store {
    /// Stores telemetry samples of one resource. All samples are checked
    /// first; one bad sample refuses the batch. A sample already stored
    /// (same resource and time) is ignored, so retries are safe. Returns how
    /// many samples were new.
    pub async fn record_telemetry(&self, resource_id: &str, samples: &[Telemetry]) -> Result<usize> {
        if samples.is_empty() || samples.len() > MAX_TELEMETRY_BATCH {
            return Err(Invalid::one("samples", format!("send 1 to {MAX_TELEMETRY_BATCH} samples")).into());
        }
        let mut w = self.begin_write().await?;
        let resource = crate::resources::get_resource_tx(&mut w, resource_id).await?;
        let mut errors = vpp_domain::error::Errors::default();
        let horizon = crate::now() + jiff::SignedDuration::from_mins(5);
        for (i, s) in samples.iter().enumerate() {
            if let Err(Invalid(list)) = s.validate(resource.capacity_kw) {
                for e in list {
                    errors.push(format!("samples[{i}].{}", e.field), e.message);
                }
            }
            errors.check(s.ts <= horizon, format!("samples[{i}].ts"), "lies more than 5 minutes in the future");
        }
        errors.finish(())?;
        let rows: Vec<(&str, &Telemetry)> = samples.iter().map(|s| (resource_id, s)).collect();
        let inserted = crate::devices::insert_samples(&mut w, &rows, to_micros(crate::now())).await?;
        w.tx.commit().await?;
        Ok(inserted)
    }

    /// Power now: the newest sample of each resource taken at or after
    /// `since`, summed (kW, injection positive) and counted; resources
    /// whose newest sample is older are left out, not guessed.
    pub async fn live_power(&self, since: Timestamp) -> Result<LivePower> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(power_kw), 0.0) AS kw, COUNT(*) AS n FROM resource_latest_telemetry WHERE ts >= $1",
        )
        .bind(to_micros(since))
        .fetch_one(&self.pool)
        .await?;
        let reporting: i64 = row.try_get("n")?;
        Ok(LivePower { kw: (reporting > 0).then(|| row.try_get("kw")).transpose()?, reporting })
    }

    /// [`Store::live_power`] of every VPP at once, its members weighted by
    /// their allocation ratio; a VPP none of whose members reported is absent.
    pub async fn live_power_by_vpp(&self, since: Timestamp) -> Result<std::collections::HashMap<String, LivePower>> {
        let rows = sqlx::query(
            "SELECT m.vpp_id, COALESCE(SUM(t.power_kw * m.allocation_ratio), 0.0) AS kw, COUNT(*) AS n \
             FROM vpp_members m JOIN resource_latest_telemetry t ON t.resource_id = m.resource_id \
             WHERE t.ts >= $1 GROUP BY m.vpp_id",
        )
        .bind(to_micros(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("vpp_id")?, LivePower { kw: Some(r.try_get("kw")?), reporting: r.try_get("n")? })))
            .collect()
    }

    /// How many resources are in each status, over the whole registry.
    pub async fn status_counts(&self) -> Result<vpp_domain::fleet::StatusCounts> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) AS n FROM resources GROUP BY status").fetch_all(&self.pool).await?;
        let mut counts = vpp_domain::fleet::StatusCounts::default();
        for r in rows {
            let status: String = r.try_get("status")?;
            let n = usize::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0);
            use vpp_domain::resource::ResourceStatus;
            let slot = match ResourceStatus::parse(&status) {
                Some(ResourceStatus::Online) => &mut counts.online,
                Some(ResourceStatus::Offline) => &mut counts.offline,
                Some(ResourceStatus::Maintenance) => &mut counts.maintenance,
                Some(ResourceStatus::Error) => &mut counts.error,
                None => return Err(StoreError::Corrupt(format!("resource status `{status}`"))),
            };
            *slot += n;
        }
        Ok(counts)
    }

    /// The newest sample of a resource and when it arrived, if any has.
    pub async fn latest_telemetry(&self, resource_id: &str) -> Result<Option<(Telemetry, Timestamp)>> {
        self.get_resource(resource_id).await?;
        let row = sqlx::query(
            "SELECT ts, power_kw, energy_kwh, soc_pct, temperature_c, received_at FROM resource_latest_telemetry WHERE resource_id = $1",
        )
        .bind(resource_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((telemetry_from_row(&r)?, from_micros(r.try_get("received_at")?)?))).transpose()
    }

    /// Mean power of a resource's samples in `[start, end)`, if any.
    pub async fn telemetry_window(
        &self,
        resource_id: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Option<TelemetryWindow>> {
        let row = sqlx::query(
            "SELECT AVG(power_kw) AS mean_kw, COUNT(*) AS n, MAX(ts) AS last_ts FROM telemetry \
             WHERE resource_id = $1 AND ts >= $2 AND ts < $3",
        )
        .bind(resource_id.to_string())
        .bind(to_micros(start))
        .bind(to_micros(end))
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(TelemetryWindow {
            mean_power_kw: row.try_get("mean_kw")?,
            samples: n,
            last_ts: from_micros(row.try_get("last_ts")?)?,
        }))
    }

    /// Stores a dispatch and its instructions in one transaction.
    pub async fn save_dispatch(&self, d: &DispatchRecord) -> Result<()> {
        let mut w = self.begin_write().await?;
        // Only an ACTIVE VPP is dispatched, checked in the transaction that
        // stores the dispatch: a VPP deactivated after its members were read
        // gets no instructions.
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM vpps WHERE id = $1")
            .bind(d.vpp_id.clone())
            .fetch_optional(&mut *w.tx)
            .await?;
        match status.as_deref() {
            Some("ACTIVE") => {}
            Some(other) => {
                return Err(StoreError::Conflict {
                    field: Some("status".into()),
                    message: format!("VPP `{}` is {other}; only ACTIVE VPPs can be dispatched", d.vpp_id),
                });
            }
            None => return Err(StoreError::NotFound { entity: "vpp", id: d.vpp_id.clone() }),
        }
        sqlx::query(
            "INSERT INTO dispatches (id, vpp_id, target_kw, start_at, end_at, mode, total_dispatched_kw, unmet_kw, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(d.id.clone())
        .bind(d.vpp_id.clone())
        .bind(d.target_kw)
        .bind(to_micros(d.start))
        .bind(to_micros(d.end))
        .bind(d.mode.as_str())
        .bind(d.total_dispatched_kw)
        .bind(d.unmet_kw)
        .bind(to_micros(d.created_at))
        .execute(&mut *w.tx)
        .await?;
        for i in &d.instructions {
            sqlx::query(
                "INSERT INTO dispatch_instructions (id, dispatch_id, resource_id, target_kw, start_at, end_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(i.id.clone())
            .bind(d.id.clone())
            .bind(i.resource_id.clone())
            .bind(i.target_kw)
            .bind(to_micros(i.start))
            .bind(to_micros(i.end))
            .bind(to_micros(d.created_at))
            .execute(&mut *w.tx)
            .await?;
        }
        let links = self.link_outbox.load(std::sync::atomic::Ordering::Relaxed);
        if self.outbox.get().is_some() || links {
            crate::devices::queue_in(&mut w, self.outbox.get(), links, &d.instructions).await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// A stored dispatch with its instructions.
    pub async fn get_dispatch(&self, id: &str) -> Result<DispatchRecord> {
        let row = sqlx::query(
            "SELECT id, vpp_id, target_kw, start_at, end_at, mode, total_dispatched_kw, unmet_kw, created_at FROM dispatches WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "dispatch", id: id.into() })?;
        let instructions = sqlx::query(
            "SELECT id, dispatch_id, resource_id, target_kw, start_at, end_at FROM dispatch_instructions WHERE dispatch_id = $1 ORDER BY resource_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(instruction_from_row)
        .collect::<Result<_>>()?;
        let mode: String = row.try_get("mode")?;
        Ok(DispatchRecord {
            id: row.try_get("id")?,
            vpp_id: row.try_get("vpp_id")?,
            target_kw: row.try_get("target_kw")?,
            start: from_micros(row.try_get("start_at")?)?,
            end: from_micros(row.try_get("end_at")?)?,
            mode: DispatchOrigin::parse(&mode).ok_or_else(|| StoreError::Corrupt(format!("mode `{mode}`")))?,
            total_dispatched_kw: row.try_get("total_dispatched_kw")?,
            unmet_kw: row.try_get("unmet_kw")?,
            created_at: from_micros(row.try_get("created_at")?)?,
            instructions,
        })
    }

    /// One per-resource instruction.
    pub async fn get_instruction(&self, id: &str) -> Result<InstructionRecord> {
        let row = sqlx::query(
            "SELECT id, dispatch_id, resource_id, target_kw, start_at, end_at FROM dispatch_instructions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "instruction", id: id.into() })?;
        instruction_from_row(&row)
    }

    /// Instructions whose delivery window contains `at`, oldest first (so a
    /// later instruction for the same resource comes after an earlier one).
    pub async fn active_instructions(&self, at: Timestamp) -> Result<Vec<InstructionRecord>> {
        sqlx::query(
            "SELECT id, dispatch_id, resource_id, target_kw, start_at, end_at FROM dispatch_instructions \
             WHERE start_at <= $1 AND end_at > $1 ORDER BY created_at, id",
        )
        .bind(to_micros(at))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(instruction_from_row)
        .collect()
    }

    /// A resource's newest instructions (by start), at most `limit`.
    pub async fn recent_instructions(&self, resource_id: &str, limit: i64) -> Result<Vec<InstructionRecord>> {
        self.get_resource(resource_id).await?;
        sqlx::query(
            "SELECT id, dispatch_id, resource_id, target_kw, start_at, end_at FROM dispatch_instructions \
             WHERE resource_id = $1 ORDER BY start_at DESC, created_at DESC, id DESC LIMIT $2",
        )
        .bind(resource_id.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(instruction_from_row)
        .collect()
    }

    /// Recent dispatches of a VPP, newest first, without instructions.
    pub async fn list_dispatches(&self, vpp_id: &str, limit: i64) -> Result<Vec<DispatchRecord>> {
        let rows =
            sqlx::query("SELECT id FROM dispatches WHERE vpp_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
                .bind(vpp_id.to_string())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut d = self.get_dispatch(&r.try_get::<String, _>("id")?).await?;
            d.instructions.clear();
            out.push(d);
        }
        Ok(out)
    }
}

/// The payload of an instruction's delivery (for every channel).
pub(crate) fn setpoint_payload(i: &InstructionRecord) -> String {
    let setpoint = vpp_domain::execution::Setpoint {
        instruction_id: i.id.clone(),
        target_kw: i.target_kw,
        start: i.start,
        duration_s: i.end.duration_since(i.start).as_secs().max(0) as u64,
    };
    // A struct of strings and numbers always serialises.
    serde_json::to_string(&setpoint).unwrap_or_default()
}
