//! `/api/v1/vpp/series`: versioned forecasts, measurements and prices.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::auth::Permission;
use vpp_domain::series::{
    Accuracy, BeliefInput, OwnerKind, Quantity, Resampled, Series, SeriesRequest, SourceKind, View, accuracy,
    delivery_date_of, select_latest, unit_factor,
};
use vpp_domain::series_import::RowError;
use vpp_store::SeriesFilter;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::imports::ImportJob;
use crate::routes::{page, paged};
use crate::state::AppState;
use vpp_app::series::{
    FileImportReport, ImportQuery, measured, of_source, pairs, prepare_import, resampled_live, store_rows,
};

paged!(SeriesList, Series);

/// Most beliefs accepted in one request.
pub const MAX_BELIEFS_PER_REQUEST: usize = 200_000;

/// Filters and paging of the series list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Owner kind.
    #[param(inline)]
    pub owner_kind: Option<OwnerKind>,
    /// Owner id.
    pub owner_id: Option<String>,
    /// Quantity.
    #[param(inline)]
    pub quantity: Option<Quantity>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Page size, 1..1000 (default 20).
    pub size: Option<i64>,
}

/// A batch of beliefs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeliefBatch {
    /// Unit of the values (W/kW/MW, Wh/kWh/MWh, currency/MWh or /kWh); default the series unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// The beliefs.
    pub beliefs: Vec<BeliefInput>,
}

/// Outcome of a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// Rows stored as new beliefs.
    pub accepted: u64,
    /// Valid rows already stored (same source, event and belief time).
    pub duplicates: u64,
    /// Rows refused: `line` is the index in `beliefs` (from 0), with the reason.
    pub rejected: Vec<RowError>,
}

/// Time window and display zone of a query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WindowQuery {
    /// Window start (RFC 3339); with `end`. Default: the delivery `day`.
    #[param(value_type = Option<String>)]
    pub start: Option<Timestamp>,
    /// Window end, exclusive.
    #[param(value_type = Option<String>)]
    pub end: Option<Timestamp>,
    /// Delivery day (YYYY-MM-DD) in `tz`; default today.
    #[param(value_type = Option<String>)]
    pub day: Option<Date>,
    /// Market and display time zone (IANA); default UTC.
    pub tz: Option<String>,
    /// Source kind (values and raw beliefs); default forecast for values, all for raw.
    #[param(inline)]
    pub source: Option<SourceKind>,
    /// `latest` (default), `as_of`, `tradeable` or `day_ahead` (versions at or before D−1 12:00 local).
    pub view: Option<String>,
    /// Belief time for `view=as_of`.
    #[param(value_type = Option<String>)]
    pub as_of: Option<Timestamp>,
    /// Gate closure lead for `view=tradeable`, minutes before delivery start; default 15.
    pub gate_closure_minutes: Option<i64>,
    /// Resampling step in minutes (resampled); default the series resolution.
    pub step_minutes: Option<i64>,
    /// Longest time one measurement stands for, minutes (resampled); default 5.
    pub max_hold_minutes: Option<i64>,
    /// Source priority for best-of-infeed, comma-separated; default `meter_final,live_measurement,forecast`.
    pub priority: Option<String>,
    /// Forecast horizons in hours for accuracy, comma-separated; default `0,1,24` (0 = latest).
    pub horizons: Option<String>,
    /// Imbalance cost: the connector (id or name) whose imbalance prices apply; default the only one with any.
    pub connector_id: Option<String>,
}

/// One value for a chart.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Point {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Interval end (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Interval start in the display time zone.
    pub start_local: String,
    /// Value in the series unit; null where nothing is known.
    pub value: Option<f64>,
    /// Belief time of the value (versioned views).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub belief_time: Option<Timestamp>,
    /// Share of the interval covered by measurements (resampled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
}

/// A chart-ready series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Values {
    /// Series id.
    pub series_id: String,
    /// Unit of the values.
    pub unit: String,
    /// Display time zone.
    pub tz: String,
    /// The view computed.
    pub view: String,
    /// Points by start.
    pub points: Vec<Point>,
}

