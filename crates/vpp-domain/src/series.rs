//! Time series as beliefs: versioned forecasts, measurements, schedules and
//! prices, and the selections traders and operators ask of them.
//!
//! A belief says: for the event `[event_start, event_start + duration)` this
//! value was believed at `belief_time` (a forecast's version or a
//! measurement's arrival), from a source kind. The functions here are pure
//! and work on slices sorted by `(event_start, belief_time)`; the store
//! returns them in that order.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// Where a belief comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A prediction, versioned by its issue time.
    Forecast,
    /// Telemetry as it arrives.
    LiveMeasurement,
    /// Settled meter values.
    MeterFinal,
    /// A planned setpoint.
    Schedule,
    /// A market price.
    Price,
    /// A marker; value 1 = set (e.g. redispatched).
    Flag,
}

impl SourceKind {
    /// Every kind.
    pub const ALL: [SourceKind; 6] =
        [Self::Forecast, Self::LiveMeasurement, Self::MeterFinal, Self::Schedule, Self::Price, Self::Flag];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forecast => "forecast",
            Self::LiveMeasurement => "live_measurement",
            Self::MeterFinal => "meter_final",
            Self::Schedule => "schedule",
            Self::Price => "price",
            Self::Flag => "flag",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Meter final or a live measurement: what was measured, not predicted.
    pub fn is_measurement(self) -> bool {
        matches!(self, Self::MeterFinal | Self::LiveMeasurement)
    }
}

/// What a series measures, which fixes its stored unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Active power, stored in kW (accepts W, kW, MW).
    Power,
    /// Energy per interval, stored in kWh (accepts Wh, kWh, MWh).
    Energy,
    /// Price, stored in currency/MWh (accepts currency/kWh too).
    Price,
    /// State of charge, stored in %.
    Soc,
    /// A 0/1 marker such as "redispatched".
    Flag,
    /// Global horizontal irradiance, W/m² (accepts kW/m²).
    IrradianceGhi,
    /// Direct normal irradiance, W/m².
    IrradianceDni,
    /// Diffuse horizontal irradiance, W/m².
    IrradianceDhi,
    /// Air temperature at 2 m, °C.
    Temperature,
    /// Wind speed at 10 m, m/s (accepts km/h).
    // snake_case alone would say `wind_speed10m`; the wire name is the one
    // `as_str` stores and the documents use.
    #[serde(rename = "wind_speed_10m")]
    WindSpeed10m,
    /// Wind speed at 100 m, m/s (accepts km/h).
    #[serde(rename = "wind_speed_100m")]
    WindSpeed100m,
    /// Surface air pressure, Pa (accepts hPa).
    Pressure,
    /// Cloud cover, %.
    CloudCover,
    /// Wind direction at 10 m, degrees clockwise from north, where the wind
    /// comes from (meteorological convention).
    #[serde(rename = "wind_direction_10m")]
    WindDirection10m,
}

/// Every quantity, in wire order.
const QUANTITIES: [Quantity; 14] = [
    Quantity::Power,
    Quantity::Energy,
    Quantity::Price,
    Quantity::Soc,
    Quantity::Flag,
    Quantity::IrradianceGhi,
    Quantity::IrradianceDni,
    Quantity::IrradianceDhi,
    Quantity::Temperature,
    Quantity::WindSpeed10m,
    Quantity::WindSpeed100m,
    Quantity::Pressure,
    Quantity::CloudCover,
    Quantity::WindDirection10m,
];

