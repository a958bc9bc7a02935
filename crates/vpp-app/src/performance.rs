//! The portfolio performance report of a direct marketer, per asset and in
//! total, for a delivery day or a month (Europe/Berlin):
//!
//! - production: the best of infeed × allocation ratio, with the MWh of each source;
//! - forecast accuracy: the latest and the tradeable forecast against what
//!   was measured (meter final, else live), MAE and bias in kW;
//! - trading (the VPP's own trades): volume, revenue, own VWAP against the
//!   market's VWAP (public trades) in the quarter-hours traded;
//! - imbalance cost, redispatch volume and payout;
//! - for a month, the contracts' payout and fees.
//!
//! A figure that cannot be computed (no imbalance prices, no contract) is
//! null, and `notes` says why.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;
use vpp_domain::market::settlement::{Grid, TradeKind};
use vpp_domain::series::{OwnerKind, Quantity, SourceKind, View};
use vpp_store::{BeliefQuery, Store, TradeFilter, TradeRecord};

use crate::error::{AppError, AppResult};
use crate::imbalance::Position;
use crate::markets::to_cents;
use crate::parks::esc;

/// Forecast accuracy against what was measured.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ForecastScore {
    /// Quarter-hours with both a forecast and a measurement.
    pub quarters: usize,
    /// Mean absolute error, kW.
    pub mae_kw: f64,
    /// Mean of forecast − measured, kW (positive: over-forecast).
    pub bias_kw: f64,
}

/// One asset's figures (its share in the VPP).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetPerformance {
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub name: String,
    /// Its asset id.
    pub asset_id: Option<String>,
    /// Its owner.
    pub owner: Option<String>,
    /// Its share in the VPP.
    pub allocation_ratio: f64,
    /// Best of infeed × ratio, MWh.
    #[schema(value_type = String)]
    pub production_mwh: Decimal,
    /// The same by source (`meter_final`, `live_measurement`, `forecast`, `redispatched`), MWh.
    #[schema(value_type = BTreeMap<String, String>)]
    pub production_by_source: BTreeMap<String, Decimal>,
    /// Quarter-hours with no infeed at all.
    pub missing_quarters: usize,
    /// The latest forecast against the measurement.
    pub forecast_latest: Option<ForecastScore>,
    /// The tradeable forecast (issued before gate closure) against the measurement.
    pub forecast_tradeable: Option<ForecastScore>,
    /// Imbalance cost, EUR (positive: received); null without imbalance prices.
    #[schema(value_type = Option<String>)]
    pub imbalance_cost: Option<Decimal>,
    /// Redispatched volume × ratio, MWh.
    #[schema(value_type = String)]
    pub redispatch_mwh: Decimal,
    /// Redispatch payout, EUR.
    #[schema(value_type = String)]
    pub redispatch_payout: Decimal,
    /// Month reports: the contract's energy payout for the whole asset (not its share), EUR; null for a day or without a contract.
    #[schema(value_type = Option<String>)]
    pub contract_payout: Option<Decimal>,
    /// Month reports: the contract's fees, EUR.
    #[schema(value_type = Option<String>)]
    pub contract_fees: Option<Decimal>,
}

/// The VPP's own trading in the period.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Trading {
    /// Energy trades delivering in the period.
    pub trades: u64,
    /// Traded on either side, MWh.
    #[schema(value_type = String)]
    pub traded_mwh: Decimal,
    /// Sold − bought, MWh.
    #[schema(value_type = String)]
    pub net_sold_mwh: Decimal,
    /// Sales − purchases, EUR.
    #[schema(value_type = String)]
    pub revenue: Decimal,
    /// Volume-weighted average price of the own trades, EUR/MWh.
    #[schema(value_type = Option<String>)]
    pub own_vwap: Option<Decimal>,
    /// The market's VWAP (public trades) weighted by the own traded volume of each quarter-hour, EUR/MWh.
    #[schema(value_type = Option<String>)]
    pub market_vwap: Option<Decimal>,
    /// Own traded volume in quarter-hours with a market index, MWh: what the difference compares.
    #[schema(value_type = String)]
    pub compared_mwh: Decimal,
    /// own − market VWAP over the compared quarter-hours, EUR/MWh.
    #[schema(value_type = Option<String>)]
    pub vwap_difference: Option<Decimal>,
}

