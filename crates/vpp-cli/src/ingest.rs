//! `vpp ingest`: ingestion sources (inbox folders, URLs, S3-compatible
//! buckets that `vpp serve` looks at on their schedule) and their runs.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use vpp_domain::ingestion::{IngestionRun, SourceSpec};

use crate::config::Config;
use crate::{api_error, open_store};

#[derive(Debug, Subcommand)]
pub(crate) enum IngestCommand {
    /// Add a source that `vpp serve` looks at when its schedule fires.
    Add(Box<AddArgs>),
    /// List the sources, with when each is next looked at.
    List,
    /// Look at a source now (all sources if none is named), whatever its schedule; prints each file's run.
    Run {
        /// Source id or name.
        source: Option<String>,
    },
    /// What came in, newest first.
    Runs {
        /// Of one source (id or name).
        #[arg(long)]
        source: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Remove a source and its runs (its files stay).
    Remove {
        /// Source id or name.
        source: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct AddArgs {
    /// Unique name.
    #[arg(long)]
    name: String,
    /// Importer: series (each file to the asset it names), technical_data, contracts, prices, trades,
    /// public_trades, imbalance or redispatch_compensation.
    #[arg(long)]
    target: String,
    /// A folder (relative paths are made absolute), an http(s):// URL or s3://bucket/prefix.
    #[arg(long)]
    location: String,
    /// Cron pattern: `min hour day month weekday`, or with seconds first (`*/5 * * * * *` every 5 s).
    #[arg(long)]
    schedule: String,
    /// Zone of the schedule (default Europe/Berlin).
    #[arg(long)]
    timezone: Option<String>,
    /// Only file names matching this (`*` any text, `?` one character).
    #[arg(long)]
    pattern: Option<String>,
    /// Market targets: the file connector (id or name).
    #[arg(long)]
    connector: Option<String>,
    /// Trades: the VPP they belong to.
    #[arg(long)]
    vpp: Option<String>,
    /// Imbalance prices are estimates.
    #[arg(long)]
    estimate: bool,
    /// Zone of file times without an offset.
    #[arg(long)]
    file_timezone: Option<String>,
    /// S3: endpoint of an S3-compatible store.
    #[arg(long)]
    endpoint: Option<String>,
    /// S3: region.
    #[arg(long)]
    region: Option<String>,
    /// S3: access key id as a secret reference (env:NAME or file:/path).
    #[arg(long)]
    access_key_id: Option<String>,
    /// S3: secret access key as a secret reference.
    #[arg(long)]
    secret_access_key: Option<String>,
    /// HTTP(S): bearer token as a secret reference.
    #[arg(long)]
    bearer_token: Option<String>,
    /// `move` taken files into done/ or failed/, or `keep` them.
    #[arg(long)]
    after: Option<String>,
    /// Seconds a file must be unchanged before it is read (default 2).
    #[arg(long)]
    settle_s: Option<u32>,
    /// Add it disabled.
    #[arg(long)]
    disabled: bool,
}

fn word<T: serde::de::DeserializeOwned>(flag: &str, value: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(value.into()))
        .map_err(|_| anyhow::anyhow!("--{flag} `{value}` is not one of its values (see --help)"))
}

fn absolute(location: &str) -> anyhow::Result<String> {
    if location.contains("://") || location.starts_with('/') {
        return Ok(location.into());
    }
    let path = std::path::absolute(Path::new(location)).with_context(|| format!("the folder {location}"))?;
    Ok(path.to_string_lossy().into_owned())
}

pub(crate) async fn ingest_command(config: &Config, cmd: IngestCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        IngestCommand::Add(a) => {
            let spec = SourceSpec {
                name: a.name,
                target: word("target", &a.target)?,
                location: absolute(&a.location)?,
                schedule: a.schedule,
                timezone: a.timezone,
                enabled: !a.disabled,
                pattern: a.pattern,
                connector: a.connector,
                vpp_id: a.vpp,
                estimate: a.estimate.then_some(true),
                file_timezone: a.file_timezone,
                endpoint: a.endpoint,
                region: a.region,
                access_key_id: a.access_key_id,
                secret_access_key: a.secret_access_key,
                bearer_token: a.bearer_token,
                after: a.after.as_deref().map(|v| word("after", v)).transpose()?,
                settle_s: a.settle_s,
            };
            let source = vpp_app::ingestion::create_source(&store, &spec).await.map_err(|e| api_error(e, "source"))?;
            println!("added `{}` ({}); first look at {}", source.spec.name, source.id, source.next_run_at);
        }
        IngestCommand::List => {
            for s in store.list_ingestion_sources().await? {
                println!(
                    "{:<24} {:<15} {:<8} next {}  {}  `{}`",
                    s.spec.name,
                    s.spec.target.as_str(),
                    if s.spec.enabled { "enabled" } else { "disabled" },
                    s.next_run_at,
                    s.spec.location,
                    s.spec.schedule
                );
            }
        }
        IngestCommand::Run { source } => {
            let mut sources = match source {
                Some(id) => vec![store.get_ingestion_source(&id).await?],
                None => store.list_ingestion_sources().await?.into_iter().filter(|s| s.spec.enabled).collect(),
            };
            // The assets before the files that name them.
            sources.sort_by_key(|s| s.spec.target.rank());
            let mut refused = 0;
            for s in &sources {
                let look = vpp_app::ingestion::look(&store, s).await.map_err(|e| api_error(e, "source"))?;
                let runs = look.runs;
                if look.unsettled > 0 {
                    println!(
                        "{}: {} files changed in the last {} s are left for the next look",
                        s.spec.name,
                        look.unsettled,
                        s.spec.settle_s()
                    );
                } else if runs.is_empty() {
                    println!("{}: nothing new", s.spec.name);
                }
                for r in &runs {
                    println!("{}: {}", s.spec.name, line(r));
                    refused += usize::from(matches!(
                        r.outcome,
                        vpp_domain::ingestion::RunOutcome::Refused | vpp_domain::ingestion::RunOutcome::Failed
                    ));
                }
            }
            if refused > 0 {
                anyhow::bail!("{refused} files or looks failed (see `vpp ingest runs` and the alerts)");
            }
        }
        IngestCommand::Runs { source, limit } => {
            let source_id = match source {
                Some(id) => Some(store.get_ingestion_source(&id).await?.id),
                None => None,
            };
            let filter = vpp_store::RunFilter { source_id, outcome: None, limit: Some(limit) };
            for r in store.list_ingestion_runs(&filter).await? {
                println!("{}  {}", r.started_at, line(&r));
            }
        }
        IngestCommand::Remove { source } => {
            vpp_app::ingestion::delete_source(&store, &source).await.map_err(|e| api_error(e, "source"))?;
            println!("removed `{source}`");
        }
    }
    Ok(())
}

/// A run in one line: file, outcome, counts, message, the first refused lines.
fn line(r: &IngestionRun) -> String {
    let mut out = format!(
        "{} {} ({} in, {} refused) {}",
        r.file_name.as_deref().unwrap_or("-"),
        r.outcome.as_str(),
        r.accepted,
        r.refused,
        r.content.render(crate::output::lang())
    );
    for l in r.refused_lines.iter().take(3) {
        out.push_str(&format!("\n    line {}: {}", l.line, l.reason));
    }
    out
}
