//! Parsing series files into beliefs: CSV with configurable dialect, and the
//! column-oriented JSON that VPP vendors deliver.
//!
//! A file malformed as a whole (no header, unknown column, columns of unequal
//! length, declared time unit contradicted by the values) is an error and
//! nothing is stored. Otherwise each row is accepted or rejected on its own,
//! with its line (CSV, 1-based, header = line 1) or row index (JSON) and reason.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

/// CSV dialect and mapping.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Field delimiter: `,` (default), `;`, `\t` or `|`.
    pub delimiter: Option<String>,
    /// Numbers use a decimal comma (`1,5`); needs a delimiter other than `,`.
    #[serde(default)]
    pub decimal_comma: bool,
    /// strftime format of timestamps, e.g. `%d.%m.%Y %H:%M`; default RFC 3339 or `YYYY-MM-DD HH:MM[:SS]`.
    pub timestamp_format: Option<String>,
    /// Zone of timestamps without an offset (IANA); default UTC, or UTC when the header says `__utc_`.
    pub timezone: Option<String>,
    /// Column holding the event start; default the first column whose name mentions time, start or date.
    pub start_column: Option<String>,
    /// Column holding the value; default the first other column.
    pub value_column: Option<String>,
    /// Column holding the belief time (version).
    pub belief_time_column: Option<String>,
    /// Belief time of every row when there is no such column. Forecasts and
    /// schedules need one of the two, so importing a file twice stores it once;
    /// measurements, prices and flags default to the event start.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub belief_time: Option<Timestamp>,
    /// Source kind of every row; default forecast.
    pub source: Option<SourceKind>,
    /// Unit of the values; default from the header (`power_kw_`, `energy_mwh_`) or the series unit.
    pub unit: Option<String>,
}

/// Unit named by a header suffix such as `power_kw_` or `energy__MWh_`.
pub fn unit_from_header(header: &str) -> Option<&'static str> {
    let h = header.trim().to_ascii_lowercase();
    let h = h.trim_end_matches('_');
    [("_mwh", "MWh"), ("_kwh", "kWh"), ("_wh", "Wh"), ("_mw", "MW"), ("_kw", "kW"), ("_w", "W")]
        .into_iter()
        .find(|(suffix, _)| h.ends_with(suffix))
        .map(|(_, unit)| unit)
}

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

