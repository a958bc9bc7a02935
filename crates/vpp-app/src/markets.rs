//! Market jobs shared by the routes, the CLI and the demo: building the
//! simulated exchange of a connector and day, clearing a trading day, and
//! settling a VPP over a period.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use vpp_domain::fleet::{SlotAvailability, available_per_slot};
use vpp_domain::market::connector::{Connector, ConnectorKind};
use vpp_domain::market::exchange::{MarketConnector, SimulatedExchange, default_reference};
use vpp_domain::market::rules::{BidStatus, BidStep};
use vpp_domain::market::rules::{BidStepRequest, SlotRoom, check_bid, check_risk, notional};
use vpp_domain::market::settlement::{Grid, ImbalancePrices, TradeKind, TradeLine, price_milli, settle, spread};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind, View, select_latest};
use vpp_domain::vpp::MarketType;
use vpp_store::{BidRecord, BidScope, Clearing, Fence, NewBid};
use vpp_store::{SettlementRecord, StepFill, Store, TradeFilter, TradeRecord};

use crate::Actor;
use crate::error::{AppError, AppResult, dangling};

/// Owner id of a connector's imbalance price series.
pub fn imbalance_owner(connector_id: &str) -> String {
    format!("{connector_id}:imbalance")
}

/// An amount rounded to the cent, half away from zero (as on an invoice).
pub fn to_cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// Owner id of a connector's market VWAP index (from public trades).
pub fn vwap_owner(connector_id: &str) -> String {
    format!("{connector_id}:vwap")
}

/// Stores the market VWAP index per quarter-hour of an exchange's public
/// trades as the connector's VWAP series. A file is the whole set of its
/// quarter-hours' trades: importing it again, or a corrected file, is a
/// newer version of the index for the quarter-hours it covers. Returns the
/// quarter-hours stored.
pub async fn import_public_trades(
    store: &Store,
    c: &Connector,
    trades: &[vpp_domain::market::files::PublicTrade],
) -> AppResult<u64> {
    if let Some(t) = trades.iter().find(|t| t.currency != c.rules.currency) {
        return Err(AppError::invalid(
            "file",
            format!("a trade at {} is in {}, the market trades {}", t.start, t.currency, c.rules.currency),
        ));
    }
    let (Some(first), Some(last)) = (trades.iter().map(|t| t.start).min(), trades.iter().map(|t| t.end).max()) else {
        return Err(AppError::invalid("file", "the file holds no trades"));
    };
    let floor = |t: Timestamp| Timestamp::from_second(t.as_second().div_euclid(900) * 900).unwrap_or(t);
    let (start, end) = (floor(first), floor(last - SignedDuration::from_micros(1)) + SignedDuration::from_mins(15));
    if end.duration_since(start) > SignedDuration::from_hours(24 * 32) {
        return Err(AppError::invalid(
            "file",
            format!("the trades deliver from {first} to {last}: more than a month in one file; send a day or a month"),
        ));
    }
    let grid = Grid::between(start, end, 900);
    let vwap = vpp_domain::market::analysis::market_vwap(&grid, trades)
        .map_err(|e| AppError::invalid("file", e.to_string()))?;
    let now = vpp_store::now().as_microsecond();
    let beliefs: Vec<Belief> = vwap
        .iter()
        .enumerate()
        .filter_map(|(k, v)| {
            let value = v.and_then(|p| p.to_f64())?;
            Some(Belief {
                event_start_us: grid.at(k).as_microsecond(),
                belief_time_us: now,
                source: SourceKind::Price,
                value,
            })
        })
        .collect();
    let (key, _) = store
        .ensure_series(OwnerKind::Market, &vwap_owner(&c.id), Quantity::Price, &format!("{} market VWAP", c.name))
        .await?;
    Ok(store.insert_beliefs(key, &beliefs).await?)
}

