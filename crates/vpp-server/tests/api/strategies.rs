//! Strategies: validation errors by path, versions and status, a backtest
//! task against stored prices with its benchmark and perfect foresight,
//! and a live bid of an ACTIVE strategy with its explanations.

use std::time::Duration;

use axum::http::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestApp, field};

/// A day-ahead connector, a 2 MWh battery in a SPOT VPP and a price
/// series; returns (vpp id, series id).
pub(crate) async fn world(app: &TestApp) -> (String, String) {
    let (s, c) = app.post("/api/v1/vpp/market-connectors", json!({"name": "DA", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let battery = app.battery("Store 1", 2000.0, 1000.0, 0.0).await;
    let vpp = app.vpp("Spot pool", json!([{"resource_id": battery}])).await;
    // A reported SOC makes its capacity available to bids.
    let (s, t) =
        app.telemetry(&battery, json!([{"ts": Timestamp::now().to_string(), "power_kw": 0.0, "soc_pct": 50.0}])).await;
    assert!(s.is_success(), "{t}");
    let (s, series) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "DA prices", "owner_kind": "market", "owner_id": "DA", "quantity": "price", "resolution_s": 900}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{series}");
    (vpp, series["id"].as_str().unwrap().to_string())
}

pub(crate) fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

/// Quarter-hour prices of a Berlin day: cheap at night, dear in the
/// evening; the price published `price_at`, forecasts (price + 3) `forecast_at`.
fn day_beliefs(day: Date, price_at: Timestamp, forecast_at: Timestamp) -> Vec<Value> {
    let start = day.to_zoned(berlin()).unwrap().timestamp();
    let end = day.tomorrow().unwrap().to_zoned(berlin()).unwrap().timestamp();
    let mut out = Vec::new();
    let mut t = start;
    let mut k = 0;
    while t < end {
        let hour = k / 4;
        let price = match hour {
            1..=4 => 30.0,
            18..=20 => 150.0,
            _ => 80.0,
        };
        out.push(json!({"event_start": t.to_string(), "belief_time": price_at.to_string(), "source": "price", "value": price}));
        out.push(json!({"event_start": t.to_string(), "belief_time": forecast_at.to_string(), "source": "forecast", "value": price + 3.0}));
        t += SignedDuration::from_mins(15);
        k += 1;
    }
    out
}

fn noon_before(day: Date) -> Timestamp {
    day.yesterday().unwrap().at(12, 0, 0, 0).to_zoned(berlin()).unwrap().timestamp()
}

fn rules() -> Value {
    json!([
        {"name": "cheap night", "conditions": [{"field": "forecast_price", "operator": "<", "value": 50},
                                                {"field": "soc", "operator": "<", "value": 90}],
         "actions": [{"type": "charge"}]},
        {"name": "evening peak", "conditions": [{"field": "price_percentile", "operator": ">=", "value": 85}],
         "actions": [{"type": "bid", "parameters": {"side": "sell", "quantity_pct": 100, "price": "forecast_price - 20"}}]}
    ])
}

fn strategy(vpp: &str, series: &str, name: &str) -> Value {
    json!({"name": name, "vpp_id": vpp, "type": "RULE_BASED", "price_series_id": series, "rules": rules()})
}

#[tokio::test]
async fn rules_are_checked_when_saved_and_every_change_is_a_version() {
    let app = TestApp::new().await;
    let (vpp, series) = world(&app).await;
    let mut bad = strategy(&vpp, &series, "Peak");
    bad["rules"][0]["conditions"][0]["field"] = json!("forcast_price");
    let (s, p) = app.post("/api/v1/vpp/strategies", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "rules[0].conditions[0].field", "{p}");
    let mut never = strategy(&vpp, &series, "Peak");
    never["rules"][1]["conditions"] = json!([{"field": "hour", "operator": ">", "value": 20},
                                             {"field": "hour", "operator": "<", "value": 4}]);
    let (s, p) = app.post("/api/v1/vpp/strategies", never).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.to_string().contains("never fires"), "{p}");
    let mut dangling = strategy(&vpp, &series, "Peak");
    dangling["rules"][0]["conditions"][0] = json!({"field": "series:no such series", "operator": ">", "value": 1});
    let (s, p) = app.post("/api/v1/vpp/strategies", dangling).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "rules"), "{p}");
    let (s, p) = app.post("/api/v1/vpp/strategies/validate", strategy(&vpp, &series, "Peak")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["rules"], 2);

    let (s, created) = app.post("/api/v1/vpp/strategies", strategy(&vpp, &series, "Peak")).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!((created["version"].as_i64(), created["status"].as_str()), (Some(1), Some("DRAFT")));
    let id = created["id"].as_str().unwrap();
    let (s, dup) = app.post("/api/v1/vpp/strategies", strategy(&vpp, &series, "Peak")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{dup}");

    let mut changed = strategy(&vpp, &series, "Peak");
    changed["description"] = json!("sell a bit earlier");
    changed["rules"][1]["conditions"][0]["value"] = json!(80);
    let (s, v2) = app.put(&format!("/api/v1/vpp/strategies/{id}"), changed).await;
    assert_eq!((s, v2["version"].as_i64()), (StatusCode::OK, Some(2)), "{v2}");
    let (_, v1) = app.get(&format!("/api/v1/vpp/strategies/{id}?version=1")).await;
    assert_eq!(v1["rules"][1]["conditions"][0]["value"], 85);
    let (_, versions) = app.get(&format!("/api/v1/vpp/strategies/{id}/versions")).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);

    let status = |to: &str| json!({"status": to, "reason": "review done"});
    let (s, p) = app.put(&format!("/api/v1/vpp/strategies/{id}/status"), status("ACTIVE")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "status"), "DRAFT cannot trade: {p}");
    for to in ["TESTING", "ACTIVE"] {
        let (s, p) = app.put(&format!("/api/v1/vpp/strategies/{id}/status"), status(to)).await;
        assert_eq!((s, p["status"].as_str()), (StatusCode::OK, Some(to)), "{p}");
    }
    let (s, _) = app.put(&format!("/api/v1/vpp/strategies/{id}"), strategy(&vpp, &series, "Peak")).await;
    assert_eq!(s, StatusCode::CONFLICT, "an ACTIVE strategy is not changed in place");
    assert_eq!(app.delete(&format!("/api/v1/vpp/strategies/{id}")).await, StatusCode::CONFLICT);
    let (_, audit) = app.get("/api/v1/audit?entity_type=strategy-status&size=100").await;
    assert!(audit.to_string().contains("ACTIVE"), "activation is audited: {audit}");
    let (_, active) = app.get("/api/v1/vpp/strategies?status=ACTIVE").await;
    assert_eq!(active.as_array().unwrap().len(), 1);

    let viewer = app.token_for("viewer").await;
    let (s, _) = app.post_as(Some(&viewer), "/api/v1/vpp/strategies", strategy(&vpp, &series, "Other")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

pub(crate) async fn wait_done(app: &TestApp, id: &str, task: &str) -> Value {
    for _ in 0..600 {
        let (s, r) = app.get(&format!("/api/v1/vpp/strategies/{id}/backtest-results/{task}")).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        if r["status"] != "RUNNING" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the backtest did not finish");
}

#[tokio::test]
async fn a_backtest_replays_stored_history_against_its_benchmark_and_perfect_foresight() {
    let app = TestApp::new().await;
    let (vpp, series) = world(&app).await;
    let today = Timestamp::now().to_zoned(berlin()).date();
    let days =
        [today.checked_sub(jiff::Span::new().days(3)).unwrap(), today.checked_sub(jiff::Span::new().days(2)).unwrap()];
    for day in days {
        let gate = noon_before(day);
        let beliefs = day_beliefs(day, gate + SignedDuration::from_mins(45), gate - SignedDuration::from_hours(3));
        let (s, r) = app.post(&format!("/api/v1/vpp/series/{series}/beliefs"), json!({"beliefs": beliefs})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (_, created) = app.post("/api/v1/vpp/strategies", strategy(&vpp, &series, "Peak")).await;
    let id = created["id"].as_str().unwrap();
    let (s, p) = app
        .post(
            &format!("/api/v1/vpp/strategies/{id}/backtest"),
            json!({"from": days[0].to_string(), "to": "2020-01-01"}),
        )
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "to"), "{p}");
    let (s, p) = app
        .post(&format!("/api/v1/vpp/strategies/{id}/backtest"), json!({"from": "2020-01-01", "to": "2020-01-02"}))
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "from"), "no prices then: {p}");
    let (s, task) = app
        .post(
            &format!("/api/v1/vpp/strategies/{id}/backtest"),
            json!({"from": days[0].to_string(), "to": days[1].to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{task}");
    let task_id = task["id"].as_str().unwrap();
    let done = wait_done(&app, id, task_id).await;
    assert_eq!(done["status"], "DONE", "{done}");
    let summary = &done["summary"];
    assert_eq!(summary["version"], 1);
    assert_eq!(summary["intervals"], 192);
    let net = summary["result"]["net_revenue"].as_f64().unwrap();
    let perfect = summary["perfect_foresight"]["net_revenue"].as_f64().unwrap();
    assert!(net > 0.0, "charging at 30 and selling at 150 earns: {summary}");
    assert!(perfect >= net - 1e-6, "perfect foresight is the upper bound: {perfect} < {net}");
    assert!(summary["benchmark"]["net_revenue"].is_number());
    // The evening bids (limit forecast − 20 = 133 ≤ 150) cleared.
    let bids = &summary["result"]["bids"];
    assert!(bids["placed"].as_u64().unwrap() > 0 && bids["cleared"] == bids["placed"], "{bids}");
    for k in ["max_drawdown", "var_95", "cvar_95"] {
        assert!(summary["result"]["metrics"][k].is_number(), "{k}");
    }
    assert_eq!(done["daily"].as_array().unwrap().len(), 2);
    let (s, rows) =
        app.get(&format!("/api/v1/vpp/strategies/{id}/backtest-results/{task_id}/intervals?date={}", days[0])).await;
    assert_eq!(s, StatusCode::OK, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 96);
    let evening = &rows[19 * 4];
    assert!(evening["action"].as_str().unwrap().starts_with("bid sell"), "{evening}");
    assert!(
        evening["seen"].as_array().unwrap().contains(&json!({"field": "forecast_price", "value": 153.0})),
        "{evening}"
    );
    let (s, report) = app.get(&format!("/api/v1/vpp/reports/strategy-performance?strategy_id={id}&period=7d")).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["latest_backtest"]["id"], task_id);
}

/// The world with forecasts (known now) for the next two days.
async fn world_with_forecasts_ahead(app: &TestApp) -> (String, String) {
    let (vpp, series) = world(app).await;
    let now = Timestamp::now();
    let today = now.to_zoned(berlin()).date();
    for k in 1..=2 {
        let day = today.checked_add(jiff::Span::new().days(k)).unwrap();
        let beliefs: Vec<Value> =
            day_beliefs(day, now, now).into_iter().filter(|b| b["source"] == "forecast").collect();
        let (s, r) = app.post(&format!("/api/v1/vpp/series/{series}/beliefs"), json!({"beliefs": beliefs})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    (vpp, series)
}

/// DRAFT → TESTING → ACTIVE.
async fn activate(app: &TestApp, id: &str) {
    for to in ["TESTING", "ACTIVE"] {
        let (s, _) =
            app.put(&format!("/api/v1/vpp/strategies/{id}/status"), json!({"status": to, "reason": "go"})).await;
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn an_active_strategy_bids_the_next_open_day_and_says_why() {
    let app = TestApp::new().await;
    let (vpp, series) = world_with_forecasts_ahead(&app).await;
    let (_, created) = app.post("/api/v1/vpp/strategies", strategy(&vpp, &series, "Peak")).await;
    let id = created["id"].as_str().unwrap();
    let (s, _) = app.post(&format!("/api/v1/vpp/strategies/{id}/bid"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a DRAFT strategy does not trade");
    activate(&app, id).await;
    let (s, placed) = app.post(&format!("/api/v1/vpp/strategies/{id}/bid"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{placed}");
    assert_eq!(placed["bid"]["strategy_id"], id);
    let steps = placed["bid"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["side"] == "buy") && steps.iter().any(|s| s["side"] == "sell"), "{placed}");
    let day = placed["trading_date"].as_str().unwrap();
    let (s, why) = app.get(&format!("/api/v1/vpp/strategies/{id}/decisions?trading_date={day}")).await;
    assert_eq!(s, StatusCode::OK, "{why}");
    let fired: Vec<&str> = why["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["decision"]["explanation"]["rule_name"].as_str())
        .collect();
    assert!(fired.contains(&"cheap night") && fired.contains(&"evening peak"), "{fired:?}");
    let (s, _) = app.post(&format!("/api/v1/vpp/strategies/{id}/bid"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "one bid per delivery day");
}

#[tokio::test]
async fn the_market_job_lets_active_strategies_bid_on_their_own() {
    let app = TestApp::new().await;
    let (vpp, series) = world_with_forecasts_ahead(&app).await;
    let (_, created) = app.post("/api/v1/vpp/strategies", strategy(&vpp, &series, "Peak")).await;
    let id = created["id"].as_str().unwrap();
    activate(&app, id).await;
    let job = vpp_app::market_job::spawn_market_job(app.store.clone(), Duration::from_millis(50), None);
    let mut bid = Value::Null;
    // Up to 30 s: on PostgreSQL beside the rest of the suite the job's first
    // round can take more than 10 s.
    for _ in 0..600 {
        let (_, bids) = app.get(&format!("/api/v1/vpp/trading/results?vpp_id={vpp}")).await;
        if let Some(b) = bids["bids"].as_array().and_then(|b| b.first()) {
            bid = b.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    job.abort();
    assert_eq!(bid["strategy_id"], id, "the job placed the strategy's bid: {bid}");
    let day = bid["trading_date"].as_str().unwrap();
    let (s, why) = app.get(&format!("/api/v1/vpp/strategies/{id}/decisions?trading_date={day}")).await;
    assert_eq!(s, StatusCode::OK, "{why}");
}
