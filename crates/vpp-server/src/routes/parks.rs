//! Industrial parks: `/tariffs`, `/holiday-calendars/{region}`, `/sites`
//! with their load curves, flexibility and savings, `/adjustable-loads`,
//! `/bills/*`, `/configuration` and `/reports/park`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::auth::Permission;
use vpp_domain::settings::{Setting, SettingRequest};
use vpp_domain::tariff::bill::{ActualBill, Bill, Reconciliation, parse_actual_bills, reconcile};
use vpp_domain::tariff::flex::{AdjustableLoad, AdjustableLoadRequest, Potential};
use vpp_domain::tariff::load::{Gap, LabelledLoad, TimeLabel};
use vpp_domain::tariff::tou::{HolidayCalendar, Period, SLOTS_PER_DAY, Tariff, TariffRequest, TariffTerms, slot_clock};
use vpp_domain::tariff::{Site, SiteRequest};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem, rejected_file};
use crate::extract::{AcceptLanguage, ApiJson, ApiQuery};
use crate::imports::ImportJob;
use crate::state::AppState;
use vpp_app::error::dangling;
use vpp_app::parks::{
    BatterySpec, LoadImport, LoadProfile, MonthSummary, ParkReport, PaybackReport, SavingsReport, labeller,
};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tariffs, create_tariff))
        .routes(routes!(get_tariff))
        .routes(routes!(add_tariff_version))
        .routes(routes!(tariff_day))
        .routes(routes!(get_calendar, put_calendar))
        .routes(routes!(list_sites, create_site))
        .routes(routes!(get_site, update_site))
        .routes(routes!(import_load))
        .routes(routes!(get_load))
        .routes(routes!(load_profile))
        .routes(routes!(load_monthly))
        .routes(routes!(site_flexibility))
        .routes(routes!(site_savings))
        .routes(routes!(site_battery_payback))
        .routes(routes!(site_battery_plan))
        .routes(routes!(list_adjustable_loads, create_adjustable_load))
        .routes(routes!(delete_adjustable_load))
        .routes(routes!(compute_bill))
        .routes(routes!(import_bills))
        .routes(routes!(reconcile_bill))
        .routes(routes!(list_configuration))
        .routes(routes!(put_configuration))
        .routes(routes!(park_report))
}

/// Every tariff with its versions.
#[utoipa::path(get, path = "/api/v1/vpp/tariffs", tag = "parks", responses((status = 200, body = Vec<Tariff>)))]
async fn list_tariffs(State(s): State<AppState>) -> ApiResult<Json<Vec<Tariff>>> {
    Ok(Json(s.store.list_tariffs().await?))
}

/// Defines a time-of-use tariff: windows per season and day kind in local
/// time, prices per kWh, demand charge, power-factor adjustment and further
/// per-kWh components. Overlapping or gapped windows are refused, naming the hours.
#[utoipa::path(post, path = "/api/v1/vpp/tariffs", tag = "parks", request_body = TariffRequest,
    responses((status = 201, body = Tariff), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_tariff(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(req): ApiJson<TariffRequest>,
) -> ApiResult<(StatusCode, Json<Tariff>)> {
    req.validate()?;
    Ok((StatusCode::CREATED, Json(s.store.create_tariff(&req, &p.actor_name()).await?)))
}

/// A tariff with every version.
#[utoipa::path(get, path = "/api/v1/vpp/tariffs/{id}", tag = "parks",
    responses((status = 200, body = Tariff), (status = 404, body = Problem)))]
