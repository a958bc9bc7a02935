//! Industrial parks as services the API and the CLI share: load import,
//! bills, profiles, flexibility, savings scenarios (with a battery
//! optimised by vpp-optim), battery payback and the monthly park report.

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use vpp_domain::lang::Lang;
use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
use vpp_domain::settings::Settings;
use vpp_domain::tariff::Site;
use vpp_domain::tariff::bill::{Bill, BillInput, compute_bill, month_span, parse_month, within};
use vpp_domain::tariff::flex::{FlexInput, Metric, Potential, payback, potential, savings};
use vpp_domain::tariff::load::{
    DailyProfile, DurationPoint, Gap, INTERVAL_S, LabelledLoad, LoadStats, TimeLabel, daily_profile, duration_curve,
    gaps, label, parse_load_csv, stats,
};
use vpp_domain::tariff::tou::{DemandCharge, Labeller, Tariff};
use vpp_store::Store;

use crate::error::{AppError, AppResult};

/// The tariff's versions compiled, with its zone and holiday calendar.
pub async fn labeller(store: &Store, tariff: &Tariff) -> AppResult<Labeller> {
    let tz = jiff::tz::TimeZone::get(&tariff.time_zone).map_err(AppError::internal)?;
    let versions = tariff
        .versions
        .iter()
        .map(|v| v.terms.compile("terms"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::internal(format!("stored tariff {} no longer validates: {e}", tariff.id)))?;
    Ok(Labeller { tz, versions, calendar: store.calendar(&tariff.region).await? })
}

/// A site with its tariff, compiled.
pub struct SiteContext {
    /// The site.
    pub site: Site,
    /// Its tariff.
    pub tariff: Tariff,
    /// The tariff compiled.
    pub labeller: Labeller,
}

/// Loads a site (by id or name) and its tariff.
pub async fn site_context(store: &Store, site: &str) -> AppResult<SiteContext> {
    let site = store.find_site(site).await?;
    let tariff = store.get_tariff(&site.tariff_id).await?;
    let labeller = labeller(store, &tariff).await?;
    Ok(SiteContext { site, tariff, labeller })
}

/// A site's load readings `[start, end)`: the newest meter value per interval.
pub async fn site_load(
    store: &Store,
    site_id: &str,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<Vec<(Timestamp, f64)>> {
    let Some((key, _)) = store.find_series(OwnerKind::Site, site_id, Quantity::Power).await? else {
        return Ok(Vec::new());
    };
    let grid = INTERVAL_S * 1_000_000;
    let selected = store
        .newest_beliefs(&vpp_store::BeliefQuery::latest(
            key,
            SourceKind::MeterFinal,
            (start.as_microsecond(), end.as_microsecond()),
            grid,
        ))
        .await?;
    selected
        .into_iter()
        .map(|b| Ok((Timestamp::from_microsecond(b.event_start_us).map_err(AppError::internal)?, b.value)))
        .collect()
}

/// What a load import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoadImport {
    /// Readings stored (a reading stored before with the same value is not counted again).
    pub accepted: u64,
    /// Readings in the file.
    pub rows: usize,
    /// First interval start.
    #[schema(value_type = String, format = DateTime)]
    pub first: Timestamp,
    /// Last interval start.
    #[schema(value_type = String, format = DateTime)]
    pub last: Timestamp,
    /// Missing stretches between the first and the last reading (reported, not filled).
    pub gaps: Vec<Gap>,
    /// Missing intervals in all.
    pub missing_intervals: i64,
}

/// Imports a load file for a site: every line checked first, nothing stored
/// if one is bad; readings become `meter_final` beliefs known now, so a
/// corrected file supersedes the old values.
pub async fn import_load(store: &Store, site_id: &str, bytes: &[u8], time_label: TimeLabel) -> AppResult<LoadImport> {
    prepare_load(store, site_id, bytes, time_label).await?.store(store, &|_| true).await
}

/// A load file read and checked as a whole, ready to store.
pub struct PreparedLoad {
    key: i64,
    rows: Vec<(Timestamp, f64)>,
}

/// Reads a site's load file; a bad line refuses it here, before anything is stored.
pub async fn prepare_load(
    store: &Store,
    site_id: &str,
    bytes: &[u8],
    time_label: TimeLabel,
) -> AppResult<PreparedLoad> {
    let ctx = site_context(store, site_id).await?;
    let rows = parse_load_csv(bytes, &ctx.labeller.tz, time_label).map_err(AppError::RejectedFile)?;
    let (key, _) =
        store.ensure_series(OwnerKind::Site, &ctx.site.id, Quantity::Power, &format!("{} load", ctx.site.name)).await?;
    Ok(PreparedLoad { key, rows })
}

impl PreparedLoad {
    /// Readings to store.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Stores the readings in one transaction; `progress` hears how far it
    /// got and may cancel.
    pub async fn store(self, store: &Store, progress: vpp_store::Progress<'_>) -> AppResult<LoadImport> {
        let rows = self.rows;
        let now = vpp_store::now().as_microsecond();
        let beliefs: Vec<Belief> = rows
            .iter()
            .map(|&(start, kw)| Belief {
                event_start_us: start.as_microsecond(),
                belief_time_us: now,
                source: SourceKind::MeterFinal,
                value: kw,
            })
            .collect();
        let accepted = store.insert_beliefs_reporting(self.key, &beliefs, progress).await?;
        let gap_list = gaps(&rows, None, None);
        let missing = gap_list.iter().map(|g| g.intervals).sum();
        Ok(LoadImport {
            accepted,
            rows: rows.len(),
            first: rows.first().map(|r| r.0).unwrap_or_default(),
            last: rows.last().map(|r| r.0).unwrap_or_default(),
            gaps: gap_list.into_iter().take(100).collect(),
            missing_intervals: missing,
        })
    }
}

/// A month of a site: its span and readings.
pub struct SiteMonth {
    /// Site and tariff.
    pub ctx: SiteContext,
    /// First day.
    pub month: Date,
    /// Span, UTC.
    pub start: Timestamp,
    /// End, exclusive.
    pub end: Timestamp,
    /// Readings.
    pub load: Vec<(Timestamp, f64)>,
    /// Language of the bill's and the figures' prose.
    pub lang: Lang,
}

/// Loads a site's month (`YYYY-MM`, local to its tariff).
pub async fn site_month(store: &Store, site: &str, month: &str) -> AppResult<SiteMonth> {
    let first = parse_month(month).map_err(|e| AppError::invalid("month", e))?;
    let ctx = site_context(store, site).await?;
    let (start, end) = month_span(first, &ctx.labeller.tz).map_err(|e| AppError::invalid("month", e))?;
    let load = site_load(store, &ctx.site.id, start, end).await?;
    Ok(SiteMonth { ctx, month: first, start, end, load, lang: Lang::En })
}

/// Computes a month's bill of a site, its prose in `lang`.
pub async fn bill(store: &Store, site: &str, month: &str, reactive_kvarh: Option<f64>, lang: Lang) -> AppResult<Bill> {
    let m = SiteMonth { lang, ..site_month(store, site, month).await? };
    bill_of(store, &m, &m.load, reactive_kvarh).await
}

async fn bill_of(
    store: &Store,
    m: &SiteMonth,
    load: &[(Timestamp, f64)],
    reactive_kvarh: Option<f64>,
) -> AppResult<Bill> {
    let target = store.settings().await?.get("power_factor_target");
    Ok(compute_bill(&BillInput {
        labeller: &m.ctx.labeller,
        month: m.month,
        load,
        transformer_kva: m.ctx.site.transformer_kva,
        reactive_kvarh,
        default_pf_target: Decimal::try_from(target).unwrap_or(Decimal::new(90, 2)),
        lang: m.lang,
    })?)
}

/// A month's load profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoadProfile {
    /// Site id.
    pub site_id: String,
    /// Month.
    pub month: String,
    /// Zone.
    pub time_zone: String,
    /// Statistics.
    pub stats: LoadStats,
    /// The average day, workdays and others apart, with the TOU periods of each slot.
    pub daily: DailyProfile,
    /// Load-duration curve.
    pub duration_curve: Vec<DurationPoint>,
    /// Missing stretches.
    pub gaps: Vec<Gap>,
}