/// The simulated exchange of a connector for one delivery day. Its
/// reference price is the connector's reference series (newest value per
/// slot) or the built-in daily shape.
pub async fn exchange_for(store: &Store, c: &Connector, day: Date) -> AppResult<SimulatedExchange> {
    if c.kind != ConnectorKind::Simulated {
        return Err(AppError::invalid(
            "connector_id",
            format!(
                "connector `{}` is a {} connector: it imports exchange files and runs no auction",
                c.id,
                c.kind.as_str()
            ),
        ));
    }
    let slots = c.rules.slots(day).map_err(|e| AppError::invalid("trading_date", e.to_string()))?;
    let tz = c.rules.zone().map_err(|e| AppError::invalid("rules.time_zone", e.to_string()))?;
    let reference = match &c.reference_series_id {
        None => slots
            .iter()
            .map(|t| {
                let z = t.to_zoned(tz.clone());
                default_reference(f64::from(z.hour()) + f64::from(z.minute()) / 60.0)
            })
            .collect(),
        Some(id) => {
            let (key, _) = store.get_series(id).await?;
            let step = c.rules.product().as_micros() as i64;
            let (lo, hi) = (slots[0].as_microsecond(), slots[slots.len() - 1].as_microsecond() + step);
            let newest =
                store.newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Price, (lo, hi), step)).await?;
            let by_start: std::collections::HashMap<i64, f64> =
                newest.iter().map(|b| (b.event_start_us, b.value)).collect();
            let missing: Vec<String> = slots
                .iter()
                .filter(|t| !by_start.contains_key(&t.as_microsecond()))
                .take(5)
                .map(|t| t.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(AppError::invalid(
                    "reference_series_id",
                    format!("series `{id}` has no price for slots {} of {day}", missing.join(", ")),
                ));
            }
            slots.iter().map(|t| by_start[&t.as_microsecond()]).collect()
        }
    };
    let config = c.simulation.clone().unwrap_or_default();
    SimulatedExchange::new(c.rules.clone(), c.market_type, config, day, reference)
        .map_err(|e| AppError::invalid("trading_date", e.to_string()))
}

/// A bid as a trader or strategy sends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBid {
    /// VPP that bids.
    pub vpp_id: String,
    /// Strategy that made the bid, if any.
    #[serde(default)]
    pub strategy_id: Option<String>,
    /// Market type; must match the connector's.
    pub market_type: MarketType,
    /// Connector; default the first connector of the market type.
    #[serde(default)]
    pub connector_id: Option<String>,
    /// Delivery day in the market's zone, `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub trading_date: Date,
    /// Price-quantity steps; several per slot make a bid curve.
    pub bids: Vec<BidStepRequest>,
}

/// The connector `id`, checked to trade `market`, or the first connector of
/// `market` when no id is given.
pub async fn connector_for(store: &Store, id: Option<&str>, market: MarketType) -> AppResult<Connector> {
    match id {
        Some(id) => {
            let c = store.get_connector(id).await.map_err(dangling("connector_id", "connector", id))?;
            if c.market_type != market {
                return Err(AppError::invalid(
                    "market_type",
                    format!("connector `{id}` trades {}, not {}", c.market_type.as_str(), market.as_str()),
                ));
            }
            Ok(c)
        }
        None => store.list_connectors().await?.into_iter().find(|c| c.market_type == market).ok_or_else(|| {
            AppError::invalid("market_type", format!("no connector is configured for {}", market.as_str()))
        }),
    }
}

/// What the VPP can offer in each of `slots` (one product each), kW, as
/// known at `now`: dispatchable members and storage as they stand now; PV
/// and wind at their newest forecast (known at `now`) over the slot, and
/// nothing where they have none (see [`available_per_slot`]).
pub async fn available_kw(
    store: &Store,
    vpp_id: &str,
    c: &Connector,
    slots: &[Timestamp],
    now: Timestamp,
) -> AppResult<Vec<SlotAvailability>> {
    let snapshot = store.load_fleet(vpp_id).await?;
    let fleet = &snapshot.fleet;
    let product_us = c.rules.product_minutes * 60_000_000;
    let spans: Vec<(i64, i64)> = slots.iter().map(|t| (t.as_microsecond(), t.as_microsecond() + product_us)).collect();
    let mut forecasts = HashMap::new();
    let weather: Vec<usize> =
        (0..fleet.len()).filter(|&i| fleet.is_weather_dependent(i) && fleet.is_online(i)).collect();
    if let (false, Some(first), Some(last)) = (weather.is_empty(), spans.first(), spans.last()) {
        let series: HashMap<String, (i64, i64)> = store
            .member_series(vpp_id, Quantity::Power)
            .await?
            .into_iter()
            .map(|(key, s, _)| (s.owner_id, (key, s.resolution_s * 1_000_000)))
            .collect();
        for i in weather {
            let Some(&(key, step_us)) = series.get(&snapshot.members[i].resource_id) else { continue };
            let beliefs = store.beliefs(key, &[SourceKind::Forecast], first.0 - step_us + 1, last.1).await?;
            let values = crate::series::pairs(&select_latest(&beliefs, SourceKind::Forecast, &View::AsOf(now)));
            forecasts.insert(i, (values, step_us));
        }
    }
    Ok(available_per_slot(fleet, c.rules.product_minutes as f64 / 60.0, &spans, &forecasts))
}

