//! A market's trading rules, and the checks every bid passes before it is
//! stored: gate closure, product slots, bid size, tick size, price limits,
//! the VPP's available capacity and the risk limits.
//!
//! Prices are currency per MWh (capacity prices: currency per MW and hour),
//! quantities MW, as exchanges quote them. Both are exact decimals so a tick
//! check never suffers from binary rounding.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::auction::Side;
use crate::error::{Errors, Invalid};
use crate::vpp::MarketType;

/// When bids for a slot close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GateClosure {
    /// An auction: all slots of delivery day D close at `local_time` on day
    /// D − `days_before` in the market's time zone (EPEX day-ahead: 1 day,
    /// 12:00 Europe/Berlin).
    DayBefore {
        /// Days before the delivery day, 0..=14.
        days_before: i64,
        /// Local time of day, `HH:MM`.
        local_time: String,
    },
    /// Each slot closes this many minutes before it starts (intraday).
    BeforeDelivery {
        /// Minutes before slot start, 0..=1440.
        minutes: i64,
    },
}

/// What a market accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TradingRules {
    /// Product length: 15, 30 or 60 minutes.
    pub product_minutes: i64,
    /// Deadline for bids.
    pub gate_closure: GateClosure,
    /// Smallest quantity of one bid step, MW.
    #[schema(value_type = String)]
    pub min_bid_mw: Decimal,
    /// Largest quantity of one bid step, MW.
    #[schema(value_type = String)]
    pub max_bid_mw: Decimal,
    /// Price increment, currency/MWh (> 0).
    #[schema(value_type = String)]
    pub tick_size: Decimal,
    /// Lowest admissible price, currency/MWh.
    #[schema(value_type = String)]
    pub price_floor: Decimal,
    /// Highest admissible price, currency/MWh.
    #[schema(value_type = String)]
    pub price_cap: Decimal,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// IANA zone of the delivery day, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Exchange fee per MWh traded (either side), currency/MWh; 0 when none.
    #[serde(default)]
    #[schema(value_type = String)]
    pub fee_per_mwh: Decimal,
}

impl TradingRules {
    /// Rules like the European exchanges': day-ahead 15-minute products
    /// closing at 12:00 the day before, −500..4,000 EUR/MWh at 0.01 (EPEX
    /// harmonised limits); reserve capacity in hours closing 09:00 the day
    /// before, 0..10,000 EUR/MW/h; capacity in hours closing two days ahead.
    pub fn defaults(market: MarketType) -> Self {
        let day_before = |t: &str, days| GateClosure::DayBefore { days_before: days, local_time: t.into() };
        let d = |s: &str| s.parse::<Decimal>().expect("constant decimals parse");
        let (minutes, gate, min, floor, cap, fee) = match market {
            MarketType::Spot => (15, day_before("12:00", 1), "0.1", "-500", "4000", "0.05"),
            MarketType::Ancillary => (60, day_before("09:00", 1), "1", "0", "10000", "0"),
            MarketType::Capacity => (60, day_before("12:00", 2), "1", "0", "1000", "0"),
        };
        Self {
            product_minutes: minutes,
            gate_closure: gate,
            min_bid_mw: d(min),
            max_bid_mw: d("500"),
            tick_size: d("0.01"),
            price_floor: d(floor),
            price_cap: d(cap),
            currency: "EUR".into(),
            time_zone: "Europe/Berlin".into(),
            fee_per_mwh: d(fee),
        }
    }

