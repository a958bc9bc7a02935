//! Markets: connectors, bids and their steps, auction results, trades, risk
//! limits, the kill switch and settlement records.
//!
//! Every change that must hold together (a bid with its steps, an auction
//! result with its step fills, bid statuses and trades, the kill switch with
//! the cancellation of open bids, a settlement run) is one transaction.

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::Invalid;
use vpp_domain::market::auction::Side;
use vpp_domain::market::connector::Connector;
use vpp_domain::market::exchange::SlotResult;
use vpp_domain::market::invoice::Contract;
pub use vpp_domain::market::records::{BidRecord, KillSwitch, SettlementRecord, StepRecord, TradeRecord};
use vpp_domain::market::rules::{BidStatus, BidStep, Exposure, RiskLimits};
use vpp_domain::market::settlement::{IntervalSettlement, PriceSource, TradeKind};
use vpp_domain::vpp::MarketType;

use crate::{
    Result, Store, StoreError, WriteTx, from_json, from_micros, new_id, parse_enum, to_json, to_micros, unique,
};

/// What four eyes looks at, read in the approval's write transaction.
#[derive(Debug, Clone)]
pub struct PendingApproval {
    /// The bid's state.
    pub status: BidStatus,
    /// Gate closure of its first slot.
    pub gate_closure: Timestamp,
    /// Who submitted it.
    pub submitted_by: String,
    /// The accountable party; none on bids older than this record.
    pub submitted_party: Option<String>,
    /// Whether the trading kill switch is set.
    pub kill_switch: bool,
}

/// What the server hands the store to record a new bid.
#[derive(Debug, Clone)]
pub struct NewBid {
    /// VPP.
    pub vpp_id: String,
    /// Connector.
    pub connector_id: String,
    /// Market type.
    pub market_type: MarketType,
    /// Strategy, if any.
    pub strategy_id: Option<String>,
    /// Delivery day.
    pub trading_date: Date,
    /// PENDING_APPROVAL or SUBMITTED.
    pub status: BidStatus,
    /// Gate closure of its first slot.
    pub gate_closure: Timestamp,
    /// Notional.
    pub notional: Decimal,
    /// Currency.
    pub currency: String,
    /// Who submits.
    pub submitted_by: String,
    /// The party accountable for it (see `vpp_app::Actor`), compared by
    /// four eyes.
    pub submitted_party: String,
    /// The market's reference, if it was handed over already.
    pub exchange_ref: Option<String>,
    /// Steps.
    pub steps: Vec<BidStep>,
}

/// Which bids to list.
#[derive(Debug, Clone, Default)]
pub struct BidFilter {
    /// Only this VPP.
    pub vpp_id: Option<String>,
    /// Only this market type.
    pub market_type: Option<MarketType>,
    /// Only this delivery day.
    pub trading_date: Option<Date>,
    /// Only this status.
    pub status: Option<BidStatus>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Which trades to list.
#[derive(Debug, Clone, Default)]
pub struct TradeFilter {
    /// Only this VPP.
    pub vpp_id: Option<String>,
    /// Only this connector.
    pub connector_id: Option<String>,
    /// Only this market type.
    pub market_type: Option<MarketType>,
    /// Delivery starting at or after.
    pub from: Option<Timestamp>,
    /// Delivery starting before.
    pub to: Option<Timestamp>,
}

/// What the auction gave one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFill {
    /// Bid.
    pub bid_id: String,
    /// Step number in the bid.
    pub step_no: usize,
    /// Accepted, MW.
    pub accepted_mw: Decimal,
    /// Price paid, if anything was accepted.
    pub cleared_price: Option<Decimal>,
    /// Activated, MW.
    pub activated_mw: Decimal,
}

fn decimal(r: &AnyRow, col: &str) -> Result<Decimal> {
    let text: String = r.try_get(col)?;
    text.parse().map_err(|e| StoreError::Corrupt(format!("{col}: `{text}`: {e}")))
}

fn opt_decimal(r: &AnyRow, col: &str) -> Result<Option<Decimal>> {
    let text: Option<String> = r.try_get(col)?;
    text.map(|t| t.parse().map_err(|e| StoreError::Corrupt(format!("{col}: `{t}`: {e}")))).transpose()
}

fn date(r: &AnyRow, col: &str) -> Result<Date> {
    let text: String = r.try_get(col)?;
    text.parse().map_err(|e| StoreError::Corrupt(format!("{col}: `{text}`: {e}")))
}

