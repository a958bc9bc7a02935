//! Ingestion sources: where delivered files wait (an inbox folder, an
//! HTTP(S) URL, an S3-compatible bucket), when vpp looks (a cron pattern on
//! a zone's wall clock), and which importer takes them. Each file is taken
//! once, by name and checksum; what came in is kept as ingestion runs.

use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};
use crate::series_import::RowError;

/// The importer a source's files go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Series files (meter final, live infeed, forecasts, redispatch flags),
    /// each routed to the asset its name or key names.
    Series,
    /// Technical data (JSON) of the assets.
    TechnicalData,
    /// CRM contracts (CSV).
    Contracts,
    /// Market prices into a file connector.
    Prices,
    /// The portfolio's own trades into a file connector.
    Trades,
    /// All participants' trades (the market VWAP index) into a file connector.
    PublicTrades,
    /// Imbalance prices into a file connector.
    Imbalance,
    /// A DSO's redispatch compensation prices, per asset.
    RedispatchCompensation,
}

impl Target {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Series => "series",
            Self::TechnicalData => "technical_data",
            Self::Contracts => "contracts",
            Self::Prices => "prices",
            Self::Trades => "trades",
            Self::PublicTrades => "public_trades",
            Self::Imbalance => "imbalance",
            Self::RedispatchCompensation => "redispatch_compensation",
        }
    }

    /// The order sources due together are looked at: the assets first
    /// (technical data), then what names them (contracts, series, the DSO's
    /// compensation), then market files.
    pub fn rank(self) -> u8 {
        match self {
            Self::TechnicalData => 0,
            Self::Contracts => 1,
            Self::Series => 2,
            Self::RedispatchCompensation => 3,
            Self::Prices | Self::Imbalance | Self::PublicTrades | Self::Trades => 4,
        }
    }

    /// Whether the files go into a market connector (which must be named).
    pub fn is_market(self) -> bool {
        matches!(self, Self::Prices | Self::Trades | Self::PublicTrades | Self::Imbalance)
    }
}

/// What to do with a file once it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum After {
    /// Move it into `done/` (or `failed/` when refused) beside it: an inbox's default.
    Move,
    /// Leave it; the run records mark it as taken (the default for URLs and buckets).
    Keep,
}

/// Where a source's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder; its files (not its subfolders) are read.
    Inbox {
        /// Absolute path.
        path: String,
    },
    /// One file at an HTTP(S) URL, fetched on each run.
    Http {
        /// The URL.
        url: String,
    },
    /// The objects under a prefix of an S3-compatible bucket (not deeper).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix without slashes at the ends; empty for the whole bucket's top level.
        prefix: String,
    },
}

impl Location {
    /// Reads `/abs/folder` (or `file:///abs/folder`), `http(s)://…` or `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
            if !bucket_ok {
                return Err(format!("`{bucket}` is not a bucket name (3–63 lower-case letters, digits, '-' or '.')"));
            }
            return Ok(Self::S3 { bucket: bucket.into(), prefix: prefix.trim_matches('/').into() });
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            let host = s.split("://").nth(1).unwrap_or("").split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() {
                return Err("the URL has no host".into());
            }
            return Ok(Self::Http { url: s.into() });
        }
        let path = s.strip_prefix("file://").unwrap_or(s).trim_end_matches('/');
        if path.starts_with('/') {
            // Files taken from an inbox are moved: never from a system
            // folder, and only from a folder of its own (two levels or more).
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            if parts.iter().any(|p| *p == "." || *p == "..") {
                return Err("an inbox path has no `.` or `..` parts".into());
            }
            const SYSTEM: [&str; 10] = ["bin", "boot", "dev", "etc", "lib", "lib64", "proc", "sbin", "sys", "usr"];
            if parts.len() < 2 || SYSTEM.contains(&parts[0]) {
                return Err(format!(
                    "`{path}` is not an inbox: use a folder of its own such as /srv/vpp/inbox, not a system folder"
                ));
            }
            return Ok(Self::Inbox { path: path.into() });
        }
        Err("must be an absolute folder path, an http(s):// URL or s3://bucket/prefix".into())
    }
}

