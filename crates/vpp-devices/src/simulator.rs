//! A simulated fleet that speaks the device protocol against a real broker.
//!
//! Every device has simple physics: PV and wind run vpp's physical models
//! (`vpp-physics`, the same the forecasts use) under the synthetic demo
//! weather plus each device's own drifting deviation from it, which is what
//! makes forecasts miss; batteries integrate their
//! SOC with efficiency and stop at the SOC window; loads follow a daily
//! profile with noise. Each device moves towards its setpoint within its
//! ramp rate (PV and wind treat it as a cap), and a configurable share of
//! devices acknowledge setpoints but do not follow them, to exercise the
//! deviation handling.
//!
//! One MQTT connection carries the whole fleet (as a site gateway would);
//! every message is on the device's own topic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rumqttc::{Event, Packet, QoS};
use serde_json::json;
use vpp_domain::resource::Resource;
use vpp_domain::template::ResourceType;
use vpp_physics::pv::PvSystem;
use vpp_physics::sun::Site;
use vpp_physics::synthetic;
use vpp_physics::wind::{self, Profile, Turbine, WindWeather};

use crate::bridge::{BridgeError, mqtt_options};
use crate::protocol::{self, Ack, AckStatus, Kind, Topic};

/// How the demo's wind grows from 10 m to the hub: open farmland
/// (roughness 0.1 m). The demo's forecasts use the same.
pub const DEMO_PROFILE: Profile = Profile::Logarithmic { roughness_m: 0.1 };

/// What a simulated device is.
#[derive(Debug, Clone, PartialEq)]
pub enum Physics {
    /// Photovoltaic plant at a site.
    Pv {
        /// Where it is (sun position, weather).
        site: Site,
        /// Its modules and inverters.
        system: PvSystem,
    },
    /// Wind turbine at a longitude (weather).
    Wind {
        /// Its hub and power curve.
        turbine: Turbine,
        /// Longitude, degrees (the weather there).
        lon: f64,
    },
    /// Battery.
    Battery {
        /// Usable energy, kWh.
        energy_kwh: f64,
        /// Power limit both ways, kW.
        max_kw: f64,
        /// Round-trip efficiency split evenly.
        efficiency: f64,
        /// SOC window, %.
        soc_min_pct: f64,
        /// SOC window, %.
        soc_max_pct: f64,
    },
    /// Consumption with a daily profile around a base, kW (> 0), that can be
    /// set anywhere between `min_kw` and `max_kw` (negative: consumption).
    Load {
        /// Typical consumption, kW.
        base_kw: f64,
        /// Lowest setpoint (most consumption), kW.
        min_kw: f64,
        /// Highest setpoint, kW.
        max_kw: f64,
    },
    /// Dispatchable generation between 0 and a maximum, kW; off unless told.
    Generator {
        /// Maximum power, kW.
        max_kw: f64,
    },
}

impl Physics {
    /// The physics of a registered resource, by type (see [`Device::for_resource`]).
    pub fn for_resource(r: &Resource) -> Self {
        match r.resource_type {
            ResourceType::Pv => {
                let rated = r.max_power_kw.max(0.0);
                let system = PvSystem::from_parameters(|name| r.parameters.get(name).and_then(|v| v.as_f64()))
                    .unwrap_or_else(|_| PvSystem::new(rated, rated, 30.0, 180.0));
                Physics::Pv { site: Site::new(r.location.lat, r.location.lon, 0.0), system }
            }
            ResourceType::Wind => {
                let get = |name: &str| r.parameters.get(name).and_then(|v| v.as_f64());
                let curve: Option<Vec<(f64, f64)>> =
                    r.parameters.get("power_curve").and_then(|c| serde_json::from_value(c.clone()).ok());
                let turbine = Turbine::from_parameters(get, curve.as_deref()).map_or_else(
                    |_| Turbine::generic(r.max_power_kw.max(0.0), 120.0, 3.0, 25.0),
                    |(turbine, _)| turbine,
                );
                Physics::Wind { turbine, lon: r.location.lon }
            }
            ResourceType::Battery => {
                let storage = r.storage();
                Physics::Battery {
                    energy_kwh: storage.map_or(r.capacity_kw * 2.0, |s| s.energy_kwh),
                    max_kw: r.max_power_kw.abs().max(r.min_power_kw.abs()),
                    efficiency: r.efficiency,
                    soc_min_pct: storage.map_or(5.0, |s| s.soc_min * 100.0),
                    soc_max_pct: storage.map_or(95.0, |s| s.soc_max * 100.0),
                }
            }
            ResourceType::DieselGenerator | ResourceType::Chp => Physics::Generator { max_kw: r.max_power_kw.max(0.0) },
            _ => Physics::Load {
                base_kw: (-r.min_power_kw).max(0.0) * 0.5,
                min_kw: r.min_power_kw.min(0.0),
                max_kw: r.max_power_kw.min(0.0).max(r.min_power_kw),
            },
        }
    }

