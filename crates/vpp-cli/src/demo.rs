//! The demo: a seeded portfolio of 54 resources in 4 VPPs, and a simulated
//! fleet that reports telemetry every few seconds and follows dispatch
//! setpoints, so the API shows live data without hardware.
//!
//! The simulation is demo-only and labelled as such; real devices report
//! through `POST /resource-instances/{id}/telemetry`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use vpp_devices::simulator::Physics;
use vpp_domain::auth::Role;
use vpp_domain::forecast_etl::SyntheticForecasts;
use vpp_domain::resource::{Location, ResourceRequest, ResourceStatus, StatusRequest, Telemetry};
use vpp_domain::template::{Parameters, ResourceType};
use vpp_domain::vpp::{AllocationRatio, MarketType, Member, VppRequest, VppStatus};
use vpp_store::{Page, ResourceFilter, Store, VppFilter};

/// A site the demo places resources at.
struct Site {
    name: &'static str,
    lat: f64,
    lon: f64,
    timezone: &'static str,
}

const SITES: [Site; 4] = [
    Site { name: "Berlin-Adlershof", lat: 52.4307, lon: 13.5294, timezone: "Europe/Berlin" },
    Site { name: "Hamburg-Harburg", lat: 53.4601, lon: 9.9836, timezone: "Europe/Berlin" },
    Site { name: "Munich-Garching", lat: 48.2489, lon: 11.6532, timezone: "Europe/Berlin" },
    Site { name: "Suzhou Industrial Park", lat: 31.3165, lon: 120.7150, timezone: "Asia/Shanghai" },
];

/// Where the demo's weather is forecast: the three production sites.
pub fn production_weather_points() -> Vec<(f64, f64)> {
    SITES[..3].iter().map(|s| (s.lat, s.lon)).collect()
}

fn params(v: serde_json::Value) -> Parameters {
    serde_json::from_value(v).unwrap_or_default()
}

/// Seeds the demo portfolio and one user per role unless the database
/// already holds VPPs, and prints the logins. `admin` is the first admin's
/// name and password if it was just created.
pub async fn seed(store: &Store, admin: Option<(&str, &str)>) -> anyhow::Result<()> {
    let existing = store.list_vpps(&VppFilter::default(), Page { page: 1, size: 1 }).await?;
    if existing.total > 0 {
        tracing::info!(vpps = existing.total, "database already holds VPPs; demo seed skipped");
        eprintln!("Demo data already present; log in with the passwords printed on the first run");
        eprintln!("(or set one with `vpp user reset-password NAME`).");
        return Ok(());
    }
    let mut logins: Vec<(String, String, &str)> =
        admin.map(|(u, p)| (u.to_string(), p.to_string(), "admin")).into_iter().collect();
    // The asset owner `owner` reads only the assets of Nordlicht Energie GmbH.
    for (name, role, owner) in [
        ("operator", Role::Operator, None),
        ("trader", Role::Trader, None),
        ("analyst", Role::Analyst, None),
        ("viewer", Role::Viewer, None),
        ("owner", Role::AssetOwner, Some("Nordlicht Energie GmbH")),
    ] {
        if store.get_user_by_name(name).await.is_ok() {
            continue;
        }
        let password = vpp_app::users::random_token(12);
        let hash = vpp_app::users::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
        store.create_bound_user(name, &hash, role, owner).await?;
        logins.push((name.to_string(), password, role.as_str()));
    }
    let templates = PresetTemplates::load(store).await?;
    let mut rng = SmallRng::seed_from_u64(2026);
    let mut ids: HashMap<ResourceType, Vec<String>> = HashMap::new();
    let plan: [(ResourceType, usize); 9] = [
        (ResourceType::Pv, 12),
        (ResourceType::Wind, 4),
        (ResourceType::Battery, 10),
        (ResourceType::EvCharger, 8),
        (ResourceType::HeatPump, 6),
        (ResourceType::Hvac, 5),
        (ResourceType::IndustrialLoad, 5),
        (ResourceType::DieselGenerator, 2),
        (ResourceType::Chp, 2),
    ];
    for (resource_type, count) in plan {
        let template_id = templates.id(resource_type)?;
        for n in 1..=count {
            // Demand-side assets sit in the industrial park; generation and storage in Germany.
            let site = match resource_type {
                ResourceType::IndustrialLoad | ResourceType::Hvac | ResourceType::DieselGenerator => &SITES[3],
                ResourceType::HeatPump if n % 2 == 0 => &SITES[3],
                _ => &SITES[(n - 1) % 3],
            };
            let (label, parameters) = demo_parameters(resource_type, &mut rng);
            // EV chargers are OCPP stations: their id is the external id.
            let station = (resource_type == ResourceType::EvCharger).then(|| format!("CS-DEMO-{n:02}"));
            // PV and wind assets have asset ids, as in a direct marketer's
            // technical data: files named after them route to them.
            let asset_id = match resource_type {
                ResourceType::Pv => Some(format!("PV-DEMO-{n:02}")),
                ResourceType::Wind => Some(format!("WP-DEMO-{n:02}")),
                _ => station.clone(),
            };
            let request = ResourceRequest {
                template_id: template_id.clone(),
                name: format!("{label} {:02} {}", n, site.name),
                external_id: asset_id,
                status: Some(ResourceStatus::Online),
                parameters,
                capacity_kw: None,
                min_power_kw: None,
                max_power_kw: None,
                efficiency: None,
                response_time_s: None,
                marginal_cost: None,
                location: Location {
                    lat: site.lat + rng.random_range(-0.02..0.02),
                    lon: site.lon + rng.random_range(-0.02..0.02),
                    timezone: site.timezone.into(),
                    building: Some(format!("{} building {}", site.name, (n % 4) + 1)),
                },
                // Loopback only: the demo never names an address on anyone's network.
                device_address: match &station {
                    Some(id) => format!("ocpp://{id}"),
                    None => format!(
                        "modbus://127.0.0.1:{}/{}",
                        15_000 + u32::from(resource_type as u8) * 100 + (n / 247) as u32,
                        n % 247 + 1
                    ),
                },
                owner: Some(
                    if site.timezone == "Asia/Shanghai" { "Suzhou Park Energy Co." } else { "Nordlicht Energie GmbH" }
                        .into(),
                ),
                metadata: Parameters::new(),
            };
            let r = store.create_resource(request).await?;
            ids.entry(resource_type).or_default().push(r.id);
        }
    }
    let of = |t: ResourceType| ids.get(&t).cloned().unwrap_or_default();
    let member = |id: &String, ratio: f64, priority: i32| Member {
        resource_id: id.clone(),
        allocation_ratio: AllocationRatio::new(ratio).unwrap_or(AllocationRatio::FULL),
        priority,
    };
    // Spot portfolio: all PV and wind, half of every battery.
    let mut spot: Vec<Member> =
        of(ResourceType::Pv).iter().chain(of(ResourceType::Wind).iter()).map(|id| member(id, 1.0, 50)).collect();
    spot.extend(of(ResourceType::Battery).iter().map(|id| member(id, 0.5, 10)));
    store
        .create_vpp(VppRequest {
            name: "Nordlicht Spot Portfolio".into(),
            description: "PV, wind and half of the battery fleet, traded day-ahead".into(),
            market_type: MarketType::Spot,
            status: Some(VppStatus::Active),
            resource_ids: vec![],
            members: spot,
        })
        .await?;
    // Reserve pool: the other half of the batteries, plus V2G-free EV charging as load.
    let mut fcr: Vec<Member> = of(ResourceType::Battery).iter().map(|id| member(id, 0.5, 1)).collect();
    fcr.extend(of(ResourceType::EvCharger).iter().map(|id| member(id, 1.0, 20)));
    store
        .create_vpp(VppRequest {
            name: "FCR Battery Pool".into(),
            description: "Frequency containment reserve from batteries and smart charging".into(),
            market_type: MarketType::Ancillary,
            status: Some(VppStatus::Active),
            resource_ids: vec![],
            members: fcr,
        })
        .await?;
    // Demand response in the industrial park.
    let dr: Vec<String> =
        [ResourceType::IndustrialLoad, ResourceType::Hvac, ResourceType::DieselGenerator, ResourceType::Chp]
            .into_iter()
            .flat_map(of)
            .chain(of(ResourceType::HeatPump).into_iter().skip(3))
            .collect();
    store
        .create_vpp(VppRequest {
            name: "Suzhou Park Demand Response".into(),
            description: "Industrial loads, HVAC and on-site generation for capacity and peak shaving".into(),
            market_type: MarketType::Capacity,
            status: Some(VppStatus::Active),
            resource_ids: dr,
            members: vec![],
        })
        .await?;
    store
        .create_vpp(VppRequest {
            name: "Heat Pump Pilot".into(),
            description: "Residential heat pumps, being commissioned".into(),
            market_type: MarketType::Spot,
            status: Some(VppStatus::Inactive),
            resource_ids: of(ResourceType::HeatPump).into_iter().take(3).collect(),
            members: vec![],
        })
        .await?;
    // A few assets are not available, as in any real fleet.
    let outages = [
        (of(ResourceType::Pv)[3].clone(), ResourceStatus::Maintenance, "inverter replacement scheduled"),
        (of(ResourceType::Battery)[7].clone(), ResourceStatus::Error, "BMS fault: cell over-temperature"),
        (of(ResourceType::IndustrialLoad)[2].clone(), ResourceStatus::Offline, "production line stopped for retooling"),
    ];
    for (id, status, reason) in outages {
        store.set_resource_status(&id, StatusRequest { status, reason: reason.into() }).await?;
    }
    seed_forecasts(store, &[of(ResourceType::Pv), of(ResourceType::Wind)].concat(), &mut rng).await?;
    crate::demo_weather::seed(store, &production_weather_points()).await.context("seeding the demo weather")?;
    seed_correction_model(store, &of(ResourceType::Pv)[0]).await.context("seeding the demo's physical correction")?;
    let prices = seed_prices(store, &mut rng).await?;
    tick(store, &mut rng, &HashMap::new(), &power_series(store).await?, &Default::default()).await?;
    tracing::info!("demo portfolio seeded: 54 resources in 4 VPPs, with power forecasts for PV and wind");
    schedule_spot_portfolio(store, &prices).await?;
    seed_markets(store, &prices).await.context("seeding the demo markets")?;
    crate::demo_park::seed(store, templates.id(ResourceType::Battery)?, &of(ResourceType::IndustrialLoad))
        .await
        .context("seeding the demo park")?;
    eprintln!("Demo users (passwords are shown once; reset with `vpp user reset-password NAME`):");
    for (user, password, role) in &logins {
        eprintln!("demo login: {user} / {password} ({role})");
    }
    Ok(())
}