async fn get_tariff(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Tariff>> {
    Ok(Json(s.store.get_tariff(&id).await?))
}

/// Adds a version that takes over from its `effective_from`, which must
/// follow the newest version's; older versions stay as they were.
#[utoipa::path(post, path = "/api/v1/vpp/tariffs/{id}/versions", tag = "parks", request_body = TariffTerms,
    responses((status = 201, body = Tariff), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_tariff_version(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(terms): ApiJson<TariffTerms>,
) -> ApiResult<(StatusCode, Json<Tariff>)> {
    s.store.get_tariff(&id).await?;
    terms.compile("")?;
    Ok((StatusCode::CREATED, Json(s.store.add_tariff_version(&id, &terms, &p.actor_name()).await?)))
}

/// Which day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
}

/// One window of a day as the tariff applies it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayWindow {
    /// Start, local `HH:MM`.
    pub start: String,
    /// End, local `HH:MM`.
    pub end: String,
    /// Period.
    pub period: Period,
    /// Price per kWh.
    #[schema(value_type = Option<String>)]
    pub price: Option<rust_decimal::Decimal>,
}

/// The windows of one local day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TariffDay {
    /// Date.
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    /// Workday by the region's calendar.
    pub workday: bool,
    /// Version number in force.
    pub version: i64,
    /// Season name.
    pub season: String,
    /// Windows, in order.
    pub windows: Vec<DayWindow>,
}

/// The windows, periods and prices a tariff applies on a local day (its
/// version, season and workday status included).
#[utoipa::path(get, path = "/api/v1/vpp/tariffs/{id}/day", tag = "parks", params(DayQuery),
    responses((status = 200, body = TariffDay), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn tariff_day(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> ApiResult<Json<TariffDay>> {
    let date: Date = q.date.parse().map_err(|_| ApiError::invalid("date", format!("`{}` is not a date", q.date)))?;
    let tariff = s.store.get_tariff(&id).await?;
    let lab = labeller(&s.store, &tariff).await?;
    let version = lab
        .version_on(date)
        .ok_or_else(|| ApiError::invalid("date", format!("the tariff takes effect after {date}")))?;
    let terms = &lab.versions[version];
    let season = &terms.seasons[terms.season_of_month[usize::from(date.month().unsigned_abs() - 1)]];
    let workday = lab.calendar.is_workday(date);
    let plan = if workday { &season.workday } else { &season.non_workday };
    let mut windows: Vec<DayWindow> = Vec::new();
    for slot in 0..SLOTS_PER_DAY {
        let period = plan.0[slot];
        match windows.last_mut() {
            Some(w) if w.period == period => w.end = slot_clock(slot + 1),
            _ => windows.push(DayWindow {
                start: slot_clock(slot),
                end: slot_clock(slot + 1),
                period,
                price: season.prices[period.index()],
            }),
        }
    }
    Ok(Json(TariffDay { date, workday, version: version as i64 + 1, season: season.name.clone(), windows }))
}

/// A region's holiday calendar (empty: Monday to Friday are workdays).
#[utoipa::path(get, path = "/api/v1/vpp/holiday-calendars/{region}", tag = "parks",
    responses((status = 200, body = HolidayCalendar)))]
async fn get_calendar(State(s): State<AppState>, Path(region): Path<String>) -> ApiResult<Json<HolidayCalendar>> {
    Ok(Json(s.store.calendar(&region).await?))
}

/// Replaces a region's holiday calendar: public holidays, and weekend days
/// that are workdays (moved workdays).
#[utoipa::path(put, path = "/api/v1/vpp/holiday-calendars/{region}", tag = "parks", request_body = HolidayCalendar,
    responses((status = 200, body = HolidayCalendar), (status = 422, body = Problem)))]
async fn put_calendar(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(region): Path<String>,
    ApiJson(calendar): ApiJson<HolidayCalendar>,
) -> ApiResult<Json<HolidayCalendar>> {
    let mut errors = vpp_domain::error::Errors::default();
    vpp_domain::tariff::tou::check_region(&mut errors, "region", &region);
    errors.finish(())?;
    let calendar = calendar.validated()?;
    s.store.put_calendar(&region, &calendar, &p.actor_name()).await?;
    Ok(Json(calendar))
}

