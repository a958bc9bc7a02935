//! Park figures: labelling a year of 15-minute load with TOU periods, a
//! month's bill, and the savings figures of five adjustable loads.
//!
//! No target in the issue; these keep the figures honest as the code changes.

use divan::Bencher;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use vpp_domain::settings::Settings;
use vpp_domain::tariff::bill::{BillInput, compute_bill, month_span};
use vpp_domain::tariff::flex::{AdjustableLoad, FlexInput, savings};
use vpp_domain::tariff::load::label;
use vpp_domain::tariff::tou::{HolidayCalendar, Labeller, TariffTerms};

fn main() {
    divan::main();
}

fn labeller() -> Labeller {
    let w = |s: &str, e: &str, p: &str| serde_json::json!({"start": s, "end": e, "period": p});
    let terms: TariffTerms = serde_json::from_value(serde_json::json!({
        "effective_from": "2025-01-01", "currency": "CNY",
        "energy_prices": {"sharp_peak": "1.2", "peak": "1.0", "flat": "0.6", "valley": "0.3"},
        "seasons": [
            {"name": "summer", "months": [7, 8],
             "workday": [w("00:00", "08:00", "valley"), w("08:00", "14:00", "peak"), w("14:00", "15:00", "sharp_peak"),
                         w("15:00", "22:00", "flat"), w("22:00", "24:00", "valley")]},
            {"name": "rest", "months": [1, 2, 3, 4, 5, 6, 9, 10, 11, 12],
             "workday": [w("00:00", "08:00", "valley"), w("08:00", "22:00", "flat"), w("22:00", "24:00", "valley")]}
        ],
        "demand_charge": {"basis": "max_demand", "price_per_kw_month": "40"},
        "components": [{"code": "transmission", "name": "T&D", "rate_per_kwh": "0.16"}]
    }))
    .expect("terms");
    Labeller {
        tz: TimeZone::get("Asia/Shanghai").expect("zone"),
        versions: vec![terms.compile("").expect("valid")],
        calendar: HolidayCalendar::default(),
    }
}

/// `n` quarter-hours of a daily-shaped load from 1 January 2026 local.
fn load(lab: &Labeller, n: usize) -> Vec<(Timestamp, f64)> {
    let start = jiff::civil::date(2026, 1, 1).to_zoned(lab.tz.clone()).expect("zoned").timestamp();
    (0..n)
        .map(|k| {
            let t = start + SignedDuration::from_mins(15 * k as i64);
            (t, 1000.0 + 800.0 * ((k % 96) as f64 / 96.0 * std::f64::consts::TAU).sin().max(0.0))
        })
        .collect()
}

#[divan::bench]
fn label_a_year(bencher: Bencher) {
    let lab = labeller();
    let points = load(&lab, 365 * 96);
    bencher.bench(|| label(&lab, divan::black_box(&points)));
}

#[divan::bench]
fn bill_a_month(bencher: Bencher) {
    let lab = labeller();
    let points = load(&lab, 365 * 96);
    let month = jiff::civil::date(2026, 7, 1);
    bencher.bench(|| {
        compute_bill(&BillInput {
            labeller: &lab,
            month,
            load: divan::black_box(&points),
            transformer_kva: None,
            reactive_kvarh: Some(1.0e5),
            default_pf_target: rust_decimal::Decimal::new(90, 2),
            lang: Default::default(),
        })
    });
}

#[divan::bench]
fn savings_of_a_month(bencher: Bencher) {
    let lab = labeller();
    let (start, end) = month_span(jiff::civil::date(2026, 1, 1), &lab.tz).expect("span");
    let points: Vec<_> = load(&lab, 31 * 96).into_iter().filter(|p| p.0 >= start && p.0 < end).collect();
    let labelled = label(&lab, &points);
    let loads: Vec<AdjustableLoad> = (0..5)
        .map(|i| AdjustableLoad {
            id: i.to_string(),
            site_id: "s".into(),
            name: format!("load {i}"),
            rated_kw: 200.0 + 100.0 * f64::from(i),
            adjustable_ratio: 0.5,
            response_time_min: 5.0 * f64::from(i),
            cost_per_adjustment: rust_decimal::Decimal::from(10 * i),
            max_duration_min: 30.0 * f64::from(i + 1),
            shiftable: i % 2 == 0,
            resource_id: None,
            created_at: Timestamp::UNIX_EPOCH,
        })
        .collect();
    let settings = Settings::default();
    bencher.bench(|| {
        let input = FlexInput {
            labeller: &lab,
            load: &labelled,
            loads: &loads,
            demand_price: Some(40.0),
            currency: "CNY",
            lang: Default::default(),
        };
        savings(divan::black_box(&input), &settings)
    });
}