/// The members of a bench VPP unless a bench says otherwise: generators,
/// batteries and heat pumps in turn.
pub const BENCH_KINDS: [ResourceType; 3] =
    [ResourceType::DieselGenerator, ResourceType::Battery, ResourceType::HeatPump];

/// Creates a VPP named `name` with `n` synthetic members for load tests:
/// resources of `kinds` in turn (batteries with a reported SOC), each with
/// the external id `{name}-{i}` and with a power series if `power_series`
/// (where telemetry also lands as live measurements); every twentieth is
/// OFFLINE. Returns the VPP id.
pub async fn seed_bench(
    store: &Store,
    name: &str,
    n: usize,
    power_series: bool,
    kinds: &[ResourceType],
) -> anyhow::Result<String> {
    let templates = PresetTemplates::load(store).await?;
    let mut rng = SmallRng::seed_from_u64(n as u64);
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let kind = kinds[i % kinds.len()];
        let template_id = templates.id(kind)?;
        let (_, parameters) = demo_parameters(kind, &mut rng);
        let r = store
            .create_resource(ResourceRequest {
                template_id: template_id.clone(),
                name: format!("{name} member {i:07}"),
                // Also the station id of a bench EV charger.
                external_id: Some(format!("{name}-{i:07}")),
                status: Some(if i % 20 == 0 { ResourceStatus::Offline } else { ResourceStatus::Online }),
                parameters,
                capacity_kw: None,
                min_power_kw: None,
                max_power_kw: None,
                efficiency: None,
                response_time_s: None,
                marginal_cost: Some(rng.random_range(-20.0..300.0)),
                location: Location { lat: 52.5, lon: 13.4, timezone: "Europe/Berlin".into(), building: None },
                device_address: format!("bench://{i}"),
                owner: None,
                metadata: Parameters::new(),
            })
            .await?;
        if power_series {
            store
                .ensure_series(
                    vpp_domain::series::OwnerKind::Resource,
                    &r.id,
                    vpp_domain::series::Quantity::Power,
                    &format!("{} power", r.name),
                )
                .await?;
        }
        if kind == ResourceType::Battery {
            let sample = Telemetry {
                ts: Timestamp::now(),
                power_kw: 0.0,
                energy_kwh: None,
                soc_pct: Some(rng.random_range(20.0..80.0)),
                temperature_c: None,
            };
            store.record_telemetry(&r.id, &[sample]).await?;
        }
        members.push(Member {
            resource_id: r.id,
            allocation_ratio: AllocationRatio::FULL,
            priority: (i % 10) as i32 + 1,
        });
    }
    let vpp = store
        .create_vpp(VppRequest {
            name: name.into(),
            description: format!("{n} synthetic members for load tests"),
            market_type: MarketType::Spot,
            status: Some(VppStatus::Active),
            resource_ids: vec![],
            members,
        })
        .await?;
    Ok(vpp.id)
}