const BID_COLUMNS: &str = "id, vpp_id, connector_id, market_type, strategy_id, trading_date, status, gate_closure, \
     notional, currency, submitted_by, approved_by, cancelled_by, exchange_ref, created_at, updated_at";

macro_rules! select_bids {
    ($rest:literal) => {
        concat!(
            "SELECT id, vpp_id, connector_id, market_type, strategy_id, trading_date, status, gate_closure, ",
            "notional, currency, submitted_by, approved_by, cancelled_by, exchange_ref, created_at, updated_at ",
            "FROM bids ",
            $rest
        )
    };
}

fn bid_from_row(r: &AnyRow, steps: Vec<StepRecord>) -> Result<BidRecord> {
    Ok(BidRecord {
        id: r.try_get("id")?,
        vpp_id: r.try_get("vpp_id")?,
        connector_id: r.try_get("connector_id")?,
        market_type: parse_enum(r, "market_type", MarketType::parse)?,
        strategy_id: r.try_get("strategy_id")?,
        trading_date: date(r, "trading_date")?,
        status: parse_enum(r, "status", BidStatus::parse)?,
        gate_closure: from_micros(r.try_get("gate_closure")?)?,
        notional: decimal(r, "notional")?,
        currency: r.try_get("currency")?,
        submitted_by: r.try_get("submitted_by")?,
        approved_by: r.try_get("approved_by")?,
        cancelled_by: r.try_get("cancelled_by")?,
        exchange_ref: r.try_get("exchange_ref")?,
        created_at: from_micros(r.try_get("created_at")?)?,
        updated_at: from_micros(r.try_get("updated_at")?)?,
        steps,
    })
}

fn step_from_row(r: &AnyRow) -> Result<StepRecord> {
    Ok(StepRecord {
        step: BidStep {
            time_slot: from_micros(r.try_get("time_slot")?)?,
            slot_index: u32::try_from(r.try_get::<i64, _>("slot_index")?)
                .map_err(|_| StoreError::Corrupt("slot_index".into()))?,
            side: parse_enum(r, "side", Side::parse)?,
            price: decimal(r, "price")?,
            quantity_mw: decimal(r, "quantity_mw")?,
            activation_price: opt_decimal(r, "activation_price")?,
        },
        accepted_mw: opt_decimal(r, "accepted_mw")?,
        cleared_price: opt_decimal(r, "cleared_price")?,
        activated_mw: opt_decimal(r, "activated_mw")?,
    })
}

const TRADE_COLUMNS: &str = "id, bid_id, vpp_id, connector_id, market_type, kind, side, delivery_start, delivery_end, \
     price, quantity_mw, currency, executed_at, source, external_id, settled";

fn trade_from_row(r: &AnyRow) -> Result<TradeRecord> {
    Ok(TradeRecord {
        id: r.try_get("id")?,
        bid_id: r.try_get("bid_id")?,
        vpp_id: r.try_get("vpp_id")?,
        connector_id: r.try_get("connector_id")?,
        market_type: parse_enum(r, "market_type", MarketType::parse)?,
        kind: parse_enum(r, "kind", TradeKind::parse)?,
        side: parse_enum(r, "side", Side::parse)?,
        delivery_start: from_micros(r.try_get("delivery_start")?)?,
        delivery_end: from_micros(r.try_get("delivery_end")?)?,
        price: decimal(r, "price")?,
        quantity_mw: decimal(r, "quantity_mw")?,
        currency: r.try_get("currency")?,
        executed_at: from_micros(r.try_get("executed_at")?)?,
        source: r.try_get("source")?,
        external_id: r.try_get("external_id")?,
        settled: r.try_get::<i64, _>("settled")? != 0,
    })
}

async fn steps_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(ex: E, bid_id: &str) -> Result<Vec<StepRecord>> {
    let rows = sqlx::query(
        "SELECT time_slot, slot_index, side, price, quantity_mw, activation_price, accepted_mw, cleared_price, \
         activated_mw FROM bid_steps WHERE bid_id = $1 ORDER BY step_no",
    )
    .bind(bid_id.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(step_from_row).collect()
}

async fn insert_trade(w: &mut WriteTx<'_>, t: &TradeRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO trades (id, bid_id, vpp_id, connector_id, market_type, kind, side, delivery_start, \
         delivery_end, price, quantity_mw, currency, executed_at, source, external_id, settled) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(t.id.clone())
    .bind(t.bid_id.clone())
    .bind(t.vpp_id.clone())
    .bind(t.connector_id.clone())
    .bind(t.market_type.as_str())
    .bind(t.kind.as_str())
    .bind(t.side.as_str())
    .bind(to_micros(t.delivery_start))
    .bind(to_micros(t.delivery_end))
    .bind(t.price.to_string())
    .bind(t.quantity_mw.to_string())
    .bind(t.currency.clone())
    .bind(to_micros(t.executed_at))
    .bind(t.source.clone())
    .bind(t.external_id.clone())
    .bind(i64::from(t.settled))
    .execute(&mut *w.tx)
    .await
    .map_err(unique("trade", "external_id", t.external_id.as_deref().unwrap_or("")))?;
    Ok(())
}

/// What an auction produced, as [`Store::record_clearing`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct Clearing<'a> {
    /// The published result of every slot.
    pub slots: &'a [SlotResult],
    /// Every step's fill.
    pub fills: &'a [StepFill],
    /// Each bid's new status.
    pub statuses: &'a [(String, BidStatus)],
    /// The trades.
    pub trades: &'a [TradeRecord],
}