impl Quantity {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Power => "power",
            Self::Energy => "energy",
            Self::Price => "price",
            Self::Soc => "soc",
            Self::Flag => "flag",
            Self::IrradianceGhi => "irradiance_ghi",
            Self::IrradianceDni => "irradiance_dni",
            Self::IrradianceDhi => "irradiance_dhi",
            Self::Temperature => "temperature",
            Self::WindSpeed10m => "wind_speed_10m",
            Self::WindSpeed100m => "wind_speed_100m",
            Self::Pressure => "pressure",
            Self::CloudCover => "cloud_cover",
            Self::WindDirection10m => "wind_direction_10m",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        QUANTITIES.into_iter().find(|q| q.as_str() == s)
    }

    /// Whether this is weather (owned by a weather point).
    pub fn is_weather(self) -> bool {
        !matches!(self, Self::Power | Self::Energy | Self::Price | Self::Soc | Self::Flag)
    }

    /// The unit it is stored in, where that is fixed (not for prices).
    fn fixed_unit(self) -> Option<&'static str> {
        Some(match self {
            Self::Power => "kW",
            Self::Energy => "kWh",
            Self::Soc | Self::CloudCover => "%",
            Self::Flag => "1",
            Self::IrradianceGhi | Self::IrradianceDni | Self::IrradianceDhi => "W/m²",
            Self::Temperature => "°C",
            Self::WindSpeed10m | Self::WindSpeed100m => "m/s",
            Self::Pressure => "Pa",
            Self::WindDirection10m => "°",
            Self::Price => return None,
        })
    }
}

/// The factor that converts a value in `unit` into the stored unit of a
/// series (`stored_unit`), or an error naming the units accepted.
pub fn unit_factor(quantity: Quantity, stored_unit: &str, unit: &str) -> Result<f64, String> {
    // The usual spellings (`MWH`, `€/MWh`, `ct/kWh`) in vpp's own, with their factor.
    let (canonical, scale) = crate::delivered::canonical_unit(unit).unwrap_or_else(|| (unit.trim().to_string(), 1.0));
    let u = canonical.as_str();
    let factor = match quantity {
        Quantity::Power => match u {
            "W" => Some(0.001),
            "kW" => Some(1.0),
            "MW" => Some(1000.0),
            _ => None,
        },
        Quantity::Energy => match u {
            "Wh" => Some(0.001),
            "kWh" => Some(1.0),
            "MWh" => Some(1000.0),
            _ => None,
        },
        Quantity::Price => {
            let currency = stored_unit.split('/').next().unwrap_or_default();
            if u == stored_unit {
                Some(1.0)
            } else if u == format!("{currency}/kWh") {
                Some(1000.0)
            } else {
                None
            }
        }
        Quantity::Soc | Quantity::CloudCover => (u == "%").then_some(1.0),
        Quantity::Flag => (u == "1").then_some(1.0),
        Quantity::IrradianceGhi | Quantity::IrradianceDni | Quantity::IrradianceDhi => match u {
            "W/m²" | "W/m2" | "W m-2" => Some(1.0),
            "kW/m²" | "kW/m2" => Some(1000.0),
            _ => None,
        },
        // Kelvin would need an offset, not a factor: refused by name below.
        Quantity::Temperature => matches!(u, "°C" | "C" | "degC").then_some(1.0),
        Quantity::WindSpeed10m | Quantity::WindSpeed100m => match u {
            "m/s" | "ms" => Some(1.0),
            "km/h" | "kmh" => Some(1.0 / 3.6),
            _ => None,
        },
        Quantity::WindDirection10m => matches!(u, "°" | "deg" | "degrees").then_some(1.0),
        Quantity::Pressure => match u {
            "Pa" => Some(1.0),
            "hPa" | "mbar" => Some(100.0),
            "kPa" => Some(1000.0),
            _ => None,
        },
    };
    let u = unit.trim();
    factor.map(|f| f * scale).ok_or_else(|| match quantity {
        Quantity::Power => format!("unit `{u}` is not a power unit: use W, kW or MW"),
        Quantity::Energy => format!("unit `{u}` is not an energy unit: use Wh, kWh or MWh"),
        Quantity::Price => format!("unit `{u}` does not match the series' {stored_unit}"),
        Quantity::Soc | Quantity::CloudCover => format!("unit `{u}` is not %"),
        Quantity::Flag => format!("unit `{u}` is not 1"),
        Quantity::IrradianceGhi | Quantity::IrradianceDni | Quantity::IrradianceDhi => {
            format!("unit `{u}` is not an irradiance unit: use W/m² or kW/m²")
        }
        Quantity::Temperature => format!("unit `{u}` is not °C"),
        Quantity::WindSpeed10m | Quantity::WindSpeed100m => format!("unit `{u}` is not a speed unit: use m/s or km/h"),
        Quantity::Pressure => format!("unit `{u}` is not a pressure unit: use Pa, hPa or kPa"),
        Quantity::WindDirection10m => format!("unit `{u}` is not °"),
    })
}

