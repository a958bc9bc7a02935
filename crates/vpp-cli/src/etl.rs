//! `vpp etl forecasts`: files in and out (CSV or Parquet, by extension),
//! streamed in chunks so that inputs larger than memory work.
//!
//! Input rows are `(asset_id, delivery_start, version, power_kw)`. In CSV
//! the columns are found by header name and the times are RFC 3339; in
//! Parquet they are found by name, the times are INT64 timestamps (milli-,
//! micro- or nanoseconds, as the column's logical type says) and power is a
//! DOUBLE or FLOAT. A row that cannot be read is skipped and reported with
//! its line (CSV) or row number (Parquet); a file without the four columns
//! is refused before anything is written. Outputs go to a temporary file
//! renamed into place, so a failed run leaves no half-written file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use jiff::Timestamp;
use parquet::basic::{LogicalType, TimeUnit, Type as Physical};
use parquet::column::reader::{ColumnReaderImpl, get_typed_column_reader};
use parquet::data_type::{ByteArray, ByteArrayType, DataType, DoubleType, FloatType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;
use vpp_domain::forecast_etl::{AssetForecast, AssetIds, ForecastChunk, PortfolioPoint, SyntheticForecasts};

/// Rows per chunk handed to the fold.
pub const CHUNK_ROWS: usize = 1 << 20;
/// Rejections listed in a report; the rest are only counted.
const MAX_LISTED: usize = 20;

/// A file format, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of `path`, from its extension.
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("parquet") => Ok(Self::Parquet),
            _ => bail!("{}: unknown file type; use a .csv or .parquet extension", path.display()),
        }
    }
}

/// A skipped input row.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Line (CSV, header = 1) or row number (Parquet, from 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// What reading a file found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadReport {
    /// Rows read and handed on.
    pub accepted: u64,
    /// Rows skipped.
    pub rejected_count: u64,
    /// The first rejections.
    pub rejected: Vec<Rejected>,
}

impl ReadReport {
    fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(Rejected { line, reason: reason.into() });
        }
    }
}

/// Reads a forecast file chunk by chunk, calling `on_chunk` for each.
pub fn read_forecasts(
    path: &Path,
    assets: &mut AssetIds,
    on_chunk: &mut dyn FnMut(&ForecastChunk),
) -> anyhow::Result<ReadReport> {
    match Format::of(path)? {
        Format::Csv => read_csv(path, assets, on_chunk),
        Format::Parquet => read_parquet(path, assets, on_chunk),
    }
}

/// Parses RFC 3339 times, remembering those seen: in forecast files a
/// delivery start repeats for every version and a version for every asset,
/// so nearly every lookup is a hit and the parser runs once per distinct
/// time. The memory is cleared when it grows past 1M entries.
#[derive(Default)]
struct TimeCache {
    last: Vec<u8>,
    last_us: i64,
    seen: rustc_hash::FxHashMap<Vec<u8>, i64>,
}

impl TimeCache {
    fn parse(&mut self, text: &[u8]) -> Result<i64, String> {
        if text == self.last.as_slice() {
            return Ok(self.last_us);
        }
        let us = match self.seen.get(text) {
            Some(&us) => us,
            None => {
                let shown = String::from_utf8_lossy(text);
                let ts: Timestamp =
                    shown.trim().parse().map_err(|e| format!("`{shown}` is not an RFC 3339 time: {e}"))?;
                if self.seen.len() >= 1 << 20 {
                    self.seen.clear();
                }
                self.seen.insert(text.to_vec(), ts.as_microsecond());
                ts.as_microsecond()
            }
        };
        self.last.clear();
        self.last.extend_from_slice(text);
        self.last_us = us;
        Ok(us)
    }
}

/// CSV records read ahead on their own thread: `used` records with their
/// line numbers, or the reason one could not be read. The batch goes back
/// to the reading thread to be refilled, so records are allocated once.
#[derive(Default)]
struct RecordBatch {
    records: Vec<csv::ByteRecord>,
    lines: Vec<(u64, Option<String>)>,
}

const CSV_BATCH: usize = 16_384;

