//! Configuration: flags, then environment variables, then an optional TOML
//! file (`--config`), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use vpp_server::ServerSettings;
use vpp_server::auth::AuthSettings;

/// A secret from configuration; it never prints.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// Default database: the embedded SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://vpp.db";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// Settings that may come from the config file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Same as `VPP_DATABASE_URL`.
    pub database_url: Option<String>,
    /// Same as `VPP_BIND`.
    pub bind: Option<SocketAddr>,
    /// Same as `VPP_BODY_LIMIT_BYTES`.
    pub body_limit_bytes: Option<usize>,
    /// Same as `VPP_FLEET_CACHE_TTL_MS`.
    pub fleet_cache_ttl_ms: Option<u64>,
    /// Same as `VPP_CONTROL_INTERVAL_S`.
    pub control_interval_s: Option<u64>,
    /// Same as `VPP_PHYSICAL_FORECAST_INTERVAL_MIN`.
    pub physical_forecast_interval_min: Option<u64>,
    /// Same as `VPP_MODBUS_LINKS`.
    pub modbus_links: Option<bool>,
    /// Same as `VPP_NODE_ID`.
    pub node_id: Option<String>,
    /// Same as `VPP_LEASE_TTL_S`.
    pub lease_ttl_s: Option<u64>,
    /// Same as `VPP_DEVIATION_THRESHOLD_PCT`.
    pub deviation_threshold_pct: Option<f64>,
    /// Same as `VPP_LOG`.
    pub log: Option<String>,
    /// Same as `VPP_JWT_SECRET`.
    pub jwt_secret: Option<Secret>,
    /// Same as `VPP_ADMIN_USERNAME`.
    pub admin_username: Option<String>,
    /// Same as `VPP_ADMIN_PASSWORD`.
    pub admin_password: Option<Secret>,
    /// Same as `VPP_CORS_ORIGINS`.
    pub cors_origins: Option<Vec<String>>,
    /// Same as `VPP_TRUSTED_PROXIES`.
    pub trusted_proxies: Option<Vec<std::net::IpAddr>>,
    /// Same as `VPP_ACCESS_TOKEN_TTL_S`.
    pub access_token_ttl_s: Option<u64>,
    /// Same as `VPP_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// Same as `VPP_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// Same as `VPP_MQTT_URL`.
    pub mqtt_url: Option<String>,
    /// Same as `VPP_MQTT_USERNAME`.
    pub mqtt_username: Option<String>,
    /// Same as `VPP_MQTT_PASSWORD`.
    pub mqtt_password: Option<Secret>,
    /// Same as `VPP_MQTT_CA_FILE`.
    pub mqtt_ca_file: Option<PathBuf>,
    /// Same as `VPP_MQTT_CLIENT_ID`.
    pub mqtt_client_id: Option<String>,
    /// Same as `VPP_MQTT_TOPIC_PREFIX`.
    pub mqtt_topic_prefix: Option<String>,
    /// Same as `VPP_HEARTBEAT_TIMEOUT_S`.
    pub heartbeat_timeout_s: Option<u64>,
    /// Same as `VPP_SETPOINT_ACK_TIMEOUT_S`.
    pub setpoint_ack_timeout_s: Option<u64>,
    /// Same as `VPP_SETPOINT_ATTEMPTS`.
    pub setpoint_attempts: Option<u32>,
    /// Same as `VPP_ALERT_WEBHOOK_URL`.
    pub alert_webhook_url: Option<String>,
}

