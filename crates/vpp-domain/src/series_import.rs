//! Parsing series files into beliefs: CSV with configurable dialect, and the
//! column-oriented JSON that VPP vendors deliver.
//!
//! A file malformed as a whole (no header, unknown column, columns of unequal
//! length, declared time unit contradicted by the values) is an error and
//! nothing is stored. Otherwise each row is accepted or rejected on its own,
//! with its line (CSV, 1-based, header = line 1) or row index (JSON) and reason.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::delivered::{self, DecimalMark, TimeCell, TimeUnit, WallClock};
use crate::error::{Errors, Invalid};
use crate::series::{BeliefInput, SourceKind};

/// A row that parsed.
#[derive(Debug, Clone)]
pub struct ParsedRow {
    /// Line (CSV) or row index (JSON).
    pub line: usize,
    /// The belief, value in the file's unit.
    pub input: BeliefInput,
}

/// A row refused.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line (CSV, header = 1) or row index (JSON, from 0).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// What a file parsed into.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Good rows.
    pub rows: Vec<ParsedRow>,
    /// Refused rows.
    pub rejected: Vec<RowError>,
    /// Unit of the values, from the options, the header or the units list.
    pub unit: Option<String>,
}

/// CSV dialect and mapping. Everything left out is found in the file:
/// the delimiter, the decimal mark, the time form, the columns by name.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Field delimiter: `,`, `;`, `\t` or `|`; default the one the header uses.
    pub delimiter: Option<String>,
    /// Numbers use a decimal comma (`true`) or point (`false`); default from the values.
    pub decimal_comma: Option<bool>,
    /// strftime format of timestamps, e.g. `%d.%m.%Y %H:%M`; default any common form.
    pub timestamp_format: Option<String>,
    /// Zone of timestamps without an offset (IANA); default UTC, or a zone column.
    pub timezone: Option<String>,
    /// Epoch numbers are seconds or milliseconds; default by their size.
    pub time_unit: Option<TimeUnit>,
    /// Column holding the event start; default a time column by name.
    pub start_column: Option<String>,
    /// Column holding the value; default a value column by name, else the first numeric one.
    pub value_column: Option<String>,
    /// Column holding the belief time (version); default a `version` or `belief_time` column if any.
    pub belief_time_column: Option<String>,
    /// Belief time of every row when there is no such column. Forecasts and
    /// schedules need one of the two, so importing a file twice stores it once;
    /// measurements, prices and flags default to the event start.
    pub belief_time: Option<Timestamp>,
    /// Source kind of every row; default forecast.
    pub source: Option<SourceKind>,
    /// Unit of the values; default a unit column, else the value column's header, else the series unit.
    pub unit: Option<String>,
    /// The series' resolution, s: a daily series may give dates without a time of day.
    pub resolution_s: Option<i64>,
}

/// Unit named by a header such as `power_kw_`, `energy__MWh_` or `Leistung (MW)`.
pub fn unit_from_header(header: &str) -> Option<String> {
    delivered::unit_in_header(header).map(|(u, _)| u)
}

/// Names of a column holding the whole event start, most specific first.
const START_NAMES: &[&str] = &[
    "event_start",
    "delivery_start",
    "period_start",
    "start",
    "timestamp",
    "datetime",
    "zeitstempel",
    "time",
    "zeit",
    "ts",
    "from",
    "von",
    "date",
    "datum",
];
/// Names of a column holding only the time of day beside a date column.
const TIME_OF_DAY_NAMES: &[&str] = &[
    "von",
    "from",
    "uhrzeit",
    "uhrzeit_von",
    "zeit_von",
    "ab_zeit",
    "beginn",
    "start_time",
    "startzeit",
    "time",
    "zeit",
];
/// Names of a column holding the zone of each row.
const ZONE_NAMES: &[&str] = &["zeitzone_von", "zeitzone", "timezone", "time_zone", "tz", "zone"];
/// Names of a belief-time (version) column.
const BELIEF_NAMES: &[&str] =
    &["belief_time", "version", "issued_at", "issue_time", "forecast_time", "prognosezeitpunkt", "created_at"];
/// Names of a value column.
const VALUE_NAMES: &[&str] = &[
    "value",
    "wert",
    "power",
    "leistung",
    "infeed",
    "einspeisung",
    "energy",
    "energie",
    "price",
    "preis",
    "volume",
    "menge",
    "quantity",
    "forecast",
    "prognose",
    "measurement",
    "messwert",
    "wirkleistung",
];
/// Words in the names of columns that are never the value (ids, codes, states).
const NOT_VALUE_WORDS: &[&str] =
    &["id", "nr", "nummer", "code", "status", "quality", "qualitaet", "flag", "malo", "melo", "zaehlpunkt", "metering"];
/// Names of a unit column.
const UNIT_NAMES: &[&str] = &["einheit", "unit", "dateneinheit"];

fn is_time_header(h: &str) -> bool {
    let h = h.to_ascii_lowercase();
    ["time", "start", "date", "von", "datum"].iter().any(|k| h.contains(k))
}