fn read_csv(
    path: &Path,
    assets: &mut AssetIds,
    on_chunk: &mut dyn FnMut(&ForecastChunk),
) -> anyhow::Result<ReadReport> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(file);
    let headers = reader.byte_headers().with_context(|| format!("{}: reading the header", path.display()))?.clone();
    let column = |name: &str| -> anyhow::Result<usize> {
        headers
            .iter()
            .position(|h| std::str::from_utf8(h).map(|h| h.trim().eq_ignore_ascii_case(name)).unwrap_or(false))
            .with_context(|| {
                format!(
                    "{}: column `{name}` missing (need asset_id, delivery_start, version, power_kw)",
                    path.display()
                )
            })
    };
    let cols = [column("asset_id")?, column("delivery_start")?, column("version")?, column("power_kw")?];
    let mut report = ReadReport::default();
    let mut chunk = ForecastChunk::with_capacity(CHUNK_ROWS);
    let (mut starts, mut versions) = (TimeCache::default(), TimeCache::default());
    let mut last_asset: Option<(Vec<u8>, u32)> = None;
    let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
    let (recycle, recycled) = std::sync::mpsc::channel::<RecordBatch>();
    std::thread::scope(|scope| {
        // Splitting records (csv-core) overlaps with converting them.
        scope.spawn(move || {
            let mut line = 1u64;
            loop {
                let mut batch = recycled.try_recv().unwrap_or_default();
                batch.lines.clear();
                let mut done = false;
                while batch.lines.len() < CSV_BATCH {
                    let i = batch.lines.len();
                    if i == batch.records.len() {
                        batch.records.push(csv::ByteRecord::new());
                    }
                    match reader.read_byte_record(&mut batch.records[i]) {
                        Ok(false) => {
                            done = true;
                            break;
                        }
                        Ok(true) => {
                            line = batch.records[i].position().map(|p| p.line()).unwrap_or(line + 1);
                            batch.lines.push((line, None));
                        }
                        Err(e) => {
                            line += 1;
                            batch.lines.push((line, Some(format!("unreadable row: {e}"))));
                        }
                    }
                }
                if (!batch.lines.is_empty() && tx.send(batch).is_err()) || done {
                    return;
                }
            }
        });
        for batch in rx {
            for (record, (line, error)) in batch.records.iter().zip(&batch.lines) {
                let line = *line;
                if let Some(reason) = error {
                    report.reject(line, reason.clone());
                    continue;
                }
                let field = |i: usize| record.get(cols[i]);
                let parsed = (|| -> Result<(i64, i64, f64), String> {
                    let start = starts.parse(field(1).ok_or("delivery_start missing")?)?;
                    let version = versions.parse(field(2).ok_or("version missing")?)?;
                    let text = field(3).and_then(|f| std::str::from_utf8(f).ok()).ok_or("power_kw missing")?;
                    let kw: f64 = text.trim().parse().map_err(|_| format!("power_kw `{text}` is not a number"))?;
                    if !kw.is_finite() {
                        return Err(format!("power_kw `{text}` is not finite"));
                    }
                    Ok((start, version, kw))
                })();
                let (start, version, kw) = match parsed {
                    Ok(v) => v,
                    Err(reason) => {
                        report.reject(line, reason);
                        continue;
                    }
                };
                let raw = field(0).unwrap_or_default();
                let asset = match &last_asset {
                    Some((name, n)) if name.as_slice() == raw => *n,
                    _ => match std::str::from_utf8(raw).map(str::trim) {
                        Ok(id) if !id.is_empty() => {
                            let n = assets.intern(id);
                            last_asset = Some((raw.to_vec(), n));
                            n
                        }
                        _ => {
                            report.reject(line, "asset_id missing, empty or not UTF-8");
                            continue;
                        }
                    },
                };
                chunk.push(asset, start, version, kw);
                report.accepted += 1;
                if chunk.len() >= CHUNK_ROWS {
                    on_chunk(&chunk);
                    chunk.clear();
                }
            }
            let _ = recycle.send(batch);
        }
    });
    if !chunk.is_empty() {
        on_chunk(&chunk);
    }
    Ok(report)
}

/// One column of a decoded batch: the non-null values and, for an optional
/// column, the definition level of every record.
struct Decoded<T> {
    values: Vec<T>,
    defs: Vec<i16>,
    max_def: i16,
}