/// The portfolio's totals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PortfolioTotals {
    /// Σ production, MWh.
    #[schema(value_type = String)]
    pub production_mwh: Decimal,
    /// Σ by source, MWh.
    #[schema(value_type = BTreeMap<String, String>)]
    pub production_by_source: BTreeMap<String, Decimal>,
    /// Share of each source in the production, percent (2 decimals).
    #[schema(value_type = BTreeMap<String, String>)]
    pub source_share_pct: BTreeMap<String, Decimal>,
    /// The own trades.
    pub trading: Trading,
    /// Σ imbalance cost, EUR; null without imbalance prices.
    #[schema(value_type = Option<String>)]
    pub imbalance_cost: Option<Decimal>,
    /// Σ redispatched volume, MWh.
    #[schema(value_type = String)]
    pub redispatch_mwh: Decimal,
    /// Σ redispatch payout, EUR.
    #[schema(value_type = String)]
    pub redispatch_payout: Decimal,
    /// Month reports: Σ contract payout, EUR.
    #[schema(value_type = Option<String>)]
    pub contract_payout: Option<Decimal>,
    /// Month reports: Σ contract fees, EUR.
    #[schema(value_type = Option<String>)]
    pub contract_fees: Option<Decimal>,
}

/// The performance report of a VPP for a day or a month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PerformanceReport {
    /// The VPP.
    pub vpp_id: String,
    /// Its name.
    pub vpp_name: String,
    /// `2025-06-08` (a day) or `2025-06` (a month), Europe/Berlin.
    pub period: String,
    /// Start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// End, exclusive (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Currency of the amounts.
    pub currency: String,
    /// Per asset.
    pub assets: Vec<AssetPerformance>,
    /// In total.
    pub total: PortfolioTotals,
    /// What could not be computed, and why.
    pub notes: Vec<String>,
    /// Language of the notes and of the printable page.
    pub lang: vpp_domain::lang::Lang,
}

/// A delivery day (`2025-06-08`) or a month (`2025-06`) in Europe/Berlin.
pub fn period(day: Option<&str>, month: Option<&str>) -> AppResult<(String, Timestamp, Timestamp, bool)> {
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").map_err(AppError::internal)?;
    let at = |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(AppError::internal);
    match (day, month) {
        (Some(d), None) => {
            let date: Date =
                d.parse().map_err(|_| AppError::invalid("day", format!("`{d}` is not a day like 2025-06-08")))?;
            Ok((date.to_string(), at(date)?, at(date.tomorrow().map_err(AppError::internal)?)?, false))
        }
        (None, Some(m)) => {
            let first = crate::markets::parse_month(m)?;
            let next = first.last_of_month().tomorrow().map_err(AppError::internal)?;
            Ok((format!("{:04}-{:02}", first.year(), first.month()), at(first)?, at(next)?, true))
        }
        _ => Err(AppError::invalid("day", "give a day (2025-06-08) or a month (2025-06), not both")),
    }
}

fn mwh(kw: f64, hours: f64) -> Decimal {
    Decimal::try_from(kw * hours / 1000.0).map(|d| d.round_dp(6)).unwrap_or_default()
}

fn score(forecast: &[(i64, f64)], actual: &[(i64, f64)]) -> Option<ForecastScore> {
    vpp_domain::series::accuracy(forecast, actual).map(|a| ForecastScore {
        quarters: a.n,
        mae_kw: (a.mae * 1000.0).round() / 1000.0,
        bias_kw: (a.bias * 1000.0).round() / 1000.0,
    })
}

