//! Physical forecasts of a resource's production from its technical data:
//! the template parameters of a PV plant or a wind turbine turned into the
//! models of [`vpp_physics`], run over a time grid.
//!
//! The weather comes as columns on the forecast's grid ([`WeatherInputs`],
//! from the weather series nearest the resource). PV without irradiance
//! falls back to a cloudless sky and says so ([`Weather::ClearSky`]); a wind
//! turbine cannot be forecast without wind, and intervals without it are
//! left out.

use serde::{Deserialize, Serialize};
use vpp_domain::resource::Resource;
use vpp_domain::template::{Parameters, ResourceType};
use vpp_physics::fleet::{Timeline, pv_clear_sky_series};
use vpp_physics::pv::{self, PvSystem, PvWeather};
use vpp_physics::sun::{Ephemeris, Site, extraterrestrial_normal};
use vpp_physics::wind::{self, Profile, Turbine, WindWeather};

use crate::ForecastError;

/// Linke turbidity of the clear sky when no weather is known: a central
/// European annual mean (clean mountain air is about 2, hazy cities 5–7).
pub const CLEAR_SKY_LINKE_TURBIDITY: f64 = 3.0;

/// Air temperature assumed under the clear sky, °C (cell temperature
/// losses come out at a mild day's).
pub const CLEAR_SKY_TEMP_AIR_C: f64 = 15.0;

/// A resource's physical model.
#[derive(Debug, Clone)]
pub enum PhysicalModel {
    /// A PV plant at a site.
    Pv {
        /// Where it is.
        site: Site,
        /// Its modules and inverters.
        system: PvSystem,
    },
    /// A wind turbine.
    Wind {
        /// Its hub and power curve.
        turbine: Turbine,
        /// Whether the curve is the generic shape scaled to `rated_kw`
        /// (the resource has no `power_curve` of its own).
        generic_curve: bool,
    },
}

/// What weather a physical forecast used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weather {
    /// No weather forecast: a cloudless sky (Ineichen, Linke turbidity 3)
    /// at 15 °C, which is an upper bound of production, not an expectation.
    ClearSky,
    /// A weather forecast (for PV, intervals it does not cover may still
    /// fall back to the clear sky: the forecast counts them).
    Forecast,
}

/// Weather on the forecast's grid, one entry per interval (at its middle),
/// `None` where the weather has no value.
#[derive(Debug, Clone, Default)]
pub struct WeatherInputs {
    /// Global horizontal irradiance, W/m².
    pub ghi: Vec<Option<f64>>,
    /// Direct normal irradiance, W/m².
    pub dni: Vec<Option<f64>>,
    /// Diffuse horizontal irradiance, W/m².
    pub dhi: Vec<Option<f64>>,
    /// Air temperature at 2 m, °C.
    pub temp_air_c: Vec<Option<f64>>,
    /// Wind speed at 10 m, m/s.
    pub wind_10m: Vec<Option<f64>>,
    /// Wind speed at 100 m, m/s.
    pub wind_100m: Vec<Option<f64>>,
    /// Surface air pressure, Pa.
    pub pressure_pa: Vec<Option<f64>>,
}

/// How wind grows with height where no roughness is known: open farmland
/// with hedges, z0 = 0.1 m.
pub const DEFAULT_PROFILE: Profile = Profile::Logarithmic { roughness_m: 0.1 };

fn at(column: &[Option<f64>], i: usize) -> Option<f64> {
    column.get(i).copied().flatten()
}

fn number(p: &Parameters, name: &str) -> Option<f64> {
    p.get(name).and_then(serde_json::Value::as_f64)
}