/// A source as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Unique name, e.g. `DSO meter final`.
    pub name: String,
    /// The importer its files go to.
    pub target: Target,
    /// `/abs/folder` (an inbox), `https://host/path/file.csv`, or `s3://bucket/prefix`.
    pub location: String,
    /// When to look: a cron pattern (`min hour day month weekday`, optionally with seconds first),
    /// e.g. `45 12 * * *` daily at 12:45, `0 7 * * SUN` Sunday mornings, `*/5 * * * * *` every 5 s.
    pub schedule: String,
    /// Zone of the schedule's wall clock (IANA); default `Europe/Berlin`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Whether it is looked at; default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Only files whose name matches: `*` any text, `?` one character (e.g. `*.csv`); default all.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Market targets: the file connector (id or name).
    #[serde(default)]
    pub connector: Option<String>,
    /// Trades: the VPP they belong to.
    #[serde(default)]
    pub vpp_id: Option<String>,
    /// Imbalance prices: true when the files hold estimates; default final.
    #[serde(default)]
    pub estimate: Option<bool>,
    /// Zone of the files' times that carry no offset (IANA); default UTC or the file's zone column.
    #[serde(default)]
    pub file_timezone: Option<String>,
    /// S3: the endpoint of an S3-compatible store (`http://127.0.0.1:9000`); default AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3: the region; default `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// S3: the access key id, by secret reference (`env:NAME` or `file:/path`).
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// S3: the secret access key, by secret reference.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// HTTP(S): a bearer token sent as `Authorization`, by secret reference.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// `move` a taken file into `done/` or `failed/` (an inbox's default), or `keep` it (the default elsewhere).
    #[serde(default)]
    pub after: Option<After>,
    /// An inbox or bucket file changed less than this many seconds ago is left for the next look,
    /// so a file still being written is not read half; default 2.
    #[serde(default)]
    pub settle_s: Option<u32>,
}

fn yes() -> bool {
    true
}

/// The default zone of schedules: the German market's.
pub const DEFAULT_TIMEZONE: &str = "Europe/Berlin";

impl SourceSpec {
    /// A source with only what must be said; everything else by default.
    pub fn new(name: &str, target: Target, location: &str, schedule: &str) -> Self {
        Self {
            name: name.into(),
            target,
            location: location.into(),
            schedule: schedule.into(),
            timezone: None,
            enabled: true,
            pattern: None,
            connector: None,
            vpp_id: None,
            estimate: None,
            file_timezone: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            bearer_token: None,
            after: None,
            settle_s: None,
        }
    }

