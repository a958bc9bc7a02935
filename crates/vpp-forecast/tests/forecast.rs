//! Methods on synthetic quarter-hour series whose answers are known.

use jiff::tz::TimeZone;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vpp_domain::ai_model::{Method, ModelParams, Spec};
use vpp_forecast::{ForecastError, Frame, predict, train};

const DAY: usize = 96;
const START_US: i64 = 1_735_689_600_000_000; // 2025-01-01T00:00Z, a Wednesday

fn spec(method: Method, params: ModelParams) -> Spec {
    params.check(method).expect("valid parameters")
}

/// Daily and weekly shape, a slow level drift and noise: a price-like series.
fn price_like(days: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut level = 0.0;
    (0..days * DAY)
        .map(|i| {
            if i % DAY == 0 {
                level += rng.random_range(-4.0..4.0);
            }
            let h = (i % DAY) as f64 / 4.0;
            let weekend = matches!((i / DAY + 2) % 7, 5 | 6);
            80.0 + level - if weekend { 15.0 } else { 0.0 } - 40.0 * (-((h - 13.0) / 2.5f64).powi(2)).exp()
                + 60.0 * (-((h - 19.0) / 1.8f64).powi(2)).exp()
                + rng.random_range(-5.0..5.0)
        })
        .collect()
}

fn frame(y: Vec<f64>) -> Frame {
    Frame { start_us: START_US, step_s: 900, tz: TimeZone::UTC, y, regressors: vec![] }
}

#[test]
fn seasonal_naive_is_exact_on_a_weekly_pattern() {
    let y: Vec<f64> = (0..8 * 7 * DAY).map(|i| ((i % (7 * DAY)) as f64).sin() * 30.0 + 50.0).collect();
    let trained = train(&spec(Method::SeasonalNaive, ModelParams::default()), &frame(y)).expect("trains");
    assert!(trained.score.overall.mae < 1e-9, "{:?}", trained.score.overall);
    assert_eq!(trained.score.by_hour.len(), 48, "192 steps ahead are 48 hours");
    assert_eq!(trained.score.origins_us.len(), 10);
}

#[test]
fn mstl_beats_seasonal_naive_on_drifting_prices() {
    let f = frame(price_like(120, 7));
    let params = ModelParams { window_days: Some(56), ..Default::default() };
    let trained = train(&spec(Method::Mstl, params), &f).expect("trains");
    let skill = trained.score.skill.expect("baseline scored");
    assert!(skill > 0.2, "MSTL should beat weekly seasonal naive clearly: skill {skill}, {:?}", trained.score.overall);
    // Errors grow with the horizon on a drifting level.
    let first = trained.score.by_hour[0].metrics.mae;
    let last = trained.score.by_hour[47].metrics.mae;
    assert!(first < last, "hour 1 MAE {first} vs hour 48 {last}");
}

#[test]
fn linear_regression_recovers_a_weather_effect() {
    let mut rng = StdRng::seed_from_u64(3);
    let days = 90;
    let mut temp = Vec::with_capacity(days * DAY + 192);
    let mut t = 10.0;
    for _ in 0..days * DAY + 192 {
        t += rng.random_range(-0.3..0.3);
        temp.push(t);
    }
    let y: Vec<f64> = (0..days * DAY)
        .map(|i| {
            let frac = (i % DAY) as f64 / DAY as f64;
            40.0 + 3.0 * temp[i] + 10.0 * (std::f64::consts::TAU * frac).sin() + rng.random_range(-1.0..1.0)
        })
        .collect();
    let mut f = frame(y);
    f.regressors.push(("temperature".into(), temp));
    // Without lags, which would share the weather's effect (a lag two days
    // back carries two-day-old temperature), the coefficient is identifiable.
    let params = ModelParams {
        regressors: vec!["temperature".into()],
        harmonics: Some(2),
        lags: Some(vec![]),
        ..Default::default()
    };
    let s = spec(Method::Linear, params);
    let trained = train(&s, &f).expect("trains");
    let coefficients = trained.coefficients.clone().expect("linear has coefficients");
    let (_, beta) = coefficients.iter().find(|(n, _)| n == "temperature").expect("named");
    assert!((beta - 3.0).abs() < 0.1, "temperature coefficient {beta}");
    assert!(trained.score.overall.mae < 1.0, "{:?}", trained.score.overall);
    assert!(trained.score.skill.expect("baseline") > 0.5);

    // The next day is forecast from stored coefficients and the regressor's future.
    let end = f.time_us(f.y.len());
    let p = predict(&s, &trained, &f, end, 96).expect("predicts");
    assert_eq!(p.point.len(), 96);
    assert!(p.p10.iter().zip(&p.p90).all(|(lo, hi)| lo < hi), "a band, not a point");

    // Beyond the regressor's known values the forecast is refused, by name.
    f.regressors[0].1.truncate(days * DAY + 10);
    match predict(&s, &trained, &f, end, 96) {
        Err(ForecastError::Regressor { name, .. }) => assert_eq!(name, "temperature"),
        other => panic!("expected a regressor error, got {other:?}"),
    }
}

#[test]
fn nothing_after_the_origin_changes_a_forecast() {
    let y = price_like(70, 11);
    let origin = 60 * DAY;
    let mut future_changed = y.clone();
    for v in &mut future_changed[origin..] {
        *v = 1e4;
    }
    for (method, params) in [
        (Method::SeasonalNaive, ModelParams::default()),
        (Method::Mstl, ModelParams { window_days: Some(28), ..Default::default() }),
        (Method::Linear, ModelParams { window_days: Some(40), ..Default::default() }),
    ] {
        let s = spec(method, params);
        // Trained on the changed series, so stored coefficients (if any)
        // saw the future: predict must refit before an origin inside the
        // training data.
        let trained = train(&s, &frame(future_changed.clone())).expect("trains");
        let at = START_US + origin as i64 * 900_000_000;
        let a = predict(&s, &trained, &frame(y.clone()), at, 96).expect("predicts");
        let b = predict(&s, &trained, &frame(future_changed.clone()), at, 96).expect("predicts");
        assert_eq!(a.point, b.point, "{method:?} saw values after its origin");
    }
}

#[test]
fn quantile_bands_cover_about_eighty_percent() {
    let f = frame(price_like(120, 5));
    let params = ModelParams { cv_origins: Some(30), window_days: Some(28), ..Default::default() };
    let trained = train(&spec(Method::SeasonalNaive, params), &f).expect("trains");
    let coverage = trained.score.interval_coverage.expect("several origins");
    assert!((0.65..=0.92).contains(&coverage), "coverage {coverage}");
}

#[test]
fn short_history_is_refused_with_what_is_needed() {
    let err = train(&spec(Method::Mstl, ModelParams::default()), &frame(price_like(10, 1))).expect_err("too short");
    let text = err.to_string();
    assert!(text.starts_with("not enough history") && text.contains("need"), "{text}");
    let empty = frame(vec![f64::NAN; 2000]);
    assert!(matches!(
        train(&spec(Method::SeasonalNaive, ModelParams::default()), &empty),
        Err(ForecastError::History(_))
    ));
}
