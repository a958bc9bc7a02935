//! Files as their senders deliver them: the spellings of units, numbers,
//! times and column names that real exports use, so every importer reads
//! them the same way without flags.
//!
//! - **Units** match without case and with the usual spellings (`MWH`,
//!   `€/MWh`, `ct/kWh`); [`canonical_unit`] names the unit vpp stores and
//!   the factor into it.
//! - **Numbers** as spreadsheets write them: a decimal point or comma, and
//!   thousands separators (space, no-break space, apostrophe, or the other
//!   mark) where they group by three. [`decimal_mark`] decides a column's
//!   mark from its values; a value that does not fit is refused, never
//!   guessed.
//! - **Times** in the common forms ([`read_time`]): RFC 3339 with `Z` or an
//!   offset, `YYYY-MM-DD HH:MM[:SS[.ffffff]]` with an optional ` UTC`,
//!   `dd.mm.yyyy[ HH:MM[:SS]]`, and epoch seconds or milliseconds told apart
//!   by size.
//! - **Wall-clock times** ([`WallClock`]): the hour the clocks go back is
//!   read by order (first in summer time, then in winter time); the hour
//!   that does not exist when they go forward is refused by line.
//! - **Columns** by name with aliases ([`find_column`]), compared without
//!   case, spaces or punctuation, never by position.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

/// The unit vpp stores for a spelling, and the factor into it: `MWH` is
/// (`MWh`, 1), `€/MWh` is (`EUR/MWh`, 1), `ct/kWh` is (`EUR/MWh`, 10).
/// Power and energy keep their own scale (series convert kW and MW).
pub fn canonical_unit(text: &str) -> Option<(String, f64)> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
    let t = t.replace('€', "eur").replace("euro", "eur");
    let plain = match t.as_str() {
        "w" => Some("W"),
        "kw" => Some("kW"),
        "mw" => Some("MW"),
        "wh" => Some("Wh"),
        "kwh" => Some("kWh"),
        "mwh" => Some("MWh"),
        _ => None,
    };
    if let Some(u) = plain {
        return Some((u.to_string(), 1.0));
    }
    let (money, per) = t.split_once('/')?;
    let per_mwh = match per {
        "mwh" => 1.0,
        "kwh" => 1000.0,
        _ => return None,
    };
    match money {
        "ct" | "cent" | "eurct" | "cteur" => Some(("EUR/MWh".into(), per_mwh / 100.0)),
        m if m.len() == 3 && m.bytes().all(|b| b.is_ascii_lowercase()) => {
            Some((format!("{}/MWh", m.to_ascii_uppercase()), per_mwh))
        }
        _ => None,
    }
}

/// The factor from one power or energy unit to another of the same
/// quantity (`kW` to `MW` is 0.001); `None` across quantities.
pub fn unit_ratio(from: &str, to: &str) -> Option<f64> {
    let scale = |u: &str| match u {
        "W" => Some((0, 1e-3)),
        "kW" => Some((0, 1.0)),
        "MW" => Some((0, 1e3)),
        "Wh" => Some((1, 1e-3)),
        "kWh" => Some((1, 1.0)),
        "MWh" => Some((1, 1e3)),
        _ => None,
    };
    if from == to {
        return Some(1.0);
    }
    match (scale(from), scale(to)) {
        (Some((qf, f)), Some((qt, t))) if qf == qt => Some(f / t),
        _ => None,
    }
}

/// The unit a column header names, e.g. `Leistung (MW)`, `Preis [€/MWh]`,
/// `power_kw_`, `energy__MWh_`.
pub fn unit_in_header(header: &str) -> Option<(String, f64)> {
    let h = header.trim();
    for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
        if let (Some(a), Some(b)) = (h.rfind(open), h.rfind(close))
            && a < b
            && let Some(u) = canonical_unit(&h[a + 1..b])
        {
            return Some(u);
        }
    }
    let lower = h.to_ascii_lowercase();
    let lower = lower.trim_end_matches('_');
    [("_mwh", "MWh"), ("_kwh", "kWh"), ("_wh", "Wh"), ("_mw", "MW"), ("_kw", "kW"), ("_w", "W")]
        .into_iter()
        .find(|(suffix, _)| lower.ends_with(suffix))
        .map(|(_, unit)| (unit.to_string(), 1.0))
}

/// Which mark separates a number's decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMark {
    /// `1234.5`, `1,234.5`.
    Point,
    /// `1234,5`, `1.234,5`, `"4 433,00"`.
    Comma,
}