/// Ids of the preset templates by type.
struct PresetTemplates(HashMap<ResourceType, String>);

impl PresetTemplates {
    async fn load(store: &Store) -> anyhow::Result<Self> {
        let presets = store.all_templates().await?.into_iter().filter(|t| t.preset);
        Ok(Self(presets.map(|t| (t.resource_type, t.id)).collect()))
    }

    fn id(&self, t: ResourceType) -> anyhow::Result<&String> {
        self.0.get(&t).with_context(|| format!("preset template for {} is missing", t.as_str()))
    }
}

/// Realistic parameters for one demo resource of `t`, with its label.
fn demo_parameters(t: ResourceType, rng: &mut SmallRng) -> (&'static str, Parameters) {
    let mut pick = |lo: f64, hi: f64, step: f64| ((rng.random_range(lo..hi) / step).round() * step).max(step);
    match t {
        ResourceType::Pv => {
            let kwp = pick(50.0, 950.0, 10.0);
            (
                "PV",
                params(json!({"peak_kw": kwp, "inverter_kw": (kwp * 0.9).round(), "tilt_deg": 25, "azimuth_deg": 180})),
            )
        }
        ResourceType::Wind => ("Wind", params(json!({"rated_kw": pick(2000.0, 3600.0, 100.0), "hub_height_m": 120}))),
        ResourceType::Battery => {
            let kw = pick(100.0, 1000.0, 50.0);
            ("Battery", params(json!({"usable_energy_kwh": kw * 2.0, "max_charge_kw": kw, "max_discharge_kw": kw})))
        }
        ResourceType::EvCharger => {
            let kw = [22.0, 50.0, 150.0][rng.random_range(0..3)];
            ("EV charger", params(json!({"max_charge_kw": kw, "connectors": 2})))
        }
        ResourceType::HeatPump => {
            ("Heat pump", params(json!({"rated_electrical_kw": pick(8.0, 250.0, 1.0), "cop": 3.6})))
        }
        ResourceType::Hvac => ("HVAC", params(json!({"rated_kw": pick(80.0, 600.0, 10.0)}))),
        ResourceType::IndustrialLoad => {
            let max = pick(300.0, 2500.0, 50.0);
            (
                "Process load",
                params(json!({"max_load_kw": max, "min_load_kw": (max * 0.3).round(), "process": "compressed air"})),
            )
        }
        ResourceType::DieselGenerator => {
            ("Diesel genset", params(json!({"rated_kw": pick(500.0, 1500.0, 100.0), "min_stable_kw": 150})))
        }
        ResourceType::Chp => (
            "CHP",
            params(json!({"electrical_kw": pick(400.0, 1200.0, 50.0), "thermal_kw": 1200, "min_electrical_kw": 200})),
        ),
        ResourceType::Other => ("Asset", Parameters::new()),
    }
}

/// A power series for each resource in `ids` with three forecast versions
/// per quarter-hour from yesterday to tomorrow (UTC days): issued at 06:00
/// and 12:00 the day before delivery and two hours before delivery, each
/// closer to the final shape; versions not issued yet are left out.
async fn seed_forecasts(store: &Store, ids: &[String], rng: &mut SmallRng) -> anyhow::Result<()> {
    use vpp_domain::series::{Belief, OwnerKind, Quantity, SeriesRequest, SourceKind};
    const Q_US: i64 = 900_000_000;
    const HOUR_US: i64 = 3_600_000_000;
    let now = Timestamp::now().as_microsecond();
    let day_us = 24 * HOUR_US;
    let first = (now / day_us - 1) * day_us;
    for id in ids {
        let r = store.get_resource(id).await?;
        let series = store
            .create_series(SeriesRequest {
                name: format!("{} power", r.name),
                owner_kind: OwnerKind::Resource,
                owner_id: r.id.clone(),
                quantity: Quantity::Power,
                unit: None,
                resolution_s: None,
            })
            .await?;
        let key = store.get_series(&series.id).await?.0;
        let physics = Physics::for_resource(&r);
        // Each version misses the synthetic weather by its own bias (of the
        // cloud index for PV, of the wind speed in m/s for wind), smaller the
        // closer to delivery, plus a little noise per interval.
        let scale = if r.resource_type == ResourceType::Pv { 0.2 } else { 2.0 };
        let biases: Vec<f64> = (0..3).map(|v| scale * rng.random_range(-1.0..1.0) / (v + 1) as f64).collect();
        let mut beliefs = Vec::new();
        for k in 0..(3 * 96) {
            let start = first + k * Q_US;
            let delivery_day = start - start.rem_euclid(day_us);
            let versions =
                [delivery_day - day_us + 6 * HOUR_US, delivery_day - day_us + 12 * HOUR_US, start - 2 * HOUR_US];
            for (v, version) in versions.into_iter().enumerate() {
                if version > now {
                    continue;
                }
                let deviation = biases[v] + scale * 0.1 * rng.random_range(-1.0..1.0);
                let middle_s = (start + Q_US / 2) as f64 / 1e6;
                let value = physics.weather_driven_kw(middle_s, deviation).unwrap_or(0.0).clamp(0.0, r.max_power_kw);
                beliefs.push(Belief {
                    event_start_us: start,
                    belief_time_us: version,
                    source: SourceKind::Forecast,
                    value: (value * 10.0).round() / 10.0,
                });
            }
        }
        beliefs.sort_by_key(|b| (b.event_start_us, b.belief_time_us));
        store.insert_beliefs(key, &beliefs).await?;
    }
    Ok(())
}