/// Every site.
#[utoipa::path(get, path = "/api/v1/vpp/sites", tag = "parks", responses((status = 200, body = Vec<Site>)))]
async fn list_sites(State(s): State<AppState>) -> ApiResult<Json<Vec<Site>>> {
    Ok(Json(s.store.list_sites().await?))
}

/// Registers a site (a metering point) under a tariff.
#[utoipa::path(post, path = "/api/v1/vpp/sites", tag = "parks", request_body = SiteRequest,
    responses((status = 201, body = Site), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_site(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<SiteRequest>,
) -> ApiResult<(StatusCode, Json<Site>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_site(&req).await?)))
}

/// A site.
#[utoipa::path(get, path = "/api/v1/vpp/sites/{id}", tag = "parks",
    responses((status = 200, body = Site), (status = 404, body = Problem)))]
async fn get_site(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Site>> {
    Ok(Json(s.store.get_site(&id).await?))
}

/// Changes a site (name, tariff, transformer, battery, description).
#[utoipa::path(put, path = "/api/v1/vpp/sites/{id}", tag = "parks", request_body = SiteRequest,
    responses((status = 200, body = Site), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_site(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SiteRequest>,
) -> ApiResult<Json<Site>> {
    Ok(Json(s.store.update_site(&id, &req).await?))
}

/// How the load file labels its times.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoadImportQuery {
    /// `start` (default) or `end` of each 15-minute interval.
    pub time_label: Option<TimeLabel>,
    /// Check the file now and store it in a background job (202 with the
    /// job; follow it at `/import-jobs/{id}`).
    pub background: Option<bool>,
}

/// Imports a load curve: CSV `time,load_kw` (the header names kW, MW or W),
/// `,` or `;`, times RFC 3339 or local `YYYY-MM-DD HH:MM` in the tariff's
/// zone, on the 15-minute grid. A bad line or a time given twice refuses the
/// file with every bad line; gaps are reported, never filled.
#[utoipa::path(post, path = "/api/v1/vpp/sites/{id}/load/import", tag = "parks", params(LoadImportQuery),
    request_body(content = String, description = "load CSV", content_type = "text/csv"),
    responses((status = 200, body = LoadImport), (status = 202, body = ImportJob), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn import_load(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LoadImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    s.store.get_site(&id).await?;
    let prepared = vpp_app::parks::prepare_load(&s.store, &id, &body, q.time_label.unwrap_or_default()).await?;
    if !q.background.unwrap_or(false) {
        return Ok(Json(prepared.store(&s.store, &|_| true).await?).into_response());
    }
    let store = s.store.clone();
    s.imports
        .start(&p, "site_load", Permission::ParksWrite, &id, prepared.rows(), move |progress| async move {
            prepared.store(&store, &*progress).await.map_err(ApiError::from)
        })
        .await
}

/// A span of time.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SpanQuery {
    /// Start (RFC 3339).
    pub start: String,
    /// End, exclusive, at most 93 days after start.
    pub end: String,
}

/// Labelled load of a span.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoadView {
    /// Intervals with their TOU period and workday flag.
    pub intervals: Vec<LabelledLoad>,
    /// Missing stretches.
    pub gaps: Vec<Gap>,
}

fn timestamp(field: &str, text: &str) -> ApiResult<Timestamp> {
    text.parse().map_err(|_| ApiError::invalid(field, format!("`{text}` is not an RFC 3339 time")))
}

