//! Configuration: flags, then environment variables, then an optional TOML
//! file (`--config`), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use vpp_server::ServerSettings;

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
    /// Same as `VPP_LOG`.
    pub log: Option<String>,
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
    /// TOML config file with any of: database_url, bind, body_limit_bytes, fleet_cache_ttl_ms, log.
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
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub log: String,
    pub server: ServerSettings,
}

impl Config {
    /// Resolves flags and environment over the file over the defaults.
    pub fn resolve(global: &GlobalArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Self> {
        let file = FileConfig::load(global.config.as_deref())?;
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
        Ok(Self {
            database_url: global
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            bind,
            log: global.log.clone().or(file.log).unwrap_or_else(|| "info,sqlx=warn".into()),
            server: ServerSettings { body_limit_bytes, fleet_cache_ttl: ttl },
        })
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
