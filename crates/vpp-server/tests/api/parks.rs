//! Industrial parks: tariffs and versions, load import, a hand-checked bill,
//! reconciliation, savings with an optimised battery, configuration and the
//! park report.

use axum::http::{Method, StatusCode};
use jiff::civil::date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

fn w(start: &str, end: &str, period: &str) -> Value {
    json!({"start": start, "end": end, "period": period})
}

/// The two-season tariff of the domain's hand-checked bill.
fn park_tariff(name: &str) -> Value {
    json!({
        "name": name,
        "region": "CN-JS",
        "time_zone": "Asia/Shanghai",
        "terms": {
            "effective_from": "2026-01-01",
            "currency": "CNY",
            "energy_prices": {"sharp_peak": "1.2", "peak": "1.0", "flat": "0.6", "valley": "0.3"},
            "seasons": [
                {"name": "summer", "months": [7, 8, 9],
                 "workday": [w("00:00", "08:00", "valley"), w("08:00", "12:00", "peak"), w("12:00", "14:00", "flat"),
                             w("14:00", "16:00", "sharp_peak"), w("16:00", "20:00", "peak"), w("20:00", "24:00", "flat")],
                 "non_workday": [w("00:00", "08:00", "valley"), w("08:00", "24:00", "flat")]},
                {"name": "other", "months": [1, 2, 3, 4, 5, 6, 10, 11, 12],
                 "workday": [w("23:00", "07:00", "valley"), w("07:00", "09:00", "flat"), w("09:00", "12:00", "peak"),
                             w("12:00", "17:00", "flat"), w("17:00", "21:00", "peak"), w("21:00", "23:00", "flat")]}
            ],
            "demand_charge": {"basis": "max_demand", "price_per_kw_month": "40"},
            "power_factor": {},
            "components": [
                {"code": "transmission", "name": "Transmission", "rate_per_kwh": "0.15"},
                {"code": "funds", "name": "Government funds", "rate_per_kwh": "0.03"}
            ]
        }
    })
}

/// A site under a fresh park tariff; returns (site id, tariff id).
async fn site(app: &TestApp) -> (String, String) {
    let (s, t) = app.post("/api/v1/vpp/tariffs", park_tariff("Jiangsu 2026")).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let tariff = t["id"].as_str().unwrap().to_string();
    let (s, site) =
        app.post("/api/v1/vpp/sites", json!({"name": "Plant A", "tariff_id": tariff, "transformer_kva": 1250})).await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    (site["id"].as_str().unwrap().to_string(), tariff)
}

/// July 2026 in Shanghai local time, `kw(k)` for quarter-hour k from 00:00 on the 1st.
fn july_csv(kw: impl Fn(usize) -> f64) -> String {
    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    let start = date(2026, 7, 1).at(0, 0, 0, 0).to_zoned(tz.clone()).unwrap();
    let mut csv = String::from("time,load_kw\n");
    for k in 0..31 * 96 {
        let t = start.checked_add(jiff::SignedDuration::from_mins(15 * k as i64)).unwrap();
        csv.push_str(&format!("{},{}\n", t.strftime("%Y-%m-%d %H:%M"), kw(k)));
    }
    csv
}

async fn import(app: &TestApp, site: &str, csv: &str) -> (StatusCode, Value) {
    let (s, v, _) = app
        .request(
            Method::POST,
            &format!("/api/v1/vpp/sites/{site}/load/import"),
            Some("text/csv"),
            csv.as_bytes().to_vec(),
        )
        .await;
    (s, v)
}

