//! Markets: connectors, bids with their rules, four eyes, the kill switch,
//! clearing on the simulated exchange and settlement with hand-checked money.

use axum::http::StatusCode;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use vpp_app::markets::{SubmitBid, place_bid};
use vpp_domain::market::rules::BidStepRequest;

use crate::helpers::{TestApp, field};

async fn connector(app: &TestApp, name: &str, market: &str) -> Value {
    let (s, c) = app.post("/api/v1/vpp/market-connectors", json!({"name": name, "market_type": market})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

/// A SPOT VPP of one 5 MW generator with a power series; returns (vpp, generator, series).
async fn spot_vpp(app: &TestApp) -> (String, String, String) {
    let generator = app.generator("Gen 1", 5000.0, 0.0, 60.0).await;
    let vpp = app.vpp("Spot", json!([{"resource_id": generator, "allocation_ratio": 1.0}])).await;
    let series = app.power_series("resource", &generator, "Gen 1 power").await;
    (vpp, generator, series)
}

fn berlin_today() -> Date {
    Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap()).date()
}

/// Slot starts of a Berlin delivery day at 15 minutes.
fn slots(day: Date) -> Vec<Timestamp> {
    vpp_domain::series::delivery_day(
        day,
        &jiff::tz::TimeZone::get("Europe/Berlin").unwrap(),
        SignedDuration::from_mins(15),
    )
    .unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("decimal string expected, got {v}")).parse().unwrap()
}

