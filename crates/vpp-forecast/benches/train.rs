//! Training and cross-validating price models on a year of quarter-hours
//! (35,040 values, 10 rolling origins, 192 steps ahead).

use divan::Bencher;
use jiff::tz::TimeZone;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vpp_domain::ai_model::{Method, ModelParams};
use vpp_forecast::{Frame, train};

fn main() {
    divan::main();
}

fn year() -> Frame {
    let mut rng = StdRng::seed_from_u64(1);
    let mut level = 0.0;
    let y = (0..365 * 96)
        .map(|i| {
            if i % 96 == 0 {
                level += rng.random_range(-4.0..4.0);
            }
            let h = (i % 96) as f64 / 4.0;
            let weekend = matches!((i / 96 + 2) % 7, 5 | 6);
            80.0 + level - if weekend { 15.0 } else { 0.0 } - 40.0 * (-((h - 13.0) / 2.5f64).powi(2)).exp()
                + 60.0 * (-((h - 19.0) / 1.8f64).powi(2)).exp()
                + rng.random_range(-5.0..5.0)
        })
        .collect();
    Frame { start_us: 1_735_689_600_000_000, step_s: 900, tz: TimeZone::UTC, y, regressors: vec![] }
}

#[divan::bench(args = [Method::SeasonalNaive, Method::Mstl, Method::Linear], sample_count = 5)]
fn train_and_cross_validate_a_year(bencher: Bencher, method: Method) {
    let frame = year();
    let spec = ModelParams::default().check(method).expect("defaults");
    bencher.bench(|| train(&spec, &frame).expect("trains"));
}
