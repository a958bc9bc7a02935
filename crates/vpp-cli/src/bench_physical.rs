//! `vpp bench physical`: vpp's physical PV and wind models over a weather
//! file and a list of assets, timed; the side that `scripts/pv-vs-pvlib.py`
//! and `scripts/wind-vs-windpowerlib.py` hold pvlib and windpowerlib against.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use vpp_physics::fleet::{PvWeatherColumns, Timeline, WindWeatherColumns, in_parallel, pv_series, wind_series};
use vpp_physics::pv::PvSystem;
use vpp_physics::sun::Site;
use vpp_physics::wind::{Profile, Turbine};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assets {
    site: SiteSpec,
    wind_height_m: f64,
    roughness_m: f64,
    #[serde(default)]
    pv: Vec<PvSpec>,
    #[serde(default)]
    wind: Vec<WindSpec>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct SiteSpec {
    latitude: f64,
    longitude: f64,
    altitude_m: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PvSpec {
    name: String,
    peak_kw: f64,
    inverter_kw: f64,
    tilt_deg: f64,
    azimuth_deg: f64,
    inverter_efficiency: Option<f64>,
    gamma_per_k: Option<f64>,
    losses: Option<f64>,
    albedo: Option<f64>,
}

impl PvSpec {
    fn system(&self) -> PvSystem {
        let mut s = PvSystem::new(self.peak_kw, self.inverter_kw, self.tilt_deg, self.azimuth_deg);
        s.inverter_efficiency = self.inverter_efficiency.unwrap_or(s.inverter_efficiency);
        s.gamma_per_k = self.gamma_per_k.unwrap_or(s.gamma_per_k);
        s.losses = self.losses.unwrap_or(s.losses);
        s.albedo = self.albedo.unwrap_or(s.albedo);
        s
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindSpec {
    name: String,
    hub_height_m: f64,
    curve: Vec<(f64, f64)>,
    cut_out_ms: f64,
}

/// The weather file's columns.
struct Weather {
    unix_s: Vec<f64>,
    pv: PvWeatherColumns,
    pressure_pa: Vec<f64>,
}

fn read_weather(path: &Path) -> anyhow::Result<Weather> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let need = |name: &str| col(name).with_context(|| format!("{}: no column `{name}`", path.display()));
    let (t, ghi, temp, wind, pressure) =
        (need("time_unix_s")?, need("ghi")?, need("temp_air")?, need("wind_speed")?, need("pressure")?);
    let (dni, dhi) = (col("dni"), col("dhi"));
    let mut columns: [Vec<f64>; 7] = Default::default();
    for (row, record) in reader.records().enumerate() {
        let record = record?;
        let value = |i: usize| -> anyhow::Result<f64> {
            let field = record.get(i).unwrap_or_default();
            field.parse().with_context(|| format!("row {}: `{}` is not a number: {field:?}", row + 2, &headers[i]))
        };
        for (k, i) in [Some(t), Some(ghi), Some(temp), Some(wind), Some(pressure), dni, dhi].into_iter().enumerate() {
            if let Some(i) = i {
                columns[k].push(value(i)?);
            }
        }
    }
    let [unix_s, ghi, temp_air_c, wind_ms, pressure_pa, dni, dhi] = columns;
    let dni_dhi = (!dni.is_empty() && !dhi.is_empty()).then_some((dni, dhi));
    Ok(Weather { unix_s, pv: PvWeatherColumns { ghi, dni_dhi, temp_air_c, wind_ms }, pressure_pa })
}

/// Copy `k` of a site: the site itself for copy 0, else moved by up to ±2°
/// in latitude and longitude; the comparison scripts move theirs the same way.
fn moved(site: SiteSpec, k: usize) -> Site {
    if k == 0 {
        return Site::new(site.latitude, site.longitude, site.altitude_m);
    }
    let dlat = ((k * 7919) % 401) as f64 / 100.0 - 2.0;
    let dlon = ((k * 104_729) % 401) as f64 / 100.0 - 2.0;
    Site::new(site.latitude + dlat, site.longitude + dlon, site.altitude_m)
}

enum Asset {
    Pv(String, Site, PvSystem),
    Wind(String, Turbine),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the models `runs` times and prints the median time, then the energy.
pub fn run(weather: &Path, assets: &Path, copies: usize, runs: usize, out: Option<&Path>) -> anyhow::Result<()> {
    let w = read_weather(weather)?;
    let spec: Assets = serde_json::from_slice(&std::fs::read(assets).with_context(|| assets.display().to_string())?)
        .with_context(|| format!("{}: not an assets file", assets.display()))?;
    let profile = Profile::Logarithmic { roughness_m: spec.roughness_m };
    let mut fleet = Vec::new();
    for k in 0..copies.max(1) {
        let suffix = if copies > 1 { format!("#{k}") } else { String::new() };
        let site = moved(spec.site, k);
        fleet.extend(spec.pv.iter().map(|p| Asset::Pv(format!("{}{suffix}", p.name), site, p.system())));
        for t in &spec.wind {
            let turbine = Turbine::new(t.hub_height_m, &t.curve, t.cut_out_ms)
                .map_err(|e| anyhow::anyhow!("wind asset {}: {}", t.name, e.0))?;
            fleet.push(Asset::Wind(format!("{}{suffix}", t.name), turbine));
        }
    }
    let wind_weather = WindWeatherColumns {
        wind_ms: w.pv.wind_ms.clone(),
        wind_height_m: spec.wind_height_m,
        temp_air_c: w.pv.temp_air_c.clone(),
        pressure_pa: w.pressure_pa.clone(),
    };
    let mut times = Vec::new();
    let mut power = Vec::new();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        // The ephemeris is part of the work timed: pvlib computes its solar
        // position inside its own timing too.
        let any_pv = fleet.iter().any(|a| matches!(a, Asset::Pv(..)));
        let timeline = Timeline::new(if any_pv { w.unix_s.clone() } else { Vec::new() });
        power = in_parallel(&fleet, |asset| match asset {
            Asset::Pv(_, site, system) => pv_series(&timeline, site, system, &w.pv),
            Asset::Wind(_, turbine) => wind_series(turbine, profile, &wind_weather),
        });
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let hours = if w.unix_s.len() > 1 { (w.unix_s[1] - w.unix_s[0]) / 3600.0 } else { 1.0 };
    let total: f64 = power.iter().map(|p| p.iter().sum::<f64>() * hours).sum();
    println!("assets {}, steps {}, compute {:.1} ms (median of {})", fleet.len(), w.unix_s.len(), median(times), runs);
    println!("energy_kwh_total {total:.3}");
    if let Some(out) = out {
        let mut writer = csv::Writer::from_path(out).with_context(|| out.display().to_string())?;
        let names = fleet.iter().map(|a| match a {
            Asset::Pv(name, ..) | Asset::Wind(name, _) => name.as_str(),
        });
        writer.write_record(std::iter::once("time_unix_s").chain(names))?;
        for (i, t) in w.unix_s.iter().enumerate() {
            writer.write_record(std::iter::once(t.to_string()).chain(power.iter().map(|p| format!("{:.4}", p[i]))))?;
        }
        writer.flush()?;
    }
    Ok(())
}
