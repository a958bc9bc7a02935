//! Series as the use cases need them: importing files and rows of
//! beliefs (checked whole, then row by row), live measurements resampled
//! onto intervals, and what was measured per interval (meter final where
//! settled, else live measurements that cover the interval).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use vpp_domain::delivered::TimeUnit;
use vpp_domain::series::{
    Belief, BeliefInput, Infeed, OwnerKind, Resampled, Selected, Series, SourceKind, View, best_of_infeed,
    check_belief, resample, select_latest, unit_factor,
};
use vpp_domain::series_import::{ColumnFile, CsvOptions, RowError, parse_columns, parse_csv};
use vpp_store::{SeriesFilter, Store, StoreError};

use crate::error::{AppError, AppResult};

/// Share of an interval live measurements must cover to stand for it.
pub const MIN_MEASURED_COVERAGE: f64 = 0.9;

/// Live measurements of a series resampled over `[start, end)` in steps of
/// `step`; one measurement stands for at most `hold`.
pub async fn resampled_live(
    store: &Store,
    key: i64,
    start: Timestamp,
    end: Timestamp,
    step: SignedDuration,
    hold: SignedDuration,
) -> AppResult<Vec<Resampled>> {
    Ok(resample(&live_samples(store, key, start, end, hold).await?, start, end, step, hold))
}

/// One value per measurement time (the last arrival wins), from one hold
/// period before `start` so a sample just before the window counts.
async fn live_samples(
    store: &Store,
    key: i64,
    start: Timestamp,
    end: Timestamp,
    hold: SignedDuration,
) -> AppResult<Vec<(i64, f64)>> {
    let from = (start - hold).as_microsecond();
    let beliefs = store.beliefs(key, &[SourceKind::LiveMeasurement], from, end.as_microsecond()).await?;
    let mut samples: Vec<(i64, f64)> = Vec::with_capacity(beliefs.len());
    for b in &beliefs {
        match samples.last_mut() {
            Some(last) if last.0 == b.event_start_us => last.1 = b.value,
            _ => samples.push((b.event_start_us, b.value)),
        }
    }
    Ok(samples)
}