impl FileConfig {
    /// Reads a TOML file; unknown keys are an error.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

/// Options shared by every command.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// TOML config file with any of: database_url, bind, body_limit_bytes, fleet_cache_ttl_ms,
    /// control_interval_s, physical_forecast_interval_min, modbus_links, node_id, lease_ttl_s, deviation_threshold_pct, log, mqtt_url, mqtt_username, mqtt_password,
    /// mqtt_ca_file, mqtt_client_id, mqtt_topic_prefix, heartbeat_timeout_s, setpoint_ack_timeout_s, setpoint_attempts, alert_webhook_url,
    /// jwt_secret, admin_username, admin_password, cors_origins, trusted_proxies, access_token_ttl_s,
    /// tls_cert, tls_key.
    #[arg(long, global = true, env = "VPP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE (default sqlite://vpp.db) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "VPP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log filter, e.g. `info` or `vpp_server=debug,tower_http=debug`.
    #[arg(long, global = true, env = "VPP_LOG")]
    pub log: Option<String>,
}

/// Options of the commands that serve HTTP.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "VPP_BIND")]
    pub bind: Option<SocketAddr>,
    /// Largest request body in bytes (default 16 MiB).
    #[arg(long, env = "VPP_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// How long aggregated parameters may be served from cache, ms (default 1000).
    #[arg(long, env = "VPP_FLEET_CACHE_TTL_MS")]
    pub fleet_cache_ttl_ms: Option<u64>,
    /// Step of the closed-loop execution job, seconds (default 900; 0 turns it off).
    #[arg(long, env = "VPP_CONTROL_INTERVAL_S")]
    pub control_interval_s: Option<u64>,
    /// Every how many minutes every PV and wind resource gets a new physical forecast version over the
    /// next 48 hours (default 15; 0 turns it off).
    #[arg(long, env = "VPP_PHYSICAL_FORECAST_INTERVAL_MIN")]
    pub physical_forecast_interval_min: Option<u64>,
    /// Poll the devices of enabled Modbus TCP links and write their setpoints (default true; each
    /// node of several polling the same devices would poll them twice).
    #[arg(long, env = "VPP_MODBUS_LINKS")]
    pub modbus_links: Option<bool>,
    /// This node's id among several on one database (default: host name and a random suffix).
    #[arg(long, env = "VPP_NODE_ID")]
    pub node_id: Option<String>,
    /// How long a node holds the lease of singleton work (market clearing, the control loop,
    /// ingestion, forecasts, the alert webhook) without renewing it, seconds (default 10; 3..=120).
    /// Another node takes over within this and a third of it after the holder dies.
    #[arg(long, env = "VPP_LEASE_TTL_S")]
    pub lease_ttl_s: Option<u64>,
    /// VPP deviation from its schedule that triggers re-dispatch, % of the scheduled power (default 10).
    #[arg(long, env = "VPP_DEVIATION_THRESHOLD_PCT")]
    pub deviation_threshold_pct: Option<f64>,
    /// HMAC secret for access tokens: env:NAME, file:/path or the secret (at least 32 bytes); default: random
    /// per process, never stored.
    #[arg(long, env = "VPP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Name of the admin created on first start (default `admin`).
    #[arg(long, env = "VPP_ADMIN_USERNAME")]
    pub admin_username: Option<String>,
    /// Password of the admin created on first start; if unset, one is generated and printed once.
    #[arg(long, env = "VPP_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,
    /// Browser origins allowed by CORS, comma-separated (default: none, same origin only).
    #[arg(long, env = "VPP_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// Reverse proxies whose `X-Forwarded-For` names the client, comma-separated IP addresses (default:
    /// none; the header is ignored).
    #[arg(long, env = "VPP_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<std::net::IpAddr>>,
    /// Lifetime of access tokens in seconds (default 900).
    #[arg(long, env = "VPP_ACCESS_TOKEN_TTL_S")]
    pub access_token_ttl_s: Option<u64>,
    /// PEM certificate chain: serve HTTPS (needs --tls-key too).
    #[arg(long, env = "VPP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "VPP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// MQTT broker for device telemetry and setpoints, e.g. mqtt://127.0.0.1:1883 or
    /// mqtts://broker:8883 (default: off for `serve`, mqtt://127.0.0.1:1883 for `demo`).
    #[arg(long, env = "VPP_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// MQTT user name.
    #[arg(long, env = "VPP_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    /// MQTT password.
    #[arg(long, env = "VPP_MQTT_PASSWORD", hide_env_values = true)]
    pub mqtt_password: Option<Secret>,
    /// PEM file of the CA that signed the broker's certificate (mqtts:// only).
    #[arg(long, env = "VPP_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// MQTT client id of the bridge, stable across restarts so the broker keeps its telemetry session
    /// (default `vpp-bridge-` and a hash of the database URL; give each node its own).
    #[arg(long, env = "VPP_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
    /// First topic levels of every device message (default `vpp`): the bridge subscribes under it
    /// only, e.g. `tenants/acme/vpp` on a broker shared with other systems.
    #[arg(long, env = "VPP_MQTT_TOPIC_PREFIX")]
    pub mqtt_topic_prefix: Option<String>,
    /// Silence after which a device counts as OFFLINE, seconds (default 60; a resource's
    /// `heartbeat_timeout_s` metadata overrides it).
    #[arg(long, env = "VPP_HEARTBEAT_TIMEOUT_S")]
    pub heartbeat_timeout_s: Option<u64>,
    /// Time a device has to acknowledge a setpoint before it is sent again, seconds (default 10).
    #[arg(long, env = "VPP_SETPOINT_ACK_TIMEOUT_S")]
    pub setpoint_ack_timeout_s: Option<u64>,
    /// Publications of a setpoint before it counts as failed and raises an alert (default 3).
    #[arg(long, env = "VPP_SETPOINT_ATTEMPTS")]
    pub setpoint_attempts: Option<u32>,
    /// URL that receives every new alert as `POST {"alert": {...}}` (default: none).
    #[arg(long, env = "VPP_ALERT_WEBHOOK_URL")]
    pub alert_webhook_url: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub log: String,
    pub server: ServerSettings,
    pub admin_username: String,
    pub admin_password: Option<Secret>,
    /// Certificate and key files when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The closed-loop execution job, if on.
    pub control: Option<vpp_app::control::ControlSettings>,
    /// Interval of the fleet's physical forecasts, if on.
    pub physical_forecasts: Option<Duration>,
    /// Run the Modbus links.
    pub modbus_links: bool,
    /// This node's id and lease time.
    pub node: vpp_app::cluster::NodeSettings,
    /// The MQTT device bridge, if a broker is configured.
    pub mqtt: Option<vpp_devices::bridge::BridgeConfig>,
    /// Where new alerts are posted, if anywhere.
    pub alert_webhook: Option<vpp_app::webhook::WebhookSettings>,
}

