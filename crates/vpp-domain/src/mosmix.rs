//! DWD MOSMIX station forecasts as delivered: KML, or KMZ (a zip holding one
//! KML file), read into weather columns per station.
//!
//! The format (Deutscher Wetterdienst, opendata.dwd.de, "MOSMIX KML"): a
//! `kml:Document` whose `dwd:ProductDefinition` holds the `dwd:IssueTime`
//! and the `dwd:ForecastTimeSteps` (one `dwd:TimeStep` per forecast time,
//! UTC), then one `kml:Placemark` per station: `kml:name` (the station id),
//! `kml:description` (its name), `kml:Point/kml:coordinates` (longitude,
//! latitude, height) and one `dwd:Forecast dwd:elementName="…"` per element,
//! whose `dwd:value` lists one value per time step, separated by blanks,
//! `-` where undefined. vpp reads:
//!
//! | element | meaning | stored as |
//! |---|---|---|
//! | `TTT` | air temperature 2 m above ground, K | `temperature`, °C |
//! | `FF` | wind speed 10 m above ground, m/s | `wind_speed_10m` |
//! | `PPPP` | surface pressure reduced to sea level, Pa | `pressure` |
//! | `N` | total cloud cover, % | `cloud_cover` |
//! | `DD` | wind direction 10 m above ground, ° | `wind_direction_10m` |
//! | `Rad1h` | global irradiance over the last hour, kJ/m² | `irradiance_ghi`, W/m² (÷ 3.6), for the hour before its time |
//!
//! Files are ISO-8859-1 (station names with umlauts); the numbers are ASCII.
//! The whole file is read before anything is returned: a bad value names
//! its station and element.

use std::io::Read;

use jiff::Timestamp;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::Invalid;
use crate::series::Quantity;
use crate::weather::{WeatherColumn, WeatherFile};

/// A MOSMIX element vpp reads: (element, quantity, value → stored unit, a
/// sum or mean over the hour before its time?).
pub type Element = (&'static str, Quantity, fn(f64) -> f64, bool);

/// The MOSMIX elements vpp reads.
pub const MOSMIX_ELEMENTS: [Element; 6] = [
    ("TTT", Quantity::Temperature, |k| k - 273.15, false),
    ("FF", Quantity::WindSpeed10m, |v| v, false),
    ("PPPP", Quantity::Pressure, |v| v, false),
    ("N", Quantity::CloudCover, |v| v, false),
    ("DD", Quantity::WindDirection10m, |v| v, false),
    // kJ/m² over an hour → mean W/m²: × 1000 J/kJ ÷ 3600 s.
    ("Rad1h", Quantity::IrradianceGhi, |kj| kj / 3.6, true),
];

/// One station's forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct MosmixStation {
    /// Station id (`kml:name`), e.g. `10382`.
    pub id: String,
    /// Station name (`kml:description`).
    pub name: String,
    /// Its columns, at the station's position.
    pub file: WeatherFile,
}

/// A MOSMIX file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Mosmix {
    /// `dwd:IssueTime`, µs: the version every value is stored as.
    pub issued_at_us: i64,
    /// The stations read (all, or those asked for).
    pub stations: Vec<MosmixStation>,
    /// Elements in the file that vpp does not read.
    pub ignored: Vec<String>,
}