/// The mark one value shows, if it shows one: the later of `.` and `,` when
/// both appear; a mark that repeats is the thousands separator; a single
/// mark followed by other than three digits is the decimal mark.
fn mark_of(value: &str) -> Option<DecimalMark> {
    let v = value.trim();
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    // Only numbers tell: `n.a.` or `k.A.` say nothing about the column.
    let numeric = |c: char| c.is_ascii_digit() || matches!(c, '.' | ',') || is_thousands(c, '.');
    if v.is_empty() || v.contains(['e', 'E']) || !v.chars().all(numeric) {
        return None;
    }
    let (dot, comma) = (v.rfind('.'), v.rfind(','));
    let single = |at: usize, mark: DecimalMark| {
        // A thousands group never starts a number with 0 (`0.125`), and is
        // three digits long.
        (v[..at].trim_start_matches(['0']).is_empty() || v.len() - at - 1 != 3).then_some(mark)
    };
    match (dot, comma) {
        (Some(d), Some(c)) => Some(if d > c { DecimalMark::Point } else { DecimalMark::Comma }),
        (Some(_), None) if v.matches('.').count() > 1 => Some(DecimalMark::Comma),
        (Some(d), None) => single(d, DecimalMark::Point),
        (None, Some(_)) if v.matches(',').count() > 1 => Some(DecimalMark::Point),
        (None, Some(c)) => single(c, DecimalMark::Comma),
        (None, None) => None,
    }
}

/// The decimal mark of a column, from the first value that shows one;
/// `None` when no value tells (integers, or only `1.234`-like values).
pub fn decimal_mark<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<DecimalMark> {
    values.into_iter().find_map(mark_of)
}

/// The mark to use when the values do not tell: a `;`-separated file is
/// taken as continental (decimal comma), any other as a decimal point.
pub fn default_mark(delimiter: u8) -> DecimalMark {
    if delimiter == b';' { DecimalMark::Comma } else { DecimalMark::Point }
}

fn is_thousands(c: char, thousands_mark: char) -> bool {
    c == thousands_mark || matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'' | '’')
}

/// A number written with `mark`, rewritten plainly (`-1234.5`); thousands
/// separators must group the integer part by three.
pub fn plain_number(text: &str, mark: DecimalMark) -> Result<String, String> {
    let t = text.trim();
    let refuse = || match mark {
        DecimalMark::Point => format!("`{t}` is not a number (with a decimal point)"),
        DecimalMark::Comma => format!("`{t}` is not a number (with a decimal comma)"),
    };
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    // An exponent (`1e-05`, `2,5E+3`) is split off first.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => {
            let e = &body[i + 1..];
            let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refuse());
            }
            (&body[..i], Some(e))
        }
        None => (body, None),
    };
    let (decimal, thousands) = match mark {
        DecimalMark::Point => ('.', ','),
        DecimalMark::Comma => (',', '.'),
    };
    let (int, frac) = match mantissa.rfind(decimal) {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let groups: Vec<&str> = int.split(|c| is_thousands(c, thousands)).collect();
    let grouped = groups.len() > 1;
    if grouped
        && (groups[0].is_empty()
            || groups[0].len() > 3
            || groups[0].starts_with('0')
            || groups[1..].iter().any(|g| g.len() != 3))
    {
        return Err(refuse());
    }
    let digits = groups.concat();
    let frac_ok = frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()) && !(f.is_empty() && digits.is_empty()));
    if (digits.is_empty() && frac.is_none_or(str::is_empty)) || !digits.bytes().all(|b| b.is_ascii_digit()) || !frac_ok
    {
        return Err(refuse());
    }
    let mut out = format!("{sign}{}", if digits.is_empty() { "0" } else { &digits });
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        out.push('.');
        out.push_str(f);
    }
    if let Some(e) = exponent {
        out.push('e');
        out.push_str(e);
    }
    Ok(out)
}

/// Reads a number written with `mark` (see [`plain_number`]); refuses what
/// is not finite.
pub fn parse_number(text: &str, mark: DecimalMark) -> Result<f64, String> {
    let plain = plain_number(text, mark)?;
    plain.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| match mark {
        DecimalMark::Point => format!("`{}` is not a number (with a decimal point)", text.trim()),
        DecimalMark::Comma => format!("`{}` is not a number (with a decimal comma)", text.trim()),
    })
}