/// What the VPP can still offer per slot: `available` ([`available_kw`])
/// less the position its open and cleared bids already hold, MW.
pub fn room_per_slot(available: &[SlotAvailability], exposure: &vpp_domain::market::rules::Exposure) -> Vec<SlotRoom> {
    exposure
        .position_mw
        .iter()
        .zip(available)
        .map(|(pos, a)| {
            let held = pos.to_f64().unwrap_or(0.0);
            SlotRoom { sell_mw: a.up_kw / 1000.0 - held, buy_mw: a.down_kw / 1000.0 + held }
        })
        .collect()
}

/// What the VPP can still offer in each of `slots`, as known at `now`: its
/// available capacity ([`available_kw`]) less the position its open and
/// cleared bids already hold.
pub async fn slot_room(
    store: &Store,
    vpp_id: &str,
    c: &Connector,
    slots: &[Timestamp],
    exposure: &vpp_domain::market::rules::Exposure,
    now: Timestamp,
) -> AppResult<Vec<SlotRoom>> {
    Ok(room_per_slot(&available_kw(store, vpp_id, c, slots, now).await?, exposure))
}

/// Checks a bid against the connector's rules (gate closure at `now`,
/// products, ticks, limits, sizes), the VPP's room per slot (available
/// power after its open bids and cleared positions) and its risk limits,
/// hands it to the market unless it needs four eyes, and records it.
pub async fn place_bid(store: &Store, r: &SubmitBid, by: &Actor, now: Timestamp) -> AppResult<BidRecord> {
    let vpp = store.get_vpp(&r.vpp_id).await.map_err(dangling("vpp_id", "VPP", &r.vpp_id))?;
    if vpp.market_type != r.market_type {
        return Err(AppError::invalid(
            "market_type",
            format!("VPP `{}` serves {}, not {}", vpp.id, vpp.market_type.as_str(), r.market_type.as_str()),
        ));
    }
    let c = connector_for(store, r.connector_id.as_deref(), r.market_type).await?;
    if store.kill_switch().await?.active {
        return Err(AppError::conflict_at(
            "kill_switch",
            "the trading kill switch is set: new bids are refused until it is released",
        ));
    }
    let slots = c.rules.slots(r.trading_date).map_err(|e| AppError::invalid("trading_date", e.to_string()))?;
    let available = available_kw(store, &vpp.id, &c, &slots, now).await?;
    // Needed only when the bid goes to the market now (no four eyes); a
    // failure counts only then.
    let exchange = exchange_for(store, &c, r.trading_date).await;
    let scope = BidScope { vpp_id: &vpp.id, market: r.market_type, day: r.trading_date, slots: slots.len() };
    // Room, position and notional are checked inside the store's write
    // transaction, against the exposure as it stands there.
    store
        .insert_bid(scope, |exposure, limits| {
            let room = room_per_slot(&available, exposure);
            let checked = check_bid(&c.rules, r.market_type, r.trading_date, now, &r.bids, &room)?;
            let needs_approval = check_risk(limits, exposure, &checked, c.rules.product_hours())?;
            let exchange_ref = if needs_approval {
                None
            } else {
                Some(
                    exchange?
                        .submit_bids(r.trading_date, &checked.steps)
                        .map_err(|e| AppError::invalid("bids", e.to_string()))?,
                )
            };
            Ok::<_, AppError>(NewBid {
                vpp_id: vpp.id.clone(),
                connector_id: c.id.clone(),
                market_type: r.market_type,
                strategy_id: r.strategy_id.clone(),
                trading_date: r.trading_date,
                status: if needs_approval { BidStatus::PendingApproval } else { BidStatus::Submitted },
                gate_closure: checked.gate_closure,
                notional: notional(&checked.steps, c.rules.product_hours()),
                currency: c.rules.currency.clone(),
                submitted_by: by.name.clone(),
                submitted_party: by.party.clone(),
                exchange_ref,
                steps: checked.steps,
            })
        })
        .await
}