/// Live measurements of a series per interval of its resolution, for
/// what was measured: samples resampled with a 5-minute hold, except that
/// a delivered interval value (a live infeed file's quarter-hour: a value
/// alone in its interval, at its start, with a neighbour exactly one
/// interval before or after) stands for its whole interval.
pub async fn live_per_interval(
    store: &Store,
    key: i64,
    series: &Series,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<Vec<Resampled>> {
    let step = SignedDuration::from_secs(series.resolution_s);
    let hold = SignedDuration::from_mins(5);
    // One interval more on each side, so the neighbours of the edges are seen.
    let samples = live_samples(store, key, start - step, end + step, hold).await?;
    let inside: Vec<(i64, f64)> = samples
        .iter()
        .copied()
        .filter(|s| s.0 >= (start - hold).as_microsecond() && s.0 < end.as_microsecond())
        .collect();
    let mut out = resample(&inside, start, end, step, hold);
    let (t0, step_us) = (start.as_microsecond(), series.resolution_s * 1_000_000);
    let times: std::collections::HashSet<i64> = samples.iter().map(|s| s.0).collect();
    let mut per: std::collections::HashMap<i64, (usize, Option<f64>)> = Default::default();
    for &(t, v) in samples.iter().filter(|s| s.0 >= t0 && s.0 < end.as_microsecond()) {
        let k = (t - t0).div_euclid(step_us);
        let e = per.entry(k).or_insert((0, None));
        e.0 += 1;
        if t == t0 + k * step_us {
            e.1 = Some(v);
        }
    }
    for (k, (n, at_start)) in per {
        let t = t0 + k * step_us;
        let regular = times.contains(&(t - step_us)) || times.contains(&(t + step_us));
        if let (1, Some(v), true, Some(r)) = (n, at_start, regular, out.get_mut(k as usize)) {
            r.mean = Some(v);
            r.coverage = 1.0;
        }
    }
    Ok(out)
}

/// (interval start µs, value) of selected values.
pub fn pairs(selected: &[Selected]) -> Vec<(i64, f64)> {
    selected.iter().map(|v| (v.event_start_us, v.value)).collect()
}

/// The beliefs of one source.
pub fn of_source(beliefs: &[Belief], source: SourceKind) -> Vec<Belief> {
    beliefs.iter().filter(|b| b.source == source).copied().collect()
}

/// What was measured per interval (start µs, kW): meter final where
/// settled, else resampled live measurements covering at least 90 % of the
/// interval. `beliefs` are the series' beliefs over `[start, end)`.
pub async fn measured(
    store: &Store,
    key: i64,
    series: &Series,
    start: Timestamp,
    end: Timestamp,
    beliefs: &[Belief],
) -> AppResult<Vec<(i64, f64)>> {
    let mut out =
        pairs(&select_latest(&of_source(beliefs, SourceKind::MeterFinal), SourceKind::MeterFinal, &View::Latest));
    for r in live_per_interval(store, key, series, start, end).await? {
        let t = r.start.as_microsecond();
        if let (Some(mean), true) = (r.mean, r.coverage >= MIN_MEASURED_COVERAGE)
            && out.binary_search_by_key(&t, |p| p.0).is_err()
        {
            out.push((t, mean));
        }
    }
    out.sort_by_key(|p| p.0);
    Ok(out)
}

/// The source priority of best of infeed when none is given.
pub const INFEED_PRIORITY: [SourceKind; 3] =
    [SourceKind::MeterFinal, SourceKind::LiveMeasurement, SourceKind::Forecast];

/// Best of infeed of one series over `[start, end)`, per interval of its
/// resolution: the first layer of `priority` with a value (live
/// measurements resampled, covering 90 % of the interval); an interval
/// flagged as redispatched is 0 unless measured. `None` where nothing covers.
pub async fn infeed(
    store: &Store,
    key: i64,
    series: &Series,
    start: Timestamp,
    end: Timestamp,
    priority: &[SourceKind],
) -> AppResult<Vec<(i64, Option<Infeed>)>> {
    let beliefs = store.beliefs(key, &[], start.as_microsecond(), end.as_microsecond()).await?;
    let mut layers = Vec::with_capacity(priority.len());
    for kind in priority {
        let values = match kind {
            SourceKind::LiveMeasurement => live_per_interval(store, key, series, start, end)
                .await?
                .into_iter()
                .filter(|r| r.coverage >= MIN_MEASURED_COVERAGE)
                .filter_map(|r| r.mean.map(|m| (r.start.as_microsecond(), m)))
                .collect(),
            k => pairs(&select_latest(&of_source(&beliefs, *k), *k, &View::Latest)),
        };
        layers.push((*kind, values));
    }
    let redispatched: Vec<i64> = select_latest(&of_source(&beliefs, SourceKind::Flag), SourceKind::Flag, &View::Latest)
        .into_iter()
        .filter(|f| f.value == 1.0)
        .map(|f| f.event_start_us)
        .collect();
    let step_us = series.resolution_s * 1_000_000;
    let first = start.as_microsecond().div_euclid(step_us) * step_us;
    let first = if first < start.as_microsecond() { first + step_us } else { first };
    let intervals: Vec<i64> = (first..end.as_microsecond()).step_by(step_us as usize).collect();
    let picks = best_of_infeed(&intervals, &layers, &redispatched);
    Ok(intervals.into_iter().zip(picks).collect())
}

/// One interval of a portfolio's best of infeed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PortfolioInfeedPoint {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Σ allocation ratio × each member's best value, kW.
    pub value_kw: f64,
    /// The same sum by the source each member's value came from (`meter_final`,
    /// `live_measurement`, `forecast`, `schedule`, `redispatched`), kW.
    pub by_source: std::collections::BTreeMap<String, f64>,
    /// Members with a value here.
    pub members_with_value: usize,
    /// Members with a power series but no value here (a gap).
    pub members_missing: usize,
}

