//! What a market connector does, and the built-in simulated exchange.
//!
//! The simulated exchange is the embedded default: it needs no outside
//! service, so the demo trades live. For every slot it builds the rest of
//! the market (the counterparties) from a reference price plus seeded noise,
//! adds the VPP's steps, and clears the book with the real auction rules of
//! [`super::auction`]. The same seed, reference and bids always give the
//! same result.
//!
//! Counterparties per slot, around the noisy reference price `p`:
//! - **day-ahead**: an inelastic demand of `depth_mw` at the price cap, a few
//!   flexible buyers below `p`, and a rising supply curve that crosses the
//!   demand at `p` with slope `slope_per_mw` (currency/MWh per MW), so the
//!   VPP's own volume moves the price a little, as in a real auction;
//! - **reserve**: a capacity demand of `reserve_demand_mw`, competing offers
//!   around `reserve_price_share · p` per MW and hour with activation prices
//!   above `p`, and an activation need of up to `2 · activation_share` of
//!   the demand;
//! - **capacity**: a sloped demand and competing offers around
//!   `capacity_price_share · p` per MW and hour, cleared at a uniform price.

use jiff::Timestamp;
use jiff::civil::Date;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Serialize};

use super::auction::{Book, ReserveOffer, Side, clear_pay_as_bid, clear_uniform};
use super::rules::{BidStep, TradingRules};
use crate::error::{Errors, Invalid};
use crate::vpp::MarketType;

/// Why a connector could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// This connector cannot do that at all (e.g. the file connector takes no bids).
    #[error("the {connector} connector cannot {what}")]
    Unsupported {
        /// Connector kind.
        connector: &'static str,
        /// The operation.
        what: &'static str,
    },
    /// The market has no data for what was asked.
    #[error("{0}")]
    Missing(String),
    /// The input does not fit the market.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The market's result for one slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotResult {
    /// Slot start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub time_slot: Timestamp,
    /// Clearing price, currency/MWh (reserve: marginal capacity price,
    /// currency/MW/h); null when the slot did not clear.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Traded volume of the whole market, MW.
    pub volume_mw: f64,
}

/// What one of the VPP's steps got.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Award {
    /// Accepted quantity, MW.
    #[schema(value_type = String)]
    pub accepted_mw: Decimal,
    /// Price paid for it: the clearing price (uniform auctions) or the
    /// step's own price (pay as bid), currency/MWh or currency/MW/h.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Reserve: activated power, MW (0 elsewhere).
    #[schema(value_type = String)]
    pub activated_mw: Decimal,
    /// Reserve: price of activated energy, currency/MWh.
    #[schema(value_type = Option<String>)]
    pub activation_price: Option<Decimal>,
}

/// A trading day's auction result.
#[derive(Debug, Clone, PartialEq)]
pub struct DayResult {
    /// Per slot of the day.
    pub slots: Vec<SlotResult>,
    /// Per submitted step, in the order given.
    pub awards: Vec<Award>,
}

/// What a market connector does. The built-in connectors are computations
/// over data the caller loads, so the trait is synchronous; a connector to
/// an outside exchange does its I/O behind it on a blocking thread.
pub trait MarketConnector {
    /// Short name of the kind, e.g. `simulated`.
    fn kind(&self) -> &'static str;

    /// Expected or published prices and volumes for the day's slots.
    fn market_data(&self, date: Date) -> Result<Vec<SlotResult>, ConnectorError>;

    /// Hands a checked bid to the market; returns the market's reference.
    fn submit_bids(&self, date: Date, steps: &[BidStep]) -> Result<String, ConnectorError>;

    /// The day's result for the given submitted steps (the simulated
    /// exchange clears them; an outside exchange would look them up).
    fn fetch_results(&self, date: Date, steps: &[BidStep]) -> Result<DayResult, ConnectorError>;

    /// Imbalance prices for the day's slots, currency/MWh.
    fn fetch_settlement(&self, date: Date) -> Result<Vec<(Timestamp, Decimal)>, ConnectorError>;
}

