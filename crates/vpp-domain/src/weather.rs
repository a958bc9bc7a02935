//! Weather forecasts as delivered: Open-Meteo's JSON answer, read into
//! columns of weather quantities for one weather point.
//!
//! The format (open-meteo.com, forecast and historical APIs): `latitude`,
//! `longitude`, `timezone`, `utc_offset_seconds`, and an `hourly` (or
//! `minutely_15`) object of equal-length arrays: `time` and one array per
//! variable, with the units in `hourly_units`. Times are local times of
//! `timezone` without an offset (`2026-12-06T13:00`), or UNIX seconds with
//! `timeformat=unixtime`. Radiation variables are the mean over the
//! *preceding* interval, so a value stamped 13:00 belongs to [12:00, 13:00);
//! the other variables are instantaneous and belong to the interval they
//! start. Missing values are `null` and are skipped.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::error::Invalid;
use crate::series::{Quantity, unit_factor};

/// The Open-Meteo variables vpp reads: (name, quantity, mean over the
/// preceding interval?).
pub const OPEN_METEO_VARIABLES: [(&str, Quantity, bool); 9] = [
    ("shortwave_radiation", Quantity::IrradianceGhi, true),
    ("direct_normal_irradiance", Quantity::IrradianceDni, true),
    ("diffuse_radiation", Quantity::IrradianceDhi, true),
    ("temperature_2m", Quantity::Temperature, false),
    ("wind_speed_10m", Quantity::WindSpeed10m, false),
    ("wind_speed_100m", Quantity::WindSpeed100m, false),
    ("surface_pressure", Quantity::Pressure, false),
    ("cloud_cover", Quantity::CloudCover, false),
    ("wind_direction_10m", Quantity::WindDirection10m, false),
];

/// One quantity's values from a weather file, in the stored unit.
#[derive(Debug, Clone, PartialEq)]
pub struct WeatherColumn {
    /// What it is.
    pub quantity: Quantity,
    /// Its name in the file.
    pub variable: String,
    /// (interval start µs, value) for every non-null value.
    pub values: Vec<(i64, f64)>,
    /// Values that were `null`.
    pub nulls: usize,
}

/// A weather file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct WeatherFile {
    /// The block read, `hourly` or `minutely_15` (for naming fields).
    pub block: &'static str,
    /// Latitude of the grid point, degrees.
    pub latitude: f64,
    /// Longitude of the grid point, degrees.
    pub longitude: f64,
    /// Interval length, seconds.
    pub step_s: i64,
    /// The columns vpp reads.
    pub columns: Vec<WeatherColumn>,
    /// Variables in the file that vpp does not read.
    pub ignored: Vec<String>,
}

fn number(v: &Value, field: &str) -> Result<f64, Invalid> {
    v.as_f64().ok_or_else(|| Invalid::one(field, "must be a number"))
}