#[tokio::test]
async fn tariff_windows_are_checked_and_a_new_version_takes_over_from_its_date() {
    let app = TestApp::new().await;
    let mut bad = park_tariff("Bad");
    bad["terms"]["seasons"][1]["workday"] =
        json!([w("00:00", "11:00", "valley"), w("10:00", "12:00", "peak"), w("13:00", "24:00", "flat")]);
    let (s, p) = app.post("/api/v1/vpp/tariffs", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let text = p.to_string();
    assert!(text.contains("windows overlap 10:00–11:00"), "{p}");
    assert!(text.contains("no window covers 12:00–13:00"), "{p}");
    assert!(text.contains("terms.seasons[1].workday"), "{p}");
    assert_eq!(app.get("/api/v1/vpp/tariffs").await.1.as_array().unwrap().len(), 0, "nothing stored");
    // A zone that does not exist, a negative price, a wrapping window that
    // covers the whole day twice, an unknown field and malformed JSON.
    let mut bad = park_tariff("Bad");
    bad["time_zone"] = json!("Mars/Olympus");
    bad["terms"]["energy_prices"]["peak"] = json!("-1");
    let (s, p) = app.post("/api/v1/vpp/tariffs", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"time_zone") && fields.contains(&"terms.energy_prices.peak"), "{p}");
    let mut bad = park_tariff("Bad");
    bad["terms"]["tou"] = json!(1);
    let (s, p) = app.post("/api/v1/vpp/tariffs", bad).await;
    assert!(s.is_client_error(), "{p}");
    assert!(p.to_string().contains("tou"), "{p}");
    let (s, _, _) =
        app.request(Method::POST, "/api/v1/vpp/tariffs", Some("application/json"), b"{\"name\": ".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (site, tariff) = site(&app).await;
    let _ = site;
    let mut v2 = park_tariff("x")["terms"].clone();
    v2["effective_from"] = json!("2025-12-01");
    let (s, p) = app.post(&format!("/api/v1/vpp/tariffs/{tariff}/versions"), v2.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    v2["effective_from"] = json!("2026-07-16");
    v2["energy_prices"]["peak"] = json!("1.1");
    let (s, t) = app.post(&format!("/api/v1/vpp/tariffs/{tariff}/versions"), v2).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["versions"].as_array().unwrap().len(), 2);
    // Wednesday 15 July: version 1; Thursday 16 July: version 2 with the new peak price.
    let (_, day) = app.get(&format!("/api/v1/vpp/tariffs/{tariff}/day?date=2026-07-15")).await;
    assert_eq!(day["version"], 1);
    assert_eq!(day["workday"], true);
    assert_eq!(day["windows"][1], json!({"start": "08:00", "end": "12:00", "period": "peak", "price": "1.0"}));
    let (_, day) = app.get(&format!("/api/v1/vpp/tariffs/{tariff}/day?date=2026-07-16")).await;
    assert_eq!(day["version"], 2);
    assert_eq!(day["windows"][1]["price"], "1.1");
    // A holiday calendar turns a weekday into a non-workday.
    let (s, _) = app
        .put(
            "/api/v1/vpp/holiday-calendars/CN-JS",
            json!({"days": [{"date": "2026-07-15", "kind": "holiday", "name": "Test"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, day) = app.get(&format!("/api/v1/vpp/tariffs/{tariff}/day?date=2026-07-15")).await;
    assert_eq!(day["workday"], false);
    assert_eq!(day["windows"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_load_file_imports_in_the_background_with_the_same_report() {
    let app = TestApp::new().await;
    let (site, _) = site(&app).await;
    let path = format!("/api/v1/vpp/sites/{site}/load/import?background=true");
    let bad = b"time,load_kw\n2026-07-01 00:00,1\n2026-07-01 00:07,1\n".to_vec();
    let (s, p, _) = app.request(Method::POST, &path, Some("text/csv"), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a bad line refuses the file before any job: {p}");
    let (s, job, _) = app.request(Method::POST, &path, Some("text/csv"), july_csv(|_| 100.0).into_bytes()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "site_load");
    assert_eq!(job["rows"], 2976);
    let ended = app.finished_job(&job).await;
    assert_eq!(ended["state"], "done", "{ended}");
    assert_eq!(ended["report"]["rows"], 2976);
    assert_eq!(ended["report"]["accepted"], 2976);
    assert_eq!(ended["report"]["missing_intervals"], 0);
    let (_, profile) = app.get(&format!("/api/v1/vpp/sites/{site}/load/profile?month=2026-07")).await;
    assert_eq!(profile["stats"]["max_kw"], 100.0);
    // An analyst reads parks but does not import: the job is not theirs to follow.
    let analyst = app.token_for("analyst").await;
    let (s, p) = app.get_as(Some(&analyst), &format!("/api/v1/vpp/import-jobs/{}", job["id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
}

#[tokio::test]
async fn a_month_is_billed_as_checked_by_hand_and_reconciled_line_by_line() {
    let app = TestApp::new().await;
    let (site, _) = site(&app).await;
    // 100 kW all month; one 300 kW quarter-hour on Wednesday 15 July at 15:00.
    let spike = 14 * 96 + 15 * 4;
    let (s, r) = import(&app, &site, &july_csv(|k| if k == spike { 300.0 } else { 100.0 })).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["rows"], 2976);
    assert_eq!(r["missing_intervals"], 0);

    let (s, bill) = app
        .post("/api/v1/vpp/bills/compute", json!({"site_id": site, "month": "2026-07", "reactive_kvarh": 45000}))
        .await;
    assert_eq!(s, StatusCode::OK, "{bill}");
    // The figures of the domain's hand-checked case.
    assert_eq!(bill["total"], "73968.60");
    assert_eq!(bill["coverage"]["complete"], true);
    let amount =
        |code: &str| bill["lines"].as_array().unwrap().iter().find(|l| l["code"] == code).unwrap()["amount"].clone();
    assert_eq!(amount("energy_sharp_peak"), "5580.00");
    assert_eq!(amount("demand"), "12000.00");
    assert_eq!(amount("power_factor"), "1187.60");

    // The same bill in Chinese: the same figures, the prose in Chinese.
    let body = json!({"site_id": site, "month": "2026-07", "reactive_kvarh": 45000});
    let (s, zh) = app.send_in("zh-CN", Method::POST, "/api/v1/vpp/bills/compute", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{zh}");
    assert_eq!(zh["total"], bill["total"]);
    let line =
        |b: &Value, code: &str| b["lines"].as_array().unwrap().iter().find(|l| l["code"] == code).unwrap().clone();
    assert_eq!(line(&zh, "energy_peak")["name"], "高峰电量电费");
    assert!(line(&zh, "demand")["formula"].as_str().unwrap().starts_with("15 分钟最大需量 300"), "{zh}");
    assert!(line(&bill, "demand")["formula"].as_str().unwrap().starts_with("max 15-minute demand 300"), "{bill}");

    let (_, profile) = app.get(&format!("/api/v1/vpp/sites/{site}/load/profile?month=2026-07")).await;
    assert_eq!(profile["stats"]["max_kw"], 300.0);
    assert_eq!(profile["stats"]["peak_valley_difference_kw"], 200.0);
    assert_eq!(profile["daily"]["workday_periods"][60], "sharp_peak");
    assert_eq!(profile["duration_curve"][100]["kw"], 100.0);

    let actual = format!(
        "site_id,month,currency,code,quantity,amount\n{site},2026-07,CNY,energy_peak,18400,18400.00\n\
         {site},2026-07,CNY,demand,310,12400.00\n{site},2026-07,CNY,total,,74000.00\n"
    );
    let (s, v, _) =
        app.request(Method::POST, "/api/v1/vpp/bills/import", Some("text/csv"), actual.clone().into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v, _) =
        app.request(Method::POST, "/api/v1/vpp/bills/import", Some("text/csv"), actual.clone().into_bytes()).await;
    assert_eq!(s, StatusCode::CONFLICT, "a month imported twice: {v}");
    let (s, _, _) =
        app.request(Method::POST, "/api/v1/vpp/bills/import?replace=true", Some("text/csv"), actual.into_bytes()).await;
    assert_eq!(s, StatusCode::OK);
    // Without reactive energy the computed bill has no power-factor line here.
    let (s, r) = app.get(&format!("/api/v1/vpp/bills/reconcile?site_id={site}&month=2026-07")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let line = |code: &str| r["lines"].as_array().unwrap().iter().find(|l| l["code"] == code).unwrap().clone();
    assert_eq!(line("energy_peak")["difference"], "0.00");
    assert_eq!(line("demand")["difference"], "400.00");
    assert_eq!(line("demand")["actual_quantity"], "310");
    assert_eq!(line("total")["computed"], "72781.00");
    assert_eq!(line("total")["difference"], "1219.00");

    // A bill for an unknown site names the field.
    let (s, p) = app.post("/api/v1/vpp/bills/compute", json!({"site_id": "nope", "month": "2026-07"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "site_id");
}

#[tokio::test]
async fn bad_load_files_change_nothing_and_gaps_are_reported_not_filled() {
    let app = TestApp::new().await;
    let (site, _) = site(&app).await;
    let bad = "time,load_kw\n2026-07-01 00:00,10\n2026-07-01 00:00,11\n2026-07-01 00:07,5\n2026-07-01 00:30,abc\n";
    let (s, p) = import(&app, &site, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "file");
    assert_eq!(p["rejected"].as_array().unwrap().len(), 3, "{p}");
    let (s, p) = import(&app, &site, "time,load_kwh\n2026-07-01 00:00,10\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.to_string().contains("is energy"), "{p}");
    let (_, load) =
        app.get(&format!("/api/v1/vpp/sites/{site}/load?start=2026-06-30T16:00:00Z&end=2026-07-01T16:00:00Z")).await;
    assert_eq!(load["intervals"].as_array().unwrap().len(), 0, "nothing stored: {load}");

    // Two hours missing on 2 July: accepted, reported, and the bill states its coverage.
    let csv = july_csv(|_| 50.0);
    let kept: String =
        csv.lines().enumerate().filter(|(i, _)| !(97..105).contains(i)).map(|(_, l)| format!("{l}\n")).collect();
    let (s, r) = import(&app, &site, &kept).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["missing_intervals"], 8);
    assert_eq!(r["gaps"][0]["intervals"], 8);
    let (_, bill) = app.post("/api/v1/vpp/bills/compute", json!({"site_id": site, "month": "2026-07"})).await;
    assert_eq!(bill["coverage"]["complete"], false);
    assert_eq!(bill["coverage"]["intervals"], 2968);
    assert!(bill["notes"].to_string().contains("2968 of 2976"), "{bill}");
    // A battery scenario needs the whole month.
    let (s, p) = app
        .post(
            &format!("/api/v1/vpp/sites/{site}/savings"),
            json!({"month": "2026-07", "battery": {"energy_kwh": 100, "power_kw": 50}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "month");
}

#[tokio::test]
async fn savings_with_adjustable_loads_and_an_optimised_battery() {
    let app = TestApp::new().await;
    let (site, _) = site(&app).await;
    // 200 kW base; workdays add 150 kW from 14:00 to 16:00 (the sharp peak).
    let csv = july_csv(|k| {
        let (day, slot) = (k / 96, k % 96);
        let weekday = !matches!(day % 7, 3 | 4); // 1 July 2026 is a Wednesday
        if weekday && (56..64).contains(&slot) { 350.0 } else { 200.0 }
    });
    let (s, _) = import(&app, &site, &csv).await;
    assert_eq!(s, StatusCode::OK);
    let (s, l) = app
        .post(
            "/api/v1/vpp/adjustable-loads",
            json!({"site_id": site, "name": "Chiller", "rated_kw": 100, "adjustable_ratio": 0.5, "response_time_min": 10,
                   "cost_per_adjustment": "10", "max_duration_min": 120}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{l}");
    let (s, p) = app
        .post(
            "/api/v1/vpp/adjustable-loads",
            json!({"site_id": "nope", "name": "X", "rated_kw": -1, "adjustable_ratio": 2,
              "response_time_min": 1, "cost_per_adjustment": "0", "max_duration_min": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p.to_string().contains("rated_kw") && p.to_string().contains("adjustable_ratio"), "{p}");

    let (s, pot) = app.get(&format!("/api/v1/vpp/sites/{site}/flexibility?month=2026-07")).await;
    assert_eq!(s, StatusCode::OK, "{pot}");
    assert_eq!(pot["by_response"][1], json!({"within_min": 15.0, "adjustable_kw": 50.0}));

    let (s, sv) = app
        .post(
            &format!("/api/v1/vpp/sites/{site}/savings"),
            json!({"month": "2026-07", "battery": {"energy_kwh": 400, "power_kw": 150}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sv}");
    let metric = |list: &Value, name: &str| {
        list.as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["value"].as_f64().unwrap()
    };
    // 50 kW × 2 h = 100 kWh leave the sharp peak each of 23 workdays: (100 × 0.9 − 10) × 23.
    assert_eq!(metric(&sv["metrics"], "peak_valley_arbitrage"), 1840.0);
    // Holding 120 min, the chiller shaves 50 kW off the 2-hour bump: 50 × 40 − 23 events × 10.
    assert_eq!(metric(&sv["metrics"], "demand_charge_reduction_loads"), 1770.0);
    let b = &sv["battery"];
    // The base load is a flat 200 kW, so recharging lifts the import above it:
    // the optimum trades the peak against charging time, between 200 and 350 kW.
    let with = b["max_demand_with_kw"].as_f64().unwrap();
    assert!(with > 200.0 && with < 300.0, "{b}");
    let demand = metric(&b["metrics"], "battery_demand_charge_reduction");
    assert!((demand - (350.0 - with) * 40.0).abs() < 1.0, "{b}");
    assert!(metric(&b["metrics"], "battery_energy_arbitrage") > 0.0, "{b}");
    assert!(metric(&b["metrics"], "battery_bill_saving") > demand, "{b}");

    let (s, pb) = app
        .post(
            &format!("/api/v1/vpp/sites/{site}/battery-payback"),
            json!({"year": 2026, "battery": {"energy_kwh": 400, "power_kw": 150}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pb}");
    assert_eq!(pb["months_used"], json!(["2026-07"]));
    assert_eq!(pb["months_skipped"].as_array().unwrap().len(), 11);
    // 400 × 1000 + 150 × 300 = 445,000.
    assert_eq!(metric(&pb["metrics"], "battery_investment"), 445_000.0);
    assert!(metric(&pb["metrics"], "battery_simple_payback") > 0.0, "{pb}");

    for format in ["csv", "html"] {
        let (s, body, ct) = app
            .request(
                Method::GET,
                &format!("/api/v1/vpp/reports/park?site_id={site}&month=2026-07&format={format}"),
                None,
                vec![],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(ct.starts_with(if format == "csv" { "text/csv" } else { "text/html" }), "{ct}");
        let text = body.as_str().unwrap();
        assert!(
            text.contains(if format == "csv" { "peak_valley_arbitrage" } else { "Peak-valley arbitrage" }),
            "{format}"
        );
        assert!(text.contains(if format == "csv" { "bill,demand" } else { "<table" }), "{format}");
    }
    // The printable report in Chinese, by parameter (a link the browser opens) or by header.
    let path = format!("/api/v1/vpp/reports/park?site_id={site}&month=2026-07&format=html&lang=zh-CN");
    let (s, html) = app.get(&path).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let html = html.as_str().unwrap();
    assert!(
        html.contains("<html lang=\"zh-CN\">") && html.contains("园区月度报告") && html.contains("峰谷套利"),
        "{html}"
    );
    assert!(!html.contains("Flexibility and savings"), "{html}");
    let path = format!("/api/v1/vpp/reports/park?site_id={site}&month=2026-07&format=html");
    let (_, html) = app.send_in("zh-CN", Method::GET, &path, None).await;
    assert!(html.as_str().unwrap().contains("电费账单"));
    let (s, p) = app.get(&format!("{path}&lang=xx")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
}

#[tokio::test]
async fn configuration_checks_keys_units_and_ranges() {
    let app = TestApp::new().await;
    let (_, list) = app.get("/api/v1/vpp/configuration").await;
    assert!(list.as_array().unwrap().iter().any(|s| s["key"] == "power_factor_target" && s["is_default"] == true));
    let (s, p) = app.put("/api/v1/vpp/configuration/dr_compensation_price", json!({"value": 2.5, "unit": "kWh"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "unit");
    let (s, p) = app.put("/api/v1/vpp/configuration/power_factor_target", json!({"value": 1.5, "unit": "1"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "value");
    let (s, p) = app.put("/api/v1/vpp/configuration/nope", json!({"value": 1, "unit": "1"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "key");
    let (s, v) =
        app.put("/api/v1/vpp/configuration/dr_compensation_price", json!({"value": 2.5, "unit": "CNY/kWh"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["is_default"], false);
    assert_eq!(v["updated_by"], "admin");
    let viewer = app.token_for("viewer").await;
    let ((s, _, _), _) = app
        .request_as(
            Some(&viewer),
            Method::PUT,
            "/api/v1/vpp/configuration/dr_event_hours",
            Some("application/json"),
            json!({"value": 3, "unit": "h"}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A site on a missing tariff is refused naming the field.
    let (s, p) = app.post("/api/v1/vpp/sites", json!({"name": "S", "tariff_id": "nope"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "tariff_id");
}

#[tokio::test]
async fn a_battery_plan_needs_a_battery_and_a_stored_demand_forecast() {
    let app = TestApp::new().await;
    let (site, tariff) = site(&app).await;
    let path = format!("/api/v1/vpp/sites/{site}/battery-plan");
    let (s, p) = app.get(&path).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(field(&p), "battery_resource_id", "{p}");
    let battery = app.battery("Plant A battery", 400.0, 200.0, 0.0).await;
    let (s, r) = app
        .put(
            &format!("/api/v1/vpp/sites/{site}"),
            json!({"name": "Plant A", "tariff_id": tariff, "transformer_kva": 1250, "battery_resource_id": battery}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, _) = import(&app, &site, &july_csv(|_| 200.0)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = app.get(&path).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("no DEMAND model has stored a forecast"), "{p}");
    let (s, p) = app.get(&format!("{path}?day=tomorrow")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "day", "{p}");
    let (s, _) = app.get("/api/v1/vpp/sites/ghost/battery-plan").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