/// Parses a timestamp: with `format` (strftime; with or without an offset),
/// else RFC 3339, else a civil `YYYY-MM-DD[ T]HH:MM[:SS]` in `tz`.
pub fn parse_timestamp(text: &str, format: Option<&str>, tz: &TimeZone) -> Result<Timestamp, String> {
    let t = text.trim();
    if let Some(fmt) = format {
        if fmt.contains("%z") || fmt.contains("%Z") || fmt.contains("%:z") {
            return Timestamp::strptime(fmt, t).map_err(|e| format!("`{t}` does not match `{fmt}`: {e}"));
        }
        let civil = DateTime::strptime(fmt, t).map_err(|e| format!("`{t}` does not match `{fmt}`: {e}"))?;
        return civil.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| e.to_string());
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let civil: DateTime = t.replace(' ', "T").parse().map_err(|_| format!("`{t}` is not a timestamp"))?;
    civil.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| e.to_string())
}

/// Kinds whose beliefs are versions of a prediction or plan.
fn versioned(source: SourceKind) -> bool {
    matches!(source, SourceKind::Forecast | SourceKind::Schedule)
}

/// How the event start is written: one column, or a date column and a
/// time-of-day column.
#[derive(Clone, Copy)]
enum StartCols {
    One(usize),
    DateAndTime(usize, usize),
}

/// The times of one file: the format, the wall clock of the file's zone and
/// those of zone cells.
struct Clocks {
    format: Option<String>,
    unit: Option<TimeUnit>,
    file: WallClock,
    cells: HashMap<String, WallClock>,
}

impl Clocks {
    /// The instant of `text`, in the zone of `zone` (a zone cell) if given.
    fn instant(&mut self, text: &str, zone: Option<&str>, context: &str) -> Result<Timestamp, String> {
        let (format, unit) = (self.format.clone(), self.unit);
        let clock = self.clock(zone)?;
        if let Some(fmt) = &format {
            let t = text.trim();
            if fmt.contains("%z") || fmt.contains("%Z") || fmt.contains("%:z") {
                return Timestamp::strptime(fmt, t).map_err(|e| format!("`{t}` does not match `{fmt}`: {e}"));
            }
            let civil = DateTime::strptime(fmt, t).map_err(|e| format!("`{t}` does not match `{fmt}`: {e}"))?;
            return clock.resolve(civil, context);
        }
        clock.instant(delivered::read_time(text)?, context, unit)
    }

    /// A date cell and a time-of-day cell.
    fn date_and_time(
        &mut self,
        date: &str,
        time: &str,
        zone: Option<&str>,
        context: &str,
    ) -> Result<Timestamp, String> {
        let day = match delivered::read_time(date)? {
            TimeCell::Civil(dt) => dt.date(),
            _ => return Err(format!("`{}` is not a date", date.trim())),
        };
        let tod = time_of_day(time).ok_or_else(|| format!("`{}` is not a time of day like 14:15", time.trim()))?;
        self.clock(zone)?.resolve(day.to_datetime(tod), context)
    }

    fn clock(&mut self, zone: Option<&str>) -> Result<&mut WallClock, String> {
        let Some(z) = zone.map(str::trim) else { return Ok(&mut self.file) };
        if !self.cells.contains_key(z) {
            let tz = delivered::zone_cell(z)?;
            self.cells.insert(z.to_string(), WallClock::new(tz, z));
        }
        Ok(self.cells.get_mut(z).expect("inserted above"))
    }
}

/// A time of day, `14:15[:00]`, or the start of a range `14:15 - 14:30`.
fn time_of_day(text: &str) -> Option<Time> {
    let t = text.trim();
    let start = t.split_once(" - ").or_else(|| t.split_once('-')).map_or(t, |(a, _)| a.trim());
    (start.len() <= 8).then(|| start.parse::<Time>().ok()).flatten()
}

