//! Imbalance cost per asset and for the portfolio. Per quarter-hour:
//!
//! ```text
//! imbalance MWh = (best of infeed − position) × allocation ratio × hours
//! amount        = imbalance MWh × imbalance price
//! ```
//!
//! The position is the asset's forecast as traded (`tradeable`: the newest
//! version issued before gate closure) or its `latest` forecast. The price
//! is the final imbalance price, else the estimate; each value names its
//! source. A positive amount is received (the asset delivered more than its
//! position), a negative one paid, as in settlement.

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;
use vpp_domain::series::{OwnerKind, Quantity, SourceKind, View};
use vpp_store::{BeliefQuery, Store};

use crate::error::{AppError, AppResult};
use crate::markets::imbalance_owner;
use crate::series::{INFEED_PRIORITY, infeed};

/// Which forecast is the position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Position {
    /// The newest version issued at least `lead` before delivery (what was traded).
    Tradeable(SignedDuration),
    /// The newest version.
    Latest,
}

impl Position {
    fn view(self) -> View {
        match self {
            Self::Tradeable(lead) => View::Tradeable { lead },
            Self::Latest => View::Latest,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tradeable(_) => "tradeable forecast",
            Self::Latest => "latest forecast",
        }
    }
}

/// One quarter-hour of one asset.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImbalanceQuarter {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Best of infeed, kW; null where nothing covers the interval.
    pub delivered_kw: Option<f64>,
    /// Where it came from: `meter_final`, `live_measurement`, `forecast` or `redispatched`.
    pub delivered_source: Option<String>,
    /// The position, kW; null without a forecast.
    pub position_kw: Option<f64>,
    /// (delivered − position) × ratio × hours, MWh (6 decimals).
    #[schema(value_type = Option<String>)]
    pub imbalance_mwh: Option<Decimal>,
    /// Imbalance price, EUR/MWh.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// `final` or `estimate`.
    pub price_source: Option<&'static str>,
    /// imbalance MWh × price, EUR (4 decimals); null when a part is missing.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
}

/// One asset's imbalance over the window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetImbalance {
    /// The resource.
    pub resource_id: String,
    /// Its share in the VPP.
    pub allocation_ratio: f64,
    /// Per quarter-hour.
    pub quarters: Vec<ImbalanceQuarter>,
    /// Σ imbalance, MWh.
    #[schema(value_type = String)]
    pub imbalance_mwh: Decimal,
    /// Σ amount, EUR (cents).
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Quarter-hours without an amount (no infeed, position or price).
    pub incomplete_quarters: usize,
}

/// The portfolio's imbalance per quarter-hour.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PortfolioImbalance {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Σ of the assets' imbalance, MWh.
    #[schema(value_type = String)]
    pub imbalance_mwh: Decimal,
    /// Σ of the assets' amounts, EUR.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Assets with an amount here.
    pub assets: usize,
}