/// A synthetic day-ahead price series (EPEX-like, 15-minute, €/MWh) for
/// yesterday, today and tomorrow: a night trough, a midday solar dip and an
/// evening peak. Each day's prices carry the auction time, D-1 12:00 UTC,
/// or now while that is still ahead, so that the demo can show tomorrow's
/// schedule at any hour. Returns the series id.
async fn seed_prices(store: &Store, rng: &mut SmallRng) -> anyhow::Result<String> {
    use vpp_domain::series::{Belief, OwnerKind, Quantity, SeriesRequest, SourceKind};
    const Q_US: i64 = 900_000_000;
    const HOUR_US: i64 = 3_600_000_000;
    let series = store
        .create_series(SeriesRequest {
            name: "EPEX DE day-ahead (synthetic)".into(),
            owner_kind: OwnerKind::Market,
            owner_id: "EPEX-DE".into(),
            quantity: Quantity::Price,
            unit: None,
            resolution_s: Some(900),
        })
        .await?;
    let key = store.get_series(&series.id).await?.0;
    let now = Timestamp::now().as_microsecond();
    let day_us = 24 * HOUR_US;
    let first = (now / day_us - 1) * day_us;
    let mut beliefs = Vec::new();
    // Four UTC days from yesterday: Berlin's yesterday, today and tomorrow
    // lie within them at any hour.
    for k in 0..(4 * 96) {
        let start = first + k * Q_US;
        let h = (start.rem_euclid(day_us)) as f64 / HOUR_US as f64 + 1.0; // roughly Berlin time
        let price = 85.0 - 30.0 * (-((h - 3.5) / 2.5).powi(2)).exp() - 45.0 * (-((h - 13.0) / 2.5).powi(2)).exp()
            + 70.0 * (-((h - 19.0) / 1.8).powi(2)).exp()
            + rng.random_range(-6.0..6.0);
        let auction = start - start.rem_euclid(day_us) - 12 * HOUR_US;
        beliefs.push(Belief {
            event_start_us: start,
            belief_time_us: auction.min(now),
            source: SourceKind::Price,
            value: (price * 100.0).round() / 100.0,
        });
    }
    store.insert_beliefs(key, &beliefs).await?;
    // Forecasts run a day beyond the prices: the ACTIVE strategy bids the
    // next day whose gate is still open.
    crate::demo_strategies::seed_history(store, key, (first, first + 5 * day_us), rng).await?;
    Ok(series.id)
}

/// Schedules the spot portfolio for the rest of today and for tomorrow
/// against the demo prices, stores both, dispatches the current quarter-hour
/// (the control loop keeps it on schedule from then on), and tells the user
/// how to see it.
async fn schedule_spot_portfolio(store: &Store, price_series: &str) -> anyhow::Result<()> {
    use vpp_app::schedules::{ScheduleRequest, dispatch_stored_schedule, schedule_vpp};
    let spot = store.list_vpps(&VppFilter::default(), Page { page: 1, size: 100 }).await?;
    let Some(vpp) = spot.items.iter().find(|v| v.market_type == MarketType::Spot && v.status == VppStatus::Active)
    else {
        return Ok(());
    };
    // The rest of today and tomorrow in Berlin, where the portfolio is and
    // whose days the console shows (the demo prices cover both at any hour).
    let berlin = jiff::tz::TimeZone::get("Europe/Berlin")?;
    let now = Timestamp::now();
    let quarter = now.as_second() - now.as_second().rem_euclid(900);
    let tomorrow = now.to_zoned(berlin.clone()).date().tomorrow()?;
    let midnight = tomorrow.to_zoned(berlin)?.timestamp().as_second();
    let today = ScheduleRequest {
        start: Some(Timestamp::from_second(quarter)?),
        steps: Some(((midnight - quarter) / 900).max(1) as usize),
        tz: Some("Europe/Berlin".into()),
        price_series_id: Some(price_series.to_string()),
        ..Default::default()
    };
    let next_day = ScheduleRequest {
        day: Some(tomorrow),
        tz: Some("Europe/Berlin".into()),
        price_series_id: Some(price_series.to_string()),
        ..Default::default()
    };
    let api_error = |e| crate::api_error(e, "request");
    let run = async {
        schedule_vpp(store, &vpp.id, &today).await.map_err(api_error)?;
        let dispatched = dispatch_stored_schedule(store, &vpp.id, None).await.map_err(api_error)?;
        let r = schedule_vpp(store, &vpp.id, &next_day).await.map_err(api_error)?;
        anyhow::Ok((dispatched, r))
    };
    match run.await {
        Ok((dispatched, r)) => eprintln!(
            "{}: today's schedule dispatched ({:.0} kW now), tomorrow's: {} members, net revenue {:.0} € ({} left out). \
             See it with\n  vpp schedule --vpp {} --price-series {price_series} --day {tomorrow} --tz Europe/Berlin --no-store --table",
            vpp.name,
            dispatched.target_kw,
            r.schedule.members.len(),
            -r.schedule.breakdown.total,
            r.left_out.len(),
            vpp.id
        ),
        Err(e) => eprintln!("The schedule of {} could not be computed: {e}", vpp.name),
    }
    Ok(())
}

/// Power series of resources: resource id → series key.
async fn power_series(store: &Store) -> anyhow::Result<HashMap<String, i64>> {
    use vpp_domain::series::{OwnerKind, Quantity};
    let filter = vpp_store::SeriesFilter {
        owner_kind: Some(OwnerKind::Resource),
        owner_id: None,
        quantity: Some(Quantity::Power),
    };
    let mut out = HashMap::new();
    for s in store.list_series(&filter, Page { page: 1, size: 1000 }).await?.items {
        out.insert(s.owner_id.clone(), store.get_series(&s.id).await?.0);
    }
    Ok(out)
}

/// Reports simulated telemetry every 5 s until aborted.
pub async fn simulate(store: Arc<Store>, leave_out: std::collections::HashSet<String>) {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut interval = tokio::time::interval(Duration::from_secs(5));
    let series = power_series(&store).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "demo simulator: reading power series failed");
        HashMap::new()
    });
    loop {
        interval.tick().await;
        let setpoints = match store.active_instructions(Timestamp::now()).await {
            Ok(list) => list.into_iter().map(|i| (i.resource_id, i.target_kw)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "demo simulator: reading setpoints failed");
                HashMap::new()
            }
        };
        if let Err(e) = tick(&store, &mut rng, &setpoints, &series, &leave_out).await {
            tracing::warn!(error = %e, "demo simulator tick failed");
        }
    }
}

