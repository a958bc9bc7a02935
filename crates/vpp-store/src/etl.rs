//! Forecast ETL against the database: stream the stored resource power
//! forecasts out, and write the per-asset and portfolio results into two
//! tables the caller names.

use futures_util::TryStreamExt;
use sqlx::Row;
use vpp_domain::Invalid;
use vpp_domain::forecast_etl::{AssetForecast, AssetIds, ForecastChunk, PortfolioPoint};
use vpp_domain::series::SourceKind;

use crate::series::source_code;
use crate::{Result, Store, StoreError, now, to_micros};

/// Tables of the product itself (and of the databases' catalogs); an ETL
/// run must not write into them. Kept in step with the migrations by a test.
pub const OWN_TABLES: [&str; 57] = [
    "cluster_nodes",
    "leases",
    "import_jobs",
    "ingestion_sources",
    "ingestion_runs",
    "belief_batches",
    "meta",
    "resource_templates",
    "resources",
    "resource_status_history",
    "telemetry",
    "resource_latest_telemetry",
    "vpps",
    "vpp_members",
    "dispatches",
    "dispatch_instructions",
    "technical_data_imports",
    "resource_changes",
    "users",
    "refresh_tokens",
    "revoked_sessions",
    "login_failures",
    "api_keys",
    "audit_log",
    "series",
    "beliefs",
    "execution_deviations",
    "_sqlx_migrations",
    "sqlite_sequence",
    "setpoint_deliveries",
    "device_links",
    "ocpp_stations",
    "charging_sessions",
    "alerts",
    "market_connectors",
    "bids",
    "bid_steps",
    "trades",
    "risk_limits",
    "trading_controls",
    "market_clearings",
    "settlement_records",
    "contracts",
    "tariffs",
    "tariff_versions",
    "holiday_calendars",
    "sites",
    "adjustable_loads",
    "actual_bills",
    "vpp_settings",
    "strategies",
    "strategy_versions",
    "strategy_status_history",
    "backtests",
    "strategy_decisions",
    "ai_models",
    "ai_model_versions",
];

/// Which view a result row holds, stored in the `view` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtlView {
    /// Newest version.
    Latest,
    /// Newest version at or before gate closure.
    Tradeable,
}

impl EtlView {
    fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Tradeable => "tradeable",
        }
    }
}

/// Checks that `name` is a plain SQL identifier and not one of the
/// product's own tables; `field` names the option it came from.
pub fn check_table_name(field: &str, name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(Invalid::one(field, format!("`{name}` is not a plain table name (letters, digits, _)")).into());
    }
    let lower = name.to_ascii_lowercase();
    if OWN_TABLES.contains(&lower.as_str()) || lower.starts_with("sqlite_") || lower.starts_with("pg_") {
        return Err(Invalid::one(field, format!("`{name}` is a table of vpp itself; choose another name")).into());
    }
    Ok(())
}