/// Profile and statistics of a site's month.
pub async fn profile(store: &Store, site: &str, month: &str) -> AppResult<LoadProfile> {
    Ok(profile_of(&site_month(store, site, month).await?))
}

fn profile_of(m: &SiteMonth) -> LoadProfile {
    let labelled = label(&m.ctx.labeller, &m.load);
    let expected = usize::try_from(m.end.duration_since(m.start).as_secs() / INTERVAL_S).unwrap_or(0);
    LoadProfile {
        site_id: m.ctx.site.id.clone(),
        month: format!("{:04}-{:02}", m.month.year(), m.month.month()),
        time_zone: m.ctx.tariff.time_zone.clone(),
        stats: stats(&labelled, expected, &m.ctx.labeller.tz),
        daily: daily_profile(&m.ctx.labeller, &labelled),
        duration_curve: duration_curve(&labelled),
        gaps: gaps(&m.load, Some(m.start), Some(m.end)).into_iter().take(100).collect(),
    }
}

/// One month of a year's overview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthSummary {
    /// Month, `YYYY-MM`.
    pub month: String,
    /// Statistics of the month.
    pub stats: LoadStats,
}

/// The months of a year with their statistics.
pub async fn monthly(store: &Store, site: &str, year: i16) -> AppResult<Vec<MonthSummary>> {
    let ctx = site_context(store, site).await?;
    let first = Date::new(year, 1, 1).map_err(|_| AppError::invalid("year", format!("{year} is not a year")))?;
    let (start, _) = month_span(first, &ctx.labeller.tz).map_err(|e| AppError::invalid("year", e))?;
    let (_, end) = month_span(Date::new(year, 12, 1).map_err(AppError::internal)?, &ctx.labeller.tz)
        .map_err(|e| AppError::invalid("year", e))?;
    let load = site_load(store, &ctx.site.id, start, end).await?;
    let mut out = Vec::new();
    for m in 1..=12i8 {
        let day = Date::new(year, m, 1).map_err(AppError::internal)?;
        let (s, e) = month_span(day, &ctx.labeller.tz).map_err(AppError::internal)?;
        let labelled = label(&ctx.labeller, within(&load, s, e));
        let expected = usize::try_from(e.duration_since(s).as_secs() / INTERVAL_S).unwrap_or(0);
        out.push(MonthSummary {
            month: format!("{year:04}-{m:02}"),
            stats: stats(&labelled, expected, &ctx.labeller.tz),
        });
    }
    Ok(out)
}

fn demand_price(bill_terms: &vpp_domain::tariff::tou::TariffTerms) -> Option<f64> {
    match &bill_terms.demand_charge {
        Some(DemandCharge::MaxDemand { price_per_kw_month }) => f64::try_from(*price_per_kw_month).ok(),
        _ => None,
    }
}