impl PhysicalModel {
    /// The model of `resource` from its parameters; PV and wind only.
    pub fn of(resource: &Resource) -> Result<Self, ForecastError> {
        let p = &resource.parameters;
        match resource.resource_type {
            ResourceType::Pv => {
                let system = PvSystem::from_parameters(|name| number(p, name)).map_err(|missing| {
                    ForecastError::Method(format!(
                        "resource `{}` has no parameter `{missing}` for its physical model",
                        resource.name
                    ))
                })?;
                // The site's height is not in the resource; sea level costs
                // under 1 % of clear-sky irradiance below 500 m.
                let site = Site::new(resource.location.lat, resource.location.lon, 0.0);
                Ok(Self::Pv { site, system })
            }
            ResourceType::Wind => {
                let curve = match p.get("power_curve") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(c) => Some(serde_json::from_value::<Vec<(f64, f64)>>(c.clone()).map_err(|_| {
                        ForecastError::Method(format!(
                            "resource `{}`: power_curve must be [[wind speed m/s, output kW], ...]",
                            resource.name
                        ))
                    })?),
                };
                let (turbine, generic_curve) = Turbine::from_parameters(|name| number(p, name), curve.as_deref())
                    .map_err(|e| ForecastError::Method(format!("resource `{}`: {}", resource.name, e.0)))?;
                Ok(Self::Wind { turbine, generic_curve })
            }
            other => Err(ForecastError::Method(format!(
                "physical forecasts exist for PV and wind resources; `{}` is {}",
                resource.name,
                other.as_str()
            ))),
        }
    }

    /// Power, kW, for each interval of `step_s` seconds from `start_us`
    /// (µs), modelled at the interval's middle, without weather: PV under a
    /// clear sky. Wind needs a wind forecast and is refused.
    pub fn clear_sky(&self, start_us: i64, step_s: i64, intervals: usize) -> Result<Vec<f64>, ForecastError> {
        match self {
            Self::Pv { site, system } => {
                let timeline = Timeline::new(
                    (0..intervals).map(|i| start_us as f64 / 1e6 + (i as f64 + 0.5) * step_s as f64).collect(),
                );
                Ok(pv_clear_sky_series(&timeline, site, system, CLEAR_SKY_LINKE_TURBIDITY, CLEAR_SKY_TEMP_AIR_C))
            }
            Self::Wind { .. } => Err(ForecastError::Method(
                "a wind forecast needs a wind speed forecast within 30 km of the turbine: import one \
                 (POST /api/v1/vpp/weather/open-meteo or vpp import weather)"
                    .into(),
            )),
        }
    }
}