    /// Checks the rules themselves; fields are named `{prefix}.{field}`.
    pub fn check(&self, prefix: &str) -> Result<(), Invalid> {
        let f = |name: &str| format!("{prefix}.{name}");
        let mut e = Errors::default();
        e.check(
            matches!(self.product_minutes, 15 | 30 | 60),
            f("product_minutes"),
            format!("must be 15, 30 or 60, got {}", self.product_minutes),
        );
        match &self.gate_closure {
            GateClosure::DayBefore { days_before, local_time } => {
                e.check((0..=14).contains(days_before), f("gate_closure.days_before"), "must be 0..14");
                if local_time.parse::<Time>().is_err() {
                    e.push(f("gate_closure.local_time"), format!("`{local_time}` is not a time of day like 12:00"));
                }
            }
            GateClosure::BeforeDelivery { minutes } => {
                e.check((0..=1440).contains(minutes), f("gate_closure.minutes"), "must be 0..1440");
            }
        }
        e.check(self.min_bid_mw > Decimal::ZERO, f("min_bid_mw"), "must be positive");
        e.check(self.max_bid_mw >= self.min_bid_mw, f("max_bid_mw"), "must be at least min_bid_mw");
        e.check(self.tick_size > Decimal::ZERO, f("tick_size"), "must be positive");
        e.check(self.price_cap > self.price_floor, f("price_cap"), "must be above price_floor");
        e.check(self.fee_per_mwh >= Decimal::ZERO, f("fee_per_mwh"), "must not be negative");
        let currency_ok = self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase());
        e.check(currency_ok, f("currency"), format!("`{}` is not an ISO 4217 code like EUR", self.currency));
        if self.zone().is_err() {
            e.push(f("time_zone"), format!("`{}` is not an IANA time zone", self.time_zone));
        }
        e.finish(())
    }

    /// The market's time zone.
    pub fn zone(&self) -> Result<TimeZone, jiff::Error> {
        TimeZone::get(&self.time_zone)
    }

    /// Product length.
    pub fn product(&self) -> SignedDuration {
        SignedDuration::from_mins(self.product_minutes)
    }

    /// Product length in hours, exact.
    pub fn product_hours(&self) -> Decimal {
        Decimal::from(self.product_minutes) / Decimal::from(60)
    }

    /// The slot starts of delivery day `date` (92, 96 or 100 quarter-hours
    /// in Europe/Berlin).
    pub fn slots(&self, date: Date) -> Result<Vec<Timestamp>, jiff::Error> {
        crate::series::delivery_day(date, &self.zone()?, self.product())
    }

    /// When bids for the slot starting at `slot` of day `date` close.
    pub fn gate_closure_at(&self, date: Date, slot: Timestamp) -> Result<Timestamp, jiff::Error> {
        match &self.gate_closure {
            GateClosure::DayBefore { days_before, local_time } => {
                let time: Time = local_time.parse()?;
                let day = date.checked_sub(days_before.days())?;
                Ok(day.to_datetime(time).to_zoned(self.zone()?)?.timestamp())
            }
            GateClosure::BeforeDelivery { minutes } => slot.checked_sub(SignedDuration::from_mins(*minutes)),
        }
    }

    /// The first delivery day after today (in the market's zone) whose first
    /// slot still takes bids at `now`, with that slot's gate closure: the
    /// day a trader bids next. Day-ahead closing at noon the day before
    /// gives tomorrow before noon and the day after from noon on.
    pub fn next_open_day(&self, now: Timestamp) -> Result<(Date, Timestamp), jiff::Error> {
        let mut day = now.to_zoned(self.zone()?).date().tomorrow()?;
        loop {
            let first = *self
                .slots(day)?
                .first()
                .ok_or_else(|| jiff::Error::from_args(format_args!("day {day} has no slot")))?;
            let closure = self.gate_closure_at(day, first)?;
            if now < closure {
                return Ok((day, closure));
            }
            day = day.tomorrow()?;
        }
    }

    /// A price in ticks, or `None` when it is not a multiple of the tick.
    pub fn ticks(&self, price: Decimal) -> Option<i64> {
        let t = price / self.tick_size;
        (t.fract().is_zero()).then(|| t.to_i64()).flatten()
    }

    /// The price of `ticks` ticks.
    pub fn price_of(&self, ticks: i64) -> Decimal {
        Decimal::from(ticks) * self.tick_size
    }
}

/// One price-quantity step as a client sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BidStepRequest {
    /// Slot start (UTC or with offset), one of the trading day's products.
    #[schema(value_type = String, format = DateTime)]
    pub time_slot: Timestamp,
    /// Limit price, currency/MWh (reserve: capacity price, currency/MW/h).
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Quantity, MW (> 0; buying is `side: buy`).
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// `sell` (default) or `buy` (day-ahead only).
    #[serde(default)]
    pub side: Option<Side>,
    /// Reserve only: price for activated energy, currency/MWh.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub activation_price: Option<Decimal>,
}

/// A checked bid step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BidStep {
    /// Slot start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub time_slot: Timestamp,
    /// Index of the slot in the trading day.
    pub slot_index: u32,
    /// Side.
    pub side: Side,
    /// Limit price, currency/MWh (reserve: currency/MW/h).
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Quantity, MW.
    #[schema(value_type = String)]
    pub quantity_mw: Decimal,
    /// Reserve: activation price, currency/MWh.
    #[schema(value_type = Option<String>)]
    pub activation_price: Option<Decimal>,
}