/// One telemetry sample for every ONLINE resource (but those in `leave_out`,
/// which answer over Modbus): a setpoint is followed
/// within ±3 %, otherwise a plausible free-running value. Resources with a
/// power series also get the sample as a live measurement there.
async fn tick(
    store: &Store,
    rng: &mut SmallRng,
    setpoints: &HashMap<String, f64>,
    series: &HashMap<String, i64>,
    leave_out: &std::collections::HashSet<String>,
) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let resources = store
        .list_resources(
            &ResourceFilter { status: Some(ResourceStatus::Online), ..ResourceFilter::default() },
            Page { page: 1, size: 1000 },
        )
        .await?;
    for r in resources.items.into_iter().filter(|r| !leave_out.contains(&r.id)) {
        let local_hour = now.to_zoned(jiff::tz::TimeZone::get(&r.location.timezone)?).hour() as f64;
        let daylight = ((local_hour - 6.0) / 12.0 * std::f64::consts::PI).sin().max(0.0);
        let free = match r.resource_type {
            ResourceType::Pv => r.max_power_kw * daylight * rng.random_range(0.6..0.95),
            ResourceType::Wind => r.max_power_kw * rng.random_range(0.15..0.7),
            ResourceType::Battery | ResourceType::EvCharger => 0.0,
            ResourceType::DieselGenerator | ResourceType::Chp => 0.0,
            _ => r.min_power_kw * rng.random_range(0.3..0.8),
        };
        let power_kw = match setpoints.get(&r.id) {
            Some(target) => target * rng.random_range(0.97..1.03),
            None => free,
        };
        let soc_pct = match (r.storage(), store.latest_telemetry(&r.id).await?) {
            (Some(model), last) => {
                let previous = last.and_then(|(t, _)| t.soc_pct).unwrap_or(rng.random_range(35.0..75.0));
                // 5 s of power moves the SOC: ΔSOC = −P·Δt / E (discharge is positive power).
                let next = previous - power_kw * (5.0 / 3600.0) / model.energy_kwh * 100.0;
                Some(next.clamp(model.soc_min * 100.0, model.soc_max * 100.0))
            }
            (None, _) => None,
        };
        let sample = Telemetry {
            ts: now,
            power_kw: (power_kw * 100.0).round() / 100.0,
            energy_kwh: None,
            soc_pct,
            temperature_c: Some(rng.random_range(18.0..34.0)),
        };
        let power_kw = sample.power_kw;
        store.record_telemetry(&r.id, &[sample]).await?;
        if let Some(key) = series.get(&r.id) {
            let measured = vpp_domain::series::Belief {
                event_start_us: now.as_microsecond(),
                belief_time_us: now.as_microsecond(),
                source: vpp_domain::series::SourceKind::LiveMeasurement,
                value: power_kw,
            };
            store.insert_beliefs(*key, &[measured]).await?;
        }
    }
    Ok(())
}

