//! Files that route themselves to their asset: a column-JSON key, an asset
//! or metering-point column of a CSV, or else the file name names the asset
//! (its asset id, resource id or metering point), and the file goes into
//! that asset's power series, created if it has none yet. Technical-data
//! imports create the power series of each new PV and wind asset.

use serde::Serialize;
use vpp_domain::delivered;
use vpp_domain::resource::Resource;
use vpp_domain::series::{OwnerKind, Quantity, Series, SourceKind};
use vpp_domain::series_import::ColumnFile;
use vpp_domain::techdata::{ImportReport, TechnicalDataFile};
use vpp_domain::template::ResourceType;
use vpp_store::{Page, ResourceFilter, Store, StoreError};

use crate::error::{AppError, AppResult};
use crate::series::{FileImportReport, ImportQuery, import_file};

use vpp_domain::delivered::ASSET_COLUMNS;

/// Where a file went, and why there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Routed {
    /// The resource the file names.
    pub resource_id: String,
    /// Its power series, which took the file.
    pub series_id: String,
    /// How the asset was found, e.g. `file name names asset id WP-07`.
    pub by: String,
    /// The source kind the file name gave its rows, when the request named none
    /// (`meter`/`final` meter final, `live`/`infeed` live measurement, `forecast`/`prognose` forecast, …).
    pub source_from_name: Option<SourceKind>,
}

/// A routed file's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoutedImport {
    /// The file's name.
    pub file_name: String,
    /// Where it went.
    pub routed: Routed,
    /// What was stored.
    pub report: FileImportReport,
}

/// One name by which an asset is known.
struct Alias {
    name: String,
    kind: &'static str,
    resource_id: String,
}

/// Every name an asset goes by: resource ids, asset (external) ids, and
/// metering points from technical data (`metering_point_id`) or contracts.
async fn aliases(store: &Store) -> AppResult<Vec<Alias>> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let p = store.list_resources(&ResourceFilter::default(), Page { page, size: 1000 }).await?;
        for r in &p.items {
            out.push(Alias { name: r.id.clone(), kind: "resource id", resource_id: r.id.clone() });
            if let Some(ext) = &r.external_id {
                out.push(Alias { name: ext.clone(), kind: "asset id", resource_id: r.id.clone() });
            }
            if let Some(m) = r.metadata.get("metering_point_id").and_then(|v| v.as_str()) {
                out.push(Alias { name: m.to_string(), kind: "metering point", resource_id: r.id.clone() });
            }
        }
        if p.items.len() < 1000 {
            break;
        }
        page += 1;
    }
    // The newest version of each contract says its metering point now.
    let mut newest: std::collections::BTreeMap<String, vpp_domain::market::invoice::Contract> = Default::default();
    for c in store.list_contracts().await? {
        if newest.get(&c.contract_id).is_none_or(|n| n.valid_from < c.valid_from) {
            newest.insert(c.contract_id.clone(), c);
        }
    }
    for c in newest.into_values() {
        if let Some(m) = c.metering_point_id {
            out.push(Alias { name: m, kind: "metering point", resource_id: c.resource_id });
        }
    }
    Ok(out)
}

/// The asset names of the fleet, read once for a batch of files.
pub struct Aliases(Vec<Alias>);

impl Aliases {
    /// Every name an asset goes by now.
    pub async fn load(store: &Store) -> AppResult<Self> {
        Ok(Self(aliases(store).await?))
    }
}

/// The asset named exactly `name`; a name two assets share is refused.
fn lookup<'a>(aliases: &'a [Alias], field: &str, name: &str) -> AppResult<&'a Alias> {
    let name = name.trim();
    let found: Vec<&Alias> = aliases.iter().filter(|a| a.name == name).collect();
    match found.first() {
        None => Err(AppError::invalid(field, format!("no resource has the id, asset id or metering point `{name}`"))),
        Some(a) if found.iter().all(|b| b.resource_id == a.resource_id) => Ok(a),
        Some(_) => Err(AppError::invalid(
            field,
            format!("`{name}` names more than one asset ({}); fix the master data", {
                let mut ids: Vec<&str> = found.iter().map(|a| a.resource_id.as_str()).collect();
                ids.dedup();
                ids.join(", ")
            }),
        )),
    }
}