/// Approves a bid waiting for four eyes and hands it to the market. The
/// approver must be another party than the submitter: another user, and
/// not an API key of the submitter (nor the submitter approving their key's
/// bid). State, gate closure, kill switch and four eyes are checked in the
/// approval's write transaction.
pub async fn approve_bid(store: &Store, id: &str, by: &Actor, now: Timestamp) -> AppResult<BidRecord> {
    store
        .approve_bid(id, &by.name, &by.party, |b| {
            // Bids older than the party column are compared by name.
            let same = match &b.submitted_party {
                Some(party) => *party == by.party,
                None => b.submitted_by == by.name,
            };
            if same {
                return Err(AppError::Forbidden(format!(
                    "four eyes: `{}` submitted this bid, so `{}` (the same person) may not approve it",
                    b.submitted_by, by.name
                )));
            }
            if b.status != BidStatus::PendingApproval {
                return Err(AppError::invalid(
                    "status",
                    format!("bid `{id}` is {}, not PENDING_APPROVAL", b.status.as_str()),
                ));
            }
            if now >= b.gate_closure {
                return Err(AppError::invalid(
                    "status",
                    format!("rule gate_closure: bids for this day closed at {}", b.gate_closure),
                ));
            }
            if b.kill_switch {
                return Err(AppError::conflict_at("kill_switch", "the trading kill switch is set"));
            }
            Ok(())
        })
        .await
}

/// What clearing a day did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClearingSummary {
    /// Connector.
    pub connector_id: String,
    /// Delivery day.
    #[schema(value_type = String, format = Date)]
    pub trading_date: Date,
    /// Bids cleared.
    pub bids: usize,
    /// Trades recorded.
    pub trades: usize,
    /// Slots with a price.
    pub priced_slots: usize,
    /// Mean clearing price over priced slots, currency/MWh.
    pub mean_price: Option<f64>,
}

/// Runs the day's auction of a simulated connector over its SUBMITTED bids,
/// records fills, statuses and trades, and publishes the clearing prices
/// (and the imbalance prices derived from them) as `price` beliefs of the
/// market's series. Under a `fence` (the market job on the lease holder),
/// the clearing is written only while the lease is still held.
pub async fn clear_day(store: &Store, c: &Connector, day: Date, fence: Option<&Fence>) -> AppResult<ClearingSummary> {
    let exchange = exchange_for(store, c, day).await?;
    let bids = store.submitted_bids(&c.id, day).await?;
    let mut steps: Vec<BidStep> = Vec::new();
    let mut owners: Vec<(usize, usize)> = Vec::new();
    for (b, bid) in bids.iter().enumerate() {
        for (n, s) in bid.steps.iter().enumerate() {
            steps.push(s.step.clone());
            owners.push((b, n));
        }
    }
    let (exchange, steps, result) = tokio::task::spawn_blocking(move || {
        let r = exchange.fetch_results(day, &steps);
        (exchange, steps, r)
    })
    .await
    .map_err(|e| AppError::internal(format!("clearing task: {e}")))?;
    let result = result.map_err(|e| AppError::invalid("bids", e.to_string()))?;
    let now = vpp_store::now();
    let product = exchange.rules.product();
    let mut fills = Vec::with_capacity(steps.len());
    let mut trades = Vec::new();
    let mut accepted_by_bid = vec![(Decimal::ZERO, Decimal::ZERO); bids.len()];
    for ((award, step), &(b, n)) in result.awards.iter().zip(&steps).zip(&owners) {
        let bid = &bids[b];
        accepted_by_bid[b].0 += award.accepted_mw;
        accepted_by_bid[b].1 += step.quantity_mw;
        fills.push(StepFill {
            bid_id: bid.id.clone(),
            step_no: n,
            accepted_mw: award.accepted_mw,
            cleared_price: award.price,
            activated_mw: award.activated_mw,
        });
        let trade = |kind, quantity_mw, price| TradeRecord {
            id: vpp_store::new_id(),
            bid_id: Some(bid.id.clone()),
            vpp_id: Some(bid.vpp_id.clone()),
            connector_id: c.id.clone(),
            market_type: c.market_type,
            kind,
            side: step.side,
            delivery_start: step.time_slot,
            delivery_end: step.time_slot + product,
            price,
            quantity_mw,
            currency: c.rules.currency.clone(),
            executed_at: now,
            source: "auction".into(),
            external_id: None,
            settled: false,
        };
        if let (true, Some(price)) = (award.accepted_mw > Decimal::ZERO, award.price) {
            let kind = match c.market_type {
                MarketType::Spot => TradeKind::Energy,
                MarketType::Ancillary => TradeKind::ReserveCapacity,
                MarketType::Capacity => TradeKind::Capacity,
            };
            trades.push(trade(kind, award.accepted_mw, price));
        }
        if let (true, Some(price)) = (award.activated_mw > Decimal::ZERO, award.activation_price) {
            trades.push(trade(TradeKind::Activation, award.activated_mw, price));
        }
    }
    let statuses: Vec<(String, BidStatus)> = bids
        .iter()
        .zip(&accepted_by_bid)
        .map(|(bid, (accepted, offered))| {
            let status = if accepted.is_zero() {
                BidStatus::NotCleared
            } else if accepted >= offered {
                BidStatus::Cleared
            } else {
                BidStatus::PartiallyCleared
            };
            (bid.id.clone(), status)
        })
        .collect();
    let clearing = Clearing { slots: &result.slots, fills: &fills, statuses: &statuses, trades: &trades };
    store.record_clearing(&c.id, day, clearing, fence).await?;
    publish_prices(store, c, &exchange, day, &result.slots).await?;
    if c.market_type == MarketType::Spot {
        let vpps: std::collections::BTreeSet<&str> = bids.iter().map(|b| b.vpp_id.as_str()).collect();
        for vpp in vpps {
            record_commitment(store, vpp, c, day, &result.slots).await?;
        }
    }
    let priced: Vec<f64> = result.slots.iter().filter_map(|s| s.price.and_then(|p| p.to_f64())).collect();
    Ok(ClearingSummary {
        connector_id: c.id.clone(),
        trading_date: day,
        bids: bids.len(),
        trades: trades.len(),
        priced_slots: priced.len(),
        mean_price: (!priced.is_empty()).then(|| priced.iter().sum::<f64>() / priced.len() as f64),
    })
}

