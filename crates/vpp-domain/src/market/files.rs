//! Exchange exports the file connector reads: market prices, trades and
//! imbalance prices. Every parser checks the whole file first and returns
//! either every row or every problem (line numbers from 1, header
//! included), so a malformed file changes nothing.
//!
//! - **Prices**: CSV with `,` or `;`, columns `delivery_start` and `price`
//!   (case-insensitive), optional `delivery_end` and `currency`; times in
//!   RFC 3339 with an offset, prices with a decimal point.
//! - **Trades**: `;`-separated, `#` comment lines, columns
//!   `TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit`.
//!   Volume in `MW` is power over the delivery; `MWh` is energy and is
//!   turned into MW by the delivery length.
//! - **Imbalance prices** (German TSO export, e.g. reBAP): `;`-separated
//!   with a decimal comma and the headers `Datum;Zeitzone;von;bis;<price>…`:
//!   `Datum` as `dd.mm.yyyy`, `Zeitzone` `CET`/`MEZ` or `CEST`/`MESZ` (which
//!   settles the repeated hour of the autumn change), `von`/`bis` as
//!   `HH:MM`; the first column after `bis` is the price in EUR/MWh.

use jiff::civil::{Date, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

use super::auction::Side;
use crate::series_import::RowError;

/// Largest file the parsers take, bytes.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// A market price for one delivery interval.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// Delivery start.
    pub start: Timestamp,
    /// Delivery end, when the file gives one.
    pub end: Option<Timestamp>,
    /// Price, currency/MWh.
    pub price: Decimal,
    /// Currency, when the file gives one.
    pub currency: Option<String>,
}

/// One executed trade from an exchange export.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeRow {
    /// The exchange's trade id.
    pub trade_id: String,
    /// Side.
    pub side: Side,
    /// Delivery start.
    pub start: Timestamp,
    /// Delivery end.
    pub end: Timestamp,
    /// Execution time.
    pub executed_at: Timestamp,
    /// Price, currency/MWh.
    pub price: Decimal,
    /// Currency.
    pub currency: String,
    /// Quantity as power over the delivery, MW.
    pub quantity_mw: Decimal,
}

/// An imbalance price for one quarter-hour.
#[derive(Debug, Clone, PartialEq)]
pub struct ImbalanceRow {
    /// Interval start.
    pub start: Timestamp,
    /// Interval end.
    pub end: Timestamp,
    /// Price, EUR/MWh.
    pub price: Decimal,
}

pub(crate) fn text(bytes: &[u8]) -> Result<&str, Vec<RowError>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(vec![RowError { line: 0, reason: format!("file is larger than {MAX_FILE_BYTES} bytes") }]);
    }
    let s = std::str::from_utf8(bytes)
        .map_err(|e| vec![RowError { line: 0, reason: format!("file is not UTF-8: {e}") }])?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

pub(crate) fn finish<T>(rows: Vec<T>, errors: Vec<RowError>) -> Result<Vec<T>, Vec<RowError>> {
    if !errors.is_empty() {
        return Err(errors);
    }
    if rows.is_empty() {
        return Err(vec![RowError { line: 0, reason: "the file holds no data rows".into() }]);
    }
    Ok(rows)
}

fn timestamp(field: &str, s: &str) -> Result<Timestamp, String> {
    s.trim().parse().map_err(|e| format!("{field} `{s}` is not an RFC 3339 time with an offset: {e}"))
}

pub(crate) fn decimal(field: &str, s: &str) -> Result<Decimal, String> {
    s.trim().parse().map_err(|_| format!("{field} `{s}` is not a number with a decimal point"))
}

/// Splits non-comment lines into (line number, fields) with `sep`.
pub(crate) fn records(s: &str, sep: char) -> impl Iterator<Item = (usize, Vec<&str>)> {
    s.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(move |(n, l)| (n, l.split(sep).map(str::trim).collect()))
}

/// A CSV header line and the data records after it, separated by `;` if the
/// header holds one, else by `,`.
pub(crate) type SplitCsv<'a> = ((usize, Vec<&'a str>), Box<dyn Iterator<Item = (usize, Vec<&'a str>)> + 'a>);

/// Splits text into its header and records (see [`SplitCsv`]); an empty file is an error.
pub(crate) fn split_csv(s: &str) -> Result<SplitCsv<'_>, Vec<RowError>> {
    let first = s.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or("");
    let sep = if first.contains(';') { ';' } else { ',' };
    let mut it = records(s, sep);
    let header = it.next().ok_or_else(|| vec![RowError { line: 0, reason: "the file is empty".into() }])?;
    Ok((header, Box::new(it)))
}