/// The unit a quantity is stored in; prices keep their currency.
pub fn stored_unit(quantity: Quantity, unit: &str) -> Result<String, String> {
    if let Some(fixed) = quantity.fixed_unit() {
        return Ok(fixed.into());
    }
    // Prices: the currency is kept.
    let (currency, per) = unit.split_once('/').ok_or("a price unit looks like EUR/MWh")?;
    let ok = currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()) && matches!(per, "MWh" | "kWh");
    if ok { Ok(format!("{currency}/MWh")) } else { Err(format!("`{unit}` is not a price unit like EUR/MWh")) }
}

/// The latitude and longitude (degrees) of a weather point's owner id
/// `latitude,longitude`, or why it is not one.
pub fn weather_point(owner_id: &str) -> Result<(f64, f64), String> {
    let parsed =
        owner_id.split_once(',').and_then(|(lat, lon)| Some((lat.trim().parse().ok()?, lon.trim().parse().ok()?)));
    match parsed {
        Some((lat, lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => Ok((lat, lon)),
        _ => Err(format!("`{owner_id}` is not a weather point `latitude,longitude` in degrees")),
    }
}

/// The owner id of the weather point at `lat`, `lon`: three decimals
/// (about 100 m), so one place always gets the same id.
pub fn weather_owner_id(lat: f64, lon: f64) -> String {
    format!("{lat:.3},{lon:.3}")
}

/// What owns a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// A resource.
    Resource,
    /// A VPP.
    Vpp,
    /// A market (free identifier such as `EPEX-DE-DA`).
    Market,
    /// A park's site or metering point (its load curve).
    Site,
    /// A forecasting model's output: owner id `<model id>/p50`, `/p10` or `/p90`.
    Model,
    /// A weather point: owner id `latitude,longitude` in degrees, e.g. `52.52,13.41`.
    Weather,
}

impl OwnerKind {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resource => "resource",
            Self::Vpp => "vpp",
            Self::Market => "market",
            Self::Site => "site",
            Self::Model => "model",
            Self::Weather => "weather",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Resource, Self::Vpp, Self::Market, Self::Site, Self::Model, Self::Weather]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// What a client sends to create a series.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesRequest {
    /// Unique name, e.g. `PV 01 power`.
    pub name: String,
    /// Owner kind.
    pub owner_kind: OwnerKind,
    /// Owner id (resource or VPP id, or a market identifier).
    pub owner_id: String,
    /// What is measured.
    pub quantity: Quantity,
    /// Unit; power is stored in kW and energy in kWh whatever is given; prices as currency/MWh.
    #[serde(default)]
    pub unit: Option<String>,
    /// Event duration in seconds (default 900 = 15 min), 60..86400.
    #[serde(default)]
    pub resolution_s: Option<i64>,
}

/// A stored series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Series {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Owner kind.
    pub owner_kind: OwnerKind,
    /// Owner id.
    pub owner_id: String,
    /// Quantity.
    pub quantity: Quantity,
    /// Stored unit.
    pub unit: String,
    /// Event duration, s.
    pub resolution_s: i64,
    /// When created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl SeriesRequest {
    /// Validates and returns (stored unit, resolution).
    pub fn validate(&self) -> Result<(String, i64), crate::Invalid> {
        let mut errors = crate::error::Errors::default();
        crate::error::check_name(&mut errors, "name", &self.name);
        errors.check(
            !self.owner_id.trim().is_empty() && self.owner_id.len() <= 200,
            "owner_id",
            "must be 1 to 200 characters",
        );
        if self.owner_kind == OwnerKind::Weather
            && let Err(e) = weather_point(&self.owner_id)
        {
            errors.push("owner_id", e);
        }
        errors.check(
            self.quantity.is_weather() == (self.owner_kind == OwnerKind::Weather),
            "quantity",
            "weather quantities belong to a weather point (owner_kind weather), and a weather point owns only them",
        );
        let resolution = self.resolution_s.unwrap_or(900);
        errors.check(
            (60..=86_400).contains(&resolution) && 86_400 % resolution == 0,
            "resolution_s",
            "must divide a day and lie in 60..86400 (e.g. 900 for 15 minutes)",
        );
        let default_unit = self.quantity.fixed_unit().unwrap_or("EUR/MWh");
        let unit = match stored_unit(self.quantity, self.unit.as_deref().unwrap_or(default_unit)) {
            Ok(u) => u,
            Err(e) => {
                errors.push("unit", e);
                String::new()
            }
        };
        if let (Some(given), true) = (&self.unit, errors.is_empty())
            && let Err(e) = unit_factor(self.quantity, &unit, given)
        {
            errors.push("unit", e);
        }
        errors.finish((unit, resolution))
    }
}