/// The field delimiter of a CSV text: the most frequent of `;`, tab, `|`
/// and `,` outside quotes in its first line that is not a `#` comment;
/// ties go in that order (`,` inside column names is the commonest).
pub fn sniff_delimiter(text: &[u8]) -> u8 {
    let text = String::from_utf8_lossy(&text[..text.len().min(64 * 1024)]);
    let line = text.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or("");
    let mut counts = [(b';', 0usize), (b'\t', 0), (b'|', 0), (b',', 0)];
    let mut quoted = false;
    for c in line.bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(slot) = counts.iter_mut().find(|(d, _)| *d == c) {
            slot.1 += 1;
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts.iter().find(|(_, n)| *n == best && best > 0).map_or(b',', |(d, _)| *d)
}

/// Line numbers of CSV records: the csv reader stamps a record with the
/// position where it began looking, before blank and `#` comment lines, so
/// the line is taken from its byte offset, past such lines. Records must be
/// asked for in order (one pass over the text).
pub struct Lines<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    /// Over `text`, which the csv reader reads from its start.
    pub fn new(text: &'a [u8]) -> Self {
        Self { text, byte: 0, line: 1 }
    }

    /// The 1-based line of the record whose position is `byte`.
    pub fn of(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        if byte >= self.byte {
            self.line += self.text[self.byte..byte].iter().filter(|b| **b == b'\n').count();
            self.byte = byte;
        }
        // Skip blank and comment lines the reader passed over.
        let (mut at, mut line) = (self.byte, self.line);
        while at < self.text.len() {
            let end = self.text[at..].iter().position(|b| *b == b'\n').map_or(self.text.len(), |i| at + i);
            let l = &self.text[at..end];
            let blank = l.iter().all(|b| b.is_ascii_whitespace());
            let comment = l.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'#');
            if !(blank || comment) || end == self.text.len() {
                break;
            }
            at = end + 1;
            line += 1;
        }
        line
    }
}

/// A column name compared without case, spaces, punctuation or a unit in
/// brackets: `Preis (ct/kWh)` is `preis`, `Zeitzone von` is `zeitzonevon`.
pub fn normal_name(name: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in name.trim_start_matches('\u{feff}').chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            c if depth == 0 && c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => {}
        }
    }
    out
}

/// The first header that is one of `names` (compared by [`normal_name`]);
/// `names` are tried in order, so put the most specific first.
pub fn find_column(headers: &[String], names: &[&str]) -> Option<usize> {
    let normal: Vec<String> = headers.iter().map(|h| normal_name(h)).collect();
    names.iter().find_map(|n| {
        let n = normal_name(n);
        normal.iter().position(|h| *h == n)
    })
}

/// A time cell as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeCell {
    /// An instant: with `Z`, an offset or ` UTC`.
    Instant(Timestamp),
    /// A wall-clock time without a zone.
    Civil(DateTime),
    /// A number: epoch seconds or milliseconds.
    Epoch(f64),
}

/// Epoch seconds of 1990 and 2100, for telling seconds from milliseconds.
pub const EPOCH_S_RANGE: std::ops::Range<f64> = 631_152_000.0..4_102_444_800.0;

/// Epoch seconds or milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
}

impl TimeUnit {
    /// `s` or `ms`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "s" => Some(Self::S),
            "ms" => Some(Self::Ms),
            _ => None,
        }
    }

    /// The unit's name in words.
    pub fn words(self) -> &'static str {
        match self {
            Self::S => "seconds",
            Self::Ms => "milliseconds",
        }
    }

    /// The unit an epoch number's size says, if it is an epoch time at all.
    pub fn of(v: f64) -> Option<Self> {
        if EPOCH_S_RANGE.contains(&v) {
            Some(Self::S)
        } else if EPOCH_S_RANGE.contains(&(v / 1000.0)) {
            Some(Self::Ms)
        } else {
            None
        }
    }

    /// The instant of `v` in this unit.
    pub fn instant(self, v: f64) -> Result<Timestamp, String> {
        let us = match self {
            Self::S => v * 1e6,
            Self::Ms => v * 1e3,
        };
        Timestamp::from_microsecond(us.round() as i64).map_err(|e| format!("{v} {}: {e}", self.words()))
    }
}

/// An epoch number read as the unit its size says.
pub fn epoch(v: f64) -> Result<Timestamp, String> {
    let unit = TimeUnit::of(v).ok_or_else(|| format!("{v} is no epoch time in seconds or milliseconds"))?;
    unit.instant(v)
}