impl Store {
    /// Streams the stored forecasts of resource power series with delivery
    /// start in the window (all if `None`) as chunks of up to `chunk_rows`
    /// rows. The asset id is the resource's external id, else its id.
    pub async fn stream_resource_forecasts(
        &self,
        window: Option<(i64, i64)>,
        chunk_rows: usize,
        assets: &mut AssetIds,
        mut on_chunk: impl FnMut(&ForecastChunk),
    ) -> Result<()> {
        let (from, to) = window.unwrap_or((i64::MIN, i64::MAX));
        let mut rows = sqlx::query(concat!(
            "SELECT COALESCE(r.external_id, r.id) AS asset_id, b.event_start, b.belief_time, b.value \
             FROM series s JOIN resources r ON r.id = s.owner_id \
             JOIN beliefs b ON b.series_key = s.key AND b.source = $1 AND b.event_start >= $2 AND b.event_start < $3 \
             WHERE s.owner_kind = 'resource' AND s.quantity = 'power'",
            crate::series::visible!("b"),
            "ORDER BY s.key",
        ))
        .bind(source_code(SourceKind::Forecast))
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        let mut chunk = ForecastChunk::with_capacity(chunk_rows.min(1 << 20));
        let mut last: Option<(String, u32)> = None;
        while let Some(row) = rows.try_next().await? {
            let asset_id: String = row.try_get("asset_id")?;
            let asset = match &last {
                Some((name, n)) if *name == asset_id => *n,
                _ => {
                    let n = assets.intern(&asset_id);
                    last = Some((asset_id, n));
                    n
                }
            };
            chunk.push(asset, row.try_get("event_start")?, row.try_get("belief_time")?, row.try_get("value")?);
            if chunk.len() >= chunk_rows {
                on_chunk(&chunk);
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            on_chunk(&chunk);
        }
        Ok(())
    }

    /// Writes one view's results into the per-asset table and/or the
    /// portfolio table (each created if missing) in one transaction,
    /// replacing that view's rows for the intervals covered (`cover`, else
    /// those of the rows). Returns (asset rows, portfolio rows) written.
    pub async fn write_forecast_tables(
        &self,
        view: EtlView,
        cover: Option<(i64, i64)>,
        names: &AssetIds,
        assets: Option<(&str, &[AssetForecast])>,
        portfolio: Option<(&str, &[PortfolioPoint])>,
    ) -> Result<(u64, u64)> {
        if let Some((table, _)) = assets {
            check_table_name("asset_forecasts_table", table)?;
        }
        if let Some((table, _)) = portfolio {
            check_table_name("portfolio_forecast_table", table)?;
        }
        if let (Some((a, _)), Some((p, _))) = (assets, portfolio)
            && a.eq_ignore_ascii_case(p)
        {
            return Err(Invalid::one("portfolio_forecast_table", "must differ from the asset forecasts table").into());
        }
        let starts = assets
            .map(|(_, rows)| rows.iter().map(|r| r.delivery_start_us).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(
                portfolio
                    .map(|(_, rows)| rows.iter().map(|p| p.delivery_start_us).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        let cover = cover.or_else(|| {
            let (lo, hi) = starts.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
            (lo <= hi).then_some((lo, hi + 1))
        });
        let computed_at = to_micros(now());
        let mut w = self.begin_write().await?;
        const ASSET_COLUMNS: &str = "asset_id, delivery_start, view, version, power_kw, computed_at";
        const PORTFOLIO_COLUMNS: &str = "delivery_start, view, power_kw, assets, computed_at";
        let mut tables = Vec::new();
        // The names passed check_table_name: only letters, digits and _.
        if let Some((table, _)) = assets {
            tables.push((
                table,
                "asset_forecasts_table",
                ASSET_COLUMNS,
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (asset_id TEXT NOT NULL, delivery_start BIGINT NOT NULL, \
                     view TEXT NOT NULL, version BIGINT NOT NULL, power_kw DOUBLE PRECISION NOT NULL, \
                     computed_at BIGINT NOT NULL, PRIMARY KEY (view, delivery_start, asset_id))"
                ),
            ));
        }
        if let Some((table, _)) = portfolio {
            tables.push((
                table,
                "portfolio_forecast_table",
                PORTFOLIO_COLUMNS,
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (delivery_start BIGINT NOT NULL, view TEXT NOT NULL, \
                     power_kw DOUBLE PRECISION NOT NULL, assets BIGINT NOT NULL, computed_at BIGINT NOT NULL, \
                     PRIMARY KEY (view, delivery_start))"
                ),
            ));
        }
        for (table, field, columns, ddl) in tables {
            sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&mut *w.tx).await?;
            let probe = format!("SELECT {columns} FROM {table} WHERE 1 = 0");
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(probe)).execute(&mut *w.tx).await {
                return Err(StoreError::Invalid(Invalid::one(
                    field,
                    format!("table `{table}` exists without the columns ({columns}): {e}"),
                )));
            }
            if let Some((from, to)) = cover {
                let sql =
                    format!("DELETE FROM {table} WHERE view = $1 AND delivery_start >= $2 AND delivery_start < $3");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(view.as_str())
                    .bind(from)
                    .bind(to)
                    .execute(&mut *w.tx)
                    .await?;
            }
        }
        const ROWS: usize = 25;
        let mut written = (0, 0);
        if let Some((table, rows)) = assets {
            for chunk in rows.chunks(ROWS) {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(multi_row_insert(table, ASSET_COLUMNS, 6, chunk.len())));
                for r in chunk {
                    q = q
                        .bind(names.name(r.asset).to_string())
                        .bind(r.delivery_start_us)
                        .bind(view.as_str())
                        .bind(r.version_us)
                        .bind(r.power_kw)
                        .bind(computed_at);
                }
                written.0 += q.execute(&mut *w.tx).await?.rows_affected();
            }
        }
        if let Some((table, rows)) = portfolio {
            for chunk in rows.chunks(ROWS) {
                let mut q =
                    sqlx::query(sqlx::AssertSqlSafe(multi_row_insert(table, PORTFOLIO_COLUMNS, 5, chunk.len())));
                for p in chunk {
                    q = q
                        .bind(p.delivery_start_us)
                        .bind(view.as_str())
                        .bind(p.power_kw)
                        .bind(i64::from(p.assets))
                        .bind(computed_at);
                }
                written.1 += q.execute(&mut *w.tx).await?.rows_affected();
            }
        }
        w.tx.commit().await?;
        Ok(written)
    }

    /// Rows of an ETL result table, for checks and tests: `(asset_id,
    /// delivery_start, version, power_kw)` of one view, sorted.
    pub async fn read_asset_forecast_table(&self, table: &str, view: EtlView) -> Result<Vec<(String, i64, i64, f64)>> {
        check_table_name("asset_forecasts_table", table)?;
        let sql = format!(
            "SELECT asset_id, delivery_start, version, power_kw FROM {table} WHERE view = $1 \
             ORDER BY asset_id, delivery_start"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(view.as_str()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("asset_id")?,
                    r.try_get("delivery_start")?,
                    r.try_get("version")?,
                    r.try_get("power_kw")?,
                ))
            })
            .collect()
    }

    /// Rows of a portfolio result table: `(delivery_start, power_kw, assets)` of one view, sorted.
    pub async fn read_portfolio_table(&self, table: &str, view: EtlView) -> Result<Vec<(i64, f64, i64)>> {
        check_table_name("portfolio_forecast_table", table)?;
        let sql =
            format!("SELECT delivery_start, power_kw, assets FROM {table} WHERE view = $1 ORDER BY delivery_start");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(view.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("delivery_start")?, r.try_get("power_kw")?, r.try_get("assets")?))).collect()
    }
}

/// `INSERT INTO table (columns) VALUES ($1,…),(…)` for `rows` rows.
fn multi_row_insert(table: &str, columns: &str, width: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * width + c + 1));
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migrated_table_is_protected() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(dir).unwrap() {
            let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in sql.split("CREATE TABLE ").skip(1) {
                let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                assert!(OWN_TABLES.contains(&name.as_str()), "{name} missing from OWN_TABLES");
                assert!(check_table_name("t", &name).is_err());
            }
        }
        assert!(check_table_name("t", "asset_forecasts").is_ok());
        assert!(check_table_name("t", "x; DROP TABLE beliefs").is_err());
        assert!(check_table_name("t", "sqlite_schema").is_err());
    }
}
