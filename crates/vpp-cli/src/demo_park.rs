//! The demo's industrial park: a Suzhou plant with a year of 15-minute load,
//! a two-season time-of-use tariff, an illustrative holiday calendar,
//! adjustable loads, an on-site battery and the utility's bill of last month
//! to reconcile against.
//!
//! Prices, components and holidays are illustrative, shaped like a Jiangsu
//! industrial tariff; they are demo data, not a published tariff.

use anyhow::Context;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::json;
use vpp_domain::resource::{Location, ResourceRequest, ResourceStatus};
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
use vpp_domain::tariff::SiteRequest;
use vpp_domain::tariff::bill::{ActualBill, ActualLine};
use vpp_domain::tariff::flex::AdjustableLoadRequest;
use vpp_domain::tariff::tou::{CalendarDay, DayKind, HolidayCalendar, TariffRequest};
use vpp_domain::template::Parameters;
use vpp_store::Store;

/// Name of the demo park's site.
pub const SITE_NAME: &str = "Suzhou Plant A";
const REGION: &str = "CN-JS";
const ZONE: &str = "Asia/Shanghai";
/// The park's weather point (latitude, longitude).
pub const WEATHER_POINT: (f64, f64) = (31.317, 120.716);
/// Name of the park's demand model.
pub const DEMAND_MODEL: &str = "Suzhou Plant A demand";

fn w(start: &str, end: &str, period: &str) -> serde_json::Value {
    json!({"start": start, "end": end, "period": period})
}

/// The two-season tariff: summer (July, August) has a sharp peak.
fn tariff(effective_from: Date) -> anyhow::Result<TariffRequest> {
    let request = json!({
        "name": "Jiangsu industrial TOU (demo)",
        "region": REGION,
        "time_zone": ZONE,
        "terms": {
            "effective_from": effective_from.to_string(),
            "currency": "CNY",
            "energy_prices": {"sharp_peak": "1.1856", "peak": "0.9880", "flat": "0.6175", "valley": "0.2964"},
            "seasons": [
                {"name": "summer", "months": [7, 8],
                 "workday": [w("00:00", "08:00", "valley"), w("08:00", "14:00", "peak"), w("14:00", "15:00", "sharp_peak"),
                             w("15:00", "17:00", "peak"), w("17:00", "22:00", "flat"), w("22:00", "24:00", "valley")],
                 "non_workday": [w("00:00", "08:00", "valley"), w("08:00", "22:00", "flat"), w("22:00", "24:00", "valley")]},
                {"name": "rest of the year", "months": [1, 2, 3, 4, 5, 6, 9, 10, 11, 12],
                 "workday": [w("00:00", "08:00", "valley"), w("08:00", "11:00", "peak"), w("11:00", "17:00", "flat"),
                             w("17:00", "22:00", "peak"), w("22:00", "24:00", "valley")],
                 "non_workday": [w("00:00", "08:00", "valley"), w("08:00", "22:00", "flat"), w("22:00", "24:00", "valley")]}
            ],
            "demand_charge": {"basis": "max_demand", "price_per_kw_month": "40"},
            "power_factor": {"target": "0.90"},
            "components": [
                {"code": "transmission", "name": "Transmission and distribution", "rate_per_kwh": "0.1657"},
                {"code": "system_operation", "name": "System operation", "rate_per_kwh": "0.0250"},
                {"code": "government_funds", "name": "Government funds and surcharges", "rate_per_kwh": "0.0296"}
            ]
        }
    });
    Ok(serde_json::from_value(request)?)
}

/// Public holidays and moved workdays of 2025 and 2026, as China announced
/// them (illustrative demo data).
fn calendar() -> anyhow::Result<HolidayCalendar> {
    let mut days = Vec::new();
    let holidays: [(&str, Date, i64); 13] = [
        ("New Year", date(2025, 1, 1), 1),
        ("Spring Festival", date(2025, 1, 28), 8),
        ("Qingming", date(2025, 4, 4), 3),
        ("Labour Day", date(2025, 5, 1), 5),
        ("Dragon Boat", date(2025, 5, 31), 3),
        ("National Day", date(2025, 10, 1), 8),
        ("New Year", date(2026, 1, 1), 3),
        ("Spring Festival", date(2026, 2, 15), 9),
        ("Qingming", date(2026, 4, 4), 3),
        ("Labour Day", date(2026, 5, 1), 5),
        ("Dragon Boat", date(2026, 6, 19), 3),
        ("Mid-Autumn", date(2026, 9, 25), 3),
        ("National Day", date(2026, 10, 1), 7),
    ];
    for (name, first, n) in holidays {
        for k in 0..n {
            days.push(CalendarDay { date: first.checked_add(k.days())?, kind: DayKind::Holiday, name: name.into() });
        }
    }
    for d in [
        date(2025, 1, 26),
        date(2025, 2, 8),
        date(2025, 4, 27),
        date(2025, 9, 28),
        date(2025, 10, 11),
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ] {
        days.push(CalendarDay { date: d, kind: DayKind::Workday, name: "moved workday".into() });
    }
    Ok(HolidayCalendar { days }.validated()?)
}