/// `vpp-bridge-` and a hash of the database URL (FNV-1a, written out
/// because it must not change between Rust releases, as std's hasher may).
fn default_client_id(database_url: &str) -> String {
    let hash =
        database_url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("vpp-bridge-{:08x}", hash as u32)
}

impl Config {
    /// Resolves flags and environment over the file over the defaults.
    /// `default_mqtt` is the broker used when none is configured (the demo's).
    pub fn resolve(global: &GlobalArgs, serve: Option<&ServeArgs>, default_mqtt: Option<&str>) -> anyhow::Result<Self> {
        let file = FileConfig::load(global.config.as_deref())?;
        let mqtt = match serve.and_then(|s| s.mqtt_url.clone()).or(file.mqtt_url).or(default_mqtt.map(String::from)) {
            Some(url) => {
                let mut b = vpp_devices::bridge::BridgeConfig::new(url);
                b.username = serve.and_then(|s| s.mqtt_username.clone()).or(file.mqtt_username);
                b.password = serve.and_then(|s| s.mqtt_password.clone()).or(file.mqtt_password).map(|s| s.0);
                b.ca_file = serve.and_then(|s| s.mqtt_ca_file.clone()).or(file.mqtt_ca_file);
                // Default: stable for this database, so a restart finds its
                // session, and distinct from other databases' vpp on the same
                // broker (a demo beside a test run).
                let database = global.database_url.clone().or(file.database_url.clone());
                b.client_id = default_client_id(database.as_deref().unwrap_or(DEFAULT_DATABASE_URL));
                if let Some(id) = serve.and_then(|s| s.mqtt_client_id.clone()).or(file.mqtt_client_id) {
                    if id.is_empty()
                        || id.len() > 64
                        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    {
                        anyhow::bail!(
                            "--mqtt-client-id must be 1..64 characters of a-z, A-Z, 0-9, `-`, `_`, `.`, got `{id}`"
                        );
                    }
                    b.client_id = id;
                }
                if let Some(prefix) = serve.and_then(|s| s.mqtt_topic_prefix.clone()).or(file.mqtt_topic_prefix) {
                    vpp_devices::protocol::check_prefix(&prefix)
                        .map_err(|e| anyhow::anyhow!("--mqtt-topic-prefix: {e}"))?;
                    b.topic_prefix = prefix;
                }
                let heartbeat = serve.and_then(|s| s.heartbeat_timeout_s).or(file.heartbeat_timeout_s).unwrap_or(60);
                if !(5..=86_400).contains(&heartbeat) {
                    anyhow::bail!("--heartbeat-timeout-s must be 5..=86400, got {heartbeat}");
                }
                b.heartbeat_timeout = Duration::from_secs(heartbeat);
                let ack = serve.and_then(|s| s.setpoint_ack_timeout_s).or(file.setpoint_ack_timeout_s).unwrap_or(10);
                if !(1..=3600).contains(&ack) {
                    anyhow::bail!("--setpoint-ack-timeout-s must be 1..=3600, got {ack}");
                }
                b.ack_timeout = Duration::from_secs(ack);
                let attempts = serve.and_then(|s| s.setpoint_attempts).or(file.setpoint_attempts).unwrap_or(3);
                if !(1..=20).contains(&attempts) {
                    anyhow::bail!("--setpoint-attempts must be 1..=20, got {attempts}");
                }
                b.max_attempts = attempts;
                // Refuse a bad URL or TLS file now, not in a background task.
                vpp_devices::bridge::mqtt_options(
                    &b.url,
                    &b.client_id,
                    b.username.as_deref(),
                    b.password.as_deref(),
                    b.ca_file.as_deref(),
                )?;
                Some(b)
            }
            None => None,
        };
        let defaults = ServerSettings::default();
        let bind = serve.and_then(|s| s.bind).or(file.bind);
        let bind = match bind {
            Some(b) => b,
            None => DEFAULT_BIND.parse().context("default bind address")?,
        };
        let body_limit_bytes =
            serve.and_then(|s| s.body_limit_bytes).or(file.body_limit_bytes).unwrap_or(defaults.body_limit_bytes);
        let ttl = serve
            .and_then(|s| s.fleet_cache_ttl_ms)
            .or(file.fleet_cache_ttl_ms)
            .map(Duration::from_millis)
            .unwrap_or(defaults.fleet_cache_ttl);
        let tls = match (
            serve.and_then(|s| s.tls_cert.clone()).or(file.tls_cert),
            serve.and_then(|s| s.tls_key.clone()).or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => anyhow::bail!("give both a TLS certificate and a key (--tls-cert and --tls-key)"),
        };
        let mut auth = AuthSettings {
            jwt_secret: serve.and_then(|s| s.jwt_secret.clone()).or(file.jwt_secret).map(|s| s.0),
            trusted_proxies: serve.and_then(|s| s.trusted_proxies.clone()).or(file.trusted_proxies).unwrap_or_default(),
            ..AuthSettings::default()
        };
        let control_s = serve.and_then(|s| s.control_interval_s).or(file.control_interval_s).unwrap_or(900);
        let threshold_pct =
            serve.and_then(|s| s.deviation_threshold_pct).or(file.deviation_threshold_pct).unwrap_or(10.0);
        if !(0.0..=1000.0).contains(&threshold_pct) {
            anyhow::bail!("--deviation-threshold-pct must be 0..=1000, got {threshold_pct}");
        }
        if control_s != 0 && !(60..=86_400).contains(&control_s) {
            anyhow::bail!("--control-interval-s must be 0 (off) or 60..=86400, got {control_s}");
        }
        let physical_min =
            serve.and_then(|s| s.physical_forecast_interval_min).or(file.physical_forecast_interval_min).unwrap_or(15);
        if physical_min != 0 && !(1..=1440).contains(&physical_min) {
            anyhow::bail!("--physical-forecast-interval-min must be 0 (off) or 1..=1440, got {physical_min}");
        }
        let physical_forecasts = (physical_min > 0).then(|| Duration::from_secs(60 * physical_min));
        let lease_ttl_s = serve.and_then(|s| s.lease_ttl_s).or(file.lease_ttl_s).unwrap_or(10);
        if !(3..=120).contains(&lease_ttl_s) {
            anyhow::bail!("--lease-ttl-s must be 3..=120, got {lease_ttl_s}");
        }
        let node = vpp_app::cluster::NodeSettings {
            id: match serve.and_then(|s| s.node_id.clone()).or(file.node_id) {
                Some(id) if id.trim().is_empty() || id.len() > 100 => {
                    anyhow::bail!("--node-id must be 1..=100 characters, got `{id}`")
                }
                Some(id) => id,
                None => vpp_app::cluster::default_node_id(),
            },
            lease_ttl: Duration::from_secs(lease_ttl_s),
        };
        let control = (control_s > 0).then(|| vpp_app::control::ControlSettings {
            step: Duration::from_secs(control_s),
            threshold_pct,
            ..Default::default()
        });
        if let Some(ttl) = serve.and_then(|s| s.access_token_ttl_s).or(file.access_token_ttl_s) {
            auth.access_ttl = Duration::from_secs(ttl.clamp(30, 24 * 3600));
        }
        let alert_webhook = match serve.and_then(|s| s.alert_webhook_url.clone()).or(file.alert_webhook_url) {
            Some(url) => {
                vpp_app::webhook::check_url(&url).map_err(|e| anyhow::anyhow!("--alert-webhook-url: {e}"))?;
                Some(vpp_app::webhook::WebhookSettings { url, poll: Duration::from_secs(1) })
            }
            None => None,
        };
        Ok(Self {
            alert_webhook,
            database_url: global
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            bind,
            log: global.log.clone().or(file.log).unwrap_or_else(|| "info,sqlx=warn".into()),
            server: ServerSettings {
                body_limit_bytes,
                fleet_cache_ttl: ttl,
                auth,
                cors_origins: serve.and_then(|s| s.cors_origins.clone()).or(file.cors_origins).unwrap_or_default(),
            },
            admin_username: serve
                .and_then(|s| s.admin_username.clone())
                .or(file.admin_username)
                .unwrap_or_else(|| "admin".into()),
            admin_password: serve.and_then(|s| s.admin_password.clone()).or(file.admin_password),
            tls,
            control,
            physical_forecasts,
            modbus_links: serve.and_then(|s| s.modbus_links).or(file.modbus_links).unwrap_or(true),
            node,
            mqtt,
        })
    }

    /// The file of a SQLite URL (`sqlite://FILE`, `sqlite:FILE`, with or
    /// without `?options`); `None` for PostgreSQL and in-memory databases.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let file = rest.split('?').next().unwrap_or_default();
        (!file.is_empty() && !file.contains(":memory:")).then(|| PathBuf::from(file))
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_redacted(&self) -> String {
        match (self.database_url.find("://"), self.database_url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let creds = &self.database_url[scheme + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &self.database_url[..scheme + 3], &self.database_url[at..])
                    }
                    None => self.database_url.clone(),
                }
            }
            _ => self.database_url.clone(),
        }
    }
}