/// Settings of the simulated counterparties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// Seed of the noise; the same seed gives the same market.
    pub seed: u64,
    /// Noise on the reference price, ± % (uniform).
    pub noise_pct: f64,
    /// Inelastic demand of the day-ahead market, MW.
    pub depth_mw: f64,
    /// Price rise of the counterparties' supply curve, currency/MWh per MW.
    pub slope_per_mw: f64,
    /// Reserve capacity bought per slot, MW.
    pub reserve_demand_mw: f64,
    /// Reserve capacity price ≈ this share of the energy reference, per MW and hour.
    pub reserve_price_share: f64,
    /// Mean activated share of the reserve demand.
    pub activation_share: f64,
    /// Capacity bought per slot at the top of the demand curve, MW.
    pub capacity_demand_mw: f64,
    /// Capacity price ≈ this share of the energy reference, per MW and hour.
    pub capacity_price_share: f64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            noise_pct: 10.0,
            depth_mw: 2_000.0,
            slope_per_mw: 0.02,
            reserve_demand_mw: 200.0,
            reserve_price_share: 0.15,
            activation_share: 0.2,
            capacity_demand_mw: 500.0,
            capacity_price_share: 0.05,
        }
    }
}

impl SimulationConfig {
    /// Checks the settings; fields are named `{prefix}.{field}`.
    pub fn check(&self, prefix: &str) -> Result<(), Invalid> {
        let mut e = Errors::default();
        let f = |n: &str| format!("{prefix}.{n}");
        e.range(&f("noise_pct"), self.noise_pct, 0.0, 100.0);
        e.range(&f("depth_mw"), self.depth_mw, 1.0, 1e6);
        e.range(&f("slope_per_mw"), self.slope_per_mw, 0.0, 1e3);
        e.range(&f("reserve_demand_mw"), self.reserve_demand_mw, 1.0, 1e6);
        e.range(&f("reserve_price_share"), self.reserve_price_share, 0.0, 10.0);
        e.range(&f("activation_share"), self.activation_share, 0.0, 0.5);
        e.range(&f("capacity_demand_mw"), self.capacity_demand_mw, 1.0, 1e6);
        e.range(&f("capacity_price_share"), self.capacity_price_share, 0.0, 10.0);
        e.finish(())
    }
}

/// A daily price shape for markets without a reference series, currency/MWh
/// by local hour: night trough, morning ramp, a midday solar dip and an
/// evening peak, around 90.
pub fn default_reference(local_hour: f64) -> f64 {
    let bump = |centre: f64, width: f64| (-((local_hour - centre) / width).powi(2)).exp();
    70.0 + 45.0 * bump(8.0, 2.0) - 35.0 * bump(13.0, 2.5) + 70.0 * bump(19.0, 2.0)
}

/// The built-in exchange for one market and trading day.
#[derive(Debug, Clone)]
pub struct SimulatedExchange {
    /// The market's rules.
    pub rules: TradingRules,
    /// Which auction runs.
    pub market: MarketType,
    /// Counterparty settings.
    pub config: SimulationConfig,
    /// Slot starts of the day.
    pub slots: Vec<Timestamp>,
    /// Reference energy price per slot, currency/MWh.
    pub reference: Vec<f64>,
}

impl SimulatedExchange {
    /// The exchange for `date`; `reference[k]` is the energy price around
    /// which slot k's counterparties bid (see [`default_reference`]).
    pub fn new(
        rules: TradingRules,
        market: MarketType,
        config: SimulationConfig,
        date: Date,
        reference: Vec<f64>,
    ) -> Result<Self, ConnectorError> {
        let slots = rules.slots(date).map_err(|e| ConnectorError::Missing(e.to_string()))?;
        if reference.len() != slots.len() {
            return Err(ConnectorError::Missing(format!(
                "the reference price has {} values for {} slots of {date}",
                reference.len(),
                slots.len()
            )));
        }
        Ok(Self { rules, market, config, slots, reference })
    }