/// One belief as a client sends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeliefInput {
    /// Event start (UTC); interval data must start on the series' resolution grid.
    #[schema(value_type = String, format = DateTime)]
    pub event_start: Timestamp,
    /// When the value was known: a forecast's version or a measurement's arrival. Default: now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub belief_time: Option<Timestamp>,
    /// Source kind.
    pub source: SourceKind,
    /// Value in the batch unit.
    pub value: f64,
}

/// Checks one input row against its series and converts it; `factor` turns
/// the batch unit into the stored unit.
pub fn check_belief(series: &Series, input: &BeliefInput, factor: f64, now: Timestamp) -> Result<Belief, String> {
    if !input.value.is_finite() {
        return Err("value must be a finite number".into());
    }
    let start = input.event_start.as_microsecond();
    let step = series.resolution_s * 1_000_000;
    if input.source != SourceKind::LiveMeasurement && start.rem_euclid(step) != 0 {
        return Err(format!(
            "event_start {} is not on the {} s grid of the series",
            input.event_start, series.resolution_s
        ));
    }
    let belief_time = input.belief_time.unwrap_or(now);
    if belief_time > now + SignedDuration::from_mins(5) {
        return Err(format!("belief_time {belief_time} lies in the future"));
    }
    let value = input.value * factor;
    if !value.is_finite() {
        return Err(format!(
            "value {:?} becomes {value} {} after unit conversion; it must be a finite number",
            input.value, series.unit
        ));
    }
    if series.quantity == Quantity::Flag && value != 0.0 && value != 1.0 {
        return Err("a flag is 0 or 1".into());
    }
    if series.quantity == Quantity::Soc && !(0.0..=100.0).contains(&value) {
        return Err(format!("SOC {value} % is outside 0..100"));
    }
    Ok(Belief { event_start_us: start, belief_time_us: belief_time.as_microsecond(), source: input.source, value })
}

/// One belief.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Belief {
    /// Start of the event (UTC), µs since the epoch.
    pub event_start_us: i64,
    /// When the value was known (UTC), µs since the epoch.
    pub belief_time_us: i64,
    /// Source kind.
    pub source: SourceKind,
    /// Value in the series' unit.
    pub value: f64,
}

/// A selected value for one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selected {
    /// Event start, µs.
    pub event_start_us: i64,
    /// Belief time of the chosen belief, µs.
    pub belief_time_us: i64,
    /// Value.
    pub value: f64,
}

/// Which version of each interval's value a reader sees. Every view is
/// "the newest belief known by a cutoff", and [`View::cutoff_us`] is the one
/// definition of each cutoff: the store's queries, [`select_latest`] and the
/// forecast ETL all use it.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    /// The newest version there is.
    Latest,
    /// The newest version known at a time (what a reader saw then).
    AsOf(Timestamp),
    /// The newest version issued at least `lead` before the interval starts:
    /// what could still be traded before gate closure.
    Tradeable {
        /// Gate closure lead before delivery start.
        lead: SignedDuration,
    },
    /// The versions known by `gate` (local time in `tz`) on the day before
    /// each interval's delivery day: what a day-ahead auction saw.
    DayAhead {
        /// Local time of the day-ahead gate, usually 12:00.
        gate: jiff::civil::Time,
        /// Zone of the delivery days.
        tz: TimeZone,
    },
}

impl View {
    /// The day-ahead view at 12:00 local time in `tz` (EPEX's gate).
    pub fn day_ahead(tz: TimeZone) -> Self {
        Self::DayAhead { gate: jiff::civil::time(12, 0, 0, 0), tz }
    }