/// Writes a VPP's cleared day-ahead position as its commitment: `schedule`
/// beliefs of the VPP's power series, kW per slot (sold − bought, positive =
/// injection). The closed loop re-dispatches to hold it.
async fn record_commitment(
    store: &Store,
    vpp_id: &str,
    c: &Connector,
    day: Date,
    slots: &[vpp_domain::market::exchange::SlotResult],
) -> AppResult<()> {
    let vpp = store.get_vpp(vpp_id).await?;
    let position = store.exposure(vpp_id, c.market_type, day, slots.len()).await?;
    let (key, _) =
        store.ensure_series(OwnerKind::Vpp, vpp_id, Quantity::Power, &format!("{} commitment", vpp.name)).await?;
    let now = vpp_store::now().as_microsecond();
    let beliefs: Vec<Belief> = slots
        .iter()
        .zip(&position.position_mw)
        .filter_map(|(s, mw)| {
            Some(Belief {
                event_start_us: s.time_slot.as_microsecond(),
                belief_time_us: now,
                source: SourceKind::Schedule,
                value: mw.to_f64()? * 1000.0,
            })
        })
        .collect();
    store.insert_beliefs(key, &beliefs).await?;
    Ok(())
}

/// Stores clearing prices in the market's price series, and for day-ahead
/// markets the simulated imbalance prices (as final prices) in its
/// imbalance series.
async fn publish_prices(
    store: &Store,
    c: &Connector,
    exchange: &SimulatedExchange,
    day: Date,
    slots: &[vpp_domain::market::exchange::SlotResult],
) -> AppResult<()> {
    let unit_name = format!("{} prices", c.name);
    let (key, _) = store.ensure_series(OwnerKind::Market, &c.id, Quantity::Price, &unit_name).await?;
    let now = vpp_store::now().as_microsecond();
    let beliefs: Vec<Belief> = slots
        .iter()
        .filter_map(|s| {
            Some(Belief {
                event_start_us: s.time_slot.as_microsecond(),
                belief_time_us: now,
                source: SourceKind::Price,
                value: s.price?.to_f64()?,
            })
        })
        .collect();
    store.insert_beliefs(key, &beliefs).await?;
    if c.market_type == MarketType::Spot {
        let imbalance = exchange.fetch_settlement(day).map_err(|e| AppError::invalid("trading_date", e.to_string()))?;
        let owner = imbalance_owner(&c.id);
        let (key, _) =
            store.ensure_series(OwnerKind::Market, &owner, Quantity::Price, &format!("{} imbalance", c.name)).await?;
        let beliefs: Vec<Belief> = imbalance
            .iter()
            .filter_map(|(t, p)| {
                Some(Belief {
                    event_start_us: t.as_microsecond(),
                    belief_time_us: now,
                    source: SourceKind::Price,
                    value: p.to_f64()?,
                })
            })
            .collect();
        store.insert_beliefs(key, &beliefs).await?;
    }
    Ok(())
}