/// The load of a span, each interval labelled with its TOU period and workday flag.
#[utoipa::path(get, path = "/api/v1/vpp/sites/{id}/load", tag = "parks", params(SpanQuery),
    responses((status = 200, body = LoadView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn get_load(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SpanQuery>,
) -> ApiResult<Json<LoadView>> {
    let (start, end) = (timestamp("start", &q.start)?, timestamp("end", &q.end)?);
    s.store.get_site(&id).await?;
    let (intervals, gaps) = vpp_app::parks::labelled_load(&s.store, &id, start, end).await?;
    Ok(Json(LoadView { intervals, gaps }))
}

/// A month.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    /// `YYYY-MM`, local to the tariff.
    pub month: String,
}

/// The month's load statistics (peak, valley, peak-valley difference, load
/// factor), average day with its TOU periods, and load-duration curve.
#[utoipa::path(get, path = "/api/v1/vpp/sites/{id}/load/profile", tag = "parks", params(MonthQuery),
    responses((status = 200, body = LoadProfile), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn load_profile(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<Json<LoadProfile>> {
    s.store.get_site(&id).await?;
    Ok(Json(vpp_app::parks::profile(&s.store, &id, &q.month).await?))
}

/// A year.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    /// Year, e.g. 2026.
    pub year: i16,
}

/// The monthly profile of a year: each month's statistics.
#[utoipa::path(get, path = "/api/v1/vpp/sites/{id}/load/monthly", tag = "parks", params(YearQuery),
    responses((status = 200, body = Vec<MonthSummary>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn load_monthly(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<YearQuery>,
) -> ApiResult<Json<Vec<MonthSummary>>> {
    s.store.get_site(&id).await?;
    if !(1970..=2200).contains(&q.year) {
        return Err(ApiError::invalid("year", format!("must be 1970..2200, got {}", q.year)));
    }
    Ok(Json(vpp_app::parks::monthly(&s.store, &id, q.year).await?))
}

/// Demand-response potential of the site's adjustable loads: by response
/// time, by period, and the energy shiftable from peak to valley.
#[utoipa::path(get, path = "/api/v1/vpp/sites/{id}/flexibility", tag = "parks", params(MonthQuery),
    responses((status = 200, body = Potential), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn site_flexibility(
    State(s): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<Json<Potential>> {
    s.store.get_site(&id).await?;
    Ok(Json(vpp_app::parks::flexibility(&s.store, &id, &q.month, lang).await?))
}

/// The day a battery plan is for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// Local day (`YYYY-MM-DD`, the tariff's zone); tomorrow if absent.
    #[param(value_type = Option<String>, format = Date)]
    pub day: Option<jiff::civil::Date>,
}

/// Plan the site's battery for a day on the newest stored forecast of a
/// DEMAND model of the site's load: quarter-hour charge and discharge
/// against the TOU prices and the demand charge, the peak and the energy
/// cost with and without it. 409 when the site has no battery, or no
/// DEMAND model has stored a forecast covering the day.
#[utoipa::path(get, path = "/api/v1/vpp/sites/{id}/battery-plan", tag = "parks", params(PlanQuery),
    responses((status = 200, body = vpp_app::parks::BatteryPlan), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn site_battery_plan(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PlanQuery>,
) -> ApiResult<Json<vpp_app::parks::BatteryPlan>> {
    s.store.get_site(&id).await?;
    Ok(Json(vpp_app::parks::battery_plan(&s.store, &id, q.day).await?))
}

/// A savings scenario.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavingsRequest {
    /// Month, `YYYY-MM`.
    pub month: String,
    /// A battery to simulate; the site's battery if absent (none: no battery scenario).
    #[serde(default)]
    pub battery: Option<BatterySpec>,
}

/// Savings of a month: peak-valley arbitrage and demand-charge reduction by
/// the adjustable loads, demand-response revenue, and a battery optimised
/// against the TOU prices and demand charge (given, or the site's own).
#[utoipa::path(post, path = "/api/v1/vpp/sites/{id}/savings", tag = "parks", request_body = SavingsRequest,
    responses((status = 200, body = SavingsReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn site_savings(
    State(s): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SavingsRequest>,
) -> ApiResult<Json<SavingsReport>> {
    s.store.get_site(&id).await?;
    Ok(Json(vpp_app::parks::month_savings(&s.store, &id, &req.month, req.battery.as_ref(), lang).await?))
}

/// A payback question.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaybackRequest {
    /// Year of load to simulate.
    pub year: i16,
    /// Battery; the site's if absent.
    #[serde(default)]
    pub battery: Option<BatterySpec>,
}

/// Payback of a battery: each month of the year with complete load is
/// simulated with the optimised battery; investment and O&M come from the
/// configuration.
#[utoipa::path(post, path = "/api/v1/vpp/sites/{id}/battery-payback", tag = "parks", request_body = PaybackRequest,
    responses((status = 200, body = PaybackReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn site_battery_payback(
    State(s): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PaybackRequest>,
) -> ApiResult<Json<PaybackReport>> {
    s.store.get_site(&id).await?;
    Ok(Json(vpp_app::parks::battery_payback(&s.store, &id, req.year, req.battery.as_ref(), lang).await?))
}

/// Which adjustable loads.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoadsQuery {
    /// Only this site's.
    pub site_id: Option<String>,
}

/// Adjustable loads.
#[utoipa::path(get, path = "/api/v1/vpp/adjustable-loads", tag = "parks", params(LoadsQuery),
    responses((status = 200, body = Vec<AdjustableLoad>)))]
async fn list_adjustable_loads(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<LoadsQuery>,
) -> ApiResult<Json<Vec<AdjustableLoad>>> {
    Ok(Json(s.store.list_adjustable_loads(q.site_id.as_deref()).await?))
}

/// Registers an adjustable load: rated kW, adjustable ratio, response time,
/// cost per adjustment, longest reduction, and the resource it is.
#[utoipa::path(post, path = "/api/v1/vpp/adjustable-loads", tag = "parks", request_body = AdjustableLoadRequest,
    responses((status = 201, body = AdjustableLoad), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_adjustable_load(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AdjustableLoadRequest>,
) -> ApiResult<(StatusCode, Json<AdjustableLoad>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_adjustable_load(&req).await?)))
}

/// Removes an adjustable load.
#[utoipa::path(delete, path = "/api/v1/vpp/adjustable-loads/{id}", tag = "parks",
    responses((status = 200, body = AdjustableLoad), (status = 404, body = Problem)))]
async fn delete_adjustable_load(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<AdjustableLoad>> {
    Ok(Json(s.store.delete_adjustable_load(&id).await?))
}

/// A bill to compute.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillRequest {
    /// Site.
    pub site_id: String,
    /// Month, `YYYY-MM`, local to the tariff.
    pub month: String,
    /// Reactive energy of the month, kvarh (for the power-factor adjustment).
    #[serde(default)]
    pub reactive_kvarh: Option<f64>,
}

/// Computes a month's bill from the site's load and tariff: consumption and
/// cost per period, max demand, demand or capacity fee, components, the
/// power-factor adjustment, each line with its formula, and the data coverage.
#[utoipa::path(post, path = "/api/v1/vpp/bills/compute", tag = "parks", request_body = BillRequest,
    responses((status = 200, body = Bill), (status = 422, body = Problem)))]