/// The flexibility potential of a site's adjustable loads in a month, its prose in `lang`.
pub async fn flexibility(store: &Store, site: &str, month: &str, lang: Lang) -> AppResult<Potential> {
    let m = SiteMonth { lang, ..site_month(store, site, month).await? };
    with_flex(store, &m, potential).await
}

/// Runs `f` on the month's labelled load with the site's adjustable loads.
async fn with_flex<T>(store: &Store, m: &SiteMonth, f: impl FnOnce(&FlexInput) -> T) -> AppResult<T> {
    let loads = store.list_adjustable_loads(Some(&m.ctx.site.id)).await?;
    let labelled = label(&m.ctx.labeller, &m.load);
    let terms = last_terms(m)?;
    Ok(f(&FlexInput {
        labeller: &m.ctx.labeller,
        load: &labelled,
        loads: &loads,
        demand_price: demand_price(terms),
        currency: &terms.currency,
        lang: m.lang,
    }))
}

fn last_terms(m: &SiteMonth) -> AppResult<&vpp_domain::tariff::tou::TariffTerms> {
    let idx = m
        .ctx
        .labeller
        .version_on(m.month.last_of_month())
        .ok_or_else(|| AppError::invalid("month", "the tariff takes effect after this month"))?;
    Ok(&m.ctx.labeller.versions[idx].terms)
}

/// A battery for a scenario.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ParkBatterySpec)]
pub struct BatterySpec {
    /// Usable energy, kWh.
    pub energy_kwh: f64,
    /// Charge and discharge power, kW.
    pub power_kw: f64,
    /// Round-trip efficiency, 0..1 (default 0.9).
    #[serde(default)]
    pub round_trip_efficiency: Option<f64>,
}

impl BatterySpec {
    fn validate(&self, field: &str) -> AppResult<()> {
        let mut errors = vpp_domain::error::Errors::default();
        errors.range(&format!("{field}.energy_kwh"), self.energy_kwh, 1.0, 10_000_000.0);
        errors.range(&format!("{field}.power_kw"), self.power_kw, 1.0, 10_000_000.0);
        if let Some(e) = self.round_trip_efficiency {
            errors.range(&format!("{field}.round_trip_efficiency"), e, 0.5, 1.0);
        }
        Ok(errors.finish(())?)
    }
}

/// The battery of a scenario: the request's, else the site's battery resource.
async fn battery_for(store: &Store, site: &Site, given: Option<&BatterySpec>) -> AppResult<Option<BatterySpec>> {
    if let Some(b) = given {
        b.validate("battery")?;
        return Ok(Some(b.clone()));
    }
    let Some(id) = &site.battery_resource_id else { return Ok(None) };
    let r = store.get_resource(id).await?;
    let param = |name: &str| r.parameters.get(name).and_then(serde_json::Value::as_f64);
    let energy = param("usable_energy_kwh").or_else(|| param("capacity_kwh"));
    match energy {
        Some(energy_kwh) => Ok(Some(BatterySpec {
            energy_kwh,
            power_kw: param("max_discharge_kw").unwrap_or(r.capacity_kw),
            round_trip_efficiency: param("round_trip_efficiency"),
        })),
        None => {
            Err(AppError::invalid("battery_resource_id", format!("battery `{id}` has no usable_energy_kwh parameter")))
        }
    }
}

/// A month with and without an optimised battery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatteryScenario {
    /// The battery.
    pub battery: BatterySpec,
    /// Bill total without it.
    #[schema(value_type = String)]
    pub bill_without: Decimal,
    /// Bill total with it (grid import = load + charge − discharge).
    #[schema(value_type = String)]
    pub bill_with: Decimal,
    /// Max demand without, kW.
    pub max_demand_without_kw: f64,
    /// Max demand with, kW.
    pub max_demand_with_kw: f64,
    /// Named figures.
    pub metrics: Vec<Metric>,
    /// Solver time, ms.
    pub solve_ms: f64,
}

/// Savings scenarios of a month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavingsReport {
    /// Site id.
    pub site_id: String,
    /// Month.
    pub month: String,
    /// Currency.
    pub currency: String,
    /// Figures of the adjustable loads.
    pub metrics: Vec<Metric>,
    /// The battery scenario, when a battery is given or the site has one.
    pub battery: Option<BatteryScenario>,
    /// Why the site's battery scenario is missing, if it is.
    pub battery_note: Option<String>,
}

/// Savings of a month from adjustable loads and, if any, a battery.
pub async fn month_savings(
    store: &Store,
    site: &str,
    month: &str,
    battery: Option<&BatterySpec>,
    lang: Lang,
) -> AppResult<SavingsReport> {
    let m = SiteMonth { lang, ..site_month(store, site, month).await? };
    let mut report = flex_savings(store, &m).await?;
    if let Some(spec) = battery_for(store, &m.ctx.site, battery).await? {
        report.battery = Some(battery_scenario(store, &m, &spec).await?);
    }
    Ok(report)
}

/// The adjustable loads' figures of a month.
async fn flex_savings(store: &Store, m: &SiteMonth) -> AppResult<SavingsReport> {
    let settings = store.settings().await?;
    let metrics = with_flex(store, m, |input| savings(input, &settings)).await??;
    Ok(SavingsReport {
        site_id: m.ctx.site.id.clone(),
        month: format!("{:04}-{:02}", m.month.year(), m.month.month()),
        currency: last_terms(m)?.currency.clone(),
        metrics,
        battery: None,
        battery_note: None,
    })
}

