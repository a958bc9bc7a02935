//! Auction clearing: uniform price (day-ahead energy, capacity) and pay as
//! bid (ancillary reserve with activation).
//!
//! The book is columnar (one `Vec` per field) so a million steps clear
//! without per-step allocation. Prices are integer ticks of the market's tick
//! size, which makes every comparison and the tie rules exact.
//!
//! # Uniform price, per slot
//! Sell steps are sorted by price ascending and buy steps descending; the
//! two cumulative curves are walked together while the cheapest remaining
//! sell price is at most the dearest remaining buy price. That gives the
//! largest tradeable volume `Q`. The clearing price lies in the interval
//! where both curves can stand at `Q`:
//!
//! ```text
//! lo = max(last matched sell price, next unmatched buy price)
//! hi = min(last matched buy price,  next unmatched sell price)
//! price = floor((lo + hi) / 2)   (in ticks; the midpoint rule)
//! ```
//!
//! A partly matched step stays "next unmatched" on its own side, so a
//! partly accepted sell step sets the price to its own. Every step priced
//! strictly better than the clearing price is accepted in full; steps at
//! exactly the clearing price on the side that is long share what is left
//! pro rata to their quantity, independent of their order in the book. A
//! slot with no crossing has no price and no volume.
//!
//! # Pay as bid, per slot
//! Offers are accepted by ascending price until the demanded volume is met;
//! offers at the marginal price share the rest pro rata; each accepted offer
//! is paid its own price. Reserve activation runs the same merit order over
//! the accepted offers' activation prices.

use std::thread;

/// Which side of the book a step is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Offers energy or capacity.
    Sell,
    /// Asks for energy.
    Buy,
}

impl Side {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sell => "sell",
            Self::Buy => "buy",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Sell, Self::Buy].into_iter().find(|x| x.as_str() == s)
    }
}

/// A bid book: one entry per price-quantity step, columnar.
#[derive(Debug, Clone, Default)]
pub struct Book {
    /// Slot index of each step (`0..slots`).
    pub slot: Vec<u32>,
    /// Side of each step.
    pub side: Vec<Side>,
    /// Limit price, in ticks of the market's tick size.
    pub price_ticks: Vec<i64>,
    /// Offered quantity, MW (> 0).
    pub quantity_mw: Vec<f64>,
}

impl Book {
    /// An empty book with room for `n` steps.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            slot: Vec::with_capacity(n),
            side: Vec::with_capacity(n),
            price_ticks: Vec::with_capacity(n),
            quantity_mw: Vec::with_capacity(n),
        }
    }

    /// Appends one step.
    pub fn push(&mut self, slot: u32, side: Side, price_ticks: i64, quantity_mw: f64) {
        self.slot.push(slot);
        self.side.push(side);
        self.price_ticks.push(price_ticks);
        self.quantity_mw.push(quantity_mw);
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.slot.len()
    }

    /// True without steps.
    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }

    /// A deterministic synthetic book for benchmarks and load tests: `n`
    /// steps spread evenly over `slots`, alternating sell and buy, prices
    /// around 80.00 (ticks of 0.01) ± 50, quantities 0.1..10 MW.
    pub fn synthetic(n: usize, slots: usize, seed: u64) -> Self {
        let mut book = Self::with_capacity(n);
        let mut x = seed | 1;
        for i in 0..n {
            // xorshift64: cheap, reproducible, no dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let side = if i % 2 == 0 { Side::Sell } else { Side::Buy };
            let skew = if side == Side::Sell { -1_000 } else { 1_000 };
            let price = 8_000 + skew + (x % 10_001) as i64 - 5_000;
            let qty = 0.1 + ((x >> 20) % 100) as f64 / 10.0;
            book.push((i % slots) as u32, side, price, qty);
        }
        book
    }

    /// Step indices grouped by slot (a counting sort: O(steps + slots)).
    fn by_slot(&self, slots: usize) -> (Vec<usize>, Vec<u32>) {
        let mut start = vec![0usize; slots + 1];
        for &s in &self.slot {
            start[s as usize + 1] += 1;
        }
        for i in 0..slots {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut order = vec![0u32; self.len()];
        for (i, &s) in self.slot.iter().enumerate() {
            order[fill[s as usize]] = i as u32;
            fill[s as usize] += 1;
        }
        (start, order)
    }
}