/// Whether `token` appears in `text` on its own: bounded by the ends or by
/// characters that are not letters or digits, and not continued by a
/// hyphen and more of a name (`WP-07` is not named in `WP-07-B`, but is in
/// `meter-WP-07`).
fn names(text: &str, token: &str) -> bool {
    let (t, k) = (text.to_ascii_lowercase(), token.to_ascii_lowercase());
    t.match_indices(&k).any(|(i, _)| {
        let before: Vec<char> = t[..i].chars().rev().take(2).collect();
        let after: Vec<char> = t[i + k.len()..].chars().take(2).collect();
        let joined = |near: &[char]| match near {
            [c, ..] if c.is_alphanumeric() => true,
            ['-', c, ..] => c.is_alphanumeric(),
            _ => false,
        };
        // Before it, only a letter or digit joins (`meter-WP-07` names WP-07).
        !before.first().is_some_and(|c| c.is_alphanumeric()) && !joined(&after)
    })
}

/// The asset `body` (named `file_name`) is about.
pub async fn route_file(store: &Store, file_name: &str, body: &[u8], format: &str) -> AppResult<Routed> {
    route_with(store, &Aliases::load(store).await?, file_name, body, format).await
}

/// The asset a file's name names, and how it was found.
fn named_by_file<'a>(aliases: &'a [Alias], file_name: &str) -> AppResult<(&'a Alias, String)> {
    let stem = std::path::Path::new(file_name).file_stem().and_then(|s| s.to_str()).unwrap_or(file_name);
    let named: Vec<&Alias> = aliases.iter().filter(|a| specific(&a.name) && names(stem, &a.name)).collect();
    // A longer name wins over one it contains (`WP-07-B` over `WP-07`).
    let lower = |a: &Alias| a.name.to_ascii_lowercase();
    let found: Vec<&Alias> = named
        .iter()
        .copied()
        .filter(|a| !named.iter().any(|b| b.name.len() > a.name.len() && lower(b).contains(&lower(a))))
        .collect();
    let mut ids: Vec<&str> = found.iter().map(|a| a.resource_id.as_str()).collect();
    ids.dedup();
    match (found.first(), ids.len()) {
        (Some(alias), 1) => Ok((*alias, format!("file name names {} {}", alias.kind, alias.name))),
        (None, _) => Err(AppError::invalid(
            "file_name",
            format!(
                "`{file_name}` names no known asset (asset id, resource id or metering point), and the file has no asset column; give the series"
            ),
        )),
        _ => {
            let names: Vec<&str> = found.iter().map(|a| a.name.as_str()).collect();
            Err(AppError::invalid(
                "file_name",
                format!("`{file_name}` names several assets ({}); give the series", names.join(", ")),
            ))
        }
    }
}

impl Aliases {
    /// The resource a file's row or column names exactly (`field` names the column in errors).
    pub fn resource(&self, field: &str, name: &str) -> AppResult<String> {
        Ok(lookup(&self.0, field, name)?.resource_id.clone())
    }

    /// The resource a file's name names.
    pub fn resource_in_file_name(&self, file_name: &str) -> AppResult<String> {
        Ok(named_by_file(&self.0, file_name)?.0.resource_id.clone())
    }
}

/// Whether a name is specific enough to find in a file name: three
/// characters or more, and not a short number (`2025` is a year).
fn specific(name: &str) -> bool {
    let n = name.chars().count();
    n >= 3 && (n >= 6 || !name.chars().all(|c| c.is_ascii_digit()))
}

