//! Load curves of a site: 15-minute average load in kW, imported from CSV,
//! labelled with TOU periods, and summed up as profiles and statistics.
//!
//! Gaps are reported and never filled; a time given twice refuses the file.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::tou::{Labeller, Period, SLOTS_PER_DAY};
use crate::market::files::{finish, split_csv, text};
use crate::series_import::{RowError, parse_timestamp};

/// Length of a load interval, seconds.
pub const INTERVAL_S: i64 = 900;
/// Hours per load interval.
pub const INTERVAL_H: f64 = 0.25;
/// Largest accepted |load|, kW.
pub const MAX_LOAD_KW: f64 = 10_000_000.0;

/// Whether the file's time stamps label the start or the end of each interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeLabel {
    /// `00:00` is the interval `[00:00, 00:15)`.
    #[default]
    Start,
    /// `00:15` is the interval `[00:00, 00:15)` (common in meter exports).
    End,
}

/// Missing intervals between two readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Gap {
    /// First missing interval start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// End of the last missing interval.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Missing 15-minute intervals.
    pub intervals: i64,
}

/// The power factor of a column header's unit: `kW`, `MW` or `W`.
fn header_unit(header: &str) -> Result<f64, String> {
    let lower = header.to_ascii_lowercase();
    let tokens: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).collect();
    match tokens.last().copied() {
        Some("kw") => Ok(1.0),
        Some("mw") => Ok(1000.0),
        Some("w") => Ok(0.001),
        Some("kwh" | "mwh" | "wh") => {
            Err(format!("column `{header}` is energy; a load curve is average power per 15 minutes in kW, MW or W"))
        }
        _ => Err(format!("column `{header}` names no power unit: call it e.g. `load_kw` (kW, MW or W)")),
    }
}