/// A raw belief.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BeliefOut {
    /// Event start.
    #[schema(value_type = String, format = DateTime)]
    pub event_start: Timestamp,
    /// Belief time.
    #[schema(value_type = String, format = DateTime)]
    pub belief_time: Timestamp,
    /// Source kind.
    pub source: SourceKind,
    /// Value in the series unit.
    pub value: f64,
}

/// One best-of-infeed interval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfeedPoint {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Interval start in the display time zone.
    pub start_local: String,
    /// Value; null where no source covers the interval.
    pub value: Option<f64>,
    /// Source kind the value came from; null for gaps and redispatched intervals.
    pub source: Option<SourceKind>,
    /// Flagged as redispatched: the value is 0.
    pub redispatched: bool,
}

/// Best available value per interval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Infeed {
    /// Series id.
    pub series_id: String,
    /// Unit.
    pub unit: String,
    /// Display zone.
    pub tz: String,
    /// Source priority used.
    pub priority: Vec<SourceKind>,
    /// Intervals of the window.
    pub points: Vec<InfeedPoint>,
}

/// Accuracy for one horizon.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HorizonAccuracy {
    /// Hours between the forecast's version and delivery start (0 = latest version).
    pub horizon_hours: i64,
    /// Figures; null when no interval pairs up.
    pub accuracy: Option<Accuracy>,
}

/// Forecast accuracy of a series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccuracyReport {
    /// Series id.
    pub series_id: String,
    /// Unit of MAE, RMSE and bias.
    pub unit: String,
    /// By horizon.
    pub horizons: Vec<HorizonAccuracy>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_series_file))
        .routes(routes!(import_routed_file))
        .routes(routes!(import_files))
        .routes(routes!(list_series, create_series))
        .routes(routes!(get_series))
        .routes(routes!(post_beliefs, get_beliefs))
        .routes(routes!(get_values))
        .routes(routes!(get_resampled))
        .routes(routes!(get_best_of_infeed))
        .routes(routes!(vpp_rollup))
        .routes(routes!(vpp_best_of_infeed))
        .routes(routes!(vpp_imbalance_cost))
        .routes(routes!(get_accuracy))
}