    /// Output, kW, of PV or wind under the synthetic weather at `unix_s`,
    /// shifted by `deviation` (of the cloud index for PV, of the wind speed
    /// at 10 m in m/s for wind); `None` for devices the weather does not drive.
    pub fn weather_driven_kw(&self, unix_s: f64, deviation: f64) -> Option<f64> {
        match self {
            Self::Pv { site, system } => {
                let index = (synthetic::cloud_index(unix_s, site.longitude_deg) + deviation).clamp(0.05, 1.0);
                let wind_ms = synthetic::wind_10m_ms(unix_s, site.longitude_deg);
                Some(synthetic::pv_kw(system, site, unix_s, index, wind_ms))
            }
            Self::Wind { turbine, lon } => {
                let weather = WindWeather {
                    wind_ms: (synthetic::wind_10m_ms(unix_s, *lon) + deviation).max(0.0),
                    wind_height_m: 10.0,
                    temp_air_c: 10.0,
                    pressure_pa: 101_325.0,
                };
                Some(wind::power_kw(turbine, DEMO_PROFILE, &weather))
            }
            _ => None,
        }
    }
}

/// One simulated device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Resource id.
    pub id: String,
    /// Site segment of its topics.
    pub site: String,
    /// What it is.
    pub physics: Physics,
    /// Power now, kW (injection positive).
    pub power_kw: f64,
    /// SOC now, % (batteries).
    pub soc_pct: f64,
    /// How fast power may change, kW per second.
    pub ramp_kw_per_s: f64,
    /// Setpoint being followed and until when.
    pub setpoint: Option<(f64, Timestamp)>,
    /// Acknowledges setpoints but does not follow them.
    pub disobeys: bool,
    /// This device's deviation from the synthetic weather, drifting: of
    /// the cloud index (PV) or of the wind speed at 10 m, m/s (wind).
    weather: f64,
}

impl Device {
    /// A device for a registered resource: PV, wind, battery and generator
    /// physics by type, every other type a load.
    pub fn for_resource(r: &Resource, rng: &mut impl Rng) -> Self {
        let physics = Physics::for_resource(r);
        let ramp_kw_per_s = r.capacity_kw / r.response_time_s.max(1.0);
        Self::new(r.id.clone(), protocol::site_of(&r.location), physics, ramp_kw_per_s, rng)
    }

    /// A device with its state drawn at random.
    pub fn new(id: String, site: String, physics: Physics, ramp_kw_per_s: f64, rng: &mut impl Rng) -> Self {
        let weather = match physics {
            Physics::Wind { .. } => rng.random_range(-1.0..1.0),
            _ => rng.random_range(-0.1..0.1),
        };
        let soc_pct = match physics {
            Physics::Battery { soc_min_pct, soc_max_pct, .. } => rng.random_range(soc_min_pct..=soc_max_pct),
            _ => 0.0,
        };
        Self { id, site, physics, power_kw: 0.0, soc_pct, ramp_kw_per_s, setpoint: None, disobeys: false, weather }
    }