async fn route_with(store: &Store, aliases: &Aliases, file_name: &str, body: &[u8], format: &str) -> AppResult<Routed> {
    let aliases = &aliases.0;
    let (alias, by) = if format == "columns" {
        let file: ColumnFile = crate::json::parse(body)?;
        let asset =
            file.asset().ok_or_else(|| AppError::invalid("key", "name the asset with asset_id or entity_id"))?;
        let alias = lookup(aliases, "key", &asset)?;
        (alias, format!("key names {} {asset}", alias.kind))
    } else if let Some((column, value)) = csv_asset(body)? {
        let alias = lookup(aliases, &column, &value)?;
        (alias, format!("column {column} names {} {value}", alias.kind))
    } else {
        named_by_file(aliases, file_name)?
    };
    let resource = store.get_resource(&alias.resource_id).await?;
    let (_, series) = power_series(store, &resource).await?;
    Ok(Routed { resource_id: resource.id, series_id: series.id, by, source_from_name: None })
}

/// The source kind a file name says, by its words; a name that says two
/// kinds (`forecast_final`) says none.
pub fn source_of_name(file_name: &str) -> Option<SourceKind> {
    let words: Vec<String> =
        file_name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let kinds: Vec<SourceKind> = [
        (SourceKind::MeterFinal, &["meter", "metered", "final", "zaehler", "abrechnung"][..]),
        (
            SourceKind::LiveMeasurement,
            &["live", "infeed", "einspeisung", "scada", "messung", "measurement", "measurements", "telemetry"][..],
        ),
        (SourceKind::Flag, &["redispatch", "curtailment", "flag", "flags"][..]),
        (SourceKind::Schedule, &["schedule", "fahrplan"][..]),
        (SourceKind::Forecast, &["forecast", "forecasts", "prognose"][..]),
    ]
    .into_iter()
    .filter(|(_, list)| has(list))
    .map(|(k, _)| k)
    .collect();
    match kinds.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// The asset a CSV's asset column names, if it has one: (column, value).
/// A file of several assets is refused.
fn csv_asset(body: &[u8]) -> AppResult<Option<(String, String)>> {
    let delimiter = delivered::sniff_delimiter(body);
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).comment(Some(b'#')).flexible(true).from_reader(body);
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(_) => return Ok(None),
    };
    let Some(col) = delivered::find_column(&headers, ASSET_COLUMNS) else { return Ok(None) };
    let mut values: Vec<String> = Vec::new();
    for record in rdr.records().filter_map(Result::ok) {
        let v = record.get(col).unwrap_or("").trim();
        if !v.is_empty() && !values.iter().any(|x| x == v) {
            values.push(v.to_string());
        }
    }
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.pop().map(|v| (headers[col].clone(), v))),
        n => Err(AppError::invalid(
            headers[col].clone(),
            format!("the file holds {n} assets ({}…); send one asset per file", values[..n.min(3)].join(", ")),
        )),
    }
}

/// The power series of a resource, created (named after it) if it has none.
pub async fn power_series(store: &Store, resource: &Resource) -> AppResult<(i64, Series)> {
    let name = format!("{} power", resource.name);
    match store.ensure_series(OwnerKind::Resource, &resource.id, Quantity::Power, &name).await {
        Err(StoreError::Duplicate { field: "name", .. }) => {
            // Another series has that name: add the id.
            let name = format!("{} power ({})", resource.name, resource.id);
            Ok(store.ensure_series(OwnerKind::Resource, &resource.id, Quantity::Power, &name).await?)
        }
        other => Ok(other?),
    }
}

/// Imports a file into the power series of the asset it names.
pub async fn import_routed(store: &Store, file_name: &str, body: &[u8], q: &ImportQuery) -> AppResult<RoutedImport> {
    import_routed_with(store, &Aliases::load(store).await?, file_name, body, q).await
}

