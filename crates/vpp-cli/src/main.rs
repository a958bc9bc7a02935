//! The `vpp` binary: parses arguments and configuration, calls the
//! application layer (`vpp-app`) and prints. It starts the HTTP server
//! (`vpp-server`) for `serve` and `demo`, seeds the demo ([`demo`],
//! [`demo_park`], [`demo_strategies`]), runs the forecast ETL on files
//! ([`etl`]) and the peer comparisons ([`bench_compare`]); tables for
//! people are drawn in [`output`]. It still opens the store directly for
//! reads and imports that have no use case of their own yet.

mod bench_compare;
mod config;
mod demo;
mod demo_park;
mod demo_strategies;
mod etl;
mod output;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::{Config, GlobalArgs, ServeArgs};
use tokio::net::TcpListener;
use vpp_domain::techdata::TechnicalDataFile;
use vpp_domain::template::TemplateLibrary;
use vpp_server::AppState;
use vpp_store::{Page, ResourceFilter, Store};

/// vpp: an open-source virtual power plant platform.
///
/// Registers distributed energy resources from templates, aggregates them
/// into virtual power plants and dispatches power targets across the fleet,
/// over a REST API on SQLite (default) or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "vpp", version)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API (migrating the database first).
    Serve(ServeArgs),
    /// Seed a demo portfolio on first run, simulate live telemetry and serve the API.
    Demo(ServeArgs),
    /// Create or upgrade the database schema and seed the preset templates.
    Migrate,
    /// Import data files into the database.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export data as JSON.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Compute (and store) an optimal schedule for a VPP; prints it as JSON.
    Schedule(Box<ScheduleArgs>),
    /// Solve a schedule problem given as JSON (vpp-optim's Problem), without a database.
    Optimise(OptimiseArgs),
    /// Batch jobs over stored or exported data.
    #[command(subcommand)]
    Etl(EtlCommand),
    /// Run simulated devices against the MQTT broker: they publish telemetry and follow setpoints.
    Simulate(SimulateArgs),
    /// Invoices to asset owners for a month, one per contract (prints JSON; a table with --table).
    Invoice(InvoiceArgs),
    /// Industrial parks: monthly bills, reconciliation, savings, battery payback and the park report.
    #[command(subcommand)]
    Park(ParkCommand),
    /// Load-test fixtures for end-to-end benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage users (works on the database directly).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input with --password-stdin, else generated and printed.
    Add {
        /// Login name.
        username: String,
        /// admin, operator, trader, analyst or viewer.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user: no login, and their tokens stop working.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        username: String,
    },
    /// Set a new password (unlocks the account, ends every session).
    ResetPassword {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Options of `vpp simulate`.
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// `demo`: every ONLINE resource in the database.
    #[arg(long, conflicts_with = "resources")]
    fleet: Option<String>,
    /// Only the first N ONLINE resources.
    #[arg(long)]
    resources: Option<usize>,
    /// Broker URL.
    #[arg(long, env = "VPP_MQTT_URL", default_value = "mqtt://127.0.0.1:1883")]
    mqtt_url: String,
    /// Broker user name.
    #[arg(long, env = "VPP_MQTT_USERNAME")]
    mqtt_username: Option<String>,
    /// Broker password.
    #[arg(long, env = "VPP_MQTT_PASSWORD", hide_env_values = true)]
    mqtt_password: Option<String>,
    /// Time between two samples of one device, ms.
    #[arg(long, default_value_t = 5000)]
    interval_ms: u64,
    /// Samples per message (more than 1 sends batches).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Share of devices that acknowledge setpoints but do not follow them, %.
    #[arg(long, default_value_t = 5.0)]
    disobey_pct: f64,
    /// Stop after this many seconds and print the counts (default: run until Ctrl-C).
    #[arg(long)]
    duration_s: Option<u64>,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[derive(Debug, clap::Args)]
struct ScheduleArgs {
    /// VPP id.
    #[arg(long)]
    vpp: String,
    /// The request as JSON (the body of POST /api/v1/vpp/vpps/{id}/schedules); the flags below override it.
    #[arg(long)]
    request: Option<PathBuf>,
    /// Delivery day (YYYY-MM-DD) in --tz (default: tomorrow).
    #[arg(long)]
    day: Option<jiff::civil::Date>,
    /// Market time zone.
    #[arg(long)]
    tz: Option<String>,
    /// Take prices from this stored price series.
    #[arg(long)]
    price_series: Option<String>,
    /// cost or peak_shaving.
    #[arg(long)]
    objective: Option<String>,
    /// Do not store the result as schedule beliefs.
    #[arg(long)]
    no_store: bool,
    /// Print a table (step, local time, price, kW per member, SOC) instead of JSON.
    #[arg(long)]
    table: bool,
}

#[derive(Debug, clap::Args)]
struct OptimiseArgs {
    /// The problem: {"horizon":{…},"site":{…},"members":[…],"objective":"cost"}.
    problem: PathBuf,
    /// microlp (LP and MILP) or clarabel (LP).
    #[arg(long, default_value = "microlp")]
    backend: String,
    /// Time limit, seconds.
    #[arg(long, default_value_t = 10.0)]
    time_limit_s: f64,
    /// Relative MIP gap.
    #[arg(long, default_value_t = 0.01)]
    mip_gap: f64,
    /// Solve this many times and report the median time (model build plus solve).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

#[derive(Debug, Subcommand)]
enum EtlCommand {
    /// Latest (or latest tradeable) forecast per asset and delivery interval,
    /// and their portfolio sum, from the database or a file, into tables or files.
    Forecasts(Box<etl::ForecastsArgs>),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Clear a synthetic uniform-price auction (deterministic book); report the median of
    /// --runs clearings, and with --export write book.csv and prices.csv for an outside comparison.
    Clearing {
        /// Bid steps.
        #[arg(long, default_value_t = 1_000_000)]
        steps: usize,
        /// Slots of the day.
        #[arg(long, default_value_t = 96)]
        slots: usize,
        /// Clearing runs timed.
        #[arg(long, default_value_t = 11)]
        runs: usize,
        /// Directory for book.csv (slot,side,price_ticks,quantity_mw) and prices.csv.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Generate synthetic versioned forecasts: write them as CSV
    /// (asset_id, delivery_start, version, power_kw) with --out, or store
    /// them as beliefs and report the ingest rate.
    Forecasts {
        /// Number of assets.
        #[arg(long, default_value_t = 100)]
        assets: usize,
        /// Forecast versions per delivery interval.
        #[arg(long, default_value_t = 24)]
        versions_per_interval: usize,
        /// Delivery days of 96 quarter-hours (UTC days).
        #[arg(long, default_value_t = 1)]
        days: usize,
        /// Write the rows to this .csv or .parquet file instead of storing them.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Concurrent writers when storing.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Devices end to end: seed N resources, run the MQTT bridge and the simulator against the
    /// broker, dispatch a setpoint to every device under load; report samples/s into the store,
    /// lost samples and the setpoint → acknowledgement latency. Use a fresh database.
    Devices {
        /// Simulated devices.
        #[arg(long, default_value_t = 10_000)]
        devices: usize,
        /// Seconds of telemetry.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Time between samples of one device, ms.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Samples per message.
        #[arg(long, default_value_t = 10)]
        batch: usize,
        /// Setpoints per second while telemetry flows, in waves every 100 ms, until every
        /// device had one; 0 sends one to every device at once.
        #[arg(long, default_value_t = 1000)]
        setpoints_per_s: usize,
        /// Broker URL.
        #[arg(long, env = "VPP_MQTT_URL", default_value = "mqtt://127.0.0.1:1883")]
        mqtt_url: String,
    },
    /// Replay a year of synthetic prices with a percentile rule strategy (battery never binding);
    /// with --export write prices.csv for scripts/strategy-vs-vectorbt.py.
    Strategy {
        /// Replays timed.
        #[arg(long, default_value_t = 11)]
        runs: usize,
        /// Directory for prices.csv (start µs, day, price, forecast).
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Train and cross-validate seasonal naive, MSTL and linear models on a year of synthetic
    /// prices; with --export write series.csv for scripts/forecast-vs-statsforecast.py.
    Forecast {
        /// Directory for series.csv (ds µs, y).
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Create a VPP of N synthetic resources (generators, batteries with SOC, loads) and print its id.
    Seed {
        /// Number of member resources.
        #[arg(long, default_value_t = 10_000)]
        resources: usize,
        /// Name of the VPP (default `bench-N`).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Arguments of `vpp invoice`.
#[derive(Debug, clap::Args)]
struct InvoiceArgs {
    /// Month, `YYYY-MM` (Europe/Berlin).
    #[arg(long)]
    month: String,
    /// Only this contract.
    #[arg(long)]
    contract: Option<String>,
    /// VAT for contracts without their own rate, percent.
    #[arg(long, default_value = "19")]
    vat_pct: String,
    /// Print a table instead of JSON.
    #[arg(long)]
    table: bool,
}

/// A battery on the command line.
#[derive(Debug, clap::Args)]
struct BatteryArgs {
    /// Battery energy, kWh (with --battery-kw); default the site's battery.
    #[arg(long, requires = "battery_kw")]
    battery_kwh: Option<f64>,
    /// Battery power, kW.
    #[arg(long, requires = "battery_kwh")]
    battery_kw: Option<f64>,
    /// Round-trip efficiency, 0..1 (default 0.9).
    #[arg(long)]
    round_trip_efficiency: Option<f64>,
}

impl BatteryArgs {
    fn spec(&self) -> Option<vpp_app::parks::BatterySpec> {
        Some(vpp_app::parks::BatterySpec {
            energy_kwh: self.battery_kwh?,
            power_kw: self.battery_kw?,
            round_trip_efficiency: self.round_trip_efficiency,
        })
    }
}

#[derive(Debug, Subcommand)]
enum ParkCommand {
    /// A month's bill of a site from its load and tariff (JSON; a table with --table).
    Bill {
        /// Site id or name.
        #[arg(long)]
        site: String,
        /// Month, `YYYY-MM` in the tariff's zone.
        #[arg(long)]
        month: String,
        /// Reactive energy of the month, kvarh, for the power-factor adjustment.
        #[arg(long)]
        reactive_kvarh: Option<f64>,
        /// Print a table instead of JSON.
        #[arg(long)]
        table: bool,
    },
    /// The utility's imported bill against the computed one, line by line.
    Reconcile {
        /// Site id or name.
        #[arg(long)]
        site: String,
        /// Month, `YYYY-MM`.
        #[arg(long)]
        month: String,
        /// A table for people instead of JSON.
        #[arg(long)]
        table: bool,
    },
    /// Savings of a month: adjustable loads, demand response and a battery.
    Savings {
        /// Site id or name.
        #[arg(long)]
        site: String,
        /// Month, `YYYY-MM`.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        battery: BatteryArgs,
    },
    /// Payback of a battery simulated over a year of load.
    Payback {
        /// Site id or name.
        #[arg(long)]
        site: String,
        /// Year of load.
        #[arg(long)]
        year: i16,
        #[command(flatten)]
        battery: BatteryArgs,
    },
    /// The monthly park report as json, csv or html.
    Report {
        /// Site id or name.
        #[arg(long)]
        site: String,
        /// Month, `YYYY-MM`.
        #[arg(long)]
        month: String,
        /// json, csv or html.
        #[arg(long, default_value = "json")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a site's load curve: CSV `time,load_kw` (kW, MW or W in the header), 15-minute intervals.
    Load {
        /// Site id or name.
        #[arg(long)]
        site: String,
        /// The CSV file.
        file: PathBuf,
        /// Whether times label the `start` or the `end` of each interval.
        #[arg(long, default_value = "start")]
        time_label: String,
    },
    /// Import the bills utilities sent (CSV `site_id,month,currency,code,quantity,amount`, or JSON).
    Bills {
        /// The file.
        file: PathBuf,
        /// Replace bills already stored for the same site and month.
        #[arg(long)]
        replace: bool,
    },
    /// Import contract versions with asset owners (`;`-separated CSV; see docs/markets.md).
    Contracts {
        /// The CSV file.
        file: PathBuf,
    },
    /// Import an asset master file `{"assets":[...]}`; the file name carries its creation time.
    TechnicalData {
        /// The JSON file.
        file: PathBuf,
        /// Report what the file would change without applying it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import a template library file (as written by `vpp export templates`).
    Templates {
        /// The JSON file.
        file: PathBuf,
    },
    /// Import a CSV or column-oriented JSON file of beliefs into a series.
    Series(Box<SeriesImportArgs>),
}

#[derive(Debug, clap::Args)]
struct SeriesImportArgs {
    /// Series id.
    #[arg(long)]
    series: String,
    /// The file.
    file: PathBuf,
    /// `csv` or `columns`; default from the extension (.json = columns).
    #[arg(long)]
    format: Option<String>,
    /// CSV delimiter: , ; \t |
    #[arg(long)]
    delimiter: Option<String>,
    /// CSV numbers use a decimal comma.
    #[arg(long)]
    decimal_comma: bool,
    /// strftime format of CSV timestamps, e.g. "%d.%m.%Y %H:%M".
    #[arg(long)]
    timestamp_format: Option<String>,
    /// Zone of CSV timestamps without offset (IANA), default UTC.
    #[arg(long)]
    timezone: Option<String>,
    /// CSV column of the event start.
    #[arg(long)]
    start_column: Option<String>,
    /// CSV column of the value.
    #[arg(long)]
    value_column: Option<String>,
    /// CSV column of the belief time (version).
    #[arg(long)]
    belief_time_column: Option<String>,
    /// Belief time of every CSV row without such a column (RFC 3339); forecasts need one of the two.
    #[arg(long)]
    belief_time: Option<jiff::Timestamp>,
    /// Source of CSV rows: forecast, live_measurement, meter_final, schedule, price, flag.
    #[arg(long)]
    source: Option<String>,
    /// Unit of the values (W, kW, MW, Wh, kWh, MWh, EUR/MWh, ...).
    #[arg(long)]
    unit: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Write the template library as JSON.
    Templates {
        /// Output file; standard output if omitted.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Write every resource as a JSON array.
    Resources {
        /// Output file; standard output if omitted.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

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
async fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
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
        Command::Demo(_) => {
            let store = create_or_open_store(&config).await?;
            let admin_password = bootstrap_admin(&store, &config).await?;
            let mut config = config;
            if let Some(mqtt) = &config.mqtt {
                if broker_reachable(&mqtt.url).await {
                    // The demo's first dispatch goes out to the devices too.
                    store.enable_setpoint_outbox(vpp_devices::bridge::outbox());
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
            let simulator = match &config.mqtt {
                Some(mqtt) => {
                    eprintln!("Simulated fleet: devices publish to {} and follow setpoints from it.", mqtt.url);
                    let devices = simulated_devices(&store, None).await?;
                    let sim = vpp_devices::simulator::SimConfig {
                        username: mqtt.username.clone(),
                        password: mqtt.password.clone(),
                        ..vpp_devices::simulator::SimConfig::new(mqtt.url.clone())
                    };
                    let stats = Arc::new(vpp_devices::simulator::SimStats::default());
                    tokio::spawn(async move {
                        if let Err(e) = vpp_devices::simulator::run(devices, sim, stats).await {
                            tracing::error!(error = %e, "device simulator stopped");
                        }
                    })
                }
                None => tokio::spawn(demo::simulate(store.clone())),
            };
            let trader = tokio::spawn(demo::trade_daily(store.clone()));
            let result = serve(store, &config).await;
            simulator.abort();
            trader.abort();
            result
        }
        Command::Migrate => {
            create_or_open_store(&config).await?;
            println!("database {} is up to date", config.database_url_redacted());
            Ok(())
        }
        Command::Import(ImportCommand::Contracts { file }) => {
            let store = open_store(&config).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let contracts = vpp_domain::market::invoice::parse_contracts(&bytes)
                .map_err(|errors| output::refused_file(&file, &errors))?;
            let added = store.import_contracts(&contracts).await?;
            println!("{}: {} contract versions, {added} new", file.display(), contracts.len());
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
            let report = store.import_technical_data(&name, parsed, dry_run).await?;
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
        Command::Import(ImportCommand::Series(args)) => {
            let SeriesImportArgs {
                series,
                file,
                format,
                delimiter,
                decimal_comma,
                timestamp_format,
                timezone,
                start_column,
                value_column,
                belief_time_column,
                belief_time,
                source,
                unit,
            } = *args;
            let store = open_store(&config).await?;
            let source = source
                .map(|s| vpp_domain::series::SourceKind::parse(&s).with_context(|| format!("unknown source `{s}`")))
                .transpose()?;
            let is_json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let query = vpp_app::series::ImportQuery {
                format: format.or_else(|| Some(if is_json { "columns" } else { "csv" }.into())),
                delimiter,
                decimal_comma: Some(decimal_comma),
                timestamp_format,
                timezone,
                start_column,
                value_column,
                belief_time_column,
                belief_time,
                source,
                unit,
                background: None,
            };
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let failed = |e| anyhow::anyhow!("{}: {}", file.display(), api_error(e, "file"));
            let prepared = vpp_app::series::prepare_import(&store, &series, &body, &query).await.map_err(failed)?;
            let progress = progress_printer(&file, prepared.rows());
            let report = prepared.store(&store, &progress).await.map_err(failed)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!(
                "{}: {} rows, {} accepted, {} duplicates, {} rejected",
                file.display(),
                report.rows,
                report.accepted,
                report.duplicates,
                report.rejected.len()
            );
            Ok(())
        }
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
        Command::Bench(BenchCommand::Devices { devices, seconds, interval_ms, batch, setpoints_per_s, mqtt_url }) => {
            let load = DeviceLoad { count: devices, seconds, interval_ms, batch, setpoints_per_s };
            bench_devices(open_store(&config).await?, load, mqtt_url).await
        }
        Command::Bench(BenchCommand::Strategy { runs, export }) => bench_compare::strategy(runs, export.as_deref()),
        Command::Bench(BenchCommand::Forecast { export }) => bench_compare::forecast(export.as_deref()),
        Command::Bench(BenchCommand::Seed { resources, name }) => {
            let store = open_store(&config).await?;
            let name = name.unwrap_or_else(|| format!("bench-{resources}"));
            let id = demo::seed_bench(&store, &name, resources, false).await?;
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

/// Creates the first admin if there are no users; prints a generated password once.
async fn bootstrap_admin(store: &Store, config: &Config) -> anyhow::Result<Option<String>> {
    let configured = config.admin_password.as_ref().map(|s| s.0.as_str());
    let generated = vpp_server::routes::auth::bootstrap_admin(store, &config.admin_username, configured)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first admin: {}", e.0.detail))?;
    if let Some(password) = &generated {
        eprintln!("Created the first admin `{}` with the one-time password: {password}", config.admin_username);
        eprintln!("Change it with `vpp user reset-password {}`.", config.admin_username);
    }
    Ok(generated)
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((vpp_server::auth::random_token(18), true));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
}

async fn user_command(store: &Arc<Store>, cmd: UserCommand) -> anyhow::Result<()> {
    use vpp_domain::auth::{Role, UserRequest};
    let invalid = |e: vpp_domain::Invalid| anyhow::anyhow!("{e}");
    match cmd {
        UserCommand::Add { username, role, password_stdin } => {
            let role = Role::parse(&role)
                .with_context(|| format!("unknown role `{role}`: use admin, operator, trader, analyst or viewer"))?;
            let (password, generated) = read_password(password_stdin)?;
            UserRequest { username: username.clone(), password: password.clone(), role }.validate().map_err(invalid)?;
            let hash = vpp_server::auth::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            let user = store.create_user(&username, &hash, role).await?;
            println!("created {} ({}) with id {}", user.username, role.as_str(), user.id);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let users = store.list_users(Page { page: 1, size: 1000 }).await?;
            for u in users.items {
                let state = if !u.active {
                    "disabled"
                } else if u.locked_until.is_some_and(|t| t > jiff::Timestamp::now()) {
                    "locked"
                } else {
                    "active"
                };
                println!("{:<24} {:<9} {:<9} {}", u.username, u.role.as_str(), state, u.id);
            }
        }
        UserCommand::Disable { username } => {
            let user = store.get_user_by_name(&username).await?;
            store.update_user(&user.id, None, Some(false)).await?;
            println!("disabled {username}; their tokens stop working within seconds");
        }
        UserCommand::Enable { username } => {
            let user = store.get_user_by_name(&username).await?;
            store.update_user(&user.id, None, Some(true)).await?;
            println!("enabled {username}");
        }
        UserCommand::ResetPassword { username, password_stdin } => {
            let user = store.get_user_by_name(&username).await?;
            let (password, generated) = read_password(password_stdin)?;
            let mut errors = vpp_domain::error::Errors::default();
            vpp_domain::auth::check_password(&mut errors, "password", &password);
            errors.finish(()).map_err(invalid)?;
            let hash = vpp_server::auth::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            store.set_password(&user.id, &hash).await?;
            println!("password of {username} reset; every session of theirs ended");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

/// An API error as a CLI error: its detail and the field it names (`whole`
/// when it names none).
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

/// Checks that `site` names a site by id or name; if not, the error lists
/// the sites there are.
async fn known_site(store: &Store, site: &str) -> anyhow::Result<()> {
    match store.find_site(site).await {
        Ok(_) => Ok(()),
        Err(vpp_store::StoreError::NotFound { .. }) => {
            let sites = store.list_sites().await?;
            if sites.is_empty() {
                anyhow::bail!("no site `{site}`: the database has no sites yet");
            }
            let names: Vec<String> = sites.iter().map(|s| format!("{} ({})", s.name, s.id)).collect();
            anyhow::bail!("no site `{site}`; the sites are: {}", names.join(", "))
        }
        Err(e) => Err(e.into()),
    }
}

/// `vpp park …`.
async fn park(config: &Config, command: ParkCommand) -> anyhow::Result<()> {
    use vpp_app::parks;
    let store = open_store(config).await?;
    let (ParkCommand::Bill { site, .. }
    | ParkCommand::Reconcile { site, .. }
    | ParkCommand::Savings { site, .. }
    | ParkCommand::Payback { site, .. }
    | ParkCommand::Report { site, .. }) = &command;
    known_site(&store, site).await?;
    match command {
        ParkCommand::Bill { site, month, reactive_kvarh, table } => {
            let bill = parks::bill(&store, &site, &month, reactive_kvarh).await.map_err(|e| api_error(e, "site"))?;
            if !table {
                println!("{}", serde_json::to_string_pretty(&bill)?);
                return Ok(());
            }
            print!("{}", output::bill(&bill));
        }
        ParkCommand::Reconcile { site, month, table } => {
            let ctx = parks::site_context(&store, &site).await.map_err(|e| api_error(e, "site"))?;
            let actual = store
                .actual_bill(&ctx.site.id, &month)
                .await?
                .with_context(|| format!("no imported bill of {month} for {}", ctx.site.name))?;
            let bill = parks::bill(&store, &ctx.site.id, &month, None).await.map_err(|e| api_error(e, "month"))?;
            let r = vpp_domain::tariff::bill::reconcile(&bill, &actual)?;
            if table {
                print!("{}", output::reconciliation(&r));
            } else {
                println!("{}", serde_json::to_string_pretty(&r)?);
            }
        }
        ParkCommand::Savings { site, month, battery } => {
            let r = parks::month_savings(&store, &site, &month, battery.spec().as_ref())
                .await
                .map_err(|e| api_error(e, "site"))?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        ParkCommand::Payback { site, year, battery } => {
            let r = parks::battery_payback(&store, &site, year, battery.spec().as_ref())
                .await
                .map_err(|e| api_error(e, "site"))?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        ParkCommand::Report { site, month, format } => {
            let r = parks::park_report(&store, &site, &month).await.map_err(|e| api_error(e, "site"))?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&r)?),
                "csv" => print!("{}", parks::report_csv(&r)),
                "html" => println!("{}", parks::report_html(&r)),
                other => anyhow::bail!("--format `{other}`: use json, csv or html"),
            }
        }
    }
    Ok(())
}

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

async fn simulate(store: &Store, a: SimulateArgs) -> anyhow::Result<()> {
    if let Some(f) = a.fleet.as_deref().filter(|f| *f != "demo") {
        anyhow::bail!("--fleet: only `demo` (every ONLINE resource in the database) is known, got `{f}`");
    }
    if a.fleet.is_none() && a.resources.is_none() {
        anyhow::bail!("say which devices: --fleet demo or --resources N");
    }
    if !(100..=3_600_000).contains(&a.interval_ms) {
        anyhow::bail!("--interval-ms must be 100..=3600000, got {}", a.interval_ms);
    }
    if !(1..=vpp_devices::protocol::MAX_SAMPLES_PER_MESSAGE).contains(&a.batch) {
        anyhow::bail!("--batch must be 1..={}, got {}", vpp_devices::protocol::MAX_SAMPLES_PER_MESSAGE, a.batch);
    }
    if !(0.0..=100.0).contains(&a.disobey_pct) {
        anyhow::bail!("--disobey-pct must be 0..=100, got {}", a.disobey_pct);
    }
    let devices = simulated_devices(store, a.resources).await?;
    if devices.is_empty() {
        anyhow::bail!("no ONLINE resource to simulate: run `vpp demo` once, or register resources first");
    }
    let count = devices.len();
    let config = vpp_devices::simulator::SimConfig {
        username: a.mqtt_username,
        password: a.mqtt_password,
        sample_every: Duration::from_millis(a.interval_ms),
        samples_per_message: a.batch,
        disobey_share: a.disobey_pct / 100.0,
        seed: a.seed,
        run_for: a.duration_s.map(Duration::from_secs),
        ..vpp_devices::simulator::SimConfig::new(a.mqtt_url.clone())
    };
    eprintln!("simulating {count} devices against {} (Ctrl-C stops)", a.mqtt_url);
    let stats = Arc::new(vpp_devices::simulator::SimStats::default());
    let started = std::time::Instant::now();
    tokio::select! {
        r = vpp_devices::simulator::run(devices, config, stats.clone()) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    let seconds = started.elapsed().as_secs_f64();
    let samples = stats.samples.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "devices": count,
            "seconds": seconds,
            "samples": samples,
            "messages": stats.messages.load(std::sync::atomic::Ordering::Relaxed),
            "setpoints": stats.setpoints.load(std::sync::atomic::Ordering::Relaxed),
            "samples_per_s": samples as f64 / seconds.max(1e-9),
        })
    );
    Ok(())
}

/// The load of `vpp bench devices`.
struct DeviceLoad {
    count: usize,
    seconds: u64,
    interval_ms: u64,
    batch: usize,
    setpoints_per_s: usize,
}

async fn bench_devices(store: Arc<Store>, load: DeviceLoad, mqtt_url: String) -> anyhow::Result<()> {
    let DeviceLoad { count, seconds, interval_ms, batch, setpoints_per_s } = load;
    use std::sync::atomic::Ordering::Relaxed;
    use vpp_store::{DispatchRecord, InstructionRecord};
    if !broker_reachable(&mqtt_url).await {
        anyhow::bail!("no MQTT broker at {mqtt_url}");
    }
    // Enough resources: the bench VPP has 95 % of its members ONLINE.
    let vpp_id = demo::seed_bench(
        &store,
        &format!("bench-devices-{}", jiff::Timestamp::now().as_second()),
        count * 20 / 19 + 1,
        true,
    )
    .await?;
    let devices = simulated_devices(&store, Some(count)).await?;
    anyhow::ensure!(devices.len() == count, "only {} ONLINE resources to simulate", devices.len());
    let mut bridge_config = vpp_devices::bridge::BridgeConfig::new(mqtt_url.clone());
    bridge_config.heartbeat_timeout = Duration::from_secs(3600);
    let bridge = vpp_devices::bridge::spawn(store.clone(), bridge_config)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !bridge.stats().connected {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the bridge did not connect to {mqtt_url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The bridge loads the device directory before the first batch.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
    let sim = vpp_devices::simulator::SimConfig {
        sample_every: Duration::from_millis(interval_ms),
        samples_per_message: batch,
        disobey_share: 0.0,
        run_for: Some(Duration::from_secs(seconds)),
        ..vpp_devices::simulator::SimConfig::new(mqtt_url.clone())
    };
    let sim_stats = Arc::new(vpp_devices::simulator::SimStats::default());
    let started = std::time::Instant::now();
    let simulator = tokio::spawn(vpp_devices::simulator::run(devices, sim, sim_stats.clone()));
    // From a third into the run, setpoints to every device, under load.
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    let wave = if setpoints_per_s == 0 { ids.len() } else { (setpoints_per_s / 10).max(1) };
    let mut instructions: Vec<InstructionRecord> = Vec::with_capacity(ids.len());
    let mut waves = tokio::time::interval(Duration::from_millis(100));
    for chunk in ids.chunks(wave) {
        waves.tick().await;
        let now = vpp_store::now();
        let end = now + jiff::SignedDuration::from_mins(15);
        let dispatch_id = vpp_store::new_id();
        let part: Vec<InstructionRecord> = chunk
            .iter()
            .map(|r| InstructionRecord {
                id: vpp_store::new_id(),
                dispatch_id: dispatch_id.clone(),
                resource_id: r.clone(),
                target_kw: 0.0,
                start: now,
                end,
            })
            .collect();
        store
            .save_dispatch(&DispatchRecord {
                id: dispatch_id,
                vpp_id: vpp_id.clone(),
                target_kw: 0.0,
                start: now,
                end,
                mode: vpp_domain::fleet::DispatchOrigin::MeritOrder,
                total_dispatched_kw: 0.0,
                unmet_kw: 0.0,
                created_at: now,
                instructions: part.clone(),
            })
            .await?;
        instructions.extend(part);
    }
    simulator.await??;
    let sent = sim_stats.samples.load(Relaxed);
    // Wait for the store to catch up (or stop moving).
    let (mut last, mut still) = (0, std::time::Instant::now());
    loop {
        let s = bridge.stats();
        let done = s.samples_stored + s.samples_duplicate + s.dropped_out_of_range;
        if done >= sent {
            break;
        }
        if done != last {
            (last, still) = (done, std::time::Instant::now());
        } else if still.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = bridge.stats();
    let mut latencies: Vec<f64> = Vec::new();
    for i in &instructions {
        if let Some(d) = store.setpoint_delivery(&i.id).await?
            && let (Some(sent), Some(answered)) = (d.sent_at, d.answered_at)
        {
            latencies.push(answered.duration_since(sent).as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "devices": count,
            "backend": format!("{:?}", store.backend()),
            "samples_sent": sent,
            "messages_sent": sim_stats.messages.load(Relaxed),
            "samples_stored": stats.samples_stored,
            "samples_lost": sent.saturating_sub(stats.samples_stored + stats.samples_duplicate),
            "seconds": elapsed,
            "stored_per_s": stats.samples_stored as f64 / elapsed,
            "setpoints": instructions.len(),
            "setpoints_per_s": if setpoints_per_s == 0 { "all at once".to_string() } else { setpoints_per_s.to_string() },
            "setpoints_acknowledged": latencies.len(),
            "ack_latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": latencies.last()},
            "store_errors": stats.store_errors,
        }))?
    );
    Ok(())
}

/// The broker the demo uses unless another is configured.
const DEMO_MQTT_URL: &str = "mqtt://127.0.0.1:1883";

/// Whether a TCP connection to the broker opens within two seconds.
async fn broker_reachable(url: &str) -> bool {
    let Ok(options) = vpp_devices::bridge::mqtt_options(url, "probe", None, None, None) else { return false };
    let (host, port) = options.broker_address();
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect((host.as_str(), port))).await,
        Ok(Ok(_))
    )
}

/// Simulated devices for the ONLINE resources in the store (at most `limit`).
async fn simulated_devices(store: &Store, limit: Option<usize>) -> anyhow::Result<Vec<vpp_devices::simulator::Device>> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let filter = vpp_store::ResourceFilter {
            status: Some(vpp_domain::resource::ResourceStatus::Online),
            ..vpp_store::ResourceFilter::default()
        };
        let list = store.list_resources(&filter, vpp_store::Page { page, size: vpp_store::MAX_PAGE_SIZE }).await?;
        let done = list.items.len() < vpp_store::MAX_PAGE_SIZE as usize;
        out.extend(list.items.iter().map(|r| vpp_devices::simulator::Device::for_resource(r, &mut rng)));
        if done || limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        page += 1;
    }
    if let Some(l) = limit {
        out.truncate(l);
    }
    Ok(out)
}

async fn serve(store: Arc<Store>, config: &Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    tracing::info!(database = %config.database_url_redacted(), "vpp listening on {scheme}://{addr}");
    eprintln!("vpp API:   {scheme}://{addr}/api/v1/vpp/vpps");
    eprintln!("API docs:  {scheme}://{addr}/api/v1/docs/");
    eprintln!("Press Ctrl-C to stop.");
    // Backtests run inside the server process; one that was running when it
    // stopped will never finish (a single server per database is assumed).
    let stale = store.fail_stale_backtests().await?;
    if stale > 0 {
        tracing::warn!(stale, "backtests left running by a stopped server are marked FAILED");
    }
    let mut state = AppState::new(store.clone(), config.server.clone()).await?;
    let bridge = match &config.mqtt {
        Some(mqtt) => {
            let bridge = vpp_devices::bridge::spawn(store.clone(), mqtt.clone())?;
            eprintln!("Devices:   MQTT {} (vpp/{{site}}/{{resource_id}}/telemetry | setpoint | ack)", mqtt.url);
            state.devices = Some(bridge.stats_handle());
            Some(bridge)
        }
        None => None,
    };
    let control = config.control.map(|settings| vpp_app::control::spawn_control_loop(store.clone(), settings));
    let markets = vpp_app::market_job::spawn_market_job(store.clone(), std::time::Duration::from_secs(60));
    let webhook = config.alert_webhook.clone().map(|w| {
        eprintln!("Alerts:    POST to {}", w.url);
        vpp_app::webhook::spawn_alert_webhook(store.clone(), w)
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match &config.tls {
        Some((cert, key)) => {
            let listener = listener.into_std()?;
            vpp_server::serve_tls(listener, cert, key, state, shutdown)
                .await
                .with_context(|| format!("serving TLS with {} and {}", cert.display(), key.display()))?
        }
        None => vpp_server::serve(listener, state, shutdown).await?,
    }
    if let Some(control) = control {
        control.abort();
    }
    markets.abort();
    drop(bridge);
    if let Some(webhook) = webhook {
        webhook.abort();
    }
    store.close().await;
    Ok(())
}

/// Progress of a long import on stderr, one line per report of the store
/// (every 10,000 rows or so); files under 50,000 rows import silently.
/// Interrupting the process rolls the import's one transaction back.
fn progress_printer(file: &std::path::Path, rows: usize) -> impl Fn(u64) -> bool + Send + Sync {
    let name = file.display().to_string();
    move |sent| {
        if rows >= 50_000 {
            eprintln!("{name}: {sent} of {rows} rows sent to the database");
        }
        true
    }
}