/// Import a CSV file (`format=csv`, dialect in the query) or a
/// column-oriented JSON file (`format=columns`) into a series. Reports rows
/// accepted and rejected with line and reason; a malformed file changes
/// nothing. With `background=true` the file is checked at once and stored
/// by a job (202): follow it at `/import-jobs/{id}`, cancel it there.
#[utoipa::path(post, path = "/api/v1/vpp/series/{id}/import", tag = "series", params(ImportQuery),
    request_body(content = String, description = "CSV text or column-oriented JSON", content_type = "text/csv"),
    responses((status = 200, body = FileImportReport), (status = 202, body = ImportJob), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn import_series_file(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<axum::response::Response> {
    let prepared = prepare_import(&s.store, &id, &body, &q).await?;
    if !q.background.unwrap_or(false) {
        return Ok(Json(prepared.store(&s.store, &|_| true).await?).into_response());
    }
    let store = s.store.clone();
    s.imports
        .start(&p, "series", Permission::SeriesWrite, &id, prepared.rows(), move |progress| async move {
            prepared.store(&store, &*progress).await.map_err(ApiError::from)
        })
        .await
}

/// Import a file into the power series of the asset it names: a column
/// JSON's key (`asset_id`/`entity_id`), a CSV's asset or metering-point
/// column (one asset per file), or else its `file_name` holding the asset
/// id, resource id or metering point (e.g. `WP-07_meter_2025-06-08.csv`).
/// The asset's power series is created if it has none. The answer says
/// where the file went and why, with the import's report.
#[utoipa::path(post, path = "/api/v1/vpp/series/import", tag = "series", params(ImportQuery),
    request_body(content = String, description = "CSV text or column-oriented JSON", content_type = "text/csv"),
    responses((status = 200, body = vpp_app::routing::RoutedImport), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn import_routed_file(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<vpp_app::routing::RoutedImport>> {
    if q.background.unwrap_or(false) {
        return Err(ApiError::invalid(
            "background",
            "routed imports run at once; import into /series/{id}/import for a background job",
        ));
    }
    let name = q.file_name.clone().unwrap_or_default();
    Ok(Json(vpp_app::routing::import_routed(&s.store, &name, &body, &q).await?))
}

/// One file of a multi-file upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileOutcome {
    /// The part's file name.
    pub file_name: String,
    /// Where it went and what was stored, if it went in.
    pub imported: Option<vpp_app::routing::RoutedImport>,
    /// Why it did not, if it did not (nothing of it was stored).
    pub error: Option<Problem>,
}

/// The parts of a multi-file upload (documentation of the form).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FilesUpload {
    /// The files, one part each, with their file names.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

/// A multi-file upload's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilesImport {
    /// Files sent.
    pub files: usize,
    /// Files that went in (some may be `partial`).
    pub imported: usize,
    /// Files refused.
    pub failed: usize,
    /// Per file, in the order sent.
    pub outcomes: Vec<FileOutcome>,
}

/// Import several files at once (`multipart/form-data`, one part per file,
/// each with its file name), each routed to the asset it names as
/// `/series/import` does. A refused file stops none of the others; when
/// every file is refused the answer is 422 with each file's reason.
#[utoipa::path(post, path = "/api/v1/vpp/series/import-files", tag = "series", params(ImportQuery),
    request_body(content = FilesUpload, description = "one part per file, with its file name", content_type = "multipart/form-data"),
    responses((status = 200, body = FilesImport), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn import_files(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<FilesImport>> {
    if q.background.unwrap_or(false) {
        return Err(ApiError::invalid(
            "background",
            "multi-file imports run at once; import into /series/{id}/import for a background job",
        ));
    }
    let mut multipart = multipart.map_err(|e| ApiError::invalid("body", e.body_text()))?;
    let unreadable = |e: axum::extract::multipart::MultipartError| ApiError::invalid("body", e.body_text());
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.file_name().or(field.name()).unwrap_or("upload").to_string();
        if files.len() == vpp_app::routing::MAX_FILES {
            return Err(ApiError::invalid(
                "body",
                format!("more than {} files in one upload; send them in batches", vpp_app::routing::MAX_FILES),
            ));
        }
        files.push((name, field.bytes().await.map_err(unreadable)?.to_vec()));
    }
    if files.is_empty() {
        return Err(ApiError::invalid("body", "no files: send one multipart part per file"));
    }
    let outcomes: Vec<FileOutcome> = vpp_app::routing::import_many(&s.store, &files, &q)
        .await
        .into_iter()
        .map(|(file_name, result)| match result {
            Ok(imported) => FileOutcome { file_name, imported: Some(imported), error: None },
            Err(e) => FileOutcome { file_name, imported: None, error: Some(*ApiError::from(e).0) },
        })
        .collect();
    let imported = outcomes.iter().filter(|o| o.imported.is_some()).count();
    let failed = outcomes.len() - imported;
    if imported == 0 {
        return Err(
            ApiError::invalid("files", format!("none of the {failed} files went in")).with("outcomes", &outcomes)
        );
    }
    Ok(Json(FilesImport { files: outcomes.len(), imported, failed, outcomes }))
}

/// List series.
#[utoipa::path(get, path = "/api/v1/vpp/series", tag = "series", params(ListQuery),
    responses((status = 200, body = SeriesList), (status = 422, body = Problem)))]
async fn list_series(State(s): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult<Json<SeriesList>> {
    let filter = SeriesFilter { owner_kind: q.owner_kind, owner_id: q.owner_id, quantity: q.quantity };
    Ok(Json(s.store.list_series(&filter, page(q.page, q.size)?).await?.into()))
}

/// Create a series for a resource, VPP or market.
#[utoipa::path(post, path = "/api/v1/vpp/series", tag = "series", request_body = SeriesRequest,
    responses((status = 201, body = Series), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_series(
    State(s): State<AppState>,
    ApiJson(r): ApiJson<SeriesRequest>,
) -> ApiResult<(StatusCode, Json<Series>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_series(r).await?)))
}

/// Get a series.
#[utoipa::path(get, path = "/api/v1/vpp/series/{id}", tag = "series",
    responses((status = 200, body = Series), (status = 404, body = Problem)))]