async fn import_routed_with(
    store: &Store,
    aliases: &Aliases,
    file_name: &str,
    body: &[u8],
    q: &ImportQuery,
) -> AppResult<RoutedImport> {
    let format = q.format.clone().unwrap_or_else(|| format_of(file_name, body).into());
    let mut routed = route_with(store, aliases, file_name, body, &format).await?;
    let mut q = ImportQuery { format: Some(format.clone()), ..q.clone() };
    if q.source.is_none() && format == "csv" {
        routed.source_from_name = source_of_name(file_name);
        q.source = routed.source_from_name;
    }
    let report = import_file(store, &routed.series_id, body, &q).await?;
    Ok(RoutedImport { file_name: file_name.to_string(), routed, report })
}

/// Imports several files, each into the asset it names; one file's
/// failure stops none of the others. Files go in the order given.
pub async fn import_many(
    store: &Store,
    files: &[(String, Vec<u8>)],
    q: &ImportQuery,
) -> Vec<(String, AppResult<RoutedImport>)> {
    let mut out = Vec::with_capacity(files.len());
    let aliases = match Aliases::load(store).await {
        Ok(a) => a,
        Err(e) => {
            let reason = e.to_string();
            return files.iter().map(|(n, _)| (n.clone(), Err(AppError::internal(&reason)))).collect();
        }
    };
    for (name, body) in files {
        out.push((name.clone(), import_routed_with(store, &aliases, name, body, q).await));
    }
    out
}

/// Most files in one multi-file upload.
pub const MAX_FILES: usize = 500;

/// `columns` for a `.json` file or one that starts with `{`, else `csv`.
pub fn format_of(file_name: &str, body: &[u8]) -> &'static str {
    let json_name = file_name.to_ascii_lowercase().ends_with(".json");
    let json_body = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if json_name || json_body { "columns" } else { "csv" }
}

/// Imports a technical-data file and gives each new PV and wind asset its
/// power series, so its forecasts and meter files have a place to go.
pub async fn import_technical_data(
    store: &Store,
    file_name: &str,
    file: TechnicalDataFile,
    dry_run: bool,
) -> AppResult<ImportReport> {
    let asset_ids: Vec<String> = file.assets.iter().map(|a| a.asset_id.trim().to_string()).collect();
    let mut report = store.import_technical_data(file_name, file, dry_run).await?;
    if dry_run {
        return Ok(report);
    }
    // Every PV and wind asset of the file that has no power series gets one
    // (also those a failed earlier run left without).
    for id in &asset_ids {
        let Some(resource) = store.resource_by_external_id(id).await? else { continue };
        if matches!(resource.resource_type, ResourceType::Pv | ResourceType::Wind)
            && store.find_series(OwnerKind::Resource, &resource.id, Quantity::Power).await?.is_none()
        {
            let (_, series) = power_series(store, &resource).await?;
            report.power_series.push(series.id);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_named_on_its_own() {
        assert!(names("WP-07_meter_2025-06-08", "WP-07"));
        assert!(names("meter-final.wp-07.csv", "WP-07"));
        assert!(!names("WP-070_meter", "WP-07"));
        assert!(!names("AWP-07", "WP-07"));
        assert!(!names("WP-07-B_meter", "WP-07"), "a hyphen and more name continue it");
        assert!(names("meter-WP-07", "WP-07"));
        assert!(!specific("2025") && specific("4711-A") && specific("123456"));
        assert_eq!(source_of_name("WP-07_forecast_final.csv"), None, "two kinds say none");
        assert_eq!(format_of("a.JSON", b"x"), "columns");
        assert_eq!(format_of("a.csv", b"  {\"key\":{}}"), "columns");
        assert_eq!(format_of("a.csv", b"time,v"), "csv");
        assert_eq!(source_of_name("WP-07_meter_final_2025-06-08.csv"), Some(SourceKind::MeterFinal));
        assert_eq!(source_of_name("PV-03-live.csv"), Some(SourceKind::LiveMeasurement));
        assert_eq!(source_of_name("wp07_prognose.csv"), Some(SourceKind::Forecast));
        assert_eq!(source_of_name("redispatch_flags_WP-07.csv"), Some(SourceKind::Flag));
        assert_eq!(source_of_name("WP-07.csv"), None);
    }
}
