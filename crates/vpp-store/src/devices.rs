//! What the device bridge needs: telemetry of many devices written at once,
//! the resources that fell silent, and the setpoints on their way out.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::resource::{ResourceStatus, Telemetry};

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// Rows per INSERT statement. sqlx's cost per statement grows faster than
/// linearly with its parameters (see series.rs): `vpp bench devices` with
/// 10,000 devices wrote 7,000 samples/s at 2,000 rows per statement.
const ROWS_PER_STATEMENT: usize = 25;

/// A resource as the bridge needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Resource id.
    pub id: String,
    /// Rated power, kW (telemetry beyond 1.5 × is refused).
    pub capacity_kw: f64,
    /// Status now.
    pub status: ResourceStatus,
    /// Site segment of its topics.
    pub site: String,
    /// SOC window, %, for batteries that declare one.
    pub soc_window_pct: Option<(f64, f64)>,
    /// Silence after which it counts as offline, seconds (from the resource's
    /// `heartbeat_timeout_s` metadata), if it sets its own.
    pub heartbeat_timeout_s: Option<f64>,
    /// When its newest sample arrived.
    pub last_seen: Option<Timestamp>,
    /// Key of its power series, where telemetry also lands as live measurements.
    pub power_series: Option<i64>,
}

/// Where a setpoint is on its way to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet published.
    Pending,
    /// Published, waiting for the device's answer.
    Sent,
    /// The device takes it.
    Acknowledged,
    /// The device refused it.
    Rejected,
    /// No answer after every retry.
    Failed,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Acknowledged => "acknowledged",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Acknowledged, Self::Rejected, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A setpoint on its way to a device.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Instruction id.
    pub instruction_id: String,
    /// Device.
    pub resource_id: String,
    /// MQTT topic.
    pub topic: String,
    /// JSON payload.
    pub payload: String,
    /// State.
    pub state: DeliveryState,
    /// Times published.
    pub attempts: i64,
    /// When it is due for (re)publishing or giving up.
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    /// Last published.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
    /// When the device answered (or the bridge gave up).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<Timestamp>,
    /// The device's reason for a rejection, or why it failed.
    pub reason: Option<String>,
}

/// `SELECT <delivery columns> FROM setpoint_deliveries <rest>`, as one static string.
macro_rules! select_deliveries {
    ($rest:literal) => {
        concat!(
            "SELECT instruction_id, resource_id, topic, payload, state, attempts, next_attempt_at, sent_at, ",
            "answered_at, reason FROM setpoint_deliveries ",
            $rest
        )
    };
}

fn delivery_from_row(r: &AnyRow) -> Result<Delivery> {
    // (columns as in select_deliveries!)
    let state: String = r.try_get("state")?;
    let opt_ts =
        |name: &str| -> Result<Option<Timestamp>> { r.try_get::<Option<i64>, _>(name)?.map(from_micros).transpose() };
    Ok(Delivery {
        instruction_id: r.try_get("instruction_id")?,
        resource_id: r.try_get("resource_id")?,
        topic: r.try_get("topic")?,
        payload: r.try_get("payload")?,
        state: DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("delivery state `{state}`")))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: from_micros(r.try_get("next_attempt_at")?)?,
        sent_at: opt_ts("sent_at")?,
        answered_at: opt_ts("answered_at")?,
        reason: r.try_get("reason")?,
    })
}