/// Plant load in kW at a local time and air temperature: two production
/// shifts on workdays, a lunch dip, chillers above 22 °C (fully while the
/// plant works), heating below 8 °C in the morning, noise.
fn plant_kw(local: jiff::civil::DateTime, workday: bool, temp_c: f64, rng: &mut SmallRng) -> f64 {
    let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
    let mut kw = 850.0;
    let working = if workday { (7.5..23.0).contains(&hour) } else { (8.0..18.0).contains(&hour) };
    if workday {
        if working {
            kw += 1700.0;
        }
        if (12.0..13.0).contains(&hour) {
            kw -= 500.0;
        }
        if (8.0..11.0).contains(&hour) || (14.0..17.0).contains(&hour) {
            kw += 300.0;
        }
    } else if working {
        kw += 400.0;
    }
    let chillers = if working { 70.0 } else { 25.0 };
    kw += chillers * (temp_c - 22.0).max(0.0);
    if (7.0..10.0).contains(&hour) {
        kw += 40.0 * (8.0 - temp_c).max(0.0);
    }
    kw * (1.0 + rng.random_range(-0.04..0.04))
}

/// Seeds the park; `battery_template` is the preset battery template.
pub async fn seed(store: &Store, battery_template: &str, industrial_loads: &[String]) -> anyhow::Result<()> {
    let tz = TimeZone::get(ZONE)?;
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    let first = today.checked_sub(365.days())?;
    let effective = date(first.year(), 1, 1);
    let tariff = store.create_tariff(&tariff(effective)?, "demo").await.context("demo tariff")?;
    store.put_calendar(REGION, &calendar()?, "demo").await?;
    let battery = store
        .create_resource(ResourceRequest {
            template_id: battery_template.into(),
            name: format!("{SITE_NAME} battery"),
            external_id: None,
            status: Some(ResourceStatus::Online),
            parameters: serde_json::from_value::<Parameters>(json!({
                "usable_energy_kwh": 2000.0, "max_charge_kw": 1000.0, "max_discharge_kw": 1000.0,
                "round_trip_efficiency": 0.9
            }))?,
            capacity_kw: None,
            min_power_kw: None,
            max_power_kw: None,
            efficiency: None,
            response_time_s: None,
            marginal_cost: None,
            location: Location {
                lat: 31.3170,
                lon: 120.7160,
                timezone: ZONE.into(),
                building: Some("Plant A substation".into()),
            },
            device_address: "modbus://127.0.0.1:15999/1".into(),
            owner: Some("Suzhou Park Energy Co.".into()),
            metadata: Parameters::new(),
        })
        .await?;
    let site = store
        .create_site(&SiteRequest {
            name: SITE_NAME.into(),
            tariff_id: tariff.id.clone(),
            transformer_kva: Some(5000.0),
            battery_resource_id: Some(battery.id),
            description: "Electronics assembly, two shifts; 10 kV connection".into(),
        })
        .await?;
    // A year of load up to today's start, as meter values known now.
    let labeller = vpp_app::parks::labeller(store, &tariff).await?;
    let mut rng = SmallRng::seed_from_u64(17);
    let start = first.to_zoned(tz.clone())?.timestamp();
    let end = today.to_zoned(tz.clone())?.timestamp();
    let known = vpp_store::now().as_microsecond();
    let air = vpp_physics::sun::Site::new(WEATHER_POINT.0, WEATHER_POINT.1, 0.0);
    let mut beliefs = Vec::new();
    let mut t = start;
    while t < end {
        let local = t.to_zoned(tz.clone()).datetime();
        let workday = labeller.calendar.is_workday(local.date());
        let temp_c = vpp_physics::synthetic::temp_air_c(t.as_second() as f64, &air);
        beliefs.push(Belief {
            event_start_us: t.as_microsecond(),
            belief_time_us: known,
            source: SourceKind::MeterFinal,
            value: (plant_kw(local, workday, temp_c, &mut rng) * 10.0).round() / 10.0,
        });
        t = t.checked_add(SignedDuration::from_mins(15))?;
    }
    let (key, load_series) =
        store.ensure_series(OwnerKind::Site, &site.id, Quantity::Power, &format!("{SITE_NAME} load")).await?;
    store.insert_beliefs(key, &beliefs).await?;
    let temperature = crate::demo_weather::seed_temperature_history(store, WEATHER_POINT, start).await?;
    seed_demand_model(store, &load_series.id, &temperature).await?;
    let loads = [
        ("Chiller plant", 900.0, 0.4, 10.0, "80", 120.0, true),
        ("Air compressors", 600.0, 0.3, 5.0, "20", 60.0, true),
        ("Heat-treatment furnace", 1200.0, 0.5, 30.0, "400", 240.0, true),
        ("Forklift and EV charging", 300.0, 1.0, 1.0, "0", 480.0, true),
        ("Ventilation", 250.0, 0.3, 2.0, "0", 30.0, false),
    ];
    for (i, (name, rated_kw, ratio, response, cost, max_min, shiftable)) in loads.into_iter().enumerate() {
        store
            .create_adjustable_load(&AdjustableLoadRequest {
                site_id: site.id.clone(),
                name: name.into(),
                rated_kw,
                adjustable_ratio: ratio,
                response_time_min: response,
                cost_per_adjustment: cost.parse::<Decimal>()?,
                max_duration_min: max_min,
                shiftable,
                resource_id: industrial_loads.get(i).cloned(),
            })
            .await?;
    }
    // The utility's bill of last month: the computed one with a demand line
    // billed on a slightly higher reading, to show a reconciliation.
    let last_month = today.first_of_month().checked_sub(1.month())?;
    let month = format!("{:04}-{:02}", last_month.year(), last_month.month());
    if let Ok(bill) = vpp_app::parks::bill(store, &site.id, &month, None, Default::default()).await {
        let lines = bill
            .lines
            .iter()
            .map(|l| {
                let demand = l.code == "demand";
                let quantity = if demand { (l.quantity * Decimal::new(102, 2)).round_dp(0) } else { l.quantity };
                let amount = if demand { (quantity * l.rate.unwrap_or_default()).round_dp(2) } else { l.amount };
                let mut amount = amount;
                amount.rescale(2);
                ActualLine { code: l.code.clone(), quantity: Some(quantity), amount }
            })
            .collect();
        let actual = ActualBill { site_id: site.id.clone(), month, currency: bill.currency, lines };
        store.import_actual_bills(&[actual], false, "demo").await?;
    }
    tracing::info!(site = %site.id, intervals = beliefs.len(), "demo park seeded");
    Ok(())
}