/// Reads an Open-Meteo answer; every problem names its field, and nothing is
/// returned unless the whole file reads.
pub fn parse_open_meteo(body: &[u8]) -> Result<WeatherFile, Invalid> {
    let root: Value = serde_json::from_slice(body).map_err(|e| Invalid::one("file", format!("not JSON: {e}")))?;
    let latitude = number(&root["latitude"], "latitude")?;
    let longitude = number(&root["longitude"], "longitude")?;
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(Invalid::one("latitude", "must lie within ±90°"));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(Invalid::one("longitude", "must lie within ±180°"));
    }
    let (block, units_block) = if root["minutely_15"].is_object() && !root["hourly"].is_object() {
        ("minutely_15", "minutely_15_units")
    } else {
        ("hourly", "hourly_units")
    };
    let data = root[block].as_object().ok_or_else(|| Invalid::one("hourly", "an `hourly` object is needed"))?;
    let times = data
        .get("time")
        .and_then(Value::as_array)
        .ok_or_else(|| Invalid::one(format!("{block}.time"), "an array of times is needed"))?;
    let tz = zone(&root)?;
    let starts: Vec<i64> = times
        .iter()
        .enumerate()
        .map(|(i, t)| instant(t, &tz).map_err(|e| Invalid::one(format!("{block}.time[{i}]"), e)))
        .collect::<Result<_, _>>()?;
    if starts.len() < 2 {
        return Err(Invalid::one(format!("{block}.time"), "at least two times are needed"));
    }
    let step_us = starts[1] - starts[0];
    if let Some(i) = starts.windows(2).position(|w| w[1] - w[0] != step_us) {
        return Err(Invalid::one(format!("{block}.time[{}]", i + 1), "times must be evenly spaced"));
    }
    if step_us <= 0 || step_us % 60_000_000 != 0 || 86_400_000_000 % step_us != 0 {
        return Err(Invalid::one(format!("{block}.time"), "the spacing must divide a day into whole minutes"));
    }
    // Series keep values on the UTC grid of their interval; a zone with a
    // half-hour offset puts hourly times off it.
    if starts[0].rem_euclid(step_us) != 0 {
        return Err(Invalid::one(
            format!("{block}.time[0]"),
            "times must fall on the UTC grid of their spacing (whole hours for hourly data): ask for timezone=GMT",
        ));
    }
    let mut columns = Vec::new();
    let mut ignored = Vec::new();
    for (name, values) in data.iter().filter(|(name, _)| name.as_str() != "time") {
        let Some(&(_, quantity, preceding)) = OPEN_METEO_VARIABLES.iter().find(|(v, _, _)| v == name) else {
            ignored.push(name.clone());
            continue;
        };
        let field = format!("{block}.{name}");
        let values = values.as_array().ok_or_else(|| Invalid::one(&field, "must be an array"))?;
        if values.len() != starts.len() {
            return Err(Invalid::one(&field, format!("has {} values for {} times", values.len(), starts.len())));
        }
        let unit = root[units_block][name.as_str()].as_str().unwrap_or(default_unit(quantity));
        let factor = unit_factor(quantity, "", unit).map_err(|e| Invalid::one(format!("{units_block}.{name}"), e))?;
        let mut column = WeatherColumn { quantity, variable: name.clone(), values: Vec::new(), nulls: 0 };
        for (i, v) in values.iter().enumerate() {
            if v.is_null() {
                column.nulls += 1;
                continue;
            }
            let x = number(v, &format!("{field}[{i}]"))?;
            let start = if preceding { starts[i] - step_us } else { starts[i] };
            column.values.push((start, x * factor));
        }
        columns.push(column);
    }
    if columns.is_empty() {
        let known: Vec<&str> = OPEN_METEO_VARIABLES.iter().map(|v| v.0).collect();
        return Err(Invalid::one(block, format!("no variable vpp reads; ask for any of {}", known.join(", "))));
    }
    Ok(WeatherFile { block, latitude, longitude, step_s: step_us / 1_000_000, columns, ignored })
}

/// Open-Meteo's default unit of each quantity, when `hourly_units` is absent.
fn default_unit(quantity: Quantity) -> &'static str {
    match quantity {
        Quantity::WindSpeed10m | Quantity::WindSpeed100m => "km/h",
        Quantity::Pressure => "hPa",
        Quantity::Temperature => "°C",
        Quantity::CloudCover => "%",
        Quantity::WindDirection10m => "°",
        _ => "W/m²",
    }
}

/// The zone of the file's local times. Open-Meteo shifts every time of a
/// file by the one `utc_offset_seconds` current when it answered, whatever
/// daylight saving does within the file, so that offset is the truth; the
/// zone's name counts only when the offset is missing.
fn zone(root: &Value) -> Result<TimeZone, Invalid> {
    if let Some(offset) = root.get("utc_offset_seconds").filter(|v| !v.is_null()) {
        let seconds = offset.as_i64().and_then(|s| i32::try_from(s).ok());
        let offset = seconds
            .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
            .ok_or_else(|| Invalid::one("utc_offset_seconds", "must be seconds within ±25 hours"))?;
        return Ok(TimeZone::fixed(offset));
    }
    match root["timezone"].as_str() {
        None | Some("GMT" | "UTC") => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|_| Invalid::one("timezone", format!("unknown time zone `{name}`"))),
    }
}