/// The performance report of `vpp_id` over a day or a month; the tradeable
/// forecast is the newest issued `gate_closure` before delivery.
pub async fn performance_report(
    store: &Store,
    vpp_id: &str,
    day: Option<&str>,
    month: Option<&str>,
    gate_closure: SignedDuration,
    lang: vpp_domain::lang::Lang,
) -> AppResult<PerformanceReport> {
    let vpp = store.get_vpp(vpp_id).await?;
    let members = store.member_series(vpp_id, Quantity::Power).await?;
    let portfolio = Portfolio { id: &vpp.id, name: &vpp.name, members: &members, trades_of: Some(&vpp.id), lang };
    report_of(store, portfolio, day, month, gate_closure).await
}

/// The assets a report is about.
pub struct Portfolio<'a> {
    /// Its id (a VPP id, or `owner:{name}`).
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Power series key, series and allocation ratio of each asset.
    pub members: &'a [(i64, vpp_domain::series::Series, f64)],
    /// The VPP whose own trades the report shows, if any.
    pub trades_of: Option<&'a str>,
    /// Language of the notes.
    pub lang: vpp_domain::lang::Lang,
}

/// The performance report of a set of assets.
pub async fn report_of(
    store: &Store,
    portfolio: Portfolio<'_>,
    day: Option<&str>,
    month: Option<&str>,
    gate_closure: SignedDuration,
) -> AppResult<PerformanceReport> {
    let Portfolio { id: vpp_id, name, members, trades_of, lang } = portfolio;
    let zh = lang == vpp_domain::lang::Lang::Zh;
    let (label, start, end, is_month) = period(day, month)?;
    let (lo, hi) = (start.as_microsecond(), end.as_microsecond());
    let mut notes = Vec::new();
    if members.is_empty() {
        notes.push(
            lang.pick(
                "no asset has a power series: nothing was produced or forecast",
                "没有资产有功率序列：无发电量和预测",
            )
            .into(),
        );
    }
    let position = Position::Tradeable(gate_closure);
    let imbalance = match crate::imbalance::imbalance_cost_of(store, vpp_id, members, None, start, end, position).await
    {
        Ok(r) => Some(r),
        Err(e) => {
            notes.push(format!("{}{e}", lang.pick("imbalance cost: ", "不平衡费用：")));
            None
        }
    };
    let redispatch = crate::redispatch::redispatch_payout_of(store, vpp_id, members, start, end).await?;
    let invoices = if is_month {
        match crate::markets::invoices_for_month(store, &label, None, Decimal::new(19, 0)).await {
            Ok(i) => i,
            Err(e) => {
                notes.push(format!("{}{e}", lang.pick("contract payout and fees: ", "合同结算与服务费：")));
                Vec::new()
            }
        }
    } else {
        notes.push(
            lang.pick(
                "contract payout and fees are monthly: ask for the month",
                "合同结算与服务费按月计算：请按月查询",
            )
            .into(),
        );
        Vec::new()
    };
    let mut assets = Vec::with_capacity(members.len());
    for (key, series, ratio) in members {
        let resource = store.get_resource(&series.owner_id).await?;
        let hours = series.resolution_s as f64 / 3600.0;
        let mut production = Decimal::ZERO;
        let mut by_source: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut missing = 0;
        for (_, pick) in crate::series::infeed(store, *key, series, start, end, &crate::series::INFEED_PRIORITY).await?
        {
            match pick {
                Some(p) => {
                    let e = mwh(p.value * ratio, hours);
                    production += e;
                    *by_source.entry(p.source_name().to_string()).or_default() += e;
                }
                None => missing += 1,
            }
        }
        let finals = store.beliefs(*key, &[SourceKind::MeterFinal], lo, hi).await?;
        // A curtailed quarter-hour measures the DSO's limit, not the forecast's error.
        let flags = BeliefQuery {
            series_key: *key,
            source: SourceKind::Flag,
            start_us: lo,
            end_us: hi,
            grid_us: series.resolution_s * 1_000_000,
            view: View::Latest,
        };
        let curtailed: std::collections::HashSet<i64> =
            store.newest_beliefs(&flags).await?.iter().filter(|b| b.value == 1.0).map(|b| b.event_start_us).collect();
        let actual: Vec<(i64, f64)> = crate::series::measured(store, *key, series, start, end, &finals)
            .await?
            .into_iter()
            .filter(|(t, _)| !curtailed.contains(t))
            .collect();
        let grid_us = series.resolution_s * 1_000_000;
        let forecast = |view: View| BeliefQuery {
            series_key: *key,
            source: SourceKind::Forecast,
            start_us: lo,
            end_us: hi,
            grid_us,
            view,
        };
        let latest: Vec<(i64, f64)> =
            store.newest_beliefs(&forecast(View::Latest)).await?.iter().map(|b| (b.event_start_us, b.value)).collect();
        let tradeable: Vec<(i64, f64)> = store
            .newest_beliefs(&forecast(View::Tradeable { lead: gate_closure }))
            .await?
            .iter()
            .map(|b| (b.event_start_us, b.value))
            .collect();
        let imb = imbalance.as_ref().and_then(|r| r.assets.iter().find(|a| a.resource_id == resource.id));
        let rd = redispatch.assets.iter().find(|a| a.resource_id == resource.id);
        let contract: Vec<&vpp_domain::market::invoice::Invoice> =
            invoices.iter().filter(|i| i.resource_id == resource.id).collect();
        let (contract_payout, contract_fees) = if contract.is_empty() {
            (None, None)
        } else {
            (Some(contract.iter().map(|i| i.payout).sum()), Some(contract.iter().map(|i| i.fees).sum()))
        };
        if is_month && contract.is_empty() {
            notes.push(if zh {
                format!("{} 在 {label} 没有生效的合同", resource.name)
            } else {
                format!("{} has no contract in force in {label}", resource.name)
            });
        }
        assets.push(AssetPerformance {
            resource_id: resource.id.clone(),
            name: resource.name.clone(),
            asset_id: resource.external_id.clone(),
            owner: resource.owner.clone(),
            allocation_ratio: *ratio,
            production_mwh: production,
            production_by_source: by_source,
            missing_quarters: missing,
            forecast_latest: score(&latest, &actual),
            forecast_tradeable: score(&tradeable, &actual),
            // Null when no quarter-hour had an amount (no forecast, infeed or price).
            imbalance_cost: imb.filter(|a| a.quarters.len() > a.incomplete_quarters).map(|a| a.amount),
            redispatch_mwh: rd.map(|a| a.volume_mwh).unwrap_or_default(),
            redispatch_payout: rd.map(|a| a.payout).unwrap_or_default(),
            contract_payout,
            contract_fees,
        });
    }
    let trading = match trades_of {
        Some(v) => trading(store, v, start, end).await?,
        None => Trading::default(),
    };
    if trades_of.is_some() && trading.trades == 0 {
        notes.push(
            lang.pick(
                "the VPP has no own energy trades delivering in the period",
                "该虚拟电厂在此期间没有自有电能交易交割",
            )
            .into(),
        );
    }
    let mut by_source: BTreeMap<String, Decimal> = BTreeMap::new();
    for a in &assets {
        for (k, v) in &a.production_by_source {
            *by_source.entry(k.clone()).or_default() += v;
        }
    }
    let production: Decimal = assets.iter().map(|a| a.production_mwh).sum();
    let share = by_source
        .iter()
        .map(|(k, v)| {
            let pct =
                if production.is_zero() { Decimal::ZERO } else { (v / production * Decimal::ONE_HUNDRED).round_dp(2) };
            (k.clone(), pct)
        })
        .collect();
    let sum_opt = |f: fn(&AssetPerformance) -> Option<Decimal>| -> Option<Decimal> {
        let values: Vec<Decimal> = assets.iter().filter_map(f).collect();
        (!values.is_empty()).then(|| to_cents(values.into_iter().sum()))
    };
    let total = PortfolioTotals {
        production_mwh: production,
        production_by_source: by_source,
        source_share_pct: share,
        trading,
        imbalance_cost: sum_opt(|a| a.imbalance_cost),
        redispatch_mwh: redispatch.volume_mwh,
        redispatch_payout: redispatch.payout,
        contract_payout: sum_opt(|a| a.contract_payout),
        contract_fees: sum_opt(|a| a.contract_fees),
    };
    Ok(PerformanceReport {
        vpp_id: vpp_id.to_string(),
        vpp_name: name.to_string(),
        period: label,
        start,
        end,
        currency: "EUR".into(),
        assets,
        total,
        notes,
        lang,
    })
}