    /// Checks every field; the error names each one that is wrong.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut e = Errors::default();
        let name = self.name.as_str();
        e.check(!name.trim().is_empty() && name.len() <= 100, "name", "must be 1 to 100 characters");
        e.check(name.trim() == name, "name", "must not start or end with a space");
        let location = Location::parse(&self.location);
        if let Err(m) = &location {
            e.push("location", m.clone());
        }
        if let Err(m) = parse_cron(&self.schedule) {
            e.push("schedule", m);
        }
        for (field, zone) in [("timezone", &self.timezone), ("file_timezone", &self.file_timezone)] {
            if let Some(z) = zone
                && jiff::tz::TimeZone::get(z).is_err()
            {
                e.push(field, format!("`{z}` is not an IANA time zone such as Europe/Berlin"));
            }
        }
        if self.target.is_market() {
            e.check(
                self.connector.as_deref().is_some_and(|c| !c.trim().is_empty()),
                "connector",
                format!("is required for {} files: the file connector they go into", self.target.as_str()),
            );
        } else {
            e.check(self.connector.is_none(), "connector", "is only for market files");
        }
        e.check(self.vpp_id.is_none() || self.target == Target::Trades, "vpp_id", "is only for trades files");
        e.check(self.estimate.is_none() || self.target == Target::Imbalance, "estimate", "is only for imbalance files");
        let s3 = matches!(location, Ok(Location::S3 { .. }));
        let http = matches!(location, Ok(Location::Http { .. }));
        if let Some(p) = &self.pattern {
            e.check(!p.is_empty() && !p.contains('/'), "pattern", "must be a file name pattern such as *.csv");
            e.check(!http, "pattern", "a URL is one file; a pattern is for folders and buckets");
        }
        for (field, value) in [("endpoint", &self.endpoint), ("region", &self.region)] {
            e.check(value.is_none() || s3, field, "is only for s3:// locations");
        }
        if let Some(endpoint) = &self.endpoint {
            e.check(
                endpoint.starts_with("http://") || endpoint.starts_with("https://"),
                "endpoint",
                "must be an http(s):// URL",
            );
        }
        for (field, value) in [("access_key_id", &self.access_key_id), ("secret_access_key", &self.secret_access_key)] {
            if let Some(r) = value {
                e.check(s3, field, "is only for s3:// locations");
                if let Err(m) = secret_reference(r) {
                    e.push(field, m);
                }
            }
        }
        e.check(
            self.access_key_id.is_some() == self.secret_access_key.is_some(),
            "secret_access_key",
            "access_key_id and secret_access_key go together",
        );
        if let Some(r) = &self.bearer_token {
            e.check(http, "bearer_token", "is only for http(s):// locations");
            if let Err(m) = secret_reference(r) {
                e.push("bearer_token", m);
            }
        }
        e.check(!(http && self.after == Some(After::Move)), "after", "a file at a URL cannot be moved; use keep");
        e.check(self.settle_s.is_none_or(|s| s <= 3600), "settle_s", "must be at most 3600 seconds");
        e.finish(())
    }

    /// Where the files are (after [`validate`](Self::validate)).
    pub fn location(&self) -> Result<Location, Invalid> {
        Location::parse(&self.location).map_err(|m| Invalid::one("location", m))
    }

    /// What happens to a taken file.
    pub fn after(&self) -> After {
        match (self.after, Location::parse(&self.location)) {
            (Some(a), _) => a,
            (None, Ok(Location::Inbox { .. })) => After::Move,
            (None, _) => After::Keep,
        }
    }

    /// Seconds a file must be left unchanged before it is read.
    pub fn settle_s(&self) -> u32 {
        self.settle_s.unwrap_or(2)
    }

    /// Whether a file name is one of this source's: it matches the pattern,
    /// and is not a hidden or partial upload (`.name`, `*.part`, `*.tmp`, …).
    pub fn takes(&self, file_name: &str) -> bool {
        let lower = file_name.to_ascii_lowercase();
        let partial = file_name.starts_with('.')
            || [".part", ".partial", ".tmp", ".temp", ".crdownload", ".filepart", ".uploading", "~"]
                .iter()
                .any(|s| lower.ends_with(s));
        !partial && self.pattern.as_deref().is_none_or(|p| wildcard(p, file_name))
    }

    /// The first time the schedule fires after `after`, on the wall clock of
    /// its zone (a time the spring change skips fires at the hour after; the
    /// autumn change's repeated hour fires once).
    pub fn next_run(&self, after: Timestamp) -> Result<Timestamp, Invalid> {
        let cron = parse_cron(&self.schedule).map_err(|m| Invalid::one("schedule", m))?;
        let zone = self.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE);
        let tz = jiff::tz::TimeZone::get(zone).map_err(|e| Invalid::one("timezone", e.to_string()))?;
        let next = cron
            .find_next_occurrence(&after.to_zoned(tz), false)
            .map_err(|e| Invalid::one("schedule", format!("never fires: {e}")))?;
        Ok(next.timestamp())
    }
}