impl Store {
    /// Stores a new connector; its name must be unique.
    pub async fn create_connector(&self, c: &Connector) -> Result<Connector> {
        sqlx::query(
            "INSERT INTO market_connectors (id, name, market_type, kind, document, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.id.clone())
        .bind(c.name.clone())
        .bind(c.market_type.as_str())
        .bind(c.kind.as_str())
        .bind(to_json(c))
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await
        .map_err(unique("market connector", "name", &c.name))?;
        self.get_connector(&c.id).await
    }

    /// Every connector, oldest first.
    pub async fn list_connectors(&self) -> Result<Vec<Connector>> {
        let rows =
            sqlx::query("SELECT document FROM market_connectors ORDER BY created_at, id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| from_json(r, "document")).collect()
    }

    /// One connector.
    pub async fn get_connector(&self, id: &str) -> Result<Connector> {
        let row = sqlx::query("SELECT document FROM market_connectors WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "market connector", id: id.into() })?;
        from_json(&row, "document")
    }

    /// The risk limits of a VPP on a market (none set: no limits).
    pub async fn risk_limits(&self, vpp_id: &str, market: MarketType) -> Result<RiskLimits> {
        risk_limits_on(&self.pool, vpp_id, market).await
    }

    /// Replaces the risk limits of a VPP on a market.
    pub async fn set_risk_limits(&self, vpp_id: &str, market: MarketType, limits: &RiskLimits, by: &str) -> Result<()> {
        self.get_vpp(vpp_id).await?;
        sqlx::query(
            "INSERT INTO risk_limits (vpp_id, market_type, document, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (vpp_id, market_type) DO UPDATE SET document = $3, updated_by = $4, updated_at = $5",
        )
        .bind(vpp_id.to_string())
        .bind(market.as_str())
        .bind(to_json(limits))
        .bind(by.to_string())
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The kill switch.
    pub async fn kill_switch(&self) -> Result<KillSwitch> {
        let r = sqlx::query("SELECT kill_switch, reason, changed_by, changed_at FROM trading_controls WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(KillSwitch {
            active: r.try_get::<i64, _>("kill_switch")? != 0,
            reason: r.try_get("reason")?,
            changed_by: r.try_get("changed_by")?,
            changed_at: r.try_get::<Option<i64>, _>("changed_at")?.map(from_micros).transpose()?,
        })
    }

    /// Sets or releases the kill switch. Setting it cancels every open bid in
    /// the same transaction; returns the switch and the cancelled bid ids.
    pub async fn set_kill_switch(
        &self,
        active: bool,
        reason: Option<&str>,
        by: &str,
    ) -> Result<(KillSwitch, Vec<String>)> {
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE trading_controls SET kill_switch = $1, reason = $2, changed_by = $3, changed_at = $4 WHERE id = 1",
        )
        .bind(i64::from(active))
        .bind(reason.map(str::to_string))
        .bind(by.to_string())
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        let mut cancelled = Vec::new();
        if active {
            let rows = sqlx::query("SELECT id FROM bids WHERE status IN ('PENDING_APPROVAL', 'SUBMITTED') ORDER BY id")
                .fetch_all(&mut *w.tx)
                .await?;
            for r in rows {
                cancelled.push(r.try_get::<String, _>("id")?);
            }
            sqlx::query(
                "UPDATE bids SET status = 'CANCELLED', cancelled_by = 'kill-switch', updated_at = $1 \
                 WHERE status IN ('PENDING_APPROVAL', 'SUBMITTED')",
            )
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        }
        w.tx.commit().await?;
        Ok((self.kill_switch().await?, cancelled))
    }

    /// What the VPP already holds on a market and day: the net position per
    /// slot (open bids in full, cleared bids as accepted) and the notional
    /// of its live bids.
    pub async fn exposure(&self, vpp_id: &str, market: MarketType, day: Date, slots: usize) -> Result<Exposure> {
        exposure_on(&self.pool, &BidScope { vpp_id, market, day, slots }).await
    }

    /// Records a bid and its steps, after `check` has passed it against the
    /// VPP's exposure and risk limits as they stand inside the write
    /// transaction: concurrent bids are checked one after another, so none
    /// spends room, position or notional that another already took.
    /// Refused while the kill switch is set (checked in the same
    /// transaction, so a switch set meanwhile wins).
    pub async fn insert_bid<E: From<StoreError>>(
        &self,
        scope: BidScope<'_>,
        check: impl FnOnce(&Exposure, &RiskLimits) -> std::result::Result<NewBid, E>,
    ) -> std::result::Result<BidRecord, E> {
        let id = new_id();
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        let kill: i64 = sqlx::query("SELECT kill_switch FROM trading_controls WHERE id = 1")
            .fetch_one(&mut *w.tx)
            .await
            .map_err(StoreError::from)?
            .try_get("kill_switch")
            .map_err(StoreError::from)?;
        if kill != 0 {
            return Err(StoreError::Conflict {
                field: Some("kill_switch".into()),
                message: "the trading kill switch is set: new bids are refused until it is released".into(),
            }
            .into());
        }
        // The room, the position and the notional are read here, under the
        // write lock, so two bids cannot both spend what only one may.
        let exposure = exposure_on(&mut *w.tx, &scope).await?;
        let limits = risk_limits_on(&mut *w.tx, scope.vpp_id, scope.market).await?;
        let b = check(&exposure, &limits)?;
        self.insert_bid_rows(&mut w, &id, &b, now).await?;
        w.tx.commit().await.map_err(StoreError::from)?;
        Ok(self.get_bid(&id).await?)
    }

    async fn insert_bid_rows(&self, w: &mut WriteTx<'_>, id: &str, b: &NewBid, now: i64) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO bids ({BID_COLUMNS}, submitted_party) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, $12, $13, $13, $14)"
        )))
        .bind(id.to_string())
        .bind(b.vpp_id.clone())
        .bind(b.connector_id.clone())
        .bind(b.market_type.as_str())
        .bind(b.strategy_id.clone())
        .bind(b.trading_date.to_string())
        .bind(b.status.as_str())
        .bind(to_micros(b.gate_closure))
        .bind(b.notional.to_string())
        .bind(b.currency.clone())
        .bind(b.submitted_by.clone())
        .bind(b.exchange_ref.clone())
        .bind(now)
        .bind(b.submitted_party.clone())
        .execute(&mut *w.tx)
        .await?;
        for (n, s) in b.steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO bid_steps (bid_id, step_no, time_slot, slot_index, side, price, quantity_mw, activation_price) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id.to_string())
            .bind(n as i64)
            .bind(to_micros(s.time_slot))
            .bind(i64::from(s.slot_index))
            .bind(s.side.as_str())
            .bind(s.price.to_string())
            .bind(s.quantity_mw.to_string())
            .bind(s.activation_price.map(|p| p.to_string()))
            .execute(&mut *w.tx)
            .await?;
        }
        Ok(())
    }

    /// One bid with its steps.
    pub async fn get_bid(&self, id: &str) -> Result<BidRecord> {
        let row = sqlx::query(select_bids!("WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { entity: "bid", id: id.into() })?;
        bid_from_row(&row, steps_of(&self.pool, id).await?)
    }

    /// Bids, newest first.
    pub async fn list_bids(&self, f: &BidFilter) -> Result<Vec<BidRecord>> {
        let rows = sqlx::query(select_bids!(
            "WHERE ($1 = '' OR vpp_id = $1) AND ($2 = '' OR market_type = $2) AND ($3 = '' OR trading_date = $3) \
             AND ($4 = '' OR status = $4) ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(f.vpp_id.clone().unwrap_or_default())
        .bind(f.market_type.map_or("", MarketType::as_str))
        .bind(f.trading_date.map(|d| d.to_string()).unwrap_or_default())
        .bind(f.status.map_or("", BidStatus::as_str))
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        self.with_steps(&rows).await
    }

    /// Bids of `rows` with their steps.
    async fn with_steps(&self, rows: &[AnyRow]) -> Result<Vec<BidRecord>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            out.push(bid_from_row(r, steps_of(&self.pool, &id).await?)?);
        }
        Ok(out)
    }

    /// The SUBMITTED bids of a connector for a delivery day, oldest first.
    pub async fn submitted_bids(&self, connector_id: &str, day: Date) -> Result<Vec<BidRecord>> {
        let rows = sqlx::query(select_bids!(
            "WHERE connector_id = $1 AND trading_date = $2 AND status = 'SUBMITTED' ORDER BY created_at, id"
        ))
        .bind(connector_id.to_string())
        .bind(day.to_string())
        .fetch_all(&self.pool)
        .await?;
        self.with_steps(&rows).await
    }

    /// Approves a bid waiting for four eyes: in one write transaction it
    /// reads the bid and the kill switch, lets `check` refuse (state, gate
    /// closure, who submitted it) and moves the bid to SUBMITTED, recording
    /// the approver's name and party. A bid approved or cancelled meanwhile,
    /// or a kill switch set meanwhile, cannot slip between check and write.
    pub async fn approve_bid<E: From<StoreError>>(
        &self,
        id: &str,
        by: &str,
        party: &str,
        check: impl FnOnce(&PendingApproval) -> std::result::Result<(), E>,
    ) -> std::result::Result<BidRecord, E> {
        let mut w = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT b.status, b.gate_closure, b.submitted_by, b.submitted_party, t.kill_switch \
             FROM bids b, trading_controls t WHERE b.id = $1 AND t.id = 1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| StoreError::NotFound { entity: "bid", id: id.into() })?;
        let pending = PendingApproval {
            status: parse_enum(&row, "status", BidStatus::parse)?,
            gate_closure: from_micros(row.try_get("gate_closure").map_err(StoreError::from)?)?,
            submitted_by: row.try_get("submitted_by").map_err(StoreError::from)?,
            submitted_party: row.try_get("submitted_party").map_err(StoreError::from)?,
            kill_switch: row.try_get::<i64, _>("kill_switch").map_err(StoreError::from)? != 0,
        };
        check(&pending)?;
        sqlx::query(
            "UPDATE bids SET status = 'SUBMITTED', approved_by = $1, approved_party = $2, updated_at = $3 \
             WHERE id = $4 AND status = 'PENDING_APPROVAL'",
        )
        .bind(by.to_string())
        .bind(party.to_string())
        .bind(to_micros(crate::now()))
        .bind(id.to_string())
        .execute(&mut *w.tx)
        .await
        .map_err(StoreError::from)?;
        w.tx.commit().await.map_err(StoreError::from)?;
        Ok(self.get_bid(id).await?)
    }

    /// Cancels a bid that is in state `from`, recording who did it; any
    /// other state refuses with the state named.
    pub async fn cancel_bid(&self, id: &str, from: BidStatus, by: &str) -> Result<BidRecord> {
        let to = BidStatus::Cancelled;
        let bid = self.get_bid(id).await?;
        if bid.status != from {
            return Err(Invalid::one(
                "status",
                format!("bid `{id}` is {}, not {}", bid.status.as_str(), from.as_str()),
            )
            .into());
        }
        let done = sqlx::query(
            "UPDATE bids SET status = $1, cancelled_by = $2, updated_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(to.as_str())
        .bind(by.to_string())
        .bind(to_micros(crate::now()))
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                field: Some("status".into()),
                message: format!("bid `{id}` changed meanwhile"),
            });
        }
        self.get_bid(id).await
    }

    /// Records an auction: the published slot results, every step's fill,
    /// each bid's new status and the trades, all or nothing. Bids no longer
    /// SUBMITTED (cancelled meanwhile) are left alone and get no trades.
    /// Under a `fence`, nothing is written unless its lease is still held.
    pub async fn record_clearing(
        &self,
        connector_id: &str,
        day: Date,
        clearing: Clearing<'_>,
        fence: Option<&crate::Fence>,
    ) -> Result<()> {
        let Clearing { slots, fills, statuses, trades } = clearing;
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        if let Some(fence) = fence {
            Self::check_fence(&mut w, self.backend(), fence, crate::now()).await?;
        }
        sqlx::query(
            "INSERT INTO market_clearings (connector_id, trading_date, cleared_at, slots) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (connector_id, trading_date) DO UPDATE SET cleared_at = $3, slots = $4",
        )
        .bind(connector_id.to_string())
        .bind(day.to_string())
        .bind(now)
        .bind(to_json(&slots))
        .execute(&mut *w.tx)
        .await?;
        let mut live = std::collections::HashSet::new();
        for (bid_id, status) in statuses {
            let moved =
                sqlx::query("UPDATE bids SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'SUBMITTED'")
                    .bind(status.as_str())
                    .bind(now)
                    .bind(bid_id.clone())
                    .execute(&mut *w.tx)
                    .await?
                    .rows_affected();
            if moved > 0 {
                live.insert(bid_id.as_str());
            }
        }
        for f in fills.iter().filter(|f| live.contains(f.bid_id.as_str())) {
            sqlx::query(
                "UPDATE bid_steps SET accepted_mw = $1, cleared_price = $2, activated_mw = $3 WHERE bid_id = $4 AND step_no = $5",
            )
            .bind(f.accepted_mw.to_string())
            .bind(f.cleared_price.map(|p| p.to_string()))
            .bind(f.activated_mw.to_string())
            .bind(f.bid_id.clone())
            .bind(f.step_no as i64)
            .execute(&mut *w.tx)
            .await?;
        }
        for t in trades.iter().filter(|t| t.bid_id.as_deref().is_some_and(|b| live.contains(b))) {
            insert_trade(&mut w, t).await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// The published result of a connector's day, if it was cleared.
    pub async fn clearing(&self, connector_id: &str, day: Date) -> Result<Option<(Timestamp, Vec<SlotResult>)>> {
        let row =
            sqlx::query("SELECT cleared_at, slots FROM market_clearings WHERE connector_id = $1 AND trading_date = $2")
                .bind(connector_id.to_string())
                .bind(day.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((from_micros(r.try_get("cleared_at")?)?, from_json(&r, "slots")?))).transpose()
    }

    /// Stores imported trades, all or nothing; a trade id already imported
    /// for the connector refuses the whole import.
    pub async fn insert_trades(&self, trades: &[TradeRecord]) -> Result<usize> {
        let mut w = self.begin_write().await?;
        for t in trades {
            insert_trade(&mut w, t).await?;
        }
        w.tx.commit().await?;
        Ok(trades.len())
    }

    /// Trades by delivery start.
    pub async fn list_trades(&self, f: &TradeFilter) -> Result<Vec<TradeRecord>> {
        let sql = format!(
            "SELECT {TRADE_COLUMNS} FROM trades WHERE ($1 = '' OR vpp_id = $1) AND ($2 = '' OR connector_id = $2) \
             AND ($3 = '' OR market_type = $3) AND delivery_start >= $4 AND delivery_start < $5 \
             ORDER BY delivery_start, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(f.vpp_id.clone().unwrap_or_default())
            .bind(f.connector_id.clone().unwrap_or_default())
            .bind(f.market_type.map_or("", MarketType::as_str))
            .bind(f.from.map_or(i64::MIN, to_micros))
            .bind(f.to.map_or(i64::MAX, to_micros))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(trade_from_row).collect()
    }

    /// Replaces the settlement of a VPP over `[start, end)` with `rows`,
    /// marks the trades delivered in it settled and their cleared bids
    /// SETTLED; all in one transaction.
    pub async fn save_settlement(
        &self,
        vpp_id: &str,
        currency: &str,
        start: Timestamp,
        end: Timestamp,
        rows: &[IntervalSettlement],
    ) -> Result<Vec<SettlementRecord>> {
        let now = crate::now();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM settlement_records WHERE vpp_id = $1 AND interval_start >= $2 AND interval_start < $3",
        )
        .bind(vpp_id.to_string())
        .bind(to_micros(start))
        .bind(to_micros(end))
        .execute(&mut *w.tx)
        .await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO settlement_records (vpp_id, interval_start, currency, sold_mwh, delivered_mwh, imbalance_mwh, \
                 imbalance_price, imbalance_price_source, trade_revenue, imbalance_amount, reserve_payments, fees, net, \
                 calculated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(vpp_id.to_string())
            .bind(to_micros(r.start))
            .bind(currency.to_string())
            .bind(r.sold_mwh.to_string())
            .bind(r.delivered_mwh.to_string())
            .bind(r.imbalance_mwh.to_string())
            .bind(r.imbalance_price.to_string())
            .bind(source_name(r.imbalance_price_source))
            .bind(r.trade_revenue.to_string())
            .bind(r.imbalance_amount.to_string())
            .bind(r.reserve_payments.to_string())
            .bind(r.fees.to_string())
            .bind(r.net.to_string())
            .bind(to_micros(now))
            .execute(&mut *w.tx)
            .await?;
        }
        sqlx::query("UPDATE trades SET settled = 1 WHERE vpp_id = $1 AND delivery_start >= $2 AND delivery_start < $3")
            .bind(vpp_id.to_string())
            .bind(to_micros(start))
            .bind(to_micros(end))
            .execute(&mut *w.tx)
            .await?;
        // A cleared bid is settled once none of its trades is left unsettled.
        sqlx::query(
            "UPDATE bids SET status = 'SETTLED', updated_at = $2 WHERE vpp_id = $1 \
             AND status IN ('CLEARED', 'PARTIALLY_CLEARED') \
             AND EXISTS (SELECT 1 FROM trades t WHERE t.bid_id = bids.id) \
             AND NOT EXISTS (SELECT 1 FROM trades t WHERE t.bid_id = bids.id AND t.settled = 0)",
        )
        .bind(vpp_id.to_string())
        .bind(to_micros(now))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        self.settlement_records(vpp_id, start, end).await
    }

    /// Stored settlement intervals of a VPP over `[start, end)`.
    pub async fn settlement_records(
        &self,
        vpp_id: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<SettlementRecord>> {
        let rows = sqlx::query(
            "SELECT vpp_id, interval_start, currency, sold_mwh, delivered_mwh, imbalance_mwh, imbalance_price, \
             imbalance_price_source, trade_revenue, imbalance_amount, reserve_payments, fees, net, calculated_at \
             FROM settlement_records WHERE ($1 = '' OR vpp_id = $1) AND interval_start >= $2 AND interval_start < $3 \
             ORDER BY vpp_id, interval_start",
        )
        .bind(vpp_id.to_string())
        .bind(to_micros(start))
        .bind(to_micros(end))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let source: String = r.try_get("imbalance_price_source")?;
                Ok(SettlementRecord {
                    vpp_id: r.try_get("vpp_id")?,
                    currency: r.try_get("currency")?,
                    calculated_at: from_micros(r.try_get("calculated_at")?)?,
                    interval: IntervalSettlement {
                        start: from_micros(r.try_get("interval_start")?)?,
                        sold_mwh: decimal(r, "sold_mwh")?,
                        delivered_mwh: decimal(r, "delivered_mwh")?,
                        imbalance_mwh: decimal(r, "imbalance_mwh")?,
                        imbalance_price: decimal(r, "imbalance_price")?,
                        imbalance_price_source: if source == "final" {
                            PriceSource::Final
                        } else {
                            PriceSource::Estimate
                        },
                        trade_revenue: decimal(r, "trade_revenue")?,
                        imbalance_amount: decimal(r, "imbalance_amount")?,
                        reserve_payments: decimal(r, "reserve_payments")?,
                        fees: decimal(r, "fees")?,
                        net: decimal(r, "net")?,
                    },
                })
            })
            .collect()
    }
}