/// Parses a load file: a time column and a power column whose header names
/// its unit (`time,load_kw`), `,` or `;` separated, `#` comments allowed.
/// Times are RFC 3339 with an offset or local `YYYY-MM-DD HH:MM` in `tz`.
/// Returns the readings sorted by interval start, or every bad line.
pub fn parse_load_csv(bytes: &[u8], tz: &TimeZone, label: TimeLabel) -> Result<Vec<(Timestamp, f64)>, Vec<RowError>> {
    let ((hline, header), it) = split_csv(text(bytes)?)?;
    if header.len() != 2 {
        return Err(vec![RowError {
            line: hline,
            reason: format!("the header needs two columns, time and load (e.g. `time,load_kw`), got {}", header.len()),
        }]);
    }
    let factor = header_unit(header[1]).map_err(|reason| vec![RowError { line: hline, reason }])?;
    let shift = if label == TimeLabel::End { SignedDuration::from_secs(INTERVAL_S) } else { SignedDuration::ZERO };
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, fields) in it {
        let row = (|| {
            if fields.len() != 2 {
                return Err(format!("{} fields, the header has 2", fields.len()));
            }
            let at = parse_timestamp(fields[0], None, tz)?;
            let start = at.checked_sub(shift).map_err(|e| e.to_string())?;
            if start.as_second().rem_euclid(INTERVAL_S) != 0 || start.subsec_nanosecond() != 0 {
                return Err(format!("`{}` is not on the 15-minute grid", fields[0]));
            }
            let kw = match fields[1].parse::<f64>() {
                Ok(v) if v.is_finite() => v * factor,
                _ => return Err(format!("load `{}` is not a number", fields[1])),
            };
            if kw.abs() > MAX_LOAD_KW {
                return Err(format!("load {kw} kW is beyond ±{MAX_LOAD_KW} kW"));
            }
            Ok((start, kw))
        })();
        match row {
            Ok((start, kw)) => rows.push((line, start, kw)),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    rows.sort_by_key(|&(line, start, _)| (start, line));
    for pair in rows.windows(2) {
        if pair[0].1 == pair[1].1 {
            errors.push(RowError {
                line: pair[1].0,
                reason: format!(
                    "the interval starting {} is also on line {} (a repeated autumn hour needs an offset such as +01:00)",
                    pair[1].1, pair[0].0
                ),
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    finish(rows.into_iter().map(|(_, start, kw)| (start, kw)).collect(), errors)
}

/// Gaps in readings sorted by start, within `[from, to)` when given.
pub fn gaps(points: &[(Timestamp, f64)], from: Option<Timestamp>, to: Option<Timestamp>) -> Vec<Gap> {
    let step = SignedDuration::from_secs(INTERVAL_S);
    let mut out = Vec::new();
    let mut expected = from.or_else(|| points.first().map(|p| p.0));
    for &(start, _) in points {
        if let Some(e) = expected
            && start > e
        {
            out.push(Gap { start: e, end: start, intervals: start.duration_since(e).as_secs() / INTERVAL_S });
        }
        expected = start.checked_add(step).ok();
    }
    if let (Some(e), Some(to)) = (expected, to)
        && to > e
    {
        out.push(Gap { start: e, end: to, intervals: to.duration_since(e).as_secs() / INTERVAL_S });
    }
    out
}

/// One labelled interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LabelledLoad {
    /// Interval start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Average load, kW.
    pub kw: f64,
    /// TOU period.
    pub period: Period,
    /// The local day is a workday.
    pub workday: bool,
}

/// Labels readings; readings before the tariff's first version are left out.
pub fn label(labeller: &Labeller, points: &[(Timestamp, f64)]) -> Vec<LabelledLoad> {
    points
        .iter()
        .filter_map(|&(start, kw)| {
            labeller.label(start).map(|l| LabelledLoad { start, kw, period: l.period, workday: l.workday })
        })
        .collect()
}

/// Statistics of a span of load.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LoadStats {
    /// Intervals with a reading.
    pub intervals: usize,
    /// Intervals the span has.
    pub expected_intervals: usize,
    /// intervals / expected_intervals × 100.
    pub coverage_pct: f64,
    /// Σ kW × 0.25 h.
    pub energy_kwh: f64,
    /// Energy per period, kWh: sharp peak, peak, flat, valley.
    pub energy_by_period_kwh: [f64; 4],
    /// Highest 15-minute load, kW.
    pub max_kw: f64,
    /// When the highest load began.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub max_at: Option<Timestamp>,
    /// Lowest 15-minute load, kW.
    pub min_kw: f64,
    /// Mean load, kW.
    pub avg_kw: f64,
    /// Peak-valley difference: max_kw − min_kw.
    pub peak_valley_difference_kw: f64,
    /// Mean over local days of (day's max − day's min), kW.
    pub avg_daily_peak_valley_difference_kw: f64,
    /// Load factor: avg_kw / max_kw.
    pub load_factor: f64,
}

/// Statistics of labelled load over a span of `expected` intervals in `tz`.
pub fn stats(load: &[LabelledLoad], expected: usize, tz: &TimeZone) -> LoadStats {
    let mut by_period = [0.0; 4];
    let (mut max, mut min, mut sum, mut max_at) = (f64::NEG_INFINITY, f64::INFINITY, 0.0, None);
    for l in load {
        by_period[l.period.index()] += l.kw * INTERVAL_H;
        sum += l.kw;
        if l.kw > max {
            (max, max_at) = (l.kw, Some(l.start));
        }
        min = min.min(l.kw);
    }
    // Daily swing, by local date.
    let swings: Vec<f64> = by_local_day(load, tz)
        .into_iter()
        .map(|day| {
            let (hi, lo) = day.iter().fold((f64::NEG_INFINITY, f64::INFINITY), |(h, l), x| (h.max(x.kw), l.min(x.kw)));
            hi - lo
        })
        .collect();
    let n = load.len();
    let avg = if n == 0 { 0.0 } else { sum / n as f64 };
    let (max, min) = if n == 0 { (0.0, 0.0) } else { (max, min) };
    LoadStats {
        intervals: n,
        expected_intervals: expected,
        coverage_pct: if expected == 0 { 0.0 } else { n as f64 * 100.0 / expected as f64 },
        energy_kwh: by_period.iter().sum(),
        energy_by_period_kwh: by_period,
        max_kw: max,
        max_at,
        min_kw: min,
        avg_kw: avg,
        peak_valley_difference_kw: max - min,
        avg_daily_peak_valley_difference_kw: if swings.is_empty() {
            0.0
        } else {
            swings.iter().sum::<f64>() / swings.len() as f64
        },
        load_factor: if max > 0.0 { avg / max } else { 0.0 },
    }
}

/// Labelled load split into local days (readings are sorted, so each day is
/// a run); each reading's date is worked out once.
pub fn by_local_day<'a>(load: &'a [LabelledLoad], tz: &TimeZone) -> Vec<&'a [LabelledLoad]> {
    let dates: Vec<jiff::civil::Date> = load.iter().map(|l| l.start.to_zoned(tz.clone()).date()).collect();
    let mut days = Vec::new();
    let mut first = 0;
    for k in 1..=load.len() {
        if k == load.len() || dates[k] != dates[first] {
            days.push(&load[first..k]);
            first = k;
        }
    }
    days
}

/// Average load per local clock quarter-hour, workdays and other days apart.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DailyProfile {
    /// Mean kW per slot on workdays (96 values from 00:00 local); null where no data.
    pub workday_kw: Vec<Option<f64>>,
    /// Mean kW per slot on weekends and holidays.
    pub non_workday_kw: Vec<Option<f64>>,
    /// Period of each slot on a workday, by the plan of the span's last reading.
    pub workday_periods: Vec<Period>,
    /// Period of each slot on other days.
    pub non_workday_periods: Vec<Period>,
}