/// A secret reference a source may use: `file:/path`, or `env:NAME` where
/// NAME starts with `INGEST_` or `VPP_INGEST_`, so a source can never send
/// another setting of the server (its JWT secret, its database URL) to the
/// URL or bucket it names.
fn secret_reference(r: &str) -> Result<(), String> {
    crate::secret::check_reference(r)?;
    match r.strip_prefix("env:") {
        Some(name) if !(name.starts_with("INGEST_") || name.starts_with("VPP_INGEST_")) => {
            Err("an ingestion secret's environment variable must start with INGEST_ or VPP_INGEST_".into())
        }
        _ => Ok(()),
    }
}

fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    let fields = pattern.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!(
            "`{pattern}` has {fields} fields; a cron pattern has 5 (min hour day month weekday) or 6 (seconds first)"
        ));
    }
    croner::Cron::from_str(pattern).map_err(|e| format!("`{pattern}` is not a cron pattern: {e}"))
}

/// Whether `name` matches `pattern`, where `*` is any text and `?` one
/// character. Hand-written: a file-name filter is all a source needs, and a
/// glob crate would bring paths, classes and escapes nobody here uses.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with one backtrack point for the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Being imported now.
    Running,
    /// Every row went in.
    Imported,
    /// Some rows were refused (listed); the others went in.
    Partial,
    /// The file was refused as a whole; nothing went in.
    Refused,
    /// The location could not be read (no file was taken).
    Failed,
}

impl RunOutcome {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Imported => "imported",
            Self::Partial => "partial",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Imported, Self::Partial, Self::Refused, Self::Failed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One file taken from a source, or one look at a source that failed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IngestionRun {
    /// Run id.
    pub id: String,
    /// The source.
    pub source_id: String,
    /// The file's name (none when the location could not be read).
    pub file_name: Option<String>,
    /// SHA-256 of the file's bytes, hex.
    pub checksum: Option<String>,
    /// Bytes in the file.
    pub bytes: Option<u64>,
    /// When the file was taken (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When its import ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Rows (or contracts, assets, trades) that went in.
    pub accepted: u64,
    /// Rows refused.
    pub refused: u64,
    /// What happened, in a sentence, in the language the request asked
    /// for (`Accept-Language`); errors quoted from an importer stay English.
    pub message: String,
    /// The same as a code with its figures.
    pub content: RunMessage,
    /// The refused lines (at most 100), with their reasons.
    pub refused_lines: Vec<RowError>,
}

impl IngestionRun {
    /// The run with its message in `lang`.
    pub fn in_lang(mut self, lang: crate::lang::Lang) -> Self {
        self.message = self.content.render(lang);
        self
    }
}

/// What an ingestion run did: its code and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RunMessage {
    /// A series file went into an asset's power series.
    SeriesRows {
        /// Rows read.
        rows: u64,
        /// The series that took them.
        series: String,
        /// How the asset was found (English, e.g. `file name names asset id WP-07`).
        by: String,
        /// Rows new.
        new: u64,
        /// Rows already stored.
        duplicates: u64,
        /// Rows refused.
        refused: u64,
    },
    /// A technical-data file.
    TechnicalData {
        /// Assets added.
        added: u64,
        /// Assets changed.
        changed: u64,
        /// Assets unchanged.
        unchanged: u64,
        /// Assets absent from the file.
        absent: u64,
    },
    /// A contracts file.
    Contracts {
        /// Contract versions read.
        versions: u64,
        /// New ones.
        new: u64,
        /// Updated ones.
        updated: u64,
    },
    /// A redispatch-compensation file.
    Compensation {
        /// Rows read.
        rows: u64,
        /// Assets priced.
        assets: u64,
    },
    /// An exchange file (prices, trades, public trades, imbalance).
    Exchange {
        /// Rows read.
        rows: u64,
        /// Trades stored.
        trades: u64,
        /// Price quarter-hours stored.
        quarter_hours: u64,
    },
    /// Every refused line is listed; nothing went in.
    RefusedLines {
        /// Lines refused.
        count: u64,
    },
    /// The file was refused as a whole.
    Refused {
        /// The importer's reason (English, verbatim).
        detail: String,
    },
    /// The server failed, not the file; its log says why.
    ServerFailed,
    /// The location or file could not be read: the alert it raised.
    Alert {
        /// The alert's message.
        alert: crate::alert_message::AlertMessage,
    },
    /// Free text (runs stored before messages had codes).
    Text {
        /// The text.
        text: String,
    },
}