/// Settles a VPP over `[start, end)` in quarter-hours against the imbalance
/// prices of `imbalance_connector`: trades from every market, delivered
/// energy from the members' measurements (meter final, else live
/// measurements covering 90 % of the interval), weighted by allocation.
/// Missing measurements or prices refuse the run, naming the intervals.
pub async fn settle_vpp(
    store: &Store,
    vpp_id: &str,
    imbalance_connector: &Connector,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<Vec<SettlementRecord>> {
    store.get_vpp(vpp_id).await?;
    let grid = Grid::between(start, end, 900);
    if grid.n == 0 || grid.n > 31 * 100 {
        return Err(AppError::invalid("end", "the period must hold 1 to 3,100 quarter-hours (about a month)"));
    }
    let trades = store
        .list_trades(&TradeFilter {
            vpp_id: Some(vpp_id.into()),
            from: Some(start - SignedDuration::from_hours(24)),
            to: Some(end),
            ..TradeFilter::default()
        })
        .await?;
    let lines: Vec<TradeLine> = trades.iter().map(TradeRecord::line).collect();
    let position = spread(&grid, &lines).map_err(|e| AppError::invalid("trades", e.to_string()))?;
    // Delivered energy: Σ member mean kW × 0.25 h × ratio, in Wh.
    let mut delivered: Vec<Option<i64>> = vec![Some(0); grid.n];
    let members = store.member_series(vpp_id, Quantity::Power).await?;
    if members.is_empty() {
        return Err(AppError::invalid(
            "vpp_id",
            format!("VPP `{vpp_id}` has no member with a power series to measure"),
        ));
    }
    for (key, series, ratio) in &members {
        let beliefs =
            store.beliefs(*key, &[SourceKind::MeterFinal], start.as_microsecond(), end.as_microsecond()).await?;
        let measured = crate::series::measured(store, *key, series, start, end, &beliefs).await?;
        let by_start: std::collections::HashMap<i64, f64> = measured.into_iter().collect();
        for (k, d) in delivered.iter_mut().enumerate() {
            let t = grid.at(k).as_microsecond();
            *d = match (*d, by_start.get(&t)) {
                (Some(sum), Some(kw)) => Some(sum + (kw * 0.25 * 1000.0 * ratio).round() as i64),
                _ => None,
            };
        }
    }
    let (_, imbalance_series) =
        match store.find_series(OwnerKind::Market, &imbalance_owner(&imbalance_connector.id), Quantity::Price).await? {
            Some(found) => found,
            None => {
                return Err(AppError::invalid(
                    "connector_id",
                    format!("connector `{}` has published no imbalance prices yet", imbalance_connector.id),
                ));
            }
        };
    let (key, _) = store.get_series(&imbalance_series.id).await?;
    let (lo, hi, step) = (start.as_microsecond(), end.as_microsecond(), 900_000_000);
    let column = |values: Vec<vpp_domain::series::Selected>| -> Vec<Option<i64>> {
        let by_start: std::collections::HashMap<i64, f64> =
            values.iter().map(|v| (v.event_start_us, v.value)).collect();
        (0..grid.n)
            .map(|k| {
                let p = *by_start.get(&grid.at(k).as_microsecond())?;
                price_milli(Decimal::try_from(p).ok()?.round_dp(3))
            })
            .collect()
    };
    let finals = store.newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Price, (lo, hi), step)).await?;
    let estimates =
        store.newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Forecast, (lo, hi), step)).await?;
    let prices = ImbalancePrices { final_milli: column(finals), estimate_milli: column(estimates) };
    let (rows, _) = settle(&grid, &position, &delivered, &prices, imbalance_connector.rules.fee_per_mwh)
        .map_err(|e| AppError::invalid("period", e.to_string()))?;
    Ok(store.save_settlement(vpp_id, &imbalance_connector.rules.currency, start, end, &rows).await?)
}