impl Store {
    /// Stores contract versions, all or nothing: every asset must exist (a
    /// resource id, or a resource's external asset id, which is stored as
    /// the resource id), and a version (contract and date) already stored
    /// with other terms refuses the whole file. Re-importing identical
    /// versions is a no-op; a version whose pricing terms are the same but
    /// whose end, metering point, capacity or technology changed is updated.
    /// Returns how many versions were new, and how many were updated.
    pub async fn import_contracts(&self, contracts: &[Contract]) -> Result<(usize, usize)> {
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        let (mut added, mut updated) = (0, 0);
        for c in contracts {
            let exists = sqlx::query("SELECT 1 AS one FROM resources WHERE id = $1")
                .bind(c.resource_id.clone())
                .fetch_optional(&mut *w.tx)
                .await?;
            let mut c = c.clone();
            if exists.is_none() {
                match crate::resources::get_resource_by_external_id(&mut w, &c.resource_id).await? {
                    Some(r) => c.resource_id = r.id,
                    None => {
                        return Err(Invalid::one(
                            "file",
                            format!(
                                "contract {}: no resource has the id or asset id `{}`",
                                c.contract_id, c.resource_id
                            ),
                        )
                        .into());
                    }
                }
            }
            let c = &c;
            let stored = sqlx::query("SELECT document FROM contracts WHERE contract_id = $1 AND valid_from = $2")
                .bind(c.contract_id.clone())
                .bind(c.valid_from.to_string())
                .fetch_optional(&mut *w.tx)
                .await?;
            if let Some(row) = stored {
                let old: Contract = from_json(&row, "document")?;
                if old == *c {
                    continue;
                }
                if !same_terms(&old, c) {
                    return Err(StoreError::Conflict {
                        field: Some("file".into()),
                        message: format!(
                            "contract {} from {} is stored with other terms; send a version with a new valid_from",
                            c.contract_id, c.valid_from
                        ),
                    });
                }
                // Same terms, new facts (its end, metering point, capacity,
                // technology): the CRM's next export updates them in place.
                sqlx::query(
                    "UPDATE contracts SET document = $1, imported_at = $2 WHERE contract_id = $3 AND valid_from = $4",
                )
                .bind(to_json(c))
                .bind(now)
                .bind(c.contract_id.clone())
                .bind(c.valid_from.to_string())
                .execute(&mut *w.tx)
                .await?;
                updated += 1;
                continue;
            }
            sqlx::query(
                "INSERT INTO contracts (contract_id, valid_from, resource_id, document, imported_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(c.contract_id.clone())
            .bind(c.valid_from.to_string())
            .bind(c.resource_id.clone())
            .bind(to_json(c))
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
            added += 1;
        }
        w.tx.commit().await?;
        Ok((added, updated))
    }

    /// Every contract version, by contract and date.
    pub async fn list_contracts(&self) -> Result<Vec<Contract>> {
        let rows = sqlx::query("SELECT document FROM contracts ORDER BY contract_id, valid_from")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| from_json(r, "document")).collect()
    }
}