fn civil(t: &str) -> Option<DateTime> {
    if let Ok(dt) = t.replacen(' ', "T", 1).parse::<DateTime>() {
        return Some(dt);
    }
    if let Ok(d) = t.parse::<Date>() {
        return Some(d.to_datetime(Time::midnight()));
    }
    for fmt in ["%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y, %H:%M"] {
        if let Ok(dt) = DateTime::strptime(fmt, t) {
            return Some(dt);
        }
    }
    Date::strptime("%d.%m.%Y", t).ok().map(|d| d.to_datetime(Time::midnight()))
}

/// Reads a time cell in any of the forms in the module docs.
pub fn read_time(text: &str) -> Result<TimeCell, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the time is empty".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && let Ok(v) = t.parse::<f64>()
    {
        return Ok(TimeCell::Epoch(v));
    }
    for suffix in [" UTC", "UTC", " GMT", " Z"] {
        if let Some(rest) = t.strip_suffix(suffix)
            && let Some(dt) = civil(rest.trim_end())
        {
            return dt.to_zoned(TimeZone::UTC).map(|z| TimeCell::Instant(z.timestamp())).map_err(|e| e.to_string());
        }
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(TimeCell::Instant(ts));
    }
    civil(t).map(TimeCell::Civil).ok_or_else(|| {
        format!("`{t}` is not a time (RFC 3339, YYYY-MM-DD HH:MM[:SS][ UTC], dd.mm.yyyy HH:MM or epoch s/ms)")
    })
}

/// Civil times of one file in a zone: the repeated hour of the autumn
/// change is read by order of appearance (the first time in summer time,
/// the second in winter time), per `context` (for example the version the
/// row belongs to); the skipped hour of the spring change is refused.
pub struct WallClock {
    tz: TimeZone,
    name: String,
    seen: HashMap<(DateTime, String), u8>,
    by_order: bool,
}

impl WallClock {
    /// Wall clock of `tz`, named `name` in messages.
    pub fn new(tz: TimeZone, name: impl Into<String>) -> Self {
        Self { tz, name: name.into(), seen: HashMap::new(), by_order: true }
    }

    /// A clock that refuses the repeated hour instead of reading it by
    /// order: for files whose rows are not in time order (trades).
    pub fn strict(tz: TimeZone, name: impl Into<String>) -> Self {
        Self { by_order: false, ..Self::new(tz, name) }
    }

    /// The zone.
    pub fn zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The instant of `dt` on this wall clock.
    pub fn resolve(&mut self, dt: DateTime, context: &str) -> Result<Timestamp, String> {
        let at = |offset: Offset| offset.to_timestamp(dt).map_err(|e| e.to_string());
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => at(offset),
            AmbiguousOffset::Gap { .. } => {
                Err(format!("{dt} does not exist in {}: the clocks moved forward over it", self.name))
            }
            AmbiguousOffset::Fold { .. } if !self.by_order => {
                Err(format!("{dt} happens twice in {} (the clocks go back); give the time with its offset", self.name))
            }
            AmbiguousOffset::Fold { before, after } => {
                let n = self.seen.entry((dt, context.to_string())).or_insert(0);
                *n += 1;
                match *n {
                    1 => at(before),
                    2 => at(after),
                    _ => Err(format!(
                        "{dt} appears a third time, but it happens only twice in {} (the clocks go back once)",
                        self.name
                    )),
                }
            }
        }
    }

    /// The instant of a time cell: instants as they are, civil times on
    /// this clock, epoch numbers in `unit` or by their size.
    pub fn instant(&mut self, cell: TimeCell, context: &str, unit: Option<TimeUnit>) -> Result<Timestamp, String> {
        match cell {
            TimeCell::Instant(t) => Ok(t),
            TimeCell::Civil(dt) => self.resolve(dt, context),
            TimeCell::Epoch(v) => match unit {
                Some(u) => u.instant(v),
                None => epoch(v),
            },
        }
    }
}

/// A zone column's value: `CET`/`MEZ` (+01:00), `CEST`/`MESZ` (+02:00),
/// `UTC`/`GMT`/`Z`, an offset like `+01:00`, or an IANA name.
pub fn zone_cell(text: &str) -> Result<TimeZone, String> {
    let t = text.trim();
    match t.to_ascii_uppercase().as_str() {
        "CET" | "MEZ" => return Ok(TimeZone::fixed(Offset::constant(1))),
        "CEST" | "MESZ" => return Ok(TimeZone::fixed(Offset::constant(2))),
        "UTC" | "GMT" | "Z" => return Ok(TimeZone::UTC),
        _ => {}
    }
    if let Some(sign) = t.chars().next().filter(|c| matches!(c, '+' | '-')) {
        let (h, m) = t[1..].split_once(':').unwrap_or((&t[1..], "0"));
        if let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>())
            && (0..=25).contains(&h)
            && (0..60).contains(&m)
            && let Ok(offset) = Offset::from_seconds(if sign == '-' { -1 } else { 1 } * (h * 3600 + m * 60))
        {
            return Ok(TimeZone::fixed(offset));
        }
    }
    TimeZone::get(t).map_err(|_| format!("zone `{t}` is not CET, CEST, MEZ, MESZ, UTC, an offset or an IANA name"))
}