/// A portfolio's best of infeed: each member's best value per interval
/// (its own mix of meter final, live measurement and forecast), weighted
/// by its allocation ratio and summed, with the share of each source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PortfolioInfeed {
    /// The VPP.
    pub vpp_id: String,
    /// Source priority used.
    pub priority: Vec<SourceKind>,
    /// Members with a power series.
    pub members_with_series: usize,
    /// Intervals of the window.
    pub points: Vec<PortfolioInfeedPoint>,
}

/// The best of infeed of a VPP's members, mixed per asset and interval.
pub async fn portfolio_infeed(
    store: &Store,
    vpp_id: &str,
    start: Timestamp,
    end: Timestamp,
    priority: &[SourceKind],
) -> AppResult<PortfolioInfeed> {
    let members = store.member_series(vpp_id, vpp_domain::series::Quantity::Power).await?;
    let mut points: std::collections::BTreeMap<i64, PortfolioInfeedPoint> = std::collections::BTreeMap::new();
    for (key, series, ratio) in &members {
        for (t, pick) in infeed(store, *key, series, start, end, priority).await? {
            let point = points.entry(t).or_insert_with(|| PortfolioInfeedPoint {
                start: Timestamp::from_microsecond(t).unwrap_or(start),
                value_kw: 0.0,
                by_source: Default::default(),
                members_with_value: 0,
                members_missing: 0,
            });
            match pick {
                Some(p) => {
                    let weighted = p.value * ratio;
                    point.value_kw += weighted;
                    let source = p.source_name();
                    *point.by_source.entry(source.to_string()).or_insert(0.0) += weighted;
                    point.members_with_value += 1;
                }
                None => point.members_missing += 1,
            }
        }
    }
    Ok(PortfolioInfeed {
        vpp_id: vpp_id.to_string(),
        priority: priority.to_vec(),
        members_with_series: members.len(),
        points: points.into_values().collect(),
    })
}

/// What to do with a file some of whose rows are refused. A file whose
/// every row is refused is refused (422) either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Store the good rows and report the refused ones; the report says `partial`.
    #[default]
    Skip,
    /// Store nothing if any row is refused (422 with every refused line).
    Reject,
}

/// Whether every row of a file went in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No row was refused.
    Complete,
    /// Some rows were refused (listed in `rejected`); the others are stored.
    Partial,
}

/// How to read an imported file. What is left out is found in the file.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `csv` (default) or `columns` (column-oriented JSON).
    pub format: Option<String>,
    /// CSV delimiter: `,`, `;`, `\t` or `|`; default the one the header uses.
    pub delimiter: Option<String>,
    /// CSV numbers use a decimal comma (true) or point (false); default from the values.
    pub decimal_comma: Option<bool>,
    /// strftime format of CSV timestamps; default any common form (RFC 3339, `YYYY-MM-DD HH:MM[:SS][ UTC]`, `dd.mm.yyyy HH:MM`, epoch s/ms).
    pub timestamp_format: Option<String>,
    /// Zone of CSV timestamps without offset (IANA); default UTC or the file's zone column. The repeated hour of the autumn change is read by order.
    pub timezone: Option<String>,
    /// Epoch times are `s` or `ms`, overriding what the file declares; default by their size.
    #[param(inline)]
    pub time_unit: Option<TimeUnit>,
    /// CSV column of the event start; default a time column by name.
    pub start_column: Option<String>,
    /// CSV column of the value; default a value column by name, else the first numeric one.
    pub value_column: Option<String>,
    /// CSV column of the belief time; default a `version` or `belief_time` column if any.
    pub belief_time_column: Option<String>,
    /// Belief time of every CSV row when there is no such column (required for forecasts and schedules).
    #[param(value_type = Option<String>)]
    pub belief_time: Option<Timestamp>,
    /// Source kind of CSV rows; default forecast.
    #[param(inline)]
    pub source: Option<SourceKind>,
    /// Unit of the values (W/kW/MW, Wh/kWh/MWh, EUR/MWh, ct/kWh, any case); default from the file or the series.
    pub unit: Option<String>,
    /// Refused rows: `skip` them and store the rest (default), or `reject` the whole file.
    #[param(inline)]
    pub on_error: Option<OnError>,
    /// Check the file now and store it in a background job (202 with the job).
    pub background: Option<bool>,
    /// Imports routed by their content or name (`/series/import`): the file's name, which may name its asset.
    pub file_name: Option<String>,
}