impl<T> Decoded<T> {
    /// Reads up to `n` records of `reader`; returns them and their count.
    fn read<D: DataType<T = T>>(
        reader: &mut ColumnReaderImpl<D>,
        max_def: i16,
        n: usize,
    ) -> anyhow::Result<(Self, usize)> {
        let mut column = Decoded { values: Vec::with_capacity(n), defs: Vec::new(), max_def };
        let defs = (max_def > 0).then_some(&mut column.defs);
        let (records, _, _) = reader.read_records(n, defs, None, &mut column.values)?;
        Ok((column, records))
    }

    /// The value of record `i`, given the index of its value among the
    /// non-null ones (advanced here); `None` for a null.
    fn get(&self, i: usize, next_value: &mut usize) -> Option<&T> {
        if self.max_def > 0 && self.defs[i] < self.max_def {
            return None;
        }
        let v = self.values.get(*next_value);
        *next_value += 1;
        v
    }
}

/// Up to [`PARQUET_BATCH`] records of the four columns.
struct DecodedBatch {
    records: usize,
    asset: Decoded<ByteArray>,
    start: Decoded<i64>,
    version: Decoded<i64>,
    power: Decoded<f64>,
}

const PARQUET_BATCH: usize = 65_536;

/// Where the four columns are and how to read them.
#[derive(Clone, Copy)]
struct ParquetLayout {
    columns: [usize; 4],
    max_def: [i16; 4],
    power_is_double: bool,
}

/// Decodes every row group in batches and sends them on; runs on its own
/// thread so that decoding overlaps with interning and folding.
fn decode_parquet(
    reader: &SerializedFileReader<File>,
    layout: ParquetLayout,
    out: &std::sync::mpsc::SyncSender<anyhow::Result<DecodedBatch>>,
) -> anyhow::Result<()> {
    let [asset_c, start_c, version_c, power_c] = layout.columns;
    let [asset_d, start_d, version_d, power_d] = layout.max_def;
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g)?;
        let mut asset_r = get_typed_column_reader::<ByteArrayType>(group.get_column_reader(asset_c)?);
        let mut start_r = get_typed_column_reader::<Int64Type>(group.get_column_reader(start_c)?);
        let mut version_r = get_typed_column_reader::<Int64Type>(group.get_column_reader(version_c)?);
        let power = group.get_column_reader(power_c)?;
        let (mut double_r, mut float_r) = if layout.power_is_double {
            (Some(get_typed_column_reader::<DoubleType>(power)), None)
        } else {
            (None, Some(get_typed_column_reader::<FloatType>(power)))
        };
        loop {
            let (asset, records) = Decoded::read(&mut asset_r, asset_d, PARQUET_BATCH)?;
            if records == 0 {
                break;
            }
            let (start, n1) = Decoded::read(&mut start_r, start_d, PARQUET_BATCH)?;
            let (version, n2) = Decoded::read(&mut version_r, version_d, PARQUET_BATCH)?;
            let (power, n3) = match (&mut double_r, &mut float_r) {
                (Some(r), _) => Decoded::read(r, power_d, PARQUET_BATCH)?,
                (_, Some(r)) => {
                    let (f, n) = Decoded::read(r, power_d, PARQUET_BATCH)?;
                    let values = f.values.iter().map(|v| f64::from(*v)).collect();
                    (Decoded { values, defs: f.defs, max_def: f.max_def }, n)
                }
                _ => unreachable!("one power reader is always set"),
            };
            if [n1, n2, n3] != [records; 3] {
                bail!("row group {g} has columns of different lengths");
            }
            if out.send(Ok(DecodedBatch { records, asset, start, version, power })).is_err() {
                return Ok(()); // the reader stopped
            }
        }
    }
    Ok(())
}

