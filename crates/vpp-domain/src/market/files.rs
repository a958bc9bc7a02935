//! Exchange exports the file connector reads: market prices, trades and
//! imbalance prices. Every parser checks the whole file first and returns
//! either every row or every problem (line numbers from 1, header
//! included), so a malformed file changes nothing.
//!
//! Files are read as their senders write them (see [`crate::delivered`]):
//! the delimiter from the header, columns by name with aliases (never by
//! position), times in the common forms (civil times in the zone given,
//! the repeated autumn hour by order), numbers with a decimal point or
//! comma and thousands separators, units in any case.
//!
//! - **Prices**: a start column (`delivery_start`, `start`, `timestamp`, …)
//!   and a price column (`price`, `preis`, `value`, …); optional
//!   `delivery_end` and `currency`; a unit in the price header or a unit
//!   column (`EUR/MWh`, `€/MWh`, `ct/kWh`).
//! - **Trades**: `TradeId, Side, DeliveryStart, DeliveryEnd, ExecutionTime,
//!   Price, Currency, Volume, VolumeUnit` by name (aliases such as
//!   `trade_id`, `quantity`, `unit`). Volume in `MW` is power over the
//!   delivery; `MWh` is energy and is turned into MW by the delivery length.
//! - **Imbalance prices** (a German TSO or regulator export, e.g. reBAP):
//!   `Datum`, `von`, `bis`, a zone column (`Zeitzone`, `Zeitzone von`:
//!   `CET`/`MEZ` or `CEST`/`MESZ`, which settles the repeated hour of the
//!   autumn change; without one, Europe/Berlin wall clock by order),
//!   descriptor columns (`Datenkategorie`, `Datentyp`, `Einheit`) skipped,
//!   and the price: the first column named like a price (`reBAP`, `Wert`,
//!   `Preis`, …), else the first numeric one after the times.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

use super::auction::Side;
use crate::delivered::{self, DecimalMark, WallClock};
use crate::series_import::RowError;

/// Largest file the parsers take, bytes.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// Longest delivery of one price or trade: a day's product (a longer one is
/// a typo, and would be spread over millions of quarter-hours).
pub const MAX_DELIVERY: SignedDuration = SignedDuration::from_hours(25);

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

/// A delimited file read whole: its header and its records with their lines.
pub(crate) struct Table {
    header_line: usize,
    headers: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
    /// Decimal mark per column as its values show it, if they do.
    shown: Vec<Option<DecimalMark>>,
    delimiter: u8,
}

impl Table {
    /// Reads a file with its delimiter sniffed; quoted fields, `#` comments.
    pub(crate) fn read(bytes: &[u8]) -> Result<Self, Vec<RowError>> {
        let s = text(bytes)?;
        let one = |reason: String| vec![RowError { line: 0, reason }];
        let header_line = s
            .lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .ok_or_else(|| one("the file is empty".into()))?
            + 1;
        let delimiter = delivered::sniff_delimiter(s.as_bytes());
        let mut rdr =
            csv::ReaderBuilder::new().delimiter(delimiter).comment(Some(b'#')).flexible(true).from_reader(s.as_bytes());
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| one(format!("unreadable header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        let mut lines = delivered::Lines::new(s.as_bytes());
        for record in rdr.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| lines.of(p.byte() as usize));
                vec![RowError { line, reason: format!("unreadable row: {e}") }]
            })?;
            let line = record.position().map_or(0, |p| lines.of(p.byte() as usize));
            rows.push((line, record.iter().map(|f| f.trim().to_string()).collect()));
        }
        let shown = (0..headers.len())
            .map(|c| {
                delivered::decimal_mark(
                    rows.iter().map(|(_, f): &(usize, Vec<String>)| f.get(c).map_or("", String::as_str)),
                )
            })
            .collect();
        Ok(Self { header_line, headers, rows, shown, delimiter })
    }

    /// The header of column `c`.
    pub(crate) fn header(&self, c: usize) -> &str {
        self.headers.get(c).map_or("", String::as_str)
    }

    /// The data records with their lines.
    pub(crate) fn rows(&self) -> &[(usize, Vec<String>)] {
        &self.rows
    }

    /// The first column named like one of `names`.
    pub(crate) fn column(&self, names: &[&str]) -> Option<usize> {
        delivered::find_column(&self.headers, names)
    }

    /// A header problem on the header's line.
    pub(crate) fn refuse(&self, reason: String) -> Vec<RowError> {
        vec![RowError {
            line: self.header_line,
            reason: format!("{reason}; the header is `{}`", self.headers.join(" | ")),
        }]
    }

    /// The decimal mark of a column, from its values, else by delimiter.
    pub(crate) fn mark(&self, col: usize) -> DecimalMark {
        self.mark_shown(col).unwrap_or_else(|| delivered::default_mark(self.delimiter))
    }

    /// The decimal mark a column's values show, if they show one.
    pub(crate) fn mark_shown(&self, col: usize) -> Option<DecimalMark> {
        self.shown.get(col).copied().flatten()
    }
}

