//! What each fuzz target checks, shared by the libFuzzer targets in
//! `fuzz_targets/` and the regression test that replays the kept corpora
//! (`crates/vpp-cli/tests/fuzz_regressions.rs`) on stable Rust.
//!
//! Every parser of outside input must answer any byte string with a value or
//! an error, never a panic; beyond that, each check asserts what a caller
//! relies on: accepted values are finite, refusals name a line or field.

use jiff::tz::TimeZone;
use serde_json::Value;
use vpp_devices::protocol::{Topic, parse_ack, parse_setpoint, parse_telemetry};
use vpp_domain::Invalid;
use vpp_domain::market::files::{parse_imbalance_prices, parse_prices, parse_trades};
use vpp_domain::market::invoice::parse_contracts;
use vpp_domain::series_import::{ColumnFile, CsvOptions, Parsed, RowError, parse_columns, parse_csv};
use vpp_domain::strategy::rules::{Field, Formula, RuleSet, Values};
use vpp_domain::tariff::bill::parse_actual_bills;
use vpp_domain::tariff::load::{TimeLabel, parse_load_csv};
use vpp_domain::techdata::TechnicalDataFile;

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// The targets, by name: the name of the libFuzzer binary and of its corpus folder.
pub const TARGETS: &[(&str, Check)] = &[
    ("series_csv", series_csv),
    ("series_columns", series_columns),
    ("techdata", techdata),
    ("market_files", market_files),
    ("contracts_bills", contracts_bills),
    ("strategy_rules", strategy_rules),
    ("price_formula", price_formula),
    ("mqtt_payloads", mqtt_payloads),
    ("weather_open_meteo", weather_open_meteo),
    ("weather_mosmix", weather_mosmix),
    ("field_devices", field_devices),
];

fn check_invalid(e: &Invalid) {
    assert!(!e.0.is_empty(), "an error names at least one problem");
    for f in &e.0 {
        assert!(!f.message.is_empty(), "every problem says what is wrong");
    }
}

fn check_rows(errors: &[RowError]) {
    assert!(!errors.is_empty(), "a refused file names at least one row");
    for e in errors {
        assert!(!e.reason.is_empty(), "every refused row says why");
    }
}

fn check_parsed(p: &Parsed) {
    for row in &p.rows {
        assert!(row.input.value.is_finite(), "accepted value {} on line {}", row.input.value, row.line);
    }
    for e in &p.rejected {
        assert!(!e.reason.is_empty());
    }
}

/// The series CSV importer; the first byte picks the dialect.
pub fn series_csv(data: &[u8]) {
    let Some((&dialect, text)) = data.split_first() else { return };
    // Bit 6 leaves the delimiter and decimal mark to the file.
    let sniffed = dialect & 64 != 0;
    let delimiter = [",", ";", "\t", "|"][usize::from(dialect & 3)];
    let opts = CsvOptions {
        delimiter: (!sniffed).then(|| delimiter.to_string()),
        decimal_comma: (!sniffed).then_some(dialect & 4 != 0),
        timestamp_format: (dialect & 8 != 0).then(|| "%d.%m.%Y %H:%M".to_string()),
        timezone: (dialect & 16 != 0).then(|| "Europe/Berlin".to_string()),
        time_unit: (dialect & 128 != 0).then_some(vpp_domain::delivered::TimeUnit::Ms),
        start_column: None,
        value_column: None,
        belief_time_column: None,
        belief_time: (dialect & 32 != 0).then_some(jiff::Timestamp::from_second(1_767_225_600).unwrap_or_default()),
        source: None,
        unit: None,
        resolution_s: None,
    };
    match parse_csv(text, &opts) {
        Ok(p) => check_parsed(&p),
        Err(e) => check_invalid(&e),
    }
}

/// The column-oriented JSON of series.
pub fn series_columns(data: &[u8]) {
    let Ok(file) = serde_json::from_slice::<ColumnFile>(data) else { return };
    for resolution_s in [900, 3600] {
        match parse_columns(&file, resolution_s, None, None) {
            Ok(p) => check_parsed(&p),
            Err(e) => check_invalid(&e),
        }
    }
}