/// What the VPP can still offer in one slot, after its open bids and
/// cleared positions, MW.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SlotRoom {
    /// Further selling (up-regulation), MW.
    pub sell_mw: f64,
    /// Further buying (down-regulation), MW.
    pub buy_mw: f64,
}

/// Most steps one bid may carry (100 steps for each of 100 quarter-hours).
pub const MAX_STEPS_PER_BID: usize = 10_000;

/// A bid for one trading day, checked against the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedBid {
    /// Delivery day in the market's zone.
    pub trading_date: Date,
    /// When the earliest of its slots closes.
    pub gate_closure: Timestamp,
    /// Its steps, in request order.
    pub steps: Vec<BidStep>,
}

/// Checks a bid: every refusal names the field and the rule it breaks, and
/// all are reported together. `room[k]` is what the VPP can still offer in
/// slot `k` of `slots` (the trading day's products).
pub fn check_bid(
    rules: &TradingRules,
    market: MarketType,
    trading_date: Date,
    now: Timestamp,
    steps: &[BidStepRequest],
    room: &[SlotRoom],
) -> Result<CheckedBid, Invalid> {
    let mut e = Errors::default();
    let slots = rules.slots(trading_date).map_err(|err| Invalid::one("trading_date", err.to_string()))?;
    if steps.is_empty() {
        e.push("bids", "must hold at least one step");
    }
    if steps.len() > MAX_STEPS_PER_BID {
        return Err(Invalid::one("bids", format!("at most {MAX_STEPS_PER_BID} steps per bid, got {}", steps.len())));
    }
    let mut out = Vec::with_capacity(steps.len());
    let mut first_closure: Option<Timestamp> = None;
    let mut seen = std::collections::HashSet::new();
    let mut sell_sum = vec![Decimal::ZERO; slots.len()];
    let mut buy_sum = vec![Decimal::ZERO; slots.len()];
    for (k, s) in steps.iter().enumerate() {
        let f = |name: &str| format!("bids[{k}].{name}");
        let Ok(idx) = slots.binary_search(&s.time_slot) else {
            e.push(
                f("time_slot"),
                format!(
                    "rule product: {} is not a {}-minute slot of trading date {trading_date} ({})",
                    s.time_slot, rules.product_minutes, rules.time_zone
                ),
            );
            continue;
        };
        match rules.gate_closure_at(trading_date, s.time_slot) {
            Ok(closure) if now >= closure => {
                e.push(f("time_slot"), format!("rule gate_closure: bids for this slot closed at {closure}"));
            }
            Ok(closure) => first_closure = Some(first_closure.map_or(closure, |c: Timestamp| c.min(closure))),
            Err(err) => e.push(f("time_slot"), err.to_string()),
        }
        let side = s.side.unwrap_or(Side::Sell);
        if side == Side::Buy && market != MarketType::Spot {
            e.push(f("side"), format!("rule side: {} markets take only sell offers", market.as_str()));
        }
        if s.quantity <= Decimal::ZERO {
            e.push(f("quantity"), format!("must be positive (to buy, set side to buy), got {}", s.quantity));
        } else if s.quantity < rules.min_bid_mw {
            e.push(f("quantity"), format!("rule min_bid_mw: {} MW is below {} MW", s.quantity, rules.min_bid_mw));
        } else if s.quantity > rules.max_bid_mw {
            e.push(f("quantity"), format!("rule max_bid_mw: {} MW is above {} MW", s.quantity, rules.max_bid_mw));
        }
        check_price(&mut e, rules, &f("price"), s.price);
        match (market, s.activation_price) {
            (MarketType::Ancillary, Some(p)) => check_price(&mut e, rules, &f("activation_price"), p),
            (MarketType::Ancillary, None) => {
                e.push(f("activation_price"), "required for reserve offers (currency/MWh for activated energy)")
            }
            (_, Some(_)) => e.push(f("activation_price"), "only ANCILLARY offers carry an activation price"),
            (_, None) => {}
        }
        if !seen.insert((idx, side, s.price)) {
            e.push(f("price"), "duplicate step: this slot and side already has a step at this price");
        }
        match side {
            Side::Sell => sell_sum[idx] += s.quantity,
            Side::Buy => buy_sum[idx] += s.quantity,
        }
        out.push(BidStep {
            time_slot: s.time_slot,
            slot_index: idx as u32,
            side,
            price: s.price,
            quantity_mw: s.quantity,
            activation_price: s.activation_price,
        });
    }
    // A curve's steps add up: the whole curve may clear, so its sum must fit.
    for (idx, (sell, buy)) in sell_sum.iter().zip(&buy_sum).enumerate() {
        let r = room.get(idx).copied().unwrap_or_default();
        for (side, sum, have) in [("sell", sell, r.sell_mw), ("buy", buy, r.buy_mw)] {
            if sum.is_zero() {
                continue;
            }
            let want = sum.to_f64().unwrap_or(f64::INFINITY);
            if want > have.max(0.0) + 1e-9 {
                e.push(
                    "bids",
                    format!(
                        "rule available_capacity: {side} steps for slot {} add up to {sum} MW but the VPP has {:.3} MW left",
                        slots[idx],
                        have.max(0.0)
                    ),
                );
            }
        }
    }
    let closure = first_closure.unwrap_or(now);
    e.finish(CheckedBid { trading_date, gate_closure: closure, steps: out })
}