/// Whether two versions of a contract price the same way (the facts about
/// the asset and the contract's end may differ).
fn same_terms(a: &Contract, b: &Contract) -> bool {
    (a.resource_id.as_str(), a.price_model, a.fixed_price, a.fee_model, a.fee_value, a.vat_pct, a.redispatch_price)
        == (
            b.resource_id.as_str(),
            b.price_model,
            b.fixed_price,
            b.fee_model,
            b.fee_value,
            b.vat_pct,
            b.redispatch_price,
        )
}

fn source_name(s: PriceSource) -> &'static str {
    match s {
        PriceSource::Final => "final",
        PriceSource::Estimate => "estimate",
    }
}

/// Which VPP, market and delivery day a bid's checks look at.
#[derive(Debug, Clone, Copy)]
pub struct BidScope<'a> {
    /// The bidding VPP.
    pub vpp_id: &'a str,
    /// Its market.
    pub market: MarketType,
    /// The delivery day.
    pub day: Date,
    /// Slots of that day.
    pub slots: usize,
}

/// What open and cleared bids of a VPP hold on a day, read through `ex`
/// (the pool, or a write transaction that then acts on it).
async fn exposure_on<'e, X: sqlx::Executor<'e, Database = sqlx::Any>>(ex: X, scope: &BidScope<'_>) -> Result<Exposure> {
    let rows = sqlx::query(
        "SELECT b.status, b.notional, b.id, s.slot_index, s.side, s.quantity_mw, s.accepted_mw \
         FROM bids b JOIN bid_steps s ON s.bid_id = b.id \
         WHERE b.vpp_id = $1 AND b.market_type = $2 AND b.trading_date = $3 \
         AND b.status NOT IN ('CANCELLED', 'NOT_CLEARED')",
    )
    .bind(scope.vpp_id.to_string())
    .bind(scope.market.as_str())
    .bind(scope.day.to_string())
    .fetch_all(ex)
    .await?;
    let mut e = Exposure { position_mw: vec![Decimal::ZERO; scope.slots], notional: Decimal::ZERO };
    let mut counted = std::collections::HashSet::new();
    for r in &rows {
        let status = parse_enum(r, "status", BidStatus::parse)?;
        let id: String = r.try_get("id")?;
        if status.is_open() && counted.insert(id) {
            e.notional += decimal(r, "notional")?;
        }
        let q = if status.is_open() {
            decimal(r, "quantity_mw")?
        } else {
            opt_decimal(r, "accepted_mw")?.unwrap_or_default()
        };
        let side = parse_enum(r, "side", Side::parse)?;
        let slot = usize::try_from(r.try_get::<i64, _>("slot_index")?).unwrap_or(usize::MAX);
        if let Some(p) = e.position_mw.get_mut(slot) {
            *p += if side == Side::Sell { q } else { -q };
        }
    }
    Ok(e)
}

/// The risk limits of a VPP on a market, read through `ex`.
async fn risk_limits_on<'e, X: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: X,
    vpp_id: &str,
    market: MarketType,
) -> Result<RiskLimits> {
    let row = sqlx::query("SELECT document FROM risk_limits WHERE vpp_id = $1 AND market_type = $2")
        .bind(vpp_id.to_string())
        .bind(market.as_str())
        .fetch_optional(ex)
        .await?;
    row.map_or(Ok(RiskLimits::default()), |r| from_json(&r, "document"))
}
