//! EV charging stations speaking OCPP 2.0.1: their credentials and the
//! charging sessions they report.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// A registered charging station.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OcppStation {
    /// The EV-charger resource.
    pub resource_id: String,
    /// Charging station id: the resource's external id, the last segment of
    /// `/ocpp/{station_id}` and the Basic-auth user name.
    pub station_id: String,
    /// The secret reference its password is read from when it connects
    /// (`env:NAME` or `file:/path`); absent when vpp keeps a hash.
    pub password_ref: Option<String>,
    /// When the password was last set (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// How a station's password is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum StationCredential {
    /// An argon2 hash of a password vpp generated.
    Hash(String),
    /// A secret reference (`env:NAME`, `file:/path`) read at each connection.
    Reference(String),
}

/// Which running session to find.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionOf<'a> {
    /// The station with this id.
    Station(&'a str),
    /// The EV-charger resource with this id.
    Resource(&'a str),
}

/// A charging session (an OCPP transaction).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChargingSession {
    /// Station.
    pub station_id: String,
    /// Transaction id the station gave it.
    pub transaction_id: String,
    /// The EV-charger resource.
    pub resource_id: String,
    /// EVSE.
    pub evse_id: Option<i64>,
    /// Who charged (the id token).
    pub id_token: Option<String>,
    /// Started (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// Ended (UTC), absent while charging.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// Energy charged so far, kWh (newest register minus the first seen).
    pub energy_kwh: Option<f64>,
    /// Energy the vehicle still needs, kWh: what it asked for
    /// (NotifyEVChargingNeeds) less what was charged since.
    pub energy_need_kwh: Option<f64>,
    /// When the driver said they leave (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub departure_at: Option<Timestamp>,
}

/// What a TransactionEvent changes.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent<'a> {
    /// Station.
    pub station_id: &'a str,
    /// Its resource.
    pub resource_id: &'a str,
    /// Transaction.
    pub transaction_id: &'a str,
    /// EVSE, if sent.
    pub evse_id: Option<i64>,
    /// Id token, if sent.
    pub id_token: Option<&'a str>,
    /// When.
    pub at: Timestamp,
    /// The energy register with the event, kWh.
    pub meter_kwh: Option<f64>,
    /// The transaction ended.
    pub ended: bool,
}

fn station_from_row(r: &sqlx::any::AnyRow) -> Result<OcppStation> {
    Ok(OcppStation {
        resource_id: r.try_get("resource_id")?,
        station_id: r.try_get("station_id")?,
        password_ref: r.try_get("password_ref")?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
    })
}

/// A query of charging sessions: their columns, then `$tail`.
macro_rules! select_sessions {
    ($tail:literal) => {
        concat!(
            "SELECT station_id, transaction_id, resource_id, evse_id, id_token, started_at, ended_at, \
             meter_start_kwh, meter_last_kwh, energy_need_kwh, need_meter_kwh, departure_at FROM charging_sessions ",
            $tail
        )
    };
}

fn session_from_row(r: &sqlx::any::AnyRow) -> Result<ChargingSession> {
    let start: Option<f64> = r.try_get("meter_start_kwh")?;
    let last: Option<f64> = r.try_get("meter_last_kwh")?;
    Ok(ChargingSession {
        station_id: r.try_get("station_id")?,
        transaction_id: r.try_get("transaction_id")?,
        resource_id: r.try_get("resource_id")?,
        evse_id: r.try_get("evse_id")?,
        id_token: r.try_get("id_token")?,
        started_at: from_micros(r.try_get("started_at")?)?,
        ended_at: r.try_get::<Option<i64>, _>("ended_at")?.map(from_micros).transpose()?,
        energy_kwh: start.zip(last).map(|(s, l)| l - s),
        energy_need_kwh: {
            let need: Option<f64> = r.try_get("energy_need_kwh")?;
            // Charged since the need was stated (from the first register
            // when none was known then).
            let at_need: Option<f64> = r.try_get("need_meter_kwh")?;
            let since = at_need.or(start).zip(last).map_or(0.0, |(a, l)| (l - a).max(0.0));
            need.map(|n| (n - since).max(0.0))
        },
        departure_at: r.try_get::<Option<i64>, _>("departure_at")?.map(from_micros).transpose()?,
    })
}

