//! The `vpp` binary: parses arguments and configuration, calls the
//! application layer (`vpp-app`) and prints. It starts the HTTP server
//! (`vpp-server`) for `serve` and `demo`, seeds the demo ([`demo`],
//! [`demo_park`], [`demo_strategies`]), runs the forecast ETL on files
//! ([`etl`]) and the peer comparisons ([`bench_compare`]); tables for
//! people are drawn in [`output`]. It still opens the store directly for
//! reads and imports that have no use case of their own yet.

mod args;
mod bench_compare;
mod bench_import;
mod bench_modbus;
mod bench_ocpp;
mod bench_physical;
mod config;
mod demo;
mod demo_modbus;
mod demo_ocpp;
mod demo_park;
mod demo_strategies;
mod demo_weather;
mod devices;
mod etl;
mod import;
mod ingest;
mod output;
mod park;
mod portfolio;
mod users;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use args::*;
use clap::Parser;
use config::Config;
use devices::{DEMO_MQTT_URL, DeviceLoad, bench_devices, broker_reachable, simulate, simulated_devices};
use import::import_series;
use park::park;
use tokio::net::TcpListener;
use users::{bootstrap_admin, user_command};
use vpp_domain::techdata::TechnicalDataFile;
use vpp_domain::template::TemplateLibrary;
use vpp_server::AppState;
use vpp_store::{Page, ResourceFilter, Store};

/// Runs the command. A user's error (a bad flag value, a missing file, a
/// refused import) prints as one line, `error: what: why`, and exits 1;
/// backtraces are for panics, which are bugs.
fn main() -> std::process::ExitCode {
    match start() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn start() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(a) | Command::Demo(a) => Some(a),
        _ => None,
    };
    // The demo talks to the local broker unless told otherwise.
    let default_mqtt = matches!(cli.command, Command::Demo(_)).then_some(DEMO_MQTT_URL);
    let config = Config::resolve(&cli.global, serve_args, default_mqtt)?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log).context("invalid log filter")?)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, config))
}

/// Opens the configured database, which must exist: every command but
/// `serve`, `demo` and `migrate` reads or adds to data that is already
/// there, and a new empty file (a typo, another folder) would only answer
/// with empty tables.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    if let Some(path) = config.sqlite_file()
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {} (from --database-url {}); create one with `vpp migrate` or `vpp demo`, \
             or name an existing one with --database-url or VPP_DATABASE_URL",
            path.display(),
            config.database_url_redacted()
        );
    }
    create_or_open_store(config).await
}