/// The cost of importing one more kWh at each of `times`: the TOU price
/// plus every per-kWh component of the version in force, in currency/MWh as
/// vpp-optim takes it (0 where no version is in force).
fn import_prices(lab: &Labeller, times: &[Timestamp]) -> Vec<f64> {
    times
        .iter()
        .map(|&t| {
            let Some(l) = lab.label(t) else { return 0.0 };
            let components: Decimal = lab.versions[l.version].terms.components.iter().map(|c| c.rate_per_kwh).sum();
            let per_kwh = lab.price(&l).unwrap_or_default() + components;
            f64::try_from(per_kwh).unwrap_or(0.0) * 1000.0
        })
        .collect()
}

/// A site battery scheduled against quarter-hour import prices and a peak
/// charge, behind the meter of `base_kw` (nothing exported), starting and
/// ending at 50 %.
fn battery_problem(
    base_kw: Vec<f64>,
    price: Vec<f64>,
    peak_charge_per_kw: Option<f64>,
    spec: &BatterySpec,
) -> vpp_optim::Problem {
    use vpp_optim::{Asset, Battery, Horizon, Member, Objective, Problem};
    let rt = spec.round_trip_efficiency.unwrap_or(0.9);
    Problem {
        horizon: Horizon { steps: base_kw.len(), step_s: 900 },
        site: vpp_optim::Site {
            import_price: price,
            export_price: Some(vec![0.0; base_kw.len()]),
            base_load_kw: Some(base_kw),
            import_limit_kw: None,
            export_limit_kw: Some(0.0),
            peak_charge_per_kw,
        },
        members: vec![Member {
            id: "battery".into(),
            asset: Asset::Battery(Battery {
                capacity_kwh: spec.energy_kwh,
                charge_kw: spec.power_kw,
                discharge_kw: spec.power_kw,
                charge_efficiency: rt.sqrt(),
                discharge_efficiency: rt.sqrt(),
                soc_start_pct: 50.0,
                soc_min_pct: 5.0,
                soc_max_pct: 95.0,
                soc_target_pct: Some(50.0),
                cycle_cost_per_kwh: 0.0,
            }),
        }],
        objective: Objective::Cost,
    }
}

/// Optimises a battery against the month's TOU prices and demand charge
/// (vpp-optim, clarabel) and bills the resulting grid import.
async fn battery_scenario(store: &Store, m: &SiteMonth, spec: &BatterySpec) -> AppResult<BatteryScenario> {
    use vpp_optim::{SolverOptions, solve};
    let expected = usize::try_from(m.end.duration_since(m.start).as_secs() / INTERVAL_S).unwrap_or(0);
    if m.load.len() != expected || expected == 0 {
        return Err(AppError::invalid(
            "month",
            format!(
                "the battery scenario needs the whole month's load: {} of {expected} intervals are present",
                m.load.len()
            ),
        ));
    }
    let times: Vec<Timestamp> = m.load.iter().map(|p| p.0).collect();
    let price = import_prices(&m.ctx.labeller, &times);
    let base: Vec<f64> = m.load.iter().map(|p| p.1).collect();
    let problem = battery_problem(base, price, demand_price(last_terms(m)?), spec);
    let options = SolverOptions { backend: vpp_optim::Backend::Clarabel, time_limit_s: 120.0, mip_gap: 0.01 };
    let schedule = tokio::task::spawn_blocking(move || solve(&problem, &options))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::invalid("battery", e.to_string()))?;
    let with: Vec<(Timestamp, f64)> =
        m.load.iter().zip(&schedule.import_kw).map(|(&(t, _), &kw)| (t, (kw * 1000.0).round() / 1000.0)).collect();
    let without_bill = bill_of(store, m, &m.load, None).await?;
    let with_bill = bill_of(store, m, &with, None).await?;
    let cur = &without_bill.currency;
    let line = |b: &Bill, code: &str| -> Decimal { b.lines.iter().filter(|l| l.code == code).map(|l| l.amount).sum() };
    let energy =
        |b: &Bill| -> Decimal { b.lines.iter().filter(|l| l.code.starts_with("energy_")).map(|l| l.amount).sum() };
    let f = |d: Decimal| f64::try_from(d).unwrap_or(0.0);
    let lang = m.lang;
    let metric = |name: &str, value: f64, formula: String| Metric {
        name: name.into(),
        value: (value * 100.0).round() / 100.0,
        unit: format!("{cur}/month"),
        formula,
    };
    let (peak_without, peak_with) = (without_bill.max_demand_kw, with_bill.max_demand_kw);
    let metrics = vec![
        metric(
            "battery_demand_charge_reduction",
            f(line(&without_bill, "demand") - line(&with_bill, "demand")),
            lang.pick(
                format!("demand fee without − with: max demand {peak_without:.1} → {peak_with:.1} kW"),
                format!("需量电费（无储能 − 有储能）：最大需量 {peak_without:.1} → {peak_with:.1} kW"),
            ),
        ),
        metric(
            "battery_energy_arbitrage",
            f(energy(&without_bill) - energy(&with_bill)),
            lang.pick(
                "energy lines without − with (charging in cheap periods, discharging in dear ones, losses included)",
                "电量电费（无储能 − 有储能）：低价时段充电、高价时段放电，含损耗",
            )
            .into(),
        ),
        metric(
            "battery_bill_saving",
            f(without_bill.total - with_bill.total),
            lang.pick(
                "bill total without − with the battery (every line, components included)",
                "账单总额（无储能 − 有储能），含全部项目",
            )
            .into(),
        ),
    ];
    Ok(BatteryScenario {
        battery: spec.clone(),
        bill_without: without_bill.total,
        bill_with: with_bill.total,
        max_demand_without_kw: without_bill.max_demand_kw,
        max_demand_with_kw: with_bill.max_demand_kw,
        metrics,
        solve_ms: schedule.solver.solve_ms,
    })
}