    /// Its name in the API: `latest`, `as_of`, `tradeable` or `day_ahead`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::AsOf(_) => "as_of",
            Self::Tradeable { .. } => "tradeable",
            Self::DayAhead { .. } => "day_ahead",
        }
    }

    /// The latest belief time (µs) a version may have to be seen for the
    /// interval starting at `event_start_us`. A day-ahead cutoff that cannot
    /// be placed in the zone sees nothing.
    pub fn cutoff_us(&self, event_start_us: i64) -> i64 {
        match self {
            Self::Latest => i64::MAX,
            Self::AsOf(t) => t.as_microsecond(),
            Self::Tradeable { lead } => tradeable_cutoff_us(event_start_us, lead.as_micros() as i64),
            Self::DayAhead { gate, tz } => Timestamp::from_microsecond(event_start_us)
                .ok()
                .and_then(|t| day_ahead_cutoff(delivery_date_of(t, tz), *gate, tz).ok())
                .map_or(i64::MIN, |t| t.as_microsecond()),
        }
    }
}

/// Latest belief time of a tradeable version for an interval starting at
/// `event_start_us`, with gate closure `lead_us` before it: a version issued
/// exactly at the gate still counts. The rule of [`View::Tradeable`], which
/// the forecast ETL applies in its columnar pass.
pub fn tradeable_cutoff_us(event_start_us: i64, lead_us: i64) -> i64 {
    event_start_us.saturating_sub(lead_us)
}

/// When the day-ahead gate for delivery day `day` closes: `gate` local time
/// in `tz` on the day before.
pub fn day_ahead_cutoff(day: Date, gate: jiff::civil::Time, tz: &TimeZone) -> Result<Timestamp, jiff::Error> {
    Ok(day.yesterday()?.to_datetime(gate).to_zoned(tz.clone())?.timestamp())
}

/// Per event, the newest belief of `source` that `view` sees (belief time at
/// or before its cutoff). Events without such a belief are absent.
///
/// `beliefs` must be sorted by `(event_start, belief_time)`. Linear, no allocation per event.
pub fn select_latest(beliefs: &[Belief], source: SourceKind, view: &View) -> Vec<Selected> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < beliefs.len() {
        let start = beliefs[i].event_start_us;
        let limit = view.cutoff_us(start);
        let mut best: Option<&Belief> = None;
        while i < beliefs.len() && beliefs[i].event_start_us == start {
            let b = &beliefs[i];
            if b.source == source && b.belief_time_us <= limit {
                best = Some(b);
            }
            i += 1;
        }
        if let Some(b) = best {
            out.push(Selected { event_start_us: start, belief_time_us: b.belief_time_us, value: b.value });
        }
    }
    out
}

/// The interval starts of a delivery day in `tz`: local midnight to the next
/// local midnight in steps of `step` (absolute time). Europe/Berlin has 92,
/// 96 or 100 quarter-hours; Asia/Shanghai always 96.
pub fn delivery_day(date: Date, tz: &TimeZone, step: SignedDuration) -> Result<Vec<Timestamp>, jiff::Error> {
    let start = date.to_zoned(tz.clone())?.timestamp();
    let end = date.checked_add(1.day())?.to_zoned(tz.clone())?.timestamp();
    let mut out = Vec::new();
    let mut t = start;
    while t < end {
        out.push(t);
        t = t.checked_add(step)?;
    }
    Ok(out)
}

/// The delivery day (in `tz`) that contains `ts`.
pub fn delivery_date_of(ts: Timestamp, tz: &TimeZone) -> Date {
    ts.to_zoned(tz.clone()).date()
}

/// A resampled interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Resampled {
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Time-weighted mean over the covered part; null when nothing covers the interval.
    pub mean: Option<f64>,
    /// Share of the interval covered by samples, 0..1.
    pub coverage: f64,
}