/// Opens the configured database, creating and migrating it if needed.
async fn create_or_open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let store = Store::connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {}", config.database_url_redacted()))?;
    store.migrate().await.context("migrating the database")?;
    Ok(Arc::new(store))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => {
            let store = create_or_open_store(&config).await?;
            bootstrap_admin(&store, &config).await?;
            serve(store, &config).await
        }
        Command::User(cmd) => user_command(&open_store(&config).await?, cmd).await,
        Command::Device(cmd) => devices::device_command(&config, cmd).await,
        Command::Demo(_) => {
            let store = create_or_open_store(&config).await?;
            let admin_password = bootstrap_admin(&store, &config).await?;
            let mut config = config;
            if let Some(mqtt) = &config.mqtt {
                if broker_reachable(&mqtt.url).await {
                    // The demo's first dispatch goes out to the devices too.
                    store.enable_setpoint_outbox(vpp_devices::bridge::outbox(&mqtt.topic_prefix));
                } else {
                    eprintln!(
                        "No MQTT broker at {}: the demo simulates telemetry inside the server instead, without the \
                         device path (start one with `mosquitto -d -c /etc/mosquitto/mosquitto.conf`).",
                        mqtt.url
                    );
                    config.mqtt = None;
                }
            }
            demo::seed(&store, admin_password.as_deref().map(|p| (config.admin_username.as_str(), p)))
                .await
                .context("seeding the demo portfolio")?;
            match demo::inbox(&store, config.sqlite_file().as_deref()).await {
                Ok(inbox) => eprintln!(
                    "Inbox:     drop meter, live or forecast files named after an asset (WP-DEMO-01_meter_final.csv) \
                     into {}: they go in within seconds (vpp ingest runs)",
                    inbox.display()
                ),
                // The demo runs without it (a database at the file system's root, say).
                Err(e) => eprintln!("Inbox:     not set up: {e:#}"),
            }
            // A PV plant and a battery speak Modbus/SunSpec on 127.0.0.1, two
            // EV chargers OCPP to this server; the rest MQTT.
            let (mut linked, modbus_devices) = if config.modbus_links {
                let (linked, server) =
                    demo_modbus::start(&store, 1).await.context("starting the demo's Modbus devices")?;
                (linked, Some(server))
            } else {
                (Default::default(), None)
            };
            let (stations, ocpp_stations) = demo_ocpp::start(&store, config.bind, config.tls.is_some())
                .await
                .context("starting the demo's OCPP stations")?;
            linked.extend(stations);
            let simulator = match &config.mqtt {
                Some(mqtt) => {
                    eprintln!("Simulated fleet: devices publish to {} and follow setpoints from it.", mqtt.url);
                    let mut devices = simulated_devices(&store, None).await?;
                    devices.retain(|d| !linked.contains(&d.id));
                    let sim = vpp_devices::simulator::SimConfig {
                        username: mqtt.username.clone(),
                        password: mqtt.password.clone(),
                        topic_prefix: mqtt.topic_prefix.clone(),
                        ..vpp_devices::simulator::SimConfig::new(mqtt.url.clone())
                    };
                    let stats = Arc::new(vpp_devices::simulator::SimStats::default());
                    tokio::spawn(async move {
                        if let Err(e) = vpp_devices::simulator::run(devices, sim, stats).await {
                            tracing::error!(error = %e, "device simulator stopped");
                        }
                    })
                }
                None => tokio::spawn(demo::simulate(store.clone(), linked)),
            };
            let trader = tokio::spawn(demo::trade_daily(store.clone()));
            let weather = tokio::spawn(demo_weather::run(
                store.clone(),
                demo::production_weather_points(),
                demo_park::WEATHER_POINT,
            ));
            let result = serve(store, &config).await;
            simulator.abort();
            if let Some(server) = modbus_devices {
                server.abort();
            }
            for station in ocpp_stations {
                station.abort();
            }
            trader.abort();
            weather.abort();
            result
        }
        Command::Migrate => {
            create_or_open_store(&config).await?;
            println!("database {} is up to date", config.database_url_redacted());
            Ok(())
        }
        Command::Import(ImportCommand::Weather { file, issued_at, stations }) => {
            let store = open_store(&config).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // JSON is Open-Meteo; a zip (KMZ) or XML is MOSMIX.
            let json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            let report = if json {
                if !stations.is_empty() {
                    anyhow::bail!("--stations is for MOSMIX files; {} is Open-Meteo JSON", file.display());
                }
                let report = vpp_app::weather::import_open_meteo(&store, &bytes, issued_at).await;
                serde_json::to_value(report.map_err(|e| api_error(e, "file"))?)?
            } else {
                if issued_at.is_some() {
                    anyhow::bail!("--issued-at is for Open-Meteo files; a MOSMIX file carries its IssueTime");
                }
                let report = vpp_app::weather::import_mosmix(&store, &bytes, &stations).await;
                serde_json::to_value(report.map_err(|e| api_error(e, "file"))?)?
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Import(ImportCommand::Market { file, connector, create, kind, vpp, estimate, timezone }) => {
            let store = open_store(&config).await?;
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let exists = store.get_connector(&connector).await.is_ok()
                || store.list_connectors().await?.iter().any(|c| c.name == connector);
            if !exists && create {
                let request = vpp_domain::market::connector::ConnectorRequest {
                    name: connector.clone(),
                    market_type: vpp_domain::vpp::MarketType::Spot,
                    kind: Some(vpp_domain::market::connector::ConnectorKind::File),
                    endpoint: None,
                    auth: None,
                    rules: None,
                    simulation: None,
                    reference_series_id: None,
                };
                let c = request.into_connector(vpp_store::new_id()).map_err(|e| api_error(e, "connector"))?;
                store.create_connector(&c).await?;
                eprintln!("created the file connector `{connector}`");
            }
            let q =
                vpp_app::exchange_files::ExchangeFileQuery { kind, vpp_id: vpp, estimate: Some(estimate), timezone };
            let report = vpp_app::exchange_files::import_exchange_file(&store, &connector, &q, &body).await.map_err(
                |e| match e {
                    vpp_app::error::AppError::RejectedFile(errors) => output::refused_file(&file, &errors),
                    other => anyhow::anyhow!("{}: {}", file.display(), api_error(other, "file")),
                },
            )?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Import(ImportCommand::Compensation { file, timezone }) => {
            let store = open_store(&config).await?;
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let report = vpp_app::redispatch::import_compensation(&store, &name, &body, timezone.as_deref())
                .await
                .map_err(|e| match e {
                    vpp_app::error::AppError::RejectedFile(errors) => output::refused_file(&file, &errors),
                    other => anyhow::anyhow!("{}: {}", file.display(), api_error(other, "file")),
                })?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Import(ImportCommand::Contracts { file }) => {
            let store = open_store(&config).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let contracts = vpp_domain::market::invoice::parse_contracts(&bytes)
                .map_err(|errors| output::refused_file(&file, &errors))?;
            let (added, updated) = store.import_contracts(&contracts).await?;
            println!("{}: {} contract versions, {added} new, {updated} updated", file.display(), contracts.len());
            Ok(())
        }
        Command::Invoice(args) => {
            let store = open_store(&config).await?;
            let vat: rust_decimal::Decimal =
                args.vat_pct.parse().map_err(|_| anyhow::anyhow!("--vat-pct `{}` is not a number", args.vat_pct))?;
            let invoices = vpp_app::markets::invoices_for_month(&store, &args.month, args.contract.as_deref(), vat)
                .await
                .map_err(|e| api_error(e, "month"))?;
            if args.table {
                print!("{}", output::invoices(&invoices));
            } else {
                println!("{}", serde_json::to_string_pretty(&invoices)?);
            }
            if invoices.is_empty() {
                eprintln!(
                    "no contract is in force in {}; import contracts with `vpp import contracts FILE`",
                    args.month
                );
            }
            Ok(())
        }
        Command::Import(ImportCommand::Load { site, file, time_label }) => {
            let store = open_store(&config).await?;
            let label = match time_label.as_str() {
                "start" => vpp_domain::tariff::load::TimeLabel::Start,
                "end" => vpp_domain::tariff::load::TimeLabel::End,
                other => anyhow::bail!("--time-label `{other}`: use start or end"),
            };
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let prepared =
                vpp_app::parks::prepare_load(&store, &site, &bytes, label).await.map_err(|e| file_error(e, &file))?;
            let progress = progress_printer(&file, prepared.rows());
            let report = prepared.store(&store, &progress).await.map_err(|e| file_error(e, &file))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Import(ImportCommand::Bills { file, replace }) => {
            let store = open_store(&config).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let bills = vpp_domain::tariff::bill::parse_actual_bills(&bytes)
                .map_err(|errors| output::refused_file(&file, &errors))?;
            let n = store.import_actual_bills(&bills, replace, "cli").await?;
            println!("{}: {n} bills imported", file.display());
            Ok(())
        }
        Command::Park(command) => park(&config, command).await,
        Command::Import(ImportCommand::TechnicalData { file, dry_run }) => {
            let store = open_store(&config).await?;
            let parsed: TechnicalDataFile = read_json(&file)?;
            let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let report = vpp_app::routing::import_technical_data(&store, &name, parsed, dry_run)
                .await
                .map_err(|e| api_error(e, "file"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!(
                "{}: {} added, {} changed, {} unchanged, {} missing",
                name,
                report.added.len(),
                report.changed.len(),
                report.unchanged_count,
                report.missing.len()
            );
            Ok(())
        }
        Command::Import(ImportCommand::Series(args)) => import_series(&config, *args).await,
        Command::Ingest(cmd) => ingest::ingest_command(&config, cmd).await,
        Command::Vpp(cmd) => portfolio::vpp_command(&config, cmd).await,
        Command::Alert(cmd) => portfolio::alert_command(&config, cmd).await,
        Command::Report(cmd) => portfolio::report_command(&config, cmd).await,
        Command::Import(ImportCommand::Templates { file }) => {
            let store = open_store(&config).await?;
            let report = store.import_templates(read_json(&file)?).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Export(ExportCommand::Templates { out }) => {
            let library: TemplateLibrary = open_store(&config).await?.export_templates().await?;
            write_out(out.as_deref(), &serde_json::to_string_pretty(&library)?)
        }
        Command::Bench(BenchCommand::Clearing { steps, slots, runs, export }) => {
            use vpp_domain::market::auction::{Book, Side, clear_uniform};
            if slots == 0 || runs == 0 {
                anyhow::bail!("--slots and --runs must be at least 1");
            }
            let book = Book::synthetic(steps, slots, 7);
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut times = Vec::with_capacity(runs);
            let mut cleared = None;
            for _ in 0..runs {
                let t = std::time::Instant::now();
                let c = clear_uniform(&book, slots, threads);
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                cleared = Some(c);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "cleared {steps} steps over {slots} slots on {threads} threads: median {:.1} ms (min {:.1}, max {:.1}, {runs} runs)",
                times[runs / 2],
                times[0],
                times[runs - 1]
            );
            if let (Some(dir), Some(c)) = (export, cleared) {
                use std::io::Write;
                std::fs::create_dir_all(&dir)?;
                let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("book.csv"))?);
                writeln!(f, "slot,side,price_ticks,quantity_mw")?;
                for i in 0..book.len() {
                    let side = if book.side[i] == Side::Sell { "sell" } else { "buy" };
                    writeln!(f, "{},{side},{},{}", book.slot[i], book.price_ticks[i], book.quantity_mw[i])?;
                }
                let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("prices.csv"))?);
                writeln!(f, "slot,price_ticks,volume_mw")?;
                for (k, r) in c.slots.iter().enumerate() {
                    writeln!(f, "{k},{},{}", r.price_ticks.map(|p| p.to_string()).unwrap_or_default(), r.volume_mw)?;
                }
                println!("wrote {} and {}", dir.join("book.csv").display(), dir.join("prices.csv").display());
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Forecasts { assets, versions_per_interval, days, out, jobs }) => {
            let spec = vpp_domain::forecast_etl::SyntheticForecasts { assets, versions: versions_per_interval, days };
            match out {
                Some(path) => {
                    let started = std::time::Instant::now();
                    let rows = etl::write_synthetic(&spec, &path)?;
                    eprintln!("wrote {rows} rows to {} in {:.2} s", path.display(), started.elapsed().as_secs_f64());
                }
                None => {
                    let store = open_store(&config).await?;
                    let (rows, secs) = demo::ingest_forecasts(&store, &spec, jobs).await?;
                    println!("stored {rows} beliefs in {secs:.2} s: {:.0} beliefs/s", rows as f64 / secs);
                }
            }
            Ok(())
        }
        Command::Schedule(args) => {
            let store = open_store(&config).await?;
            let mut request: vpp_app::schedules::ScheduleRequest = match &args.request {
                Some(path) => read_json(path)?,
                None => Default::default(),
            };
            if args.day.is_some() {
                request.day = args.day;
                request.start = None;
            }
            request.tz = args.tz.clone().or(request.tz);
            if let Some(series) = &args.price_series {
                request.price_series_id = Some(series.clone());
                request.prices = None;
            }
            if let Some(objective) = &args.objective {
                request.objective = Some(
                    serde_json::from_value(serde_json::Value::String(objective.clone()))
                        .map_err(|_| anyhow::anyhow!("--objective must be cost or peak_shaving, got `{objective}`"))?,
                );
            }
            if args.no_store {
                request.store = Some(false);
            }
            let response = vpp_app::schedules::schedule_vpp(&store, &args.vpp, &request)
                .await
                .map_err(|e| api_error(e, "request"))?;
            if args.table {
                print!("{}", output::schedule(&response, output::width()));
            } else {
                println!("{}", serde_json::to_string_pretty(&response)?);
            }
            Ok(())
        }
        Command::Forecast(ForecastCommand::Fleet { hours }) => {
            let store = open_store(&config).await?;
            let run = vpp_app::forecasts::forecast_fleet(&store, hours, jiff::Timestamp::now())
                .await
                .map_err(|e| api_error(e, "hours"))?;
            println!("{}", serde_json::to_string_pretty(&run)?);
            Ok(())
        }
        Command::Forecast(ForecastCommand::Physical { resource, hours }) => {
            let store = open_store(&config).await?;
            let request = vpp_app::forecasts::PhysicalRequest { hours: Some(hours) };
            let forecast = vpp_app::forecasts::physical_forecast(&store, &resource, request, jiff::Timestamp::now())
                .await
                .map_err(|e| api_error(e, "resource"))?;
            println!("{}", serde_json::to_string_pretty(&forecast)?);
            Ok(())
        }
        Command::Optimise(args) => {
            let problem: vpp_optim::Problem = read_json(&args.problem)?;
            let backend = serde_json::from_value(serde_json::Value::String(args.backend.clone()))
                .map_err(|_| anyhow::anyhow!("--backend must be microlp or clarabel, got `{}`", args.backend))?;
            let options = vpp_optim::SolverOptions { backend, time_limit_s: args.time_limit_s, mip_gap: args.mip_gap };
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..args.repeat.max(1) {
                let started = std::time::Instant::now();
                let schedule = vpp_optim::solve(&problem, &options).map_err(|e| match e {
                    vpp_optim::SolveError::Infeasible(ref conflicts) => {
                        anyhow::anyhow!("{e}\n{}", serde_json::to_string_pretty(conflicts).unwrap_or_default())
                    }
                    other => anyhow::anyhow!("{other}"),
                })?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                last = Some(schedule);
            }
            times.sort_by(f64::total_cmp);
            let out = serde_json::json!({
                "schedule": last,
                "runs": times.len(),
                "median_ms": times[times.len() / 2],
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::Etl(EtlCommand::Forecasts(args)) => {
            let store = if args.needs_database() { Some(open_store(&config).await?) } else { None };
            etl::run_forecasts(&args, store.as_deref()).await
        }
        Command::Simulate(a) => simulate(&*open_store(&config).await?, a).await,
        Command::Bench(BenchCommand::Modbus { devices, seconds, interval_s, setpoints_per_s }) => {
            let load = bench_modbus::ModbusLoad { count: devices, seconds, interval_s, setpoints_per_s };
            bench_modbus::bench_modbus(open_store(&config).await?, load).await
        }
        Command::Bench(BenchCommand::Ocpp { stations, seconds, interval_s, setpoints_per_s }) => {
            let load = bench_ocpp::OcppLoad { count: stations, seconds, interval_s, setpoints_per_s };
            bench_ocpp::bench_ocpp(open_store(&config).await?, load).await
        }
        Command::Bench(BenchCommand::Devices { devices, seconds, interval_ms, batch, setpoints_per_s, mqtt_url }) => {
            let load = DeviceLoad { count: devices, seconds, interval_ms, batch, setpoints_per_s };
            bench_devices(open_store(&config).await?, load, mqtt_url).await
        }
        Command::Bench(BenchCommand::Import { rows, rounds, every_ms }) => {
            bench_import::run(rows, rounds, every_ms).await
        }
        Command::Bench(BenchCommand::Strategy { runs, export }) => bench_compare::strategy(runs, export.as_deref()),
        Command::Bench(BenchCommand::Forecast { export }) => bench_compare::forecast(export.as_deref()),
        Command::Bench(BenchCommand::Physical { weather, assets, copies, runs, out }) => {
            bench_physical::run(&weather, &assets, copies, runs, out.as_deref())
        }
        Command::Bench(BenchCommand::Seed { resources, name }) => {
            let store = open_store(&config).await?;
            let name = name.unwrap_or_else(|| format!("bench-{resources}"));
            let id = demo::seed_bench(&store, &name, resources, false, &demo::BENCH_KINDS).await?;
            println!("{id}");
            Ok(())
        }
        Command::Export(ExportCommand::Resources { out }) => {
            let store = open_store(&config).await?;
            let mut all = Vec::new();
            for page in 1.. {
                let batch = store.list_resources(&ResourceFilter::default(), Page { page, size: 1000 }).await?;
                let done = batch.items.len() < 1000;
                all.extend(batch.items);
                if done {
                    break;
                }
            }
            write_out(out.as_deref(), &serde_json::to_string_pretty(&all)?)
        }
    }
}

/// A refused file with every bad line it lists.
fn file_error(e: impl Into<vpp_server::error::ApiError>, file: &Path) -> anyhow::Error {
    let e = e.into();
    let mut text = format!("{}: {}", file.display(), e.0.detail);
    if let Some(serde_json::Value::Array(rows)) = e.0.extra.get("rejected") {
        for r in rows {
            text.push_str(&format!("\n  line {}: {}", r["line"], r["reason"].as_str().unwrap_or_default()));
        }
    }
    anyhow::anyhow!(text)
}

/// An application or API error as a CLI error: its detail and the field it
/// names (`whole` when it names none).
pub(crate) fn api_error(e: impl Into<vpp_server::error::ApiError>, whole: &str) -> anyhow::Error {
    let e = e.into();
    anyhow::anyhow!("{} ({})", e.0.detail, e.0.field.as_deref().unwrap_or(whole))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    vpp_app::json::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), api_error(e, "file")))
}

fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

async fn serve(store: Arc<Store>, config: &Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    tracing::info!(database = %config.database_url_redacted(), "vpp listening on {scheme}://{addr}");
    eprintln!("vpp API:   {scheme}://{addr}/api/v1/vpp/vpps");
    eprintln!("API docs:  {scheme}://{addr}/api/v1/docs/");
    eprintln!("Press Ctrl-C to stop.");
    // Backtests and background imports run inside the node that started
    // them; those of a node that stopped (this one's previous run under the
    // same id, one not seen for three lease times, or on SQLite any other)
    // will never finish:
    // they are marked interrupted. The node sweeps them again while it runs.
    // On SQLite this is the only node: every job still running is orphaned.
    store.set_node_id(&config.node.id);
    let alive_since = match store.backend() {
        vpp_store::Backend::Sqlite => jiff::Timestamp::MAX,
        vpp_store::Backend::Postgres => {
            jiff::Timestamp::now() - jiff::SignedDuration::try_from(config.node.lease_ttl * 3)?
        }
    };
    let stale = store.interrupt_stale_backtests(alive_since, Some(&config.node.id)).await?;
    if stale > 0 {
        tracing::warn!(stale, "backtests left running by a stopped server are marked INTERRUPTED");
    }
    let stale = store.interrupt_import_jobs(alive_since, Some(&config.node.id)).await?;
    if stale > 0 {
        tracing::warn!(stale, "import jobs left running by a stopped server are marked interrupted");
    }
    // Rows of staged imports whose process stopped (no heartbeat for a
    // minute), whoever ran them: deleted as they turn stale.
    let sweeper = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                match store.discard_staged_batches().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(batches = n, "rows of abandoned staged imports deleted"),
                    Err(e) => tracing::error!(error = %e, "deleting abandoned staged imports failed"),
                }
            }
        })
    };
    let mut state = AppState::new(store.clone(), config.server.clone()).await?;
    // The MQTT bridge and the Modbus links run on the node holding their
    // lease (below); every node queues setpoints for them.
    if let Some(mqtt) = &config.mqtt {
        vpp_devices::bridge::prepare(&store, mqtt)?;
        eprintln!(
            "Devices:   MQTT {} ({}/{{site}}/{{resource_id}}/telemetry | setpoint | ack)",
            mqtt.url, mqtt.topic_prefix
        );
        state.devices = Some(Arc::default());
    }
    if config.modbus_links {
        store.enable_link_outbox();
        eprintln!("Devices:   Modbus TCP links that are enabled (PUT /resource-instances/{{id}}/device-link)");
        state.modbus = Some(Arc::default());
    }
    let ocpp = vpp_server::ocpp::spawn_deliveries(store.clone(), state.ocpp.clone());
    eprintln!(
        "Devices:   OCPP 2.0.1 charging stations at /ocpp/{{station_id}} (POST /resource-instances/{{id}}/ocpp-station)"
    );
    // Singleton work runs on the node holding its lease (every node, when
    // it is the only one): see vpp_app::cluster.
    let devices = (state.devices.clone(), state.modbus.clone());
    let node =
        vpp_app::cluster::spawn_node(store.clone(), config.node.clone(), singleton_jobs(&store, config, devices));
    eprintln!("Node:      {} (GET /api/v1/vpp/cluster lists the nodes and their leases)", node.id);
    state.node_id = Some(node.id.clone());
    if let Some(w) = &config.alert_webhook {
        eprintln!("Alerts:    POST to {}", w.url);
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (auth, audit_store) = (state.auth.clone(), state.store.clone());
    match &config.tls {
        Some((cert, key)) => {
            let listener = listener.into_std()?;
            vpp_server::serve_tls(listener, cert, key, state, shutdown)
                .await
                .with_context(|| format!("serving TLS with {} and {}", cert.display(), key.display()))?
        }
        None => vpp_server::serve(listener, state, shutdown).await?,
    }
    // Refusals counted in the last minute reach the audit trail.
    auth.refusals.flush_all(&audit_store).await;
    node.stop().await;
    sweeper.abort();
    ocpp.abort();
    store.close().await;
    Ok(())
}