/// The KML inside a KMZ, or the bytes themselves if they are not a zip.
pub fn kml_bytes(body: &[u8]) -> Result<Vec<u8>, Invalid> {
    if !body.starts_with(b"PK\x03\x04") {
        return Ok(body.to_vec());
    }
    let bad = |e: String| Invalid::one("file", format!("not a readable KMZ: {e}"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body)).map_err(|e| bad(e.to_string()))?;
    let kml: Vec<usize> = (0..zip.len())
        .filter(|&i| zip.name_for_index(i).is_some_and(|n| n.is_ok_and(|n| n.to_ascii_lowercase().ends_with(".kml"))))
        .collect();
    let [index] = kml.as_slice() else {
        return Err(Invalid::one("file", format!("a KMZ holds one .kml file; this one holds {}", kml.len())));
    };
    let mut entry = zip.by_index(*index).map_err(|e| bad(e.to_string()))?;
    // An all-stations MOSMIX_S file unpacks to some hundreds of MB; refuse
    // anything far beyond that rather than exhaust memory.
    const LIMIT: u64 = 2 << 30;
    let mut out = Vec::new();
    (&mut entry).take(LIMIT + 1).read_to_end(&mut out).map_err(|e| bad(e.to_string()))?;
    if out.len() as u64 > LIMIT {
        return Err(Invalid::one("file", "the KML inside the KMZ is larger than 2 GiB"));
    }
    Ok(out)
}

/// Where the reader is inside the document.
#[derive(Default)]
struct Place {
    station: Option<StationDraft>,
    element: Option<String>,
    text: String,
    /// Local name of the element whose text is being collected.
    collecting: Option<&'static str>,
}

#[derive(Default)]
struct StationDraft {
    id: String,
    name: String,
    coordinates: String,
    forecasts: Vec<(String, String)>,
}

/// Text of an element, ISO-8859-1 or UTF-8 as the file declares.
fn text(bytes: &[u8], latin1: bool) -> String {
    if latin1 { bytes.iter().map(|&b| char::from(b)).collect() } else { String::from_utf8_lossy(bytes).into_owned() }
}