    /// Advances `dt_s` seconds to `now`.
    pub fn step(&mut self, now: Timestamp, dt_s: f64, rng: &mut impl Rng) {
        if self.setpoint.is_some_and(|(_, until)| until <= now) {
            self.setpoint = None;
        }
        let target = if self.disobeys { None } else { self.setpoint.map(|(kw, _)| kw) };
        let hour = (now.as_second().rem_euclid(86_400)) as f64 / 3600.0;
        let natural = match self.physics {
            Physics::Pv { .. } => {
                // The local sky drifts around the synthetic one and returns to it.
                self.weather = (self.weather * (1.0 - 0.002 * dt_s.min(300.0))
                    + rng.random_range(-0.01..0.01) * dt_s.sqrt())
                .clamp(-0.3, 0.3);
                let pv = self.physics.weather_driven_kw(now.as_second() as f64, self.weather).unwrap_or(0.0);
                target.map_or(pv, |cap| pv.min(cap.max(0.0)))
            }
            Physics::Wind { .. } => {
                // Gusts around the synthetic wind, returning to it, m/s.
                let gust = rng.random_range(-0.3..0.3) * dt_s.sqrt();
                self.weather = (self.weather * (1.0 - 0.002 * dt_s.min(300.0)) + gust).clamp(-4.0, 4.0);
                let wind = self.physics.weather_driven_kw(now.as_second() as f64, self.weather).unwrap_or(0.0);
                target.map_or(wind, |cap| wind.min(cap.max(0.0)))
            }
            Physics::Battery { max_kw, .. } => target.unwrap_or(0.0).clamp(-max_kw, max_kw),
            Physics::Load { base_kw, min_kw, max_kw } => {
                // Morning and evening humps.
                let profile =
                    0.7 + 0.3 * (-(hour - 8.0).powi(2) / 8.0).exp() + 0.4 * (-(hour - 19.0).powi(2) / 6.0).exp();
                let free = -base_kw * profile * rng.random_range(0.95..1.05);
                target.map_or(free, |t| t.clamp(min_kw, max_kw))
            }
            Physics::Generator { max_kw } => target.unwrap_or(0.0).clamp(0.0, max_kw),
        };
        // Ramp limit, then the battery's energy.
        let most = self.ramp_kw_per_s * dt_s;
        let mut power = self.power_kw + (natural - self.power_kw).clamp(-most, most);
        if let Physics::Battery { energy_kwh, efficiency, soc_min_pct, soc_max_pct, .. } = self.physics {
            let eta = efficiency.sqrt().clamp(0.5, 1.0);
            let stored_kwh = if power >= 0.0 { -power / eta } else { -power * eta } * dt_s / 3600.0;
            let next = self.soc_pct + stored_kwh / energy_kwh * 100.0;
            if next < soc_min_pct || next > soc_max_pct {
                power = 0.0;
            } else {
                self.soc_pct = next;
            }
        }
        self.power_kw = power;
    }

    /// Power (W resolution) and, for batteries, SOC (0.01 % resolution).
    fn reading(&self) -> (f64, Option<f64>) {
        let soc = matches!(self.physics, Physics::Battery { .. }).then(|| (self.soc_pct * 100.0).round() / 100.0);
        ((self.power_kw * 1000.0).round() / 1000.0, soc)
    }

    fn topic(&self, prefix: &str, kind: Kind) -> String {
        protocol::topic(prefix, &self.site, &self.id, kind)
    }
}

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Broker URL (`mqtt://…`).
    pub url: String,
    /// Broker user name.
    pub username: Option<String>,
    /// Broker password.
    pub password: Option<String>,
    /// First topic levels, as the bridge's (`vpp` unless configured).
    pub topic_prefix: String,
    /// Time between samples of one device.
    pub sample_every: Duration,
    /// Samples per message: 1 sends each sample alone, more send the
    /// compact batch form.
    pub samples_per_message: usize,
    /// Share of devices that acknowledge setpoints without following, 0..1.
    pub disobey_share: f64,
    /// Random seed.
    pub seed: u64,
    /// Stop after this long (None: run until stopped).
    pub run_for: Option<Duration>,
}

impl SimConfig {
    /// Defaults for a broker URL: a sample every 5 s, sent alone, 5 % disobey.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            topic_prefix: protocol::DEFAULT_PREFIX.into(),
            sample_every: Duration::from_secs(5),
            samples_per_message: 1,
            disobey_share: 0.05,
            seed: 7,
            run_for: None,
        }
    }
}

/// Counters of a simulator run.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Samples published.
    pub samples: AtomicU64,
    /// Messages published.
    pub messages: AtomicU64,
    /// Setpoints received.
    pub setpoints: AtomicU64,
}