/// The work that runs once in a cluster, each under its lease: the market
/// job, the control loop, scheduled ingestion, physical forecasts, the
/// alert webhook, the MQTT bridge and the Modbus links (those that are
/// configured; `devices` are their counters, kept across restarts).
fn singleton_jobs(
    store: &Arc<vpp_store::Store>,
    config: &Config,
    devices: (Option<Arc<vpp_devices::bridge::BridgeStats>>, Option<Arc<vpp_devices::modbus::ModbusStats>>),
) -> Vec<vpp_app::cluster::SingletonJob> {
    use vpp_app::cluster::{AbortOnDrop, SingletonJob};
    let mut jobs = Vec::new();
    if let (Some(mqtt), Some(stats)) = (config.mqtt.clone(), devices.0) {
        let s = store.clone();
        jobs.push(SingletonJob {
            lease: "mqtt_bridge",
            start: Box::new(move |_| {
                match vpp_devices::bridge::spawn_counting(s.clone(), mqtt.clone(), stats.clone()) {
                    Ok(bridge) => Box::new(bridge),
                    // Checked at start (prepare); a failure here is logged and
                    // the bridge stays down on this node.
                    Err(e) => {
                        tracing::error!(error = %e, "the MQTT bridge did not start");
                        Box::new(())
                    }
                }
            }),
        });
    }
    if let Some(stats) = devices.1 {
        let s = store.clone();
        jobs.push(SingletonJob {
            lease: "modbus_links",
            start: Box::new(move |_| {
                let config = vpp_devices::modbus::ModbusConfig::default();
                Box::new(vpp_devices::modbus::spawn_counting(s.clone(), config, stats.clone()))
            }),
        });
    }
    let s = store.clone();
    jobs.push(SingletonJob {
        lease: "market",
        start: Box::new(move |fence| {
            let every = std::time::Duration::from_secs(60);
            Box::new(AbortOnDrop(vpp_app::market_job::spawn_market_job(s.clone(), every, Some(fence))))
        }),
    });
    if let Some(settings) = config.control {
        let s = store.clone();
        jobs.push(SingletonJob {
            lease: "control",
            start: Box::new(move |_| Box::new(AbortOnDrop(vpp_app::control::spawn_control_loop(s.clone(), settings)))),
        });
    }
    let s = store.clone();
    jobs.push(SingletonJob {
        lease: "ingestion",
        // Sources are looked at when their schedule fires (checked each second).
        start: Box::new(move |_| {
            let tick = std::time::Duration::from_secs(1);
            Box::new(AbortOnDrop(vpp_app::ingestion::spawn_ingestion_job(s.clone(), tick)))
        }),
    });
    if let Some(every) = config.physical_forecasts {
        let s = store.clone();
        jobs.push(SingletonJob {
            lease: "physical_forecasts",
            start: Box::new(move |_| {
                let hours = vpp_app::forecasts::JOB_HOURS;
                Box::new(AbortOnDrop(vpp_app::forecasts::spawn_physical_forecast_job(s.clone(), every, hours)))
            }),
        });
    }
    if let Some(w) = config.alert_webhook.clone() {
        let s = store.clone();
        jobs.push(SingletonJob {
            lease: "alert_webhook",
            start: Box::new(move |_| {
                Box::new(AbortOnDrop(vpp_app::webhook::spawn_alert_webhook(s.clone(), w.clone())))
            }),
        });
    }
    jobs
}

/// Progress of a long import on stderr, one line per report of the store
/// (every 10,000 rows or so); files under 50,000 rows import silently.
/// Interrupting the process rolls the import's one transaction back.
pub(crate) fn progress_printer(file: &std::path::Path, rows: usize) -> impl Fn(u64) -> bool + Send + Sync {
    let name = file.display().to_string();
    move |sent| {
        if rows >= 50_000 {
            eprintln!("{name}: {sent} of {rows} rows sent to the database");
        }
        true
    }
}