/// Imbalance cost of a VPP's assets and of the portfolio.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImbalanceReport {
    /// The VPP.
    pub vpp_id: String,
    /// The connector whose imbalance prices were used.
    pub connector_id: String,
    /// What the position is: `tradeable forecast` or `latest forecast`.
    pub position: String,
    /// Currency of the amounts.
    pub currency: String,
    /// Per asset.
    pub assets: Vec<AssetImbalance>,
    /// Per quarter-hour, summed over the assets.
    pub portfolio: Vec<PortfolioImbalance>,
    /// Σ amount, EUR (cents).
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// The imbalance prices per quarter-hour start (µs): final, else estimate.
async fn prices(
    store: &Store,
    connector: Option<&str>,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<(String, std::collections::BTreeMap<i64, (Decimal, &'static str)>)> {
    let mut candidates = Vec::new();
    for c in store.list_connectors().await? {
        if connector.is_some_and(|want| want != c.id && want != c.name) {
            continue;
        }
        if let Some((key, _)) = store.find_series(OwnerKind::Market, &imbalance_owner(&c.id), Quantity::Price).await? {
            candidates.push((c.id, key));
        }
    }
    let (id, key) = match (candidates.len(), connector) {
        (1, _) => candidates.remove(0),
        (0, Some(want)) => {
            return Err(AppError::invalid("connector_id", format!("connector `{want}` has no imbalance prices")));
        }
        (0, None) => {
            return Err(AppError::invalid(
                "connector_id",
                "no imbalance prices are imported (import a file of kind imbalance into a file connector)",
            ));
        }
        (_, _) => {
            return Err(AppError::invalid("connector_id", "several connectors have imbalance prices; name one"));
        }
    };
    let (lo, hi) = (start.as_microsecond(), end.as_microsecond());
    let mut out = std::collections::BTreeMap::new();
    // Final first; an estimate only where no final price is.
    for (source, name) in [(SourceKind::Price, "final"), (SourceKind::Forecast, "estimate")] {
        for b in store.newest_beliefs(&BeliefQuery::latest(key, source, (lo, hi), 900_000_000)).await? {
            if let Ok(p) = Decimal::try_from(b.value) {
                out.entry(b.event_start_us).or_insert((p.round_dp(4), name));
            }
        }
    }
    Ok((id, out))
}

/// Imbalance cost of the VPP `vpp_id` over `[start, end)`.
pub async fn imbalance_cost(
    store: &Store,
    vpp_id: &str,
    connector: Option<&str>,
    start: Timestamp,
    end: Timestamp,
    position: Position,
) -> AppResult<ImbalanceReport> {
    let members = store.member_series(vpp_id, Quantity::Power).await?;
    imbalance_cost_of(store, vpp_id, &members, connector, start, end, position).await
}

/// Imbalance cost of a set of assets (power series key, series, ratio);
/// `vpp_id` labels the report.
pub async fn imbalance_cost_of(
    store: &Store,
    vpp_id: &str,
    members: &[(i64, vpp_domain::series::Series, f64)],
    connector: Option<&str>,
    start: Timestamp,
    end: Timestamp,
    position: Position,
) -> AppResult<ImbalanceReport> {
    let (connector_id, prices) = prices(store, connector, start, end).await?;
    let mut assets = Vec::with_capacity(members.len());
    let mut portfolio: std::collections::BTreeMap<i64, PortfolioImbalance> = Default::default();
    for (key, series, ratio) in members {
        let hours = series.resolution_s as f64 / 3600.0;
        let query = BeliefQuery {
            series_key: *key,
            source: SourceKind::Forecast,
            start_us: start.as_microsecond(),
            end_us: end.as_microsecond(),
            grid_us: series.resolution_s * 1_000_000,
            view: position.view(),
        };
        let positions: std::collections::BTreeMap<i64, f64> =
            store.newest_beliefs(&query).await?.into_iter().map(|b| (b.event_start_us, b.value)).collect();
        let mut asset = AssetImbalance {
            resource_id: series.owner_id.clone(),
            allocation_ratio: *ratio,
            quarters: Vec::new(),
            imbalance_mwh: Decimal::ZERO,
            amount: Decimal::ZERO,
            incomplete_quarters: 0,
        };
        for (t, pick) in infeed(store, *key, series, start, end, &INFEED_PRIORITY).await? {
            let delivered = pick.map(|p| p.value);
            let source = pick.map(|p| p.source_name().to_string());
            let held = positions.get(&t).copied();
            let imbalance = match (delivered, held) {
                (Some(d), Some(p)) => Decimal::try_from((d - p) * ratio * hours / 1000.0).ok().map(|x| x.round_dp(6)),
                _ => None,
            };
            let price = prices.get(&t).copied();
            let amount = match (imbalance, price) {
                (Some(mwh), Some((p, _))) => Some((mwh * p).round_dp(4)),
                _ => None,
            };
            match (imbalance, amount) {
                (Some(mwh), Some(a)) => {
                    asset.imbalance_mwh += mwh;
                    asset.amount += a;
                    let at = Timestamp::from_microsecond(t).unwrap_or(start);
                    let row = portfolio.entry(t).or_insert(PortfolioImbalance {
                        start: at,
                        imbalance_mwh: Decimal::ZERO,
                        amount: Decimal::ZERO,
                        assets: 0,
                    });
                    row.imbalance_mwh += mwh;
                    row.amount += a;
                    row.assets += 1;
                }
                _ => asset.incomplete_quarters += 1,
            }
            asset.quarters.push(ImbalanceQuarter {
                start: Timestamp::from_microsecond(t).unwrap_or(start),
                delivered_kw: delivered,
                delivered_source: source,
                position_kw: held,
                imbalance_mwh: imbalance,
                price: price.map(|p| p.0),
                price_source: price.map(|p| p.1),
                amount,
            });
        }
        asset.amount = crate::markets::to_cents(asset.amount);
        assets.push(asset);
    }
    let amount = crate::markets::to_cents(portfolio.values().map(|p| p.amount).sum());
    Ok(ImbalanceReport {
        vpp_id: vpp_id.to_string(),
        connector_id,
        position: position.name().into(),
        currency: "EUR".into(),
        assets,
        portfolio: portfolio.into_values().collect(),
        amount,
    })
}