/// Payback of a battery over a year of load.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaybackReport {
    /// Site id.
    pub site_id: String,
    /// Year of load used.
    pub year: i16,
    /// The battery.
    pub battery: BatterySpec,
    /// Months simulated (those with complete load).
    pub months_used: Vec<String>,
    /// Months left out for missing load.
    pub months_skipped: Vec<String>,
    /// Saving per simulated month.
    pub monthly_saving: Vec<f64>,
    /// Yearly saving: Σ monthly savings × 12 / months used.
    pub yearly_saving: f64,
    /// Investment, net saving, simple payback, NPV.
    pub metrics: Vec<Metric>,
}

/// Simulates a battery month by month over `year` and computes its payback.
pub async fn battery_payback(
    store: &Store,
    site: &str,
    year: i16,
    battery: Option<&BatterySpec>,
    lang: Lang,
) -> AppResult<PaybackReport> {
    let ctx = site_context(store, site).await?;
    let Some(spec) = battery_for(store, &ctx.site, battery).await? else {
        return Err(AppError::invalid("battery", "give a battery, or link one to the site (battery_resource_id)"));
    };
    let (mut used, mut skipped, mut savings_per_month) = (Vec::new(), Vec::new(), Vec::new());
    for m in 1..=12 {
        let month = format!("{year:04}-{m:02}");
        let sm = site_month(store, &ctx.site.id, &month).await?;
        let expected = usize::try_from(sm.end.duration_since(sm.start).as_secs() / INTERVAL_S).unwrap_or(0);
        if sm.load.len() != expected || sm.ctx.labeller.version_on(sm.month.last_of_month()).is_none() {
            skipped.push(month);
            continue;
        }
        let scenario = battery_scenario(store, &sm, &spec).await?;
        savings_per_month.push(f64::try_from(scenario.bill_without - scenario.bill_with).unwrap_or(0.0));
        used.push(month);
    }
    if used.is_empty() {
        return Err(AppError::invalid("year", format!("no month of {year} has complete load")));
    }
    let yearly = savings_per_month.iter().sum::<f64>() * 12.0 / used.len() as f64;
    let currency = ctx.labeller.versions.last().map(|v| v.terms.currency.clone()).unwrap_or_default();
    let settings: Settings = store.settings().await?;
    let metrics = payback(spec.energy_kwh, spec.power_kw, yearly, &settings, &currency, lang)?;
    Ok(PaybackReport {
        site_id: ctx.site.id,
        year,
        battery: spec,
        months_used: used,
        months_skipped: skipped,
        monthly_saving: savings_per_month.iter().map(|s| (s * 100.0).round() / 100.0).collect(),
        yearly_saving: (yearly * 100.0).round() / 100.0,
        metrics,
    })
}

/// The monthly park report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParkReport {
    /// Site.
    pub site: Site,
    /// Tariff name.
    pub tariff: String,
    /// Month.
    pub month: String,
    /// The bill.
    pub bill: Bill,
    /// Load against TOU windows.
    pub profile: LoadProfile,
    /// Flexibility potential.
    pub flexibility: Potential,
    /// Savings scenarios.
    pub savings: SavingsReport,
    /// Language of its prose.
    pub lang: Lang,
}

/// Builds the monthly report of a site. The battery scenario is included
/// when the site has a battery; if it cannot run (a month with gaps), the
/// report says why instead.
pub async fn park_report(store: &Store, site: &str, month: &str, lang: Lang) -> AppResult<ParkReport> {
    let m = SiteMonth { lang, ..site_month(store, site, month).await? };
    let mut savings = flex_savings(store, &m).await?;
    match battery_for(store, &m.ctx.site, None).await {
        Ok(Some(spec)) => match battery_scenario(store, &m, &spec).await {
            Ok(b) => savings.battery = Some(b),
            Err(e) => savings.battery_note = Some(e.to_string()),
        },
        Ok(None) => {}
        Err(e) => savings.battery_note = Some(e.to_string()),
    }
    Ok(ParkReport {
        bill: bill_of(store, &m, &m.load, None).await?,
        profile: profile_of(&m),
        flexibility: with_flex(store, &m, potential).await?,
        savings,
        tariff: m.ctx.tariff.name.clone(),
        site: m.ctx.site,
        month: month.to_string(),
        lang,
    })
}