/// A time of the file as µs: UNIX seconds, or a local time in `tz`.
fn instant(t: &Value, tz: &TimeZone) -> Result<i64, String> {
    if let Some(seconds) = t.as_i64() {
        return Timestamp::from_second(seconds).map(|ts| ts.as_microsecond()).map_err(|e| e.to_string());
    }
    let text = t.as_str().ok_or("must be a time such as 2026-12-06T13:00 or UNIX seconds")?;
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts.as_microsecond());
    }
    let local: DateTime = text.parse().map_err(|_| format!("`{text}` is not a time such as 2026-12-06T13:00"))?;
    let zoned = local.to_zoned(tz.clone()).map_err(|e| e.to_string())?;
    Ok(zoned.timestamp().as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(extra: Value) -> Vec<u8> {
        let mut body = json!({
            "latitude": 52.52, "longitude": 13.419998, "generationtime_ms": 0.2, "utc_offset_seconds": 0,
            "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 38.0,
            "hourly_units": {"time": "iso8601", "temperature_2m": "°C", "wind_speed_10m": "km/h",
                             "shortwave_radiation": "W/m²", "surface_pressure": "hPa"},
            "hourly": {
                "time": ["2026-12-06T10:00", "2026-12-06T11:00", "2026-12-06T12:00"],
                "temperature_2m": [3.1, 3.9, null],
                "wind_speed_10m": [18.0, 21.6, 25.2],
                "shortwave_radiation": [80.0, 120.0, 110.0],
                "surface_pressure": [1012.5, 1012.0, 1011.4],
                "precipitation": [0.0, 0.1, 0.0]
            }
        });
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        serde_json::to_vec(&body).expect("json")
    }

    /// 2026-12-06T10:00Z, µs.
    const TEN: i64 = 1_796_551_200_000_000;
    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn an_open_meteo_answer_reads_into_columns() {
        let w = parse_open_meteo(&file(json!({}))).expect("reads");
        assert_eq!((w.latitude, w.longitude, w.step_s), (52.52, 13.419998, 3600));
        assert_eq!(w.ignored, vec!["precipitation".to_string()]);
        let ten = "2026-12-06T10:00:00Z".parse::<Timestamp>().expect("time").as_microsecond();
        assert_eq!(ten, TEN);
        let col = |q| w.columns.iter().find(|c| c.quantity == q).expect("column");
        // Instantaneous: at the interval they start; nulls skipped and counted.
        assert_eq!(col(Quantity::Temperature).values, vec![(ten, 3.1), (ten + HOUR, 3.9)]);
        assert_eq!(col(Quantity::Temperature).nulls, 1);
        // km/h to m/s, hPa to Pa.
        assert!((col(Quantity::WindSpeed10m).values[1].1 - 6.0).abs() < 1e-12);
        assert_eq!(col(Quantity::Pressure).values[0].1, 101_250.0);
        // Radiation is the mean of the preceding hour.
        assert_eq!(col(Quantity::IrradianceGhi).values[0], (ten - HOUR, 80.0));
    }

    #[test]
    fn the_offset_open_meteo_applied_wins_over_the_zone_name() {
        // A summer answer for winter dates: Open-Meteo shifted by +02:00.
        let w =
            parse_open_meteo(&file(json!({"timezone": "Europe/Berlin", "utc_offset_seconds": 7200}))).expect("reads");
        let t = w.columns.iter().find(|c| c.quantity == Quantity::Temperature).expect("temperature");
        assert_eq!(t.values[0].0, TEN - 2 * HOUR);
    }

    #[test]
    fn local_times_and_unix_seconds() {
        let berlin =
            parse_open_meteo(&file(json!({"timezone": "Europe/Berlin", "utc_offset_seconds": 3600}))).expect("reads");
        let t = berlin.columns.iter().find(|c| c.quantity == Quantity::Temperature).expect("temperature");
        assert_eq!(t.values[0].0, TEN - HOUR, "10:00 in Berlin is 09:00 UTC");
        let mut unix = serde_json::from_slice::<Value>(&file(json!({}))).expect("json");
        unix["hourly"]["time"] = json!([1_796_551_200, 1_796_554_800, 1_796_558_400]);
        let w = parse_open_meteo(&serde_json::to_vec(&unix).expect("json")).expect("reads");
        assert_eq!(w.columns[0].values.len() + w.columns[0].nulls, 3);
    }

    #[test]
    fn bad_files_name_the_field() {
        let field = |body: Vec<u8>| parse_open_meteo(&body).expect_err("refused").0[0].field.clone();
        assert_eq!(field(b"{".to_vec()), "file");
        assert_eq!(field(file(json!({"latitude": "north"}))), "latitude");
        assert_eq!(field(file(json!({"longitude": 200.0}))), "longitude");
        assert_eq!(field(file(json!({"utc_offset_seconds": 19_800}))), "hourly.time[0]", "India's +05:30");
        assert_eq!(
            field(file(json!({"hourly": {"time": ["2026-12-06T10:00", "soon"], "temperature_2m": [1, 2]}}))),
            "hourly.time[1]"
        );
        assert_eq!(
            field(file(json!({"hourly": {"time": ["2026-12-06T10:00", "2026-12-06T11:00"], "temperature_2m": [1]}}))),
            "hourly.temperature_2m"
        );
        assert_eq!(field(file(json!({"hourly_units": {"temperature_2m": "K"}}))), "hourly_units.temperature_2m");
        assert_eq!(
            field(file(json!({"hourly": {"time": ["2026-12-06T10:00", "2026-12-06T11:00"], "rain": [0, 0]}}))),
            "hourly"
        );
        assert_eq!(
            field(file(json!({"hourly": {"time": ["2026-12-06T10:00", "2026-12-06T11:00", "2026-12-06T13:00"],
                                         "temperature_2m": [1, 2, 3]}}))),
            "hourly.time[2]"
        );
    }
}