impl Store {
    /// Every resource with what the bridge checks telemetry against.
    pub async fn device_directory(&self) -> Result<Vec<DeviceInfo>> {
        let rows = sqlx::query(
            "SELECT r.id, r.capacity_kw, r.status, r.building, r.parameters, r.metadata, t.received_at, s.key AS series_key \
             FROM resources r LEFT JOIN resource_latest_telemetry t ON t.resource_id = r.id \
             LEFT JOIN series s ON s.owner_kind = 'resource' AND s.owner_id = r.id AND s.quantity = 'power'",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let building: Option<String> = r.try_get("building")?;
                let parameters: serde_json::Value = crate::from_json(r, "parameters")?;
                let metadata: serde_json::Value = crate::from_json(r, "metadata")?;
                let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_f64);
                let soc_window_pct = num(&parameters, "soc_min_pct").zip(num(&parameters, "soc_max_pct"));
                Ok(DeviceInfo {
                    id: r.try_get("id")?,
                    capacity_kw: r.try_get("capacity_kw")?,
                    status: crate::parse_enum(r, "status", ResourceStatus::parse)?,
                    site: site_slug(building.as_deref()),
                    soc_window_pct,
                    heartbeat_timeout_s: num(&metadata, "heartbeat_timeout_s").filter(|x| *x > 0.0),
                    last_seen: r.try_get::<Option<i64>, _>("received_at")?.map(from_micros).transpose()?,
                    power_series: r.try_get("series_key")?,
                })
            })
            .collect()
    }

    /// Stores samples of many resources in one transaction (the device
    /// bridge's batches; the samples are already checked). A sample already
    /// stored is skipped. Returns how many were new.
    pub async fn ingest_telemetry(&self, samples: &[(String, Telemetry)]) -> Result<usize> {
        if samples.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(&str, &Telemetry)> = samples.iter().map(|(id, s)| (id.as_str(), s)).collect();
        let mut w = self.begin_write().await?;
        let inserted = insert_samples(&mut w, &rows, to_micros(crate::now())).await?;
        w.tx.commit().await?;
        Ok(inserted)
    }

    /// Changes a resource's status if it is not already `to`, recording the
    /// change; returns whether it changed. For the bridge and heartbeat job.
    pub async fn set_status_if(
        &self,
        id: &str,
        from: &[ResourceStatus],
        to: ResourceStatus,
        reason: &str,
    ) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let resource = crate::resources::get_resource_tx(&mut w, id).await?;
        if resource.status == to || !from.contains(&resource.status) {
            return Ok(false);
        }
        crate::resources::record_status(&mut w, &resource, to, reason).await?;
        w.tx.commit().await?;
        Ok(true)
    }

    /// Setpoints due for publishing or for giving up: pending or sent, with
    /// their next attempt at or before `now`.
    pub async fn due_setpoints(&self, now: Timestamp, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(select_deliveries!(
            "WHERE state IN ('pending', 'sent') AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2"
        ))
        .bind(to_micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// Records the publication of setpoints (before they go out, so an
    /// answer can never arrive first); answers are due by `answer_by`.
    pub async fn setpoints_sent(&self, instruction_ids: &[String], answer_by: Timestamp) -> Result<()> {
        let mut w = self.begin_write().await?;
        // Taken with the lock held: the wait for other writers is not sending time.
        let now = to_micros(crate::now());
        for id in instruction_ids {
            sqlx::query(
                "UPDATE setpoint_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = $2, next_attempt_at = $3 \
                 WHERE instruction_id = $1 AND state IN ('pending', 'sent')",
            )
            .bind(id.clone())
            .bind(now)
            .bind(to_micros(answer_by))
            .execute(&mut *w.tx)
            .await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// Makes every setpoint still waiting for an answer due now (after a
    /// reconnect, so none waits out its timeout for nothing).
    pub async fn resend_unanswered_setpoints(&self) -> Result<u64> {
        let done = sqlx::query("UPDATE setpoint_deliveries SET next_attempt_at = $1 WHERE state = 'sent'")
            .bind(to_micros(crate::now()))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records devices' answers or the bridge giving up, in one
    /// transaction: `(instruction id, resource id, state, reason, when)`.
    /// Only a setpoint still waiting for that resource changes; returns the
    /// deliveries that did.
    pub async fn answer_setpoints(
        &self,
        answers: &[(String, String, DeliveryState, Option<String>, Timestamp)],
    ) -> Result<Vec<Delivery>> {
        if answers.is_empty() {
            return Ok(Vec::new());
        }
        let mut w = self.begin_write().await?;
        let mut changed = Vec::new();
        for (instruction_id, resource_id, state, reason, at) in answers {
            let done = sqlx::query(
                "UPDATE setpoint_deliveries SET state = $3, answered_at = $4, reason = $5 \
                 WHERE instruction_id = $1 AND resource_id = $2 AND state IN ('pending', 'sent')",
            )
            .bind(instruction_id.clone())
            .bind(resource_id.clone())
            .bind(state.as_str())
            .bind(to_micros(*at))
            .bind(reason.clone())
            .execute(&mut *w.tx)
            .await?;
            if done.rows_affected() > 0 {
                let row = sqlx::query(select_deliveries!("WHERE instruction_id = $1"))
                    .bind(instruction_id.clone())
                    .fetch_one(&mut *w.tx)
                    .await?;
                changed.push(delivery_from_row(&row)?);
            }
        }
        w.tx.commit().await?;
        Ok(changed)
    }

    /// The delivery of one instruction, if it went out over MQTT.
    pub async fn setpoint_delivery(&self, instruction_id: &str) -> Result<Option<Delivery>> {
        let row = sqlx::query(select_deliveries!("WHERE instruction_id = $1"))
            .bind(instruction_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(delivery_from_row).transpose()
    }
}

/// Queues instructions as setpoint deliveries inside a write transaction
/// (ignores one already queued).
pub(crate) async fn queue_in(
    w: &mut crate::WriteTx<'_>,
    outbox: crate::SetpointOutbox,
    instructions: &[crate::InstructionRecord],
) -> Result<()> {
    let now = to_micros(crate::now());
    for i in instructions {
        let building: Option<Option<String>> = sqlx::query_scalar("SELECT building FROM resources WHERE id = $1")
            .bind(i.resource_id.clone())
            .fetch_optional(&mut *w.tx)
            .await?;
        let Some(building) = building else {
            return Err(StoreError::NotFound { entity: "resource", id: i.resource_id.clone() });
        };
        sqlx::query(
            "INSERT INTO setpoint_deliveries (instruction_id, resource_id, topic, payload, state, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (instruction_id) DO NOTHING",
        )
        .bind(i.id.clone())
        .bind(i.resource_id.clone())
        .bind((outbox.topic)(&site_slug(building.as_deref()), &i.resource_id))
        .bind((outbox.payload)(i))
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    }
    Ok(())
}

/// Stores samples `(resource id, sample)` inside a write transaction: new
/// ones into `telemetry` (one already stored is skipped), and each
/// resource's newest into `resource_latest_telemetry`. Returns how many were new.
pub(crate) async fn insert_samples(
    w: &mut crate::WriteTx<'_>,
    samples: &[(&str, &Telemetry)],
    received: i64,
) -> Result<usize> {
    let mut inserted = 0usize;
    for chunk in samples.chunks(ROWS_PER_STATEMENT) {
        let sql = values_sql(
            "INSERT INTO telemetry (resource_id, ts, power_kw, energy_kwh, soc_pct, temperature_c, received_at) VALUES ",
            chunk.len(),
            " ON CONFLICT (resource_id, ts) DO NOTHING",
        );
        inserted +=
            sample_rows(sql, chunk.iter().copied(), received).execute(&mut *w.tx).await?.rows_affected() as usize;
    }
    let mut newest: std::collections::HashMap<&str, &Telemetry> = std::collections::HashMap::new();
    for (id, s) in samples {
        let e = newest.entry(id).or_insert(s);
        if s.ts > e.ts {
            *e = s;
        }
    }
    let newest: Vec<(&str, &Telemetry)> = newest.into_iter().collect();
    for chunk in newest.chunks(ROWS_PER_STATEMENT) {
        let sql = values_sql(
            "INSERT INTO resource_latest_telemetry (resource_id, ts, power_kw, energy_kwh, soc_pct, temperature_c, received_at) VALUES ",
            chunk.len(),
            " ON CONFLICT (resource_id) DO UPDATE SET ts = excluded.ts, power_kw = excluded.power_kw, \
             energy_kwh = excluded.energy_kwh, soc_pct = excluded.soc_pct, temperature_c = excluded.temperature_c, \
             received_at = excluded.received_at WHERE excluded.ts > resource_latest_telemetry.ts",
        );
        sample_rows(sql, chunk.iter().copied(), received).execute(&mut *w.tx).await?;
    }
    Ok(inserted)
}

/// A statement from [`values_sql`] with one sample per row bound to it.
fn sample_rows<'a>(
    sql: String,
    rows: impl Iterator<Item = (&'a str, &'a Telemetry)>,
    received: i64,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    // Only placeholders are generated; no value enters the text.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, s) in rows {
        q = q
            .bind(id.to_string())
            .bind(to_micros(s.ts))
            .bind(s.power_kw)
            .bind(crate::telemetry::nullable_f64(s.energy_kwh))
            .bind(crate::telemetry::nullable_f64(s.soc_pct))
            .bind(crate::telemetry::nullable_f64(s.temperature_c))
            .bind(received);
    }
    q
}

/// `prefix ($1, …, $7), (…), … suffix` for `rows` rows of 7 values, the
/// nullable floats (4th to 6th) cast from text (see telemetry.rs).
fn values_sql(prefix: &str, rows: usize, suffix: &str) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * 96 + suffix.len());
    sql.push_str(prefix);
    for r in 0..rows {
        let b = r * 7;
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, CAST(${} AS DOUBLE PRECISION), CAST(${} AS DOUBLE PRECISION), CAST(${} AS DOUBLE PRECISION), ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7
        ));
    }
    sql.push_str(suffix);
    sql
}

/// The site segment of a building name (same rule as the device protocol).
pub fn site_slug(building: Option<&str>) -> String {
    let mut out = String::new();
    for c in building.unwrap_or_default().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "default".into() } else { out }
}