/// The labelled load of `[start, end)` (at most 93 days).
pub async fn labelled_load(
    store: &Store,
    site: &str,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<(Vec<LabelledLoad>, Vec<Gap>)> {
    if end <= start || end.duration_since(start).as_hours() > 93 * 24 {
        return Err(AppError::invalid("end", "must be after start, at most 93 days later"));
    }
    let ctx = site_context(store, site).await?;
    let load = site_load(store, &ctx.site.id, start, end).await?;
    Ok((label(&ctx.labeller, &load), gaps(&load, Some(start), Some(end)).into_iter().take(100).collect()))
}

/// The report as CSV: sections `bill`, `profile`, `flexibility` and
/// `savings`, each a block of rows starting with the section name.
pub fn report_csv(r: &ParkReport) -> String {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    // Writing into a Vec cannot fail, so the results are ignored.
    // Names and formulas are text: never read as a formula by a spreadsheet.
    let text = |x: &str| vpp_domain::export::spreadsheet_text(x).into_owned();
    let mut row = |fields: Vec<String>| {
        let _ = w.write_record(&fields);
    };
    let s = |x: &str| x.to_string();
    row(vec![s("section"), s("site"), s("month"), s("currency"), s("tariff")]);
    row(vec![s("report"), text(&r.site.name), r.month.clone(), r.bill.currency.clone(), text(&r.tariff)]);
    row(vec![s("section"), s("code"), s("name"), s("quantity"), s("unit"), s("rate"), s("amount"), s("formula")]);
    for l in &r.bill.lines {
        row(vec![
            s("bill"),
            l.code.clone(),
            text(&l.name),
            l.quantity.to_string(),
            l.unit.clone(),
            l.rate.map(|x| x.to_string()).unwrap_or_default(),
            l.amount.to_string(),
            text(&l.formula),
        ]);
    }
    row(vec![s("bill"), s("total"), s("Total"), String::new(), String::new(), String::new(), r.bill.total.to_string()]);
    row(vec![
        s("section"),
        s("time"),
        s("workday_kw"),
        s("workday_period"),
        s("non_workday_kw"),
        s("non_workday_period"),
    ]);
    let d = &r.profile.daily;
    let fmt = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_default();
    for slot in 0..d.workday_kw.len() {
        row(vec![
            s("profile"),
            vpp_domain::tariff::tou::slot_clock(slot),
            fmt(d.workday_kw[slot]),
            d.workday_periods.get(slot).map(|p| p.as_str().to_string()).unwrap_or_default(),
            fmt(d.non_workday_kw.get(slot).copied().flatten()),
            d.non_workday_periods.get(slot).map(|p| p.as_str().to_string()).unwrap_or_default(),
        ]);
    }
    row(vec![s("section"), s("name"), s("value"), s("unit"), s("formula")]);
    let st = &r.profile.stats;
    for (name, value, unit) in [
        ("max_kw", st.max_kw, "kW"),
        ("min_kw", st.min_kw, "kW"),
        ("avg_kw", st.avg_kw, "kW"),
        ("peak_valley_difference_kw", st.peak_valley_difference_kw, "kW"),
        ("load_factor", st.load_factor, "1"),
        ("coverage_pct", st.coverage_pct, "%"),
    ] {
        row(vec![s("load"), s(name), format!("{value:.3}"), s(unit), String::new()]);
    }
    let battery = r.savings.battery.iter().flat_map(|b| b.metrics.iter());
    for (section, m) in r
        .flexibility
        .metrics
        .iter()
        .map(|m| ("flexibility", m))
        .chain(r.savings.metrics.iter().chain(battery).map(|m| ("savings", m)))
    {
        row(vec![s(section), text(&m.name), m.value.to_string(), m.unit.clone(), text(&m.formula)]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Text escaped for HTML.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A savings or potential figure's name in `lang`, as the console names it
/// (its code if unknown).
fn metric_label(code: &str, lang: Lang) -> String {
    let (en, zh) = match code {
        "adjustable_kw" => ("Adjustable capacity", "可调节容量"),
        "shiftable_kwh_per_workday" => ("Shiftable energy per workday", "每工作日可转移电量"),
        "peak_valley_arbitrage" => ("Peak-valley arbitrage", "峰谷套利"),
        "demand_charge_reduction_loads" => ("Demand-charge reduction by load shedding", "负荷削峰降低需量电费"),
        "demand_response_revenue" => ("Demand-response revenue", "需求响应收益"),
        "battery_demand_charge_reduction" => ("Battery: demand-charge reduction", "储能：降低需量电费"),
        "battery_energy_arbitrage" => ("Battery: energy arbitrage", "储能：峰谷套利"),
        "battery_bill_saving" => ("Battery: bill saving", "储能：电费节省"),
        "battery_investment" => ("Battery: investment", "储能：投资"),
        "battery_yearly_net_saving" => ("Battery: net saving per year", "储能：年净节省"),
        "battery_simple_payback" => ("Battery: simple payback", "储能：静态回收期"),
        "battery_npv" => ("Battery: net present value", "储能：净现值"),
        _ => return code.to_string(),
    };
    lang.pick(en, zh).to_string()
}

/// A figure's unit (a code: `CNY/month`, `kWh/day`, `years`) as a reader of `lang` writes it.
fn unit_label(unit: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return unit.to_string();
    }
    match unit {
        "years" => "年".to_string(),
        _ => unit.replace("/month", "/月").replace("/year", "/年").replace("/day", "/天"),
    }
}

/// The report as a printable HTML page (no scripts, no external assets), in
/// the report's language.
pub fn report_html(r: &ParkReport) -> String {
    use std::fmt::Write;
    let lang = r.lang;
    let t = |en: &'static str, zh: &'static str| lang.pick(en, zh);
    let mut h = String::new();
    let cur = esc(&r.bill.currency);
    let (site, month, tz, tariff) = (esc(&r.site.name), esc(&r.month), esc(&r.bill.time_zone), esc(&r.tariff));
    let (cov, exp) = (r.bill.coverage.pct, r.bill.coverage.expected_intervals);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{tag}\"><head><meta charset=\"utf-8\"><title>{title} {site} {month}</title>\
         <style>body{{font:13px/1.4 sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #999;padding:2px 6px}}td.n{{text-align:right}}\
         .sharp_peak{{background:#f4b6b6}}.peak{{background:#f9d9a8}}.flat{{background:#e8e8e8}}.valley{{background:#bfe0f5}}\
         @media print{{body{{margin:0}}h2{{page-break-before:auto}}}}</style></head><body>\
         <h1>{title}{colon}{site}</h1><p>{intro}</p>",
        colon = t(": ", "："),
        tag = lang.tag(),
        title = t("Park report", "园区月度报告"),
        intro = if lang == Lang::Zh {
            format!("{month}（{tz}），电价 {tariff}。数据覆盖 {exp} 个时段的 {cov:.1} %。")
        } else {
            format!("Month {month} ({tz}), tariff {tariff}. Coverage {cov:.1} % of {exp} intervals.")
        },
    );
    for note in &r.bill.notes {
        let _ = write!(h, "<p><em>{}</em></p>", esc(note));
    }
    let _ = write!(
        h,
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{} ({cur})</th><th>{}</th></tr>",
        t("Bill", "电费账单"),
        t("Line", "项目"),
        t("Quantity", "数量"),
        t("Rate", "单价"),
        t("Amount", "金额"),
        t("Formula", "计算公式"),
    );
    for l in &r.bill.lines {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=n>{} {}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
            esc(&l.name),
            l.quantity,
            esc(&l.unit),
            l.rate.map(|x| x.to_string()).unwrap_or_default(),
            l.amount,
            esc(&l.formula)
        );
    }
    let _ = write!(
        h,
        "<tr><th>{}</th><td></td><td></td><th class=n>{}</th><td></td></tr></table>",
        t("Total", "合计"),
        r.bill.total
    );
    let st = &r.profile.stats;
    let _ = write!(
        h,
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\
         <tr><td class=n>{:.1}</td><td class=n>{:.1}</td><td class=n>{:.1}</td>\
         <td class=n>{:.1}</td><td class=n>{:.3}</td><td class=n>{:.1}</td></tr></table>",
        t("Load", "负荷"),
        t("Max kW", "最大 kW"),
        t("Min kW", "最小 kW"),
        t("Mean kW", "平均 kW"),
        t("Peak-valley difference kW", "峰谷差 kW"),
        t("Load factor", "负荷率"),
        t("Energy kWh", "电量 kWh"),
        st.max_kw,
        st.min_kw,
        st.avg_kw,
        st.peak_valley_difference_kw,
        st.load_factor,
        st.energy_kwh
    );
    let _ = write!(
        h,
        "<h3>{}</h3><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t("Average day against the TOU windows (hourly means)", "典型日负荷与分时时段（小时均值）"),
        t("Hour", "小时"),
        t("Workday kW", "工作日 kW"),
        t("Period", "时段"),
        t("Other days kW", "周末及节假日 kW"),
        t("Period", "时段"),
    );
    let d = &r.profile.daily;
    let hourly = |v: &[Option<f64>], hour: usize| {
        let xs: Vec<f64> = v.iter().skip(hour * 4).take(4).flatten().copied().collect();
        if xs.is_empty() { String::new() } else { format!("{:.1}", xs.iter().sum::<f64>() / xs.len() as f64) }
    };
    let period =
        |p: Option<&vpp_domain::tariff::tou::Period>| p.map(|p| (p.as_str(), p.name(lang))).unwrap_or(("", ""));
    for hour in 0..24 {
        let (cw, pw) = period(d.workday_periods.get(hour * 4));
        let (cn, pn) = period(d.non_workday_periods.get(hour * 4));
        let _ = write!(
            h,
            "<tr><td>{hour:02}:00</td><td class=n>{}</td><td class=\"{cw}\">{pw}</td><td class=n>{}</td><td class=\"{cn}\">{pn}</td></tr>",
            hourly(&d.workday_kw, hour),
            hourly(&d.non_workday_kw, hour)
        );
    }
    let _ = write!(
        h,
        "</table><h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t("Flexibility and savings", "灵活性与节费测算"),
        t("Metric", "指标"),
        t("Value", "数值"),
        t("Unit", "单位"),
        t("Formula", "计算公式"),
    );
    let battery = r.savings.battery.iter().flat_map(|b| b.metrics.iter());
    for m in r.flexibility.metrics.iter().chain(r.savings.metrics.iter()).chain(battery) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=n>{:.2}</td><td>{}</td><td>{}</td></tr>",
            esc(&metric_label(&m.name, lang)),
            m.value,
            esc(&unit_label(&m.unit, lang)),
            esc(&m.formula)
        );
    }
    h.push_str("</table>");
    if let Some(note) = &r.savings.battery_note {
        let _ = write!(h, "<p><em>{}: {}</em></p>", t("Battery scenario", "储能方案"), esc(note));
    }
    h.push_str("</body></html>");
    h
}