/// The VPP's own energy trades delivering in `[start, end)`, against the
/// market VWAP of the quarter-hours it traded in.
async fn trading(store: &Store, vpp_id: &str, start: Timestamp, end: Timestamp) -> AppResult<Trading> {
    let grid = Grid::between(start, end, 900);
    // Trades that start before the period but deliver into it count their
    // part (`analyse` clips each to the period).
    let from = start - vpp_domain::market::files::MAX_DELIVERY;
    let filter = TradeFilter { vpp_id: Some(vpp_id.into()), from: Some(from), to: Some(end), ..TradeFilter::default() };
    let trades = store.list_trades(&filter).await?;
    let lines: Vec<_> = trades
        .iter()
        .filter(|t| t.kind == TradeKind::Energy && t.currency == "EUR" && t.delivery_end > start)
        .map(TradeRecord::line)
        .collect();
    let (per, total) =
        vpp_domain::market::analysis::analyse(&grid, &lines).map_err(|e| AppError::invalid("trades", e.to_string()))?;
    // The market VWAP per quarter-hour: the public trades' index of an EUR connector.
    let (lo, hi) = (start.as_microsecond(), end.as_microsecond());
    let mut market: BTreeMap<i64, Decimal> = BTreeMap::new();
    for c in store.list_connectors().await?.into_iter().filter(|c| c.rules.currency == "EUR") {
        if let Some((key, _)) =
            store.find_series(OwnerKind::Market, &crate::markets::vwap_owner(&c.id), Quantity::Price).await?
        {
            for b in store.newest_beliefs(&BeliefQuery::latest(key, SourceKind::Price, (lo, hi), 900_000_000)).await? {
                if let Ok(p) = Decimal::try_from(b.value) {
                    market.entry(b.event_start_us).or_insert(p);
                }
            }
        }
    }
    // Both VWAPs over the same quarter-hours: those traded that have a market index.
    let (mut weighted, mut own, mut volume) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (k, f) in per.iter().enumerate() {
        if let (Some(p), Some(v)) = (market.get(&grid.at(k).as_microsecond()), f.vwap)
            && !f.traded_mwh.is_zero()
        {
            weighted += f.traded_mwh * p;
            own += f.traded_mwh * v;
            volume += f.traded_mwh;
        }
    }
    let market_vwap = (!volume.is_zero()).then(|| (weighted / volume).round_dp(4));
    let own_matched = (!volume.is_zero()).then(|| (own / volume).round_dp(4));
    Ok(Trading {
        trades: total.trade_count,
        traded_mwh: total.traded_mwh,
        net_sold_mwh: total.net_volume_mwh,
        revenue: to_cents(total.revenue),
        own_vwap: total.vwap,
        market_vwap,
        compared_mwh: volume,
        vwap_difference: match (own_matched, market_vwap) {
            (Some(o), Some(m)) => Some((o - m).round_dp(4)),
            _ => None,
        },
    })
}