fn check_price(e: &mut Errors, rules: &TradingRules, field: &str, price: Decimal) {
    if price < rules.price_floor || price > rules.price_cap {
        e.push(
            field,
            format!(
                "rule price_limits: {price} is outside {}..{} {}/MWh",
                rules.price_floor, rules.price_cap, rules.currency
            ),
        );
    } else if rules.ticks(price).is_none() {
        e.push(
            field,
            format!("rule tick_size: {price} is not a multiple of {} {}/MWh", rules.tick_size, rules.currency),
        );
    }
}

/// Where a bid is in its life: PENDING_APPROVAL (four eyes) → SUBMITTED →
/// CLEARED, PARTIALLY_CLEARED or NOT_CLEARED → SETTLED; CANCELLED from
/// PENDING_APPROVAL or SUBMITTED (by a trader or the kill switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BidStatus {
    /// Waits for a second trader or admin.
    PendingApproval,
    /// With the market, waiting for the auction.
    Submitted,
    /// Every step accepted in full.
    Cleared,
    /// Some quantity accepted.
    PartiallyCleared,
    /// Nothing accepted.
    NotCleared,
    /// Its trades are settled.
    Settled,
    /// Withdrawn before the auction.
    Cancelled,
}

impl BidStatus {
    /// Every status.
    pub const ALL: [BidStatus; 7] = [
        Self::PendingApproval,
        Self::Submitted,
        Self::Cleared,
        Self::PartiallyCleared,
        Self::NotCleared,
        Self::Settled,
        Self::Cancelled,
    ];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "PENDING_APPROVAL",
            Self::Submitted => "SUBMITTED",
            Self::Cleared => "CLEARED",
            Self::PartiallyCleared => "PARTIALLY_CLEARED",
            Self::NotCleared => "NOT_CLEARED",
            Self::Settled => "SETTLED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// True while the bid still counts against limits and can be cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, Self::PendingApproval | Self::Submitted)
    }
}

/// Risk limits of one VPP on one market.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskLimits {
    /// Largest net position (sold − bought, open bids counted in full) in
    /// any slot, MW; none when null.
    #[schema(value_type = Option<String>)]
    pub max_position_mw: Option<Decimal>,
    /// Largest notional (Σ |price × quantity × product hours|) of bids per
    /// trading day, currency; none when null.
    #[schema(value_type = Option<String>)]
    pub max_daily_notional: Option<Decimal>,
    /// Bids whose largest slot quantity exceeds this need a second trader's
    /// approval (four eyes), MW; none when null.
    #[schema(value_type = Option<String>)]
    pub four_eyes_above_mw: Option<Decimal>,
}

impl RiskLimits {
    /// Checks the limits themselves.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut e = Errors::default();
        for (name, v) in [
            ("max_position_mw", self.max_position_mw),
            ("max_daily_notional", self.max_daily_notional),
            ("four_eyes_above_mw", self.four_eyes_above_mw),
        ] {
            if let Some(v) = v {
                e.check(v >= Decimal::ZERO, name, format!("must not be negative, got {v}"));
            }
        }
        e.finish(())
    }
}

/// What is already on the books for the VPP, market and trading day.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposure {
    /// Net position per slot (sold − bought; open bids and trades), MW.
    pub position_mw: Vec<Decimal>,
    /// Notional of the day's live bids, currency.
    pub notional: Decimal,
}