fn parse_number(text: &str, decimal_comma: bool) -> Result<f64, String> {
    let t = text.trim();
    let normal = if decimal_comma { t.replace('.', "").replace(',', ".") } else { t.to_string() };
    match normal.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{t}` is not a number")),
    }
}

/// Kinds whose beliefs are versions of a prediction or plan.
fn versioned(source: SourceKind) -> bool {
    matches!(source, SourceKind::Forecast | SourceKind::Schedule)
}

/// Parses CSV text.
pub fn parse_csv(text: &[u8], opts: &CsvOptions) -> Result<Parsed, Invalid> {
    let mut errors = Errors::default();
    let delimiter = match opts.delimiter.as_deref().unwrap_or(",") {
        "," => b',',
        ";" => b';',
        "\\t" | "\t" | "tab" => b'\t',
        "|" => b'|',
        other => {
            errors.push("delimiter", format!("`{other}` is not one of , ; \\t |"));
            b','
        }
    };
    errors.check(
        !(opts.decimal_comma && delimiter == b','),
        "decimal_comma",
        "a decimal comma needs another delimiter, e.g. ;",
    );
    let zone_name = opts.timezone.clone();
    let tz = match zone_name.as_deref().map(TimeZone::get) {
        None => TimeZone::UTC,
        Some(Ok(tz)) => tz,
        Some(Err(_)) => {
            errors.push("timezone", format!("unknown IANA time zone `{}`", zone_name.unwrap_or_default()));
            TimeZone::UTC
        }
    };
    errors.finish(())?;
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).comment(Some(b'#')).flexible(true).from_reader(text);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Invalid::one("file", format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    if headers.len() < 2 {
        return Err(Invalid::one("file", "the header needs at least a time column and a value column"));
    }
    let find = |name: &Option<String>, field: &str, fallback: Option<usize>| -> Result<usize, Invalid> {
        match name {
            Some(n) => headers
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| Invalid::one(field, format!("no column `{n}`; the header has {}", headers.join(", ")))),
            None => fallback.ok_or_else(|| Invalid::one(field, "cannot tell which column this is; name it")),
        }
    };
    let start_col = find(&opts.start_column, "start_column", headers.iter().position(|h| is_time_header(h)))?;
    let belief_col = opts
        .belief_time_column
        .as_ref()
        .map(|_| find(&opts.belief_time_column, "belief_time_column", None))
        .transpose()?;
    let value_col = find(
        &opts.value_column,
        "value_column",
        (0..headers.len()).find(|i| *i != start_col && Some(*i) != belief_col),
    )?;
    let tz = if opts.timezone.is_none() && headers[start_col].to_ascii_lowercase().ends_with("__utc_") {
        TimeZone::UTC
    } else {
        tz
    };
    let unit = opts.unit.clone().or_else(|| unit_from_header(&headers[value_col]).map(String::from));
    let source = opts.source.unwrap_or(SourceKind::Forecast);
    if belief_col.is_none() && opts.belief_time.is_none() && versioned(source) {
        return Err(Invalid::one(
            "belief_time_column",
            "forecasts and schedules need their version: name a belief_time_column or give belief_time",
        ));
    }
    let mut parsed = Parsed { unit, ..Parsed::default() };
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                parsed.rejected.push(RowError { line, reason: format!("unreadable row: {e}") });
                continue;
            }
        };
        let cell = |c: usize| record.get(c).unwrap_or("");
        let row = (|| {
            let event_start = parse_timestamp(cell(start_col), opts.timestamp_format.as_deref(), &tz)?;
            let value = parse_number(cell(value_col), opts.decimal_comma)?;
            let belief_time = match (belief_col, opts.belief_time) {
                (Some(c), _) => parse_timestamp(cell(c), opts.timestamp_format.as_deref(), &tz)?,
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

/// Epoch seconds of 1990 and 2100, for telling seconds from milliseconds.
const EPOCH_S_RANGE: std::ops::Range<f64> = 631_152_000.0..4_102_444_800.0;

fn epoch_factor(unit: &str, field: &str, sample: Option<f64>) -> Result<i64, Invalid> {
    let (factor, name) = match unit {
        "s" => (1_000_000, "seconds"),
        "ms" => (1_000, "milliseconds"),
        other => return Err(Invalid::one(field, format!("time unit `{other}` is not s or ms"))),
    };
    if let Some(v) = sample {
        let seconds = if unit == "s" { v } else { v / 1000.0 };
        if !EPOCH_S_RANGE.contains(&seconds) {
            let guess = if EPOCH_S_RANGE.contains(&(v / 1000.0)) {
                "milliseconds"
            } else if EPOCH_S_RANGE.contains(&v) {
                "seconds"
            } else {
                "no epoch time"
            };
            return Err(Invalid::one(field, format!("declared {name}, but {v} looks like {guess}")));
        }
    }
    Ok(factor)
}

/// Parses the column-oriented JSON. `resolution_s` checks `end − start` of
/// forecast rows; forecasts need a `version` column.
pub fn parse_columns(file: &ColumnFile, resolution_s: i64) -> Result<Parsed, Invalid> {
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
    let start_factor = epoch_factor(&file.units[start_col], &format!("units[{start_col}]"), first_number(start_col))?;
    let end_factor =
        end_col.map(|c| epoch_factor(&file.units[c], &format!("units[{c}]"), first_number(c))).transpose()?;
    let version_factor =
        version_col.map(|c| epoch_factor(&file.units[c], &format!("units[{c}]"), first_number(c))).transpose()?;
    let value_unit = file.units[value_col].trim();
    let mut parsed = Parsed {
        unit: (!value_unit.is_empty() && value_unit != "-").then(|| value_unit.to_string()),
        ..Parsed::default()
    };
    let time = |c: usize, f: i64, r: usize| -> Result<Timestamp, String> {
        let v = file.values[c][r].as_f64().ok_or_else(|| format!("{} is not a number", file.column_ids[c]))?;
        Timestamp::from_microsecond((v * f as f64).round() as i64).map_err(|e| e.to_string())
    };
    for r in 0..rows {
        let row = (|| {
            let event_start = time(start_col, start_factor, r)?;
            if let (Some(c), Some(f)) = (end_col, end_factor) {
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
                .ok_or_else(|| format!("value {} is not a number", file.values[value_col][r]))?;
            let belief_time = match (version_col, version_factor) {
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
        CsvOptions {
            delimiter: None,
            decimal_comma: false,
            timestamp_format: None,
            timezone: None,
            start_column: None,
            value_column: None,
            belief_time_column: None,
            belief_time: None,
            source: Some(SourceKind::LiveMeasurement),
            unit: None,
        }
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
            decimal_comma: true,
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
        let o = CsvOptions { decimal_comma: true, ..opts() };
        assert_eq!(parse_csv(b"time,v\n", &o).unwrap_err().0[0].field, "decimal_comma");
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
        let p = parse_columns(&columns(["ms", "ms", "ms", "kW"], start), 900).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].input.event_start.to_string(), "2026-11-20T10:00:00Z");
        assert_eq!(p.rows[0].input.belief_time.unwrap().to_string(), "2026-11-20T09:00:00Z");
        assert_eq!(p.rejected[0].line, 1, "end − start is not 15 minutes");
        assert_eq!(p.unit.as_deref(), Some("kW"));
        let err = parse_columns(&columns(["s", "ms", "ms", "kW"], start), 900).unwrap_err();
        assert!(err.0[0].message.contains("looks like milliseconds"), "{err}");
        let mut f = columns(["ms", "ms", "ms", "kW"], start);
        f.values[3].pop();
        assert_eq!(parse_columns(&f, 900).unwrap_err().0[0].field, "values[3]");
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
        let p = parse_columns(&f, 900).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].input.source, SourceKind::LiveMeasurement);
        assert_eq!(p.rejected[0].reason, "quality is \"bad\"");
    }
}
