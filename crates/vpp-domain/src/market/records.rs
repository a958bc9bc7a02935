//! What the market side keeps: bids with their steps and what the auction
//! gave them, trades, the kill switch and settled intervals, as the store
//! returns them and the API shows them.

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::market::auction::Side;
use crate::market::rules::{BidStatus, BidStep};
use crate::market::settlement::{IntervalSettlement, TradeKind, TradeLine};
use crate::vpp::MarketType;

/// One stored step of a bid, with what the auction gave it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepRecord {
    /// The step as checked.
    #[serde(flatten)]
    pub step: BidStep,
    /// Accepted quantity, MW; null before the auction.
    #[schema(value_type = Option<String>)]
    pub accepted_mw: Option<Decimal>,
    /// Price the accepted quantity is paid; null when nothing was accepted.
    #[schema(value_type = Option<String>)]
    pub cleared_price: Option<Decimal>,
    /// Reserve: activated power, MW.
    #[schema(value_type = Option<String>)]
    pub activated_mw: Option<Decimal>,
}

/// A stored bid.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BidRecord {
    /// Bid id.
    pub id: String,
    /// VPP that bids.
    pub vpp_id: String,
    /// Connector it went to.
    pub connector_id: String,
    /// Market type.
    pub market_type: MarketType,
    /// Strategy that made it, if any.
    pub strategy_id: Option<String>,
    /// Delivery day in the market's zone.
    #[schema(value_type = String, format = Date)]
    pub trading_date: Date,
    /// Lifecycle state.
    pub status: BidStatus,
    /// When its first slot closes (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub gate_closure: Timestamp,
    /// Σ |price × quantity × product hours|, currency.
    #[schema(value_type = String)]
    pub notional: Decimal,
    /// Currency.
    pub currency: String,
    /// Who submitted it.
    pub submitted_by: String,
    /// Who approved it (four eyes).
    pub approved_by: Option<String>,
    /// Who cancelled it (`kill-switch` for the kill switch).
    pub cancelled_by: Option<String>,
    /// The market's reference.
    pub exchange_ref: Option<String>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Its price-quantity steps.
    pub steps: Vec<StepRecord>,
}

/// A trade: an executed result.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TradeRecord {
    /// Trade id.
    pub id: String,
    /// The bid it came from (auction trades).
    pub bid_id: Option<String>,
    /// VPP it belongs to (file imports may have none).
    pub vpp_id: Option<String>,
    /// Connector.
    pub connector_id: String,
    /// Market type.
    pub market_type: MarketType,
    /// Energy, reserve capacity, activation or capacity.
    pub kind: TradeKind,
    /// Side.
    pub side: Side,
    /// Delivery start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub delivery_start: Timestamp,
    /// Delivery end, exclusive (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub delivery_end: Timestamp,
    /// Price, currency/MWh (capacity: currency/MW/h).
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Quantity, MW.
    #[schema(value_type = String)]
    pub quantity_mw: Decimal,
    /// Currency.
    pub currency: String,
    /// When it was executed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub executed_at: Timestamp,
    /// `auction` or `file`.
    pub source: String,
    /// The exchange's trade id (file imports).
    pub external_id: Option<String>,
    /// True once a settlement run covered it.
    pub settled: bool,
}

impl TradeRecord {
    /// The trade as settlement and analysis take it.
    pub fn line(&self) -> TradeLine {
        TradeLine {
            start: self.delivery_start,
            end: self.delivery_end,
            side: self.side,
            kind: self.kind,
            quantity_mw: self.quantity_mw,
            price: self.price,
        }
    }
}

/// The trading kill switch.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KillSwitch {
    /// True: open bids were cancelled and new ones are refused.
    pub active: bool,
    /// Why it was set.
    pub reason: Option<String>,
    /// Who changed it last.
    pub changed_by: Option<String>,
    /// When.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub changed_at: Option<Timestamp>,
}

/// A stored settlement interval.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SettlementRecord {
    /// VPP.
    pub vpp_id: String,
    /// Currency of every amount.
    pub currency: String,
    /// The interval's money.
    #[serde(flatten)]
    pub interval: IntervalSettlement,
    /// When it was calculated (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub calculated_at: Timestamp,
}
