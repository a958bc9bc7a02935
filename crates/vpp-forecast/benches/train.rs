//! Training and cross-validating price models on a year of quarter-hours
//! (35,040 values, 10 rolling origins, 192 steps ahead).

use divan::Bencher;
use jiff::tz::TimeZone;
use vpp_domain::ai_model::{Method, ModelParams};
use vpp_forecast::{Frame, train};

fn main() {
    divan::main();
}

fn year() -> Frame {
    let y = vpp_domain::synthetic::day_ahead_prices(365, 1);
    Frame::new(1_735_516_800_000_000, 900, TimeZone::UTC, y)
}

#[divan::bench(args = [Method::SeasonalNaive, Method::Mstl, Method::Linear], sample_count = 5)]
fn train_and_cross_validate_a_year(bencher: Bencher, method: Method) {
    let frame = year();
    let spec = ModelParams::default().check(method).expect("defaults");
    bencher.bench(|| train(&spec, &frame).expect("trains"));
}
