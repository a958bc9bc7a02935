//! Redispatch payout by hand: the latest forecast of each quarter-hour the
//! DSO flagged, times the allocation ratio and a quarter of an hour, times
//! the DSO's compensation price of that quarter-hour and asset.

use axum::http::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{TestApp, field};

fn d(v: &serde_json::Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("decimal string: {v}")).parse().unwrap()
}

#[tokio::test]
async fn redispatch_payout_per_asset_from_the_dsos_compensation_file() {
    let app = TestApp::new().await;
    let wp07 = app
        .create_resource("WIND", "Park Nord", json!({"external_id": "WP-07", "parameters": {"rated_kw": 3600}}))
        .await;
    let wp08 = app
        .create_resource("WIND", "Park Süd", json!({"external_id": "WP-08", "parameters": {"rated_kw": 4200}}))
        .await;
    let (a, b) = (wp07["id"].as_str().unwrap(), wp08["id"].as_str().unwrap());
    let v = app.vpp("RTM", json!([{"resource_id": a}, {"resource_id": b, "allocation_ratio": 0.5}])).await;
    let send = |query: String, body: &str| {
        let (app, body) = (&app, body.as_bytes().to_vec());
        async move {
            let (s, v, _) = app.request(Method::POST, &format!("/api/v1/vpp/{query}"), Some("text/csv"), body).await;
            (s, v)
        }
    };
    // WP-07: an early and a later forecast (the later one counts), flags at 10:00–10:45;
    // 10:30 has no forecast. WP-08: one flagged quarter-hour at 10:00.
    let v1 = "series/import?source=forecast&belief_time=2026-11-19T09:00:00Z";
    let v2 = "series/import?source=forecast&belief_time=2026-11-20T07:00:00Z";
    for (query, name, body) in [
        (v1, "WP-07_a.csv", "timestamp,value (kW)\n2026-11-20T10:00:00Z,1500\n2026-11-20T10:15:00Z,900\n"),
        (v2, "WP-07_b.csv", "timestamp,value (kW)\n2026-11-20T10:00:00Z,2000\n2026-11-20T10:15:00Z,1000\n"),
        (v1, "WP-08_a.csv", "timestamp,value (MW)\n2026-11-20T10:00:00Z,3.2\n2026-11-20T10:15:00Z,3.0\n"),
    ] {
        let (s, r) = send(format!("{query}&file_name={name}"), body).await;
        assert_eq!(s, StatusCode::OK, "{name}: {r}");
    }
    let flags = "Zeitstempel;Redispatch\n2026-11-20T10:00:00Z;1\n2026-11-20T10:15:00Z;1\n2026-11-20T10:30:00Z;1\n2026-11-20T10:45:00Z;0\n";
    let (s, r) = send("series/import?file_name=redispatch_flags_WP-07.csv".into(), flags).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let flags = "Zeitstempel;Redispatch\n2026-11-20T10:00:00Z;1\n";
    let (s, r) = send("series/import?file_name=redispatch_flags_WP-08.csv".into(), flags).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let path = format!("vpps/{v}/redispatch-payout?start=2026-11-20T10:00:00Z&end=2026-11-20T11:00:00Z");
    // A row naming an unknown asset stores nothing.
    let file = "Anlage;Beginn;Ende;Ausgleichspreis (ct/kWh)\n\
        WP-07;2026-11-20 10:00:00 UTC;2026-11-20 11:00:00 UTC;7,5\n\
        WP-99;2026-11-20 10:00:00 UTC;2026-11-20 10:15:00 UTC;7,5\n";
    let (s, p) = send("redispatch/compensation/import".into(), file).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["rejected"][0]["line"], 3, "{p}");
    assert!(p["rejected"][0]["reason"].as_str().unwrap().starts_with("Anlage: "), "names the column: {p}");
    // The same quarter-hour of an asset twice is refused with both lines.
    let twice = "Anlage;Beginn;Ende;Ausgleichspreis (ct/kWh)\n\
        WP-07;2026-11-20 10:00:00 UTC;2026-11-20 11:00:00 UTC;7,5\n\
        WP-07;2026-11-20 10:15:00 UTC;2026-11-20 10:30:00 UTC;7,5\n";
    let (s, p) = send("redispatch/compensation/import".into(), twice).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p["rejected"][0]["reason"].as_str().unwrap().contains("line 2"), "{p}");
    let (_, none) = app.get(&format!("/api/v1/vpp/{path}")).await;
    assert_eq!(none["assets"][0]["incomplete_quarters"], 3, "no price stored: {none}");
    // An hourly price for WP-07 (each of its quarter-hours), and WP-08's own, in wall clock.
    let file =
        "Anlage;Beginn;Ende;Ausgleichspreis (ct/kWh)\nWP-07;2026-11-20 10:00:00 UTC;2026-11-20 11:00:00 UTC;7,5\n";
    let (s, r) = send("redispatch/compensation/import".into(), file).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["assets"][a], 4, "{r}");
    let file = "timestamp;compensation_price (EUR/MWh)\n20.11.2026 11:00;90\n";
    let (s, r) =
        send("redispatch/compensation/import?file_name=DSO_WP-08.csv&timezone=Europe%2FBerlin".into(), file).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, report) = app.get(&format!("/api/v1/vpp/{path}")).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let asset =
        |id: &str| report["assets"].as_array().unwrap().iter().find(|x| x["resource_id"] == id).unwrap().clone();
    let (r7, r8) = (asset(a), asset(b));
    // WP-07: 2000 kW × ¼ h = 0.5 MWh × 75 = 37.50; 1000 kW → 0.25 MWh × 75 = 18.75; 10:30 no forecast.
    let q: Vec<(Decimal, Decimal)> =
        r7["quarters"].as_array().unwrap()[..2].iter().map(|x| (d(&x["volume_mwh"]), d(&x["payout"]))).collect();
    assert_eq!(q, [(Decimal::new(5, 1), Decimal::new(375, 1)), (Decimal::new(25, 2), Decimal::new(1875, 2))], "{r7}");
    assert_eq!((d(&r7["payout"]), r7["incomplete_quarters"].as_u64()), (Decimal::new(5625, 2), Some(1)), "{r7}");
    assert_eq!(r7["quarters"][2]["forecast_kw"], serde_json::Value::Null);
    // WP-08 at ratio 0.5: 3200 kW × 0.5 × ¼ h = 0.4 MWh × 90 = 36.00.
    assert_eq!((d(&r8["volume_mwh"]), d(&r8["payout"])), (Decimal::new(4, 1), Decimal::new(36, 0)), "{r8}");
    assert_eq!(d(&report["payout"]), Decimal::new(9225, 2), "{report}");
    assert_eq!(d(&report["volume_mwh"]), Decimal::new(115, 2), "{report}");
    let (s, _) =
        app.get("/api/v1/vpp/vpps/nope/redispatch-payout?start=2026-11-20T10:00:00Z&end=2026-11-20T11:00:00Z").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The performance report of a day by hand: production from meter final,