/// A decimal written with `mark`.
pub(crate) fn decimal_in(field: &str, s: &str, mark: DecimalMark) -> Result<Decimal, String> {
    let plain = delivered::plain_number(s, mark).map_err(|e| format!("{field}: {e}"))?;
    let parsed = if plain.contains(['e', 'E']) { Decimal::from_scientific(&plain) } else { plain.parse() };
    parsed.map_err(|_| format!("{field} `{}` is not a number", s.trim()))
}

/// A unit's factor as a decimal (1, 10 or 1000).
fn scale(f: f64) -> Decimal {
    Decimal::try_from(f).unwrap_or(Decimal::ONE)
}

/// A price unit: a price per MWh or kWh, as (currency, factor into /MWh).
fn price_unit(text: &str) -> Result<(String, Decimal), String> {
    match delivered::canonical_unit(text) {
        Some((u, f)) if u.ends_with("/MWh") => Ok((u.trim_end_matches("/MWh").to_string(), scale(f))),
        _ => Err(format!("unit `{}` is not a price like EUR/MWh or ct/kWh", text.trim())),
    }
}

/// The price unit a header names in brackets, e.g. `Preis (ct/kWh)`.
fn header_price_unit(header: &str) -> Result<Option<(String, Decimal)>, String> {
    match delivered::unit_in_header(header) {
        Some((u, f)) if u.ends_with("/MWh") => Ok(Some((u.trim_end_matches("/MWh").to_string(), scale(f)))),
        Some((u, _)) => Err(format!("`{header}` names {u}, not a price like EUR/MWh")),
        None => Ok(None),
    }
}

fn clock_of(tz: &TimeZone) -> WallClock {
    WallClock::new(tz.clone(), tz.iana_name().unwrap_or("UTC"))
}

fn time_in(clock: &mut WallClock, field: &str, s: &str, context: &str) -> Result<Timestamp, String> {
    let cell = delivered::read_time(s).map_err(|e| format!("{field}: {e}"))?;
    clock.instant(cell, context, None).map_err(|e| format!("{field}: {e}"))
}

/// Parses a market price file; times without an offset are in `tz`.
pub fn parse_prices(bytes: &[u8], tz: &TimeZone) -> Result<Vec<PriceRow>, Vec<RowError>> {
    let names = ["price", "preis", "value", "wert", "spot_price", "day_ahead_price"];
    Ok(priced(bytes, tz, &names, &[])?.into_iter().map(|(_, r)| r).collect())
}

/// A DSO's redispatch compensation price for one asset and delivery interval.
#[derive(Debug, Clone, PartialEq)]
pub struct CompensationRow {
    /// Its line in the file (header = 1).
    pub line: usize,
    /// The asset the row names (asset id, metering point, …); none when the
    /// file has no asset column (its name names the asset).
    pub asset: Option<String>,
    /// The header of the asset column, for errors.
    pub asset_column: Option<String>,
    /// The price and its interval, on the quarter-hour grid.
    pub price: PriceRow,
}

/// Parses a DSO's redispatch compensation file: per delivery interval (and
/// per asset, when it has an asset column) the price the DSO pays for the
/// energy it curtailed, in EUR/MWh or ct/kWh; times without an offset are in `tz`.
pub fn parse_compensation(bytes: &[u8], tz: &TimeZone) -> Result<Vec<CompensationRow>, Vec<RowError>> {
    let names = [
        "compensation_price",
        "compensation",
        "ausgleichspreis",
        "ausgleich",
        "entschaedigung",
        "entschädigung",
        "verguetung",
        "vergütung",
        "price",
        "preis",
    ];
    let t = Table::read(bytes)?;
    let asset_column = t.column(delivered::ASSET_COLUMNS).map(|c| t.header(c).to_string());
    let rows = priced(bytes, tz, &names, delivered::ASSET_COLUMNS)?;
    let lines: Vec<usize> = t.rows().iter().map(|(l, _)| *l).collect();
    let quarter = 900;
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for ((asset, price), line) in rows.into_iter().zip(lines) {
        // Compensation is per quarter-hour: a start or end off the grid is a typo.
        let on_grid = |t: Timestamp| t.as_second().rem_euclid(quarter) == 0 && t.subsec_nanosecond() == 0;
        if !on_grid(price.start) || price.end.is_some_and(|e| !on_grid(e)) {
            errors.push(RowError { line, reason: "the interval is not on the quarter-hour grid".into() });
            continue;
        }
        out.push(CompensationRow { line, asset, asset_column: asset_column.clone(), price });
    }
    finish(out, errors)
}