    /// The seeded noise source of one slot: independent of the order slots
    /// are asked in.
    fn rng(&self, slot: usize) -> StdRng {
        let t = self.slots[slot].as_microsecond() as u64;
        StdRng::seed_from_u64(self.config.seed ^ t.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The noisy reference of one slot, currency/MWh.
    fn noisy(&self, slot: usize, rng: &mut StdRng) -> f64 {
        let r = self.config.noise_pct / 100.0;
        self.reference[slot] * (1.0 + rng.random_range(-r..=r))
    }

    fn tick(&self, price: f64) -> i64 {
        let tick = self.rules.tick_size.to_f64().unwrap_or(0.01);
        let (lo, hi) = (self.bound(&self.rules.price_floor), self.bound(&self.rules.price_cap));
        (price.clamp(lo, hi) / tick).round() as i64
    }

    fn bound(&self, d: &Decimal) -> f64 {
        d.to_f64().unwrap_or(0.0)
    }

    /// Adds slot `s`'s counterparties of a uniform auction to `book`.
    fn counterparties(&self, s: usize, book: &mut Book) {
        let mut rng = self.rng(s);
        let p = self.noisy(s, &mut rng);
        let c = &self.config;
        let slot = s as u32;
        let cap = self.tick(self.bound(&self.rules.price_cap));
        let (depth, slope, top) = match self.market {
            MarketType::Capacity => (c.capacity_demand_mw, 0.0, p * c.capacity_price_share),
            _ => (c.depth_mw, c.slope_per_mw, p),
        };
        if self.market == MarketType::Capacity {
            // A sloped demand: 10 steps from 1.6× down to 0.4× the reference.
            for k in 0..10 {
                let price = top * (1.6 - 0.12 * k as f64);
                book.push(slot, Side::Buy, self.tick(price), depth / 10.0);
            }
        } else {
            book.push(slot, Side::Buy, cap, depth);
            // Flexible buyers (storage, exports) below the reference.
            for k in 1..=10 {
                book.push(slot, Side::Buy, self.tick(p - 5.0 * k as f64), depth * 0.01);
            }
        }
        // Rising supply: 100 steps of 2 % of the depth each, crossing the
        // demand at the reference price.
        let step_mw = depth * 0.02;
        for k in 0..100 {
            let mid = (k as f64 + 0.5) * step_mw;
            let price = if self.market == MarketType::Capacity {
                top * (0.2 + 1.2 * k as f64 / 100.0) + rng.random_range(0.0..0.5)
            } else {
                top + slope * (mid - depth) + rng.random_range(-0.5..0.5)
            };
            book.push(slot, Side::Sell, self.tick(price), step_mw);
        }
    }

    fn uniform(&self, steps: &[BidStep]) -> Result<DayResult, ConnectorError> {
        let n = self.slots.len();
        let mut book = Book::with_capacity(n * 111 + steps.len());
        for s in 0..n {
            self.counterparties(s, &mut book);
        }
        let own_from = book.len();
        for (k, st) in steps.iter().enumerate() {
            let ticks = self.rules.ticks(st.price).ok_or_else(|| {
                Invalid::one(format!("bids[{k}].price"), format!("{} is off the tick size", st.price))
            })?;
            book.push(st.slot_index, st.side, ticks, st.quantity_mw.to_f64().unwrap_or(0.0));
        }
        let cleared = clear_uniform(&book, n, 1);
        let slots = self.slot_results(cleared.slots.iter().map(|c| (c.price_ticks, c.volume_mw)));
        let awards = steps
            .iter()
            .enumerate()
            .map(|(k, st)| {
                let accepted = cleared.accepted_mw[own_from + k];
                Award {
                    accepted_mw: mw(accepted),
                    price: (accepted > 0.0).then(|| slots[st.slot_index as usize].price).flatten(),
                    activated_mw: Decimal::ZERO,
                    activation_price: None,
                }
            })
            .collect();
        Ok(DayResult { slots, awards })
    }

    fn reserve(&self, steps: &[BidStep]) -> Result<DayResult, ConnectorError> {
        let n = self.slots.len();
        let c = &self.config;
        let mut offers = Vec::with_capacity(n * 20 + steps.len());
        let mut demand = Vec::with_capacity(n);
        let mut activation = Vec::with_capacity(n);
        for s in 0..n {
            let mut rng = self.rng(s);
            let p = self.noisy(s, &mut rng);
            for k in 0..20 {
                offers.push(ReserveOffer {
                    slot: s as u32,
                    capacity_price_ticks: self.tick(p * c.reserve_price_share * (0.5 + 0.05 * k as f64)),
                    activation_price_ticks: self.tick(p + 20.0 + rng.random_range(0.0..180.0)),
                    quantity_mw: c.reserve_demand_mw / 10.0,
                });
            }
            demand.push(c.reserve_demand_mw);
            activation.push(c.reserve_demand_mw * rng.random_range(0.0..=2.0 * c.activation_share));
        }
        let own_from = offers.len();
        for (k, st) in steps.iter().enumerate() {
            let field = |f: &str| format!("bids[{k}].{f}");
            let cap = self.rules.ticks(st.price).ok_or_else(|| Invalid::one(field("price"), "off the tick size"))?;
            let act = st
                .activation_price
                .and_then(|p| self.rules.ticks(p))
                .ok_or_else(|| Invalid::one(field("activation_price"), "missing or off the tick size"))?;
            offers.push(ReserveOffer {
                slot: st.slot_index,
                capacity_price_ticks: cap,
                activation_price_ticks: act,
                quantity_mw: st.quantity_mw.to_f64().unwrap_or(0.0),
            });
        }
        let awards = clear_pay_as_bid(&offers, &demand, &activation);
        // The published price of a pay-as-bid slot is its marginal (highest accepted) capacity price.
        let mut marginal: Vec<Option<i64>> = vec![None; n];
        let mut volume = vec![0.0; n];
        for (o, a) in offers.iter().zip(&awards) {
            if a.accepted_mw > 0.0 {
                let m = &mut marginal[o.slot as usize];
                *m = Some(m.map_or(o.capacity_price_ticks, |x| x.max(o.capacity_price_ticks)));
                volume[o.slot as usize] += a.accepted_mw;
            }
        }
        let slots = self.slot_results(marginal.into_iter().zip(volume));
        let awards = steps
            .iter()
            .zip(&awards[own_from..])
            .map(|(st, a)| Award {
                accepted_mw: mw(a.accepted_mw),
                price: (a.accepted_mw > 0.0).then_some(st.price),
                activated_mw: mw(a.activated_mw),
                activation_price: (a.activated_mw > 0.0).then_some(st.activation_price).flatten(),
            })
            .collect();
        Ok(DayResult { slots, awards })
    }

    fn slot_results(&self, it: impl Iterator<Item = (Option<i64>, f64)>) -> Vec<SlotResult> {
        it.zip(&self.slots)
            .map(|((ticks, volume_mw), &time_slot)| SlotResult {
                time_slot,
                price: ticks.map(|t| self.rules.price_of(t)),
                volume_mw,
            })
            .collect()
    }
}

/// A quantity in MW as an exact decimal, to the kW (markets trade 0.1 MW).
fn mw(x: f64) -> Decimal {
    Decimal::from_f64(x).map_or(Decimal::ZERO, |d| d.round_dp(3))
}

impl MarketConnector for SimulatedExchange {
    fn kind(&self) -> &'static str {
        "simulated"
    }

    fn market_data(&self, date: Date) -> Result<Vec<SlotResult>, ConnectorError> {
        self.fetch_results(date, &[]).map(|r| r.slots)
    }

    fn submit_bids(&self, date: Date, steps: &[BidStep]) -> Result<String, ConnectorError> {
        let n = self.slots.len() as u32;
        if let Some(k) = steps.iter().position(|s| s.slot_index >= n) {
            return Err(Invalid::one(format!("bids[{k}].time_slot"), format!("not a slot of {date}")).into());
        }
        Ok(format!("sim-{}-{date}-{}", self.market.as_str().to_lowercase(), steps.len()))
    }

    fn fetch_results(&self, _date: Date, steps: &[BidStep]) -> Result<DayResult, ConnectorError> {
        match self.market {
            MarketType::Spot | MarketType::Capacity => self.uniform(steps),
            MarketType::Ancillary => self.reserve(steps),
        }
    }

    fn fetch_settlement(&self, date: Date) -> Result<Vec<(Timestamp, Decimal)>, ConnectorError> {
        // Imbalance prices follow the day-ahead price with a wider spread.
        let day = self.market_data(date)?;
        Ok(day
            .iter()
            .enumerate()
            .filter_map(|(s, r)| {
                let mut rng = self.rng(s);
                let spread: f64 = rng.random_range(-0.3..0.5);
                let base = r.price?.to_f64()?;
                Some((r.time_slot, self.rules.price_of(self.tick(base * (1.0 + spread)))))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn exchange(market: MarketType) -> SimulatedExchange {
        let rules = TradingRules::defaults(market);
        let day = date(2026, 11, 24);
        let n = rules.slots(day).expect("slots").len();
        let reference = (0..n).map(|k| default_reference(24.0 * k as f64 / n as f64)).collect();
        SimulatedExchange::new(rules, market, SimulationConfig::default(), day, reference).expect("exchange")
    }

    fn sell(ex: &SimulatedExchange, slot: usize, price: &str, qty: &str) -> BidStep {
        BidStep {
            time_slot: ex.slots[slot],
            slot_index: slot as u32,
            side: Side::Sell,
            price: price.parse().expect("price"),
            quantity_mw: qty.parse().expect("qty"),
            activation_price: None,
        }
    }

    #[test]
    fn day_ahead_prices_follow_the_reference_within_the_noise() {
        let ex = exchange(MarketType::Spot);
        let day = ex.market_data(date(2026, 11, 24)).expect("data");
        assert_eq!(day.len(), 96);
        for (r, reference) in day.iter().zip(&ex.reference) {
            let p = r.price.and_then(|p| p.to_f64()).expect("every slot clears");
            assert!((p - reference).abs() <= reference * 0.1 + 2.0, "{p} vs {reference}");
            assert!(r.volume_mw >= 2_000.0);
        }
        // Deterministic: the same inputs give the same day.
        assert_eq!(ex.market_data(date(2026, 11, 24)).expect("again"), day);
    }

    #[test]
    fn a_cheap_sell_step_clears_at_the_market_price_and_a_dear_one_does_not() {
        let ex = exchange(MarketType::Spot);
        let steps = [sell(&ex, 10, "0", "5"), sell(&ex, 10, "3000", "5")];
        let r = ex.fetch_results(date(2026, 11, 24), &steps).expect("result");
        assert_eq!(r.awards[0].accepted_mw, Decimal::from(5));
        assert_eq!(r.awards[0].price, r.slots[10].price);
        assert_eq!(r.awards[1].accepted_mw, Decimal::ZERO);
        assert_eq!(r.awards[1].price, None);
    }

    #[test]
    fn reserve_offers_are_paid_their_own_price() {
        let ex = exchange(MarketType::Ancillary);
        let mut cheap = sell(&ex, 3, "0.5", "10");
        cheap.activation_price = Some("1".parse().expect("price"));
        let r = ex.fetch_results(date(2026, 11, 24), &[cheap]).expect("result");
        assert_eq!(r.awards[0].accepted_mw, Decimal::from(10));
        assert_eq!(r.awards[0].price, Some("0.5".parse().expect("price")));
        // The cheapest activation price is activated first: min(10 MW, need).
        let activated = r.awards[0].activated_mw;
        assert!(activated > Decimal::ZERO && activated <= Decimal::from(10), "{activated}");
        assert_eq!(r.awards[0].activation_price, Some(Decimal::ONE));
        let marginal = r.slots[3].price.expect("cleared");
        assert!(marginal > Decimal::ZERO);
    }

    #[test]
    fn capacity_auction_clears_at_a_uniform_price() {
        let ex = exchange(MarketType::Capacity);
        let r = ex.fetch_results(date(2026, 11, 24), &[sell(&ex, 0, "0", "20")]).expect("result");
        assert_eq!(r.awards[0].accepted_mw, Decimal::from(20));
        assert_eq!(r.awards[0].price, r.slots[0].price);
    }
}