/// forecast accuracy of the latest and the tradeable version, the VPP's own
/// trade against the public VWAP.
#[tokio::test]
async fn the_performance_report_of_a_day_by_hand() {
    let app = TestApp::new().await;
    let wp07 = app
        .create_resource("WIND", "Park Nord", json!({"external_id": "WP-07", "parameters": {"rated_kw": 3600}}))
        .await;
    let a = wp07["id"].as_str().unwrap();
    let v = app.vpp("RTM", json!([{"resource_id": a}])).await;
    let (_, series) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "WP-07 power", "owner_kind": "resource", "owner_id": a, "quantity": "power"}),
        )
        .await;
    let (t0, t1) = ("2026-11-20T10:00:00Z", "2026-11-20T10:15:00Z");
    let (early, late, settled) = ("2026-11-19T09:00:00Z", "2026-11-20T10:30:00Z", "2026-11-21T08:00:00Z");
    let b = |start: &str, version: &str, source: &str, value: f64| json!({"event_start": start, "belief_time": version, "source": source, "value": value});
    let beliefs = vec![
        b(t0, settled, "meter_final", 2000.0),
        b(t1, settled, "meter_final", 1000.0),
        b(t0, early, "forecast", 1900.0),
        b(t1, early, "forecast", 1200.0),
        b(t0, late, "forecast", 2200.0),
        b(t1, late, "forecast", 800.0),
    ];
    let (s, r) = app
        .post(&format!("/api/v1/vpp/series/{}/beliefs", series["id"].as_str().unwrap()), json!({"beliefs": beliefs}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, c) = app
        .post("/api/v1/vpp/market-connectors", json!({"name": "EPEX files", "market_type": "SPOT", "kind": "file"}))
        .await;
    let c = c["id"].as_str().unwrap();
    let trades = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n\
        T1;SELL;2026-11-20T10:00:00Z;2026-11-20T10:15:00Z;2026-11-20T08:00:00Z;80;EUR;0,25;MWh\n";
    let public =
        "DeliveryStart;DeliveryEnd;Price;Volume (MWh);Currency\n2026-11-20T10:00:00Z;2026-11-20T10:15:00Z;75;10;EUR\n";
    for (query, body) in [(format!("kind=trades&vpp_id={v}"), trades), ("kind=public_trades".into(), public)] {
        let path = format!("/api/v1/vpp/market-connectors/{c}/import?{query}");
        let (s, r, _) = app.request(Method::POST, &path, Some("text/csv"), body.as_bytes().to_vec()).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let (s, report) = app.get(&format!("/api/v1/vpp/reports/performance?vpp_id={v}&day=2026-11-20")).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let asset = &report["assets"][0];
    // (2000 + 1000) kW × ¼ h = 0.75 MWh, all meter final.
    assert_eq!(d(&asset["production_mwh"]), Decimal::new(75, 2), "{asset}");
    assert_eq!(d(&asset["production_by_source"]["meter_final"]), Decimal::new(75, 2));
    assert_eq!(asset["missing_quarters"], 94, "the day has 96 quarter-hours: {asset}");
    // Latest: +200, −200 → MAE 200, bias 0. Tradeable (issued 15 min before): −100, +200 → MAE 150, bias +50.
    assert_eq!(asset["forecast_latest"], json!({"quarters": 2, "mae_kw": 200.0, "bias_kw": 0.0}), "{asset}");
    assert_eq!(asset["forecast_tradeable"], json!({"quarters": 2, "mae_kw": 150.0, "bias_kw": 50.0}), "{asset}");
    assert_eq!(asset["imbalance_cost"], serde_json::Value::Null, "no imbalance prices");
    let tr = &report["total"]["trading"];
    // Sold 0.25 MWh at 80 (20 EUR) where the market's VWAP was 75.
    assert_eq!(
        (d(&tr["revenue"]), d(&tr["own_vwap"]), d(&tr["market_vwap"]), d(&tr["vwap_difference"])),
        (Decimal::new(20, 0), Decimal::new(80, 0), Decimal::new(75, 0), Decimal::new(5, 0)),
        "{tr}"
    );
    assert_eq!(d(&report["total"]["source_share_pct"]["meter_final"]), Decimal::ONE_HUNDRED);
    assert!(report["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().starts_with("imbalance cost")));
    let (s, csv, _) = app
        .request(
            Method::GET,
            &format!("/api/v1/vpp/reports/performance?vpp_id={v}&day=2026-11-20&format=csv"),
            None,
            vec![],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = csv.as_str().unwrap();
    assert!(text.lines().any(|l| l.starts_with("2026-11-20,total,,RTM,,,0.75")), "{text}");
    let (s, p) = app.get(&format!("/api/v1/vpp/reports/performance?vpp_id={v}&day=2026-11-20&month=2026-11")).await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "day"), "{p}");
    let (s, p) = app.get("/api/v1/vpp/reports/performance?vpp_id=nope&day=2026-11-20").await;
    assert_eq!((s, field(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "vpp_id"), "{p}");
    let (s, month) = app.get(&format!("/api/v1/vpp/reports/performance?vpp_id={v}&month=2026-11")).await;
    assert_eq!(s, StatusCode::OK, "{month}");
    assert!(month["notes"].to_string().contains("no contract in force"), "{month}");
}