/// The outcome of one slot of a uniform-price auction.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SlotClearing {
    /// Clearing price in ticks; `None` when the curves do not cross.
    pub price_ticks: Option<i64>,
    /// Traded volume, MW.
    pub volume_mw: f64,
}

/// Result of a uniform-price auction.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleared {
    /// One entry per slot.
    pub slots: Vec<SlotClearing>,
    /// Accepted quantity of each step of the book, MW (same order).
    pub accepted_mw: Vec<f64>,
}

/// Clears a uniform-price auction over `slots` slots, using up to `threads`
/// worker threads (slots are independent). Steps whose slot is out of range
/// must not exist; the caller builds the book from validated bids.
pub fn clear_uniform(book: &Book, slots: usize, threads: usize) -> Cleared {
    let (start, order) = book.by_slot(slots);
    let mut accepted = vec![0.0; book.len()];
    let mut results = vec![SlotClearing { price_ticks: None, volume_mw: 0.0 }; slots];
    let threads = threads.clamp(1, slots.max(1));
    let chunk = slots.div_ceil(threads).max(1);
    let per_thread: Vec<Vec<SlotOutcome>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..slots)
            .step_by(chunk)
            .map(|first| {
                let (start, order) = (&start, &order);
                scope.spawn(move || {
                    let mut scratch = Scratch::default();
                    (first..(first + chunk).min(slots))
                        .map(|s| {
                            let steps = &order[start[s]..start[s + 1]];
                            let (result, fills) = clear_slot(book, steps, &mut scratch);
                            (s, result, fills)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("clearing threads do not panic")).collect()
    });
    for (s, result, fills) in per_thread.into_iter().flatten() {
        results[s] = result;
        for (i, q) in fills {
            accepted[i as usize] = q;
        }
    }
    Cleared { slots: results, accepted_mw: accepted }
}

/// One slot's result and the fills of its steps.
type SlotOutcome = (usize, SlotClearing, Vec<(u32, f64)>);

/// Reused sort buffers of one worker.
#[derive(Default)]
struct Scratch {
    sells: Vec<(i64, u32)>,
    buys: Vec<(i64, u32)>,
}

/// Clears one slot; returns the result and the accepted quantity per step
/// (only steps with a positive fill).
fn clear_slot(book: &Book, steps: &[u32], scratch: &mut Scratch) -> (SlotClearing, Vec<(u32, f64)>) {
    let (sells, buys) = (&mut scratch.sells, &mut scratch.buys);
    sells.clear();
    buys.clear();
    for &i in steps {
        let p = book.price_ticks[i as usize];
        match book.side[i as usize] {
            Side::Sell => sells.push((p, i)),
            // Negated so one ascending sort gives the dearest first.
            Side::Buy => buys.push((-p, i)),
        }
    }
    sells.sort_unstable();
    buys.sort_unstable();
    let qty = |i: u32| book.quantity_mw[i as usize];

    // Walk the curves to the largest crossing volume.
    let (mut si, mut bi) = (0usize, 0usize);
    let (mut s_left, mut b_left) = (sells.first().map_or(0.0, |s| qty(s.1)), buys.first().map_or(0.0, |b| qty(b.1)));
    let mut volume = 0.0;
    let (mut last_sell, mut last_buy) = (None, None);
    while si < sells.len() && bi < buys.len() && sells[si].0 <= -buys[bi].0 {
        let x = s_left.min(b_left);
        volume += x;
        s_left -= x;
        b_left -= x;
        last_sell = Some(sells[si].0);
        last_buy = Some(-buys[bi].0);
        // A step is used up when its rest is negligible against its size.
        if s_left <= 1e-12 * qty(sells[si].1).max(1.0) {
            si += 1;
            s_left = sells.get(si).map_or(0.0, |s| qty(s.1));
        }
        if b_left <= 1e-12 * qty(buys[bi].1).max(1.0) {
            bi += 1;
            b_left = buys.get(bi).map_or(0.0, |b| qty(b.1));
        }
    }
    let (Some(last_sell), Some(last_buy)) = (last_sell, last_buy) else {
        return (SlotClearing { price_ticks: None, volume_mw: 0.0 }, Vec::new());
    };
    let next_sell = sells.get(si).map(|s| s.0);
    let next_buy = buys.get(bi).map(|b| -b.0);
    let lo = next_buy.map_or(last_sell, |b| b.max(last_sell));
    let hi = next_sell.map_or(last_buy, |s| s.min(last_buy));
    let price = (lo + hi).div_euclid(2);

    let mut fills = Vec::with_capacity(si + bi + 2);
    allocate(sells.iter().map(|&(p, i)| (p, i)), price, volume, book, &mut fills);
    allocate(buys.iter().map(|&(p, i)| (-p, i)), price, volume, book, &mut fills);
    (SlotClearing { price_ticks: Some(price), volume_mw: volume }, fills)
}

/// Shares `volume` over one side given best-first: steps strictly better
/// than `price` in full, steps exactly at `price` pro rata.
fn allocate(
    side_best_first: impl Iterator<Item = (i64, u32)> + Clone,
    price: i64,
    volume: f64,
    book: &Book,
    fills: &mut Vec<(u32, f64)>,
) {
    let is_sell = |i: u32| book.side[i as usize] == Side::Sell;
    let better = |p: i64, i: u32| if is_sell(i) { p < price } else { p > price };
    let mut full = 0.0;
    let mut at_price = 0.0;
    for (p, i) in side_best_first.clone() {
        if better(p, i) {
            full += book.quantity_mw[i as usize];
        } else if p == price {
            at_price += book.quantity_mw[i as usize];
        } else {
            break;
        }
    }
    let rest = (volume - full).max(0.0);
    let share = if at_price > 0.0 { (rest / at_price).min(1.0) } else { 0.0 };
    for (p, i) in side_best_first {
        let q = book.quantity_mw[i as usize];
        if better(p, i) {
            fills.push((i, q));
        } else if p == price {
            if share > 0.0 {
                fills.push((i, q * share));
            }
        } else {
            break;
        }
    }
}

/// One offer in a pay-as-bid reserve auction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReserveOffer {
    /// Slot index.
    pub slot: u32,
    /// Capacity price, ticks (currency per MW and hour).
    pub capacity_price_ticks: i64,
    /// Activation (energy) price, ticks (currency per MWh).
    pub activation_price_ticks: i64,
    /// Offered capacity, MW.
    pub quantity_mw: f64,
}

/// What one reserve offer got.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReserveAward {
    /// Capacity accepted, MW; paid at the offer's own capacity price.
    pub accepted_mw: f64,
    /// Of that, activated energy power, MW; paid at its own activation price.
    pub activated_mw: f64,
}

