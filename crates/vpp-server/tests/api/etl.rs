//! Forecast ETL against the database (the store side of `vpp etl
//! forecasts`), on whichever backend the suite runs.

use axum::http::StatusCode;
use serde_json::json;
use vpp_domain::forecast_etl::{AssetIds, EtlConfig, ForecastEtl};
use vpp_store::EtlView;

use crate::helpers::TestApp;

const Q: i64 = 900_000_000;

/// A resource with a power series holding `(event_start, belief_time, kW)` forecasts.
async fn resource_with_forecasts(app: &TestApp, name: &str, forecasts: &[(&str, &str, f64)]) -> String {
    let r = app.create_resource("WIND", name, json!({"parameters": {"rated_kw": 3000}})).await;
    let (s, series) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": format!("{name} power"), "owner_kind": "resource", "owner_id": r["id"], "quantity": "power"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{series}");
    let beliefs: Vec<_> = forecasts
        .iter()
        .map(|(start, version, kw)| json!({"event_start": start, "belief_time": version, "source": "forecast", "value": kw}))
        .collect();
    let (s, r2) = app
        .post(&format!("/api/v1/vpp/series/{}/beliefs", series["id"].as_str().unwrap()), json!({"beliefs": beliefs}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r2}");
    r["id"].as_str().unwrap().to_string()
}

fn us(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

#[tokio::test]
async fn stored_forecasts_give_latest_tradeable_and_portfolio_tables() {
    let app = TestApp::new().await;
    let a = resource_with_forecasts(
        &app,
        "ETL A",
        &[
            ("2026-11-20T10:00:00Z", "2026-11-19T12:00:00Z", 100.0),
            ("2026-11-20T10:00:00Z", "2026-11-20T09:50:00Z", 120.0), // after gate closure
            ("2026-11-20T10:15:00Z", "2026-11-19T12:00:00Z", 90.0),
            ("2026-11-21T10:00:00Z", "2026-11-20T12:00:00Z", 999.0), // another day
        ],
    )
    .await;
    let b = resource_with_forecasts(&app, "ETL B", &[("2026-11-20T10:00:00Z", "2026-11-20T08:00:00Z", 50.0)]).await;
    // A day in Berlin: 2026-11-20 00:00 CET = 2026-11-19 23:00 UTC.
    let window = Some((us("2026-11-19T23:00:00Z"), us("2026-11-20T23:00:00Z")));
    let mut names = AssetIds::default();
    let mut etl = ForecastEtl::new(EtlConfig { gate_closure_us: Q, window });
    app.store.stream_resource_forecasts(window, 2, &mut names, |chunk| etl.fold(chunk)).await.unwrap();
    let out = etl.finish();
    assert_eq!(out.stats.rows, 4, "the other day is not read");
    for (view, result) in [(EtlView::Latest, &out.latest), (EtlView::Tradeable, &out.tradeable)] {
        let written = app
            .store
            .write_forecast_tables(
                view,
                window,
                &names,
                Some(("asset_forecasts", &result.assets)),
                Some(("portfolio_forecast", &result.portfolio)),
            )
            .await
            .unwrap();
        assert_eq!(written, (3, 2));
    }
    let latest = app.store.read_asset_forecast_table("asset_forecasts", EtlView::Latest).await.unwrap();
    let tradeable = app.store.read_asset_forecast_table("asset_forecasts", EtlView::Tradeable).await.unwrap();
    let at = us("2026-11-20T10:00:00Z");
    let value = |rows: &[(String, i64, i64, f64)], id: &str, start: i64| {
        rows.iter().find(|r| r.0 == id && r.1 == start).map(|r| r.3)
    };
    assert_eq!(value(&latest, &a, at), Some(120.0));
    assert_eq!(value(&tradeable, &a, at), Some(100.0));
    assert_eq!(value(&tradeable, &b, at), Some(50.0));
    let portfolio = app.store.read_portfolio_table("portfolio_forecast", EtlView::Latest).await.unwrap();
    assert_eq!(portfolio, vec![(at, 170.0, 2), (at + Q, 90.0, 1)]);
    let portfolio = app.store.read_portfolio_table("portfolio_forecast", EtlView::Tradeable).await.unwrap();
    assert_eq!(portfolio[0], (at, 150.0, 2));

    // Running again replaces the rows of that view and window, no duplicates.
    let mut etl = ForecastEtl::new(EtlConfig { gate_closure_us: Q, window });
    app.store.stream_resource_forecasts(window, 1000, &mut names, |chunk| etl.fold(chunk)).await.unwrap();
    let again = etl.finish();
    app.store
        .write_forecast_tables(
            EtlView::Latest,
            window,
            &names,
            Some(("asset_forecasts", &again.latest.assets)),
            Some(("portfolio_forecast", &again.latest.portfolio)),
        )
        .await
        .unwrap();
    assert_eq!(app.store.read_asset_forecast_table("asset_forecasts", EtlView::Latest).await.unwrap(), latest);
}

#[tokio::test]
async fn result_tables_must_be_plain_names_and_not_the_products_own() {
    let app = TestApp::new().await;
    let names = AssetIds::default();
    for (table, field) in [("beliefs", "asset_forecasts_table"), ("x; DROP TABLE series", "asset_forecasts_table")] {
        let err = app
            .store
            .write_forecast_tables(EtlView::Latest, None, &names, Some((table, &[])), Some(("p", &[])))
            .await
            .unwrap_err();
        match err {
            vpp_store::StoreError::Invalid(invalid) => assert_eq!(invalid.0[0].field, field, "{invalid:?}"),
            other => panic!("{other:?}"),
        }
    }
    // An existing table of another shape is refused, and nothing is written.
    sqlx::query("CREATE TABLE odd_table (x BIGINT)")
        .execute(&sqlx::AnyPool::connect(&app.url).await.unwrap())
        .await
        .unwrap();
    let err = app
        .store
        .write_forecast_tables(EtlView::Latest, None, &names, Some(("fine_assets", &[])), Some(("odd_table", &[])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("odd_table"), "{err}");
    let created = app.store.read_asset_forecast_table("fine_assets", EtlView::Latest).await;
    assert!(created.is_err(), "the failed run left no table behind");
}
