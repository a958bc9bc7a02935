//! Deterministic synthetic day-ahead prices for benchmarks and for
//! comparisons with outside tools: the same seed gives the same series
//! on every machine, without a random-number crate.

/// Quarter-hours per day.
const DAY: usize = 96;

/// A splitmix64 step: uniform in [-1, 1).
fn noise(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE5_E9B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// `days` days of quarter-hour prices (€/MWh) starting on a Monday: a night
/// dip, a midday solar dip, an evening peak, cheaper weekends, a level that
/// drifts from day to day and ±5 €/MWh of noise.
pub fn day_ahead_prices(days: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut level = 0.0;
    (0..days * DAY)
        .map(|i| {
            if i % DAY == 0 {
                level = 0.9 * level + 4.0 * noise(&mut state);
            }
            let h = (i % DAY) as f64 / 4.0;
            let weekend = (i / DAY) % 7 >= 5;
            let price = 85.0 + level
                - if weekend { 15.0 } else { 0.0 }
                - 20.0 * (-((h - 3.5) / 2.5f64).powi(2)).exp()
                - 40.0 * (-((h - 13.0) / 2.5f64).powi(2)).exp()
                + 60.0 * (-((h - 19.0) / 1.8f64).powi(2)).exp()
                + 5.0 * noise(&mut state);
            (price * 100.0).round() / 100.0
        })
        .collect()
}

/// A forecast of `prices`: each value off by up to ±`error`.
pub fn forecast_of(prices: &[f64], error: f64, seed: u64) -> Vec<f64> {
    let mut state = seed ^ 0x5DEE_CE66;
    prices.iter().map(|p| ((p + error * noise(&mut state)) * 100.0).round() / 100.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_repeatable_and_shaped() {
        let a = day_ahead_prices(14, 1);
        assert_eq!(a, day_ahead_prices(14, 1));
        assert_ne!(a, day_ahead_prices(14, 2));
        let mean_at = |q: usize| (0..14).map(|d| a[d * DAY + q]).sum::<f64>() / 14.0;
        assert!(mean_at(19 * 4) > mean_at(13 * 4) + 60.0, "evening peak above the solar dip");
        let f = forecast_of(&a, 10.0, 1);
        assert!(a.iter().zip(&f).all(|(p, f)| (p - f).abs() <= 10.0 + 1e-9));
    }
}