/// Pay-as-bid reserve auction: per slot, `demand_mw[slot]` of capacity is
/// bought from the cheapest capacity offers, then `activation_mw[slot]` is
/// activated from the accepted offers in activation-price order. Returns one
/// award per offer (same order). Ties at the marginal price are pro rata.
pub fn clear_pay_as_bid(offers: &[ReserveOffer], demand_mw: &[f64], activation_mw: &[f64]) -> Vec<ReserveAward> {
    let mut awards = vec![ReserveAward::default(); offers.len()];
    let mut by_slot: Vec<Vec<usize>> = vec![Vec::new(); demand_mw.len()];
    for (i, o) in offers.iter().enumerate() {
        if let Some(v) = by_slot.get_mut(o.slot as usize) {
            v.push(i);
        }
    }
    for (slot, idx) in by_slot.iter_mut().enumerate() {
        let accepted = merit_order(idx, |i| offers[i].capacity_price_ticks, |i| offers[i].quantity_mw, demand_mw[slot]);
        for &(i, q) in &accepted {
            awards[i].accepted_mw = q;
        }
        let mut activable: Vec<usize> = accepted.iter().map(|&(i, _)| i).collect();
        let want = activation_mw.get(slot).copied().unwrap_or(0.0);
        let activated =
            merit_order(&mut activable, |i| offers[i].activation_price_ticks, |i| awards[i].accepted_mw, want);
        for (i, q) in activated {
            awards[i].activated_mw = q;
        }
    }
    awards
}