async fn compute_bill(
    State(s): State<AppState>,
    AcceptLanguage(lang): AcceptLanguage,
    ApiJson(req): ApiJson<BillRequest>,
) -> ApiResult<Json<Bill>> {
    s.store.get_site(&req.site_id).await.map_err(dangling("site_id", "site", &req.site_id))?;
    Ok(Json(vpp_app::parks::bill(&s.store, &req.site_id, &req.month, req.reactive_kvarh, lang).await?))
}

/// Whether an import may overwrite.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BillImportQuery {
    /// Replace bills already stored for the same site and month.
    pub replace: Option<bool>,
}

/// What a bill import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BillImport {
    /// Bills stored.
    pub bills: usize,
}

/// Imports the bills utilities sent: CSV `site_id,month,currency,code,quantity,amount`
/// (one row per line) or JSON (one bill or an array). All or nothing.
#[utoipa::path(post, path = "/api/v1/vpp/bills/import", tag = "parks", params(BillImportQuery),
    request_body(content = String, description = "bills as CSV or JSON", content_type = "text/csv"),
    responses((status = 200, body = BillImport), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn import_bills(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<BillImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<BillImport>> {
    let bills: Vec<ActualBill> = parse_actual_bills(&body).map_err(rejected_file)?;
    let n = s.store.import_actual_bills(&bills, q.replace.unwrap_or(false), &p.actor_name()).await?;
    Ok(Json(BillImport { bills: n }))
}

/// A site and month.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SiteMonthQuery {
    /// Site.
    pub site_id: String,
    /// Month, `YYYY-MM`.
    pub month: String,
}

/// The utility's bill against the computed one, line by line.
#[utoipa::path(get, path = "/api/v1/vpp/bills/reconcile", tag = "parks", params(SiteMonthQuery),
    responses((status = 200, body = Reconciliation), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reconcile_bill(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<SiteMonthQuery>,
) -> ApiResult<Json<Reconciliation>> {
    s.store.get_site(&q.site_id).await.map_err(dangling("site_id", "site", &q.site_id))?;
    let Some(actual) = s.store.actual_bill(&q.site_id, &q.month).await? else {
        return Err(ApiError::not_found("actual bill", &format!("{} {}", q.site_id, q.month)));
    };
    let bill = vpp_app::parks::bill(&s.store, &q.site_id, &q.month, None, Default::default()).await?;
    Ok(Json(reconcile(&bill, &actual)?))
}

/// The configuration the park calculations use: each key with value, unit,
/// range and description.
#[utoipa::path(get, path = "/api/v1/vpp/configuration", tag = "parks", responses((status = 200, body = Vec<Setting>)))]
async fn list_configuration(State(s): State<AppState>) -> ApiResult<Json<Vec<Setting>>> {
    Ok(Json(s.store.list_settings().await?))
}

/// Changes one setting; the unit must be the setting's, the value in range.
#[utoipa::path(put, path = "/api/v1/vpp/configuration/{key}", tag = "parks", request_body = SettingRequest,
    responses((status = 200, body = Setting), (status = 422, body = Problem)))]
