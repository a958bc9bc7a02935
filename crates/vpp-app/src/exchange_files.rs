//! Exchange and regulator files into a `file` connector: market prices, the
//! VPP's own trades, an exchange's public trades (the market VWAP index)
//! and German imbalance prices. Each file is checked whole first (see
//! `vpp_domain::market::files`): a malformed file is refused with every
//! bad line and changes nothing.

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use vpp_domain::market::connector::ConnectorKind;
use vpp_domain::market::files::{parse_imbalance_prices, parse_prices, parse_public_trades, parse_trades};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
use vpp_store::{Store, TradeRecord};

use crate::error::{AppError, AppResult, dangling};
use crate::markets::{imbalance_owner, import_public_trades};

/// What an exchange file holds.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExchangeFileQuery {
    /// `prices`, `trades` (the VPP's own), `public_trades` (all participants': the market VWAP index) or `imbalance`.
    pub kind: String,
    /// Trades: the VPP they belong to.
    pub vpp_id: Option<String>,
    /// Imbalance prices: true when they are estimates (default: final).
    pub estimate: Option<bool>,
    /// Zone of prices' and trades' times without an offset (IANA); default UTC. The repeated hour of the autumn change is read by order.
    pub timezone: Option<String>,
}

/// What an import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExchangeImport {
    /// What was imported.
    pub kind: String,
    /// Rows in the file.
    pub rows: usize,
    /// Trades stored (trades files).
    pub trades: usize,
    /// Price beliefs stored (quarter-hours; an hourly price covers four; for public trades the VWAP index per quarter-hour).
    pub beliefs: u64,
}

/// Imports an exchange file into the file connector `connector_id` (its id or name).
pub async fn import_exchange_file(
    store: &Store,
    connector_id: &str,
    q: &ExchangeFileQuery,
    body: &[u8],
) -> AppResult<ExchangeImport> {
    let c = match store.get_connector(connector_id).await {
        Ok(c) => c,
        Err(vpp_store::StoreError::NotFound { .. }) => store
            .list_connectors()
            .await?
            .into_iter()
            .find(|c| c.name == connector_id)
            .ok_or_else(|| AppError::not_found("market connector", connector_id))?,
        Err(e) => return Err(e.into()),
    };
    if c.kind != ConnectorKind::File {
        return Err(AppError::invalid(
            "id",
            format!("connector `{}` is {}; only file connectors import exchange files", c.name, c.kind.as_str()),
        ));
    }
    let now = vpp_store::now().as_microsecond();
    let quarter = SignedDuration::from_mins(15);
    // Prices on the quarter-hour grid: a longer interval covers each of its quarter-hours.
    let spread = |start: Timestamp, end: Timestamp, price: Decimal, source: SourceKind, out: &mut Vec<Belief>| {
        let mut t = start;
        while t < end {
            if let Some(value) = price.to_f64() {
                out.push(Belief { event_start_us: t.as_microsecond(), belief_time_us: now, source, value });
            }
            t += quarter;
        }
    };
    let tz = match &q.timezone {
        Some(name) => jiff::tz::TimeZone::get(name)
            .map_err(|_| AppError::invalid("timezone", format!("unknown IANA time zone `{name}`")))?,
        None => jiff::tz::TimeZone::UTC,
    };
    let kind = q.kind.as_str();
    let (rows, trades, beliefs) = match kind {
        "prices" => {
            let rows = parse_prices(body, &tz).map_err(AppError::RejectedFile)?;
            if let Some(r) = rows.iter().find(|r| r.currency.as_deref().is_some_and(|cur| cur != c.rules.currency)) {
                return Err(AppError::invalid(
                    "file",
                    format!(
                        "a price at {} is in {}, the market trades {}",
                        r.start,
                        r.currency.as_deref().unwrap_or(""),
                        c.rules.currency
                    ),
                ));
            }
            let mut beliefs = Vec::new();
            for r in &rows {
                spread(r.start, r.end.unwrap_or(r.start + quarter), r.price, SourceKind::Price, &mut beliefs);
            }
            let (key, _) =
                store.ensure_series(OwnerKind::Market, &c.id, Quantity::Price, &format!("{} prices", c.name)).await?;
            (rows.len(), 0, store.insert_beliefs(key, &beliefs).await?)
        }
        "imbalance" => {
            let rows = parse_imbalance_prices(body).map_err(AppError::RejectedFile)?;
            let source = if q.estimate.unwrap_or(false) { SourceKind::Forecast } else { SourceKind::Price };
            let mut beliefs = Vec::new();
            for r in &rows {
                spread(r.start, r.end, r.price, source, &mut beliefs);
            }
            let owner = imbalance_owner(&c.id);
            let (key, _) = store
                .ensure_series(OwnerKind::Market, &owner, Quantity::Price, &format!("{} imbalance", c.name))
                .await?;
            (rows.len(), 0, store.insert_beliefs(key, &beliefs).await?)
        }
        "trades" => {
            let rows = parse_trades(body, &tz).map_err(AppError::RejectedFile)?;
            if let Some(vpp) = &q.vpp_id {
                store.get_vpp(vpp).await.map_err(dangling("vpp_id", "VPP", vpp))?;
            }
            let records: Vec<TradeRecord> = rows
                .iter()
                .map(|r| TradeRecord {
                    id: vpp_store::new_id(),
                    bid_id: None,
                    vpp_id: q.vpp_id.clone(),
                    connector_id: c.id.clone(),
                    market_type: c.market_type,
                    kind: vpp_domain::market::settlement::TradeKind::Energy,
                    side: r.side,
                    delivery_start: r.start,
                    delivery_end: r.end,
                    price: r.price,
                    quantity_mw: r.quantity_mw,
                    currency: r.currency.clone(),
                    executed_at: r.executed_at,
                    source: "file".into(),
                    external_id: Some(r.trade_id.clone()),
                    settled: false,
                })
                .collect();
            (rows.len(), store.insert_trades(&records).await?, 0)
        }
        "public_trades" => {
            let rows = parse_public_trades(body, &tz).map_err(AppError::RejectedFile)?;
            (rows.len(), 0, import_public_trades(store, &c, &rows).await?)
        }
        other => {
            return Err(AppError::invalid(
                "kind",
                format!("unknown kind `{other}`; use prices, trades, public_trades or imbalance"),
            ));
        }
    };
    Ok(ExchangeImport { kind: kind.into(), rows, trades, beliefs })
}