/// Reads prices per delivery interval, with the asset a row names when an
/// `asset_names` column is there.
fn priced(
    bytes: &[u8],
    tz: &TimeZone,
    price_names: &[&str],
    asset_names: &[&str],
) -> Result<Vec<(Option<String>, PriceRow)>, Vec<RowError>> {
    let t = Table::read(bytes)?;
    let start_col =
        t.column(&["delivery_start", "start", "timestamp", "datetime", "time", "zeit", "from", "von", "beginn"]);
    let price_col = t.column(price_names);
    let (Some(start_col), Some(price_col)) = (start_col, price_col) else {
        return Err(t.refuse(format!(
            "the file needs a start column (delivery_start, timestamp, …) and a price column ({}, …)",
            price_names[..2].join(", ")
        )));
    };
    let (end_col, cur_col) =
        (t.column(&["delivery_end", "end", "bis", "to", "ende"]), t.column(&["currency", "währung"]));
    let unit_col = t.column(&["unit", "einheit"]);
    let asset_col = if asset_names.is_empty() { None } else { t.column(asset_names) };
    let header_unit = header_price_unit(&t.headers[price_col]).map_err(|e| t.refuse(e))?;
    let mark = t.mark(price_col);
    let mut clock = clock_of(tz);
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, f) in &t.rows {
        let get = |c: usize| f.get(c).map_or("", String::as_str);
        let row = (|| {
            // Each column reads the repeated autumn hour by its own order.
            let start = time_in(&mut clock, "delivery_start", get(start_col), "start")?;
            let end = end_col.map(|c| time_in(&mut clock, "delivery_end", get(c), "end")).transpose()?;
            if end.is_some_and(|e| e <= start) {
                return Err("delivery_end must be after delivery_start".into());
            }
            if end.is_some_and(|e| e.duration_since(start) > MAX_DELIVERY) {
                return Err("delivery_end is more than a day after delivery_start; is a year mistyped?".into());
            }
            let (unit_currency, factor) = match unit_col {
                Some(c) => {
                    let (cur, f) = price_unit(get(c))?;
                    (Some(cur), f)
                }
                None => header_unit.clone().map_or((None, Decimal::ONE), |(cur, f)| (Some(cur), f)),
            };
            let price = decimal_in("price", get(price_col), mark)? * factor;
            let currency =
                cur_col.map(|c| get(c).trim().to_ascii_uppercase()).filter(|c| !c.is_empty()).or(unit_currency);
            let asset = match asset_col.map(|c| get(c).trim()) {
                Some("") => return Err(format!("{} is empty", t.header(asset_col.unwrap_or_default()))),
                other => other.map(str::to_string),
            };
            Ok((asset, PriceRow { start, end, price, currency }))
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(reason) => errors.push(RowError { line: *line, reason }),
        }
    }
    finish(rows, errors)
}

/// The columns of an exchange trade export, by their usual names.
pub const TRADE_COLUMNS: [&str; 9] =
    ["TradeId", "Side", "DeliveryStart", "DeliveryEnd", "ExecutionTime", "Price", "Currency", "Volume", "VolumeUnit"];

/// Parses an exchange trade export; times without an offset are in `tz`.
/// Trade ids must be unique in the file.
pub fn parse_trades(bytes: &[u8], tz: &TimeZone) -> Result<Vec<TradeRow>, Vec<RowError>> {
    let rows = read_trades(bytes, tz, false)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(TradeRow {
                trade_id: r.trade_id?,
                side: r.side?,
                start: r.start,
                end: r.end,
                executed_at: r.executed_at?,
                price: r.price,
                currency: r.currency,
                quantity_mw: r.quantity_mw,
            })
        })
        .collect())
}

/// One trade of an exchange's public export (every participant's trades,
/// without sides): what makes the market's VWAP index.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicTrade {
    /// Delivery start.
    pub start: Timestamp,
    /// Delivery end.
    pub end: Timestamp,
    /// Price, currency/MWh.
    pub price: Decimal,
    /// Currency.
    pub currency: String,
    /// Quantity as power over the delivery, MW.
    pub quantity_mw: Decimal,
}