impl PhysicalModel {
    /// Power, kW, per interval of `step_s` seconds from `start_us` under
    /// `weather`, `None` where the weather is not enough: PV needs the
    /// global irradiance, wind a wind speed (100 m preferred, else 10 m).
    /// Missing temperature counts as 15 °C, missing pressure as 1013.25 hPa.
    pub fn under(&self, start_us: i64, step_s: i64, n: usize, weather: &WeatherInputs) -> Vec<Option<f64>> {
        (0..n)
            .map(|i| {
                let middle_s = start_us as f64 / 1e6 + (i as f64 + 0.5) * step_s as f64;
                let temp_air_c = at(&weather.temp_air_c, i).unwrap_or(CLEAR_SKY_TEMP_AIR_C);
                match self {
                    Self::Pv { site, system } => {
                        let ghi = at(&weather.ghi, i)?;
                        let sun = site.sun(&Ephemeris::at(middle_s));
                        let w = PvWeather {
                            ghi,
                            dni_dhi: at(&weather.dni, i).zip(at(&weather.dhi, i)),
                            temp_air_c,
                            wind_ms: at(&weather.wind_10m, i).unwrap_or(1.0),
                        };
                        Some(pv::power_kw(system, &w, &sun, extraterrestrial_normal(middle_s)))
                    }
                    Self::Wind { turbine, .. } => {
                        let (wind_ms, wind_height_m) = at(&weather.wind_100m, i)
                            .map(|v| (v, 100.0))
                            .or_else(|| at(&weather.wind_10m, i).map(|v| (v, 10.0)))?;
                        let w = WindWeather {
                            wind_ms,
                            wind_height_m,
                            temp_air_c,
                            pressure_pa: at(&weather.pressure_pa, i).unwrap_or(101_325.0),
                        };
                        Some(wind::power_kw(turbine, DEFAULT_PROFILE, &w))
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vpp_domain::resource::{Location, ResourceStatus};
    use vpp_domain::template::ResourceCategory;

    fn resource(t: ResourceType, parameters: serde_json::Value) -> Resource {
        Resource {
            id: "r".into(),
            template_id: "t".into(),
            resource_type: t,
            category: ResourceCategory::Generation,
            name: "plant".into(),
            external_id: None,
            status: ResourceStatus::Online,
            capacity_kw: 100.0,
            min_power_kw: 0.0,
            max_power_kw: 100.0,
            efficiency: 1.0,
            response_time_s: 1.0,
            marginal_cost: 0.0,
            location: Location { lat: 52.52, lon: 13.405, timezone: "Europe/Berlin".into(), building: None },
            device_address: "x".into(),
            owner: None,
            parameters: serde_json::from_value(parameters).expect("an object"),
            metadata: Parameters::new(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    /// 2026-12-06 00:00 UTC, µs.
    const DECEMBER_6: i64 = 1_796_515_200_000_000;

    #[test]
    fn a_berlin_plant_in_december_is_dark_at_night_and_weak_at_noon() {
        let pv =
            resource(ResourceType::Pv, json!({"peak_kw": 430, "inverter_kw": 387, "tilt_deg": 25, "azimuth_deg": 180}));
        let kw = PhysicalModel::of(&pv).expect("a PV model").clear_sky(DECEMBER_6, 900, 96).expect("clear sky");
        // Sunrise 07:01, sunset 14:53 UTC.
        assert!(kw[..28].iter().chain(&kw[60..]).all(|&p| p == 0.0), "{kw:?}");
        let peak = kw.iter().copied().fold(0.0, f64::max);
        assert!(peak > 100.0 && peak < 250.0, "a 387 kW plant in a Berlin December peaks at {peak}");
    }

    #[test]
    fn a_turbine_without_its_own_curve_tops_out_at_its_rating() {
        let wind = resource(ResourceType::Wind, json!({"rated_kw": 4500, "hub_height_m": 120}));
        let PhysicalModel::Wind { turbine, generic_curve } = PhysicalModel::of(&wind).expect("a wind model") else {
            panic!("not wind")
        };
        assert!(generic_curve);
        assert_eq!(turbine.rated_kw(), 4500.0);
        let err = PhysicalModel::of(&wind).expect("model").clear_sky(DECEMBER_6, 900, 4).expect_err("no wind");
        assert!(err.to_string().contains("wind speed forecast"), "{err}");
    }

    #[test]
    fn weather_drives_both_models_where_it_has_values() {
        let pv = PhysicalModel::of(&resource(
            ResourceType::Pv,
            json!({"peak_kw": 100, "inverter_kw": 90, "tilt_deg": 30, "azimuth_deg": 180}),
        ))
        .expect("pv");
        let noon = DECEMBER_6 + 11 * 3_600_000_000;
        let weather = WeatherInputs {
            ghi: vec![Some(200.0), None, Some(50.0)],
            temp_air_c: vec![Some(2.0); 3],
            ..Default::default()
        };
        let kw = pv.under(noon, 900, 3, &weather);
        assert!(kw[0].is_some_and(|p| p > 20.0 && p < 90.0), "{kw:?}");
        assert_eq!(kw[1], None);
        assert!(kw[2].expect("ghi") < kw[0].expect("ghi"));
        let wind = PhysicalModel::of(&resource(ResourceType::Wind, json!({"rated_kw": 4500, "hub_height_m": 120})))
            .expect("wind");
        let windy = WeatherInputs {
            wind_100m: vec![Some(15.0), None, Some(2.0)],
            wind_10m: vec![None, Some(6.0), None],
            ..Default::default()
        };
        let kw = wind.under(noon, 900, 3, &windy);
        assert_eq!(kw[0], Some(4500.0), "15 m/s at 100 m is above rated at 120 m");
        assert!(kw[1].is_some_and(|p| p > 0.0 && p < 4500.0), "{kw:?}");
        assert_eq!(kw[2], Some(0.0), "below cut-in");
        assert_eq!(wind.under(noon, 900, 1, &WeatherInputs::default()), vec![None]);
    }

    #[test]
    fn other_resources_and_missing_data_are_refused_by_name() {
        let battery = resource(ResourceType::Battery, json!({}));
        assert!(PhysicalModel::of(&battery).expect_err("battery").to_string().contains("BATTERY"));
        let pv = resource(ResourceType::Pv, json!({"peak_kw": 100}));
        assert!(PhysicalModel::of(&pv).expect_err("no inverter").to_string().contains("inverter_kw"));
        let curve = resource(ResourceType::Wind, json!({"rated_kw": 2000, "power_curve": [[5, 10], [4, 20]]}));
        assert!(PhysicalModel::of(&curve).expect_err("bad curve").to_string().contains("power_curve"));
        let garbled = resource(ResourceType::Wind, json!({"rated_kw": 2000, "power_curve": "steep"}));
        assert!(PhysicalModel::of(&garbled).expect_err("not a curve").to_string().contains("power_curve"));
    }
}