fn read_parquet(
    path: &Path,
    assets: &mut AssetIds,
    on_chunk: &mut dyn FnMut(&ForecastChunk),
) -> anyhow::Result<ReadReport> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = SerializedFileReader::new(file).with_context(|| format!("{}: not a Parquet file", path.display()))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let find = |name: &str| {
        schema.columns().iter().position(|c| c.name().eq_ignore_ascii_case(name)).with_context(|| {
            format!("{}: column `{name}` missing (need asset_id, delivery_start, version, power_kw)", path.display())
        })
    };
    let columns = [find("asset_id")?, find("delivery_start")?, find("version")?, find("power_kw")?];
    let descr = |i: usize| schema.column(columns[i]);
    if descr(0).physical_type() != Physical::BYTE_ARRAY {
        bail!("{}: asset_id must be a string column", path.display());
    }
    let mut scale = [1i64; 2];
    for (k, name) in [(1usize, "delivery_start"), (2, "version")] {
        let d = descr(k);
        scale[k - 1] = match (d.physical_type(), d.logical_type_ref()) {
            (Physical::INT64, Some(LogicalType::Timestamp(t))) => match t.unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1,
                TimeUnit::NANOS => -1_000,
            },
            _ => bail!("{}: {name} must be an INT64 timestamp column", path.display()),
        };
    }
    let power_is_double = match descr(3).physical_type() {
        Physical::DOUBLE => true,
        Physical::FLOAT => false,
        _ => bail!("{}: power_kw must be a DOUBLE or FLOAT column", path.display()),
    };
    let layout = ParquetLayout { columns, max_def: [0, 1, 2, 3].map(|i| descr(i).max_def_level()), power_is_double };
    // Per timestamp column, multiply by a positive scale, or divide by minus
    // a negative one, to get microseconds.
    let to_us = |v: i64, s: i64| if s > 0 { v.saturating_mul(s) } else { v.div_euclid(-s) };

    let mut report = ReadReport::default();
    let mut chunk = ForecastChunk::with_capacity(CHUNK_ROWS);
    let mut row_number = 0u64;
    let mut last_asset: Option<(ByteArray, u32)> = None;
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let decoder = scope.spawn(move || {
            if let Err(e) = decode_parquet(&reader, layout, &tx) {
                let _ = tx.send(Err(e));
            }
        });
        for batch in rx {
            let batch = batch.with_context(|| format!("{}: reading", path.display()))?;
            let mut next = [0usize; 4];
            for i in 0..batch.records {
                row_number += 1;
                let asset = batch.asset.get(i, &mut next[0]);
                let start = batch.start.get(i, &mut next[1]);
                let version = batch.version.get(i, &mut next[2]);
                let kw = batch.power.get(i, &mut next[3]);
                let (Some(asset), Some(&start), Some(&version), Some(&kw)) = (asset, start, version, kw) else {
                    report.reject(row_number, "a column is null");
                    continue;
                };
                if !kw.is_finite() {
                    report.reject(row_number, "power_kw is not finite");
                    continue;
                }
                let asset = match &last_asset {
                    Some((name, n)) if name == asset => *n,
                    _ => {
                        let Ok(text) = asset.as_utf8() else {
                            report.reject(row_number, "asset_id is not UTF-8");
                            continue;
                        };
                        let n = assets.intern(text);
                        last_asset = Some((asset.clone(), n));
                        n
                    }
                };
                chunk.push(asset, to_us(start, scale[0]), to_us(version, scale[1]), kw);
                report.accepted += 1;
                if chunk.len() >= CHUNK_ROWS {
                    on_chunk(&chunk);
                    chunk.clear();
                }
            }
        }
        decoder.join().map_err(|_| anyhow::anyhow!("{}: the Parquet decoder panicked", path.display()))
    })?;
    if !chunk.is_empty() {
        on_chunk(&chunk);
    }
    Ok(report)
}

/// Writes to `path` through a temporary sibling renamed into place on success.
fn write_atomically(path: &Path, write: impl FnOnce(File) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    match write(file) {
        Ok(()) => std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn rfc3339(us: i64) -> String {
    Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_else(|_| us.to_string())
}

const FORECAST_SCHEMA: &str = "message forecast {
    REQUIRED BYTE_ARRAY asset_id (UTF8);
    REQUIRED INT64 delivery_start (TIMESTAMP(MICROS,true));
    REQUIRED INT64 version (TIMESTAMP(MICROS,true));
    REQUIRED DOUBLE power_kw;
}";

const PORTFOLIO_SCHEMA: &str = "message portfolio {
    REQUIRED INT64 delivery_start (TIMESTAMP(MICROS,true));
    REQUIRED DOUBLE power_kw;
    REQUIRED INT32 assets;
}";

/// Columns of one Parquet row group, in schema order.
enum Column {
    Text(Vec<ByteArray>),
    Int64(Vec<i64>),
    Double(Vec<f64>),
    Int32(Vec<i32>),
}