/// Parses an exchange's public trade export: the trade columns by name,
/// with trade id, side and execution time optional (ids, where given,
/// unique).
pub fn parse_public_trades(bytes: &[u8], tz: &TimeZone) -> Result<Vec<PublicTrade>, Vec<RowError>> {
    let rows = read_trades(bytes, tz, true)?;
    Ok(rows
        .into_iter()
        .map(|r| PublicTrade {
            start: r.start,
            end: r.end,
            price: r.price,
            currency: r.currency,
            quantity_mw: r.quantity_mw,
        })
        .collect())
}

/// A trade as read, own (every field) or public (id, side and execution time optional).
struct AnyTrade {
    trade_id: Option<String>,
    side: Option<Side>,
    start: Timestamp,
    end: Timestamp,
    executed_at: Option<Timestamp>,
    price: Decimal,
    currency: String,
    quantity_mw: Decimal,
}

fn read_trades(bytes: &[u8], tz: &TimeZone, public: bool) -> Result<Vec<AnyTrade>, Vec<RowError>> {
    let t = Table::read(bytes)?;
    // A public file's ids, sides and execution times are not used (nor checked).
    let own = |c: Option<usize>| if public { None } else { c };
    let cols = [
        own(t.column(&["TradeId", "trade_id", "id", "deal_id"])),
        own(t.column(&["Side", "direction", "buy_sell", "buysell"])),
        t.column(&["DeliveryStart", "delivery_start", "start", "contract_start"]),
        t.column(&["DeliveryEnd", "delivery_end", "end", "contract_end"]),
        own(t.column(&["ExecutionTime", "execution_time", "executed_at", "trade_time", "tradetime", "timestamp"])),
        t.column(&["Price", "preis"]),
        t.column(&["Currency", "währung"]),
        t.column(&["Volume", "quantity", "qty", "menge"]),
        t.column(&["VolumeUnit", "volume_unit", "quantity_unit", "unit", "einheit"]),
    ];
    let optional = |name: &str| {
        matches!(name, "Currency" | "VolumeUnit") || (public && matches!(name, "TradeId" | "Side" | "ExecutionTime"))
    };
    let missing: Vec<&str> =
        TRADE_COLUMNS.iter().zip(&cols).filter(|(name, c)| c.is_none() && !optional(name)).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        return Err(t.refuse(format!("the trade file lacks {}", missing.join(", "))));
    }
    let col = |i: usize| cols[i].expect("checked above");
    let volume_header_unit = delivered::unit_in_header(&t.headers[col(7)]).map(|(u, _)| u);
    let price_header_unit = header_price_unit(&t.headers[col(5)]).map_err(|e| t.refuse(e))?;
    if cols[8].is_none() && volume_header_unit.is_none() {
        return Err(
            t.refuse("the trade file lacks VolumeUnit (or a unit in the volume header, e.g. `Volume (MWh)`)".into())
        );
    }
    if cols[6].is_none() && price_header_unit.is_none() {
        return Err(
            t.refuse("the trade file lacks Currency (or a unit in the price header, e.g. `Price (EUR/MWh)`)".into())
        );
    }
    let (price_mark, volume_mark) = (t.mark(col(5)), t.mark(col(7)));
    // Trades are in no time order: a wall-clock time in the repeated autumn
    // hour cannot be read by order, so it needs its offset.
    let mut clock = WallClock::strict(tz.clone(), tz.iana_name().unwrap_or("UTC"));
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for (line, f) in &t.rows {
        let get = |c: usize| f.get(c).map_or("", String::as_str);
        let row = (|| {
            let trade_id = cols[0].map(|c| get(c).to_string());
            match &trade_id {
                Some(id) if id.is_empty() && public => {}
                Some(id) if id.is_empty() || !seen.insert(id.clone()) => {
                    return Err(format!("TradeId `{id}` is empty or repeated"));
                }
                _ => {}
            }
            let side = match cols[1].map(|c| get(c).to_ascii_uppercase()) {
                None => None,
                Some(s) if s.is_empty() && public => None,
                Some(s) => Some(match s.as_str() {
                    "BUY" | "B" | "KAUF" => Side::Buy,
                    "SELL" | "S" | "VERKAUF" => Side::Sell,
                    other => return Err(format!("Side `{other}` is not BUY or SELL")),
                }),
            };
            let start = time_in(&mut clock, "DeliveryStart", get(col(2)), "")?;
            let end = time_in(&mut clock, "DeliveryEnd", get(col(3)), "")?;
            if end <= start {
                return Err("DeliveryEnd must be after DeliveryStart".into());
            }
            if end.duration_since(start) > MAX_DELIVERY {
                return Err(format!("a delivery from {start} to {end} is longer than a day; is a year mistyped?"));
            }
            let executed_at = match cols[4].map(get).filter(|s| !(public && s.trim().is_empty())) {
                Some(text) => Some(time_in(&mut clock, "ExecutionTime", text, "")?),
                None => None,
            };
            let price_factor = price_header_unit.as_ref().map_or(Decimal::ONE, |u| u.1);
            let currency = match (cols[6], &price_header_unit) {
                (Some(c), _) => get(c).to_ascii_uppercase(),
                (None, Some(u)) => u.0.clone(),
                (None, None) => return Err("no Currency column and no price unit".into()),
            };
            let price = decimal_in("Price", get(col(5)), price_mark)? * price_factor;
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!("Currency `{currency}` is not an ISO 4217 code"));
            }
            let volume = decimal_in("Volume", get(col(7)), volume_mark)?;
            if volume <= Decimal::ZERO {
                return Err(format!("Volume must be positive, got {volume}"));
            }
            let unit_text =
                cols[8].map_or_else(|| volume_header_unit.clone().unwrap_or_default(), |c| get(c).to_string());
            let hours = Decimal::from(end.duration_since(start).as_secs()) / Decimal::from(3600);
            let quantity_mw = match delivered::canonical_unit(&unit_text).map(|(u, _)| u).as_deref() {
                Some("MW") => volume,
                Some("kW") => volume / Decimal::from(1000),
                Some("MWh") => volume / hours,
                Some("kWh") => volume / Decimal::from(1000) / hours,
                _ => return Err(format!("VolumeUnit `{unit_text}` is not MW or MWh")),
            };
            Ok(AnyTrade { trade_id, side, start, end, executed_at, price, currency, quantity_mw })
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(reason) => errors.push(RowError { line: *line, reason }),
        }
    }
    finish(rows, errors)
}