impl Store {
    /// Registers an EV charger as an OCPP station under its external id,
    /// with its credential (replacing any before).
    pub async fn put_ocpp_station(&self, resource_id: &str, credential: &StationCredential) -> Result<OcppStation> {
        let mut w = self.begin_write().await?;
        let r = crate::resources::get_resource_tx(&mut w, resource_id).await?;
        let station_id = r.external_id.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            StoreError::Invalid(vpp_domain::Invalid::one(
                "external_id",
                "an OCPP station's id is its resource's external id: set one first",
            ))
        })?;
        if r.resource_type != vpp_domain::template::ResourceType::EvCharger {
            return Err(StoreError::Invalid(vpp_domain::Invalid::one(
                "resource_type",
                format!("only an EV_CHARGER speaks OCPP, not {}", r.resource_type.as_str()),
            )));
        }
        let (hash, reference) = match credential {
            StationCredential::Hash(h) => (h.clone(), None),
            StationCredential::Reference(r) => {
                vpp_domain::secret::check_reference(r)
                    .map_err(|e| StoreError::Invalid(vpp_domain::Invalid::one("password_ref", e)))?;
                (String::new(), Some(r.clone()))
            }
        };
        let now = crate::now();
        sqlx::query(
            "INSERT INTO ocpp_stations (resource_id, station_id, password_hash, password_ref, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (resource_id) DO UPDATE SET station_id = excluded.station_id, \
             password_hash = excluded.password_hash, password_ref = excluded.password_ref, \
             updated_at = excluded.updated_at",
        )
        .bind(resource_id.to_string())
        .bind(station_id.clone())
        .bind(hash)
        .bind(reference.clone())
        .bind(to_micros(now))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(OcppStation { resource_id: resource_id.into(), station_id, password_ref: reference, updated_at: now })
    }

    /// A station by its id, with its credential.
    pub async fn ocpp_station(&self, station_id: &str) -> Result<Option<(OcppStation, StationCredential)>> {
        let row = sqlx::query(
            "SELECT resource_id, station_id, password_hash, password_ref, updated_at FROM ocpp_stations \
             WHERE station_id = $1",
        )
        .bind(station_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let reference: Option<String> = r.try_get("password_ref")?;
            let credential = match reference.clone() {
                Some(reference) => StationCredential::Reference(reference),
                None => StationCredential::Hash(r.try_get("password_hash")?),
            };
            Ok((station_from_row(&r)?, credential))
        })
        .transpose()
    }

    /// Every registered station, by station id.
    pub async fn ocpp_stations(&self) -> Result<Vec<OcppStation>> {
        let rows = sqlx::query(
            "SELECT resource_id, station_id, password_ref, updated_at FROM ocpp_stations ORDER BY station_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(station_from_row).collect()
    }

    /// Records what a vehicle on a station's EVSE needs
    /// (NotifyEVChargingNeeds) on the newest running session there (or on
    /// the station, if the session has no EVSE); false when none runs.
    pub async fn record_charging_needs(
        &self,
        station_id: &str,
        evse_id: i64,
        energy_kwh: Option<f64>,
        departure: Option<Timestamp>,
    ) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE charging_sessions SET energy_need_kwh = COALESCE($1, energy_need_kwh), \
             need_meter_kwh = CASE WHEN $1 IS NULL THEN need_meter_kwh \
             ELSE COALESCE(meter_last_kwh, meter_start_kwh) END, \
             departure_at = COALESCE($2, departure_at), updated_at = $3 \
             WHERE station_id = $4 AND transaction_id = (SELECT transaction_id FROM charging_sessions \
             WHERE station_id = $4 AND ended_at IS NULL AND (evse_id = $5 OR evse_id IS NULL) \
             ORDER BY started_at DESC LIMIT 1)",
        )
        .bind(energy_kwh)
        .bind(departure.map(to_micros))
        .bind(to_micros(crate::now()))
        .bind(station_id.to_string())
        .bind(evse_id)
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a TransactionEvent: a session starts on first sight, its
    /// energy register moves, and it ends.
    pub async fn record_session_event(&self, e: &SessionEvent<'_>) -> Result<()> {
        let mut w = self.begin_write().await?;
        let now = to_micros(crate::now());
        sqlx::query(
            "INSERT INTO charging_sessions (station_id, transaction_id, resource_id, evse_id, id_token, started_at, \
             ended_at, meter_start_kwh, meter_last_kwh, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
             ON CONFLICT (station_id, transaction_id) DO UPDATE SET \
             evse_id = COALESCE(excluded.evse_id, charging_sessions.evse_id), \
             id_token = COALESCE(excluded.id_token, charging_sessions.id_token), \
             ended_at = COALESCE(excluded.ended_at, charging_sessions.ended_at), \
             meter_start_kwh = COALESCE(charging_sessions.meter_start_kwh, excluded.meter_start_kwh), \
             meter_last_kwh = COALESCE(excluded.meter_last_kwh, charging_sessions.meter_last_kwh), \
             updated_at = excluded.updated_at",
        )
        .bind(e.station_id.to_string())
        .bind(e.transaction_id.to_string())
        .bind(e.resource_id.to_string())
        .bind(e.evse_id)
        .bind(e.id_token.map(str::to_string))
        .bind(to_micros(e.at))
        .bind(e.ended.then(|| to_micros(e.at)))
        .bind(e.meter_kwh)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// A resource's charging sessions, newest first (at most `limit`).
    pub async fn charging_sessions(&self, resource_id: &str, limit: i64) -> Result<Vec<ChargingSession>> {
        let rows = sqlx::query(select_sessions!("WHERE resource_id = $1 ORDER BY started_at DESC LIMIT $2"))
            .bind(resource_id.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// The running session of a station or charger, if any (its
    /// transaction, EVSE and the vehicle's needs).
    pub async fn running_session(&self, of: SessionOf<'_>) -> Result<Option<ChargingSession>> {
        let (sql, id) = match of {
            SessionOf::Station(id) => {
                (select_sessions!("WHERE station_id = $1 AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1"), id)
            }
            SessionOf::Resource(id) => {
                (select_sessions!("WHERE resource_id = $1 AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1"), id)
            }
        };
        let row = sqlx::query(sql).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(session_from_row).transpose()
    }
}
