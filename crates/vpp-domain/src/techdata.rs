//! Technical-data import: the asset master file delivered daily by asset
//! owners, mapped onto resources and compared field by field.
//!
//! File form: `{"assets":[{asset_id, name, type, location{latitude, longitude,
//! timezone}, technical_attributes{capacity_kw, ...}, status, owner{name}}]}`.
//! Attributes that name a template parameter become parameters; the rest is
//! kept as metadata.

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Errors, Invalid};
use crate::resource::{Location, Resource, ResourceDraft, ResourceRequest, ResourceStatus, ResourceUpdate};
use crate::template::{Parameters, ResourceTemplate, ResourceType};

/// Device address given to imported assets until one is configured.
pub const UNASSIGNED_ADDRESS: &str = "unassigned";

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicalDataFile {
    /// The assets.
    pub assets: Vec<Asset>,
}

/// One asset as delivered.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Owner's asset id; resources are matched on it.
    pub asset_id: String,
    /// Display name.
    pub name: String,
    /// Asset type, e.g. `PV`, `battery`, `wind`, `chp` (case-insensitive).
    #[serde(rename = "type")]
    pub asset_type: String,
    /// Location.
    pub location: AssetLocation,
    /// Technical attributes; `capacity_kw` is required.
    #[schema(value_type = Object)]
    pub technical_attributes: Parameters,
    /// `active`, `inactive`, `maintenance` or `error` (also the resource status names).
    pub status: String,
    /// Owner.
    #[serde(default)]
    pub owner: Option<AssetOwner>,
}

/// Location as delivered.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AssetLocation {
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
}

/// Owner as delivered.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AssetOwner {
    pub name: String,
}

/// Maps a delivered asset type onto a resource type.
pub fn parse_asset_type(s: &str) -> Option<ResourceType> {
    let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    Some(match norm.as_str() {
        "pv" | "solar" | "photovoltaic" => ResourceType::Pv,
        "wind" | "wind_turbine" => ResourceType::Wind,
        "battery" | "bess" | "storage" | "battery_storage" => ResourceType::Battery,
        "ev" | "ev_charger" | "charger" | "charging_station" => ResourceType::EvCharger,
        "heat_pump" | "heatpump" => ResourceType::HeatPump,
        "hvac" => ResourceType::Hvac,
        "industrial_load" | "flexible_load" | "load" => ResourceType::IndustrialLoad,
        "diesel" | "diesel_generator" | "genset" => ResourceType::DieselGenerator,
        "chp" | "cogeneration" => ResourceType::Chp,
        _ => return None,
    })
}

/// Maps a delivered status onto a resource status.
pub fn parse_asset_status(s: &str) -> Option<ResourceStatus> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "active" | "online" | "operational" => ResourceStatus::Online,
        "inactive" | "offline" | "decommissioned" => ResourceStatus::Offline,
        "maintenance" => ResourceStatus::Maintenance,
        "error" | "fault" | "faulted" => ResourceStatus::Error,
        _ => return None,
    })
}

/// Template parameters that take `capacity_kw` when the file does not give them.
fn rating_parameters(t: ResourceType) -> &'static [&'static str] {
    match t {
        ResourceType::Pv => &["peak_kw", "inverter_kw"],
        ResourceType::Wind | ResourceType::DieselGenerator | ResourceType::Hvac => &["rated_kw"],
        ResourceType::Battery => &["max_charge_kw", "max_discharge_kw"],
        ResourceType::EvCharger => &["max_charge_kw"],
        ResourceType::HeatPump => &["rated_electrical_kw"],
        ResourceType::IndustrialLoad => &["max_load_kw"],
        ResourceType::Chp => &["electrical_kw"],
        ResourceType::Other => &[],
    }
}

/// One asset, checked and split into parameters and metadata for its template.
#[derive(Debug, Clone)]
pub struct AssetRecord {
    /// Owner's id.
    pub asset_id: String,
    /// Resource type.
    pub resource_type: ResourceType,
    /// Field path prefix in the file, e.g. `assets[3]`.
    pub field: String,
    asset: Asset,
    status: ResourceStatus,
    capacity_kw: f64,
}

impl TechnicalDataFile {
    /// Checks every asset's id, type, status and capacity, and that ids are unique.
    pub fn records(self) -> Result<Vec<AssetRecord>, Invalid> {
        let mut errors = Errors::default();
        let mut ids = HashSet::new();
        let mut records = Vec::with_capacity(self.assets.len());
        for (i, asset) in self.assets.into_iter().enumerate() {
            let field = format!("assets[{i}]");
            let id = asset.asset_id.trim().to_string();
            errors.check(!id.is_empty(), format!("{field}.asset_id"), "must not be empty");
            errors.check(
                ids.insert(id.clone()),
                format!("{field}.asset_id"),
                format!("duplicate asset_id `{id}` in the file"),
            );
            let resource_type = parse_asset_type(&asset.asset_type);
            errors.check(
                resource_type.is_some(),
                format!("{field}.type"),
                format!("unknown asset type `{}`", asset.asset_type),
            );
            let status = parse_asset_status(&asset.status);
            errors.check(
                status.is_some(),
                format!("{field}.status"),
                format!("unknown status `{}`; use active, inactive, maintenance or error", asset.status),
            );
            let capacity_kw = asset.technical_attributes.get("capacity_kw").and_then(Value::as_f64);
            errors.check(
                capacity_kw.is_some(),
                format!("{field}.technical_attributes.capacity_kw"),
                "is required and must be a number (kW)",
            );
            if let (Some(resource_type), Some(status), Some(capacity_kw)) = (resource_type, status, capacity_kw) {
                records.push(AssetRecord { asset_id: id, resource_type, field, asset, status, capacity_kw });
            }
        }
        errors.finish(records)
    }
}