/// Parses a market price file.
pub fn parse_prices(bytes: &[u8]) -> Result<Vec<PriceRow>, Vec<RowError>> {
    let s = text(bytes)?;
    let ((hline, header), it) = split_csv(s)?;
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(start_col), Some(price_col)) = (col("delivery_start"), col("price")) else {
        return Err(vec![RowError {
            line: hline,
            reason: format!("header needs delivery_start and price columns, got `{}`", header.join(" | ")),
        }]);
    };
    let (end_col, cur_col) = (col("delivery_end"), col("currency"));
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, f) in it {
        let get = |c: usize| f.get(c).copied().unwrap_or("");
        let row = (|| {
            if f.len() != header.len() {
                return Err(format!("{} fields, the header has {}", f.len(), header.len()));
            }
            let start = timestamp("delivery_start", get(start_col))?;
            let end = end_col.map(|c| timestamp("delivery_end", get(c))).transpose()?;
            if end.is_some_and(|e| e <= start) {
                return Err("delivery_end must be after delivery_start".into());
            }
            let price = decimal("price", get(price_col))?;
            let currency = cur_col.map(|c| get(c).to_string());
            Ok(PriceRow { start, end, price, currency })
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    finish(rows, errors)
}

/// The columns of an exchange trade export, in order.
pub const TRADE_COLUMNS: [&str; 9] =
    ["TradeId", "Side", "DeliveryStart", "DeliveryEnd", "ExecutionTime", "Price", "Currency", "Volume", "VolumeUnit"];

/// Parses an exchange trade export. Trade ids must be unique in the file.
pub fn parse_trades(bytes: &[u8]) -> Result<Vec<TradeRow>, Vec<RowError>> {
    let s = text(bytes)?;
    let mut it = records(s, ';');
    let Some((hline, header)) = it.next() else {
        return Err(vec![RowError { line: 0, reason: "the file is empty".into() }]);
    };
    if header != TRADE_COLUMNS {
        return Err(vec![RowError {
            line: hline,
            reason: format!("header must be `{}`, got `{}`", TRADE_COLUMNS.join(";"), header.join(";")),
        }]);
    }
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for (line, f) in it {
        let row = (|| {
            if f.len() != TRADE_COLUMNS.len() {
                return Err(format!("{} fields, expected {}", f.len(), TRADE_COLUMNS.len()));
            }
            let trade_id = f[0].to_string();
            if trade_id.is_empty() || !seen.insert(trade_id.clone()) {
                return Err(format!("TradeId `{trade_id}` is empty or repeated"));
            }
            let side = match f[1].to_ascii_uppercase().as_str() {
                "BUY" => Side::Buy,
                "SELL" => Side::Sell,
                other => return Err(format!("Side `{other}` is not BUY or SELL")),
            };
            let (start, end) = (timestamp("DeliveryStart", f[2])?, timestamp("DeliveryEnd", f[3])?);
            if end <= start {
                return Err("DeliveryEnd must be after DeliveryStart".into());
            }
            let executed_at = timestamp("ExecutionTime", f[4])?;
            let price = decimal("Price", f[5])?;
            let currency = f[6].to_string();
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!("Currency `{currency}` is not an ISO 4217 code"));
            }
            let volume = decimal("Volume", f[7])?;
            if volume <= Decimal::ZERO {
                return Err(format!("Volume must be positive, got {volume}"));
            }
            let hours = Decimal::from(end.duration_since(start).as_secs()) / Decimal::from(3600);
            let quantity_mw = match f[8] {
                "MW" => volume,
                "MWh" => volume / hours,
                other => return Err(format!("VolumeUnit `{other}` is not MW or MWh")),
            };
            Ok(TradeRow { trade_id, side, start, end, executed_at, price, currency, quantity_mw })
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    finish(rows, errors)
}

/// A number with a decimal comma and optional `.` thousands separators.
fn german_decimal(field: &str, s: &str) -> Result<Decimal, String> {
    let cleaned: String = s.trim().replace('.', "").replace(',', ".");
    cleaned.parse().map_err(|_| format!("{field} `{s}` is not a number with a decimal comma"))
}

/// Parses a German imbalance price export (see the module docs).
pub fn parse_imbalance_prices(bytes: &[u8]) -> Result<Vec<ImbalanceRow>, Vec<RowError>> {
    let s = text(bytes)?;
    let mut it = records(s, ';');
    let Some((hline, header)) = it.next() else {
        return Err(vec![RowError { line: 0, reason: "the file is empty".into() }]);
    };
    let want = ["Datum", "Zeitzone", "von", "bis"];
    if header.len() < 5 || header[..4].iter().zip(want).any(|(h, w)| !h.eq_ignore_ascii_case(w)) {
        return Err(vec![RowError {
            line: hline,
            reason: format!("header must start `Datum;Zeitzone;von;bis;<price>`, got `{}`", header.join(";")),
        }]);
    }
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, f) in it {
        let row = (|| {
            if f.len() < 5 {
                return Err(format!("{} fields, expected at least 5", f.len()));
            }
            let date = Date::strptime("%d.%m.%Y", f[0]).map_err(|_| format!("Datum `{}` is not dd.mm.yyyy", f[0]))?;
            let offset = match f[1].to_ascii_uppercase().as_str() {
                "CET" | "MEZ" => Offset::constant(1),
                "CEST" | "MESZ" => Offset::constant(2),
                "UTC" => Offset::UTC,
                other => return Err(format!("Zeitzone `{other}` is not CET, CEST, MEZ, MESZ or UTC")),
            };
            let at = |field: &str, t: &str| -> Result<Timestamp, String> {
                let time: Time = t.parse().map_err(|_| format!("{field} `{t}` is not HH:MM"))?;
                TimeZone::fixed(offset).to_timestamp(date.to_datetime(time)).map_err(|e| format!("{field} `{t}`: {e}"))
            };
            let start = at("von", f[2])?;
            let mut end = at("bis", f[3])?;
            // `bis 00:00` ends at the next midnight.
            if end <= start {
                end += SignedDuration::from_hours(24);
            }
            if end.duration_since(start) != SignedDuration::from_mins(15) {
                return Err(format!("von {} bis {} is not a quarter-hour", f[2], f[3]));
            }
            let price = german_decimal(header[4], f[4])?;
            Ok(ImbalanceRow { start, end, price })
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    finish(rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn trades_with_comment_line_and_both_volume_units() {
        let file = "# Trades export 2026-11-20, account VPP01\n\
            TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n\
            T-1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:03Z;85.50;EUR;2.5;MW\n\
            T-2;BUY;2026-11-20T10:00:00+01:00;2026-11-20T10:15:00+01:00;2026-11-20T08:30:00Z;-3.20;EUR;0.25;MWh\n";
        let rows = parse_trades(file.as_bytes()).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].side, rows[0].quantity_mw, rows[0].price), (Side::Sell, d("2.5"), d("85.50")));
        // 0.25 MWh over a quarter-hour is 1 MW.
        assert_eq!((rows[1].side, rows[1].quantity_mw), (Side::Buy, d("1")));
        assert_eq!(rows[1].start, "2026-11-20T09:00:00Z".parse::<Timestamp>().expect("ts"));
    }

    #[test]
    fn a_malformed_trade_file_reports_every_bad_line() {
        let file = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n\
            T-1;HOLD;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:03Z;85.50;EUR;2.5;MW\n\
            T-1;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:03Z;85,50;EUR;2.5;MW\n\
            T-3;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:03Z;85.50;EUR;2.5;kW\n";
        let errors = parse_trades(file.as_bytes()).expect_err("invalid");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(errors[0].reason.contains("Side `HOLD`"));
        assert!(errors[1].reason.contains("repeated"));
        assert!(errors[2].reason.contains("VolumeUnit `kW`"));
        assert!(parse_trades(b"TradeId;Side\nx;y\n").expect_err("header")[0].reason.starts_with("header must be"));
    }

    #[test]
    fn german_imbalance_prices_with_decimal_comma_and_the_autumn_hour() {
        let file = "Datum;Zeitzone;von;bis;reBAP unterdeckt;reBAP ueberdeckt\n\
            25.10.2026;CEST;02:00;02:15;1.234,56;1.234,56\n\
            25.10.2026;CET;02:00;02:15;-12,5;-12,5\n\
            25.10.2026;CET;23:45;00:00;98,10;98,10\n";
        let rows = parse_imbalance_prices(file.as_bytes()).expect("valid");
        assert_eq!(rows[0].start, "2026-10-25T00:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[0].price, d("1234.56"));
        // The repeated 02:00 in CET is an hour later.
        assert_eq!(rows[1].start, "2026-10-25T01:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[1].price, d("-12.5"));
        assert_eq!(rows[2].end, "2026-10-25T23:00:00Z".parse::<Timestamp>().expect("ts"));
        let bad = "Datum;Zeitzone;von;bis;reBAP\n2026-10-25;CET;02:00;02:15;1,0\n25.10.2026;XYZ;02:00;02:15;1,0\n";
        let errors = parse_imbalance_prices(bad.as_bytes()).expect_err("invalid");
        assert_eq!(errors.len(), 2);
        assert!(errors[0].reason.contains("Datum"));
    }

    #[test]
    fn price_files_in_either_delimiter() {
        let rows = parse_prices(b"delivery_start;price;currency\n2026-11-20T10:00:00Z;85.1;EUR\n").expect("semicolon");
        assert_eq!((rows[0].price, rows[0].currency.as_deref()), (d("85.1"), Some("EUR")));
        let rows = parse_prices(b"Delivery_Start,Price\n2026-11-20T10:00:00Z,-5\n").expect("comma");
        assert_eq!(rows[0].price, d("-5"));
        let errors = parse_prices(b"delivery_start,price\nyesterday,5\n").expect_err("bad time");
        assert_eq!(errors[0].line, 2);
        assert!(parse_prices(b"delivery_start,price\n").is_err(), "no rows");
    }
}