/// The park's demand model: ridge regression on the load's own lags, the
/// holiday calendar (non-workdays get their own daily shape) and the
/// temperature forecast (heating and cooling degrees); trained on the year
/// of meter data and forecasting the next three days.
async fn seed_demand_model(store: &Store, load_series: &str, temperature: &str) -> anyhow::Result<()> {
    use vpp_app::ai_models::{PredictRequest, TrainRequest, check_model, predict_model, train_model};
    use vpp_domain::ai_model::{Method, ModelParams, ModelRequest, ModelType};
    let request = ModelRequest {
        name: DEMAND_MODEL.into(),
        model_type: ModelType::Demand,
        target_series_id: load_series.to_string(),
        method: Method::Linear,
        params: ModelParams {
            holidays: Some(REGION.into()),
            temperature: Some(temperature.to_string()),
            window_days: Some(180),
            // Three days ahead, so every lag is at least that old.
            horizon: Some(288),
            lags: Some(vec![288, 672]),
            // Twenty origins two days apart: forty days of forecasts
            // scored, not just last week.
            cv_origins: Some(20),
            cv_step: Some(192),
            ..Default::default()
        },
        time_zone: ZONE.into(),
        description: Some("The plant's load from its meter data, holidays and temperature (demo).".into()),
    };
    check_model(store, &request).await.map_err(|e| crate::api_error(e, "model"))?;
    let model = store.create_model(&request, "demo").await?;
    let version = train_model(store, &model.id, TrainRequest::default(), "demo")
        .await
        .map_err(|e| crate::api_error(e, "train"))?;
    let score = version.trained.as_ref().map(|t| t["score"].clone()).unwrap_or_default();
    eprintln!(
        "Model {DEMAND_MODEL}: cross-validated MAE {:.0} kW, skill {:.2} against weekly seasonal naive, p10–p90 coverage {:.0} %, trained in {:.0} ms.",
        score["overall"]["mae"].as_f64().unwrap_or_default(),
        score["skill"].as_f64().unwrap_or_default(),
        100.0 * score["interval_coverage"].as_f64().unwrap_or_default(),
        version.fit_ms,
    );
    // Three days ahead: tomorrow's battery plan (GET /sites/{id}/battery-plan)
    // is made on it, whatever the hour.
    predict_model(store, &model.id, PredictRequest { store: true, horizon: Some(288), ..Default::default() })
        .await
        .map_err(|e| crate::api_error(e, "predict"))?;
    Ok(())
}