/// Reads a MOSMIX KML or KMZ; `only` keeps the listed station ids (every
/// one must be in the file).
pub fn parse_mosmix(body: &[u8], only: &[String]) -> Result<Mosmix, Invalid> {
    let kml = kml_bytes(body)?;
    let head = &kml[..kml.len().min(200)];
    let latin1 = head.windows(10).any(|w| w.eq_ignore_ascii_case(b"ISO-8859-1"));
    let mut reader = Reader::from_reader(kml.as_slice());
    let mut buf = Vec::new();
    let mut place = Place::default();
    let mut issue_time: Option<String> = None;
    let mut steps: Vec<String> = Vec::new();
    let mut drafts: Vec<StationDraft> = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            Invalid::one("file", format!("not well-formed XML at byte {}: {e}", reader.error_position()))
        })?;
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"Placemark" => place.station = Some(StationDraft::default()),
                    b"Forecast" => {
                        let element = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.local_name().as_ref() == b"elementName")
                            .map(|a| text(&a.value, latin1));
                        place.element = element;
                    }
                    other => {
                        place.collecting = match other {
                            b"IssueTime" => Some("IssueTime"),
                            b"TimeStep" => Some("TimeStep"),
                            b"name" if place.station.is_some() => Some("name"),
                            b"description" if place.station.is_some() => Some("description"),
                            b"coordinates" if place.station.is_some() => Some("coordinates"),
                            b"value" if place.element.is_some() => Some("value"),
                            _ => None,
                        };
                        place.text.clear();
                    }
                }
            }
            Event::Text(t) if place.collecting.is_some() => place.text.push_str(&text(&t, latin1)),
            Event::GeneralRef(r) if place.collecting.is_some() => {
                // The five predefined entities; numeric references by value.
                let name: &[u8] = &r;
                let resolved = match name {
                    b"amp" => Some('&'),
                    b"lt" => Some('<'),
                    b"gt" => Some('>'),
                    b"quot" => Some('"'),
                    b"apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                place.text.extend(resolved);
            }
            Event::End(e) => {
                let name = e.local_name();
                let done = std::mem::take(&mut place.text);
                match (place.collecting.take(), name.as_ref()) {
                    (Some("IssueTime"), _) => issue_time = Some(done.trim().to_string()),
                    (Some("TimeStep"), _) => steps.push(done.trim().to_string()),
                    (Some("name"), _) => place.station.as_mut().map(|s| s.id = done.trim().to_string()).unwrap_or(()),
                    (Some("description"), _) => {
                        place.station.as_mut().map(|s| s.name = done.trim().to_string()).unwrap_or(())
                    }
                    (Some("coordinates"), _) => {
                        place.station.as_mut().map(|s| s.coordinates = done.trim().to_string()).unwrap_or(())
                    }
                    (Some("value"), _) => {
                        if let (Some(s), Some(el)) = (place.station.as_mut(), place.element.clone()) {
                            s.forecasts.push((el, done));
                        }
                    }
                    (_, b"Forecast") => place.element = None,
                    (_, b"Placemark") => drafts.extend(place.station.take()),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    assemble(issue_time, &steps, drafts, only)
}

/// Checks the pieces and turns them into columns.
fn assemble(
    issue_time: Option<String>,
    steps: &[String],
    drafts: Vec<StationDraft>,
    only: &[String],
) -> Result<Mosmix, Invalid> {
    let issue = issue_time.ok_or_else(|| Invalid::one("ProductDefinition.IssueTime", "is missing"))?;
    let issued_at_us = issue
        .parse::<Timestamp>()
        .map_err(|e| Invalid::one("ProductDefinition.IssueTime", format!("`{issue}` is not a UTC time: {e}")))?
        .as_microsecond();
    let times: Vec<i64> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<Timestamp>().map(|t| t.as_microsecond()).map_err(|e| {
                Invalid::one(
                    format!("ProductDefinition.ForecastTimeSteps[{i}]"),
                    format!("`{s}` is not a UTC time: {e}"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    const HOUR_US: i64 = 3_600_000_000;
    if times.len() < 2 {
        return Err(Invalid::one("ProductDefinition.ForecastTimeSteps", "at least two time steps are needed"));
    }
    if let Some(i) = times.windows(2).position(|w| w[1] - w[0] != HOUR_US) {
        return Err(Invalid::one(
            format!("ProductDefinition.ForecastTimeSteps[{}]", i + 1),
            "MOSMIX steps are hourly; this one is not an hour after the one before",
        ));
    }
    if times[0].rem_euclid(HOUR_US) != 0 {
        return Err(Invalid::one("ProductDefinition.ForecastTimeSteps[0]", "must be a whole hour (UTC)"));
    }
    if drafts.is_empty() {
        return Err(Invalid::one("file", "no kml:Placemark (station) in the file"));
    }
    if let Some(missing) = only.iter().find(|id| !drafts.iter().any(|d| &d.id == *id)) {
        return Err(Invalid::one("stations", format!("station `{missing}` is not in the file")));
    }
    let mut ignored: Vec<String> = Vec::new();
    let mut stations = Vec::new();
    for draft in drafts.into_iter().filter(|d| only.is_empty() || only.contains(&d.id)) {
        let at = format!("Placemark[{}]", draft.id);
        if draft.id.is_empty() {
            return Err(Invalid::one("Placemark.name", "a station without an id"));
        }
        let (longitude, latitude) =
            coordinates(&draft.coordinates).map_err(|e| Invalid::one(format!("{at}.coordinates"), e))?;
        let mut columns = Vec::new();
        for (element, values) in &draft.forecasts {
            let Some(&(_, quantity, convert, preceding)) = MOSMIX_ELEMENTS.iter().find(|(e, ..)| e == element) else {
                if !ignored.contains(element) {
                    ignored.push(element.clone());
                }
                continue;
            };
            let field = format!("{at}.Forecast[{element}]");
            let words: Vec<&str> = values.split_whitespace().collect();
            if words.len() != times.len() {
                return Err(Invalid::one(&field, format!("has {} values for {} time steps", words.len(), times.len())));
            }
            let mut column = WeatherColumn { quantity, variable: element.clone(), values: Vec::new(), nulls: 0 };
            for (i, (word, t)) in words.iter().zip(&times).enumerate() {
                if *word == "-" {
                    column.nulls += 1;
                    continue;
                }
                let v: f64 = word
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| Invalid::one(format!("{field}[{i}]"), format!("`{word}` is not a number")))?;
                let start = if preceding { t - HOUR_US } else { *t };
                column.values.push((start, convert(v)));
            }
            columns.push(column);
        }
        if columns.is_empty() {
            let known: Vec<&str> = MOSMIX_ELEMENTS.iter().map(|e| e.0).collect();
            return Err(Invalid::one(at, format!("no element vpp reads; it reads {}", known.join(", "))));
        }
        let file = WeatherFile { block: "Placemark", latitude, longitude, step_s: 3600, columns, ignored: Vec::new() };
        stations.push(MosmixStation { id: draft.id, name: draft.name, file });
    }
    ignored.sort();
    Ok(Mosmix { issued_at_us, stations, ignored })
}

/// `longitude,latitude[,height]` in degrees.
fn coordinates(text: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<f64>().ok()).filter(|v| v.is_finite());
    match (number(0), number(1)) {
        (Some(lon), Some(lat)) if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) => Ok((lon, lat)),
        _ => Err(format!("`{text}` is not longitude,latitude[,height] in degrees")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-station MOSMIX_L-like file written from the published format.
    pub(crate) fn sample(ttt_first: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1" standalone="no"?>
<kml:kml xmlns:dwd="https://opendata.dwd.de/weather/lib/pointforecast_dwd_extension_V1_0.xsd" xmlns:kml="http://www.opengis.net/kml/2.2">
  <kml:Document>
    <kml:ExtendedData>
      <dwd:ProductDefinition>
        <dwd:Issuer>Deutscher Wetterdienst</dwd:Issuer>
        <dwd:ProductID>MOSMIX</dwd:ProductID>
        <dwd:IssueTime>2026-12-06T09:00:00.000Z</dwd:IssueTime>
        <dwd:ForecastTimeSteps>
          <dwd:TimeStep>2026-12-06T10:00:00.000Z</dwd:TimeStep>
          <dwd:TimeStep>2026-12-06T11:00:00.000Z</dwd:TimeStep>
          <dwd:TimeStep>2026-12-06T12:00:00.000Z</dwd:TimeStep>
        </dwd:ForecastTimeSteps>
        <dwd:FormatCfg><dwd:DefaultUndefSign>-</dwd:DefaultUndefSign></dwd:FormatCfg>
      </dwd:ProductDefinition>
    </kml:ExtendedData>
    <kml:Placemark>
      <kml:name>10382</kml:name>
      <kml:description>BERLIN-TEGEL</kml:description>
      <kml:ExtendedData>
        <dwd:Forecast dwd:elementName="TTT"><dwd:value>     {ttt_first}     276.15     277.15</dwd:value></dwd:Forecast>
        <dwd:Forecast dwd:elementName="FF"><dwd:value>       4.12       -          5.66</dwd:value></dwd:Forecast>
        <dwd:Forecast dwd:elementName="Rad1h"><dwd:value>     36.00      180.00     360.00</dwd:value></dwd:Forecast>
        <dwd:Forecast dwd:elementName="DD"><dwd:value>     250.00     260.00     270.00</dwd:value></dwd:Forecast>
        <dwd:Forecast dwd:elementName="SunD1"><dwd:value>       0.00     600.00    1800.00</dwd:value></dwd:Forecast>
      </kml:ExtendedData>
      <kml:Point><kml:coordinates>13.32,52.57,36.0</kml:coordinates></kml:Point>
    </kml:Placemark>
    <kml:Placemark>
      <kml:name>10870</kml:name>
      <kml:description>M&#220;NCHEN FLUGHAFEN</kml:description>
      <kml:ExtendedData>
        <dwd:Forecast dwd:elementName="PPPP"><dwd:value>  101290.00  101240.00  101200.00</dwd:value></dwd:Forecast>
        <dwd:Forecast dwd:elementName="N"><dwd:value>      100.00      87.00      75.00</dwd:value></dwd:Forecast>
      </kml:ExtendedData>
      <kml:Point><kml:coordinates>11.79,48.35,446.0</kml:coordinates></kml:Point>
    </kml:Placemark>
  </kml:Document>
</kml:kml>"#
        )
    }

    const T10_US: i64 = 1_796_551_200_000_000; // 2026-12-06T10:00Z

    #[test]
    fn a_station_file_reads_into_columns_in_stored_units() {
        let m = parse_mosmix(sample("275.15").as_bytes(), &[]).expect("reads");
        assert_eq!(m.issued_at_us, T10_US - 3_600_000_000);
        assert_eq!(m.ignored, ["SunD1"]);
        let berlin = &m.stations[0];
        assert_eq!((berlin.id.as_str(), berlin.name.as_str()), ("10382", "BERLIN-TEGEL"));
        assert_eq!((berlin.file.latitude, berlin.file.longitude), (52.57, 13.32));
        let column = |q| berlin.file.columns.iter().find(|c| c.quantity == q).expect("column");
        let ttt = column(Quantity::Temperature);
        assert_eq!(ttt.values.len(), 3);
        assert_eq!(ttt.values[0].0, T10_US, "instantaneous: at its time");
        assert!((ttt.values[0].1 - 2.0).abs() < 1e-9, "275.15 K is 2 °C");
        let ff = column(Quantity::WindSpeed10m);
        assert_eq!((ff.values.len(), ff.nulls), (2, 1), "`-` is undefined");
        assert_eq!(column(Quantity::WindDirection10m).values[2], (T10_US + 7_200_000_000, 270.0));
        let ghi = column(Quantity::IrradianceGhi);
        assert_eq!(ghi.values[0], (T10_US - 3_600_000_000, 10.0), "36 kJ/m² over the hour before 10:00 is 10 W/m²");
        assert_eq!(m.stations[1].name, "MÜNCHEN FLUGHAFEN");
        assert_eq!(m.stations[1].file.columns.len(), 2);

        let only = parse_mosmix(sample("275.15").as_bytes(), &["10870".into()]).expect("reads");
        assert_eq!(only.stations.len(), 1);
        let missing = parse_mosmix(sample("275.15").as_bytes(), &["99999".into()]).expect_err("unknown station");
        assert_eq!(missing.0[0].field, "stations");
    }

    #[test]
    fn a_kmz_is_unpacked_and_bad_values_are_named() {
        use std::io::Write;
        let mut bytes = Vec::new();
        {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
            zip.start_file("MOSMIX_L_2026120609_10382.kml", zip::write::SimpleFileOptions::default()).expect("entry");
            zip.write_all(sample("275.15").as_bytes()).expect("write");
            zip.finish().expect("zip");
        }
        assert_eq!(parse_mosmix(&bytes, &[]).expect("reads").stations.len(), 2);

        let bad = parse_mosmix(sample("warm").as_bytes(), &[]).expect_err("not a number");
        assert_eq!(bad.0[0].field, "Placemark[10382].Forecast[TTT][0]");
        let short = sample("275.15").replace("     36.00      180.00     360.00", "36.00 180.00");
        let bad = parse_mosmix(short.as_bytes(), &[]).expect_err("too few values");
        assert_eq!(bad.0[0].field, "Placemark[10382].Forecast[Rad1h]");
        let gap = sample("275.15").replace("T11:00:00.000Z", "T11:30:00.000Z");
        let bad = parse_mosmix(gap.as_bytes(), &[]).expect_err("uneven steps");
        assert_eq!(bad.0[0].field, "ProductDefinition.ForecastTimeSteps[1]");
        let broken = parse_mosmix(b"<kml:kml><kml:Document></kml:kml>", &[]).expect_err("not well-formed");
        assert_eq!(broken.0[0].field, "file");
        assert!(parse_mosmix(b"PK\x03\x04garbage", &[]).is_err());
    }
}