/// Tomorrow's plan of a site's battery, made on the demand forecast.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatteryPlan {
    /// Site id.
    pub site_id: String,
    /// The local day planned (the site's tariff zone).
    #[schema(value_type = String, format = Date)]
    pub day: Date,
    /// The DEMAND model whose stored forecast was planned on.
    pub model_id: String,
    /// Its name.
    pub model_name: String,
    /// The battery.
    pub battery: BatterySpec,
    /// Highest forecast load, kW.
    pub peak_without_kw: f64,
    /// Highest grid import with the battery, kW.
    pub peak_with_kw: f64,
    /// Energy cost of the day without and with the battery (TOU prices and
    /// per-kWh components), in the tariff's currency.
    pub energy_cost_without: f64,
    /// With the battery.
    pub energy_cost_with: f64,
    /// Currency.
    pub currency: String,
    /// The quarter-hours.
    pub intervals: Vec<PlanInterval>,
    /// Solver time, ms.
    pub solve_ms: f64,
}

/// One quarter-hour of a battery plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanInterval {
    /// Start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Forecast site load, kW.
    pub load_kw: f64,
    /// Battery power, kW: positive discharges into the site, negative charges.
    pub battery_kw: f64,
    /// Grid import with the battery, kW.
    pub import_kw: f64,
    /// Battery state of charge at the interval's end, %.
    pub soc_pct: f64,
}

