//! Redispatch payout: when the DSO curtails an asset (its redispatch flag is
//! 1 in a quarter-hour), the energy the asset would have produced is paid to
//! its owner and claimed from the DSO. Per quarter-hour:
//!
//! ```text
//! volume MWh = (latest forecast − measured, at least 0) kW × allocation ratio × hours / 1000
//! payout     = volume MWh × the DSO's compensation price (EUR/MWh)
//! ```
//!
//! Where nothing was measured the whole forecast was lost.
//!
//! The compensation prices come from the DSO's compensation file, per asset
//! and quarter-hour (`import_compensation`), not from one fixed contract price.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind, View};
use vpp_domain::series_import::RowError;
use vpp_store::{BeliefQuery, Store};

use crate::error::{AppError, AppResult};
use crate::routing::Aliases;

/// What a compensation file stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CompensationImport {
    /// Rows in the file.
    pub rows: usize,
    /// Quarter-hour prices stored, per resource id.
    pub assets: BTreeMap<String, u64>,
}

/// The compensation price series of a resource, created if it has none.
async fn compensation_series(store: &Store, resource_id: &str) -> AppResult<i64> {
    let r = store.get_resource(resource_id).await?;
    let short: String = r.name.chars().take(100).collect();
    let name = format!("{short} redispatch compensation ({})", r.id);
    Ok(store.ensure_series(OwnerKind::Resource, &r.id, Quantity::Price, &name).await?.0)
}

/// Imports a DSO's compensation file (named `file_name`): each row's asset
/// is its asset column's, else the one the file name names. Times without
/// an offset are in `timezone` (default UTC). Nothing is stored if a row is refused.
pub async fn import_compensation(
    store: &Store,
    file_name: &str,
    body: &[u8],
    timezone: Option<&str>,
) -> AppResult<CompensationImport> {
    let tz = match timezone {
        Some(name) => jiff::tz::TimeZone::get(name)
            .map_err(|_| AppError::invalid("timezone", format!("unknown IANA time zone `{name}`")))?,
        None => jiff::tz::TimeZone::UTC,
    };
    let rows = vpp_domain::market::files::parse_compensation(body, &tz).map_err(AppError::RejectedFile)?;
    let aliases = Aliases::load(store).await?;
    let mut by_resource: BTreeMap<String, Vec<Belief>> = BTreeMap::new();
    // Which line gave each (resource, quarter-hour): a second one is refused.
    let mut seen: std::collections::HashMap<(String, i64), usize> = Default::default();
    let mut errors = Vec::new();
    let now = vpp_store::now().as_microsecond();
    let quarter = SignedDuration::from_mins(15);
    for r in &rows {
        let refuse = |errors: &mut Vec<RowError>, reason: String| errors.push(RowError { line: r.line, reason });
        if r.price.currency.as_deref().is_some_and(|c| c != "EUR") {
            refuse(
                &mut errors,
                format!("the price is in {}; compensation is paid in EUR", r.price.currency.as_deref().unwrap_or("")),
            );
            continue;
        }
        let resource = match &r.asset {
            Some(name) => aliases.resource(r.asset_column.as_deref().unwrap_or("asset"), name),
            None => aliases.resource_in_file_name(file_name),
        };
        let resource = match resource {
            Ok(id) => id,
            Err(e) => {
                refuse(&mut errors, e.to_string());
                continue;
            }
        };
        let Some(value) = r.price.price.to_f64() else { continue };
        let Some(end) = r.price.end.or_else(|| r.price.start.checked_add(quarter).ok()) else {
            refuse(&mut errors, "the interval ends past the year 9999".into());
            continue;
        };
        let beliefs = by_resource.entry(resource.clone()).or_default();
        let mut t = r.price.start;
        while t < end {
            let at = t.as_microsecond();
            if let Some(first) = seen.insert((resource.clone(), at), r.line) {
                refuse(&mut errors, format!("{t} of this asset is priced on line {first} already"));
                break;
            }
            beliefs.push(Belief { event_start_us: at, belief_time_us: now, source: SourceKind::Price, value });
            t += quarter;
        }
    }
    if !errors.is_empty() {
        return Err(AppError::RejectedFile(errors));
    }
    // Each asset's prices go in with one write; a failure part-way leaves the
    // assets before it stored (a repeated import stores the rest).
    let mut assets = BTreeMap::new();
    for (resource, beliefs) in by_resource {
        let key = compensation_series(store, &resource).await?;
        let stored = store.insert_beliefs(key, &beliefs).await?;
        assets.insert(resource, stored);
    }
    Ok(CompensationImport { rows: rows.len(), assets })
}

/// One redispatched quarter-hour of one asset.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayoutQuarter {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// The latest forecast, kW; null without one.
    pub forecast_kw: Option<f64>,
    /// What was still measured (meter final, else live), kW; null where nothing was.
    pub measured_kw: Option<f64>,
    /// (forecast − measured, at least 0) × ratio × hours, MWh (6 decimals): the energy lost.
    #[schema(value_type = Option<String>)]
    pub volume_mwh: Option<Decimal>,
    /// The DSO's compensation price, EUR/MWh; null without one.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// volume × price, EUR (4 decimals); null when a part is missing.
    #[schema(value_type = Option<String>)]
    pub payout: Option<Decimal>,
}

