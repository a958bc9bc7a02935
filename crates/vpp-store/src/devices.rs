//! What the device bridge needs: telemetry of many devices written at once,
//! the resources that fell silent, and the setpoints on their way out.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
pub use vpp_domain::execution::{Delivery, DeliveryState};
use vpp_domain::resource::{ResourceStatus, Telemetry};
use vpp_domain::status_reason::StatusReason;

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// Rows per INSERT statement. Rows travel as one JSON array per statement,
/// unpacked by the database (`jsonb_each` / `jsonb_array_elements`): sqlx's
/// cost grows with the parameters of a statement and each statement is a
/// round trip to SQLite's worker thread, so binding seven values per row,
/// 25 rows per statement, capped the bridge. A 5,000-sample batch with its
/// live measurements took 105 ms that way and 53 ms packed
/// (`cargo bench -p vpp-store --bench telemetry`).
const JSON_ROWS_PER_STATEMENT: usize = 5_000;

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

/// A device's power at one time, as a live measurement of its power series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveMeasurement {
    /// Key of the power series.
    pub series_key: i64,
    /// Sample time, µs since the epoch (event start and belief time).
    pub at_us: i64,
    /// Power, kW.
    pub value: f64,
}

/// `SELECT <delivery columns> FROM setpoint_deliveries <rest>`, as one static string.
macro_rules! select_deliveries {
    ($rest:literal) => {
        concat!(
            "SELECT instruction_id, resource_id, channel, topic, payload, state, attempts, next_attempt_at, sent_at, ",
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
        channel: r.try_get("channel")?,
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

    /// Stores samples of many resources (the device bridge's batches; the
    /// samples are already checked) and their power as live measurements of
    /// the resources' power series. A sample already stored is skipped.
    /// Returns how many samples were new.
    pub async fn ingest_telemetry(&self, samples: &[(String, Telemetry)], live: &[LiveMeasurement]) -> Result<usize> {
        if samples.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(&str, &Telemetry)> = samples.iter().map(|(id, s)| (id.as_str(), s)).collect();
        let mut w = self.begin_write().await?;
        let inserted = insert_samples(&mut w, &rows, to_micros(crate::now())).await?;
        insert_live(&mut w, live).await?;
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
        reason: StatusReason,
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

    /// Setpoints of one channel (`mqtt`, `modbus_tcp`) due for publishing
    /// or for giving up: pending or sent, with their next attempt at or
    /// before `now`.
    pub async fn due_setpoints(&self, channel: &str, now: Timestamp, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(select_deliveries!(
            "WHERE channel = $3 AND state IN ('pending', 'sent') AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2"
        ))
        .bind(to_micros(now))
        .bind(limit)
        .bind(channel.to_string())
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
        // One statement for the whole wave, the ids as one JSON array.
        let ids = serde_json::to_string(instruction_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = match w.backend {
            crate::Backend::Sqlite => {
                "UPDATE setpoint_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = $2, next_attempt_at = $3 \
                 WHERE instruction_id IN (SELECT value FROM json_each($1)) AND state IN ('pending', 'sent')"
            }
            crate::Backend::Postgres => {
                "UPDATE setpoint_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = $2, next_attempt_at = $3 \
                 WHERE instruction_id IN (SELECT jsonb_array_elements_text(CAST($1 AS JSONB))) AND state IN ('pending', 'sent')"
            }
        };
        sqlx::query(sql).bind(ids).bind(now).bind(to_micros(answer_by)).execute(&mut *w.tx).await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Holds a setpoint still waiting back until `at` (a device link writes
    /// its registers when the instruction starts, not when it was saved, and
    /// waits for a device that is away).
    pub async fn postpone_setpoint(&self, instruction_id: &str, at: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE setpoint_deliveries SET next_attempt_at = $2 WHERE instruction_id = $1 AND state IN ('pending', 'sent')",
        )
        .bind(instruction_id.to_string())
        .bind(to_micros(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Makes every setpoint of a channel still waiting for an answer due now
    /// (after a reconnect, so none waits out its timeout for nothing).
    pub async fn resend_unanswered_setpoints(&self, channel: &str) -> Result<u64> {
        let done =
            sqlx::query("UPDATE setpoint_deliveries SET next_attempt_at = $1 WHERE state = 'sent' AND channel = $2")
                .bind(to_micros(crate::now()))
                .bind(channel.to_string())
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
/// (ignores one already queued): to its OCPP station or the adapter of its
/// enabled device link if `links` run, else to MQTT if its `outbox` is set,
/// else not at all.
pub(crate) async fn queue_in(
    w: &mut crate::WriteTx<'_>,
    outbox: Option<&crate::SetpointOutbox>,
    links: bool,
    instructions: &[crate::InstructionRecord],
) -> Result<()> {
    let now = to_micros(crate::now());
    for i in instructions {
        let row = sqlx::query(
            "SELECT r.building, l.protocol, l.spec, o.station_id FROM resources r \
             LEFT JOIN device_links l ON l.resource_id = r.id AND l.enabled = 1 \
             LEFT JOIN ocpp_stations o ON o.resource_id = r.id WHERE r.id = $1",
        )
        .bind(i.resource_id.clone())
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound { entity: "resource", id: i.resource_id.clone() });
        };
        let building: Option<String> = row.try_get("building")?;
        let link: Option<String> = row.try_get("protocol")?;
        let station: Option<String> = row.try_get("station_id")?;
        let (channel, topic) = match (link, outbox) {
            // A registered OCPP station gets its charging profiles over its own connection.
            _ if links && station.is_some() => ("ocpp".to_string(), format!("ocpp://{}", station.unwrap_or_default())),
            (Some(protocol), _) if links => {
                let spec: String = row.try_get("spec")?;
                let spec: vpp_domain::device_link::DeviceLinkSpec =
                    serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("device link: {e}")))?;
                (protocol, spec.address())
            }
            (_, Some(o)) => {
                ("mqtt".to_string(), (o.topic)(&o.topic_prefix, &site_slug(building.as_deref()), &i.resource_id))
            }
            _ => continue,
        };
        sqlx::query(
            "INSERT INTO setpoint_deliveries (instruction_id, resource_id, channel, topic, payload, state, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $6, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (instruction_id) DO NOTHING",
        )
        .bind(i.id.clone())
        .bind(i.resource_id.clone())
        .bind(topic)
        .bind(crate::telemetry::setpoint_payload(i))
        .bind(now)
        .bind(channel)
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
    let mut newest: std::collections::HashMap<&str, &Telemetry> = std::collections::HashMap::new();
    for (id, s) in samples {
        let e = newest.entry(id).or_insert(s);
        if s.ts > e.ts {
            *e = s;
        }
    }
    let newest: Vec<(&str, &Telemetry)> = newest.into_iter().collect();
    let mut inserted = 0;
    for (table, rows) in [(&TELEMETRY, samples), (&LATEST_TELEMETRY, &newest[..])] {
        let (packed, single): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, s)| {
            w.backend == crate::Backend::Postgres
                || [Some(s.power_kw), s.energy_kwh, s.soc_pct, s.temperature_c].into_iter().flatten().all(json_exact)
        });
        let mut n = 0;
        for chunk in packed.chunks(JSON_ROWS_PER_STATEMENT) {
            let sql = format!("{}{}{}", table.insert, json_rows(w.backend, 6), table.conflict);
            n += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(sample_json(chunk))
                .bind(received)
                .execute(&mut *w.tx)
                .await?
                .rows_affected() as usize;
        }
        for (id, s) in single {
            let sql = format!("{}SELECT $1, $2, $3, $4, $5, $6, $7 WHERE true{}", table.insert, table.conflict);
            n += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.to_string())
                .bind(to_micros(s.ts))
                .bind(s.power_kw)
                .bind(s.energy_kwh)
                .bind(s.soc_pct)
                .bind(s.temperature_c)
                .bind(received)
                .execute(&mut *w.tx)
                .await?
                .rows_affected() as usize;
        }
        if std::ptr::eq(table, &TELEMETRY) {
            inserted = n;
        }
    }
    Ok(inserted)
}

/// An INSERT of telemetry columns and what it does on a conflict.
struct Upsert {
    insert: &'static str,
    conflict: &'static str,
}

const TELEMETRY: Upsert = Upsert {
    insert: "INSERT INTO telemetry (resource_id, ts, power_kw, energy_kwh, soc_pct, temperature_c, received_at) ",
    conflict: " ON CONFLICT (resource_id, ts) DO NOTHING",
};

const LATEST_TELEMETRY: Upsert = Upsert {
    insert: "INSERT INTO resource_latest_telemetry (resource_id, ts, power_kw, energy_kwh, soc_pct, temperature_c, received_at) ",
    conflict: " ON CONFLICT (resource_id) DO UPDATE SET ts = excluded.ts, power_kw = excluded.power_kw, \
               energy_kwh = excluded.energy_kwh, soc_pct = excluded.soc_pct, temperature_c = excluded.temperature_c, \
               received_at = excluded.received_at WHERE excluded.ts > resource_latest_telemetry.ts",
};

/// `SELECT <columns>, $2 FROM <rows of the JSON array $1>`: the first
/// column text, the second an integer, the others nullable doubles.
/// (`WHERE true` lets SQLite parse the ON CONFLICT after it.)
fn json_rows(backend: crate::Backend, columns: usize) -> String {
    let mut sql = String::from("SELECT ");
    for c in 0..columns {
        let cell = match (backend, c) {
            (crate::Backend::Sqlite, _) => format!("r.value ->> {c}"),
            (crate::Backend::Postgres, 0) => "r ->> 0".to_string(),
            (crate::Backend::Postgres, 1) => "CAST(r ->> 1 AS BIGINT)".to_string(),
            (crate::Backend::Postgres, _) => format!("CAST(r ->> {c} AS DOUBLE PRECISION)"),
        };
        sql.push_str(&cell);
        sql.push_str(", ");
    }
    sql.push_str(match backend {
        crate::Backend::Sqlite => "$2 FROM jsonb_each($1) AS r WHERE true",
        crate::Backend::Postgres => "$2 FROM jsonb_array_elements(CAST($1 AS JSONB)) AS r",
    });
    sql
}

/// Whether SQLite reads `x` back from its shortest decimal text exactly.
/// It does for zero and magnitudes from 1e-12 to 1e15 (test
/// `sqlite_reads_floats_back_exactly_in_the_packed_range`, 600,000 random
/// values) but not always near the ends of the double range; such rare
/// values are bound one row at a time instead. PostgreSQL always reads them
/// back exactly.
fn json_exact(x: f64) -> bool {
    x == 0.0 || (1e-12..=1e15).contains(&x.abs())
}

/// Stores power samples as live-measurement beliefs (event start = belief
/// time = sample time) of many series at once; one already stored is kept.
async fn insert_live(w: &mut crate::WriteTx<'_>, live: &[LiveMeasurement]) -> Result<()> {
    let source = crate::series::source_code(vpp_domain::series::SourceKind::LiveMeasurement);
    let insert = "INSERT INTO beliefs (series_key, source, event_start, belief_time, value) ";
    let (packed, single): (Vec<&LiveMeasurement>, Vec<_>) =
        live.iter().partition(|m| w.backend == crate::Backend::Postgres || json_exact(m.value));
    let select = match w.backend {
        crate::Backend::Sqlite => {
            "SELECT r.value ->> 0, $2, r.value ->> 1, r.value ->> 1, r.value ->> 2 FROM jsonb_each($1) AS r WHERE true"
        }
        crate::Backend::Postgres => {
            "SELECT CAST(r ->> 0 AS BIGINT), $2, CAST(r ->> 1 AS BIGINT), CAST(r ->> 1 AS BIGINT), \
             CAST(r ->> 2 AS DOUBLE PRECISION) FROM jsonb_array_elements(CAST($1 AS JSONB)) AS r"
        }
    };
    for chunk in packed.chunks(JSON_ROWS_PER_STATEMENT) {
        let rows: Vec<(i64, i64, f64)> = chunk.iter().map(|m| (m.series_key, m.at_us, m.value)).collect();
        // Integers and finite floats only: cannot fail.
        let json = serde_json::to_string(&rows).unwrap_or_default();
        let sql = format!("{insert}{select} ON CONFLICT DO NOTHING");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json).bind(source).execute(&mut *w.tx).await?;
    }
    for m in single {
        let sql = format!("{insert}VALUES ($1, $2, $3, $3, $4) ON CONFLICT DO NOTHING");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(m.series_key)
            .bind(source)
            .bind(m.at_us)
            .bind(m.value)
            .execute(&mut *w.tx)
            .await?;
    }
    Ok(())
}

/// Samples as one JSON array of `[resource_id, ts_us, power_kw, energy_kwh,
/// soc_pct, temperature_c]` rows, bound as a single parameter.
fn sample_json(rows: &[&(&str, &Telemetry)]) -> String {
    let rows: Vec<_> = rows
        .iter()
        .map(|(id, s)| (id, to_micros(s.ts), s.power_kw, s.energy_kwh, s.soc_pct, s.temperature_c))
        .collect();
    // Strings, integers and finite floats (checked on arrival): cannot fail.
    serde_json::to_string(&rows).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::json_exact;

    /// The range [`json_exact`] packs holds: 100,000 random values per decade
    /// band, each read back by SQLite from its JSON text bit for bit.
    #[tokio::test]
    async fn sqlite_reads_floats_back_exactly_in_the_packed_range() {
        let store = crate::Store::connect("sqlite::memory:").await.unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (lo, hi) in [(-12, -6), (-6, 0), (0, 4), (4, 8), (8, 15)] {
            let values: Vec<(f64,)> = (0..100_000)
                .map(|_| {
                    let (a, b) = (next(), next());
                    let exponent = lo as f64 + f64::from(hi - lo) * ((a >> 11) as f64 / (1u64 << 53) as f64);
                    let mantissa = 1.0 + (b >> 11) as f64 / (1u64 << 53) as f64 * 8.99;
                    let v = if b & 1 == 0 { 1.0 } else { -1.0 } * mantissa * 10f64.powf(exponent);
                    (v.clamp(-1e15, 1e15),)
                })
                .collect();
            assert!(values.iter().all(|v| json_exact(v.0)));
            let back: Vec<f64> = sqlx::query_scalar("SELECT r.value ->> 0 FROM jsonb_each($1) AS r")
                .bind(serde_json::to_string(&values).unwrap())
                .fetch_all(&store.pool)
                .await
                .unwrap();
            let differ = back.iter().zip(&values).filter(|(a, b)| a.to_bits() != b.0.to_bits()).count();
            assert_eq!(differ, 0, "1e{lo}..1e{hi}");
        }
        // Outside the range it does not always hold: such values are bound.
        assert!(!json_exact(1e-300) && !json_exact(5e-324) && !json_exact(1e300));
    }
}
