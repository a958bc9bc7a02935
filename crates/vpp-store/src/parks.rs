//! Industrial parks: tariffs and their versions, holiday calendars, sites,
//! adjustable loads, the bills utilities sent, and the VPP configuration.
//!
//! A site's load curve is not here: it is the `meter_final` beliefs of the
//! site's power series (owner kind `site`).

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::Invalid;
use vpp_domain::settings::{SETTINGS, Setting, SettingDef, Settings};
use vpp_domain::tariff::bill::ActualBill;
use vpp_domain::tariff::flex::{AdjustableLoad, AdjustableLoadRequest};
use vpp_domain::tariff::tou::{HolidayCalendar, Tariff, TariffRequest, TariffTerms, TariffVersion};
use vpp_domain::tariff::{Site, SiteRequest};

use crate::{Result, Store, StoreError, from_json, from_micros, new_id, to_json, to_micros, unique};

fn site_from_row(row: &AnyRow) -> Result<Site> {
    Ok(Site {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        tariff_id: row.try_get("tariff_id")?,
        transformer_kva: row.try_get("transformer_kva")?,
        battery_resource_id: row.try_get("battery_resource_id")?,
        description: row.try_get("description")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

const SITE_COLUMNS: &str = "id, name, tariff_id, transformer_kva, battery_resource_id, description, created_at";

impl Store {
    /// Stores a new tariff with its first version.
    pub async fn create_tariff(&self, request: &TariffRequest, by: &str) -> Result<Tariff> {
        let id = new_id();
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        sqlx::query("INSERT INTO tariffs (id, name, region, time_zone, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.clone())
            .bind(request.name.trim().to_string())
            .bind(request.region.clone())
            .bind(request.time_zone.clone())
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .map_err(unique("tariff", "name", &request.name))?;
        insert_version(&mut w.tx, &id, 1, &request.terms, by, now).await?;
        w.tx.commit().await?;
        self.get_tariff(&id).await
    }

    /// Adds a version that takes over from its effective date, which must
    /// follow the newest version's.
    pub async fn add_tariff_version(&self, id: &str, terms: &TariffTerms, by: &str) -> Result<Tariff> {
        let mut w = self.begin_write().await?;
        let row =
            sqlx::query("SELECT MAX(version) AS v, MAX(effective_from) AS f FROM tariff_versions WHERE tariff_id = $1")
                .bind(id.to_string())
                .fetch_one(&mut *w.tx)
                .await?;
        let (Some(version), Some(from)) = (row.try_get::<Option<i64>, _>("v")?, row.try_get::<Option<String>, _>("f")?)
        else {
            return Err(StoreError::NotFound { entity: "tariff", id: id.into() });
        };
        if terms.effective_from.to_string() <= from {
            return Err(StoreError::Conflict {
                field: Some("effective_from".into()),
                message: format!(
                    "a new version must take effect after the newest one ({from}); got {}",
                    terms.effective_from
                ),
            });
        }
        insert_version(&mut w.tx, id, version + 1, terms, by, to_micros(crate::now())).await?;
        w.tx.commit().await?;
        self.get_tariff(id).await
    }

    /// A tariff with every version.
    pub async fn get_tariff(&self, id: &str) -> Result<Tariff> {
        let row = sqlx::query("SELECT id, name, region, time_zone FROM tariffs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "tariff", id: id.into() })?;
        let versions =
            sqlx::query("SELECT version, terms, created_at FROM tariff_versions WHERE tariff_id = $1 ORDER BY version")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(TariffVersion {
                        version: r.try_get("version")?,
                        terms: from_json(r, "terms")?,
                        created_at: from_micros(r.try_get("created_at")?)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        Ok(Tariff {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            region: row.try_get("region")?,
            time_zone: row.try_get("time_zone")?,
            versions,
        })
    }

    /// Every tariff, by name.
    pub async fn list_tariffs(&self) -> Result<Vec<Tariff>> {
        let ids: Vec<String> = sqlx::query("SELECT id FROM tariffs ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get_tariff(&id).await?);
        }
        Ok(out)
    }

    /// Replaces a region's holiday calendar.
    pub async fn put_calendar(&self, region: &str, calendar: &HolidayCalendar, by: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM holiday_calendars WHERE region = $1")
            .bind(region.to_string())
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("INSERT INTO holiday_calendars (region, document, updated_at, updated_by) VALUES ($1, $2, $3, $4)")
            .bind(region.to_string())
            .bind(to_json(calendar))
            .bind(to_micros(crate::now()))
            .bind(by.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// A region's holiday calendar (empty: weekends only).
    pub async fn calendar(&self, region: &str) -> Result<HolidayCalendar> {
        let row = sqlx::query("SELECT document FROM holiday_calendars WHERE region = $1")
            .bind(region.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_json(&r, "document")).transpose().map(Option::unwrap_or_default)
    }

    /// Registers a site; its tariff and battery must exist.
    pub async fn create_site(&self, request: &SiteRequest) -> Result<Site> {
        request.validate()?;
        self.check_site_refs(&request.tariff_id, request.battery_resource_id.as_deref()).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO sites (id, name, tariff_id, transformer_kva, battery_resource_id, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(request.name.trim().to_string())
        .bind(request.tariff_id.clone())
        .bind(request.transformer_kva)
        .bind(request.battery_resource_id.clone())
        .bind(request.description.clone())
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await
        .map_err(unique("site", "name", &request.name))?;
        self.get_site(&id).await
    }

    /// Changes a site.
    pub async fn update_site(&self, id: &str, request: &SiteRequest) -> Result<Site> {
        request.validate()?;
        self.get_site(id).await?;
        self.check_site_refs(&request.tariff_id, request.battery_resource_id.as_deref()).await?;
        sqlx::query(
            "UPDATE sites SET name = $2, tariff_id = $3, transformer_kva = $4, battery_resource_id = $5, \
             description = $6 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(request.name.trim().to_string())
        .bind(request.tariff_id.clone())
        .bind(request.transformer_kva)
        .bind(request.battery_resource_id.clone())
        .bind(request.description.clone())
        .execute(&self.pool)
        .await
        .map_err(unique("site", "name", &request.name))?;
        self.get_site(id).await
    }

    async fn check_site_refs(&self, tariff_id: &str, battery: Option<&str>) -> Result<()> {
        let mut problems = Vec::new();
        if let Err(StoreError::NotFound { .. }) = self.get_tariff(tariff_id).await {
            problems.push(vpp_domain::FieldError::new("tariff_id", format!("no tariff `{tariff_id}`")));
        }
        if let Some(b) = battery {
            match self.get_resource(b).await {
                Ok(r) if r.resource_type == vpp_domain::template::ResourceType::Battery => {}
                Ok(r) => problems.push(vpp_domain::FieldError::new(
                    "battery_resource_id",
                    format!("`{b}` is a {}, not a battery", r.resource_type.as_str()),
                )),
                Err(StoreError::NotFound { .. }) => {
                    problems.push(vpp_domain::FieldError::new("battery_resource_id", format!("no resource `{b}`")))
                }
                Err(e) => return Err(e),
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(Invalid(problems).into()) }
    }

    /// A site.
    pub async fn get_site(&self, id: &str) -> Result<Site> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "site", id: id.into() })?;
        site_from_row(&row)
    }

    /// A site by id or name.
    pub async fn find_site(&self, id_or_name: &str) -> Result<Site> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1 OR name = $1")))
                .bind(id_or_name.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound { entity: "site", id: id_or_name.into() })?;
        site_from_row(&row)
    }

    /// Every site, by name.
    pub async fn list_sites(&self) -> Result<Vec<Site>> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY name")))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(site_from_row)
            .collect()
    }

    /// Registers an adjustable load; its site and resource must exist.
    pub async fn create_adjustable_load(&self, request: &AdjustableLoadRequest) -> Result<AdjustableLoad> {
        request.validate()?;
        let mut problems = Vec::new();
        if let Err(StoreError::NotFound { .. }) = self.get_site(&request.site_id).await {
            problems.push(vpp_domain::FieldError::new("site_id", format!("no site `{}`", request.site_id)));
        }
        if let Some(r) = &request.resource_id
            && let Err(StoreError::NotFound { .. }) = self.get_resource(r).await
        {
            problems.push(vpp_domain::FieldError::new("resource_id", format!("no resource `{r}`")));
        }
        if !problems.is_empty() {
            return Err(Invalid(problems).into());
        }
        let load = AdjustableLoad {
            id: new_id(),
            site_id: request.site_id.clone(),
            name: request.name.trim().to_string(),
            rated_kw: request.rated_kw,
            adjustable_ratio: request.adjustable_ratio,
            response_time_min: request.response_time_min,
            cost_per_adjustment: request.cost_per_adjustment,
            max_duration_min: request.max_duration_min,
            shiftable: request.shiftable,
            resource_id: request.resource_id.clone(),
            created_at: crate::at_storage_precision(crate::now()),
        };
        sqlx::query(
            "INSERT INTO adjustable_loads (id, site_id, name, resource_id, document, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(load.id.clone())
        .bind(load.site_id.clone())
        .bind(load.name.clone())
        .bind(load.resource_id.clone())
        .bind(to_json(&load))
        .bind(to_micros(load.created_at))
        .execute(&self.pool)
        .await
        .map_err(unique("adjustable load", "name", &load.name))?;
        Ok(load)
    }

    /// Adjustable loads, of one site or all, by name.
    pub async fn list_adjustable_loads(&self, site_id: Option<&str>) -> Result<Vec<AdjustableLoad>> {
        let rows = match site_id {
            Some(s) => {
                sqlx::query("SELECT document FROM adjustable_loads WHERE site_id = $1 ORDER BY name, id")
                    .bind(s.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT document FROM adjustable_loads ORDER BY site_id, name, id")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(|r| from_json(r, "document")).collect()
    }

    /// Removes an adjustable load; returns it.
    pub async fn delete_adjustable_load(&self, id: &str) -> Result<AdjustableLoad> {
        let row = sqlx::query("SELECT document FROM adjustable_loads WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "adjustable load", id: id.into() })?;
        let load = from_json(&row, "document")?;
        sqlx::query("DELETE FROM adjustable_loads WHERE id = $1").bind(id.to_string()).execute(&self.pool).await?;
        Ok(load)
    }

    /// Stores actual bills, all or none: every site must exist, and a month
    /// already imported for a site is refused unless `replace`.
    pub async fn import_actual_bills(&self, bills: &[ActualBill], replace: bool, by: &str) -> Result<usize> {
        let mut problems = Vec::new();
        for (i, b) in bills.iter().enumerate() {
            if let Err(StoreError::NotFound { .. }) = self.get_site(&b.site_id).await {
                problems.push(vpp_domain::FieldError::new(
                    format!("bills[{i}].site_id"),
                    format!("no site `{}`", b.site_id),
                ));
            }
            if bills[..i].iter().any(|o| o.site_id == b.site_id && o.month == b.month) {
                problems.push(vpp_domain::FieldError::new(
                    format!("bills[{i}]"),
                    format!("{} {} is in the file twice", b.site_id, b.month),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Invalid(problems).into());
        }
        let mut w = self.begin_write().await?;
        let now = to_micros(crate::now());
        for b in bills {
            let exists = sqlx::query("SELECT 1 AS one FROM actual_bills WHERE site_id = $1 AND month = $2")
                .bind(b.site_id.clone())
                .bind(b.month.clone())
                .fetch_optional(&mut *w.tx)
                .await?
                .is_some();
            if exists && !replace {
                return Err(StoreError::Conflict {
                    field: Some("month".into()),
                    message: format!(
                        "a bill of {} for site {} is already stored; import with replace=true to overwrite it",
                        b.month, b.site_id
                    ),
                });
            }
            sqlx::query("DELETE FROM actual_bills WHERE site_id = $1 AND month = $2")
                .bind(b.site_id.clone())
                .bind(b.month.clone())
                .execute(&mut *w.tx)
                .await?;
            sqlx::query(
                "INSERT INTO actual_bills (site_id, month, document, imported_at, imported_by) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(b.site_id.clone())
            .bind(b.month.clone())
            .bind(to_json(b))
            .bind(now)
            .bind(by.to_string())
            .execute(&mut *w.tx)
            .await?;
        }
        w.tx.commit().await?;
        Ok(bills.len())
    }

    /// The bill a utility sent for a site and month.
    pub async fn actual_bill(&self, site_id: &str, month: &str) -> Result<Option<ActualBill>> {
        let row = sqlx::query("SELECT document FROM actual_bills WHERE site_id = $1 AND month = $2")
            .bind(site_id.to_string())
            .bind(month.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_json(&r, "document")).transpose()
    }

    /// Every setting, stored or default.
    pub async fn list_settings(&self) -> Result<Vec<Setting>> {
        let rows = sqlx::query("SELECT key, value, unit, description, updated_at, updated_by FROM vpp_settings")
            .fetch_all(&self.pool)
            .await?;
        SETTINGS
            .iter()
            .map(|d| match rows.iter().find(|r| r.try_get::<String, _>("key").ok().as_deref() == Some(d.key)) {
                Some(r) => Ok(Setting {
                    key: d.key.into(),
                    value: r.try_get("value")?,
                    unit: r.try_get("unit")?,
                    description: r.try_get("description")?,
                    min: d.min,
                    max: d.max,
                    is_default: false,
                    updated_at: Some(from_micros(r.try_get("updated_at")?)?),
                    updated_by: Some(r.try_get("updated_by")?),
                }),
                None => Ok(default_setting(d)),
            })
            .collect()
    }

    /// Values by key, for calculations.
    pub async fn settings(&self) -> Result<Settings> {
        let rows = sqlx::query("SELECT key, value, unit FROM vpp_settings").fetch_all(&self.pool).await?;
        let mut out = Settings::default();
        for r in rows {
            out.0.insert(r.try_get("key")?, (r.try_get("value")?, r.try_get("unit")?));
        }
        Ok(out)
    }

    /// Stores a checked setting; returns it.
    pub async fn put_setting(
        &self,
        def: &SettingDef,
        value: f64,
        unit: &str,
        description: Option<&str>,
        by: &str,
    ) -> Result<Setting> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM vpp_settings WHERE key = $1").bind(def.key.to_string()).execute(&mut *w.tx).await?;
        sqlx::query(
            "INSERT INTO vpp_settings (key, value, unit, description, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(def.key.to_string())
        .bind(value)
        .bind(unit.trim().to_string())
        .bind(description.unwrap_or(def.description).to_string())
        .bind(to_micros(crate::now()))
        .bind(by.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        self.list_settings()
            .await?
            .into_iter()
            .find(|s| s.key == def.key)
            .ok_or_else(|| StoreError::Corrupt("setting vanished".into()))
    }
}

fn default_setting(d: &SettingDef) -> Setting {
    Setting {
        key: d.key.into(),
        value: d.default,
        unit: d.unit.replace("{cur}", "CNY"),
        description: d.description.into(),
        min: d.min,
        max: d.max,
        is_default: true,
        updated_at: None::<Timestamp>,
        updated_by: None,
    }
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    version: i64,
    terms: &TariffTerms,
    by: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tariff_versions (tariff_id, version, effective_from, terms, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(version)
    .bind(terms.effective_from.to_string())
    .bind(to_json(terms))
    .bind(now)
    .bind(by.to_string())
    .execute(&mut **tx)
    .await
    .map_err(unique("tariff version", "effective_from", &terms.effective_from.to_string()))?;
    Ok(())
}