/// Names of imbalance price columns, most specific first.
const IMBALANCE_PRICE_NAMES: &[&str] = &[
    "reBAP",
    "reBAP unterdeckt",
    "rebap_unterdeckt",
    "Ausgleichsenergiepreis",
    "imbalance_price",
    "Preis",
    "price",
    "Wert",
    "value",
];
/// Columns that describe an imbalance row but hold no price.
const DESCRIPTOR_NAMES: &[&str] = &[
    "Datum",
    "Date",
    "von",
    "from",
    "bis",
    "to",
    "Zeitzone",
    "Zeitzone von",
    "Zeitzone bis",
    "Timezone",
    "Datenkategorie",
    "Datentyp",
    "Einheit",
    "Dateneinheit",
    "Unit",
];

/// Parses a German imbalance price export (see the module docs).
pub fn parse_imbalance_prices(bytes: &[u8]) -> Result<Vec<ImbalanceRow>, Vec<RowError>> {
    let t = Table::read(bytes)?;
    let (date_col, from_col, to_col) =
        (t.column(&["Datum", "Date"]), t.column(&["von", "from", "Zeit von"]), t.column(&["bis", "to", "Zeit bis"]));
    let (Some(date_col), Some(from_col), Some(to_col)) = (date_col, from_col, to_col) else {
        return Err(t.refuse("an imbalance file needs Datum, von and bis columns".into()));
    };
    let zone_col = t.column(&["Zeitzone von", "Zeitzone", "Timezone"]);
    let zone_to_col = t.column(&["Zeitzone bis"]);
    let unit_col = t.column(&["Einheit", "Unit", "Dateneinheit"]);
    let descriptor_names: Vec<String> = DESCRIPTOR_NAMES.iter().map(|n| delivered::normal_name(n)).collect();
    let descriptors: Vec<usize> =
        (0..t.headers.len()).filter(|c| descriptor_names.contains(&delivered::normal_name(&t.headers[*c]))).collect();
    let numeric = |c: usize| {
        t.rows.first().and_then(|(_, f)| f.get(c)).is_some_and(|v| {
            [DecimalMark::Comma, DecimalMark::Point].iter().any(|m| delivered::parse_number(v, *m).is_ok())
        })
    };
    let price_col = t
        .column(IMBALANCE_PRICE_NAMES)
        .or_else(|| (0..t.headers.len()).find(|c| !descriptors.contains(c) && numeric(*c)));
    let Some(price_col) = price_col else {
        return Err(t.refuse("no price column (reBAP, Preis, Wert, …) and no numeric column after the times".into()));
    };
    let header_unit = header_price_unit(&t.headers[price_col]).map_err(|e| t.refuse(e))?;
    let mark = t.mark(price_col);
    let berlin = TimeZone::get("Europe/Berlin").map_err(|e| vec![RowError { line: 0, reason: e.to_string() }])?;
    let mut clock = WallClock::new(berlin, "Europe/Berlin");
    let mut named: std::collections::HashMap<String, WallClock> = std::collections::HashMap::new();
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, f) in &t.rows {
        let get = |c: usize| f.get(c).map_or("", String::as_str);
        let row = (|| {
            let date = Date::strptime("%d.%m.%Y", get(date_col))
                .or_else(|_| get(date_col).parse::<Date>())
                .map_err(|_| format!("Datum `{}` is not dd.mm.yyyy", get(date_col)))?;
            let tod = |field: &str, s: &str| -> Result<Time, String> {
                s.parse().map_err(|_| format!("{field} `{s}` is not HH:MM"))
            };
            let (from, to) = (tod("von", get(from_col))?, tod("bis", get(to_col))?);
            let zone_of = |c: Option<usize>| -> Result<Option<TimeZone>, String> {
                match c.map(get).filter(|z| !z.is_empty()) {
                    Some(z) => delivered::zone_cell(z).map(Some).map_err(|e| format!("Zeitzone: {e}")),
                    None => Ok(None),
                }
            };
            // A fixed zone (CET, +01:00) says the offset; a named one (or
            // none: Europe/Berlin) is a wall clock read by order.
            let start = match zone_of(zone_col)? {
                Some(tz) if tz.iana_name().is_none() => {
                    tz.to_timestamp(date.to_datetime(from)).map_err(|e| format!("von: {e}"))?
                }
                Some(tz) => {
                    let name = tz.iana_name().unwrap_or("UTC").to_string();
                    named
                        .entry(name.clone())
                        .or_insert_with(|| WallClock::new(tz, name))
                        .resolve(date.to_datetime(from), "von")
                        .map_err(|e| format!("von: {e}"))?
                }
                None => clock.resolve(date.to_datetime(from), "von").map_err(|e| format!("von: {e}"))?,
            };
            // A quarter-hour, whose end on the clock of `bis` (its own zone
            // column, else the start's) must be `bis`: across the autumn
            // change 02:45–03:00 is a quarter-hour either time.
            let end = start + SignedDuration::from_mins(15);
            let start_tz = zone_of(zone_col)?.unwrap_or_else(|| clock.zone().clone());
            let end_tz = zone_of(zone_to_col)?.unwrap_or_else(|| start_tz.clone());
            let in_start_offset = TimeZone::fixed(start_tz.to_offset(start));
            if end.to_zoned(end_tz).time() != to && end.to_zoned(in_start_offset).time() != to {
                return Err(format!("von {} bis {} is not a quarter-hour", get(from_col), get(to_col)));
            }
            let unit = match unit_col.map(get).filter(|u| !u.is_empty()) {
                Some(u) => Some(price_unit(u)?),
                None => header_unit.clone(),
            };
            let factor = match unit {
                Some((currency, _)) if currency != "EUR" => {
                    return Err(format!("the price is in {currency}; imbalance prices are in EUR"));
                }
                Some((_, f)) => f,
                None => Decimal::ONE,
            };
            let price = decimal_in(&t.headers[price_col], get(price_col), mark)? * factor;
            Ok(ImbalanceRow { start, end, price })
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(reason) => errors.push(RowError { line: *line, reason }),
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
        let rows = parse_trades(file.as_bytes(), &TimeZone::UTC).expect("valid");
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
            T-3;SELL;2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;2026-11-19T12:00:03Z;85.50;EUR;2.5;MVA\n";
        let errors = parse_trades(file.as_bytes(), &TimeZone::UTC).expect_err("invalid");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        // Lines count past comments and blank lines.
        let commented = format!(
            "# export\n{}\n# more\n\n{}",
            &file[..file.find('\n').unwrap()],
            &file[file.find('\n').unwrap() + 1..]
        );
        let lines: Vec<usize> =
            parse_trades(commented.as_bytes(), &TimeZone::UTC).expect_err("invalid").iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![5, 6, 7]);
        // In wall clock, a trade in the repeated hour needs its offset.
        let berlin = TimeZone::get("Europe/Berlin").expect("zone");
        let fold = "TradeId;Side;DeliveryStart;DeliveryEnd;ExecutionTime;Price;Currency;Volume;VolumeUnit\n\
            F1;SELL;2026-10-25 02:15;2026-10-25 02:30;2026-10-24 12:00;1;EUR;1;MW\n\
            F2;SELL;2026-10-25T02:15+01:00;2026-10-25T02:30+01:00;2026-10-24 12:00;1;EUR;1;MW\n";
        let fold_errors = parse_trades(fold.as_bytes(), &berlin).expect_err("ambiguous");
        assert_eq!(fold_errors.len(), 1);
        assert!(fold_errors[0].reason.contains("give the time with its offset"), "{}", fold_errors[0].reason);
        assert!(errors[0].reason.contains("Side `HOLD`"));
        assert!(errors[1].reason.contains("repeated"));
        assert!(errors[2].reason.contains("VolumeUnit `MVA`"));
        assert!(
            parse_trades(b"TradeId;Side\nx;y\n", &TimeZone::UTC).expect_err("header")[0]
                .reason
                .contains("lacks DeliveryStart")
        );
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
        let bad = "Datum;Zeitzone;von;bis;reBAP\n25/10/2026;CET;02:00;02:15;1,0\n25.10.2026;XYZ;02:00;02:15;1,0\n";
        let errors = parse_imbalance_prices(bad.as_bytes()).expect_err("invalid");
        assert_eq!(errors.len(), 2);
        assert!(errors[0].reason.contains("Datum"));
    }

    #[test]
    fn a_regulator_export_with_category_columns_before_the_price() {
        let file = "Datum;von;Zeitzone von;bis;Zeitzone bis;Datenkategorie;Datentyp;Einheit;Wert\n\
            25.10.2026;02:00;MESZ;02:15;MESZ;reBAP;Qualitaetsgesichert;EUR/MWh;1.234,56\n\
            25.10.2026;02:00;MEZ;02:15;MEZ;reBAP;Qualitaetsgesichert;ct/kWh;-1,25\n";
        let rows = parse_imbalance_prices(file.as_bytes()).expect("valid");
        assert_eq!(rows[0].start, "2026-10-25T00:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[0].price, d("1234.56"));
        assert_eq!(rows[1].start, "2026-10-25T01:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[1].price, d("-12.5"), "ct/kWh × 10");
        // Without a zone column: Europe/Berlin, the repeated hour by order.
        let file = "Datum;von;bis;Preis (EUR/MWh)\n25.10.2026;02:45;03:00;1\n25.10.2026;02:45;03:00;2\n";
        let rows = parse_imbalance_prices(file.as_bytes()).expect("valid");
        assert_eq!(rows[0].start, "2026-10-25T00:45:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[1].start, "2026-10-25T01:45:00Z".parse::<Timestamp>().expect("ts"));
    }

    #[test]
    fn a_trade_export_in_its_own_column_order_with_unit_mwh_upper_case() {
        let file = "trade_id,execution_time,side,delivery_start,delivery_end,quantity,unit,price,currency\n\
            A1,2026-11-19 12:00:03 UTC,Sell,2026-11-20 10:00:00 UTC,2026-11-20 10:15:00 UTC,\"0,5\",MWH,\"85,5\",eur\n";
        let rows = parse_trades(file.as_bytes(), &TimeZone::UTC).expect("valid");
        assert_eq!((rows[0].side, rows[0].quantity_mw, rows[0].price), (Side::Sell, d("2"), d("85.5")));
        assert_eq!(rows[0].currency, "EUR");
        assert_eq!(rows[0].executed_at, "2026-11-19T12:00:03Z".parse::<Timestamp>().expect("ts"));
    }

    #[test]
    fn public_trades_without_sides_or_ids() {
        let file = "DeliveryStart;DeliveryEnd;Price;Volume (MWh);Currency\n\
            2026-11-20T10:00:00Z;2026-11-20T11:00:00Z;80,00;4;EUR\n\
            2026-11-20T10:15:00Z;2026-11-20T10:30:00Z;100;0,5;EUR\n";
        let rows = parse_public_trades(file.as_bytes(), &TimeZone::UTC).expect("valid");
        assert_eq!((rows[0].quantity_mw, rows[1].quantity_mw), (d("4"), d("2")));
        assert_eq!(rows[1].price, d("100"));
        let with_side = "DeliveryStart;DeliveryEnd;Side;Price;Volume (MWh);Currency\n2026-11-20T10:00:00Z;2026-11-20T10:15:00Z;N/A;80;1;EUR\n";
        assert_eq!(parse_public_trades(with_side.as_bytes(), &TimeZone::UTC).expect("sides unused").len(), 1);
        let typo = "DeliveryStart;DeliveryEnd;Price;Volume (MWh);Currency\n2026-11-20T10:00:00Z;2206-11-20T10:15:00Z;80;1;EUR\n";
        assert!(
            parse_public_trades(typo.as_bytes(), &TimeZone::UTC).expect_err("typo")[0]
                .reason
                .contains("longer than a day")
        );
        let own = parse_trades(file.as_bytes(), &TimeZone::UTC).expect_err("own trades need ids and sides");
        assert!(own[0].reason.contains("lacks TradeId, Side, ExecutionTime"), "{}", own[0].reason);
    }

    #[test]
    fn prices_in_wall_clock_and_cents() {
        let berlin = TimeZone::get("Europe/Berlin").expect("zone");
        let file = "Zeit;Preis (ct/kWh)\n25.10.2026 02:00;8,5\n25.10.2026 02:00;9\n";
        let rows = parse_prices(file.as_bytes(), &berlin).expect("valid");
        assert_eq!(rows[0].start, "2026-10-25T00:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(rows[1].start, "2026-10-25T01:00:00Z".parse::<Timestamp>().expect("ts"));
        // With ends: each column counts the repeated hour on its own.
        let file = "start;end;price\n25.10.2026 01:45;25.10.2026 02:00;1\n25.10.2026 02:00;25.10.2026 02:15;2\n\
            25.10.2026 02:45;25.10.2026 02:00;3\n25.10.2026 02:00;25.10.2026 02:15;4\n";
        let ranged = parse_prices(file.as_bytes(), &berlin).expect("valid");
        let ends: Vec<String> = ranged.iter().map(|r| r.end.expect("end").to_string()).collect();
        assert_eq!(
            ends,
            ["2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z"]
        );
        assert_eq!((rows[0].price, rows[0].currency.as_deref()), (d("85"), Some("EUR")));
        let cents = parse_prices(b"time,currency,price (ct/kWh)\n2026-11-20T10:00:00Z,EUR,8.5\n", &berlin).expect("ct");
        assert_eq!(cents[0].price, d("85"));
        let errors = parse_prices(b"Zeit;Preis\n29.03.2026 02:30;1\n", &berlin).expect_err("spring gap");
        assert!(errors[0].reason.contains("does not exist"), "{}", errors[0].reason);
    }

    #[test]
    fn a_dso_compensation_file_per_asset_in_cents_and_utc() {
        let file = "MaLo;Beginn;Ende;Ausgleichspreis (ct/kWh)\n\
            DE0001;2025-06-08 10:00:00 UTC;2025-06-08 10:15:00 UTC;7,125\n\
            DE0002;2025-06-08 10:00:00 UTC;2025-06-08 11:00:00 UTC;6,5\n\
            ;2025-06-08 10:15:00 UTC;2025-06-08 10:30:00 UTC;1\n";
        let e = parse_compensation(file.as_bytes(), &TimeZone::UTC).unwrap_err();
        assert_eq!((e[0].line, e[0].reason.as_str()), (4, "MaLo is empty"), "{e:?}");
        let rows =
            parse_compensation(file.lines().take(3).collect::<Vec<_>>().join("\n").as_bytes(), &TimeZone::UTC).unwrap();
        assert_eq!(rows[0].asset.as_deref(), Some("DE0001"));
        assert_eq!(rows[0].price.price, d("71.25"), "ct/kWh into EUR/MWh");
        assert_eq!(rows[1].price.end.unwrap().to_string(), "2025-06-08T11:00:00Z");
        let no_asset = "timestamp,compensation_price (EUR/MWh)\n2025-06-08T10:00:00Z,64.3\n";
        let rows = parse_compensation(no_asset.as_bytes(), &TimeZone::UTC).unwrap();
        assert_eq!((rows[0].asset.as_deref(), rows[0].price.price), (None, d("64.3")));
        let off = "timestamp,compensation_price\n2025-06-08T10:05:00Z,64.3\n2025-06-08T10:15:00Z,64.3\n";
        let e = parse_compensation(off.as_bytes(), &TimeZone::UTC).unwrap_err();
        assert_eq!((e.len(), e[0].line), (1, 2), "{e:?}");
    }

    #[test]
    fn price_files_in_either_delimiter() {
        let rows = parse_prices(b"delivery_start;price;currency\n2026-11-20T10:00:00Z;85.1;EUR\n", &TimeZone::UTC)
            .expect("semicolon");
        assert_eq!((rows[0].price, rows[0].currency.as_deref()), (d("85.1"), Some("EUR")));
        let rows = parse_prices(b"Delivery_Start,Price\n2026-11-20T10:00:00Z,-5\n", &TimeZone::UTC).expect("comma");
        assert_eq!(rows[0].price, d("-5"));
        let errors = parse_prices(b"delivery_start,price\nyesterday,5\n", &TimeZone::UTC).expect_err("bad time");
        assert_eq!(errors[0].line, 2);
        assert!(parse_prices(b"delivery_start,price\n", &TimeZone::UTC).is_err(), "no rows");
    }
}