/// Writes Parquet row groups (snappy-compressed).
struct ParquetOut {
    writer: SerializedFileWriter<BufWriter<File>>,
}

impl ParquetOut {
    fn new(file: File, schema: &str) -> anyhow::Result<Self> {
        let schema = Arc::new(parse_message_type(schema)?);
        let props = Arc::new(WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY).build());
        Ok(Self { writer: SerializedFileWriter::new(BufWriter::new(file), schema, props)? })
    }

    fn row_group(&mut self, columns: &[Column]) -> anyhow::Result<()> {
        let mut group = self.writer.next_row_group()?;
        for column in columns {
            let mut out = group.next_column()?.context("schema has fewer columns than written")?;
            match column {
                Column::Text(v) => out.typed::<ByteArrayType>().write_batch(v, None, None)?,
                Column::Int64(v) => out.typed::<Int64Type>().write_batch(v, None, None)?,
                Column::Double(v) => out.typed::<DoubleType>().write_batch(v, None, None)?,
                Column::Int32(v) => out.typed::<Int32Type>().write_batch(v, None, None)?,
            };
            out.close()?;
        }
        group.close()?;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        let mut inner = self.writer.into_inner()?;
        inner.flush()?;
        Ok(())
    }
}

/// A sink for `(asset_id, delivery_start, version, power_kw)` rows, in
/// either format, flushed in row groups of [`CHUNK_ROWS`].
struct ForecastSink {
    csv: Option<BufWriter<File>>,
    parquet: Option<ParquetOut>,
    ids: Vec<ByteArray>,
    starts: Vec<i64>,
    versions: Vec<i64>,
    values: Vec<f64>,
}

impl ForecastSink {
    fn new(file: File, format: Format) -> anyhow::Result<Self> {
        let (mut csv, mut parquet) = (None, None);
        match format {
            Format::Csv => {
                let mut out = BufWriter::with_capacity(1 << 20, file);
                writeln!(out, "asset_id,delivery_start,version,power_kw")?;
                csv = Some(out);
            }
            Format::Parquet => parquet = Some(ParquetOut::new(file, FORECAST_SCHEMA)?),
        }
        Ok(Self { csv, parquet, ids: Vec::new(), starts: Vec::new(), versions: Vec::new(), values: Vec::new() })
    }