/// The notional of a set of steps: Σ |price × quantity × product hours|.
pub fn notional(steps: &[BidStep], product_hours: Decimal) -> Decimal {
    steps.iter().map(|s| (s.price * s.quantity_mw * product_hours).abs()).sum()
}

/// Checks a bid against the risk limits; `Ok(true)` when it needs a second
/// approver before it goes to the market.
pub fn check_risk(
    limits: &RiskLimits,
    exposure: &Exposure,
    bid: &CheckedBid,
    product_hours: Decimal,
) -> Result<bool, Invalid> {
    let mut e = Errors::default();
    let mut per_slot: std::collections::BTreeMap<u32, Decimal> = Default::default();
    let mut largest = Decimal::ZERO;
    for s in &bid.steps {
        let signed = if s.side == Side::Sell { s.quantity_mw } else { -s.quantity_mw };
        *per_slot.entry(s.slot_index).or_default() += signed;
    }
    for (&slot, &delta) in &per_slot {
        largest = largest.max(delta.abs());
        if let Some(max) = limits.max_position_mw {
            let before = exposure.position_mw.get(slot as usize).copied().unwrap_or_default();
            let after = before + delta;
            if after.abs() > max {
                e.push(
                    "bids",
                    format!("rule max_position_mw: slot {slot} would hold {after} MW, above the limit of {max} MW"),
                );
            }
        }
    }
    let added = notional(&bid.steps, product_hours);
    if let Some(max) = limits.max_daily_notional
        && exposure.notional + added > max
    {
        e.push(
            "bids",
            format!(
                "rule max_daily_notional: {} on the day plus {added} would exceed the limit of {max}",
                exposure.notional
            ),
        );
    }
    let needs_approval = limits.four_eyes_above_mw.is_some_and(|t| largest > t);
    e.finish(needs_approval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn d(s: &str) -> Decimal {
        s.parse().expect("test decimal")
    }

    fn step(slot: Timestamp, price: &str, qty: &str) -> BidStepRequest {
        BidStepRequest { time_slot: slot, price: d(price), quantity: d(qty), side: None, activation_price: None }
    }

    fn roomy(n: usize) -> Vec<SlotRoom> {
        vec![SlotRoom { sell_mw: 100.0, buy_mw: 100.0 }; n]
    }

    #[test]
    fn the_next_open_day_turns_at_the_gate_closure() {
        let rules = TradingRules::defaults(MarketType::Spot);
        // 12:00 CET on 23 November is 11:00 UTC: the gate for the 24th.
        let closure: Timestamp = "2026-11-23T11:00:00Z".parse().expect("ts");
        let before = closure - SignedDuration::from_secs(1);
        assert_eq!(rules.next_open_day(before).expect("day"), (date(2026, 11, 24), closure));
        let (day, next) = rules.next_open_day(closure).expect("day");
        assert_eq!(day, date(2026, 11, 25));
        assert_eq!(next, closure + SignedDuration::from_hours(24));
        // Just after midnight in Berlin (23:30 UTC) it is already the 24th there.
        let late: Timestamp = "2026-11-23T23:30:00Z".parse().expect("ts");
        assert_eq!(rules.next_open_day(late).expect("day").0, date(2026, 11, 25));
    }

    #[test]
    fn day_ahead_gate_closes_at_noon_the_day_before_in_berlin() {
        let rules = TradingRules::defaults(MarketType::Spot);
        let day = date(2026, 11, 24);
        let slots = rules.slots(day).expect("slots");
        assert_eq!(slots.len(), 96);
        // 12:00 CET on 23 November is 11:00 UTC.
        let closure: Timestamp = "2026-11-23T11:00:00Z".parse().expect("ts");
        assert_eq!(rules.gate_closure_at(day, slots[0]).expect("closure"), closure);
        let steps = [step(slots[40], "85.10", "2")];
        let before = closure - SignedDuration::from_secs(1);
        assert!(check_bid(&rules, MarketType::Spot, day, before, &steps, &roomy(96)).is_ok());
        let err = check_bid(&rules, MarketType::Spot, day, closure, &steps, &roomy(96)).expect_err("closed");
        assert_eq!(err.0[0].field, "bids[0].time_slot");
        assert!(err.0[0].message.starts_with("rule gate_closure"), "{}", err.0[0].message);
    }

    #[test]
    fn dst_days_have_92_and_100_quarter_hours() {
        let rules = TradingRules::defaults(MarketType::Spot);
        assert_eq!(rules.slots(date(2026, 3, 29)).expect("spring").len(), 92);
        assert_eq!(rules.slots(date(2026, 10, 25)).expect("autumn").len(), 100);
    }

    #[test]
    fn every_broken_rule_is_named() {
        let rules = TradingRules::defaults(MarketType::Spot);
        let day = date(2026, 11, 24);
        let slots = rules.slots(day).expect("slots");
        let now: Timestamp = "2026-11-22T00:00:00Z".parse().expect("ts");
        let off_grid = slots[3] + SignedDuration::from_mins(5);
        let steps = [
            step(slots[0], "85.105", "2"),
            step(slots[0], "85.10", "-1"),
            step(off_grid, "10", "1"),
            step(slots[1], "4000.01", "1"),
            step(slots[2], "10", "0.05"),
            step(slots[2], "11", "600"),
        ];
        let room = vec![SlotRoom { sell_mw: 1000.0, buy_mw: 0.0 }; 96];
        let err = check_bid(&rules, MarketType::Spot, day, now, &steps, &room).expect_err("refused");
        let got: Vec<(&str, &str)> =
            err.0.iter().map(|e| (e.field.as_str(), e.message.split(':').next().unwrap_or(""))).collect();
        assert_eq!(
            got,
            vec![
                ("bids[0].price", "rule tick_size"),
                ("bids[1].quantity", "must be positive (to buy, set side to buy), got -1"),
                ("bids[2].time_slot", "rule product"),
                ("bids[3].price", "rule price_limits"),
                ("bids[4].quantity", "rule min_bid_mw"),
                ("bids[5].quantity", "rule max_bid_mw"),
            ]
        );
    }

    #[test]
    fn a_curve_must_fit_the_vpps_room_in_each_slot() {
        let rules = TradingRules::defaults(MarketType::Spot);
        let day = date(2026, 11, 24);
        let slots = rules.slots(day).expect("slots");
        let now: Timestamp = "2026-11-22T00:00:00Z".parse().expect("ts");
        let mut room = roomy(96);
        room[5].sell_mw = 2.5;
        let ok = [step(slots[5], "50", "1.5"), step(slots[5], "80", "1")];
        assert!(check_bid(&rules, MarketType::Spot, day, now, &ok, &room).is_ok());
        let too_much = [step(slots[5], "50", "1.5"), step(slots[5], "80", "1.1")];
        let err = check_bid(&rules, MarketType::Spot, day, now, &too_much, &room).expect_err("too much");
        assert!(err.0[0].message.starts_with("rule available_capacity"), "{}", err.0[0].message);
    }

    #[test]
    fn risk_limits_and_four_eyes() {
        let rules = TradingRules::defaults(MarketType::Spot);
        let day = date(2026, 11, 24);
        let slots = rules.slots(day).expect("slots");
        let now: Timestamp = "2026-11-22T00:00:00Z".parse().expect("ts");
        let bid =
            check_bid(&rules, MarketType::Spot, day, now, &[step(slots[0], "100", "8")], &roomy(96)).expect("valid");
        let limits = RiskLimits {
            max_position_mw: Some(d("10")),
            max_daily_notional: Some(d("1000")),
            four_eyes_above_mw: Some(d("5")),
        };
        // 8 MW × 100 €/MWh × 0.25 h = 200 € notional.
        assert_eq!(notional(&bid.steps, rules.product_hours()), d("200"));
        let empty = Exposure { position_mw: vec![Decimal::ZERO; 96], notional: Decimal::ZERO };
        assert_eq!(check_risk(&limits, &empty, &bid, rules.product_hours()), Ok(true));
        let mut held = empty.clone();
        held.position_mw[0] = d("3");
        let err = check_risk(&limits, &held, &bid, rules.product_hours()).expect_err("position");
        assert!(err.0[0].message.starts_with("rule max_position_mw: slot 0 would hold 11 MW"));
        let spent = Exposure { notional: d("900"), ..empty };
        let err = check_risk(&limits, &spent, &bid, rules.product_hours()).expect_err("notional");
        assert!(err.0[0].message.starts_with("rule max_daily_notional"));
    }

    #[test]
    fn rules_are_checked() {
        let mut r = TradingRules::defaults(MarketType::Spot);
        r.product_minutes = 20;
        r.tick_size = Decimal::ZERO;
        r.currency = "euro".into();
        r.time_zone = "Mars/Olympus".into();
        let err = r.check("rules").expect_err("bad rules");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["rules.product_minutes", "rules.tick_size", "rules.currency", "rules.time_zone"]);
    }
}