/// Plans the site's battery for `day` (tomorrow in the tariff's zone if
/// absent) on the newest stored forecast of a DEMAND model of the site's
/// load, against the day's TOU prices and the demand charge (the day's peak
/// priced as if it set the month's maximum: a day plan cannot know the rest
/// of the month). Without such a forecast for every quarter-hour of the
/// day, it says what is missing (409).
pub async fn battery_plan(store: &Store, site: &str, day: Option<Date>) -> AppResult<BatteryPlan> {
    use vpp_domain::ai_model::ModelType;
    use vpp_optim::{SolverOptions, solve};
    let ctx = site_context(store, site).await?;
    let tz = ctx.labeller.tz.clone();
    let day = match day {
        Some(d) => d,
        None => Timestamp::now().to_zoned(tz.clone()).date().tomorrow().map_err(AppError::internal)?,
    };
    let spec = battery_for(store, &ctx.site, None)
        .await?
        .ok_or_else(|| AppError::conflict_at("battery_resource_id", "the site has no battery to plan"))?;
    let load_series = store.find_series(OwnerKind::Site, &ctx.site.id, Quantity::Power).await?;
    let load_series = load_series.ok_or_else(|| AppError::conflict("the site has no load series to forecast"))?;
    let mut forecast = None;
    for model in store.list_models(Some(ModelType::Demand)).await? {
        if model.definition.target_series_id != load_series.1.id {
            continue;
        }
        if let Some(output) = crate::ai_models::model_forecast_series(store, &model.id).await? {
            forecast = Some((model, output));
            break;
        }
    }
    let (model, (key, output)) = forecast.ok_or_else(|| {
        AppError::conflict(format!(
            "no DEMAND model has stored a forecast of `{}`: register one on it and predict with store: true",
            load_series.1.name
        ))
    })?;
    let slots =
        vpp_domain::series::delivery_day(day, &tz, jiff::SignedDuration::from_mins(15)).map_err(AppError::internal)?;
    let step_us = output.resolution_s * 1_000_000;
    let (start_us, end_us) = (slots[0].as_microsecond(), slots[slots.len() - 1].as_microsecond() + step_us);
    let query = vpp_store::BeliefQuery::latest(key, SourceKind::Forecast, (start_us, end_us), step_us);
    let newest = store.newest_beliefs(&query).await?;
    let load: Vec<f64> = slots
        .iter()
        .filter_map(|t| newest.iter().find(|b| b.event_start_us == t.as_microsecond()).map(|b| b.value))
        .collect();
    if load.len() != slots.len() {
        return Err(AppError::conflict_at(
            "day",
            format!(
                "the forecast of model `{}` covers {} of the {} quarter-hours of {day}: predict further ahead",
                model.definition.name,
                load.len(),
                slots.len()
            ),
        ));
    }
    let version = ctx
        .labeller
        .version_on(day)
        .ok_or_else(|| AppError::conflict_at("day", format!("the site's tariff has no version in force on {day}")))?;
    let terms = &ctx.labeller.versions[version].terms;
    let price = import_prices(&ctx.labeller, &slots);
    let problem = battery_problem(load.clone(), price.clone(), demand_price(terms), &spec);
    let options = SolverOptions { backend: vpp_optim::Backend::Clarabel, time_limit_s: 30.0, mip_gap: 0.01 };
    let schedule = tokio::task::spawn_blocking(move || solve(&problem, &options))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::invalid("battery", e.to_string()))?;
    let battery = schedule.members.first().ok_or_else(|| AppError::internal("a battery schedule"))?;
    let soc = battery.soc_pct.clone().unwrap_or_default();
    // Energy cost in currency: kW × ¼ h × currency/MWh ÷ 1000.
    let cost = |kw: &[f64]| kw.iter().zip(&price).map(|(k, p)| k * 0.25 * p / 1000.0).sum::<f64>();
    let round = |x: f64| (x * 100.0).round() / 100.0;
    Ok(BatteryPlan {
        site_id: ctx.site.id.clone(),
        day,
        model_id: model.id.clone(),
        model_name: model.definition.name.clone(),
        battery: spec,
        peak_without_kw: load.iter().copied().fold(0.0, f64::max),
        peak_with_kw: round(schedule.peak_import_kw),
        energy_cost_without: round(cost(&load)),
        energy_cost_with: round(cost(&schedule.import_kw)),
        currency: terms.currency.clone(),
        intervals: slots
            .iter()
            .enumerate()
            .map(|(i, t)| PlanInterval {
                start: *t,
                load_kw: load[i],
                battery_kw: round(battery.power_kw.get(i).copied().unwrap_or(0.0)),
                import_kw: round(schedule.import_kw[i]),
                soc_pct: round(soc.get(i + 1).copied().unwrap_or(f64::NAN)),
            })
            .collect(),
        solve_ms: schedule.solver.solve_ms,
    })
}