/// Stores the set as beliefs of one market-owned power series per asset,
/// in batches of 50,000 by `jobs` concurrent writers, and returns (beliefs, seconds spent storing).
pub async fn ingest_forecasts(store: &Store, spec: &SyntheticForecasts, jobs: usize) -> anyhow::Result<(usize, f64)> {
    use vpp_domain::series::{Belief, OwnerKind, Quantity, SeriesRequest, SourceKind};
    let run = Timestamp::now().as_second();
    let mut keys = Vec::with_capacity(spec.assets);
    for asset in 0..spec.assets {
        let series = store
            .create_series(SeriesRequest {
                name: format!("bench {run} asset {asset:05}"),
                owner_kind: OwnerKind::Market,
                owner_id: format!("bench-{run}-{asset:05}"),
                quantity: Quantity::Power,
                unit: None,
                resolution_s: None,
            })
            .await?;
        keys.push(store.get_series(&series.id).await?.0);
    }
    let mut batch: Vec<(usize, Belief)> = Vec::new();
    spec.for_each(|asset, start, version, kw| {
        batch.push((
            asset,
            Belief { event_start_us: start, belief_time_us: version, source: SourceKind::Forecast, value: kw },
        ));
    });
    // Assets are stored by `jobs` concurrent writers, each taking every
    // `jobs`-th asset; on PostgreSQL each writer is its own COPY stream (one
    // server process per core), on SQLite the write lock serialises them.
    let mut per_asset: Vec<Vec<Belief>> = vec![Vec::new(); spec.assets];
    for (asset, belief) in batch {
        per_asset[asset].push(belief);
    }
    let total: usize = per_asset.iter().map(Vec::len).sum();
    let started = std::time::Instant::now();
    let writers = (0..jobs.max(1)).map(|job| {
        let (keys, per_asset) = (&keys, &per_asset);
        async move {
            for asset in (job..per_asset.len()).step_by(jobs.max(1)) {
                for chunk in per_asset[asset].chunks(50_000) {
                    store.insert_beliefs(keys[asset], chunk).await?;
                }
            }
            anyhow::Ok(())
        }
    });
    for result in futures_util::future::join_all(writers).await {
        result?;
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// Name of the demo's day-ahead connector.
const DEMO_DAY_AHEAD: &str = "EPEX DE day-ahead (simulated)";

/// Seeds the markets: simulated day-ahead, reserve and capacity connectors;
/// meter readings of the spot portfolio for yesterday; yesterday's day-ahead
/// bid as it was placed before its gate closure, cleared and settled (demo
/// history); and the bid for the next open delivery day, which the server's
/// market job clears at gate closure.
pub async fn seed_markets(store: &Store, price_series: &str) -> anyhow::Result<()> {
    use vpp_domain::market::connector::ConnectorRequest;
    let api_error = |e| crate::api_error(e, "request");
    for (name, market) in [
        (DEMO_DAY_AHEAD, MarketType::Spot),
        ("Balancing reserve (simulated)", MarketType::Ancillary),
        ("Capacity auction (simulated)", MarketType::Capacity),
    ] {
        let request = ConnectorRequest {
            name: name.into(),
            market_type: market,
            kind: None,
            endpoint: None,
            auth: None,
            rules: None,
            simulation: None,
            reference_series_id: None,
        };
        store.create_connector(&request.into_connector(vpp_store::new_id())?).await?;
    }
    let Some(vpp) = spot_vpp(store).await? else { return Ok(()) };
    let connector = vpp_app::markets::connector_for(store, None, MarketType::Spot).await.map_err(api_error)?;
    let tz = connector.rules.zone()?;
    let yesterday = Timestamp::now().to_zoned(tz.clone()).date().yesterday()?;
    seed_meter_readings(store, &vpp, yesterday, &tz).await?;
    // Demo history: yesterday's bid, placed just before its gate closure.
    let slots = connector.rules.slots(yesterday)?;
    let placed_at = connector.rules.gate_closure_at(yesterday, slots[0])? - jiff::SignedDuration::from_hours(1);
    let request = day_ahead_bid(store, &vpp, &connector, yesterday, placed_at).await?;
    vpp_app::markets::place_bid(store, &request, &vpp_app::Actor::named("demo-trader"), placed_at)
        .await
        .map_err(api_error)?;
    let cleared = vpp_app::markets::clear_day(store, &connector, yesterday, None).await.map_err(api_error)?;
    let start = slots[0];
    let end = start + jiff::SignedDuration::from_secs(900 * slots.len() as i64);
    let settled = vpp_app::markets::settle_vpp(store, &vpp.id, &connector, start, end).await.map_err(api_error)?;
    let net: rust_decimal::Decimal = settled.iter().map(|r| r.interval.net).sum();
    eprintln!(
        "{}: yesterday's day-ahead bid cleared ({} trades, mean price {:.2} €/MWh) and settled: net {} €.",
        vpp.name,
        cleared.trades,
        cleared.mean_price.unwrap_or_default(),
        net.round_dp(2)
    );
    seed_contracts(store, &vpp).await?;
    eprintln!("Invoices to asset owners: vpp invoice --month {} --table", &yesterday.to_string()[..7]);
    crate::demo_strategies::seed(store, price_series).await.context("seeding the demo strategies")?;
    bid_next_day(store).await
}

/// Contracts with the owners of three spot assets: a fixed price with a fee
/// per MWh, the market price with a percentage fee, and the market price
/// with a capacity fee and redispatch compensation.
async fn seed_contracts(store: &Store, vpp: &vpp_domain::vpp::Vpp) -> anyhow::Result<()> {
    let ids: Vec<&String> = vpp.members.iter().map(|m| &m.resource_id).take(3).collect();
    let [a, b, c] = ids[..] else { return Ok(()) };
    let file = format!(
        "# demo contracts\n{}\n\
         NL-001;{a};2026-01-01;fixed;92.50;fixed_as_produced;3.10;;\n\
         NL-002;{b};2026-01-01;market;;percent_of_market;5;;\n\
         NL-003;{c};2026-01-01;market;;fixed_for_capacity;150;;45\n",
        vpp_domain::market::invoice::CONTRACT_COLUMNS.join(";")
    );
    let contracts = vpp_domain::market::invoice::parse_contracts(file.as_bytes())
        .map_err(|e| anyhow::anyhow!("demo contracts: {:?}", e))?;
    store.import_contracts(&contracts).await?;
    Ok(())
}

async fn spot_vpp(store: &Store) -> anyhow::Result<Option<vpp_domain::vpp::Vpp>> {
    let vpps = store.list_vpps(&VppFilter::default(), Page { page: 1, size: 100 }).await?;
    Ok(vpps.items.into_iter().find(|v| v.market_type == MarketType::Spot && v.status == VppStatus::Active))
}

/// Expected output of a PV or wind member over the quarter-hour starting at
/// `t`, kW: its physical model under the demo's synthetic weather, at the
/// quarter-hour's middle.
fn expected_kw(r: &vpp_domain::resource::Resource, t: Timestamp) -> f64 {
    Physics::for_resource(r).weather_driven_kw(t.as_second() as f64 + 450.0, 0.0).unwrap_or(0.0)
}

/// Meter readings (meter final, kW per quarter-hour) for the spot
/// portfolio's members with a power series over delivery day `day`: the
/// expected output with ±15 % weather error.
async fn seed_meter_readings(
    store: &Store,
    vpp: &vpp_domain::vpp::Vpp,
    day: jiff::civil::Date,
    tz: &jiff::tz::TimeZone,
) -> anyhow::Result<()> {
    use vpp_domain::series::{Belief, Quantity, SourceKind};
    let slots = vpp_domain::series::delivery_day(day, tz, jiff::SignedDuration::from_mins(15))?;
    let mut rng = SmallRng::seed_from_u64(7);
    let read_at = (slots[slots.len() - 1] + jiff::SignedDuration::from_hours(2)).as_microsecond();
    for (key, series, _) in store.member_series(&vpp.id, Quantity::Power).await? {
        let r = store.get_resource(&series.owner_id).await?;
        let beliefs: Vec<Belief> = slots
            .iter()
            .map(|t| Belief {
                event_start_us: t.as_microsecond(),
                belief_time_us: read_at,
                source: SourceKind::MeterFinal,
                value: ((expected_kw(&r, *t) * rng.random_range(0.85..1.15)) * 10.0).round() / 10.0,
            })
            .collect();
        store.insert_beliefs(key, &beliefs).await?;
    }
    Ok(())
}

/// The demo trader's day-ahead bid, as known at `now`: per slot, the
/// portfolio's PV and wind forecast sold at any price (0 €/MWh, as
/// renewable marketers do), plus a tenth of the battery share offered at
/// 150 €/MWh for the evening peak, within what the VPP has left to sell.
async fn day_ahead_bid(
    store: &Store,
    vpp: &vpp_domain::vpp::Vpp,
    connector: &vpp_domain::market::connector::Connector,
    day: jiff::civil::Date,
    now: Timestamp,
) -> anyhow::Result<vpp_app::markets::SubmitBid> {
    use rust_decimal::Decimal;
    use vpp_domain::market::rules::BidStepRequest;
    let api_error = |e| crate::api_error(e, "request");
    let mut battery_kw = 0.0;
    for m in &vpp.members {
        let r = store.get_resource(&m.resource_id).await?;
        if r.resource_type == ResourceType::Battery {
            battery_kw += r.max_power_kw * m.allocation_ratio.get();
        }
    }
    let peak = tenth_mw(battery_kw / 10.0);
    let slots = connector.rules.slots(day)?;
    let available = vpp_app::markets::available_kw(store, &vpp.id, connector, &slots, now).await.map_err(api_error)?;
    let mut bids = Vec::new();
    for (slot, a) in slots.into_iter().zip(available) {
        let sold = tenth_mw(a.weather_kw);
        if sold >= connector.rules.min_bid_mw {
            bids.push(BidStepRequest {
                time_slot: slot,
                price: Decimal::ZERO,
                quantity: sold,
                side: None,
                activation_price: None,
            });
        }
        // Within the room the forecast leaves, with a margin for the SOC
        // moving before the bid is checked.
        let left = tenth_mw(0.9 * (a.up_kw - a.weather_kw));
        let peak = peak.min(left);
        if peak >= connector.rules.min_bid_mw {
            bids.push(BidStepRequest {
                time_slot: slot,
                price: Decimal::from(150),
                quantity: peak,
                side: None,
                activation_price: None,
            });
        }
    }
    Ok(vpp_app::markets::SubmitBid {
        vpp_id: vpp.id.clone(),
        strategy_id: None,
        market_type: MarketType::Spot,
        connector_id: Some(connector.id.clone()),
        trading_date: day,
        bids,
    })
}

/// `kw` in MW, rounded down to 0.1 MW (never more than there is).
fn tenth_mw(kw: f64) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from((kw / 100.0).floor().max(0.0) as i64) / rust_decimal::Decimal::TEN
}

/// The demo trader's bid on a reserve or capacity market, as known at
/// `now`: per product of the day, what the VPP can offer in it, in whole MW
/// (reserve at 12 €/MW/h with activation at 180 €/MWh; capacity at
/// 3.50 €/MW/h). `None` when no product reaches the market's smallest bid.
async fn flexibility_bid(
    store: &Store,
    vpp: &vpp_domain::vpp::Vpp,
    connector: &vpp_domain::market::connector::Connector,
    day: jiff::civil::Date,
    now: Timestamp,
) -> anyhow::Result<Option<vpp_app::markets::SubmitBid>> {
    use rust_decimal::Decimal;
    use vpp_domain::market::rules::BidStepRequest;
    let api_error = |e| crate::api_error(e, "request");
    let (price, activation) = match vpp.market_type {
        MarketType::Ancillary => (Decimal::from(12), Some(Decimal::from(180))),
        _ => (Decimal::new(350, 2), None),
    };
    let slots = connector.rules.slots(day)?;
    let available = vpp_app::markets::available_kw(store, &vpp.id, connector, &slots, now).await.map_err(api_error)?;
    let most = available.iter().map(|a| a.up_kw).fold(0.0, f64::max);
    let bids: Vec<BidStepRequest> = slots
        .into_iter()
        .zip(&available)
        .map(|(t, a)| (t, Decimal::from((a.up_kw / 1000.0).floor() as i64)))
        .filter(|(_, mw)| *mw >= connector.rules.min_bid_mw)
        .map(|(t, mw)| BidStepRequest { time_slot: t, price, quantity: mw, side: None, activation_price: activation })
        .collect();
    if bids.is_empty() {
        eprintln!(
            "{}: at most {most:.0} kW available in a product, below the {} MW smallest bid of {}; no bid",
            vpp.name, connector.rules.min_bid_mw, connector.name
        );
        return Ok(None);
    }
    Ok(Some(vpp_app::markets::SubmitBid {
        vpp_id: vpp.id.clone(),
        strategy_id: None,
        market_type: vpp.market_type,
        connector_id: Some(connector.id.clone()),
        trading_date: day,
        bids,
    }))
}

/// Places the demo trader's bids for the next delivery day still open on
/// each market (day-ahead closes at noon the day before, Berlin time), for
/// every ACTIVE VPP that has not bid for that day yet.
pub async fn bid_next_day(store: &Store) -> anyhow::Result<()> {
    let api_error = |e| crate::api_error(e, "request");
    // ACTIVE strategies bid first; a VPP they bid for is skipped below.
    for (strategy, outcome) in vpp_app::strategies::bid_active_strategies(store, Timestamp::now()).await {
        match outcome {
            Ok(Some(b)) => eprintln!(
                "Strategy {strategy} bid {} for {} ({} steps).",
                b.bid.as_ref().map_or("nothing", |b| b.id.as_str()),
                b.trading_date,
                b.bid.as_ref().map_or(0, |b| b.steps.len())
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(strategy, error = %api_error(e), "strategy could not bid"),
        }
    }
    let vpps = store.list_vpps(&VppFilter::default(), Page { page: 1, size: 100 }).await?;
    for vpp in vpps.items.iter().filter(|v| v.status == VppStatus::Active) {
        let Ok(connector) = vpp_app::markets::connector_for(store, None, vpp.market_type).await else { continue };
        if connector.kind != vpp_domain::market::connector::ConnectorKind::Simulated {
            continue;
        }
        let now = Timestamp::now();
        let Some(day) = vpp_app::markets::day_to_bid(store, &vpp.id, &connector, now).await.map_err(api_error)? else {
            continue;
        };
        let request = match vpp.market_type {
            MarketType::Spot => Some(day_ahead_bid(store, vpp, &connector, day, now).await?),
            _ => flexibility_bid(store, vpp, &connector, day, now).await?,
        };
        let Some(request) = request else { continue };
        let bid = vpp_app::markets::place_bid(store, &request, &vpp_app::Actor::named("demo-trader"), now)
            .await
            .map_err(api_error)?;
        eprintln!(
            "{}: {} bid for {day} submitted to {} ({} steps, gate closure {}); see GET /api/v1/vpp/trading/results?trading_date={day}",
            vpp.name,
            vpp.market_type.as_str(),
            connector.name,
            bid.steps.len(),
            bid.gate_closure
        );
    }
    Ok(())
}

/// The demo trader: bids the next open delivery day every hour, and again
/// just after each gate closure of a simulated market, so that some bid is
/// open at any time of day (the one for tomorrow clears at noon).
pub async fn trade_daily(store: Arc<Store>) {
    loop {
        if let Err(e) = bid_next_day(&store).await {
            tracing::warn!(error = %e, "demo trader could not bid");
        }
        let wait = match next_gate_closure(&store).await {
            Ok(Some(closure)) => Timestamp::now().duration_until(closure).unsigned_abs() + Duration::from_secs(2),
            Ok(None) => Duration::from_secs(3600),
            Err(e) => {
                tracing::warn!(error = %e, "demo trader could not read the markets");
                Duration::from_secs(3600)
            }
        };
        tokio::time::sleep(wait.min(Duration::from_secs(3600))).await;
    }
}

/// The earliest gate closure still ahead on a simulated market.
async fn next_gate_closure(store: &Store) -> anyhow::Result<Option<Timestamp>> {
    let now = Timestamp::now();
    let mut next = None;
    for c in store.list_connectors().await? {
        if c.kind == vpp_domain::market::connector::ConnectorKind::Simulated {
            let (_, closure) = c.rules.next_open_day(now)?;
            next = Some(next.map_or(closure, |n: Timestamp| n.min(closure)));
        }
    }
    Ok(next)
}

/// The first PV plant as built: its data sheet says south, it faces 25°
/// further west and is 7 % soiled. Its meter readings of the last
/// [`crate::demo_weather::HISTORY_DAYS`] days (under the synthetic weather
/// itself) train a PHYSICAL_CORRECTION model, which stores a forecast of
/// the next two days beside the physical one.
async fn seed_correction_model(store: &Store, pv_id: &str) -> anyhow::Result<()> {
    use vpp_app::ai_models::{PredictRequest, TrainRequest, check_model, predict_model, train_model};
    use vpp_domain::ai_model::{Method, ModelParams, ModelRequest, ModelType};
    use vpp_domain::series::{Belief, OwnerKind, Quantity, SourceKind};
    use vpp_physics::pv::PvSystem;
    use vpp_physics::sun::Site;
    use vpp_physics::synthetic;
    const Q_US: i64 = 900_000_000;
    let r = store.get_resource(pv_id).await?;
    let (key, series) =
        store.ensure_series(OwnerKind::Resource, &r.id, Quantity::Power, &format!("{} power", r.name)).await?;
    let mut built = PvSystem::from_parameters(|name| r.parameters.get(name).and_then(|v| v.as_f64()))
        .map_err(|missing| anyhow::anyhow!("demo PV without {missing}"))?;
    built.azimuth_deg += 25.0;
    let site = Site::new(r.location.lat, r.location.lon, 0.0);
    let now = vpp_store::now().as_microsecond();
    let day_us = 96 * Q_US;
    let today = now - now.rem_euclid(day_us);
    let mut rng = SmallRng::seed_from_u64(35);
    let beliefs: Vec<Belief> = (0..crate::demo_weather::HISTORY_DAYS * 96)
        .map(|k| {
            let start = today - crate::demo_weather::HISTORY_DAYS * day_us + k * Q_US;
            let middle = (start + Q_US / 2) as f64 / 1e6;
            let index = synthetic::cloud_index(middle, site.longitude_deg);
            let wind_ms = synthetic::wind_10m_ms(middle, site.longitude_deg);
            let kw = 0.93 * synthetic::pv_kw(&built, &site, middle, index, wind_ms) * rng.random_range(0.97..1.03);
            Belief {
                event_start_us: start,
                // The DSO's reading arrives the next morning.
                belief_time_us: (start - start.rem_euclid(day_us) + day_us + 8 * 4 * Q_US).min(now),
                source: SourceKind::MeterFinal,
                value: (kw * 10.0).round() / 10.0,
            }
        })
        .collect();
    store.insert_beliefs(key, &beliefs).await?;
    let request = ModelRequest {
        name: format!("{} corrected", r.name),
        model_type: ModelType::Generation,
        target_series_id: series.id.clone(),
        method: Method::PhysicalCorrection,
        params: ModelParams { window_days: Some(28), ..Default::default() },
        time_zone: r.location.timezone.clone(),
        description: Some("The plant's physics corrected by what its meter readings show (demo).".into()),
    };
    check_model(store, &request).await.map_err(|e| crate::api_error(e, "model"))?;
    let model = store.create_model(&request, "demo").await?;
    let to = Timestamp::from_microsecond(today)?;
    let version = train_model(store, &model.id, TrainRequest { to: Some(to), params: None }, "demo")
        .await
        .map_err(|e| crate::api_error(e, "train"))?;
    let score = version.trained.as_ref().map(|t| t["score"].clone()).unwrap_or_default();
    eprintln!(
        "Model {}: cross-validated MAE {:.1} kW against {:.1} kW for the physics alone (skill {:.2}), p10–p90 coverage {:.0} %.",
        request.name,
        score["overall"]["mae"].as_f64().unwrap_or_default(),
        score["baseline_mae"].as_f64().unwrap_or_default(),
        score["skill"].as_f64().unwrap_or_default(),
        100.0 * score["interval_coverage"].as_f64().unwrap_or_default(),
    );
    predict_model(store, &model.id, PredictRequest { store: true, ..Default::default() })
        .await
        .map_err(|e| crate::api_error(e, "predict"))?;
    Ok(())
}

/// The demo's inbox: a folder beside the database (`vpp-inbox` for
/// `vpp.db`) that an ingestion source looks at every 2 s; a meter, live or
/// forecast file named after an asset (`WP-DEMO-01_meter_final.csv`) goes
/// into its power series.
pub async fn inbox(store: &Store, sqlite_file: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    let dir = match sqlite_file {
        Some(db) => {
            let stem = db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "vpp".into());
            db.with_file_name(format!("{stem}-inbox"))
        }
        None => std::path::PathBuf::from("vpp-inbox"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the demo inbox {}", dir.display()))?;
    let dir = std::path::absolute(&dir)?;
    let location = dir.to_string_lossy().into_owned();
    match store.get_ingestion_source(INBOX).await {
        Ok(s) if s.spec.location == location => {}
        found => {
            let spec = vpp_domain::ingestion::SourceSpec {
                settle_s: Some(1),
                ..vpp_domain::ingestion::SourceSpec::new(
                    INBOX,
                    vpp_domain::ingestion::Target::Series,
                    &location,
                    "*/2 * * * * *",
                )
            };
            // The database moved with a copy of it: the inbox follows.
            match found {
                Ok(old) => vpp_app::ingestion::update_source(store, &old.id, &spec).await,
                Err(_) => vpp_app::ingestion::create_source(store, &spec).await,
            }
            .map_err(|e| crate::api_error(e, "inbox"))?;
        }
    }
    Ok(dir)
}

/// The name of the demo's inbox source.
pub const INBOX: &str = "demo inbox";