/// Resamples irregular samples `(ts_us, value)` (sorted by time) to
/// intervals `[start + k·step, start + (k+1)·step)` up to `end`.
///
/// Each sample holds its value until the next sample, but for at most
/// `max_hold`: a longer silence is a gap, reported through `coverage` and
/// never filled. The mean is time-weighted over the covered part only.
pub fn resample(
    samples: &[(i64, f64)],
    start: Timestamp,
    end: Timestamp,
    step: SignedDuration,
    max_hold: SignedDuration,
) -> Vec<Resampled> {
    let step_us = step.as_micros() as i64;
    let hold_us = max_hold.as_micros() as i64;
    let (t0, t1) = (start.as_microsecond(), end.as_microsecond());
    if step_us <= 0 || t1 <= t0 {
        return vec![];
    }
    let n = ((t1 - t0 + step_us - 1) / step_us) as usize;
    let mut weighted = vec![0.0f64; n];
    let mut covered = vec![0i64; n];
    for (k, &(ts, value)) in samples.iter().enumerate() {
        let next = samples.get(k + 1).map_or(i64::MAX, |s| s.0);
        let (mut a, b) = (ts.max(t0), next.min(ts.saturating_add(hold_us)).min(t1));
        // Spread [a, b) over the intervals it touches.
        while a < b {
            let idx = ((a - t0) / step_us) as usize;
            let interval_end = t0 + (idx as i64 + 1) * step_us;
            let piece = b.min(interval_end) - a;
            weighted[idx] += value * piece as f64;
            covered[idx] += piece;
            a += piece;
        }
    }
    (0..n)
        .map(|i| {
            let s = t0 + i as i64 * step_us;
            let len = (t1.min(s + step_us) - s) as f64;
            Resampled {
                start: Timestamp::from_microsecond(s).unwrap_or(start),
                mean: (covered[i] > 0).then(|| weighted[i] / covered[i] as f64),
                coverage: covered[i] as f64 / len,
            }
        })
        .collect()
}

/// The value chosen for one interval by [`best_of_infeed`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Infeed {
    /// Interval start, µs.
    pub start_us: i64,
    /// Value; 0 for redispatched intervals.
    pub value: f64,
    /// Layer it came from; `None` for redispatched intervals.
    pub source: Option<SourceKind>,
    /// The interval was flagged as redispatched.
    pub redispatched: bool,
}

impl Infeed {
    /// Where the value came from: the source kind's name, or `redispatched`
    /// for a flagged interval that was not measured (its 0).
    pub fn source_name(&self) -> &'static str {
        match self.source {
            Some(kind) if !self.redispatched || kind.is_measurement() => kind.as_str(),
            _ => "redispatched",
        }
    }
}

/// Best available value per interval: the first layer (in priority order,
/// e.g. meter final, resampled live measurement, latest forecast) that has a
/// value for the interval. A redispatch flag (intervals in `redispatched`,
/// sorted) sets the interval to 0 unless a measurement layer (meter final
/// or live measurement) has a value: a flag never overrides a measurement.
/// Intervals no layer covers are `None`: a gap stays a gap.
///
/// Each layer is `(kind, values sorted by start)`.
pub fn best_of_infeed(
    intervals: &[i64],
    layers: &[(SourceKind, Vec<(i64, f64)>)],
    redispatched: &[i64],
) -> Vec<Option<Infeed>> {
    let mut cursors = vec![0usize; layers.len()];
    let mut flag = 0usize;
    intervals
        .iter()
        .map(|&start| {
            while flag < redispatched.len() && redispatched[flag] < start {
                flag += 1;
            }
            let flagged = redispatched.get(flag) == Some(&start);
            let mut found = None;
            for ((kind, values), c) in layers.iter().zip(cursors.iter_mut()) {
                while *c < values.len() && values[*c].0 < start {
                    *c += 1;
                }
                if found.is_none()
                    && (!flagged || kind.is_measurement())
                    && let Some(v) = values.get(*c).filter(|v| v.0 == start)
                {
                    found = Some(Infeed { start_us: start, value: v.1, source: Some(*kind), redispatched: flagged });
                }
            }
            match found {
                Some(infeed) => Some(infeed),
                None if flagged => Some(Infeed { start_us: start, value: 0.0, source: None, redispatched: true }),
                None => None,
            }
        })
        .collect()
}

/// Forecast error figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Accuracy {
    /// Paired intervals.
    pub n: usize,
    /// Mean absolute error, in the series unit.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Weighted absolute percentage error: Σ|f − a| / Σ|a| × 100; null when Σ|a| = 0.
    pub wape_pct: Option<f64>,
    /// Mean of f − a (positive = over-forecast).
    pub bias: f64,
}