impl AssetRecord {
    fn split_attributes(&self, template: &ResourceTemplate) -> (Parameters, Parameters) {
        let mut parameters = Parameters::new();
        let mut metadata = Parameters::new();
        for (k, v) in &self.asset.technical_attributes {
            if k == "capacity_kw" {
                continue;
            }
            if template.parameters.iter().any(|p| &p.name == k) {
                parameters.insert(k.clone(), v.clone());
            } else {
                metadata.insert(k.clone(), v.clone());
            }
        }
        for name in rating_parameters(self.resource_type) {
            if template.parameters.iter().any(|p| p.name == *name) {
                parameters.entry(name.to_string()).or_insert(Value::from(self.capacity_kw));
            }
        }
        (parameters, metadata)
    }

    fn location(&self, building: Option<String>) -> Location {
        let l = &self.asset.location;
        Location { lat: l.latitude, lon: l.longitude, timezone: l.timezone.clone(), building }
    }

    /// Builds a new resource from this asset.
    pub fn new_resource(&self, template: &ResourceTemplate) -> Result<ResourceDraft, Invalid> {
        let (parameters, metadata) = self.split_attributes(template);
        let request = ResourceRequest {
            template_id: template.id.clone(),
            name: self.asset.name.clone(),
            external_id: Some(self.asset_id.clone()),
            status: Some(self.status),
            parameters,
            capacity_kw: Some(self.capacity_kw),
            min_power_kw: None,
            max_power_kw: None,
            efficiency: None,
            response_time_s: None,
            marginal_cost: None,
            location: self.location(None),
            device_address: UNASSIGNED_ADDRESS.into(),
            owner: self.asset.owner.as_ref().map(|o| o.name.clone()),
            metadata,
        };
        ResourceDraft::new(template, request).map_err(|e| self.prefixed(e))
    }

    /// Applies this asset to an existing resource. Fields the file does not
    /// carry (device address, marginal cost, building...) are kept.
    pub fn updated_resource(&self, template: &ResourceTemplate, current: &Resource) -> Result<ResourceDraft, Invalid> {
        if current.resource_type != self.resource_type {
            return Err(Invalid::one(
                format!("{}.type", self.field),
                format!(
                    "asset `{}` changed type from {} to {}; register it again as a new resource",
                    self.asset_id,
                    current.resource_type.as_str(),
                    self.resource_type.as_str()
                ),
            ));
        }
        let (parameters, metadata) = self.split_attributes(template);
        let mut merged_metadata = current.metadata.clone();
        merged_metadata.extend(metadata);
        let update = ResourceUpdate {
            name: Some(self.asset.name.clone()),
            parameters: Some(parameters),
            capacity_kw: Some(self.capacity_kw),
            location: Some(self.location(current.location.building.clone())),
            owner: self.asset.owner.as_ref().map(|o| o.name.clone()),
            metadata: Some(merged_metadata),
            ..ResourceUpdate::default()
        };
        let mut draft = ResourceDraft::updated(template, current, update).map_err(|e| self.prefixed(e))?;
        draft.status = self.status;
        Ok(draft)
    }

    fn prefixed(&self, e: Invalid) -> Invalid {
        Invalid(
            e.0.into_iter()
                .map(|mut f| {
                    let inner = match f.field.as_str() {
                        "capacity_kw" => "technical_attributes.capacity_kw".to_string(),
                        other => other.replace("parameters.", "technical_attributes."),
                    };
                    f.field = format!("{}.{inner}", self.field);
                    f
                })
                .collect(),
        )
    }
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// Field path, e.g. `capacity_kw` or `parameters.usable_energy_kwh`.
    pub field: String,
    /// Value before.
    pub old: Value,
    /// Value after.
    pub new: Value,
}

