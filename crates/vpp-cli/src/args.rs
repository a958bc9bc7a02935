//! The command line: every command, flag and argument of `vpp`, with
//! the help text clap prints. `main.rs` dispatches them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{GlobalArgs, ServeArgs};
use crate::etl;

/// vpp: an open-source virtual power plant platform.
///
/// Registers distributed energy resources from templates, aggregates them
/// into virtual power plants and dispatches power targets across the fleet,
/// over a REST API on SQLite (default) or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "vpp", version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the REST API (migrating the database first).
    Serve(ServeArgs),
    /// Seed a demo portfolio on first run, simulate live telemetry and serve the API.
    Demo(ServeArgs),
    /// Create or upgrade the database schema and seed the preset templates.
    Migrate,
    /// Import data files into the database.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Scheduled ingestion: sources (inbox folders, URLs, S3 buckets) that `vpp serve` looks at on
    /// their schedule, and what came in from them.
    #[command(subcommand)]
    Ingest(crate::ingest::IngestCommand),
    /// Export data as JSON.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Compute (and store) an optimal schedule for a VPP; prints it as JSON.
    Schedule(Box<ScheduleArgs>),
    /// Forecasts from technical data, stored as new forecast versions.
    #[command(subcommand)]
    Forecast(ForecastCommand),
    /// Solve a schedule problem given as JSON (vpp-optim's Problem), without a database.
    Optimise(OptimiseArgs),
    /// Batch jobs over stored or exported data.
    #[command(subcommand)]
    Etl(EtlCommand),
    /// Run simulated devices: over MQTT against the broker (telemetry, setpoints), and optionally
    /// as SunSpec devices over Modbus TCP and as OCPP 2.0.1 charging stations.
    Simulate(SimulateArgs),
    /// Invoices to asset owners for a month, one per contract (prints JSON; a table with --table).
    Invoice(InvoiceArgs),
    /// VPPs: create one of assets named by their ids; dispatch a power target across one.
    #[command(subcommand)]
    Vpp(crate::portfolio::VppCommand),
    /// Alerts: list them, acknowledge or resolve one with a comment.
    #[command(subcommand)]
    Alert(crate::portfolio::AlertCommand),
    /// Reports: the portfolio performance report.
    #[command(subcommand)]
    Report(crate::portfolio::ReportCommand),
    /// Industrial parks: monthly bills, reconciliation, savings, battery payback and the park report.
    #[command(subcommand)]
    Park(ParkCommand),
    /// Load-test fixtures for end-to-end benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage users (works on the database directly).
    #[command(subcommand)]
    User(UserCommand),
    /// Field devices over Modbus TCP: look at one, link a resource to its device.
    #[command(subcommand)]
    Device(DeviceCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ForecastCommand {
    /// Forecast a PV or wind resource with its physical model and store the version in its power
    /// series; prints it as JSON. Without weather, PV is a clear sky (an upper bound, said so in
    /// `weather`); wind needs a wind forecast and is refused.
    Physical {
        /// Resource id.
        resource: String,
        /// Hours ahead from the start of the current interval, 1..240.
        #[arg(long, default_value_t = 48)]
        hours: i64,
    },
    /// Forecast every PV and wind resource physically now, one new version each (what `serve`
    /// does every --physical-forecast-interval-min); prints what the run did as JSON. A resource
    /// that cannot be forecast is named under `skipped`.
    Fleet {
        /// Hours ahead from the start of the current interval, 1..240.
        #[arg(long, default_value_t = 48)]
        hours: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// Connect to a Modbus TCP device once, find its SunSpec models (marker at 40000, 50000 or 0)
    /// and read it; prints JSON (manufacturer, model, serial, models, power, energy, SOC). Needs
    /// no database. Only the address given is contacted.
    Probe {
        /// HOST or HOST:PORT (port 502 if not given).
        address: String,
        /// Modbus unit id.
        #[arg(long, default_value_t = 1)]
        unit: u8,
        /// Address of the `SunS` marker, if not at one of the usual places.
        #[arg(long)]
        base: Option<u16>,
        /// Longest wait for one answer, ms.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Set a resource's device link from a JSON file (the body of PUT
    /// /resource-instances/{id}/device-link); prints the stored link.
    Link {
        /// Resource id.
        resource_id: String,
        /// The link as JSON.
        file: std::path::PathBuf,
    },
    /// List the device links as JSON.
    Links,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password is read from standard input with --password-stdin, else generated and printed.
    Add {
        /// Login name.
        username: String,
        /// admin, operator, trader, analyst, viewer or asset_owner.
        #[arg(long)]
        role: String,
        /// For asset_owner: the owner it is bound to, as the assets' technical data names it.
        #[arg(long)]
        asset_owner: Option<String>,
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
pub(crate) struct SimulateArgs {
    /// `demo`: every ONLINE resource in the database.
    #[arg(long, conflicts_with = "resources")]
    pub(crate) fleet: Option<String>,
    /// Only the first N ONLINE resources.
    #[arg(long)]
    pub(crate) resources: Option<usize>,
    /// Broker URL.
    #[arg(long, env = "VPP_MQTT_URL", default_value = "mqtt://127.0.0.1:1883")]
    pub(crate) mqtt_url: String,
    /// Broker user name.
    #[arg(long, env = "VPP_MQTT_USERNAME")]
    pub(crate) mqtt_username: Option<String>,
    /// Broker password.
    #[arg(long, env = "VPP_MQTT_PASSWORD", hide_env_values = true)]
    pub(crate) mqtt_password: Option<String>,
    /// First topic levels, as the server's `--mqtt-topic-prefix`.
    #[arg(long, env = "VPP_MQTT_TOPIC_PREFIX", default_value = "vpp")]
    pub(crate) mqtt_topic_prefix: String,
    /// Time between two samples of one device, ms.
    #[arg(long, default_value_t = 5000)]
    pub(crate) interval_ms: u64,
    /// Samples per message (more than 1 sends batches).
    #[arg(long, default_value_t = 1)]
    pub(crate) batch: usize,
    /// Share of devices that acknowledge setpoints but do not follow them, %.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) disobey_pct: f64,
    /// Stop after this many seconds and print the counts (default: run until Ctrl-C).
    #[arg(long)]
    pub(crate) duration_s: Option<u64>,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Serve this many of the last PV plants and of the last batteries as SunSpec devices over
    /// Modbus TCP on 127.0.0.1 instead of MQTT, and link their resources to them (a running
    /// server polls them within 5 s).
    #[arg(long, default_value_t = 0)]
    pub(crate) modbus_devices: usize,
    /// Run this many of the last EV chargers with an external id as OCPP 2.0.1 stations against
    /// --ocpp-url instead of MQTT. Each gets a new generated password (replacing its old one).
    #[arg(long, default_value_t = 0)]
    pub(crate) ocpp_stations: usize,
    /// The CSMS the stations connect to (`/ocpp/{station_id}` is appended).
    #[arg(long, env = "VPP_OCPP_URL", default_value = "ws://127.0.0.1:8080")]
    pub(crate) ocpp_url: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScheduleArgs {
    /// VPP id.
    #[arg(long)]
    pub(crate) vpp: String,
    /// The request as JSON (the body of POST /api/v1/vpp/vpps/{id}/schedules); the flags below override it.
    #[arg(long)]
    pub(crate) request: Option<PathBuf>,
    /// Delivery day (YYYY-MM-DD) in --tz (default: tomorrow).
    #[arg(long)]
    pub(crate) day: Option<jiff::civil::Date>,
    /// Market time zone.
    #[arg(long)]
    pub(crate) tz: Option<String>,
    /// Take prices from this stored price series.
    #[arg(long)]
    pub(crate) price_series: Option<String>,
    /// cost or peak_shaving.
    #[arg(long)]
    pub(crate) objective: Option<String>,
    /// Do not store the result as schedule beliefs.
    #[arg(long)]
    pub(crate) no_store: bool,
    /// Print a table (step, local time, price, kW per member, SOC) instead of JSON.
    #[arg(long)]
    pub(crate) table: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct OptimiseArgs {
    /// The problem: {"horizon":{…},"site":{…},"members":[…],"objective":"cost"}.
    pub(crate) problem: PathBuf,
    /// microlp (LP and MILP) or clarabel (LP).
    #[arg(long, default_value = "microlp")]
    pub(crate) backend: String,
    /// Time limit, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) time_limit_s: f64,
    /// Relative MIP gap.
    #[arg(long, default_value_t = 0.01)]
    pub(crate) mip_gap: f64,
    /// Solve this many times and report the median time (model build plus solve).
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: usize,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EtlCommand {
    /// Latest (or latest tradeable) forecast per asset and delivery interval,
    /// and their portfolio sum, from the database or a file, into tables or files.
    Forecasts(Box<etl::ForecastsArgs>),
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
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
    /// Telemetry write latency while a large series import runs on SQLite: the import staged
    /// (as vpp does) and in one transaction (as before), alternating, on a fresh temporary database.
    Import {
        /// Beliefs per import.
        #[arg(long, default_value_t = 2_000_000)]
        rows: usize,
        /// Rounds; each runs both sides, in alternating order.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Pause between two telemetry writes, ms.
        #[arg(long, default_value_t = 10)]
        every_ms: u64,
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
    /// Poll simulated SunSpec devices over Modbus TCP from this node (the devices are vpp's own
    /// simulator on a second runtime in this process), send each a setpoint under load; report
    /// polls made, missed and failed against those due, and setpoint → confirmed latency. Use a
    /// fresh database.
    Modbus {
        /// Simulated devices (200 per server port).
        #[arg(long, default_value_t = 2_000)]
        devices: usize,
        /// Seconds measured after every device was read once.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Poll interval of every device, s.
        #[arg(long, default_value_t = 5.0)]
        interval_s: f64,
        /// Setpoints per second, in waves every 100 ms, until every device had one; 0 sends one to
        /// every device at once.
        #[arg(long, default_value_t = 200)]
        setpoints_per_s: usize,
    },
    /// Connect many simulated EV charging stations over OCPP 2.0.1 to this node as their CSMS
    /// (loopback websockets, each with its own password), each sending meter values on an
    /// interval; dispatch each a charging profile under load; report meter values sent against
    /// those due and received, and setpoint → confirmed latency. Use a fresh database.
    Ocpp {
        /// Simulated stations.
        #[arg(long, default_value_t = 1_000)]
        stations: usize,
        /// Seconds measured after every station connected.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Time between two MeterValues of one station, s.
        #[arg(long, default_value_t = 10.0)]
        interval_s: f64,
        /// Charging profiles per second, in waves every 100 ms, until every station had one; 0
        /// sends one to every station at once.
        #[arg(long, default_value_t = 200)]
        setpoints_per_s: usize,
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
    /// Physical PV and wind models over a weather file, for scripts/pv-vs-pvlib.py and
    /// scripts/wind-vs-windpowerlib.py: prints the median compute time of --runs runs and the
    /// energy per asset; with --out writes every asset's power.
    Physical {
        /// Weather CSV: time_unix_s (the instant modelled), ghi (W/m²), temp_air (°C),
        /// wind_speed (m/s), pressure (Pa); optional dni, dhi (W/m²).
        #[arg(long)]
        weather: PathBuf,
        /// Assets JSON: {"site": {latitude, longitude, altitude_m}, "wind_height_m",
        /// "roughness_m", "pv": [{name, peak_kw, inverter_kw, tilt_deg, azimuth_deg, ...}],
        /// "wind": [{name, hub_height_m, curve: [[m/s, kW], ...], cut_out_ms}]}.
        #[arg(long)]
        assets: PathBuf,
        /// Model each asset this many times, each copy at a site moved by up to ±2°.
        #[arg(long, default_value_t = 1)]
        copies: usize,
        /// Runs timed.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// CSV of power (kW) per asset and instant.
        #[arg(long)]
        out: Option<PathBuf>,
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
pub(crate) struct InvoiceArgs {
    /// Month, `YYYY-MM` (Europe/Berlin).
    #[arg(long)]
    pub(crate) month: String,
    /// Only this contract.
    #[arg(long)]
    pub(crate) contract: Option<String>,
    /// VAT for contracts without their own rate, percent.
    #[arg(long, default_value = "19")]
    pub(crate) vat_pct: String,
    /// Print a table instead of JSON.
    #[arg(long)]
    pub(crate) table: bool,
}

/// A battery on the command line.
#[derive(Debug, clap::Args)]
pub(crate) struct BatteryArgs {
    /// Battery energy, kWh (with --battery-kw); default the site's battery.
    #[arg(long, requires = "battery_kw")]
    pub(crate) battery_kwh: Option<f64>,
    /// Battery power, kW.
    #[arg(long, requires = "battery_kwh")]
    pub(crate) battery_kw: Option<f64>,
    /// Round-trip efficiency, 0..1 (default 0.9).
    #[arg(long)]
    pub(crate) round_trip_efficiency: Option<f64>,
}

impl BatteryArgs {
    pub(crate) fn spec(&self) -> Option<vpp_app::parks::BatterySpec> {
        Some(vpp_app::parks::BatterySpec {
            energy_kwh: self.battery_kwh?,
            power_kw: self.battery_kw?,
            round_trip_efficiency: self.round_trip_efficiency,
        })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ParkCommand {
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
pub(crate) enum ImportCommand {
    /// Import a weather forecast: an Open-Meteo JSON answer (hourly or minutely_15) or a DWD MOSMIX
    /// KML/KMZ station forecast, told apart by their content and stored as weather series of the
    /// grid point or station; physical forecasts within 30 km read it.
    Weather {
        /// The JSON, KML or KMZ file.
        file: PathBuf,
        /// When the forecast was issued (RFC 3339); now if absent. Open-Meteo only: MOSMIX says
        /// when it was issued.
        #[arg(long)]
        issued_at: Option<jiff::Timestamp>,
        /// MOSMIX only: the station ids to store, comma-separated (every station if absent).
        #[arg(long, value_delimiter = ',')]
        stations: Vec<String>,
    },
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
    /// Import an exchange or regulator file into a file connector: prices, the VPP's trades, an
    /// exchange's public trades (the market VWAP index) or German imbalance prices (see docs/markets.md).
    Market {
        /// The file.
        file: PathBuf,
        /// File connector, by id or name.
        #[arg(long)]
        connector: String,
        /// Create a SPOT file connector of that name if there is none.
        #[arg(long)]
        create: bool,
        /// prices, trades, public_trades or imbalance.
        #[arg(long)]
        kind: String,
        /// Trades: the VPP they belong to.
        #[arg(long)]
        vpp: Option<String>,
        /// Imbalance prices are estimates (default: final).
        #[arg(long)]
        estimate: bool,
        /// Zone of wall-clock times (IANA), default UTC.
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Import a DSO's redispatch compensation prices (CSV, per asset and quarter-hour; an asset
    /// column, else the file name names the asset).
    Compensation {
        /// The CSV file.
        file: PathBuf,
        /// Zone of times without an offset (default UTC).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Import contract versions with asset owners (CSV: vpp's own or a CRM export keyed by asset; see docs/markets.md).
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
    /// Import CSV or column-oriented JSON files of beliefs: into a series, or each into the asset it names.
    Series(Box<SeriesImportArgs>),
}

#[derive(Debug, clap::Args)]
pub(crate) struct SeriesImportArgs {
    /// Series id (or exact name); without it each file goes to the power
    /// series of the asset it names (its key, an asset column, or its file name).
    #[arg(long)]
    pub(crate) series: Option<String>,
    /// Files, or folders whose files are all imported (in name order).
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// `csv` or `columns`; default from the extension (.json = columns).
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// CSV delimiter: , ; \t |
    #[arg(long)]
    pub(crate) delimiter: Option<String>,
    /// CSV numbers use a decimal comma; default from the values.
    #[arg(long, conflicts_with = "decimal_point")]
    pub(crate) decimal_comma: bool,
    /// CSV numbers use a decimal point; default from the values.
    #[arg(long)]
    pub(crate) decimal_point: bool,
    /// strftime format of CSV timestamps, e.g. "%d.%m.%Y %H:%M"; default any common form.
    #[arg(long)]
    pub(crate) timestamp_format: Option<String>,
    /// Epoch times are s or ms, overriding what the file declares; default by their size.
    #[arg(long)]
    pub(crate) time_unit: Option<String>,
    /// Refused rows: skip (store the rest) or reject (store nothing); a file with no good row is refused either way.
    #[arg(long, default_value = "skip")]
    pub(crate) on_error: String,
    /// Zone of CSV timestamps without offset (IANA), default UTC.
    #[arg(long)]
    pub(crate) timezone: Option<String>,
    /// CSV column of the event start.
    #[arg(long)]
    pub(crate) start_column: Option<String>,
    /// CSV column of the value.
    #[arg(long)]
    pub(crate) value_column: Option<String>,
    /// CSV column of the belief time (version).
    #[arg(long)]
    pub(crate) belief_time_column: Option<String>,
    /// Belief time of every CSV row without such a column (RFC 3339); forecasts need one of the two.
    #[arg(long)]
    pub(crate) belief_time: Option<jiff::Timestamp>,
    /// Source of CSV rows: forecast, live_measurement, meter_final, schedule, price, flag.
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// Unit of the values (W, kW, MW, Wh, kWh, MWh, EUR/MWh, ...).
    #[arg(long)]
    pub(crate) unit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
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