async fn get_series(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Series>> {
    Ok(Json(s.store.get_series(&id).await?.1))
}

/// Store beliefs. Valid rows are stored (idempotently); invalid rows are
/// reported by index and reason. A unit that does not fit refuses the batch.
#[utoipa::path(post, path = "/api/v1/vpp/series/{id}/beliefs", tag = "series", request_body = BeliefBatch,
    responses((status = 200, body = IngestReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn post_beliefs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(batch): ApiJson<BeliefBatch>,
) -> ApiResult<Json<IngestReport>> {
    let (key, series) = s.store.get_series(&id).await?;
    if batch.beliefs.is_empty() || batch.beliefs.len() > MAX_BELIEFS_PER_REQUEST {
        return Err(ApiError::invalid("beliefs", format!("send 1 to {MAX_BELIEFS_PER_REQUEST} beliefs")));
    }
    let factor = match &batch.unit {
        Some(u) => unit_factor(series.quantity, &series.unit, u).map_err(|e| ApiError::invalid("unit", e))?,
        None => 1.0,
    };
    let rows = batch.beliefs.iter().enumerate();
    let (accepted, duplicates, rejected) =
        store_rows(&s.store, key, &series, rows, factor, vec![], None, &|_| true).await?;
    Ok(Json(IngestReport { accepted, duplicates, rejected }))
}

/// The window `[start, end)` of a query and its time zone.
pub(crate) fn window(q: &WindowQuery) -> ApiResult<(Timestamp, Timestamp, TimeZone, String)> {
    let tz_name = q.tz.clone().unwrap_or_else(|| "UTC".into());
    let tz =
        TimeZone::get(&tz_name).map_err(|_| ApiError::invalid("tz", format!("unknown IANA time zone `{tz_name}`")))?;
    let (start, end) = match (q.start, q.end, q.day) {
        (Some(s), Some(e), None) => (s, e),
        (None, None, day) => {
            let day = day.unwrap_or_else(|| delivery_date_of(Timestamp::now(), &tz));
            let start = day.to_zoned(tz.clone()).map_err(ApiError::internal)?.timestamp();
            let end =
                day.checked_add(1.day()).and_then(|d| d.to_zoned(tz.clone())).map_err(ApiError::internal)?.timestamp();
            (start, end)
        }
        (_, _, Some(_)) => return Err(ApiError::invalid("day", "give either day or start and end")),
        _ => {
            return Err(ApiError::invalid(
                if q.start.is_none() { "start" } else { "end" },
                "give start and end together",
            ));
        }
    };
    if end <= start {
        return Err(ApiError::invalid("end", "must be after start"));
    }
    if end.duration_since(start) > SignedDuration::from_hours(24 * 366) {
        return Err(ApiError::invalid("end", "a window spans at most 366 days"));
    }
    Ok((start, end, tz, tz_name))
}

fn local(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn ts(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Raw beliefs in a window.
#[utoipa::path(get, path = "/api/v1/vpp/series/{id}/beliefs", tag = "series", params(WindowQuery),
    responses((status = 200, body = Vec<BeliefOut>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_beliefs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Vec<BeliefOut>>> {
    let (key, _) = s.store.get_series(&id).await?;
    let (start, end, _, _) = window(&q)?;
    let sources: Vec<SourceKind> = q.source.into_iter().collect();
    let beliefs = s.store.beliefs(key, &sources, start.as_microsecond(), end.as_microsecond()).await?;
    Ok(Json(
        beliefs
            .into_iter()
            .map(|b| BeliefOut {
                event_start: ts(b.event_start_us),
                belief_time: ts(b.belief_time_us),
                source: b.source,
                value: b.value,
            })
            .collect(),
    ))
}

/// One value per interval from the versioned beliefs: `latest`, `as_of` a
/// belief time, `tradeable` (newest version at or before gate closure) or
/// `day_ahead` (at or before 12:00 local on the day before delivery).
#[utoipa::path(get, path = "/api/v1/vpp/series/{id}/values", tag = "series", params(WindowQuery),
    responses((status = 200, body = Values), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_values(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Values>> {
    let (key, series) = s.store.get_series(&id).await?;
    let (start, end, tz, tz_name) = window(&q)?;
    let source = q.source.unwrap_or(SourceKind::Forecast);
    let view = view_of(&q, &tz)?;
    let selected = view_values(&s, (key, &series), source, &view, start, end).await?;
    let step = SignedDuration::from_secs(series.resolution_s);
    let points = selected
        .into_iter()
        .map(|v| {
            let start = ts(v.event_start_us);
            Point {
                start,
                end: start + step,
                start_local: local(start, &tz),
                value: Some(v.value),
                belief_time: Some(ts(v.belief_time_us)),
                coverage: None,
            }
        })
        .collect();
    Ok(Json(Values { series_id: series.id, unit: series.unit, tz: tz_name, view: view.name().into(), points }))
}

/// One value per event in `[start, end)` as `view` sees it, answered by the
/// database (one row per event).
async fn view_values(
    s: &AppState,
    (key, series): (i64, &Series),
    source: SourceKind,
    view: &View,
    start: Timestamp,
    end: Timestamp,
) -> ApiResult<Vec<vpp_domain::series::Selected>> {
    let query = vpp_store::BeliefQuery {
        series_key: key,
        source,
        start_us: start.as_microsecond(),
        end_us: end.as_microsecond(),
        grid_us: series.resolution_s * 1_000_000,
        view: view.clone(),
    };
    Ok(s.store.newest_beliefs(&query).await?)
}

/// The query's view: `latest` (default), `as_of` (needs `as_of`),
/// `tradeable` (gate closure `gate_closure_minutes` before delivery,
/// default 15) or `day_ahead` (12:00 the day before, in `tz`).
fn view_of(q: &WindowQuery, tz: &TimeZone) -> ApiResult<View> {
    match q.view.as_deref().unwrap_or("latest") {
        "latest" => Ok(View::Latest),
        "as_of" => Ok(View::AsOf(q.as_of.ok_or_else(|| ApiError::invalid("as_of", "view=as_of needs as_of"))?)),
        "tradeable" => {
            let lead = q.gate_closure_minutes.unwrap_or(15);
            if !(0..=7 * 24 * 60).contains(&lead) {
                return Err(ApiError::invalid("gate_closure_minutes", "must be 0..10080"));
            }
            Ok(View::Tradeable { lead: SignedDuration::from_mins(lead) })
        }
        "day_ahead" => Ok(View::day_ahead(tz.clone())),
        other => {
            Err(ApiError::invalid("view", format!("unknown view `{other}`: use latest, as_of, tradeable or day_ahead")))
        }
    }
}

/// Rolled-up interval of a VPP.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RollupPoint {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Interval start in the display zone.
    pub start_local: String,
    /// Σ member value × allocation ratio over members with a value.
    pub value: f64,
    /// Members that had a value for the interval (the rest are missing, not zero).
    pub members_with_data: usize,
}

/// A VPP's members rolled up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rollup {
    /// VPP id.
    pub vpp_id: String,
    /// Quantity summed.
    pub quantity: Quantity,
    /// Unit.
    pub unit: String,
    /// View of each member's beliefs.
    pub view: String,
    /// Display zone.
    pub tz: String,
    /// Members with a series of this quantity.
    pub members_with_series: usize,
    /// Points by start.
    pub points: Vec<RollupPoint>,
}

/// Sum of the members' series, each weighted by its allocation ratio, per
/// interval, for the chosen view (latest, as_of, tradeable, day_ahead).
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/rollup", tag = "series", params(WindowQuery),
    responses((status = 200, body = Rollup), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn vpp_rollup(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Rollup>> {
    let quantity = Quantity::Power;
    let (start, end, tz, tz_name) = window(&q)?;
    let source = q.source.unwrap_or(SourceKind::Forecast);
    let members = s.store.member_series(&id, quantity).await?;
    let mut sums: std::collections::BTreeMap<i64, (f64, usize)> = std::collections::BTreeMap::new();
    let view = view_of(&q, &tz)?;
    for (key, series, ratio) in &members {
        let selected = view_values(&s, (*key, series), source, &view, start, end).await?;
        for p in selected {
            let e = sums.entry(p.event_start_us).or_insert((0.0, 0));
            e.0 += p.value * ratio;
            e.1 += 1;
        }
    }
    let points = sums
        .into_iter()
        .map(|(t, (value, n))| RollupPoint {
            start: ts(t),
            start_local: local(ts(t), &tz),
            value,
            members_with_data: n,
        })
        .collect();
    Ok(Json(Rollup {
        vpp_id: id,
        quantity,
        unit: "kW".into(),
        view: view.name().into(),
        tz: tz_name,
        members_with_series: members.len(),
        points,
    }))
}

/// Live measurements resampled to time-weighted means per interval, with
/// the covered share of each interval; gaps stay empty.
#[utoipa::path(get, path = "/api/v1/vpp/series/{id}/resampled", tag = "series", params(WindowQuery),
    responses((status = 200, body = Values), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_resampled(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Values>> {
    let (key, series) = s.store.get_series(&id).await?;
    let (start, end, tz, tz_name) = window(&q)?;
    let step_min = q.step_minutes.unwrap_or(series.resolution_s / 60);
    if !(1..=1440).contains(&step_min) {
        return Err(ApiError::invalid("step_minutes", "must be 1..1440"));
    }
    let hold_min = q.max_hold_minutes.unwrap_or(5);
    if !(1..=1440).contains(&hold_min) {
        return Err(ApiError::invalid("max_hold_minutes", "must be 1..1440"));
    }
    let step = SignedDuration::from_mins(step_min);
    let points = resampled_live(&s.store, key, start, end, step, SignedDuration::from_mins(hold_min))
        .await?
        .into_iter()
        .map(|r: Resampled| Point {
            start: r.start,
            end: r.start + step,
            start_local: local(r.start, &tz),
            value: r.mean,
            belief_time: None,
            coverage: Some(r.coverage),
        })
        .collect();
    Ok(Json(Values { series_id: series.id, unit: series.unit, tz: tz_name, view: "resampled".into(), points }))
}

/// Best available value per interval: the first source in `priority` with a
/// value (meter final, then resampled live measurement covering at least 90 %
/// of the interval, then latest forecast by default). Intervals with a `flag` belief of 1 are redispatched: without a
/// measurement they count 0 (a flag never overrides meter final or a live measurement).
#[utoipa::path(get, path = "/api/v1/vpp/series/{id}/best-of-infeed", tag = "series", params(WindowQuery),
    responses((status = 200, body = Infeed), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_best_of_infeed(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<Infeed>> {
    let (key, series) = s.store.get_series(&id).await?;
    let (start, end, tz, tz_name) = window(&q)?;
    let priority = infeed_priority(&q)?;
    let points = vpp_app::series::infeed(&s.store, key, &series, start, end, &priority)
        .await?
        .into_iter()
        .map(|(t, pick)| InfeedPoint {
            start: ts(t),
            start_local: local(ts(t), &tz),
            value: pick.map(|p| p.value),
            source: pick.and_then(|p| p.source),
            redispatched: pick.is_some_and(|p| p.redispatched),
        })
        .collect();
    Ok(Json(Infeed { series_id: series.id, unit: series.unit, tz: tz_name, priority, points }))
}

/// The source priority of a best-of-infeed query.
fn infeed_priority(q: &WindowQuery) -> ApiResult<Vec<SourceKind>> {
    let Some(priority_text) = q.priority.clone() else { return Ok(vpp_app::series::INFEED_PRIORITY.to_vec()) };
    let mut priority = Vec::new();
    for name in priority_text.split(',').map(str::trim) {
        let kind = SourceKind::parse(name).filter(|k| {
            matches!(
                k,
                SourceKind::MeterFinal | SourceKind::LiveMeasurement | SourceKind::Forecast | SourceKind::Schedule
            )
        });
        match kind {
            Some(k) if !priority.contains(&k) => priority.push(k),
            _ => {
                return Err(ApiError::invalid(
                    "priority",
                    format!("`{name}` is not one of meter_final, live_measurement, forecast, schedule, or is repeated"),
                ));
            }
        }
    }
    Ok(priority)
}

/// The best of infeed of a VPP: each member's best value per interval (its
/// own mix of meter final, live measurement and forecast; a redispatch flag
/// zeroes only what was not measured), weighted by its allocation ratio and
/// summed, with the kW of each source.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/best-of-infeed", tag = "series", params(WindowQuery),
    responses((status = 200, body = vpp_app::series::PortfolioInfeed), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn vpp_best_of_infeed(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<vpp_app::series::PortfolioInfeed>> {
    let (start, end, _, _) = window(&q)?;
    let priority = infeed_priority(&q)?;
    Ok(Json(vpp_app::series::portfolio_infeed(&s.store, &id, start, end, &priority).await?))
}

/// Imbalance cost of a VPP's assets and of the portfolio: per quarter-hour,
/// (best of infeed − position) × allocation ratio × hours × imbalance price.
/// The position is the forecast as traded (`view=tradeable`, the default:
/// the newest version issued `gate_closure_minutes` before delivery) or the
/// `latest`; the price is the final imbalance price, else the estimate.
/// Each value names its source; a positive amount is received.
#[utoipa::path(get, path = "/api/v1/vpp/vpps/{id}/imbalance-cost", tag = "settlement", params(WindowQuery),
    responses((status = 200, body = vpp_app::imbalance::ImbalanceReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn vpp_imbalance_cost(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<vpp_app::imbalance::ImbalanceReport>> {
    use vpp_app::imbalance::Position;
    let (start, end, _, _) = window(&q)?;
    let lead = q.gate_closure_minutes.unwrap_or(15);
    if !(0..=7 * 24 * 60).contains(&lead) {
        return Err(ApiError::invalid("gate_closure_minutes", "must be 0..10080"));
    }
    let position = match q.view.as_deref().unwrap_or("tradeable") {
        "tradeable" => Position::Tradeable(SignedDuration::from_mins(lead)),
        "latest" => Position::Latest,
        other => {
            return Err(ApiError::invalid(
                "view",
                format!("`{other}`: the position is the tradeable or latest forecast"),
            ));
        }
    };
    Ok(Json(vpp_app::imbalance::imbalance_cost(&s.store, &id, q.connector_id.as_deref(), start, end, position).await?))
}

/// Forecast accuracy against what was measured (meter final, else live
/// measurements covering 90 % of the interval), per forecast horizon: for
/// horizon h the forecast is the newest version issued at least h hours
/// before delivery. MAE, RMSE, WAPE and bias.
#[utoipa::path(get, path = "/api/v1/vpp/series/{id}/accuracy", tag = "series", params(WindowQuery),
    responses((status = 200, body = AccuracyReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_accuracy(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WindowQuery>,
) -> ApiResult<Json<AccuracyReport>> {
    let (key, series) = s.store.get_series(&id).await?;
    let (start, end, _, _) = window(&q)?;
    let mut horizons = Vec::new();
    for h in q.horizons.clone().unwrap_or_else(|| "0,1,24".into()).split(',').map(str::trim) {
        match h.parse::<i64>() {
            Ok(v) if (0..=24 * 14).contains(&v) => horizons.push(v),
            _ => return Err(ApiError::invalid("horizons", format!("`{h}` is not a whole number of hours in 0..336"))),
        }
    }
    let beliefs = s.store.beliefs(key, &[], start.as_microsecond(), end.as_microsecond()).await?;
    let actual = measured(&s.store, key, &series, start, end, &beliefs).await?;
    let forecasts = of_source(&beliefs, SourceKind::Forecast);
    let horizons = horizons
        .into_iter()
        .map(|h| {
            // Horizon h: what was forecast h hours ahead; 0 is the latest.
            let view = if h == 0 { View::Latest } else { View::Tradeable { lead: SignedDuration::from_hours(h) } };
            HorizonAccuracy {
                horizon_hours: h,
                accuracy: accuracy(&pairs(&select_latest(&forecasts, SourceKind::Forecast, &view)), &actual),
            }
        })
        .collect();
    Ok(Json(AccuracyReport { series_id: series.id, unit: series.unit, horizons }))
}