/// One asset's redispatch over the window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetPayout {
    /// The resource.
    pub resource_id: String,
    /// Its share in the VPP.
    pub allocation_ratio: f64,
    /// The redispatched quarter-hours.
    pub quarters: Vec<PayoutQuarter>,
    /// Σ volume, MWh (also of quarter-hours without a price).
    #[schema(value_type = String)]
    pub volume_mwh: Decimal,
    /// Σ payout, EUR (cents): paid to the owner, claimed from the DSO.
    #[schema(value_type = String)]
    pub payout: Decimal,
    /// Redispatched quarter-hours without a payout (no forecast or no compensation price).
    pub incomplete_quarters: usize,
}

/// The redispatch payout of a VPP's assets.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayoutReport {
    /// The VPP.
    pub vpp_id: String,
    /// Currency of the amounts.
    pub currency: String,
    /// Assets with a redispatched quarter-hour in the window.
    pub assets: Vec<AssetPayout>,
    /// Σ volume, MWh.
    #[schema(value_type = String)]
    pub volume_mwh: Decimal,
    /// Σ payout, EUR (cents).
    #[schema(value_type = String)]
    pub payout: Decimal,
}

async fn newest(
    store: &Store,
    key: i64,
    source: SourceKind,
    start: Timestamp,
    end: Timestamp,
    grid_s: i64,
) -> AppResult<BTreeMap<i64, f64>> {
    let query = BeliefQuery {
        series_key: key,
        source,
        start_us: start.as_microsecond(),
        end_us: end.as_microsecond(),
        grid_us: grid_s * 1_000_000,
        view: View::Latest,
    };
    Ok(store.newest_beliefs(&query).await?.into_iter().map(|b| (b.event_start_us, b.value)).collect())
}

/// The redispatch payout of the VPP `vpp_id` over `[start, end)`.
pub async fn redispatch_payout(
    store: &Store,
    vpp_id: &str,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<PayoutReport> {
    let members = store.member_series(vpp_id, Quantity::Power).await?;
    redispatch_payout_of(store, vpp_id, &members, start, end).await
}

/// The redispatch payout of a set of assets (power series key, series,
/// ratio); `vpp_id` labels the report.
pub async fn redispatch_payout_of(
    store: &Store,
    vpp_id: &str,
    members: &[(i64, vpp_domain::series::Series, f64)],
    start: Timestamp,
    end: Timestamp,
) -> AppResult<PayoutReport> {
    let mut assets = Vec::new();
    for (key, series, ratio) in members {
        let step = series.resolution_s;
        let flags = newest(store, *key, SourceKind::Flag, start, end, step).await?;
        let flagged: Vec<i64> = flags.into_iter().filter(|(_, v)| *v == 1.0).map(|(t, _)| t).collect();
        if flagged.is_empty() {
            continue;
        }
        let forecasts = newest(store, *key, SourceKind::Forecast, start, end, step).await?;
        // What the asset still produced in a curtailed quarter-hour is not lost.
        let finals =
            store.beliefs(*key, &[SourceKind::MeterFinal], start.as_microsecond(), end.as_microsecond()).await?;
        let measured: BTreeMap<i64, f64> =
            crate::series::measured(store, *key, series, start, end, &finals).await?.into_iter().collect();
        let prices = match store.find_series(OwnerKind::Resource, &series.owner_id, Quantity::Price).await? {
            Some((pk, _)) => newest(store, pk, SourceKind::Price, start, end, 900).await?,
            None => BTreeMap::new(),
        };
        let hours = step as f64 / 3600.0;
        let mut asset = AssetPayout {
            resource_id: series.owner_id.clone(),
            allocation_ratio: *ratio,
            quarters: Vec::with_capacity(flagged.len()),
            volume_mwh: Decimal::ZERO,
            payout: Decimal::ZERO,
            incomplete_quarters: 0,
        };
        for t in flagged {
            let forecast = forecasts.get(&t).copied();
            let produced = measured.get(&t).copied();
            let lost = forecast.map(|f| (f - produced.unwrap_or(0.0)).max(0.0));
            let volume = lost.and_then(|kw| Decimal::try_from(kw * ratio * hours / 1000.0).ok()).map(|v| v.round_dp(6));
            let price = prices.get(&t).and_then(|p| Decimal::try_from(*p).ok()).map(|p| p.round_dp(4));
            let payout = match (volume, price) {
                (Some(v), Some(p)) => Some((v * p).round_dp(4)),
                _ => None,
            };
            // The curtailed volume counts even where no price pays it yet.
            asset.volume_mwh += volume.unwrap_or_default();
            match payout {
                Some(p) => asset.payout += p,
                None => asset.incomplete_quarters += 1,
            }
            asset.quarters.push(PayoutQuarter {
                start: Timestamp::from_microsecond(t).unwrap_or(start),
                forecast_kw: forecast,
                measured_kw: produced,
                volume_mwh: volume,
                price,
                payout,
            });
        }
        asset.payout = crate::markets::to_cents(asset.payout);
        assets.push(asset);
    }
    let volume_mwh = assets.iter().map(|a| a.volume_mwh).sum();
    let payout = assets.iter().map(|a| a.payout).sum();
    Ok(PayoutReport { vpp_id: vpp_id.to_string(), currency: "EUR".into(), assets, volume_mwh, payout })
}