impl RunMessage {
    /// The message in `lang`.
    pub fn render(&self, lang: crate::lang::Lang) -> String {
        let zh = lang == crate::lang::Lang::Zh;
        match self {
            Self::SeriesRows { rows, series, by, new, duplicates, refused } => {
                if zh {
                    format!("{rows} 行写入序列 {series}；新增 {new}，已存在 {duplicates}，拒绝 {refused}")
                } else {
                    format!(
                        "{rows} rows into series {series} ({by}); {new} new, {duplicates} already stored, {refused} refused"
                    )
                }
            }
            Self::TechnicalData { added, changed, unchanged, absent } => {
                if zh {
                    format!(
                        "技术数据：新增 {added} 项资产，变更 {changed} 项，未变 {unchanged} 项，文件中缺少 {absent} 项"
                    )
                } else {
                    format!(
                        "technical data: {added} assets added, {changed} changed, {unchanged} unchanged, {absent} absent from the file"
                    )
                }
            }
            Self::Contracts { versions, new, updated } => {
                if zh {
                    format!("{versions} 个合同版本，新增 {new}，更新 {updated}")
                } else {
                    format!("{versions} contract versions, {new} new, {updated} updated")
                }
            }
            Self::Compensation { rows, assets } => {
                if zh {
                    format!("{rows} 行：{assets} 项资产的补偿价格")
                } else {
                    format!("{rows} rows: compensation prices for {assets} assets")
                }
            }
            Self::Exchange { rows, trades, quarter_hours } => {
                if zh {
                    format!("{rows} 行：{trades} 笔成交，{quarter_hours} 个一刻钟价格")
                } else {
                    format!("{rows} rows: {trades} trades, {quarter_hours} price quarter-hours")
                }
            }
            Self::RefusedLines { count } => {
                if zh {
                    format!("拒绝 {count} 行，未导入任何数据")
                } else {
                    format!("{count} refused lines, nothing imported")
                }
            }
            Self::Refused { detail } => {
                if zh {
                    format!("文件被拒绝：{detail}")
                } else {
                    detail.clone()
                }
            }
            Self::ServerFailed => {
                if zh { "服务器出错，详见其日志" } else { "the server failed; see its log" }.into()
            }
            Self::Alert { alert } => alert.render(lang),
            Self::Text { text } => text.clone(),
        }
    }