#[tokio::test]
async fn connectors_take_defaults_and_never_hold_clear_secrets() {
    let app = TestApp::new().await;
    let c = connector(&app, "DA sim", "SPOT").await;
    assert_eq!(c["kind"], "simulated");
    assert_eq!(c["rules"]["product_minutes"], 15);
    assert_eq!(c["rules"]["gate_closure"], json!({"kind": "day_before", "days_before": 1, "local_time": "12:00"}));
    let (s, p) = app
        .post(
            "/api/v1/vpp/market-connectors",
            json!({"name": "x", "market_type": "SPOT", "auth": {"kind": "secret_ref", "secret_ref": "hunter2"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "auth.secret_ref");
    let (s, ok) = app
        .post(
            "/api/v1/vpp/market-connectors",
            json!({"name": "EPEX", "market_type": "SPOT", "endpoint": "https://api.example.test",
                   "auth": {"kind": "secret_ref", "username": "vpp", "secret_ref": "env:EPEX_KEY"},
                   "rules": {"product_minutes": 60, "gate_closure": {"kind": "before_delivery", "minutes": 5},
                             "min_bid_mw": "0.1", "max_bid_mw": "100", "tick_size": "0.1", "price_floor": "-500",
                             "price_cap": "4000", "currency": "EUR", "time_zone": "Europe/Berlin"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ok}");
    assert_eq!(ok["auth"]["secret_ref"], "env:EPEX_KEY");
    let (s, dup) = app.post("/api/v1/vpp/market-connectors", json!({"name": "DA sim", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{dup}");
    let (s, bad) = app
        .post(
            "/api/v1/vpp/market-connectors",
            json!({"name": "y", "market_type": "SPOT", "rules": {"product_minutes": 20}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (_, list) = app.get("/api/v1/vpp/market-connectors").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bids_are_refused_with_the_rule_named_and_nothing_stored() {
    let app = TestApp::new().await;
    connector(&app, "DA", "SPOT").await;
    let (vpp, _, _) = spot_vpp(&app).await;
    let day = berlin_today().checked_add(jiff::Span::new().days(2)).unwrap();
    let slot = slots(day)[40].to_string();
    let bid = |price: &str, qty: &str, date: Date| {
        json!({"vpp_id": vpp, "market_type": "SPOT", "trading_date": date.to_string(),
               "bids": [{"time_slot": slot, "price": price, "quantity": qty}]})
    };
    let cases = [
        (bid("45.005", "1", day), "bids[0].price", "rule tick_size"),
        (bid("5000", "1", day), "bids[0].price", "rule price_limits"),
        (bid("45", "-1", day), "bids[0].quantity", "must be positive"),
        (bid("45", "0.01", day), "bids[0].quantity", "rule min_bid_mw"),
        (bid("45", "6", day), "bids", "rule available_capacity"),
        (bid("45", "1", day.yesterday().unwrap()), "bids[0].time_slot", "rule product"),
    ];
    for (body, want_field, rule) in cases {
        let (s, p) = app.post("/api/v1/vpp/trading/submit-bid", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(field(&p), want_field, "{p}");
        assert!(p.to_string().contains(rule), "{rule}: {p}");
    }
    // Yesterday's gate closed long ago.
    let past = berlin_today().yesterday().unwrap();
    let late = json!({"vpp_id": vpp, "market_type": "SPOT", "trading_date": past.to_string(),
                      "bids": [{"time_slot": slots(past)[10].to_string(), "price": "45", "quantity": "1"}]});
    let (s, p) = app.post("/api/v1/vpp/trading/submit-bid", late).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p.to_string().contains("rule gate_closure"), "{p}");
    let (s, p) = app
        .post(
            "/api/v1/vpp/trading/submit-bid",
            json!({"vpp_id": "nope", "market_type": "SPOT",
        "trading_date": day.to_string(), "bids": []}),
        )
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "vpp_id"), "{p}");
    let huge: Vec<Value> = (0..10_001).map(|_| json!({"time_slot": slot, "price": "1", "quantity": "1"})).collect();
    let (s, p) = app
        .post(
            "/api/v1/vpp/trading/submit-bid",
            json!({"vpp_id": vpp, "market_type": "SPOT",
        "trading_date": day.to_string(), "bids": huge}),
        )
        .await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "bids"), "{p}");
    let (s, p) = app.post("/api/v1/vpp/trading/submit-bid", json!({"vpp_id": vpp, "market_type": "SPOT",
        "trading_date": day.to_string(), "bids": [{"time_slot": slot, "price": "1", "quantity": "1", "colour": "red"}]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {p}");
    let (_, results) = app.get("/api/v1/vpp/trading/results").await;
    assert_eq!(results["bids"], json!([]), "refused bids leave nothing behind");
    // A two-step curve in one slot within the room is accepted.
    let curve = json!({"vpp_id": vpp, "market_type": "SPOT", "trading_date": day.to_string(),
        "bids": [{"time_slot": slot, "price": "40", "quantity": "2"}, {"time_slot": slot, "price": "80.5", "quantity": "2.5"}]});
    let (s, b) = app.post("/api/v1/vpp/trading/submit-bid", curve).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "SUBMITTED");
    // 2 × 40 × 0.25 + 2.5 × 80.5 × 0.25 = 20 + 50.3125
    assert_eq!(dec(&b["notional"]), d("70.3125"));
    // The slot now has 0.5 MW of room left.
    let (s, p) = app.post("/api/v1/vpp/trading/submit-bid", bid("45", "1", day)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p.to_string().contains("0.500 MW left"), "{p}");
}

#[tokio::test]
async fn four_eyes_kill_switch_and_cancel() {
    let app = TestApp::new().await;
    connector(&app, "DA", "SPOT").await;
    let (vpp, _, _) = spot_vpp(&app).await;
    let (s, limits) = app
        .put(
            &format!("/api/v1/vpp/trading/risk-limits/{vpp}/SPOT"),
            json!({"four_eyes_above_mw": "1", "max_position_mw": "4"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{limits}");
    let day = berlin_today().checked_add(jiff::Span::new().days(2)).unwrap();
    let slot = slots(day)[8].to_string();
    let bid = |qty: &str| {
        json!({"vpp_id": vpp, "market_type": "SPOT", "trading_date": day.to_string(),
               "bids": [{"time_slot": slot, "price": "50", "quantity": qty}]})
    };
    let (s, p) = app.post("/api/v1/vpp/trading/submit-bid", bid("4.5")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p.to_string().contains("rule max_position_mw"), "{p}");
    let (s, big) = app.post("/api/v1/vpp/trading/submit-bid", bid("2")).await;
    assert_eq!(s, StatusCode::CREATED, "{big}");
    assert_eq!(big["status"], "PENDING_APPROVAL");
    let id = big["id"].as_str().unwrap();
    let (s, p) = app.post(&format!("/api/v1/vpp/trading/bids/{id}/approve"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the submitter cannot approve: {p}");
    // Nor can an API key the submitter owns, whatever its name: four eyes
    // compares principals, and a key acts for its owner.
    for name in ["admin", "trader"] {
        let (s, key) = app.post("/api/v1/auth/api-keys", json!({"name": name, "scopes": ["trading:write"]})).await;
        assert_eq!(s, StatusCode::CREATED, "{key}");
        let secret = key["secret"].as_str().unwrap();
        let (s, p) = app.post_as(Some(secret), &format!("/api/v1/vpp/trading/bids/{id}/approve"), json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a key of the submitter approved the bid: {p}");
        assert!(p["detail"].as_str().unwrap().contains("four eyes"), "{p}");
    }
    let viewer = app.token_for("viewer").await;
    let (s, _) = app.post_as(Some(&viewer), &format!("/api/v1/vpp/trading/bids/{id}/approve"), json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let trader = app.token_for("trader").await;
    let (s, approved) = app.post_as(Some(&trader), &format!("/api/v1/vpp/trading/bids/{id}/approve"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!((approved["status"].as_str(), approved["approved_by"].as_str()), (Some("SUBMITTED"), Some("trader")));
    let (s, small) = app.post_as(Some(&trader), "/api/v1/vpp/trading/submit-bid", bid("0.5")).await;
    assert_eq!(s, StatusCode::CREATED, "{small}");
    assert_eq!(small["status"], "SUBMITTED");
    // Kill switch: open bids cancelled, new ones refused, until released.
    let (s, k) = app.put("/api/v1/vpp/trading/kill-switch", json!({"active": true, "reason": "test"})).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert_eq!(k["cancelled_bids"].as_array().unwrap().len(), 2);
    let (_, b) = app.get(&format!("/api/v1/vpp/trading/bids/{id}")).await;
    assert_eq!((b["status"].as_str(), b["cancelled_by"].as_str()), (Some("CANCELLED"), Some("kill-switch")));
    let (s, p) = app.post("/api/v1/vpp/trading/submit-bid", bid("0.5")).await;
    assert_eq!((s, field(&p)), (StatusCode::CONFLICT, "kill_switch"), "{p}");
    app.put("/api/v1/vpp/trading/kill-switch", json!({"active": false})).await;
    let (s, again) = app.post("/api/v1/vpp/trading/submit-bid", bid("0.5")).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    let again_id = again["id"].as_str().unwrap();
    let (s, c) = app.post(&format!("/api/v1/vpp/trading/bids/{again_id}/cancel"), json!({})).await;
    assert_eq!((s, c["status"].as_str()), (StatusCode::OK, Some("CANCELLED")), "{c}");
    let (s, p) = app.post(&format!("/api/v1/vpp/trading/bids/{again_id}/cancel"), json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // Every trading action is in the audit trail.
    let (_, audit) = app.get("/api/v1/audit?size=100").await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    for a in ["submit-bid", "{id}/approve", "kill-switch", "{id}/cancel", "risk-limits"] {
        assert!(actions.iter().any(|x| x.contains(a)), "{a} audited: {actions:?}");
    }
}

#[tokio::test]
async fn cleared_day_settles_to_the_cent_with_the_imbalance_price_named() {
    let app = TestApp::new().await;
    let c = connector(&app, "DA", "SPOT").await;
    let connector_id = c["id"].as_str().unwrap().to_string();
    let (vpp, _, series) = spot_vpp(&app).await;
    let day = berlin_today().yesterday().unwrap();
    let day_slots = slots(day);
    let (s0, s1) = (day_slots[48], day_slots[49]);
    // Placed an hour before yesterday's gate closure (the library call takes
    // the clock; the API always uses now).
    let closure: Timestamp = day
        .yesterday()
        .unwrap()
        .to_datetime(jiff::civil::time(12, 0, 0, 0))
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp();
    let step = |t: Timestamp| BidStepRequest {
        time_slot: t,
        price: Decimal::ZERO,
        quantity: d("2"),
        side: None,
        activation_price: None,
    };
    let request = SubmitBid {
        vpp_id: vpp.clone(),
        strategy_id: Some("test-strategy".into()),
        market_type: vpp_domain::vpp::MarketType::Spot,
        connector_id: None,
        trading_date: day,
        bids: vec![step(s0), step(s1)],
    };
    place_bid(&app.store, &request, &vpp_app::Actor::named("trader"), closure - SignedDuration::from_hours(1))
        .await
        .unwrap();
    let (s, cleared) = app
        .post("/api/v1/vpp/trading/clear", json!({"connector_id": connector_id, "trading_date": day.to_string()}))
        .await;
    assert_eq!(s, StatusCode::OK, "{cleared}");
    assert_eq!((cleared["bids"].as_i64(), cleared["trades"].as_i64()), (Some(1), Some(2)));
    let (_, results) =
        app.get(&format!("/api/v1/vpp/trading/results?vpp_id={vpp}&trading_date={day}&market_type=SPOT")).await;
    let bid = &results["bids"][0];
    assert_eq!(bid["status"], "CLEARED");
    let prices: Vec<Decimal> = bid["steps"].as_array().unwrap().iter().map(|s| dec(&s["cleared_price"])).collect();
    assert_eq!(results["trades"].as_array().unwrap().len(), 2);
    // The cleared position is the VPP's commitment: 2 MW in both quarter-hours.
    let committed = app.store.committed_power(&vpp, s0.as_microsecond()).await.unwrap();
    assert_eq!(committed.map(|c| c.2), Some(2000.0));
    let after = app.store.committed_power(&vpp, (s1 + SignedDuration::from_mins(15)).as_microsecond()).await.unwrap();
    assert_eq!(after.map(|c| c.2), Some(0.0), "slots without a position commit to 0 kW");
    // Market data shows the clearing prices as price beliefs.
    let (s, data) = app
        .get(&format!(
            "/api/v1/vpp/market-data/{connector_id}/history?start={s0}&end={}",
            s1 + SignedDuration::from_mins(15)
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{data}");
    assert_eq!(data["points"].as_array().unwrap().len(), 2);
    assert_eq!(data["points"][0]["source"], "price");
    // Settlement without measurements names the intervals.
    let period =
        json!({"vpp_id": vpp, "start": s0.to_string(), "end": (s1 + SignedDuration::from_mins(15)).to_string()});
    let (s, p) = app.post("/api/v1/vpp/settlement/calculate", period.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&format!("delivered energy for 2 intervals ({s0}, {s1})")), "{p}");
    // Meter readings: 1.8 MW then 2.1 MW for the quarter-hours (0.45 and 0.525 MWh).
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/series/{series}/beliefs"),
            json!({"unit": "MW", "beliefs": [
                {"event_start": s0.to_string(), "source": "meter_final", "value": 1.8},
                {"event_start": s1.to_string(), "source": "meter_final", "value": 2.1}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, run) = app.post("/api/v1/vpp/settlement/calculate", period).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    let rows = run["intervals"].as_array().unwrap();
    let imbalance: Vec<Decimal> = rows.iter().map(|r| dec(&r["imbalance_price"])).collect();
    // Sold 2 MW × 0.25 h = 0.5 MWh each at the clearing price; imbalance
    // (0.45 − 0.5) and (0.525 − 0.5) MWh at the final imbalance price; fee 0.05 €/MWh.
    let revenue = d("0.5") * prices[0] + d("0.5") * prices[1];
    let imbalance_amount = d("-0.05") * imbalance[0] + d("0.025") * imbalance[1];
    assert_eq!(dec(&run["trade_revenue"]), revenue);
    assert_eq!(dec(&run["imbalance_amount"]), imbalance_amount);
    assert_eq!(dec(&run["fees"]), d("-0.05"));
    assert_eq!(dec(&run["net"]), revenue + imbalance_amount - d("0.05"));
    assert_eq!(rows[0]["imbalance_price_source"], "final");
    assert_eq!((dec(&rows[0]["imbalance_mwh"]), dec(&rows[1]["delivered_mwh"])), (d("-0.05"), d("0.525")));
    let (_, bid) = app.get(&format!("/api/v1/vpp/trading/bids/{}", bid["id"].as_str().unwrap())).await;
    assert_eq!(bid["status"], "SETTLED");
    let (_, stored) = app
        .get(&format!(
            "/api/v1/vpp/settlement/records?vpp_id={vpp}&start={s0}&end={}",
            s1 + SignedDuration::from_mins(15)
        ))
        .await;
    assert_eq!(stored["net"], run["net"]);
    assert_eq!(stored["intervals"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn exchange_files_import_whole_or_not_at_all() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let (s, c) = app
        .post("/api/v1/vpp/market-connectors", json!({"name": "EPEX files", "market_type": "SPOT", "kind": "file"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap();
    let (vpp, _, _) = spot_vpp(&app).await;
    let upload = |kind: &str, extra: &str, body: &str| {
        let path = format!("/api/v1/vpp/market-connectors/{id}/import?kind={kind}{extra}");
        let body = body.as_bytes().to_vec();
        let app = &app;
        async move {
            let (s, v, _) = app.request(Method::POST, &path, Some("text/csv"), body).await;
            (s, v)
        }
    };
    let header = "# export\nTradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n";
    let bad = format!(
        "{header}T1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:00Z;85.5;EUR;2;MW\nT2;SELL;x;y;z;1;EUR;1;MW\n"
    );
    let (s, p) = upload("trades", &format!("&vpp_id={vpp}"), &bad).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file"), "{p}");
    assert_eq!(p["rejected"][0]["line"], 4, "{p}");
    let good = format!(
        "{header}T1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:00Z;85.5;EUR;2;MW\nT2;BUY;2026-11-20T10:00:00Z;2026-11-20T10:15:00Z;2026-11-20T09:00:00Z;90;EUR;0.25;MWh\n"
    );
    let (s, r) = upload("trades", &format!("&vpp_id={vpp}"), &good).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["trades"], 2);
    let (s, p) = upload("trades", &format!("&vpp_id={vpp}"), &good).await;
    assert_eq!(s, StatusCode::CONFLICT, "a trade id imported twice refuses the file: {p}");
    let german = "Datum;Zeitzone;von;bis;reBAP unterdeckt;reBAP ueberdeckt\n20.11.2026;CET;11:00;11:15;123,45;123,45\n";
    let (s, r) = upload("imbalance", "", german).await;
    assert_eq!((s, r["beliefs"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    // An hourly price covers its four quarter-hours.
    let (s, r) = upload(
        "prices",
        "",
        "delivery_start,delivery_end,price,currency\n2026-11-20T10:00:00Z,2026-11-20T11:00:00Z,85.5,EUR\n",
    )
    .await;
    assert_eq!((s, r["beliefs"].as_u64()), (StatusCode::OK, Some(4)), "{r}");
    let (_, data) = app
        .get(&format!("/api/v1/vpp/market-data/{id}/history?start=2026-11-20T10:00:00Z&end=2026-11-20T11:00:00Z"))
        .await;
    assert_eq!(data["points"].as_array().unwrap().len(), 4, "{data}");
    let (s, p) = upload("prices", "", "delivery_start,price,currency\n2026-11-20T10:00:00Z,85.5,USD\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // A file connector runs no auction.
    let (s, p) = app.post("/api/v1/vpp/trading/clear", json!({"connector_id": id, "trading_date": "2026-11-20"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
}

#[tokio::test]
async fn revenue_analysis_spreads_hourly_trades_and_exports_csv() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let (_, c) = app
        .post("/api/v1/vpp/market-connectors", json!({"name": "EPEX files", "market_type": "SPOT", "kind": "file"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let (vpp, generator, _) = spot_vpp(&app).await;
    let file = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n\
        H1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:00Z;80;EUR;4;MW\n\
        Q1;BUY;2026-11-20T10:15:00Z;2026-11-20T10:30:00Z;2026-11-20T09:00:00Z;100;EUR;2;MW\n";
    let (s, r, _) = app
        .request(
            Method::POST,
            &format!("/api/v1/vpp/market-connectors/{id}/import?kind=trades&vpp_id={vpp}"),
            Some("text/csv"),
            file.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let q = format!("vpp_id={vpp}&start=2026-11-20T10:00:00Z&end=2026-11-20T11:00:00Z");
    let (s, time) = app.get(&format!("/api/v1/vpp/reports/revenue-analysis?{q}")).await;
    assert_eq!(s, StatusCode::OK, "{time}");
    let rows = time["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    // Each quarter-hour sells 1 MWh at 80; the second also buys 0.5 MWh at 100.
    assert_eq!((dec(&rows[0]["revenue"]), dec(&rows[0]["vwap"])), (d("80"), d("80")));
    assert_eq!((dec(&rows[1]["revenue"]), dec(&rows[1]["net_volume_mwh"])), (d("30"), d("0.5")));
    // (80 + 50) / 1.5 = 86.6667
    assert_eq!(dec(&rows[1]["vwap"]), d("86.6667"));
    assert_eq!((dec(&time["total"]["revenue"]), time["total"]["trade_count"].as_u64()), (d("270"), Some(2)));
    let (s, strategy) = app.get(&format!("/api/v1/vpp/reports/revenue-analysis?{q}&dimension=strategy")).await;
    assert_eq!(s, StatusCode::OK, "{strategy}");
    assert_eq!(strategy["rows"][0]["key"], "file-import");
    let (s, resource) = app.get(&format!("/api/v1/vpp/reports/revenue-analysis?{q}&dimension=resource")).await;
    assert_eq!(s, StatusCode::OK, "{resource}");
    assert_eq!(
        (resource["rows"][0]["key"].as_str(), resource["rows"][0]["share"].as_f64()),
        (Some(generator.as_str()), Some(1.0))
    );
    let (s, csv, ct) =
        app.request(Method::GET, &format!("/api/v1/vpp/reports/revenue-analysis?{q}&format=csv"), None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let text = csv.as_str().unwrap();
    assert!(
        text.starts_with("key,name,share,revenue,trade_count,net_volume_mwh,traded_mwh,vwap,reserve_payments\n"),
        "{text}"
    );
    assert!(text.contains("\ntotal,,,270,2,3.5,4.5,"), "{text}");
    let (s, p) = app.get(&format!("/api/v1/vpp/reports/revenue-analysis?{q}&dimension=planet")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "dimension"));
    let (s, op) = app.get(&format!("/api/v1/vpp/reports/operation?{q}")).await;
    assert_eq!(s, StatusCode::OK, "{op}");
    assert_eq!(op["trades"], 2);
}

#[tokio::test]
async fn invoices_follow_contracts_and_measurements_with_vat() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let (_, generator, series) = spot_vpp(&app).await;
    let header =
        "contract_id;resource_id;valid_from;price_model;fixed_price;fee_model;fee_value;vat_pct;redispatch_price\n";
    let upload = |body: String| {
        let app = &app;
        async move {
            let (s, v, _) =
                app.request(Method::POST, "/api/v1/vpp/contracts/import", Some("text/csv"), body.into_bytes()).await;
            (s, v)
        }
    };
    let (s, p) = upload(format!("{header}C1;{generator};2026-01-01;fixed;;fixed_as_produced;3.10;;\n")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file"), "{p}");
    assert!(p["rejected"][0]["reason"].as_str().unwrap().contains("contradiction"), "{p}");
    let (s, p) = upload(format!("{header}C1;nope;2026-01-01;fixed;92.50;fixed_as_produced;3.10;;\n")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (_, list) = app.get("/api/v1/vpp/contracts").await;
    assert_eq!(list, json!([]), "refused files store nothing");
    let (s, r) = upload(format!("{header}C1;{generator};2026-01-01;fixed;92.50;fixed_as_produced;3.10;;\n")).await;
    assert_eq!((s, r["added"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    // Measured: 2 MW and 1 MW for one quarter-hour each (0.5 + 0.25 MWh).
    let (s, b) = app
        .post(
            &format!("/api/v1/vpp/series/{series}/beliefs"),
            json!({"unit": "MW", "beliefs": [
                {"event_start": "2026-11-03T10:00:00Z", "source": "meter_final", "value": 2.0},
                {"event_start": "2026-11-03T10:15:00Z", "source": "meter_final", "value": 1.0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, invoices) = app.get("/api/v1/vpp/invoices?month=2026-11").await;
    assert_eq!(s, StatusCode::OK, "{invoices}");
    let inv = &invoices[0];
    // 0.75 MWh × 92.50 = 69.375 → 69.38; fee 0.75 × 3.10 = 2.325 → 2.33; net 67.05;
    // VAT 19 % 12.7395 → 12.74; gross 79.79.
    assert_eq!((dec(&inv["payout"]), dec(&inv["fees"]), dec(&inv["net"])), (d("69.38"), d("2.33"), d("67.05")));
    assert_eq!((dec(&inv["vat"]), dec(&inv["gross"])), (d("12.74"), d("79.79")));
    assert_eq!(inv["unmeasured_quarters"], 30 * 96 - 2);
    let (_, inv7) = app.get("/api/v1/vpp/invoices?month=2026-11&vat_pct=7").await;
    assert_eq!(dec(&inv7[0]["vat"]), d("4.69"));
    let (s, p) = app.get("/api/v1/vpp/invoices?month=2026-13").await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "month"));
}

/// The position per slot against capacity: a bid takes its quantity out of
/// the room to sell in its slot only; dangling ids are named.
#[tokio::test]
async fn the_position_shows_what_bids_hold_against_the_capacity() {
    let app = TestApp::new().await;
    connector(&app, "DA", "SPOT").await;
    let (vpp, _, _) = spot_vpp(&app).await;
    let day = berlin_today().checked_add(jiff::Span::new().days(2)).unwrap();
    let slot = slots(day)[40];
    let bid = |quantity: &str| {
        json!({"vpp_id": vpp, "market_type": "SPOT", "trading_date": day.to_string(),
               "bids": [{"time_slot": slot.to_string(), "price": "45", "quantity": quantity}]})
    };
    let (s, placed) = app.post("/api/v1/vpp/trading/submit-bid", bid("2")).await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
    let (s, p) = app.get(&format!("/api/v1/vpp/trading/position?vpp_id={vpp}&trading_date={day}")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let all = p["slots"].as_array().unwrap();
    assert_eq!(all.len(), slots(day).len());
    let at = |i: usize| &all[i];
    assert_eq!(at(40)["start"], slot.to_string());
    assert_eq!(at(40)["position_mw"], 2.0);
    assert_eq!(at(40)["available_up_mw"], 5.0, "the 5 MW generator");
    assert_eq!(at(40)["room_sell_mw"], 3.0);
    assert_eq!(at(39)["position_mw"], 0.0);
    assert_eq!(at(39)["room_sell_mw"], 5.0);
    assert_eq!(dec(&p["notional"]), d("22.5"), "45 €/MWh × 2 MW × 0.25 h");
    // A second bid beyond the room left is refused, as the position said.
    let (s, refused) = app.post("/api/v1/vpp/trading/submit-bid", bid("3.5")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (s, p) = app.get(&format!("/api/v1/vpp/trading/position?vpp_id=nope&trading_date={day}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "vpp_id");
    let (s, p) = app.get(&format!("/api/v1/vpp/trading/position?vpp_id={vpp}&trading_date=2026-13-01")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
}

/// PV offers what the weather gives, not its nameplate: now, its measured
/// output of the last quarter-hour (nothing at night, nothing when
/// unmeasured); in a future slot, its newest forecast. A bid beyond the
/// forecast is refused in that slot and taken in the next.
#[tokio::test]
async fn pv_offers_its_measured_output_now_and_its_forecast_per_slot() {
    let app = TestApp::new().await;
    connector(&app, "DA", "SPOT").await;
    let solar = json!({"parameters": {"peak_kw": 5000, "inverter_kw": 5000}});
    let pv = app.create_resource("PV", "PV 1", solar.clone()).await["id"].as_str().unwrap().to_string();
    let stale = app.create_resource("PV", "PV 2", solar).await["id"].as_str().unwrap().to_string();
    let g = app.generator("Gen", 1000.0, 0.0, 60.0).await;
    let vpp = app.vpp("Solar", json!([{"resource_id": pv}, {"resource_id": stale}, {"resource_id": g}])).await;
    let old = (Timestamp::now() - SignedDuration::from_mins(20)).to_string();
    let (s, r) = app.telemetry(&stale, json!([{"ts": old, "power_kw": 4000.0}])).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let agg = format!("/api/v1/vpp/vpps/{vpp}/aggregated-params");
    let (_, a) = app.get(&agg).await;
    assert_eq!(a["available_up_kw"], 1000.0, "{a}");
    assert_eq!(a["output_unknown_count"], 2, "never measured, and measured 20 minutes ago");
    app.telemetry(&pv, json!([{"ts": crate::helpers::now_rfc3339(), "power_kw": 0.0}])).await;
    let (_, a) = app.get(&agg).await;
    assert_eq!(a["available_up_kw"], 1000.0, "night: 0 kW measured");
    assert_eq!(a["output_unknown_count"], 1);
    app.telemetry(&pv, json!([{"ts": crate::helpers::now_rfc3339(), "power_kw": 2500.0}])).await;
    let (_, a) = app.get(&agg).await;
    assert_eq!(a["available_up_kw"], 3500.0, "{a}");
    // A forecast for two quarter-hours of a later day: 2 MW, then 0.8 MW.
    let series = app.power_series("resource", &pv, "PV 1 power").await;
    let day = berlin_today().checked_add(jiff::Span::new().days(2)).unwrap();
    let at = slots(day);
    let known = (Timestamp::now() - SignedDuration::from_mins(1)).to_string();
    let (s, r) = app
        .post(
            &format!("/api/v1/vpp/series/{series}/beliefs"),
            json!({"unit": "MW", "beliefs": [
                {"event_start": at[40].to_string(), "belief_time": known, "source": "forecast", "value": 2.0},
                {"event_start": at[41].to_string(), "belief_time": known, "source": "forecast", "value": 0.8}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, p) = app.get(&format!("/api/v1/vpp/trading/position?vpp_id={vpp}&trading_date={day}")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let up: Vec<f64> = p["slots"].as_array().unwrap().iter().map(|s| s["available_up_mw"].as_f64().unwrap()).collect();
    assert_eq!(up[39], 1.0, "no forecast, so the generator alone");
    assert!((up[40] - 3.0).abs() < 1e-9 && (up[41] - 1.8).abs() < 1e-9, "{:?}", &up[39..43]);
    assert_eq!(up[42], 1.0);
    let bid = |slot: Timestamp| {
        json!({"vpp_id": vpp, "market_type": "SPOT", "trading_date": day.to_string(),
               "bids": [{"time_slot": slot.to_string(), "price": "0", "quantity": "2.5"}]})
    };
    let (s, refused) = app.post("/api/v1/vpp/trading/submit-bid", bid(at[41])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("rule available_capacity"), "{refused}");
    let (s, placed) = app.post("/api/v1/vpp/trading/submit-bid", bid(at[40])).await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
}

/// 50 bids at once, from two traders, each selling 0.3 MW in the same slot
/// of a 5 MW VPP: the room, the position limit and the notional limit hold,
/// because they are checked inside the bid's write transaction. Each round
/// ends with the kill switch, which cancels the open bids, so the next one
/// starts from an empty book.
#[tokio::test]
async fn concurrent_bids_never_spend_more_than_the_room_or_the_limits() {
    const BIDS: usize = 50;
    const ROUNDS: usize = 20;
    let app = TestApp::new().await;
    connector(&app, "DA", "SPOT").await;
    let (vpp, _, _) = spot_vpp(&app).await;
    let day = berlin_today().checked_add(jiff::Span::new().days(2)).unwrap();
    let slot = slots(day)[40];
    // 0.3 MW at 45 €/MWh over a quarter-hour: 3.375 € of notional a bid.
    let request = SubmitBid {
        vpp_id: vpp.clone(),
        strategy_id: None,
        market_type: vpp_domain::vpp::MarketType::Spot,
        connector_id: None,
        trading_date: day,
        bids: vec![BidStepRequest {
            time_slot: slot,
            price: d("45"),
            quantity: d("0.3"),
            side: None,
            activation_price: None,
        }],
    };
    // (limits, the rule that binds, most bids it lets through)
    let cases = [
        (json!({}), "rule available_capacity", 16),
        (json!({"max_position_mw": "2"}), "rule max_position_mw", 6),
        (json!({"max_daily_notional": "15"}), "rule max_daily_notional", 4),
    ];
    for round in 0..ROUNDS {
        let (limits, rule, most) = &cases[round % cases.len()];
        let (s, p) = app.put(&format!("/api/v1/vpp/trading/risk-limits/{vpp}/SPOT"), limits.clone()).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let tasks: Vec<_> = (0..BIDS)
            .map(|k| {
                let (store, request) = (app.store.clone(), request.clone());
                let trader = if k % 2 == 0 { "trader1" } else { "trader2" };
                let by = vpp_app::Actor::named(trader);
                tokio::spawn(async move { place_bid(&store, &request, &by, Timestamp::now()).await })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            match task.await.expect("bid task") {
                Ok(_) => accepted += 1,
                Err(e) => assert!(e.to_string().contains(rule), "round {round}: refused for another reason: {e}"),
            }
        }
        assert_eq!(accepted, *most, "round {round} ({rule}): the bids the rule lets through, and no more");
        let (s, p) = app.get(&format!("/api/v1/vpp/trading/position?vpp_id={vpp}&trading_date={day}")).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let held = p["slots"][40]["position_mw"].as_f64().unwrap();
        assert!((held - 0.3 * *most as f64).abs() < 1e-9, "round {round}: position {held} MW");
        assert!(held <= 5.0, "never above the 5 MW available");
        let (s, k) = app.put("/api/v1/vpp/trading/kill-switch", json!({"active": true, "reason": "next round"})).await;
        assert_eq!(s, StatusCode::OK, "{k}");
        app.put("/api/v1/vpp/trading/kill-switch", json!({"active": false})).await;
    }
}

/// A resource named like a spreadsheet formula comes out of the CSV export
/// as text (a leading `'`), never as a formula.
#[tokio::test]
async fn csv_exports_never_hand_a_spreadsheet_a_formula() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let (_, c) = app
        .post("/api/v1/vpp/market-connectors", json!({"name": "EPEX files", "market_type": "SPOT", "kind": "file"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let name = "=HYPERLINK(\"http://example.test\",\"open\")";
    let generator = app.generator(name, 5000.0, 0.0, 60.0).await;
    let vpp = app.vpp("Spot", json!([{"resource_id": generator, "allocation_ratio": 1.0}])).await;
    let file = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n\
        H1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:00Z;80;EUR;4;MW\n";
    let path = format!("/api/v1/vpp/market-connectors/{id}/import?kind=trades&vpp_id={vpp}");
    let (s, r, _) = app.request(Method::POST, &path, Some("text/csv"), file.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let q = format!("vpp_id={vpp}&start=2026-11-20T10:00:00Z&end=2026-11-20T11:00:00Z&dimension=resource&format=csv");
    let (s, csv, _) =
        app.request(Method::GET, &format!("/api/v1/vpp/reports/revenue-analysis?{q}"), None, vec![]).await;
    assert_eq!(s, StatusCode::OK, "{csv}");
    let text = csv.as_str().unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"http://example.test\"\",\"\"open\"\")\""), "{text}");
    for line in text.lines() {
        assert!(line.split(',').all(|cell| !cell.trim_start_matches('"').starts_with('=')), "{line}");
    }
}

/// Exchange and regulator files in their own shapes, with no flags.
#[tokio::test]
async fn exchange_files_as_their_senders_deliver_them() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let (_, c) = app
        .post(
            "/api/v1/vpp/market-connectors",
            json!({"name": "Regulator files", "market_type": "SPOT", "kind": "file"}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let (vpp, _, _) = spot_vpp(&app).await;
    let upload = |query: String, body: String| {
        let path = format!("/api/v1/vpp/market-connectors/{id}/import?{query}");
        let app = &app;
        async move {
            let (s, v, _) = app.request(Method::POST, &path, Some("text/csv"), body.into_bytes()).await;
            (s, v)
        }
    };
    // A regulator's imbalance export: category columns before the price,
    // the zone per row, the autumn hour twice.
    let german = "Datum;von;Zeitzone von;bis;Zeitzone bis;Datenkategorie;Datentyp;Einheit;Wert\n\
        25.10.2026;02:00;MESZ;02:15;MESZ;reBAP;final;EUR/MWh;1.234,56\n\
        25.10.2026;02:00;MEZ;02:15;MEZ;reBAP;final;EUR/MWh;-12,50\n";
    let (s, r) = upload("kind=imbalance".into(), german.into()).await;
    assert_eq!((s, r["beliefs"].as_u64()), (StatusCode::OK, Some(2)), "{r}");
    // A trade export in its own column order, volume unit `MWH`, decimal commas quoted.
    let trades = "trade_id,execution_time,side,delivery_start,delivery_end,quantity,unit,price,currency\n\
        X1,2026-11-19 12:00:03 UTC,Sell,2026-11-20 10:00:00 UTC,2026-11-20 10:15:00 UTC,\"0,5\",MWH,\"85,5\",EUR\n";
    let (s, r) = upload(format!("kind=trades&vpp_id={vpp}"), trades.into()).await;
    assert_eq!((s, r["trades"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    let q = format!("vpp_id={vpp}&start=2026-11-20T10:00:00Z&end=2026-11-20T10:15:00Z");
    let (_, revenue) = app.get(&format!("/api/v1/vpp/reports/revenue-analysis?{q}")).await;
    let row = &revenue["rows"][0];
    // 0.5 MWh in a quarter-hour is 2 MW; sold at 85.5 €/MWh.
    assert_eq!((dec(&row["revenue"]), dec(&row["vwap"])), (d("42.75"), d("85.5")), "{revenue}");
    // Prices in Berlin wall clock and ct/kWh.
    let prices = "Zeit;Preis (ct/kWh)\n20.11.2026 11:00;8,55\n";
    let (s, r) = upload("kind=prices&timezone=Europe%2FBerlin".into(), prices.into()).await;
    assert_eq!((s, r["beliefs"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    let (_, data) = app
        .get(&format!("/api/v1/vpp/market-data/{id}/history?start=2026-11-20T10:00:00Z&end=2026-11-20T10:15:00Z"))
        .await;
    assert_eq!(data["points"][0]["value"].as_f64(), Some(85.5), "{data}");
    let (s, p) = upload("kind=prices&timezone=Mars%2FOlympus".into(), prices.into()).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "timezone"), "{p}");
}

/// Contracts as a CRM exports them: keyed by the asset id, with the
/// metering point, capacity and an end date.
#[tokio::test]
async fn crm_contracts_keyed_by_asset_id_land_on_their_resource() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let park = app
        .create_resource("WIND", "Park Nord", json!({"external_id": "WP-07", "parameters": {"rated_kw": 3600}}))
        .await;
    let upload = |body: &str| {
        let (app, body) = (&app, body.as_bytes().to_vec());
        async move {
            let (s, v, _) = app.request(Method::POST, "/api/v1/vpp/contracts/import", Some("text/csv"), body).await;
            (s, v)
        }
    };
    let header = "contract_id,asset_id,metering_point_id,capacity (MW),technology,contract_begin,contract_end,price_model,price,fee_model,fee,fee_percent\n";
    let (s, p) = upload(&format!("{header}K-1,WP-99,DE01,3.6,wind,2026-01-01,,market,,percent_of_market,,2.5\n")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("WP-99"), "{p}");
    let file = format!("{header}K-1,WP-07,DE01,3.6,wind,2026-01-01,2026-12-31,market,,percent_of_market,,2.5\n");
    let (s, r) = upload(&file).await;
    assert_eq!((s, r["added"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    let (s, r) = upload(&file).await;
    assert_eq!((s, r["added"].as_u64()), (StatusCode::OK, Some(0)), "the weekly export again changes nothing: {r}");
    // Next week the CRM gives a new metering point: updated in place. A new fee needs a new version.
    let (s, r) = upload(&file.replace(",DE01,", ",DE02,")).await;
    assert_eq!((s, r["updated"].as_u64()), (StatusCode::OK, Some(1)), "{r}");
    let (s, p) = upload(&file.replace(",,2.5", ",,3")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    let (_, list) = app.get("/api/v1/vpp/contracts").await;
    let c = &list[0];
    assert_eq!(c["resource_id"], park["id"], "{list}");
    assert_eq!((c["metering_point_id"].as_str(), c["valid_until"].as_str()), (Some("DE02"), Some("2026-12-31")));
    // Not in force in 2027: no invoice.
    let (s, invoices) = app.get("/api/v1/vpp/invoices?month=2027-01").await;
    assert_eq!((s, invoices), (StatusCode::OK, json!([])));
    assert_eq!((dec(&c["capacity_mw"]), dec(&c["fee_value"])), (d("3.6"), d("2.5")));
}

/// An exchange's public trades give the market VWAP index; a market-price
/// invoice pays by it and names it.
#[tokio::test]
async fn market_price_invoices_use_the_public_trades_vwap_and_name_it() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let (_, c) = app
        .post("/api/v1/vpp/market-connectors", json!({"name": "EPEX files", "market_type": "SPOT", "kind": "file"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let (_, generator, series) = spot_vpp(&app).await;
    let post = |path: String, body: String| {
        let app = &app;
        async move {
            let (s, v, _) = app.request(Method::POST, &path, Some("text/csv"), body.into_bytes()).await;
            (s, v)
        }
    };
    let contract = format!(
        "contract_id;resource_id;valid_from;price_model;fixed_price;fee_model;fee_value;vat_pct;redispatch_price\nM1;{generator};2026-01-01;market;;percent_of_market;0;0;\n"
    );
    let (s, r) = post("/api/v1/vpp/contracts/import".into(), contract).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, b) = app
        .post(
            &format!("/api/v1/vpp/series/{series}/beliefs"),
            json!({"unit": "MW", "beliefs": [
                {"event_start": "2026-11-03T10:00:00Z", "source": "meter_final", "value": 2.0},
                {"event_start": "2026-11-03T10:15:00Z", "source": "meter_final", "value": 1.0}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // All participants' trades: no side, no id; an hourly trade counts in each quarter-hour.
    let public = "DeliveryStart,DeliveryEnd,Price,Volume (MWh),Currency\n\
        2026-11-03 10:00:00 UTC,2026-11-03 11:00:00 UTC,80,4,EUR\n\
        2026-11-03 10:15:00 UTC,2026-11-03 10:30:00 UTC,100,0.5,EUR\n";
    let (s, r) = post(format!("/api/v1/vpp/market-connectors/{id}/import?kind=public_trades"), public.into()).await;
    assert_eq!((s, r["beliefs"].as_u64()), (StatusCode::OK, Some(4)), "{r}");
    let (s, invoices) = app.get("/api/v1/vpp/invoices?month=2026-11").await;
    assert_eq!(s, StatusCode::OK, "{invoices}");
    let inv = &invoices[0];
    // 0.5 MWh × 80 + 0.25 MWh × (1 × 80 + 0.5 × 100) / 1.5 = 40 + 21.6666… = 61.67.
    assert_eq!(dec(&inv["payout"]), d("61.67"), "{inv}");
    assert_eq!(inv["market_index"], json!([{"index": "public trades VWAP (EPEX files)", "quarters": 2}]));
    assert!(inv["lines"][0]["description"].as_str().unwrap().contains("public trades VWAP (EPEX files)"), "{inv}");
    let usd = public.replace("EUR", "USD");
    let (s, p) = post(format!("/api/v1/vpp/market-connectors/{id}/import?kind=public_trades"), usd).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "file"), "{p}");
}

/// Imbalance cost per asset and portfolio, by hand: (best of infeed −
/// tradeable forecast) × ratio × ¼ h × the final imbalance price, else the
/// estimate.
#[tokio::test]
async fn imbalance_cost_per_asset_and_portfolio_by_hand() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let a = app.generator("A", 5000.0, 0.0, 10.0).await;
    let b = app.generator("B", 5000.0, 0.0, 10.0).await;
    let v = app.vpp("V", json!([{"resource_id": a}, {"resource_id": b, "allocation_ratio": 0.5}])).await;
    let (_, c) = app
        .post(
            "/api/v1/vpp/market-connectors",
            json!({"name": "Regulator files", "market_type": "SPOT", "kind": "file"}),
        )
        .await;
    let connector = c["id"].as_str().unwrap().to_string();
    let (t0, t1) = ("2026-11-20T10:00:00Z", "2026-11-20T10:15:00Z");
    let (early, late, settled) = ("2026-11-19T09:00:00Z", "2026-11-20T09:55:00Z", "2026-11-21T08:00:00Z");
    let belief = |start: &str, version: &str, source: &str, value: f64| json!({"event_start": start, "belief_time": version, "source": source, "value": value});
    for (r, beliefs) in [
        // A: metered 1000 kW at 10:00 against 800 traded (950 came after gate closure); 10:15 only a forecast.
        (
            &a,
            vec![
                belief(t0, settled, "meter_final", 1000.0),
                belief(t0, early, "forecast", 800.0),
                belief(t0, late, "forecast", 950.0),
                belief(t1, early, "forecast", 600.0),
            ],
        ),
        // B: metered 400 and 300 against 500 and 200 traded.
        (
            &b,
            vec![
                belief(t0, settled, "meter_final", 400.0),
                belief(t0, early, "forecast", 500.0),
                belief(t1, settled, "meter_final", 300.0),
                belief(t1, early, "forecast", 200.0),
            ],
        ),
    ] {
        let (s, series) = app
            .post(
                "/api/v1/vpp/series",
                json!({"name": format!("{r} power"), "owner_kind": "resource", "owner_id": r, "quantity": "power"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{series}");
        let (s, res) = app
            .post(
                &format!("/api/v1/vpp/series/{}/beliefs", series["id"].as_str().unwrap()),
                json!({"beliefs": beliefs}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{res}");
    }
    let path = format!("/api/v1/vpp/vpps/{v}/imbalance-cost?start={t0}&end=2026-11-20T10:30:00Z");
    let (s, p) = app.get(&path).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "connector_id"), "no prices yet: {p}");
    let header = "Datum;von;Zeitzone von;bis;Zeitzone bis;Wert\n";
    for (row, extra) in
        [("20.11.2026;11:00;MEZ;11:15;MEZ;120,00\n", ""), ("20.11.2026;11:15;MEZ;11:30;MEZ;80,00\n", "&estimate=true")]
    {
        let (s, r, _) = app
            .request(
                Method::POST,
                &format!("/api/v1/vpp/market-connectors/{connector}/import?kind=imbalance{extra}"),
                Some("text/csv"),
                format!("{header}{row}").into_bytes(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (s, r) = app.get(&path).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["position"], "tradeable forecast");
    let asset = |id: &str| r["assets"].as_array().unwrap().iter().find(|x| x["resource_id"] == id).unwrap().clone();
    let (qa, qb) = (asset(&a), asset(&b));
    // A 10:00: (1000 − 800) × 1 × 0.25 / 1000 = 0.05 MWh × 120 (final) = 6.
    assert_eq!((dec(&qa["quarters"][0]["imbalance_mwh"]), dec(&qa["quarters"][0]["amount"])), (d("0.05"), d("6")));
    assert_eq!(
        (qa["quarters"][0]["delivered_source"].as_str(), qa["quarters"][0]["price_source"].as_str()),
        (Some("meter_final"), Some("final"))
    );
    // A 10:15: delivered is the latest forecast (600), as traded: 0.
    assert_eq!(
        (qa["quarters"][1]["delivered_source"].as_str(), dec(&qa["quarters"][1]["amount"])),
        (Some("forecast"), d("0"))
    );
    // B: (400 − 500) × 0.5 / 4000 = −0.0125 × 120 = −1.5; (300 − 200) × 0.5 / 4000 = 0.0125 × 80 (estimate) = 1.
    assert_eq!((dec(&qb["quarters"][0]["amount"]), dec(&qb["quarters"][1]["amount"])), (d("-1.5"), d("1")));
    assert_eq!(qb["quarters"][1]["price_source"], "estimate");
    assert_eq!((dec(&r["portfolio"][0]["amount"]), dec(&r["portfolio"][1]["amount"])), (d("4.5"), d("1")));
    assert_eq!(dec(&r["amount"]), d("5.5"));
    // Against the latest forecast, A's position at 10:00 is 950: 0.0125 MWh × 120 = 1.5; total 1.
    let (_, latest) = app.get(&format!("{path}&view=latest")).await;
    assert_eq!(dec(&latest["amount"]), d("1"), "{latest}");
    let (s, p) = app.get(&format!("{path}&view=day_ahead")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "view"));
}