/// Clears every simulated connector's delivery days (yesterday to the day
/// after tomorrow in the market's zone) whose gate closure has passed and
/// that still hold SUBMITTED bids or have no published result yet, under
/// `fence` if given (see [`clear_day`]).
pub async fn clearing_cycle(store: &Store, now: Timestamp, fence: Option<&Fence>) -> AppResult<Vec<ClearingSummary>> {
    let mut done = Vec::new();
    for c in store.list_connectors().await? {
        if c.kind != ConnectorKind::Simulated {
            continue;
        }
        let Ok(tz) = c.rules.zone() else { continue };
        let today = now.to_zoned(tz).date();
        for offset in -1..=2i64 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(offset)) else { continue };
            let Ok(slots) = c.rules.slots(day) else { continue };
            let Ok(closure) = c.rules.gate_closure_at(day, slots[0]) else { continue };
            if now < closure {
                continue;
            }
            let pending = !store.submitted_bids(&c.id, day).await?.is_empty();
            if pending || store.clearing(&c.id, day).await?.is_none() {
                done.push(clear_day(store, &c, day, fence).await?);
            }
        }
    }
    Ok(done)
}

/// The next delivery day still open on `connector` at `now`, unless VPP
/// `vpp_id` has bid for it already: the day a trader (the demo's, or an
/// ACTIVE strategy) bids next, or `None` when there is nothing to do.
pub async fn day_to_bid(store: &Store, vpp_id: &str, connector: &Connector, now: Timestamp) -> AppResult<Option<Date>> {
    let (day, _) = connector.rules.next_open_day(now).map_err(|e| AppError::invalid("time_zone", e.to_string()))?;
    let filter = vpp_store::BidFilter {
        vpp_id: Some(vpp_id.to_string()),
        trading_date: Some(day),
        limit: 1,
        ..Default::default()
    };
    Ok(store.list_bids(&filter).await?.is_empty().then_some(day))
}

/// The first day of month `month` (`YYYY-MM`), checked.
pub fn parse_month(month: &str) -> AppResult<Date> {
    let bad = || AppError::invalid("month", format!("`{month}` is not a month like 2026-11"));
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Date::new(y, m, 1).map_err(|_| bad())
}