async fn put_configuration(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<SettingRequest>,
) -> ApiResult<Json<Setting>> {
    let def = req.validate(&key)?;
    Ok(Json(s.store.put_setting(def, req.value, &req.unit, req.description.as_deref(), &p.actor_name()).await?))
}

/// A park report request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ParkReportQuery {
    /// Site.
    pub site_id: String,
    /// Month, `YYYY-MM`.
    pub month: String,
    /// `json` (default), `csv` or `html` (a printable page).
    pub format: Option<String>,
    /// Language of its prose, `en` or `zh-CN` (default: from `Accept-Language`).
    pub lang: Option<String>,
}

/// The monthly park report: bill breakdown, load against the TOU windows,
/// flexibility potential and savings scenarios; as JSON, CSV or a printable
/// HTML page.
#[utoipa::path(get, path = "/api/v1/vpp/reports/park", tag = "parks", params(ParkReportQuery),
    responses((status = 200, body = ParkReport), (status = 422, body = Problem)))]
async fn park_report(
    State(s): State<AppState>,
    accepted: AcceptLanguage,
    ApiQuery(q): ApiQuery<ParkReportQuery>,
) -> ApiResult<Response> {
    let lang = accepted.or_query(q.lang.as_deref())?;
    s.store.get_site(&q.site_id).await.map_err(dangling("site_id", "site", &q.site_id))?;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "html") {
        return Err(ApiError::invalid("format", format!("`{format}` is not json, csv or html")));
    }
    let report = vpp_app::parks::park_report(&s.store, &q.site_id, &q.month, lang).await?;
    Ok(match format {
        "csv" => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], vpp_app::parks::report_csv(&report)).into_response()
        }
        "html" => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], vpp_app::parks::report_html(&report)).into_response()
        }
        _ => Json(report).into_response(),
    })
}