/// Outcome of a file import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileImportReport {
    /// `csv` or `columns`.
    pub format: String,
    /// `complete`, or `partial` when rows were refused and skipped.
    pub outcome: Outcome,
    /// Data rows read.
    pub rows: usize,
    /// Rows stored as new beliefs.
    pub accepted: u64,
    /// Valid rows already stored.
    pub duplicates: u64,
    /// Rows refused: line (CSV, header = 1) or row index (columns), and reason.
    pub rejected: Vec<RowError>,
}

/// Imports a CSV or column-JSON file into a series: the file is checked
/// whole first (a malformed file stores nothing), then row by row.
pub async fn import_file(
    store: &vpp_store::Store,
    series_id: &str,
    body: &[u8],
    q: &ImportQuery,
) -> AppResult<FileImportReport> {
    prepare_import(store, series_id, body, q).await?.store(store, &|_| true).await
}

/// A series file read and checked as a whole, ready to store.
pub struct PreparedImport {
    key: i64,
    series: Series,
    format: String,
    parsed: vpp_domain::series_import::Parsed,
    factor: f64,
    on_error: OnError,
}

impl PreparedImport {
    /// Rows to check and store.
    pub fn rows(&self) -> usize {
        self.parsed.rows.len()
    }

    /// Checks every row against the series and stores the good ones in one
    /// transaction; `progress` hears how far it got and may cancel.
    pub async fn store(
        self,
        store: &vpp_store::Store,
        progress: vpp_store::Progress<'_>,
    ) -> AppResult<FileImportReport> {
        let rows = self.parsed.rows.len() + self.parsed.rejected.len();
        let inputs = self.parsed.rows.iter().map(|r| (r.line, &r.input));
        let (accepted, duplicates, rejected) = store_rows(
            store,
            self.key,
            &self.series,
            inputs,
            self.factor,
            self.parsed.rejected,
            Some(self.on_error),
            progress,
        )
        .await?;
        let outcome = if rejected.is_empty() { Outcome::Complete } else { Outcome::Partial };
        Ok(FileImportReport { format: self.format, outcome, rows, accepted, duplicates, rejected })
    }
}

/// Reads a series file: a malformed file, an unknown unit or a file for
/// another asset is refused here, before anything is stored.
pub async fn prepare_import(
    store: &vpp_store::Store,
    series_id: &str,
    body: &[u8],
    q: &ImportQuery,
) -> AppResult<PreparedImport> {
    let (key, series) = store.get_series(series_id).await?;
    let format = q.format.clone().unwrap_or_else(|| "csv".into());
    let parsed = match format.as_str() {
        "csv" => {
            let opts = CsvOptions {
                delimiter: q.delimiter.clone(),
                decimal_comma: q.decimal_comma,
                timestamp_format: q.timestamp_format.clone(),
                timezone: q.timezone.clone(),
                time_unit: q.time_unit,
                start_column: q.start_column.clone(),
                value_column: q.value_column.clone(),
                belief_time_column: q.belief_time_column.clone(),
                belief_time: q.belief_time,
                source: q.source,
                unit: q.unit.clone(),
                resolution_s: Some(series.resolution_s),
            };
            parse_csv(body, &opts)?
        }
        "columns" => {
            let file: ColumnFile = crate::json::parse(body)?;
            check_key(store, &series, &file).await?;
            parse_columns(&file, series.resolution_s, q.time_unit, q.unit.as_deref())?
        }
        other => return Err(AppError::invalid("format", format!("unknown format `{other}`: use csv or columns"))),
    };
    let factor = match &parsed.unit {
        Some(u) => unit_factor(series.quantity, &series.unit, u).map_err(|e| AppError::invalid("unit", e))?,
        None => 1.0,
    };
    let on_error = q.on_error.unwrap_or_default();
    refuse_if(on_error, parsed.rows.is_empty(), &parsed.rejected)?;
    if on_error == OnError::Reject {
        // Every row against the series too, so a background import is
        // refused now rather than by its job.
        let now = Timestamp::now();
        let mut rejected = parsed.rejected.clone();
        for row in &parsed.rows {
            if let Err(reason) = check_belief(&series, &row.input, factor, now) {
                rejected.push(RowError { line: row.line, reason });
            }
        }
        refuse_if(on_error, false, &rejected)?;
    }
    Ok(PreparedImport { key, series, format, parsed, factor, on_error })
}

