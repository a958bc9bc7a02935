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
    Frame::new(START_US, 900, TimeZone::UTC, y)
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

/// A PV-like physical forecast: a midday bell, dimmed day by day by clouds.
fn pv_physical(days: usize, rng: &mut StdRng) -> Vec<f64> {
    let mut clouds = 1.0;
    (0..days * DAY)
        .map(|i| {
            if i % DAY == 0 {
                clouds = rng.random_range(0.3..1.0);
            }
            let hour = (i % DAY) as f64 / 4.0 + 0.125;
            let sun = ((hour - 6.0) / 12.0 * std::f64::consts::PI).sin().max(0.0);
            1000.0 * clouds * sun.powf(1.3)
        })
        .collect()
}

#[test]
fn a_physical_correction_learns_what_the_physics_misses() {
    let mut rng = StdRng::seed_from_u64(9);
    let days = 60;
    let physical = pv_physical(days + 2, &mut rng);
    // The plant faces a little west of what its technical data says and is
    // soiled: it makes 10 % less, less in the morning, more in the evening.
    let y: Vec<f64> = (0..days * DAY)
        .map(|i| {
            let frac = (i % DAY) as f64 / DAY as f64;
            let skew = 0.9 - 0.15 * (std::f64::consts::TAU * frac).sin();
            (physical[i] * skew + physical[i] * rng.random_range(-0.03..0.03)).max(0.0)
        })
        .collect();
    let mut f = frame(y);
    f.physical = physical;
    let s = spec(Method::PhysicalCorrection, ModelParams { window_days: Some(28), ..Default::default() });
    let trained = train(&s, &f).expect("trains");
    assert_eq!(trained.score.baseline.as_deref(), Some("physical forecast"));
    let skill = trained.score.skill.expect("scored against the physics");
    assert!(skill > 0.5, "the correction should halve the physics' error: skill {skill}");
    let coefficients = trained.coefficients.clone().expect("coefficients");
    let (_, beta) = coefficients.iter().find(|(n, _)| n == "physical").expect("named");
    assert!((beta + 0.1).abs() < 0.05, "the level correction is about −10 %: {beta}");

    // The next day is forecast from its physical forecast; never negative.
    let end = f.time_us(f.y.len());
    let p = predict(&s, &trained, &f, end, 2 * DAY).expect("predicts");
    assert!(p.point.iter().all(|v| *v >= 0.0));
    let noon = days * DAY + 48;
    assert!((p.point[48] - 0.9 * f.physical[noon]).abs() < 0.05 * f.physical[noon], "{}", p.point[48]);

    // Without a physical forecast there is nothing to correct: refused by name.
    f.physical.truncate(days * DAY + 10);
    match predict(&s, &trained, &f, end, DAY) {
        Err(ForecastError::Regressor { name, .. }) => assert_eq!(name, "physical forecast"),
        other => panic!("expected a missing physical forecast, got {other:?}"),
    }
}

#[test]
fn holidays_and_temperature_shape_a_demand_forecast() {
    use jiff::civil::date;
    use vpp_domain::tariff::tou::{CalendarDay, DayKind, HolidayCalendar};
    let mut rng = StdRng::seed_from_u64(4);
    let days = 120;
    // Holidays on weekdays; the plant idles on them as on weekends.
    let holidays: Vec<CalendarDay> = [date(2025, 1, 29), date(2025, 1, 30), date(2025, 2, 12), date(2025, 3, 5)]
        .into_iter()
        .chain((0..8).map(|k| date(2025, 4, 1).checked_add(jiff::Span::new().days(k * 2)).expect("date")))
        .map(|d| CalendarDay { date: d, kind: DayKind::Holiday, name: "holiday".into() })
        .collect();
    let calendar = HolidayCalendar { days: holidays }.validated().expect("calendar");
    let mut temp = Vec::with_capacity(days * DAY + 192);
    let mut c: f64 = 20.0;
    for i in 0..days * DAY + 192 {
        c = (c + rng.random_range(-0.4..0.4) + 0.02 * (20.0 - c)).clamp(0.0, 38.0);
        let daily = 4.0 * (std::f64::consts::TAU * ((i % DAY) as f64 / DAY as f64 - 0.375)).sin();
        temp.push(c + daily);
    }
    let y: Vec<f64> = (0..days * DAY)
        .map(|i| {
            let day = jiff::Timestamp::from_microsecond(START_US + i as i64 * 900_000_000)
                .expect("t")
                .to_zoned(TimeZone::UTC)
                .date();
            let hour = (i % DAY) as f64 / 4.0;
            let working = calendar.is_workday(day) && (8.0..20.0).contains(&hour);
            let cooling = 25.0 * (temp[i] - 18.0).max(0.0);
            800.0 + if working { 1500.0 } else { 0.0 } + cooling + rng.random_range(-30.0..30.0)
        })
        .collect();
    let mut f = frame(y);
    f.regressors.push(("park temperature".into(), temp));
    f.holidays = Some(calendar);
    let base = ModelParams { lags: Some(vec![]), harmonics: Some(6), window_days: Some(90), ..Default::default() };
    let plain = train(&spec(Method::Linear, base.clone()), &f).expect("trains");
    let informed = ModelParams { holidays: Some("XX".into()), temperature: Some("park temperature".into()), ..base };
    let trained = train(&spec(Method::Linear, informed), &f).expect("trains");
    let (plain_mae, mae) = (plain.score.overall.mae, trained.score.overall.mae);
    assert!(mae < 0.6 * plain_mae, "holidays and temperature should cut the error: {mae} vs {plain_mae}");
    let coefficients = trained.coefficients.clone().expect("coefficients");
    let (_, cooling) = coefficients.iter().find(|(n, _)| n == "cooling_degrees").expect("named");
    assert!((cooling - 25.0).abs() < 4.0, "cooling degrees coefficient {cooling}");
    assert!(coefficients.iter().any(|(n, _)| n == "non_workday_day_sin_1"));
}