/// The technical-data file: decoding, per-asset checks and the resource each
/// asset becomes under its preset template.
pub fn techdata(data: &[u8]) {
    let Ok(file) = serde_json::from_slice::<TechnicalDataFile>(data) else { return };
    let records = match file.records() {
        Ok(r) => r,
        Err(e) => return check_invalid(&e),
    };
    let presets = vpp_domain::presets::preset_templates();
    let now = jiff::Timestamp::UNIX_EPOCH;
    for record in &records {
        let Some(spec) = presets.iter().find(|s| s.resource_type == record.resource_type) else { continue };
        let template = vpp_domain::template::ResourceTemplate {
            id: "tpl".into(),
            name: spec.name.clone(),
            resource_type: spec.resource_type,
            category: spec.category(),
            description: spec.description.clone(),
            parameters: spec.parameters.clone(),
            rules: spec.rules.clone(),
            control_interface: spec.control_interface.clone(),
            version: 1,
            preset: true,
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = record.new_resource(&template) {
            check_invalid(&e);
        }
    }
}

/// Day-ahead prices, intraday trades and imbalance prices; the first byte picks the file.
pub fn market_files(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else { return };
    match kind % 3 {
        0 => match parse_prices(bytes, &jiff::tz::TimeZone::UTC) {
            Ok(rows) => rows.iter().for_each(|r| assert!(r.end.is_none_or(|end| end > r.start))),
            Err(e) => check_rows(&e),
        },
        1 => match parse_trades(bytes, &jiff::tz::TimeZone::UTC) {
            Ok(rows) => rows.iter().for_each(|r| assert!(r.end > r.start && !r.trade_id.is_empty())),
            Err(e) => check_rows(&e),
        },
        _ => match parse_imbalance_prices(bytes) {
            Ok(rows) => rows.iter().for_each(|r| assert!(r.end > r.start)),
            Err(e) => check_rows(&e),
        },
    }
}

/// Customer contracts, actual bills and a park's load file; the first byte picks the file.
pub fn contracts_bills(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else { return };
    match kind % 3 {
        0 => {
            if let Err(e) = parse_contracts(bytes) {
                check_rows(&e);
            }
        }
        1 => {
            if let Err(e) = parse_actual_bills(bytes) {
                check_rows(&e);
            }
        }
        _ => {
            let label = if kind & 4 == 0 { TimeLabel::Start } else { TimeLabel::End };
            let tz = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
            match parse_load_csv(bytes, &tz, label) {
                Ok(rows) => rows.iter().for_each(|(_, kw)| assert!(kw.is_finite())),
                Err(e) => check_rows(&e),
            }
        }
    }
}

/// Known values for every field, some odd on purpose.
struct Odd;

impl Values for Odd {
    fn get(&self, field: &Field) -> Option<f64> {
        match field {
            Field::Hour => Some(23.0),
            Field::Soc => Some(0.0),
            Field::ForecastPrice => Some(-500.0),
            Field::ActualPrice => None,
            _ => Some(1e300),
        }
    }
}

/// The strategy rule language in its JSON form, parsed, checked and decided once.
pub fn strategy_rules(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    match RuleSet::parse(&value, "rules") {
        Ok(rules) => {
            let (fired, explanation) = rules.decide(&Odd);
            assert_eq!(fired.is_some(), explanation.rule.is_some());
        }
        Err(e) => check_invalid(&e),
    }
}

/// A price formula text, parsed and evaluated.
pub fn price_formula(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = Formula::parse(&Value::String(text.to_string())) {
        let _ = f.eval(&Odd);
    }
}

/// What devices publish over MQTT, and the topics they publish on; the
/// first byte picks the message.
pub fn mqtt_payloads(data: &[u8]) {
    let Some((&kind, payload)) = data.split_first() else { return };
    match kind % 4 {
        0 => {
            if let Ok(m) = parse_telemetry(payload) {
                for s in &m.samples {
                    assert!(s.power_kw.is_finite(), "accepted power {}", s.power_kw);
                }
            }
        }
        1 => {
            let _ = parse_ack(payload);
        }
        2 => {
            let _ = parse_setpoint(payload);
        }
        _ => {
            if let Ok(topic) = std::str::from_utf8(payload) {
                for prefix in ["vpp", "tenants/acme/vpp"] {
                    if let Some(t) = Topic::parse(topic, prefix) {
                        assert!(topic.starts_with(prefix) && !t.site.is_empty() && !t.resource_id.is_empty());
                    }
                }
                let _ = vpp_devices::protocol::check_prefix(topic);
            }
        }
    }
}

/// An Open-Meteo answer: read whole into finite columns on an even grid, or
/// refused naming a field.
pub fn weather_open_meteo(data: &[u8]) {
    match vpp_domain::weather::parse_open_meteo(data) {
        Ok(file) => {
            assert!(file.step_s > 0 && 86_400 % file.step_s == 0, "step {}", file.step_s);
            assert!(!file.columns.is_empty(), "a file that reads has a column vpp reads");
            for column in &file.columns {
                for (start, value) in &column.values {
                    assert!(value.is_finite(), "{} at {start}: {value}", column.variable);
                }
            }
        }
        Err(e) => check_invalid(&e),
    }
}

/// A DWD MOSMIX KML (or KMZ): read whole into finite hourly columns per
/// station, or refused naming a field.
pub fn weather_mosmix(data: &[u8]) {
    match vpp_domain::mosmix::parse_mosmix(data, &[]) {
        Ok(m) => {
            assert!(!m.stations.is_empty(), "a file that reads has a station");
            for station in &m.stations {
                assert!(!station.file.columns.is_empty(), "a station that reads has a column vpp reads");
                for column in &station.file.columns {
                    for (start, value) in &column.values {
                        assert!(value.is_finite(), "{} at {start}: {value}", column.variable);
                        assert_eq!(start.rem_euclid(3_600_000_000), 0, "hourly on the UTC grid");
                    }
                }
            }
        }
        Err(e) => check_invalid(&e),
    }
}

/// Field devices' messages, the first byte picking which: 0 an OCPP-J
/// frame (one that reads writes back to the same frame), 1 MeterValues,
/// 2 TransactionEvent, 3 StatusNotification payloads, 4 a Modbus device's
/// registers at 40000 as SunSpec (discovery and one reading).
pub fn field_devices(data: &[u8]) {
    use vpp_domain::ocpp;
    let Some((&kind, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    // The smart-charging messages took the last three kinds, so the kept
    // corpus keeps its meaning for the others.
    match kind {
        250 => {
            if let Ok(n) = serde_json::from_str::<ocpp::NotifyEvChargingNeeds>(&text) {
                let kwh = n.charging_needs.energy_kwh();
                assert!(kwh.is_none_or(|k| k.is_finite() && k >= 0.0), "a need is a finite energy: {kwh:?}");
            }
            return;
        }
        251 => {
            if let Ok(a) = serde_json::from_str::<ocpp::CompositeScheduleAnswer>(&text)
                && let Some(c) = a.schedule
            {
                let _ = c.limit_w_at(c.schedule_start);
            }
            return;
        }
        252 => {
            if let Ok(p) = serde_json::from_str::<ocpp::SetChargingProfile>(&text) {
                let again = serde_json::to_string(&p).expect("a profile serialises");
                let back: ocpp::SetChargingProfile = serde_json::from_str(&again).expect("and parses back");
                assert_eq!(back.charging_profile.id, p.charging_profile.id);
                for s in &p.charging_profile.charging_schedule {
                    let _ = s.start_schedule.map(|t| s.limit_w_at(t));
                }
            }
            return;
        }
        _ => {}
    }
    match kind % 5 {
        0 => {
            if let Ok(frame) = ocpp::Frame::parse(&text) {
                assert_eq!(ocpp::Frame::parse(&frame.to_text()).as_ref(), Ok(&frame), "a frame round-trips");
            }
        }
        1 => {
            if let Ok(m) = serde_json::from_str::<ocpp::MeterValues>(&text) {
                for v in &m.meter_value {
                    let _ = v.telemetry();
                }
            }
        }
        2 => {
            if let Ok(e) = serde_json::from_str::<ocpp::TransactionEvent>(&text) {
                for v in &e.meter_value {
                    let _ = v.metered();
                }
            }
        }
        3 => {
            if let Ok(n) = serde_json::from_str::<ocpp::StatusNotification>(&text) {
                let _ = n.resource_status();
            }
        }
        _ => sunspec_registers(rest),
    }
}

/// Registers from 40000 as a device would answer them: whatever SunSpec
/// discovery makes of them, and a reading, end without a panic.
fn sunspec_registers(bytes: &[u8]) {
    use vpp_devices::sunspec::{self, image::Image};
    let mut image = Image::span(40000, 1000);
    let words: Vec<u16> = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    image.set(40000, &words[..words.len().min(1000)]);
    // The image answers at once: one poll completes each future.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let found = std::pin::pin!(sunspec::discover(&mut image, Some(40000))).as_mut().poll(&mut cx);
    if let std::task::Poll::Ready(Ok(device)) = found {
        let read = std::pin::pin!(sunspec::read(&mut image, &device)).as_mut().poll(&mut cx);
        assert!(read.is_ready(), "an in-memory device answers at once");
    }
}