/// The average day of labelled load.
pub fn daily_profile(labeller: &Labeller, load: &[LabelledLoad]) -> DailyProfile {
    let mut acc = [[(0.0, 0u32); SLOTS_PER_DAY]; 2];
    for l in load {
        let local = l.start.to_zoned(labeller.tz.clone()).datetime();
        let slot = (usize::from(local.hour().unsigned_abs()) * 60 + usize::from(local.minute().unsigned_abs())) / 15;
        let a = &mut acc[usize::from(!l.workday)][slot];
        a.0 += l.kw;
        a.1 += 1;
    }
    let mean = |k: usize| acc[k].iter().map(|&(s, n)| (n > 0).then(|| s / f64::from(n))).collect();
    let (workday_periods, non_workday_periods) = load
        .last()
        .and_then(|l| labeller.label(l.start))
        .map(|label| {
            let season = &labeller.versions[label.version].seasons[label.season];
            (season.workday.0.to_vec(), season.non_workday.0.to_vec())
        })
        .unwrap_or_default();
    DailyProfile { workday_kw: mean(0), non_workday_kw: mean(1), workday_periods, non_workday_periods }
}

/// One point of a load-duration curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DurationPoint {
    /// Share of the time, %.
    pub pct_of_time: f64,
    /// Load reached or exceeded for that share of the time, kW.
    pub kw: f64,
}

/// The load-duration curve in 101 points (0 %, 1 %, … 100 % of the time).
pub fn duration_curve(load: &[LabelledLoad]) -> Vec<DurationPoint> {
    if load.is_empty() {
        return Vec::new();
    }
    let mut kw: Vec<f64> = load.iter().map(|l| l.kw).collect();
    kw.sort_by(|a, b| b.total_cmp(a));
    let last = kw.len() - 1;
    (0..=100)
        .map(|pct| {
            let i = (last as f64 * f64::from(pct) / 100.0).round() as usize;
            DurationPoint { pct_of_time: f64::from(pct), kw: kw[i.min(last)] }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("zone")
    }

    #[test]
    fn parses_local_times_and_units() {
        let csv = b"time,load_MW\n2026-07-01 00:00,1.5\n2026-07-01 00:15,2\n";
        let rows = parse_load_csv(csv, &shanghai(), TimeLabel::Start).expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, "2026-06-30T16:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[0].1, 1500.0);
    }

    #[test]
    fn end_labels_shift_back() {
        let csv = b"time;kW\n2026-07-01 00:15;10\n";
        let rows = parse_load_csv(csv, &shanghai(), TimeLabel::End).expect("parses");
        assert_eq!(rows[0].0, "2026-06-30T16:00:00Z".parse::<Timestamp>().expect("ts"));
    }

    #[test]
    fn duplicates_energy_units_and_bad_lines_are_refused() {
        let errs =
            parse_load_csv(b"time,kwh\n2026-07-01 00:00,1\n", &shanghai(), TimeLabel::Start).expect_err("energy");
        assert!(errs[0].reason.contains("is energy"), "{errs:?}");
        let csv = b"time,kw\n2026-07-01 00:00,1\n2026-07-01 00:07,1\n2026-07-01 00:00,2\nx,1\n2026-07-01 00:30,abc\n";
        let errs = parse_load_csv(csv, &shanghai(), TimeLabel::Start).expect_err("bad");
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{errs:?}");
        assert!(errs[1].reason.contains("also on line 2"), "{errs:?}");
    }

    #[test]
    fn gaps_are_reported_not_filled() {
        let t = |s: &str| s.parse::<Timestamp>().expect("ts");
        let points = vec![(t("2026-07-01T00:00:00Z"), 1.0), (t("2026-07-01T01:00:00Z"), 1.0)];
        let g = gaps(&points, Some(t("2026-07-01T00:00:00Z")), Some(t("2026-07-01T02:00:00Z")));
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].intervals, 3);
        assert_eq!(g[1].intervals, 3);
    }
}