/// Invoices of every contract (or one) for a month in the market zone
/// (Europe/Berlin): production from each asset's measurements (meter final,
/// else live measurements covering 90 % of the quarter-hour), market prices
/// from the quarter-hourly VWAP of all energy trades, else the day-ahead
/// clearing price, redispatch flags and forecasts from the asset's power
/// series.
pub async fn invoices_for_month(
    store: &Store,
    month: &str,
    contract_id: Option<&str>,
    default_vat_pct: Decimal,
) -> AppResult<Vec<vpp_domain::market::invoice::Invoice>> {
    use vpp_domain::market::analysis::analyse;
    use vpp_domain::market::invoice::{Quarter, invoice};
    if default_vat_pct < Decimal::ZERO || default_vat_pct > Decimal::ONE_HUNDRED {
        return Err(AppError::invalid("vat_pct", "must be 0..100"));
    }
    let first = parse_month(month)?;
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").map_err(AppError::internal)?;
    let start = first.to_zoned(tz.clone()).map_err(AppError::internal)?.timestamp();
    let next = first.last_of_month().tomorrow().map_err(AppError::internal)?;
    let end = next.to_zoned(tz.clone()).map_err(AppError::internal)?.timestamp();
    let grid = Grid::between(start, end, 900);
    // Market price per quarter-hour: VWAP of all energy trades, else the clearing price.
    let trades = store
        .list_trades(&TradeFilter {
            from: Some(start - SignedDuration::from_hours(24)),
            to: Some(end),
            ..TradeFilter::default()
        })
        .await?;
    let lines: Vec<TradeLine> = trades.iter().filter(|t| t.kind == TradeKind::Energy).map(TradeRecord::line).collect();
    let (per, _) = analyse(&grid, &lines).map_err(|e| AppError::invalid("trades", e.to_string()))?;
    // The market price per quarter-hour, and the index it comes from: the
    // public trades' VWAP where an exchange's public export was imported,
    // else the VWAP of vpp's own trades, else the day-ahead clearing price.
    let (lo, hi) = (start.as_microsecond(), end.as_microsecond());
    let mut market: Vec<Option<(Decimal, String)>> = vec![None; grid.n];
    let mut fill = |values: Vec<(i64, f64)>, index: &str, dp: u32| {
        for (t, v) in values {
            let k = ((t - lo) / 900_000_000) as usize;
            if let (Some(slot @ None), Ok(p)) = (market.get_mut(k), Decimal::try_from(v)) {
                *slot = Some((p.round_dp(dp), index.to_string()));
            }
        }
    };
    // Invoices are in EUR: only indices in EUR price them.
    for c in store.list_connectors().await?.into_iter().filter(|c| c.rules.currency == "EUR") {
        if let Some((key, _)) = store.find_series(OwnerKind::Market, &vwap_owner(&c.id), Quantity::Price).await? {
            let index = store
                .newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Price, (lo, hi), 900_000_000))
                .await?;
            fill(
                index.iter().map(|b| (b.event_start_us, b.value)).collect(),
                &format!("public trades VWAP ({})", c.name),
                4,
            );
        }
    }
    let own: Vec<(i64, f64)> =
        per.iter().enumerate().filter_map(|(k, f)| Some((grid.at(k).as_microsecond(), f.vwap?.to_f64()?))).collect();
    fill(own, "own trades VWAP", 4);
    if let Ok(spot) = connector_for(store, None, MarketType::Spot).await
        && let Some((key, _)) = store.find_series(OwnerKind::Market, &spot.id, Quantity::Price).await?
    {
        let cleared = store
            .newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Price, (lo, hi), 900_000_000))
            .await?;
        fill(
            cleared.iter().map(|b| (b.event_start_us, b.value)).collect(),
            &format!("day-ahead clearing ({})", spot.name),
            3,
        );
    }
    let mut by_contract: std::collections::BTreeMap<String, Vec<vpp_domain::market::invoice::Contract>> =
        Default::default();
    for c in store.list_contracts().await? {
        if contract_id.is_none_or(|id| id == c.contract_id) {
            by_contract.entry(c.contract_id.clone()).or_default().push(c);
        }
    }
    if let Some(id) = contract_id
        && by_contract.is_empty()
    {
        return Err(AppError::not_found("contract", id));
    }
    let mwh = |kw: f64| Decimal::try_from(kw * 0.25 / 1000.0).ok().map(|d| d.round_dp(6));
    let mut out = Vec::new();
    for versions in by_contract.values() {
        if versions.iter().all(|c| c.valid_from > first.last_of_month()) {
            continue;
        }
        let resource = store.get_resource(&versions[0].resource_id).await?;
        let (mut produced, mut forecast, mut flagged) = (vec![None; grid.n], vec![None; grid.n], vec![false; grid.n]);
        if let Some((key, series)) = store.find_series(OwnerKind::Resource, &resource.id, Quantity::Power).await? {
            let (lo, hi) = (start.as_microsecond(), end.as_microsecond());
            let finals = store.beliefs(key, &[SourceKind::MeterFinal], lo, hi).await?;
            let index = |t: i64| ((t - lo) / 900_000_000) as usize;
            for (t, kw) in crate::series::measured(store, key, &series, start, end, &finals).await? {
                if let Some(p) = produced.get_mut(index(t)) {
                    *p = mwh(kw);
                }
            }
            for b in store
                .newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Forecast, (lo, hi), 900_000_000))
                .await?
            {
                if let Some(f) = forecast.get_mut(index(b.event_start_us)) {
                    *f = mwh(b.value);
                }
            }
            for b in store
                .newest_beliefs(&vpp_store::BeliefQuery::latest(key, SourceKind::Flag, (lo, hi), 900_000_000))
                .await?
            {
                if let Some(f) = flagged.get_mut(index(b.event_start_us)) {
                    *f = b.value == 1.0;
                }
            }
        }
        let quarters: Vec<Quarter> = (0..grid.n)
            .map(|k| Quarter {
                day: grid.at(k).to_zoned(tz.clone()).date(),
                produced_mwh: produced[k],
                market_price: market[k].as_ref().map(|m| m.0),
                market_index: market[k].as_ref().map(|m| m.1.clone()),
                redispatched: flagged[k],
                forecast_mwh: forecast[k],
            })
            .collect();
        let capacity = Decimal::try_from(resource.capacity_kw / 1000.0).unwrap_or_default().round_dp(6);
        if let Some(inv) = invoice(versions, month, &quarters, capacity, "EUR", default_vat_pct) {
            out.push(inv);
        }
    }
    Ok(out)
}