    /// The message as stored: its JSON if it has one (and it reads), else
    /// the stored text.
    pub fn from_stored(json: Option<&str>, text: &str) -> RunMessage {
        json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_else(|| Self::Text { text: text.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(location: &str, target: Target) -> SourceSpec {
        SourceSpec::new("meter", target, location, "45 12 * * *")
    }

    fn fields(e: Invalid) -> Vec<String> {
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn locations_are_folders_urls_and_buckets() {
        assert_eq!(Location::parse("/srv/inbox/").unwrap(), Location::Inbox { path: "/srv/inbox".into() });
        assert_eq!(Location::parse("file:///srv/in/").unwrap(), Location::Inbox { path: "/srv/in".into() });
        assert_eq!(
            Location::parse("s3://dso-files/meter/final/").unwrap(),
            Location::S3 { bucket: "dso-files".into(), prefix: "meter/final".into() }
        );
        assert!(matches!(Location::parse("https://dso.example/m.csv").unwrap(), Location::Http { .. }));
        for bad in ["inbox", "./inbox", "s3://A", "https://", "ftp://x/y", "/", "/tmp", "/etc/vpp", "/srv/../etc/x"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_source_names_every_wrong_field() {
        let mut s = spec("/srv/inbox", Target::Prices);
        s.schedule = "every day".into();
        s.timezone = Some("Mars/Base".into());
        s.bearer_token = Some("hunter2".into());
        s.vpp_id = Some("v".into());
        let f = fields(s.validate().unwrap_err());
        for want in ["schedule", "timezone", "connector", "bearer_token", "vpp_id"] {
            assert!(f.contains(&want.to_string()), "{want} in {f:?}");
        }
        let mut s = spec("s3://bucket", Target::Contracts);
        s.access_key_id = Some("env:VPP_JWT_SECRET".into());
        assert_eq!(fields(s.validate().unwrap_err()), ["access_key_id", "secret_access_key"]);
        s.access_key_id = Some("env:INGEST_KEY".into());
        assert_eq!(fields(s.validate().unwrap_err()), ["secret_access_key"]);
        s.secret_access_key = Some("file:/run/secrets/s3".into());
        s.endpoint = Some("http://127.0.0.1:9000".into());
        s.validate().unwrap();
        let mut s = spec("https://dso.example/m.csv", Target::Series);
        s.after = Some(After::Move);
        assert_eq!(fields(s.validate().unwrap_err()), ["after"]);
        assert_eq!(spec("/srv/in", Target::Series).after(), After::Move);
        assert_eq!(spec("s3://bucket", Target::Series).after(), After::Keep);
    }

    #[test]
    fn the_schedule_runs_on_the_zones_wall_clock() {
        let s = spec("/srv/in", Target::TechnicalData);
        // 12:45 Berlin is 10:45 UTC in summer and 11:45 UTC in winter.
        let summer: Timestamp = "2025-06-08T11:00:00Z".parse().unwrap();
        assert_eq!(s.next_run(summer).unwrap().to_string(), "2025-06-09T10:45:00Z");
        let winter: Timestamp = "2025-12-08T09:00:00Z".parse().unwrap();
        assert_eq!(s.next_run(winter).unwrap().to_string(), "2025-12-08T11:45:00Z");
        let mut every = spec("/srv/in", Target::Series);
        every.schedule = "*/5 * * * * *".into();
        let t: Timestamp = "2025-06-08T11:00:02Z".parse().unwrap();
        assert_eq!(every.next_run(t).unwrap().to_string(), "2025-06-08T11:00:05Z");
        let mut sunday = spec("/srv/in", Target::Contracts);
        sunday.schedule = "0 7 * * SUN".into();
        // 2025-06-08 is a Sunday; after its 07:00 the next is a week later.
        let t: Timestamp = "2025-06-08T06:00:00Z".parse().unwrap();
        assert_eq!(sunday.next_run(t).unwrap().to_string(), "2025-06-15T05:00:00Z");
    }

    #[test]
    fn patterns_match_file_names() {
        assert!(wildcard("*.csv", "WP-07_meter.csv"));
        assert!(!wildcard("*.csv", "WP-07_meter.csv.part"));
        assert!(wildcard("WP-??_*", "WP-07_live.csv"));
        assert!(wildcard("*meter*final*", "x_meter_y_final.csv"));
        assert!(!wildcard("*meter*final*", "x_final_meter.csv"));
        assert!(wildcard("*", ""));
        assert!(Target::TechnicalData.rank() < Target::Contracts.rank());
        assert!(Target::Contracts.rank() < Target::Series.rank() && Target::Series.rank() < Target::Trades.rank());
        let s = spec("/srv/in", Target::Series);
        assert!(s.takes("WP-07.csv") && !s.takes(".WP-07.csv.x3Fa") && !s.takes("WP-07.csv.part"));
    }
}