/// Fills `want` MW from `idx` by ascending price; the marginal price level
/// is shared pro rata. Returns (index, quantity) of every filled entry.
fn merit_order(
    idx: &mut [usize],
    price: impl Fn(usize) -> i64,
    qty: impl Fn(usize) -> f64,
    want: f64,
) -> Vec<(usize, f64)> {
    idx.sort_by_key(|&i| (price(i), i));
    let mut out = Vec::new();
    let mut left = want.max(0.0);
    let mut k = 0;
    while k < idx.len() && left > 0.0 {
        let p = price(idx[k]);
        let end = idx[k..].iter().position(|&i| price(i) != p).map_or(idx.len(), |n| k + n);
        let level: f64 = idx[k..end].iter().map(|&i| qty(i)).sum();
        let share = if level > 0.0 { (left / level).min(1.0) } else { 0.0 };
        for &i in &idx[k..end] {
            if qty(i) * share > 0.0 {
                out.push((i, qty(i) * share));
            }
        }
        left -= level * share;
        k = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn book(steps: &[(u32, Side, i64, f64)]) -> Book {
        let mut b = Book::default();
        for &(slot, side, p, q) in steps {
            b.push(slot, side, p, q);
        }
        b
    }

    #[test]
    fn partly_accepted_sell_step_sets_the_price() {
        // Sells: 10 MW at 20, 10 MW at 40, 10 MW at 60. Buy: 25 MW at 100.
        // 10 + 10 + 5 MW trade; the 60 step is partly accepted and sets 60.
        let b = book(&[
            (0, Side::Sell, 20, 10.0),
            (0, Side::Sell, 40, 10.0),
            (0, Side::Sell, 60, 10.0),
            (0, Side::Buy, 100, 25.0),
        ]);
        let c = clear_uniform(&b, 1, 1);
        assert_eq!(c.slots[0], SlotClearing { price_ticks: Some(60), volume_mw: 25.0 });
        assert_eq!(c.accepted_mw, vec![10.0, 10.0, 5.0, 25.0]);
    }

    #[test]
    fn exact_meet_takes_the_midpoint_of_the_open_price_interval() {
        // Sell 10 at 30, buy 10 at 50, nothing else: any price in [30, 50]
        // clears 10 MW; the rule takes 40.
        let b = book(&[(0, Side::Sell, 30, 10.0), (0, Side::Buy, 50, 10.0)]);
        assert_eq!(clear_uniform(&b, 1, 1).slots[0].price_ticks, Some(40));
        // A further buy at 35 that gets nothing narrows the interval to
        // [35, 50]: price floor(85 / 2) = 42, where 10 MW is offered and
        // only the 50 buyer still wants it.
        let b = book(&[(0, Side::Sell, 30, 10.0), (0, Side::Buy, 50, 10.0), (0, Side::Buy, 35, 5.0)]);
        let c = clear_uniform(&b, 1, 1);
        assert_eq!(c.slots[0], SlotClearing { price_ticks: Some(42), volume_mw: 10.0 });
        assert_eq!(c.accepted_mw, vec![10.0, 10.0, 0.0]);
    }

    #[test]
    fn ties_at_the_clearing_price_are_pro_rata_and_order_free() {
        // Two sellers at 50 (30 and 10 MW), demand 20 MW at 80: price 50,
        // each gets half of its quantity, whichever comes first.
        for order in [[0, 1], [1, 0]] {
            let sellers = [(0, Side::Sell, 50, 30.0), (0, Side::Sell, 50, 10.0)];
            let b = book(&[sellers[order[0]], sellers[order[1]], (0, Side::Buy, 80, 20.0)]);
            let c = clear_uniform(&b, 1, 1);
            assert_eq!(c.slots[0].price_ticks, Some(50));
            let got: Vec<f64> = (0..2).map(|k| c.accepted_mw[k]).collect();
            let want = [sellers[order[0]].3 / 2.0, sellers[order[1]].3 / 2.0];
            assert_eq!(got, want);
        }
    }

    #[test]
    fn no_crossing_means_no_price() {
        let b = book(&[(0, Side::Sell, 90, 10.0), (0, Side::Buy, 50, 10.0), (1, Side::Sell, 10, 5.0)]);
        let c = clear_uniform(&b, 2, 2);
        assert_eq!(c.slots, vec![SlotClearing { price_ticks: None, volume_mw: 0.0 }; 2]);
        assert_eq!(c.accepted_mw, vec![0.0; 3]);
    }

    #[test]
    fn pay_as_bid_fills_cheapest_first_and_activates_by_energy_price() {
        // Demand 25 MW; offers 10 @ 5, 10 @ 8, 10 @ 12 (capacity ticks).
        let o = |cap, act, q| ReserveOffer {
            slot: 0,
            capacity_price_ticks: cap,
            activation_price_ticks: act,
            quantity_mw: q,
        };
        let offers = [o(12, 100, 10.0), o(5, 300, 10.0), o(8, 200, 10.0)];
        let awards = clear_pay_as_bid(&offers, &[25.0], &[12.0]);
        assert_eq!(awards.iter().map(|a| a.accepted_mw).collect::<Vec<_>>(), vec![5.0, 10.0, 10.0]);
        // Activation merit order by energy price: offer 0 at 100 (5 MW
        // accepted) runs in full, offer 2 at 200 gives the other 7 MW, offer 1
        // at 300 stays idle.
        assert_eq!(awards.iter().map(|a| a.activated_mw).collect::<Vec<_>>(), vec![5.0, 0.0, 7.0]);
    }

    proptest! {
        /// The clearing is a market equilibrium: both sides trade the same
        /// volume, no accepted step is priced out, every step priced better
        /// than the clearing price is filled, and no fill exceeds its step.
        #[test]
        fn uniform_clearing_is_an_equilibrium(steps in prop::collection::vec(
            (0u32..3, any::<bool>(), -20i64..20, 1u32..50), 0..60)) {
            let b = book(&steps.iter().map(|&(s, sell, p, q)| {
                (s, if sell { Side::Sell } else { Side::Buy }, p, f64::from(q))
            }).collect::<Vec<_>>());
            let c = clear_uniform(&b, 3, 2);
            for (s, slot) in c.slots.iter().enumerate() {
                let (mut sold, mut bought) = (0.0, 0.0);
                for i in 0..b.len() {
                    if b.slot[i] as usize != s { continue; }
                    let (q, p, a) = (b.quantity_mw[i], b.price_ticks[i], c.accepted_mw[i]);
                    prop_assert!(a <= q + 1e-9);
                    match (b.side[i], slot.price_ticks) {
                        (_, None) => prop_assert_eq!(a, 0.0),
                        (Side::Sell, Some(price)) => {
                            sold += a;
                            if p > price { prop_assert_eq!(a, 0.0); }
                            if p < price { prop_assert!((a - q).abs() < 1e-9); }
                        }
                        (Side::Buy, Some(price)) => {
                            bought += a;
                            if p < price { prop_assert_eq!(a, 0.0); }
                            if p > price { prop_assert!((a - q).abs() < 1e-9); }
                        }
                    }
                }
                prop_assert!((sold - slot.volume_mw).abs() < 1e-6, "sold {sold} vs {}", slot.volume_mw);
                prop_assert!((bought - slot.volume_mw).abs() < 1e-6, "bought {bought} vs {}", slot.volume_mw);
            }
        }
    }
}