/// Accuracy of a forecast against actuals, paired by event start (both sorted).
pub fn accuracy(forecast: &[(i64, f64)], actual: &[(i64, f64)]) -> Option<Accuracy> {
    let (mut i, mut j) = (0, 0);
    let (mut n, mut abs, mut sq, mut sum, mut act) = (0usize, 0.0, 0.0, 0.0, 0.0);
    while i < forecast.len() && j < actual.len() {
        match forecast[i].0.cmp(&actual[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let e = forecast[i].1 - actual[j].1;
                n += 1;
                abs += e.abs();
                sq += e * e;
                sum += e;
                act += actual[j].1.abs();
                i += 1;
                j += 1;
            }
        }
    }
    (n > 0).then(|| Accuracy {
        n,
        mae: abs / n as f64,
        rmse: (sq / n as f64).sqrt(),
        wape_pct: (act > 0.0).then(|| abs / act * 100.0),
        bias: sum / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn json_names_quantities_as_the_store_does() {
        for q in QUANTITIES {
            assert_eq!(serde_json::to_value(q).expect("json"), serde_json::json!(q.as_str()));
            assert_eq!(Quantity::parse(q.as_str()), Some(q));
        }
    }

    const Q: i64 = 900_000_000; // 15 minutes in µs

    fn b(event: i64, version: i64, source: SourceKind, value: f64) -> Belief {
        Belief { event_start_us: event * Q, belief_time_us: version, source, value }
    }

    #[test]
    fn a_value_that_overflows_in_conversion_is_refused() {
        let series = Series {
            id: "s".into(),
            name: "PV".into(),
            owner_kind: OwnerKind::Resource,
            owner_id: "r".into(),
            quantity: Quantity::Power,
            unit: "kW".into(),
            resolution_s: 900,
            created_at: Timestamp::UNIX_EPOCH,
        };
        let input = |value| BeliefInput {
            event_start: Timestamp::UNIX_EPOCH,
            belief_time: Some(Timestamp::UNIX_EPOCH),
            source: SourceKind::Forecast,
            value,
        };
        let now = Timestamp::UNIX_EPOCH;
        // 1.7e308 MW is finite; in kW (× 1000) it is not.
        let err = check_belief(&series, &input(1.7e308), 1000.0, now).expect_err("overflows");
        assert!(err.contains("finite"), "{err}");
        assert_eq!(check_belief(&series, &input(1.5), 1000.0, now).expect("fits").value, 1500.0);
    }

    #[test]
    fn latest_as_of_and_tradeable() {
        use SourceKind::*;
        // Event 10 has versions at t=100, 200 (forecast) and a measurement at 300.
        let beliefs = [
            b(10, 100, Forecast, 1.0),
            b(10, 200, Forecast, 2.0),
            b(10, 300, LiveMeasurement, 9.0),
            b(11, 150, Forecast, 5.0),
        ];
        let latest = select_latest(&beliefs, Forecast, &View::Latest);
        assert_eq!(latest.iter().map(|s| s.value).collect::<Vec<_>>(), vec![2.0, 5.0]);
        let at = |us| View::AsOf(Timestamp::from_microsecond(us).expect("ts"));
        let as_of = select_latest(&beliefs, Forecast, &at(160));
        assert_eq!(as_of.iter().map(|s| s.value).collect::<Vec<_>>(), vec![1.0, 5.0]);
        let none = select_latest(&beliefs, Forecast, &at(50));
        assert!(none.is_empty());
        // Gate closure 15 min before start: a version exactly at the gate counts.
        let gate = View::Tradeable { lead: SignedDuration::from_micros(Q) };
        let beliefs = [b(10, 9 * Q, Forecast, 1.0), b(10, 9 * Q + 1, Forecast, 2.0)];
        assert_eq!(select_latest(&beliefs, Forecast, &gate)[0].value, 1.0);
    }

    #[test]
    fn the_day_ahead_view_sees_what_was_known_at_noon_the_day_before() {
        let berlin = TimeZone::get("Europe/Berlin").expect("zone");
        let view = View::day_ahead(berlin);
        // 00:30 CET on 24 November is 23:30 UTC on the 23rd: its delivery
        // day is the 24th, whose gate closed at 12:00 CET on the 23rd.
        let event: Timestamp = "2026-11-23T23:30:00Z".parse().expect("ts");
        let gate: Timestamp = "2026-11-23T11:00:00Z".parse().expect("ts");
        assert_eq!(view.cutoff_us(event.as_microsecond()), gate.as_microsecond());
        assert_eq!(view.name(), "day_ahead");
        assert_eq!(View::Latest.cutoff_us(0), i64::MAX);
    }

    #[test]
    fn berlin_and_shanghai_delivery_days() {
        let q = SignedDuration::from_mins(15);
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(delivery_day(date(2026, 3, 29), &berlin, q).unwrap().len(), 92);
        assert_eq!(delivery_day(date(2026, 10, 25), &berlin, q).unwrap().len(), 100);
        let normal = delivery_day(date(2026, 11, 21), &berlin, q).unwrap();
        assert_eq!(normal.len(), 96);
        assert_eq!(normal[0].to_string(), "2026-11-20T23:00:00Z");
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        for d in [date(2026, 3, 29), date(2026, 10, 25)] {
            let day = delivery_day(d, &shanghai, q).unwrap();
            assert_eq!(day.len(), 96);
            assert_eq!(day[0].to_string(), format!("{}T16:00:00Z", d.yesterday().unwrap()));
        }
        assert_eq!(delivery_date_of("2026-11-20T23:30:00Z".parse().unwrap(), &berlin), date(2026, 11, 21));
    }

    #[test]
    fn resampling_is_time_weighted_and_shows_gaps() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = |mins: i64, v: f64| (t0.as_microsecond() + mins * 60_000_000, v);
        // 0–5 min at 10 kW, 5–15 min at 40 kW; then silence; one sample at 20 min.
        let samples = [s(0, 10.0), s(5, 40.0), s(20, 100.0)];
        let out = resample(
            &samples,
            t0,
            t0 + SignedDuration::from_mins(45),
            SignedDuration::from_mins(15),
            SignedDuration::from_mins(10),
        );
        assert_eq!(out.len(), 3);
        assert!((out[0].mean.unwrap() - 30.0).abs() < 1e-9, "{:?}", out[0]);
        assert!((out[0].coverage - 1.0).abs() < 1e-12);
        // 40 kW holds 10 min from minute 5 → until 15; 100 kW from 20 to 30 (held 10 min).
        assert!((out[1].coverage - 10.0 / 15.0).abs() < 1e-9, "{:?}", out[1]);
        assert_eq!(out[1].mean, Some(100.0));
        assert_eq!(out[2].mean, None);
        assert_eq!(out[2].coverage, 0.0);
    }

    #[test]
    fn best_of_infeed_takes_the_first_layer_with_a_value() {
        use SourceKind::*;
        let layers = vec![
            (MeterFinal, vec![(1, 11.0)]),
            (LiveMeasurement, vec![(1, 10.0), (2, 20.0)]),
            (Forecast, vec![(2, 19.0), (3, 30.0), (4, 40.0)]),
        ];
        // 1 and 2 are flagged too, but measured: a flag never overrides a measurement.
        let out = best_of_infeed(&[1, 2, 3, 4, 5], &layers, &[1, 2, 4]);
        let got: Vec<_> = out.iter().map(|o| o.map(|i| (i.value, i.source, i.redispatched))).collect();
        assert_eq!(
            got,
            vec![
                Some((11.0, Some(MeterFinal), true)),
                Some((20.0, Some(LiveMeasurement), true)),
                Some((30.0, Some(Forecast), false)),
                Some((0.0, None, true)),
                None
            ]
        );
    }

    #[test]
    fn accuracy_figures() {
        let f = [(1, 10.0), (2, 20.0), (3, 30.0), (9, 1.0)];
        let a = [(1, 12.0), (2, 20.0), (3, 26.0), (4, 5.0)];
        let acc = accuracy(&f, &a).unwrap();
        assert_eq!(acc.n, 3);
        assert!((acc.mae - 2.0).abs() < 1e-12);
        assert!((acc.rmse - (20.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((acc.wape_pct.unwrap() - 6.0 / 58.0 * 100.0).abs() < 1e-9);
        assert!((acc.bias - 2.0 / 3.0).abs() < 1e-12);
        assert!(accuracy(&f, &[]).is_none());
    }
}