/// Runs the fleet until `run_for` passes (or forever), counting into `stats`.
pub async fn run(mut devices: Vec<Device>, config: SimConfig, stats: Arc<SimStats>) -> Result<(), BridgeError> {
    // Two connections, as a fleet of devices would not share one queue:
    // telemetry bursts on one, setpoints and their answers on the other, so
    // an answer never waits behind the fleet's telemetry.
    let connect = |role: &str| -> Result<_, BridgeError> {
        let client_id = format!("vpp-sim-{}-{}-{role}", std::process::id(), config.seed);
        let mut options =
            mqtt_options(&config.url, &client_id, config.username.as_deref(), config.password.as_deref(), None)?;
        options.set_request_channel_capacity(100_000);
        Ok(crate::bridge::client(options, 100_000))
    };
    let (client, mut telemetry_loop) = connect("telemetry")?;
    let (control, mut eventloop) = connect("control")?;
    let telemetry_connection = tokio::spawn(async move {
        loop {
            if let Err(e) = telemetry_loop.poll().await {
                tracing::warn!(error = %e, "simulator: broker connection lost; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    let mut rng = SmallRng::seed_from_u64(config.seed);
    for d in &mut devices {
        d.disobeys = rng.random_bool(config.disobey_share.clamp(0.0, 1.0));
    }
    let index: HashMap<String, usize> = devices.iter().enumerate().map(|(i, d)| (d.id.clone(), i)).collect();
    protocol::check_prefix(&config.topic_prefix)
        .map_err(|message| BridgeError::Config { field: "topic_prefix", message })?;
    let prefix = config.topic_prefix.clone();
    let ack_topics: Vec<String> = devices.iter().map(|d| d.topic(&prefix, Kind::Ack)).collect();
    // Setpoints taken but not yet applied: the answer goes out at once, the
    // device follows from its next step (the tick is not waited for).
    let inbox: Arc<std::sync::Mutex<Vec<(usize, f64, Timestamp)>>> = Arc::default();
    let (setpoint_tx, mut setpoint_rx) = tokio::sync::mpsc::unbounded_channel::<(String, protocol::Setpoint)>();
    // The connection: subscribe on every connect, pass setpoints on.
    let (sub_client, sub_prefix) = (control.clone(), prefix.clone());
    let connection = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Err(e) =
                        sub_client.try_subscribe(protocol::filter(&sub_prefix, Kind::Setpoint), QoS::AtLeastOnce)
                    {
                        tracing::warn!(error = %e, "simulator could not subscribe");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Some(topic) = Topic::parse(&p.topic, &sub_prefix).filter(|t| t.kind == Kind::Setpoint) else {
                        continue;
                    };
                    match protocol::parse_setpoint(&p.payload) {
                        Ok(s) => {
                            let _ = setpoint_tx.send((topic.resource_id.to_string(), s));
                        }
                        Err(e) => tracing::warn!(error = %e, "simulator: malformed setpoint"),
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "simulator: broker connection lost; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    // Setpoints: take them and acknowledge at once.
    let ack_client = control;
    let ack_inbox = inbox.clone();
    let ack_stats = stats.clone();
    let acks = tokio::spawn(async move {
        while let Some((resource_id, s)) = setpoint_rx.recv().await {
            let Some(&i) = index.get(&resource_id) else { continue };
            let until = s.start + jiff::SignedDuration::from_secs(s.duration_s as i64);
            ack_inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((i, s.target_kw, until));
            ack_stats.setpoints.fetch_add(1, Ordering::Relaxed);
            let ack = Ack { instruction_id: s.instruction_id, status: AckStatus::Accepted, reason: None };
            let payload = serde_json::to_vec(&ack).unwrap_or_default();
            if ack_client.publish(ack_topics[i].clone(), QoS::AtLeastOnce, false, payload).await.is_err() {
                return;
            }
        }
    });
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(config.sample_every);
    let mut pending: Vec<Vec<(Timestamp, f64, Option<f64>)>> = Vec::new();
    // Devices send their batches at staggered ticks, as a real fleet would,
    // rather than all at once: device i sends its first after i % batch + 1
    // samples.
    let mut first_sent: Vec<bool> = Vec::new();
    let dt_s = config.sample_every.as_secs_f64();
    let per_message = config.samples_per_message.clamp(1, protocol::MAX_SAMPLES_PER_MESSAGE);
    loop {
        ticker.tick().await;
        if config.run_for.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let now = Timestamp::now();
        let mut outgoing: Vec<(String, Vec<u8>, usize)> = Vec::new();
        {
            let taken = std::mem::take(&mut *inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            for (i, kw, until) in taken {
                devices[i].setpoint = Some((kw, until));
            }
            let all = &mut devices;
            if pending.len() != all.len() {
                pending = vec![Vec::new(); all.len()];
                first_sent = vec![false; all.len()];
            }
            for (i, d) in all.iter_mut().enumerate() {
                d.step(now, dt_s, &mut rng);
                let (power, soc) = d.reading();
                pending[i].push((now, power, soc));
                let due = if first_sent[i] { per_message } else { i % per_message + 1 };
                if pending[i].len() >= due {
                    first_sent[i] = true;
                    let samples = std::mem::take(&mut pending[i]);
                    let n = samples.len();
                    let body = message(&samples, config.sample_every);
                    outgoing.push((d.topic(&prefix, Kind::Telemetry), body, n));
                }
            }
        }
        for (topic, payload, n) in outgoing {
            if let Err(e) = client.publish(topic, QoS::AtLeastOnce, false, payload).await {
                tracing::warn!(error = %e, "simulator could not publish");
                break;
            }
            stats.messages.fetch_add(1, Ordering::Relaxed);
            stats.samples.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    // Let the last messages leave.
    tokio::time::sleep(Duration::from_millis(500)).await;
    acks.abort();
    connection.abort();
    telemetry_connection.abort();
    Ok(())
}

/// One sample alone, or several in the compact form.
fn message(samples: &[(Timestamp, f64, Option<f64>)], every: Duration) -> Vec<u8> {
    let body = match samples {
        [(ts, power, soc)] => {
            let mut one = json!({"ts": ts.to_string(), "power_kw": power});
            if let Some(soc) = soc {
                one["soc_pct"] = json!(soc);
            }
            one
        }
        _ => {
            let compact = protocol::Compact {
                t0: samples[0].0,
                dt_ms: every.as_millis().max(1) as u64,
                power_kw: samples.iter().map(|s| s.1).collect(),
                energy_kwh: None,
                soc_pct: samples.iter().map(|s| s.2).collect(),
                temperature_c: None,
            };
            return serde_json::to_vec(&compact).unwrap_or_default();
        }
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> Timestamp {
        Timestamp::from_second(1_795_305_600 + h * 3600).unwrap()
    }

    #[test]
    fn a_battery_follows_its_setpoint_within_ramp_and_soc() {
        let mut rng = SmallRng::seed_from_u64(1);
        let physics =
            Physics::Battery { energy_kwh: 10.0, max_kw: 5.0, efficiency: 0.9, soc_min_pct: 10.0, soc_max_pct: 90.0 };
        let mut d = Device::new("b".into(), "default".into(), physics, 1.0, &mut rng);
        d.soc_pct = 50.0;
        d.setpoint = Some((5.0, at(5)));
        d.step(at(0), 2.0, &mut rng);
        assert!((d.power_kw - 2.0).abs() < 1e-9, "ramp of 1 kW/s over 2 s: {}", d.power_kw);
        for s in 0..3600 {
            d.step(at(0) + jiff::SignedDuration::from_secs(s), 1.0, &mut rng);
        }
        // Discharging at 5 kW empties 40 % of 10 kWh in well under an hour, then stops at the floor.
        assert!(d.soc_pct >= 10.0 && d.soc_pct < 11.0, "SOC {}", d.soc_pct);
        assert_eq!(d.power_kw, 0.0);
    }

    #[test]
    fn pv_is_dark_at_night_and_capped_by_a_setpoint() {
        let mut rng = SmallRng::seed_from_u64(2);
        let physics = Physics::Pv { site: Site::new(45.0, 0.0, 0.0), system: PvSystem::new(100.0, 100.0, 30.0, 180.0) };
        let mut d = Device::new("pv".into(), "default".into(), physics, 1000.0, &mut rng);
        d.step(at(0), 60.0, &mut rng);
        assert_eq!(d.power_kw, 0.0, "midnight");
        d.step(at(12), 60.0, &mut rng);
        assert!(d.power_kw > 5.0, "noon: {}", d.power_kw);
        d.setpoint = Some((3.0, at(13)));
        d.step(at(12), 60.0, &mut rng);
        assert!(d.power_kw <= 3.0 + 1e-9);
        d.disobeys = true;
        d.step(at(12), 60.0, &mut rng);
        assert!(d.power_kw > 3.0, "a disobeying device ignores the cap");
    }
}