/// Refuses a file by its rows: when every row is refused (`none_good`), or
/// any is and the policy is `reject`.
fn refuse_if(on_error: OnError, none_good: bool, rejected: &[RowError]) -> AppResult<()> {
    if !rejected.is_empty() && (none_good || on_error == OnError::Reject) {
        let mut rejected = rejected.to_vec();
        rejected.sort_by_key(|r| r.line);
        return Err(AppError::RejectedFile(rejected));
    }
    Ok(())
}

/// The file's key must name the series' owner: its id, or a resource's external asset id.
async fn check_key(store: &vpp_store::Store, series: &Series, file: &ColumnFile) -> AppResult<()> {
    let asset = file.asset().unwrap_or_default();
    let (external, metering_point) = match series.owner_kind {
        OwnerKind::Resource => {
            let r = store.get_resource(&series.owner_id).await?;
            (r.external_id, r.metadata.get("metering_point_id").and_then(|v| v.as_str()).map(String::from))
        }
        _ => (None, None),
    };
    let contract_point = store
        .list_contracts()
        .await?
        .into_iter()
        .any(|c| c.resource_id == series.owner_id && c.metering_point_id.as_deref() == Some(asset.as_str()));
    if asset == series.owner_id
        || external.as_deref() == Some(asset.as_str())
        || metering_point.as_deref() == Some(asset.as_str())
        || contract_point
    {
        Ok(())
    } else {
        Err(AppError::invalid(
            "key",
            format!("the file is for asset `{asset}`, but series `{}` belongs to `{}`", series.name, series.owner_id),
        ))
    }
}

/// Checks rows against the series, stores the good ones and reports
/// (accepted, duplicates, rejected by line), adding `rejected` from parsing.
/// Under a file policy (`on_error`), nothing is stored when every row is
/// refused, or any is under `reject`; without one (a batch of beliefs) the
/// good rows are stored whatever the others.
#[allow(clippy::too_many_arguments)]
pub async fn store_rows<'a>(
    store: &vpp_store::Store,
    key: i64,
    series: &Series,
    rows: impl Iterator<Item = (usize, &'a BeliefInput)>,
    factor: f64,
    mut rejected: Vec<RowError>,
    on_error: Option<OnError>,
    progress: vpp_store::Progress<'_>,
) -> AppResult<(u64, u64, Vec<RowError>)> {
    let now = Timestamp::now();
    let mut good = Vec::new();
    for (line, input) in rows {
        match check_belief(series, input, factor, now) {
            Ok(b) => good.push(b),
            Err(reason) => rejected.push(RowError { line, reason }),
        }
    }
    rejected.sort_by_key(|r| r.line);
    if let Some(policy) = on_error {
        refuse_if(policy, good.is_empty(), &rejected)?;
    }
    let accepted = if good.is_empty() { 0 } else { store.insert_beliefs_reporting(key, &good, progress).await? };
    Ok((accepted, good.len() as u64 - accepted, rejected))
}

/// A series by id, else by exact name.
pub async fn series_by_name(store: &Store, name: &str) -> AppResult<Option<(i64, vpp_domain::series::Series)>> {
    match store.get_series(name).await {
        Ok(found) => return Ok(Some(found)),
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let mut page = 1;
    loop {
        let p = store.list_series(&SeriesFilter::default(), vpp_store::Page { page, size: 1000 }).await?;
        if let Some(s) = p.items.iter().find(|s| s.name == name) {
            return Ok(Some(store.get_series(&s.id).await?));
        }
        if p.items.len() < 1000 {
            return Ok(None);
        }
        page += 1;
    }
}