    fn push(&mut self, asset: &str, start_us: i64, version_us: i64, kw: f64) -> anyhow::Result<()> {
        if let Some(out) = &mut self.csv {
            writeln!(out, "{},{},{},{kw}", csv_field(asset), rfc3339(start_us), rfc3339(version_us))?;
            return Ok(());
        }
        self.ids.push(ByteArray::from(asset));
        self.starts.push(start_us);
        self.versions.push(version_us);
        self.values.push(kw);
        if self.ids.len() >= CHUNK_ROWS {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> anyhow::Result<()> {
        if let Some(out) = &mut self.parquet
            && !self.ids.is_empty()
        {
            out.row_group(&[
                Column::Text(std::mem::take(&mut self.ids)),
                Column::Int64(std::mem::take(&mut self.starts)),
                Column::Int64(std::mem::take(&mut self.versions)),
                Column::Double(std::mem::take(&mut self.values)),
            ])?;
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.flush_group()?;
        if let Some(mut out) = self.csv.take() {
            out.flush()?;
        }
        if let Some(out) = self.parquet.take() {
            out.finish()?;
        }
        Ok(())
    }
}

/// Quotes a CSV field if it needs it.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// Writes per-asset results.
pub fn write_asset_forecasts(path: &Path, names: &AssetIds, rows: &[AssetForecast]) -> anyhow::Result<()> {
    let format = Format::of(path)?;
    write_atomically(path, |file| {
        let mut sink = ForecastSink::new(file, format)?;
        for r in rows {
            sink.push(names.name(r.asset), r.delivery_start_us, r.version_us, r.power_kw)?;
        }
        sink.finish()
    })
}

/// Writes portfolio sums `(delivery_start, power_kw, assets)`.
pub fn write_portfolio(path: &Path, rows: &[PortfolioPoint]) -> anyhow::Result<()> {
    let format = Format::of(path)?;
    write_atomically(path, |file| match format {
        Format::Csv => {
            let mut out = BufWriter::new(file);
            writeln!(out, "delivery_start,power_kw,assets")?;
            for p in rows {
                writeln!(out, "{},{},{}", rfc3339(p.delivery_start_us), p.power_kw, p.assets)?;
            }
            out.flush()?;
            Ok(())
        }
        Format::Parquet => {
            let mut out = ParquetOut::new(file, PORTFOLIO_SCHEMA)?;
            out.row_group(&[
                Column::Int64(rows.iter().map(|p| p.delivery_start_us).collect()),
                Column::Double(rows.iter().map(|p| p.power_kw).collect()),
                Column::Int32(rows.iter().map(|p| p.assets as i32).collect()),
            ])?;
            out.finish()
        }
    })
}

/// Writes a synthetic forecast set (as `vpp bench forecasts --out`). Returns the row count.
pub fn write_synthetic(spec: &SyntheticForecasts, path: &Path) -> anyhow::Result<usize> {
    let format = Format::of(path)?;
    let mut rows = 0;
    write_atomically(path, |file| {
        let mut sink = ForecastSink::new(file, format)?;
        let mut result = Ok(());
        let mut name = String::new();
        let mut named = usize::MAX;
        spec.for_each(|asset, start, version, kw| {
            if result.is_ok() {
                if asset != named {
                    name = format!("asset-{asset:05}");
                    named = asset;
                }
                result = sink.push(&name, start, version, kw);
                rows += 1;
            }
        });
        result?;
        sink.finish()
    })?;
    Ok(rows)
}

/// Peak resident memory of this process in MiB (Linux), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Arguments of `vpp etl forecasts`.
#[derive(Debug, clap::Args)]
pub struct ForecastsArgs {
    /// Read `(asset_id, delivery_start, version, power_kw)` rows from this
    /// .csv or .parquet file instead of the stored resource power forecasts.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Database table for the per-asset results (created if missing).
    // The underscore spellings are how the seed's own ETL command line writes them.
    #[arg(long, default_value = "asset_forecasts", alias = "asset_forecasts_table")]
    pub asset_forecasts_table: String,
    /// Database table for the portfolio sums (created if missing).
    #[arg(long, default_value = "portfolio_forecast", alias = "portfolio_forecast_table")]
    pub portfolio_forecast_table: String,
    /// Write the per-asset results to this .csv or .parquet file instead of the table.
    #[arg(long, alias = "asset_forecasts_out")]
    pub asset_forecasts_out: Option<PathBuf>,
    /// Write the portfolio sums to this .csv or .parquet file instead of the table.
    #[arg(long, alias = "portfolio_forecast_out")]
    pub portfolio_forecast_out: Option<PathBuf>,
    /// Only this delivery day (YYYY-MM-DD, in --tz); all intervals if absent.
    #[arg(long)]
    pub day: Option<jiff::civil::Date>,
    /// Market time zone of --day.
    #[arg(long, default_value = "Europe/Berlin")]
    pub tz: String,
    /// Write the latest tradeable version (issued at or before gate closure) instead of the latest.
    #[arg(long)]
    pub tradeable: bool,
    /// Gate closure, minutes before delivery start.
    #[arg(long, default_value_t = 15)]
    pub gate_closure_min: i64,
}

impl ForecastsArgs {
    /// True if the run reads or writes the database.
    pub fn needs_database(&self) -> bool {
        self.input.is_none() || self.asset_forecasts_out.is_none() || self.portfolio_forecast_out.is_none()
    }
}

/// Seconds spent per phase.
#[derive(Debug, Default, Serialize)]
struct Seconds {
    /// Reading and parsing the input (database or file).
    load: f64,
    /// Folding rows into the latest/tradeable state and summing.
    compute: f64,
    /// Writing both outputs.
    write: f64,
    total: f64,
}

#[derive(Debug, Serialize)]
struct EtlReport {
    source: String,
    view: &'static str,
    window: Option<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read: Option<ReadReport>,
    stats: vpp_domain::forecast_etl::EtlStats,
    asset_forecasts: String,
    asset_rows: u64,
    portfolio_forecast: String,
    portfolio_rows: u64,
    seconds: Seconds,
    peak_rss_mib: Option<f64>,
}

/// Runs the ETL and prints its report as JSON.
pub async fn run_forecasts(args: &ForecastsArgs, store: Option<&vpp_store::Store>) -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    use vpp_domain::forecast_etl::{EtlConfig, ForecastEtl};
    if !(0..=7 * 24 * 60).contains(&args.gate_closure_min) {
        bail!("--gate-closure-min must be between 0 and 10080 minutes, got {}", args.gate_closure_min);
    }
    for (path, flag) in [
        (&args.asset_forecasts_out, "--asset-forecasts-out"),
        (&args.portfolio_forecast_out, "--portfolio-forecast-out"),
    ] {
        if let Some(p) = path {
            Format::of(p).context(flag)?;
        }
    }
    if args.asset_forecasts_out.is_none() {
        vpp_store::check_table_name("asset_forecasts_table", &args.asset_forecasts_table)?;
    }
    if args.portfolio_forecast_out.is_none() {
        vpp_store::check_table_name("portfolio_forecast_table", &args.portfolio_forecast_table)?;
    }
    let window = match args.day {
        Some(day) => {
            let tz = jiff::tz::TimeZone::get(&args.tz)
                .with_context(|| format!("--tz `{}` is not a known time zone", args.tz))?;
            let from = day.to_zoned(tz.clone())?.timestamp().as_microsecond();
            let to = day.tomorrow()?.to_zoned(tz)?.timestamp().as_microsecond();
            Some((from, to))
        }
        None => None,
    };
    let started = Instant::now();
    let mut etl = ForecastEtl::new(EtlConfig { gate_closure_us: args.gate_closure_min * 60_000_000, window });
    let mut assets = AssetIds::default();
    let mut folding = Duration::ZERO;
    let mut fold = |chunk: &ForecastChunk| {
        let t = Instant::now();
        etl.fold(chunk);
        folding += t.elapsed();
    };
    let (source, read) = match &args.input {
        Some(path) => (path.display().to_string(), Some(read_forecasts(path, &mut assets, &mut fold)?)),
        None => {
            let store = store.context("the database is needed to read stored forecasts")?;
            store.stream_resource_forecasts(window, CHUNK_ROWS, &mut assets, &mut fold).await?;
            ("database".to_string(), None)
        }
    };
    let loaded = started.elapsed();
    let t = Instant::now();
    let out = etl.finish();
    let compute = folding + t.elapsed();
    let (view_name, view, store_view) = if args.tradeable {
        ("tradeable", &out.tradeable, vpp_store::EtlView::Tradeable)
    } else {
        ("latest", &out.latest, vpp_store::EtlView::Latest)
    };
    let t = Instant::now();
    let report_target = |file: &Option<PathBuf>, table: &str| match file {
        Some(p) => p.display().to_string(),
        None => format!("table {table}"),
    };
    let asset_target = report_target(&args.asset_forecasts_out, &args.asset_forecasts_table);
    let portfolio_target = report_target(&args.portfolio_forecast_out, &args.portfolio_forecast_table);
    if let Some(p) = &args.asset_forecasts_out {
        write_asset_forecasts(p, &assets, &view.assets)?;
    }
    if let Some(p) = &args.portfolio_forecast_out {
        write_portfolio(p, &view.portfolio)?;
    }
    if args.asset_forecasts_out.is_none() || args.portfolio_forecast_out.is_none() {
        let store = store.context("the database is needed to write result tables")?;
        store
            .write_forecast_tables(
                store_view,
                window,
                &assets,
                args.asset_forecasts_out.is_none().then_some((args.asset_forecasts_table.as_str(), &view.assets[..])),
                args.portfolio_forecast_out
                    .is_none()
                    .then_some((args.portfolio_forecast_table.as_str(), &view.portfolio[..])),
            )
            .await?;
    }
    let write = t.elapsed();
    let report = EtlReport {
        source,
        view: view_name,
        window: window.map(|(a, b)| (rfc3339(a), rfc3339(b))),
        read,
        stats: out.stats,
        asset_forecasts: asset_target,
        asset_rows: view.assets.len() as u64,
        portfolio_forecast: portfolio_target,
        portfolio_rows: view.portfolio.len() as u64,
        seconds: Seconds {
            load: (loaded - folding).as_secs_f64(),
            compute: compute.as_secs_f64(),
            write: write.as_secs_f64(),
            total: started.elapsed().as_secs_f64(),
        },
        peak_rss_mib: peak_rss_mib(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