/// Parses CSV text.
pub fn parse_csv(text: &[u8], opts: &CsvOptions) -> Result<Parsed, Invalid> {
    let mut errors = Errors::default();
    let delimiter = match opts.delimiter.as_deref() {
        None => delivered::sniff_delimiter(text),
        Some(",") => b',',
        Some(";") => b';',
        Some("\\t" | "\t" | "tab") => b'\t',
        Some("|") => b'|',
        Some(other) => {
            errors.push("delimiter", format!("`{other}` is not one of , ; \\t |"));
            b','
        }
    };
    let zone_name = opts.timezone.clone();
    let tz = match zone_name.as_deref().map(TimeZone::get) {
        None => TimeZone::UTC,
        Some(Ok(tz)) => tz,
        Some(Err(_)) => {
            errors.push("timezone", format!("unknown IANA time zone `{}`", zone_name.clone().unwrap_or_default()));
            TimeZone::UTC
        }
    };
    let unit_given =
        opts.unit.as_ref().map(|u| delivered::canonical_unit(u).unwrap_or_else(|| (u.trim().to_string(), 1.0)));
    errors.finish(())?;
    let reader = || csv::ReaderBuilder::new().delimiter(delimiter).comment(Some(b'#')).flexible(true).from_reader(text);
    let mut rdr = reader();
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| Invalid::one("file", format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    if headers.len() < 2 {
        return Err(Invalid::one("file", "the header needs at least a time column and a value column"));
    }
    let mut records = rdr.records().peekable();
    let first: Option<csv::StringRecord> = records.peek().and_then(|r| r.as_ref().ok()).cloned();
    let first_cell = |c: usize| first.as_ref().and_then(|r| r.get(c)).unwrap_or("").trim().to_string();
    let named = |name: &Option<String>, field: &str| -> Result<Option<usize>, Invalid> {
        name.as_ref()
            .map(|n| {
                headers.iter().position(|h| h == n).or_else(|| delivered::find_column(&headers, &[n])).ok_or_else(
                    || Invalid::one(field, format!("no column `{n}`; the header has {}", headers.join(", "))),
                )
            })
            .transpose()
    };
    let by_names = |names: &[&str]| -> Vec<usize> {
        let normal: Vec<String> = headers.iter().map(|h| delivered::normal_name(h)).collect();
        let mut out = Vec::new();
        for n in names {
            let n = delivered::normal_name(n);
            for (i, h) in normal.iter().enumerate() {
                if *h == n && !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        out
    };
    let reads_as_time = |c: usize| match delivered::read_time(&first_cell(c)) {
        Ok(TimeCell::Epoch(v)) => TimeUnit::of(v).is_some(),
        Ok(_) => true,
        Err(_) => first.is_none(),
    };
    let date_only = |c: usize| {
        let cell = first_cell(c);
        !cell.contains(':') && matches!(delivered::read_time(&cell), Ok(TimeCell::Civil(_)))
    };
    // The event start: named, else a time column by name whose first value
    // reads as a time, else any column whose name mentions time or date.
    let start = match named(&opts.start_column, "start_column")? {
        Some(c) => c,
        None => by_names(START_NAMES)
            .into_iter()
            .find(|c| reads_as_time(*c))
            .or_else(|| headers.iter().position(|h| is_time_header(h)))
            .or_else(|| (0..headers.len()).find(|c| first.is_some() && reads_as_time(*c)))
            .ok_or_else(|| {
                Invalid::one(
                    "start_column",
                    format!("no time column by name (timestamp, start, Datum, …) in {}; name it", headers.join(", ")),
                )
            })?,
    };
    let time_col =
        by_names(TIME_OF_DAY_NAMES).into_iter().find(|c| *c != start && time_of_day(&first_cell(*c)).is_some());
    let start_cols = match time_col {
        Some(tod) if opts.timestamp_format.is_none() && date_only(start) => StartCols::DateAndTime(start, tod),
        // A day without its time of day would put every row at midnight.
        None if opts.start_column.is_none()
            && opts.timestamp_format.is_none()
            && first.is_some()
            && date_only(start)
            && opts.resolution_s.is_none_or(|r| r < 86_400) =>
        {
            return Err(Invalid::one(
                "start_column",
                format!(
                    "`{}` holds dates without a time of day, and no time column (von, Uhrzeit, time, …) was found in {}; name the columns",
                    headers[start],
                    headers.join(", ")
                ),
            ));
        }
        _ => StartCols::One(start),
    };
    let zone_col = by_names(ZONE_NAMES).into_iter().next();
    let belief_col = match named(&opts.belief_time_column, "belief_time_column")? {
        Some(c) => Some(c),
        None if opts.belief_time.is_none() => by_names(BELIEF_NAMES).into_iter().next(),
        None => None,
    };
    // Named like a version, it is never the value, even when belief_time was given.
    let version_like = by_names(BELIEF_NAMES);
    let unit_col = by_names(UNIT_NAMES).into_iter().next();
    let mut taken = vec![start];
    if let StartCols::DateAndTime(_, tod) = start_cols {
        taken.push(tod);
    }
    taken.extend(zone_col);
    taken.extend(belief_col);
    taken.extend(unit_col);
    let numeric = |c: usize| {
        let cell = first_cell(c);
        [DecimalMark::Point, DecimalMark::Comma].iter().any(|m| delivered::parse_number(&cell, *m).is_ok())
    };
    let normal: Vec<String> = headers.iter().map(|h| delivered::normal_name(h)).collect();
    let words: Vec<Vec<String>> = headers
        .iter()
        .map(|h| h.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect())
        .collect();
    let free = |c: usize| !taken.contains(&c) && !version_like.contains(&c);
    let not_value = |c: usize| words[c].iter().any(|w| NOT_VALUE_WORDS.contains(&w.as_str()));
    let value_col = match named(&opts.value_column, "value_column")? {
        Some(c) => c,
        None => by_names(VALUE_NAMES)
            .into_iter()
            .find(|c| free(*c))
            // A name that starts with a value word (`value_mw`, `Wirkleistung_kW`) or names a unit.
            .or_else(|| {
                (0..headers.len()).find(|c| {
                    free(*c)
                        && !not_value(*c)
                        && (VALUE_NAMES.iter().any(|v| normal[*c].starts_with(&delivered::normal_name(v)))
                            || delivered::unit_in_header(&headers[*c]).is_some())
                })
            })
            .or_else(|| (0..headers.len()).find(|c| free(*c) && !not_value(*c) && (first.is_none() || numeric(*c))))
            .or_else(|| {
                // The only column left holds the values, numbers or not (each row says).
                let left: Vec<usize> = (0..headers.len()).filter(|c| free(*c)).collect();
                (left.len() == 1).then(|| left[0])
            })
            .ok_or_else(|| Invalid::one("value_column", "cannot tell which column holds the values; name it"))?,
    };
    let tz = if opts.timezone.is_none() && headers[start].to_ascii_lowercase().ends_with("__utc_") {
        TimeZone::UTC
    } else {
        tz
    };
    // The unit: given, else a unit column, else the value column's header.
    let (unit, scale) = match (unit_given, unit_col) {
        (Some(u), _) => (Some(u.0), u.1),
        (None, Some(c)) if first.is_some() => {
            let cell = first_cell(c);
            match delivered::canonical_unit(&cell) {
                Some((u, f)) => (Some(u), f),
                None => {
                    return Err(Invalid::one(
                        "unit",
                        format!("the unit column `{}` says `{cell}`, which vpp does not know", headers[c]),
                    ));
                }
            }
        }
        _ => match delivered::unit_in_header(&headers[value_col]) {
            Some((u, f)) => (Some(u), f),
            None => (None, 1.0),
        },
    };
    let source = opts.source.unwrap_or(SourceKind::Forecast);
    if belief_col.is_none() && opts.belief_time.is_none() && versioned(source) {
        return Err(Invalid::one(
            "belief_time_column",
            "forecasts and schedules need their version: name a belief_time_column or give belief_time",
        ));
    }
    // The decimal mark: given, else the first value that shows one, else by delimiter.
    let mark = match opts.decimal_comma {
        Some(true) => DecimalMark::Comma,
        Some(false) => DecimalMark::Point,
        None => {
            let mut peek = reader();
            let found = delivered::decimal_mark(
                peek.records()
                    .take(1000)
                    .filter_map(Result::ok)
                    .map(|r| r.get(value_col).unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            );
            found.unwrap_or_else(|| delivered::default_mark(delimiter))
        }
    };
    let zone_label = zone_name.unwrap_or_else(|| "UTC".into());
    let mut clocks = Clocks {
        format: opts.timestamp_format.clone(),
        unit: opts.time_unit,
        file: WallClock::new(tz, zone_label),
        cells: HashMap::new(),
    };
    let unit_name = unit.clone();
    let mut parsed = Parsed { unit, ..Parsed::default() };
    let mut lines = delivered::Lines::new(text);
    // A version cell names one instant for every row that repeats it.
    let mut versions: HashMap<(String, Option<String>), Timestamp> = HashMap::new();
    let named_err = |c: usize| {
        let h = headers[c].clone();
        move |e: String| format!("{h}: {e}")
    };
    for (i, record) in records.enumerate() {
        let position = match &record {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        };
        let line = position.map_or(i + 2, |p| lines.of(p.byte() as usize));
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                parsed.rejected.push(RowError { line, reason: format!("unreadable row: {e}") });
                continue;
            }
        };
        let cell = |c: usize| record.get(c).unwrap_or("");
        let row = (|| {
            let zone = zone_col.map(cell).filter(|z| !z.trim().is_empty());
            let context = belief_col.map(cell).unwrap_or("");
            let event_start = match start_cols {
                StartCols::One(c) => clocks.instant(cell(c), zone, context).map_err(named_err(c))?,
                StartCols::DateAndTime(d, t) => {
                    clocks.date_and_time(cell(d), cell(t), zone, context).map_err(named_err(d))?
                }
            };
            // A unit column may change the scale from row to row (ct/kWh,
            // EUR/MWh; kW in an MW file), not the quantity.
            let scale = match (unit_col, &unit_name) {
                (Some(c), Some(file_unit)) if opts.unit.is_none() => {
                    match delivered::canonical_unit(cell(c)).and_then(|(u, f)| {
                        delivered::unit_ratio(&u, file_unit).or((u == *file_unit).then_some(1.0)).map(|r| f * r)
                    }) {
                        Some(f) => f,
                        None => {
                            return Err(format!(
                                "{}: `{}` does not fit the file's {file_unit}",
                                headers[c],
                                cell(c).trim()
                            ));
                        }
                    }
                }
                _ => scale,
            };
            let value = delivered::parse_number(cell(value_col), mark).map_err(named_err(value_col))? * scale;
            let belief_time = match (belief_col, opts.belief_time) {
                (Some(c), _) => {
                    let key = (cell(c).to_string(), zone.map(String::from));
                    match versions.get(&key) {
                        Some(t) => *t,
                        None => {
                            let t = clocks.instant(cell(c), zone, "").map_err(named_err(c))?;
                            versions.insert(key, t);
                            t
                        }
                    }
                }
                (None, Some(t)) => t,
                (None, None) => event_start,
            };
            let belief_time = Some(belief_time);
            Ok::<_, String>(BeliefInput { event_start, belief_time, source, value })
        })();
        match row {
            Ok(input) => parsed.rows.push(ParsedRow { line, input }),
            Err(reason) => parsed.rejected.push(RowError { line, reason }),
        }
    }
    Ok(parsed)
}

/// The column-oriented JSON form: `{"key":{...}, "column_ids":[...], "units":[...], "values":[[column], ...]}`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnFile {
    /// Identifies the asset: `asset_id` or `entity_id` (other ids are kept as they are).
    #[schema(value_type = Object)]
    pub key: BTreeMap<String, Value>,
    /// Column names: forecasts `start, end, version, <value>`; measurements `timestamp, value, quality`.
    pub column_ids: Vec<String>,
    /// Unit per column: `ms` or `s` for times, the value's unit, `-` or empty for others.
    pub units: Vec<String>,
    /// One array per column, all of equal length.
    pub values: Vec<Vec<Value>>,
}

impl ColumnFile {
    /// The asset named by the key (`asset_id` or else `entity_id`).
    pub fn asset(&self) -> Option<String> {
        ["asset_id", "entity_id"].iter().find_map(|k| self.key.get(*k)).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// The epoch unit of a time column: `given` (the `time_unit` parameter)
/// over the declared one; either must fit the values' size.
fn time_unit(declared: &str, field: &str, sample: Option<f64>, given: Option<TimeUnit>) -> Result<TimeUnit, Invalid> {
    let (unit, by) = match given {
        Some(u) => (u, "time_unit".to_string()),
        None => {
            let u = TimeUnit::parse(declared).ok_or_else(|| {
                Invalid::one(field, format!("time unit `{declared}` is not s or ms; pass time_unit=s or time_unit=ms"))
            })?;
            (u, field.to_string())
        }
    };
    match sample.map(|v| (v, TimeUnit::of(v))) {
        None => Ok(unit),
        Some((_, Some(seen))) if seen == unit => Ok(unit),
        Some((v, Some(seen))) if given.is_none() => Err(Invalid::one(
            by,
            format!(
                "declared {}, but {v} looks like {}; pass time_unit={} to read the times as {}",
                unit.words(),
                seen.words(),
                if seen == TimeUnit::S { "s" } else { "ms" },
                seen.words()
            ),
        )),
        Some((v, seen)) => Err(Invalid::one(
            by,
            format!(
                "{} were asked for, but {v} looks like {}",
                unit.words(),
                seen.map_or("no epoch time in seconds or milliseconds", TimeUnit::words)
            ),
        )),
    }
}

/// Parses the column-oriented JSON. `resolution_s` checks `end − start` of
/// forecast rows; forecasts need a `version` column. `given` (the
/// `time_unit` parameter) overrides the units the file declares for its
/// time columns, `unit` the unit it declares for its values.
pub fn parse_columns(
    file: &ColumnFile,
    resolution_s: i64,
    given: Option<TimeUnit>,
    unit: Option<&str>,
) -> Result<Parsed, Invalid> {
    let n_cols = file.column_ids.len();
    if file.units.len() != n_cols || file.values.len() != n_cols {
        return Err(Invalid::one(
            "values",
            format!("{n_cols} column_ids but {} units and {} value columns", file.units.len(), file.values.len()),
        ));
    }
    let rows = file.values.first().map_or(0, Vec::len);
    if let Some(i) = file.values.iter().position(|c| c.len() != rows) {
        return Err(Invalid::one(
            format!("values[{i}]"),
            format!("has {} rows, the first column {rows}", file.values[i].len()),
        ));
    }
    if file.asset().is_none() {
        return Err(Invalid::one("key", "name the asset with asset_id or entity_id"));
    }
    let col = |name: &str| file.column_ids.iter().position(|c| c == name);
    let measurement = col("timestamp").is_some();
    let (start_col, source) = match (col("start"), col("timestamp")) {
        (Some(c), _) => (c, SourceKind::Forecast),
        (None, Some(c)) => (c, SourceKind::LiveMeasurement),
        _ => {
            return Err(Invalid::one("column_ids", "needs a `start` (forecasts) or `timestamp` (measurements) column"));
        }
    };
    let known = ["start", "end", "version", "timestamp", "quality"];
    let value_col = file
        .column_ids
        .iter()
        .position(|c| !known.contains(&c.as_str()))
        .ok_or_else(|| Invalid::one("column_ids", "no value column"))?;
    let (end_col, version_col, quality_col) = (col("end"), col("version"), col("quality"));
    if !measurement && version_col.is_none() {
        return Err(Invalid::one("column_ids", "forecasts need a `version` column"));
    }
    let first_number = |c: usize| file.values[c].iter().find_map(Value::as_f64);
    let unit_of = |c: usize| time_unit(&file.units[c], &format!("units[{c}]"), first_number(c), given);
    let start_unit = unit_of(start_col)?;
    let end_unit = end_col.map(unit_of).transpose()?;
    let version_unit = version_col.map(unit_of).transpose()?;
    let value_unit = unit.unwrap_or(&file.units[value_col]).trim();
    let (unit, scale) = match delivered::canonical_unit(value_unit) {
        Some((u, f)) => (Some(u), f),
        None => ((!value_unit.is_empty() && value_unit != "-").then(|| value_unit.to_string()), 1.0),
    };
    let mut parsed = Parsed { unit, ..Parsed::default() };
    let time = |c: usize, u: TimeUnit, r: usize| -> Result<Timestamp, String> {
        let v = file.values[c][r].as_f64().ok_or_else(|| format!("{} is not a number", file.column_ids[c]))?;
        u.instant(v)
    };
    for r in 0..rows {
        let row = (|| {
            let event_start = time(start_col, start_unit, r)?;
            if let (Some(c), Some(f)) = (end_col, end_unit) {
                let end = time(c, f, r)?;
                if end.duration_since(event_start) != SignedDuration::from_secs(resolution_s) {
                    return Err(format!(
                        "end − start is {} but the series resolution is {resolution_s} s",
                        end.duration_since(event_start)
                    ));
                }
            }
            if let Some(c) = quality_col {
                let q = &file.values[c][r];
                let bad = q.as_str().is_some_and(|s| {
                    matches!(s.to_ascii_lowercase().as_str(), "bad" | "invalid" | "error" | "missing")
                });
                if bad {
                    return Err(format!("quality is {q}"));
                }
            }
            let value = file.values[value_col][r]
                .as_f64()
                .ok_or_else(|| format!("value {} is not a number", file.values[value_col][r]))?
                * scale;
            let belief_time = match (version_col, version_unit) {
                (Some(c), Some(f)) => Some(time(c, f, r)?),
                _ => Some(event_start),
            };
            Ok::<_, String>(BeliefInput { event_start, belief_time, source, value })
        })();
        match row {
            Ok(input) => parsed.rows.push(ParsedRow { line: r, input }),
            Err(reason) => parsed.rejected.push(RowError { line: r, reason }),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CsvOptions {
        CsvOptions { source: Some(SourceKind::LiveMeasurement), ..CsvOptions::default() }
    }

    #[test]
    fn csv_with_units_in_headers_and_bad_rows() {
        let text = b"timestamp__utc_,power_kw_\n2026-11-20T10:00:00Z,1.5\n2026-11-20 10:15,2\nnot a time,3\n2026-11-20T10:45:00Z,lots\n";
        let p = parse_csv(text, &opts()).unwrap();
        assert_eq!(p.unit.as_deref(), Some("kW"));
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[1].input.event_start.to_string(), "2026-11-20T10:15:00Z");
        assert_eq!(p.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn csv_german_dialect() {
        let text = "Datum;Leistung_MW_;Version\n20.11.2026 11:00;1,25;19.11.2026 08:00\n".as_bytes();
        let o = CsvOptions {
            delimiter: Some(";".into()),
            decimal_comma: Some(true),
            timestamp_format: Some("%d.%m.%Y %H:%M".into()),
            timezone: Some("Europe/Berlin".into()),
            belief_time_column: Some("Version".into()),
            source: Some(SourceKind::Forecast),
            ..opts()
        };
        let p = parse_csv(text, &o).unwrap();
        assert_eq!(p.unit.as_deref(), Some("MW"));
        let row = &p.rows[0].input;
        assert_eq!(row.event_start.to_string(), "2026-11-20T10:00:00Z");
        assert_eq!(row.value, 1.25);
        assert_eq!(row.belief_time.unwrap().to_string(), "2026-11-19T07:00:00Z");
    }

    #[test]
    fn forecasts_need_a_version() {
        let o = CsvOptions { source: Some(SourceKind::Forecast), ..opts() };
        assert_eq!(parse_csv(b"time,v\n2026-11-20T10:00:00Z,1\n", &o).unwrap_err().0[0].field, "belief_time_column");
        let o = CsvOptions { belief_time: Some("2026-11-19T00:00:00Z".parse().unwrap()), ..o };
        let p = parse_csv(b"time,v\n2026-11-20T10:00:00Z,1\n", &o).unwrap();
        assert_eq!(p.rows[0].input.belief_time.unwrap().to_string(), "2026-11-19T00:00:00Z");
    }

    #[test]
    fn csv_malformed_as_a_whole() {
        assert_eq!(parse_csv(b"only\n1\n", &opts()).unwrap_err().0[0].field, "file");
        let o = CsvOptions { value_column: Some("nope".into()), ..opts() };
        assert_eq!(parse_csv(b"time,v\n", &o).unwrap_err().0[0].field, "value_column");
        let o = CsvOptions { delimiter: Some("#".into()), ..opts() };
        assert_eq!(parse_csv(b"time,v\n", &o).unwrap_err().0[0].field, "delimiter");
    }

    fn starts(p: &Parsed) -> Vec<String> {
        p.rows.iter().map(|r| r.input.event_start.to_string()).collect()
    }

    #[test]
    fn a_dso_file_with_utc_suffixed_times_needs_no_flags() {
        let text = b"timestamp,value_mw\n2025-06-08 00:00:00.000000 UTC,1.5\n2025-06-08 00:15:00.000000 UTC,2\n";
        let p = parse_csv(text, &opts()).unwrap();
        assert_eq!(starts(&p), ["2025-06-08T00:00:00Z", "2025-06-08T00:15:00Z"]);
        assert_eq!(p.unit.as_deref(), Some("MW"));
        assert!(p.rejected.is_empty());
    }

    #[test]
    fn quoted_decimal_commas_with_space_thousands_in_a_comma_file() {
        let text =
            "\"Zeit\",\"Leistung (kW)\"\n\"2025-06-08T00:00:00Z\",\"4 433,00\"\n\"2025-06-08T00:15:00Z\",\"12,5\"\n";
        let p = parse_csv(text.as_bytes(), &opts()).unwrap();
        assert_eq!(p.rows.iter().map(|r| r.input.value).collect::<Vec<_>>(), [4433.0, 12.5]);
        assert_eq!(p.unit.as_deref(), Some("kW"));
    }

    #[test]
    fn a_regulator_export_with_category_columns_before_the_price() {
        let text = "Datum;von;Zeitzone von;bis;Zeitzone bis;Datenkategorie;Datentyp;Einheit;Wert\n\
            25.10.2026;02:00;MESZ;02:15;MESZ;Ausgleichsenergie;Preis;ct/kWh;12,345\n\
            25.10.2026;02:00;MEZ;02:15;MEZ;Ausgleichsenergie;Preis;ct/kWh;-1,5\n\
            25.10.2026;02:15;MEZ;02:30;MEZ;Ausgleichsenergie;Preis;EUR/MWh;7\n\
            25.10.2026;02:30;MEZ;02:45;MEZ;Ausgleichsenergie;Preis;MW;7\n";
        let o = CsvOptions { source: Some(SourceKind::Price), ..CsvOptions::default() };
        let p = parse_csv(text.as_bytes(), &o).unwrap();
        assert_eq!(starts(&p), ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z"]);
        assert_eq!(p.unit.as_deref(), Some("EUR/MWh"));
        // ct/kWh × 10 = EUR/MWh.
        assert_eq!(p.rows.iter().map(|r| r.input.value).collect::<Vec<_>>(), [123.45, -15.0, 7.0]);
        assert_eq!(p.rejected[0].line, 5);
        assert!(p.rejected[0].reason.contains("does not fit the file's EUR/MWh"), "{:?}", p.rejected);
    }

    #[test]
    fn wall_clock_files_keep_the_repeated_autumn_hour_and_refuse_the_missing_spring_hour() {
        let o = CsvOptions { timezone: Some("Europe/Berlin".into()), source: Some(SourceKind::Price), ..opts() };
        let text = b"time;price\n2026-10-25 01:45;1\n2026-10-25 02:00;2\n2026-10-25 02:45;3\n2026-10-25 02:00;4\n2026-10-25 02:45;5\n2026-10-25 03:00;6\n";
        let p = parse_csv(text, &o).unwrap();
        assert_eq!(
            starts(&p),
            [
                "2026-10-24T23:45:00Z",
                "2026-10-25T00:00:00Z",
                "2026-10-25T00:45:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T01:45:00Z",
                "2026-10-25T02:00:00Z"
            ]
        );
        let spring = b"time;price\n2026-03-29 01:45;1\n2026-03-29 02:00;2\n2026-03-29 03:00;3\n";
        let p = parse_csv(spring, &o).unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rejected[0].line, 3);
        assert!(p.rejected[0].reason.contains("does not exist in Europe/Berlin"), "{}", p.rejected[0].reason);
    }

    #[test]
    fn epoch_times_by_size_or_by_the_time_unit_given() {
        let p = parse_csv(b"ts,kw\n1749340800000,1\n1749341700,2\n", &opts()).unwrap();
        assert_eq!(starts(&p), ["2025-06-08T00:00:00Z", "2025-06-08T00:15:00Z"]);
        let o = CsvOptions { time_unit: Some(TimeUnit::Ms), ..opts() };
        let p = parse_csv(b"ts,kw\n1749340800000,1\n", &o).unwrap();
        assert_eq!(starts(&p), ["2025-06-08T00:00:00Z"]);
    }

    #[test]
    fn a_version_column_is_found_by_name() {
        let o = CsvOptions { source: Some(SourceKind::Forecast), ..CsvOptions::default() };
        let p = parse_csv(b"start,version,forecast_mw\n2025-06-08T10:00Z,2025-06-07T09:00Z,3\n", &o).unwrap();
        assert_eq!(p.rows[0].input.belief_time.unwrap().to_string(), "2025-06-07T09:00:00Z");
        assert_eq!(p.unit.as_deref(), Some("MW"));
    }

    #[test]
    fn review_cases_real_files_bring() {
        // Three decimals after 0 in a `;` file are decimals.
        let p = parse_csv(b"time;kw\n2025-06-08T00:00:00Z;0.125\n2025-06-08T00:15:00Z;1.500\n", &opts()).unwrap();
        assert_eq!(p.rows.iter().map(|r| r.input.value).collect::<Vec<_>>(), [0.125, 1.5]);
        // An id column is not the value; a unit-suffixed name is.
        let p = parse_csv(b"timestamp,meter_id,value_mw\n2025-06-08T00:00:00Z,4711,1.5\n", &opts()).unwrap();
        assert_eq!((p.rows[0].input.value, p.unit.as_deref()), (1.5, Some("MW")));
        // A version column is never the value, even with belief_time given.
        let o = CsvOptions { belief_time: Some("2025-06-07T00:00:00Z".parse().unwrap()), ..opts() };
        let p = parse_csv(b"time,version,v\n2025-06-08T00:00:00Z,1749340800,3\n", &o).unwrap();
        assert_eq!(p.rows[0].input.value, 3.0);
        // A day without a time of day is refused, not put at midnight.
        let err = parse_csv(b"Datum;Wert\n08.06.2025;1\n08.06.2025;2\n", &opts()).unwrap_err();
        assert_eq!(err.0[0].field, "start_column");
        let daily = CsvOptions { resolution_s: Some(86_400), ..opts() };
        assert_eq!(parse_csv(b"Datum;Wert\n08.06.2025;1\n", &daily).unwrap().rows.len(), 1);
        // A time range column gives the start.
        let p = parse_csv(b"Datum;Zeit;Wert\n08.06.2025;00:15 - 00:30;1\n", &opts()).unwrap();
        assert_eq!(starts(&p), ["2025-06-08T00:15:00Z"]);
        // Lines count past comments; errors name their column.
        let p = parse_csv(b"# meter export\ntime,kw\n\n# gap\n2025-06-08T00:00:00Z,x\n", &opts()).unwrap();
        assert_eq!(p.rejected[0].line, 5);
        assert!(p.rejected[0].reason.starts_with("kw: "), "{}", p.rejected[0].reason);
        // A version in the repeated hour is one instant for all its rows.
        let o = CsvOptions { timezone: Some("Europe/Berlin".into()), source: Some(SourceKind::Forecast), ..opts() };
        let text = b"start;version;kw\n2026-10-25 10:00;2026-10-25 02:30;1\n2026-10-25 10:15;2026-10-25 02:30;2\n2026-10-25 10:30;2026-10-25 02:30;3\n";
        let p = parse_csv(text, &o).unwrap();
        assert_eq!(p.rows.len(), 3, "{:?}", p.rejected);
        assert!(p.rows.iter().all(|r| r.input.belief_time == p.rows[0].input.belief_time));
        // A kW row in an MW file is converted; a price row is refused.
        let p = parse_csv(b"time;unit;value\n2025-06-08T00:00:00Z;MW;1\n2025-06-08T00:15:00Z;kW;500\n2025-06-08T00:30:00Z;EUR/MWh;5\n", &opts()).unwrap();
        assert_eq!(p.rows.iter().map(|r| r.input.value).collect::<Vec<_>>(), [1.0, 0.5]);
        assert_eq!(p.rejected[0].line, 4);
    }

    fn columns(units: [&str; 4], start: f64) -> ColumnFile {
        ColumnFile {
            key: [("asset_id".to_string(), Value::from("A-7"))].into(),
            column_ids: vec!["start".into(), "end".into(), "version".into(), "power".into()],
            units: units.iter().map(|u| u.to_string()).collect(),
            values: vec![
                vec![Value::from(start), Value::from(start + 900_000.0)],
                vec![Value::from(start + 900_000.0), Value::from(start + 2_000_000.0)],
                vec![Value::from(start - 3_600_000.0), Value::from(start - 3_600_000.0)],
                vec![Value::from(1.5), Value::from(2.0)],
            ],
        }
    }

    #[test]
    fn column_json_forecasts() {
        let start = 1_795_168_800_000.0; // 2026-11-20T10:00:00Z in ms
        let p = parse_columns(&columns(["ms", "ms", "ms", "kW"], start), 900, None, None).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].input.event_start.to_string(), "2026-11-20T10:00:00Z");
        assert_eq!(p.rows[0].input.belief_time.unwrap().to_string(), "2026-11-20T09:00:00Z");
        assert_eq!(p.rejected[0].line, 1, "end − start is not 15 minutes");
        assert_eq!(p.unit.as_deref(), Some("kW"));
        let err = parse_columns(&columns(["s", "ms", "ms", "kW"], start), 900, None, None).unwrap_err();
        assert!(err.0[0].message.contains("looks like milliseconds; pass time_unit=ms"), "{err}");
        let p = parse_columns(&columns(["s", "s", "s", "MWH"], start), 900, Some(TimeUnit::Ms), None).unwrap();
        assert_eq!(p.rows[0].input.event_start.to_string(), "2026-11-20T10:00:00Z");
        assert_eq!(p.unit.as_deref(), Some("MWh"));
        let err = parse_columns(&columns(["ms", "ms", "ms", "kW"], start), 900, Some(TimeUnit::S), None).unwrap_err();
        assert_eq!(err.0[0].field, "time_unit");
        let mut f = columns(["ms", "ms", "ms", "kW"], start);
        f.values[3].pop();
        assert_eq!(parse_columns(&f, 900, None, None).unwrap_err().0[0].field, "values[3]");
    }

    #[test]
    fn column_json_measurements() {
        let f = ColumnFile {
            key: [("entity_id".to_string(), Value::from(42))].into(),
            column_ids: vec!["timestamp".into(), "value".into(), "quality".into()],
            units: vec!["s".into(), "MW".into(), "-".into()],
            values: vec![
                vec![Value::from(1_795_168_800i64), Value::from(1_795_168_860i64)],
                vec![Value::from(0.5), Value::from(0.6)],
                vec![Value::from("good"), Value::from("bad")],
            ],
        };
        assert_eq!(f.asset().as_deref(), Some("42"));
        let p = parse_columns(&f, 900, None, None).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].input.source, SourceKind::LiveMeasurement);
        assert_eq!(p.rejected[0].reason, "quality is \"bad\"");
    }
}