/// Columns that name the asset of a row, by their usual names: asset and
/// resource ids, metering points (MaLo, MeLo, Zählpunkt), plant ids.
pub const ASSET_COLUMNS: &[&str] = &[
    "asset_id",
    "entity_id",
    "anlage_id",
    "anlagen_id",
    "anlage",
    "resource_id",
    "metering_point_id",
    "metering_point",
    "malo",
    "marktlokation",
    "melo",
    "zaehlpunkt",
    "zählpunkt",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_in_their_usual_spellings() {
        for (s, u, f) in [
            ("MW", "MW", 1.0),
            ("mw", "MW", 1.0),
            ("MWH", "MWh", 1.0),
            ("MWh", "MWh", 1.0),
            ("kW", "kW", 1.0),
            ("kWh", "kWh", 1.0),
            ("W", "W", 1.0),
            ("Wh", "Wh", 1.0),
            ("EUR/MWh", "EUR/MWh", 1.0),
            ("€/MWh", "EUR/MWh", 1.0),
            ("ct/kWh", "EUR/MWh", 10.0),
            ("EUR / kWh", "EUR/MWh", 1000.0),
        ] {
            assert_eq!(canonical_unit(s), Some((u.to_string(), f)), "{s}");
        }
        assert_eq!(canonical_unit("MVA"), None);
        assert_eq!(unit_in_header("Leistung (MW)"), Some(("MW".into(), 1.0)));
        assert_eq!(unit_in_header("reBAP [ct/kWh]"), Some(("EUR/MWh".into(), 10.0)));
        assert_eq!(unit_in_header("power_kw_"), Some(("kW".into(), 1.0)));
        assert_eq!(unit_in_header("Wert"), None);
    }

    #[test]
    fn numbers_as_spreadsheets_export_them() {
        use DecimalMark::*;
        assert_eq!(decimal_mark(["4 433,00"]), Some(Comma));
        assert_eq!(decimal_mark(["1.234", "12.5"]), Some(Point));
        assert_eq!(decimal_mark(["1.234", "1.234.567"]), Some(Comma));
        assert_eq!(decimal_mark(["1,234.56"]), Some(Point));
        assert_eq!(decimal_mark(["12", "1.234"]), None);
        assert_eq!(parse_number("4 433,00", Comma), Ok(4433.0));
        assert_eq!(parse_number("-1.234,56", Comma), Ok(-1234.56));
        assert_eq!(parse_number("1'234.5", Point), Ok(1234.5));
        assert_eq!(parse_number("1,234,567", Point), Ok(1_234_567.0));
        assert_eq!(parse_number("1.5e-3", Point), Ok(0.0015));
        assert_eq!(parse_number("\u{a0}12\u{a0}345,5 ", Comma), Ok(12345.5));
        for bad in ["1,5", "12,34,5", "", "abc", "NaN", "inf", "1 23"] {
            assert!(parse_number(bad, Point).is_err(), "{bad}");
        }
        assert!(parse_number("1,5", Point).unwrap_err().contains("decimal point"));
        // Three decimals after a 0 are decimals, whatever the delimiter says.
        assert_eq!(decimal_mark(["0.125"]), Some(Point));
        assert_eq!(decimal_mark(["-0,125"]), Some(Comma));
        assert!(parse_number("0.125", Comma).is_err(), "no thousands group starts with 0");
        // Text cells tell nothing.
        assert_eq!(decimal_mark(["n.a.", "k.A.", "12.5"]), Some(Point));
        assert_eq!(parse_number("1e-05", Point), Ok(1e-5));
        assert_eq!(parse_number("2,5E+3", Comma), Ok(2500.0));
        assert_eq!(parse_number(",5", Comma), Ok(0.5));
        assert!(parse_number("1e", Point).is_err());
        assert_eq!(unit_ratio("kW", "MW"), Some(0.001));
        assert_eq!(unit_ratio("kWh", "MW"), None);
    }

    #[test]
    fn delimiters_outside_quotes() {
        assert_eq!(sniff_delimiter(b"# note, with commas\nDatum;von;Wert\n"), b';');
        assert_eq!(sniff_delimiter(b"\"time\",\"value (kW; net)\"\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }

    #[test]
    fn record_lines_skip_comments_and_blanks() {
        let text = b"# head\ntime,v\n1,2\n\n# note\n3,4\n";
        let mut rdr = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(&text[..]);
        let mut lines = Lines::new(text);
        let got: Vec<usize> = rdr.records().map(|r| lines.of(r.unwrap().position().unwrap().byte() as usize)).collect();
        assert_eq!(got, [3, 6]);
    }

    #[test]
    fn columns_by_name_and_alias() {
        let h: Vec<String> = ["Datum", "Zeitzone von", "Wert (EUR/MWh)", "delivery_start"].map(String::from).into();
        assert_eq!(find_column(&h, &["zeitzonevon", "zeitzone"]), Some(1));
        assert_eq!(find_column(&h, &["Delivery Start"]), Some(3));
        assert_eq!(find_column(&h, &["price"]), None);
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn times_in_common_forms() {
        let utc = ts("2025-06-08T00:00:00Z");
        assert_eq!(read_time("2025-06-08 00:00:00.000000 UTC"), Ok(TimeCell::Instant(utc)));
        assert_eq!(read_time("2025-06-08T02:00:00+02:00"), Ok(TimeCell::Instant(utc)));
        assert_eq!(read_time("2025-06-08T00:00Z"), Ok(TimeCell::Instant(utc)));
        assert_eq!(read_time("1749340800"), Ok(TimeCell::Epoch(1_749_340_800.0)));
        assert_eq!(epoch(1_749_340_800.0), Ok(utc));
        assert_eq!(epoch(1_749_340_800_000.0), Ok(utc));
        assert!(epoch(42.0).is_err());
        let civil: DateTime = "2025-06-08T02:00".parse().unwrap();
        assert_eq!(read_time("08.06.2025 02:00"), Ok(TimeCell::Civil(civil)));
        assert_eq!(read_time("2025-06-08 02:00"), Ok(TimeCell::Civil(civil)));
        assert_eq!(read_time("08.06.2025"), Ok(TimeCell::Civil("2025-06-08T00:00".parse().unwrap())));
        assert!(read_time("yesterday").unwrap_err().contains("not a time"));
    }

    #[test]
    fn the_autumn_hour_by_order_and_the_spring_hour_refused() {
        let mut clock = WallClock::new(TimeZone::get("Europe/Berlin").unwrap(), "Europe/Berlin");
        let two: DateTime = "2026-10-25T02:00".parse().unwrap();
        assert_eq!(clock.resolve(two, ""), Ok(ts("2026-10-25T00:00:00Z")));
        assert_eq!(clock.resolve(two, "v2"), Ok(ts("2026-10-25T00:00:00Z")), "per context");
        assert_eq!(clock.resolve(two, ""), Ok(ts("2026-10-25T01:00:00Z")));
        assert!(clock.resolve(two, "").unwrap_err().contains("third time"));
        let gap: DateTime = "2026-03-29T02:15".parse().unwrap();
        assert!(clock.resolve(gap, "").unwrap_err().contains("does not exist in Europe/Berlin"));
        assert_eq!(clock.resolve("2026-07-01T12:00".parse().unwrap(), ""), Ok(ts("2026-07-01T10:00:00Z")));
        let mut strict = WallClock::strict(TimeZone::get("Europe/Berlin").unwrap(), "Europe/Berlin");
        assert!(strict.resolve(two, "").unwrap_err().contains("give the time with its offset"));
    }

    #[test]
    fn zone_columns() {
        let at = |z: &str| zone_cell(z).unwrap().to_timestamp("2026-10-25T02:00".parse().unwrap()).unwrap();
        assert_eq!(at("MESZ"), ts("2026-10-25T00:00:00Z"));
        assert_eq!(at("CET"), ts("2026-10-25T01:00:00Z"));
        assert_eq!(at("+01:00"), ts("2026-10-25T01:00:00Z"));
        assert_eq!(at("UTC"), ts("2026-10-25T02:00:00Z"));
        assert!(zone_cell("XYZ").is_err());
        assert!(zone_cell("+99999999").is_err(), "no overflow");
        assert!(zone_cell("+01:75").is_err());
    }
}