/// The report as CSV: one row per asset, then the total.
pub fn report_csv(r: &PerformanceReport) -> String {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    let text = |x: &str| vpp_domain::export::spreadsheet_text(x).into_owned();
    let opt = |x: Option<Decimal>| x.map(|d| d.to_string()).unwrap_or_default();
    let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let sources = ["meter_final", "live_measurement", "forecast", "redispatched"];
    let mut header: Vec<String> =
        ["period", "resource_id", "asset_id", "name", "owner", "allocation_ratio", "production_mwh"]
            .map(String::from)
            .to_vec();
    header.extend(sources.iter().map(|s| format!("{s}_mwh")));
    header.extend(
        [
            "latest_mae_kw",
            "latest_bias_kw",
            "tradeable_mae_kw",
            "tradeable_bias_kw",
            "imbalance_cost",
            "redispatch_mwh",
            "redispatch_payout",
            "contract_payout",
            "contract_fees",
        ]
        .map(String::from),
    );
    // Writing into a Vec cannot fail, so the results are ignored.
    let _ = w.write_record(&header);
    for a in &r.assets {
        let mut row = vec![
            r.period.clone(),
            a.resource_id.clone(),
            text(a.asset_id.as_deref().unwrap_or("")),
            text(&a.name),
            text(a.owner.as_deref().unwrap_or("")),
            a.allocation_ratio.to_string(),
            a.production_mwh.to_string(),
        ];
        row.extend(sources.iter().map(|s| opt(a.production_by_source.get(*s).copied())));
        row.extend([
            f(a.forecast_latest.as_ref().map(|s| s.mae_kw)),
            f(a.forecast_latest.as_ref().map(|s| s.bias_kw)),
            f(a.forecast_tradeable.as_ref().map(|s| s.mae_kw)),
            f(a.forecast_tradeable.as_ref().map(|s| s.bias_kw)),
            opt(a.imbalance_cost),
            a.redispatch_mwh.to_string(),
            a.redispatch_payout.to_string(),
            opt(a.contract_payout),
            opt(a.contract_fees),
        ]);
        let _ = w.write_record(&row);
    }
    let t = &r.total;
    let mut row =
        vec![r.period.clone(), "total".into(), String::new(), text(&r.vpp_name), String::new(), String::new()];
    row.push(t.production_mwh.to_string());
    row.extend(sources.iter().map(|s| opt(t.production_by_source.get(*s).copied())));
    row.extend([String::new(), String::new(), String::new(), String::new()]);
    row.extend([
        opt(t.imbalance_cost),
        t.redispatch_mwh.to_string(),
        t.redispatch_payout.to_string(),
        opt(t.contract_payout),
        opt(t.contract_fees),
    ]);
    let _ = w.write_record(&row);
    let tr = &t.trading;
    let _ = w.write_record([
        "trading",
        "trades",
        "traded_mwh",
        "net_sold_mwh",
        "revenue",
        "own_vwap",
        "market_vwap",
        "vwap_difference",
    ]);
    let _ = w.write_record([
        r.period.clone(),
        tr.trades.to_string(),
        tr.traded_mwh.to_string(),
        tr.net_sold_mwh.to_string(),
        tr.revenue.to_string(),
        opt(tr.own_vwap),
        opt(tr.market_vwap),
        opt(tr.vwap_difference),
    ]);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The report as a printable HTML page (no scripts, no external assets).
pub fn report_html(r: &PerformanceReport) -> String {
    use std::fmt::Write;
    let opt = |x: Option<Decimal>| x.map(|d| d.to_string()).unwrap_or_else(|| "–".into());
    let sc = |s: &Option<ForecastScore>| {
        s.as_ref().map(|s| format!("{:.1} / {:+.1}", s.mae_kw, s.bias_kw)).unwrap_or_else(|| "–".into())
    };
    let lang = r.lang;
    let t = |en: &'static str, zh: &'static str| lang.pick(en, zh);
    let mut h = String::new();
    let (vpp, period, cur) = (esc(&r.vpp_name), esc(&r.period), esc(&r.currency));
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{tag}\"><head><meta charset=\"utf-8\"><title>{title} {vpp} {period}</title>\
         <style>body{{font:13px/1.4 sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #999;padding:2px 6px}}td.n{{text-align:right}}@media print{{body{{margin:0}}}}</style>\
         </head><body><h1>{title}{colon}{vpp}</h1><p>{intro}</p>",
        tag = lang.tag(),
        title = t("Portfolio performance", "资产组合绩效"),
        colon = t(": ", "："),
        intro = lang.pick(
            format!("{period} (Europe/Berlin), amounts in {cur}."),
            format!("{period}（Europe/Berlin），金额单位：{cur}。"),
        ),
    );
    let headings = [
        t("Asset", "资产"),
        t("Owner", "业主"),
        t("Production MWh", "发电量 MWh"),
        t("Meter final", "结算表计"),
        t("Live", "实时量测"),
        t("Forecast", "预测"),
        t("Latest MAE / bias kW", "最新预测 MAE / 偏差 kW"),
        t("Tradeable MAE / bias kW", "可交易预测 MAE / 偏差 kW"),
        t("Imbalance", "不平衡费用"),
        t("Redispatch MWh", "再调度电量 MWh"),
        t("Redispatch payout", "再调度补偿"),
        t("Contract payout", "合同结算"),
        t("Fees", "服务费"),
    ];
    h.push_str("<table><tr>");
    for heading in headings {
        let _ = write!(h, "<th>{heading}</th>");
    }
    h.push_str("</tr>");
    let src = |m: &BTreeMap<String, Decimal>, k: &str| m.get(k).map(|d| d.to_string()).unwrap_or_else(|| "–".into());
    for a in &r.assets {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td class=n>{}</td></tr>",
            esc(a.asset_id.as_deref().unwrap_or(&a.name)),
            esc(a.owner.as_deref().unwrap_or("")),
            a.production_mwh,
            src(&a.production_by_source, "meter_final"),
            src(&a.production_by_source, "live_measurement"),
            src(&a.production_by_source, "forecast"),
            sc(&a.forecast_latest),
            sc(&a.forecast_tradeable),
            opt(a.imbalance_cost),
            a.redispatch_mwh,
            a.redispatch_payout,
            opt(a.contract_payout),
            opt(a.contract_fees),
        );
    }
    let total = &r.total;
    let _ = write!(
        h,
        "<tr><th>{}</th><td></td><th class=n>{}</th><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td></td><td></td>\
         <th class=n>{}</th><th class=n>{}</th><th class=n>{}</th><th class=n>{}</th><th class=n>{}</th></tr></table>",
        t("Total", "合计"),
        total.production_mwh,
        src(&total.production_by_source, "meter_final"),
        src(&total.production_by_source, "live_measurement"),
        src(&total.production_by_source, "forecast"),
        opt(total.imbalance_cost),
        total.redispatch_mwh,
        total.redispatch_payout,
        opt(total.contract_payout),
        opt(total.contract_fees),
    );
    let tr = &total.trading;
    let _ = write!(
        h,
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th></tr><tr><td class=n>{}</td><td class=n>{}</td>\
         <td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr></table>",
        t("Trading", "自有交易与市场对比"),
        t("Trades", "成交笔数"),
        t("Traded MWh", "成交电量 MWh"),
        t("Net sold MWh", "净售出 MWh"),
        t("Revenue", "收入"),
        t("Own VWAP", "自有成交均价"),
        t("Market VWAP", "市场成交均价"),
        t("Difference", "差值"),
        tr.trades,
        tr.traded_mwh,
        tr.net_sold_mwh,
        tr.revenue,
        opt(tr.own_vwap),
        opt(tr.market_vwap),
        opt(tr.vwap_difference),
    );
    for note in &r.notes {
        let _ = write!(h, "<p><em>{}</em></p>", esc(note));
    }
    h.push_str("</body></html>\n");
    h
}