/// Field-by-field differences between a stored resource and a draft of it.
pub fn diff(current: &Resource, draft: &ResourceDraft) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut cmp = |field: &str, old: Value, new: Value| {
        if old != new {
            changes.push(FieldChange { field: field.into(), old, new });
        }
    };
    cmp("name", current.name.clone().into(), draft.name.clone().into());
    cmp("status", current.status.as_str().into(), draft.status.as_str().into());
    cmp("capacity_kw", current.capacity_kw.into(), draft.limits.capacity_kw.into());
    cmp("min_power_kw", current.min_power_kw.into(), draft.limits.min_power_kw.into());
    cmp("max_power_kw", current.max_power_kw.into(), draft.limits.max_power_kw.into());
    cmp("efficiency", current.efficiency.into(), draft.limits.efficiency.into());
    cmp("location.lat", current.location.lat.into(), draft.location.lat.into());
    cmp("location.lon", current.location.lon.into(), draft.location.lon.into());
    cmp("location.timezone", current.location.timezone.clone().into(), draft.location.timezone.clone().into());
    cmp("owner", current.owner.clone().into(), draft.owner.clone().into());
    for (prefix, old, new) in
        [("parameters", &current.parameters, &draft.parameters), ("metadata", &current.metadata, &draft.metadata)]
    {
        let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for k in keys {
            cmp(
                &format!("{prefix}.{k}"),
                old.get(k).cloned().unwrap_or(Value::Null),
                new.get(k).cloned().unwrap_or(Value::Null),
            );
        }
    }
    changes
}

/// Reads the creation timestamp from a file name such as
/// `technical_data_2026-11-20T06-00-00Z.json` or `assets_20261120_060000.json`
/// (UTC). A date alone means midnight UTC. `None` if the name carries none.
pub fn file_timestamp(file_name: &str) -> Option<Timestamp> {
    let bytes = file_name.as_bytes();
    (0..bytes.len()).find_map(|start| {
        // Bytes, not `str` slices: `start` may fall inside a multi-byte character.
        if !bytes[start..].starts_with(b"20") && !bytes[start..].starts_with(b"19") {
            return None;
        }
        if start > 0 && bytes[start - 1].is_ascii_digit() {
            return None;
        }
        let mut digits = String::new();
        for &b in &bytes[start..] {
            match b {
                b'0'..=b'9' => digits.push(b as char),
                b'-' | b'_' | b':' | b'T' | b't' | b' ' if digits.len() < 14 => {}
                _ => break,
            }
            if digits.len() == 14 {
                break;
            }
        }
        let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<i16>().ok());
        let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (h, mi, s) = if digits.len() >= 14 { (num(8..10)?, num(10..12)?, num(12..14)?) } else { (0, 0, 0) };
        let dt = DateTime::new(y, mo as i8, d as i8, h as i8, mi as i8, s as i8, 0).ok()?;
        dt.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
    })
}

/// Outcome of an import, as reported to the caller and kept in history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// History id of this import.
    pub import_id: String,
    /// File name as given.
    pub file_name: String,
    /// Creation time read from the file name.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub file_created_at: Option<Timestamp>,
    /// When imported.
    #[schema(value_type = String, format = DateTime)]
    pub imported_at: Timestamp,
    /// Assets registered as new resources.
    pub added: Vec<AssetRef>,
    /// Assets whose resource changed, with the changes.
    pub changed: Vec<AssetChanges>,
    /// Assets known from earlier imports but absent from this file (left as they are).
    pub missing: Vec<AssetRef>,
    /// Assets present and identical.
    pub unchanged_count: usize,
    /// A preview: checked and planned as an import would be, nothing written.
    #[serde(default)]
    pub dry_run: bool,
    /// Power series made for new PV and wind assets (ids).
    #[serde(default)]
    pub power_series: Vec<String>,
}

/// An asset and its resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[allow(missing_docs)]
pub struct AssetRef {
    pub asset_id: String,
    pub resource_id: String,
    pub name: String,
}

/// Changes made to one asset's resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[allow(missing_docs)]
pub struct AssetChanges {
    pub asset_id: String,
    pub resource_id: String,
    pub changes: Vec<FieldChange>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_carry_timestamps() {
        let ts = |s: &str| file_timestamp(s).map(|t| t.to_string());
        assert_eq!(ts("technical_data_2026-11-20T06-00-00Z.json").as_deref(), Some("2026-11-20T06:00:00Z"));
        assert_eq!(ts("assets_v2_20261120_060000.json").as_deref(), Some("2026-11-20T06:00:00Z"));
        assert_eq!(ts("export-2026-11-20.json").as_deref(), Some("2026-11-20T00:00:00Z"));
        assert_eq!(ts("assets.json"), None);
        assert_eq!(ts("assets_20261340.json"), None);
        // Found by schemathesis: a name with multi-byte characters panicked.
        assert_eq!(ts("\u{80}"), None);
        assert_eq!(ts("é_2026-11-20.json").as_deref(), Some("2026-11-20T00:00:00Z"));
    }

    #[test]
    fn records_reject_bad_assets() {
        let file: TechnicalDataFile = serde_json::from_value(serde_json::json!({"assets": [
            {"asset_id": "A1", "name": "x", "type": "spaceship", "location": {"latitude": 1, "longitude": 2, "timezone": "UTC"},
             "technical_attributes": {}, "status": "active"},
            {"asset_id": "A1", "name": "y", "type": "pv", "location": {"latitude": 1, "longitude": 2, "timezone": "UTC"},
             "technical_attributes": {"capacity_kw": 5}, "status": "bogus"}
        ]}))
        .expect("json");
        let fields: Vec<String> = file.records().expect_err("bad").0.into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![
                "assets[0].type",
                "assets[0].technical_attributes.capacity_kw",
                "assets[1].asset_id",
                "assets[1].status"
            ]
        );
    }
}
