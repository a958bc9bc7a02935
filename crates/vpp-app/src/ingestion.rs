//! Scheduled ingestion: vpp looks at each source (an inbox folder, an
//! HTTP(S) URL, an S3-compatible bucket) when its cron schedule says, takes
//! each new file once (by name and SHA-256), hands it to the source's
//! importer, records the run, moves an inbox file into `done/` or
//! `failed/`, and raises an `ingestion_failed` alert with the refused lines
//! of a file that did not wholly go in.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};
use vpp_domain::alert::{AlertMessage, AlertRule};
use vpp_domain::ingestion::{After, IngestionRun, Location, RunMessage, RunOutcome, SourceSpec, Target};
use vpp_domain::series_import::RowError;
use vpp_domain::techdata::TechnicalDataFile;
use vpp_store::{Claim, IngestionSource, RunEnd, Store};

use crate::error::{AppError, AppResult};
use crate::exchange_files::{ExchangeFileQuery, import_exchange_file};
use crate::series::{ImportQuery, Outcome};

/// The largest file a source takes (bigger ones are reported, not read).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Checks a source and the things it names (its connector, VPP, inbox folder).
async fn check(store: &Store, spec: &SourceSpec) -> AppResult<Location> {
    spec.validate()?;
    if let Some(c) = &spec.connector {
        let found = store.list_connectors().await?.into_iter().find(|x| &x.id == c || &x.name == c);
        match found {
            None => return Err(AppError::invalid("connector", format!("no market connector `{c}` (id or name)"))),
            Some(x) if x.kind != vpp_domain::market::connector::ConnectorKind::File => {
                return Err(AppError::invalid(
                    "connector",
                    format!("`{c}` is a {} connector; files go into a file connector", x.kind.as_str()),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(v) = &spec.vpp_id {
        store.get_vpp(v).await.map_err(crate::error::dangling("vpp_id", "vpp", v))?;
    }
    let location = spec.location()?;
    if let Location::Inbox { path } = &location
        && !std::path::Path::new(path).is_dir()
    {
        return Err(AppError::invalid("location", format!("there is no folder `{path}` on the server")));
    }
    Ok(location)
}

/// Adds a source; it is first due when its schedule next fires.
pub async fn create_source(store: &Store, spec: &SourceSpec) -> AppResult<IngestionSource> {
    check(store, spec).await?;
    let next = spec.next_run(vpp_store::now())?;
    Ok(store.create_ingestion_source(spec, next).await?)
}

/// Replaces a source's configuration (by id or name).
pub async fn update_source(store: &Store, id: &str, spec: &SourceSpec) -> AppResult<IngestionSource> {
    let old = store.get_ingestion_source(id).await?;
    check(store, spec).await?;
    let next = spec.next_run(vpp_store::now())?;
    let source = store.update_ingestion_source(&old.id, spec, next).await?;
    // Alerts under its old name, or of a source turned off, would never clear.
    if old.spec.name != spec.name || !spec.enabled {
        resolve_alerts(store, &old.spec.name).await?;
    }
    Ok(source)
}

/// Removes a source (by id or name) and its runs, and resolves its alerts.
pub async fn delete_source(store: &Store, id: &str) -> AppResult<()> {
    let source = store.get_ingestion_source(id).await?;
    store.delete_ingestion_source(&source.id).await?;
    resolve_alerts(store, &source.spec.name).await
}

/// Resolves the open alerts of a source and of its files.
async fn resolve_alerts(store: &Store, name: &str) -> AppResult<()> {
    let filter = vpp_store::AlertFilter { rule: Some(AlertRule::IngestionFailed), limit: 10_000, ..Default::default() };
    let prefix = format!("{name}: ");
    for a in store.list_alerts(&filter).await? {
        if a.subject == name || a.subject.starts_with(&prefix) {
            store.clear_alert(AlertRule::IngestionFailed, &a.subject).await?;
        }
    }
    Ok(())
}

/// Looks at every due source once, each taken by one looker only.
pub async fn run_due(store: &Store, now: Timestamp) -> AppResult<Vec<IngestionRun>> {
    let mut runs = Vec::new();
    let mut due = store.due_ingestion_sources(now).await?;
    // Sources due together: the assets before the files that name them.
    due.sort_by_key(|s| (s.spec.target.rank(), s.next_run_at));
    for source in due {
        let next = match source.spec.next_run(now) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(source = %source.spec.name, error = %AppError::from(e), "schedule never fires");
                continue;
            }
        };
        if store.take_ingestion_run(&source.id, source.next_run_at, next).await? {
            let look = look(store, &source).await?;
            // A file still being written, or a location that failed, is
            // looked at again soon, not only at the next fire.
            if let Some(after) = look.again_in {
                store.hasten_ingestion_source(&source.id, vpp_store::now() + after).await?;
            }
            runs.extend(look.runs);
        }
    }
    Ok(runs)
}

/// A file found at a location.
struct Found {
    name: String,
    path: Option<ObjectPath>,
    bytes: Option<Vec<u8>>,
    size: u64,
    modified: Option<Timestamp>,
}

/// What one look at a source did.
#[derive(Debug)]
pub struct Look {
    /// The runs of this look.
    pub runs: Vec<IngestionRun>,
    /// Files left for the next look because they changed in the last `settle_s` seconds.
    pub unsettled: usize,
    /// Look again this soon (files not yet settled, or the location failed).
    again_in: Option<SignedDuration>,
}

/// Looks at a source now: every new file in it goes to its importer.
/// Returns the runs of this look (none when nothing new was there).
pub async fn run_source(store: &Store, source: &IngestionSource) -> AppResult<Vec<IngestionRun>> {
    Ok(look(store, source).await?.runs)
}

/// Looks at a source now, saying also how many files were left unsettled.
pub async fn look(store: &Store, source: &IngestionSource) -> AppResult<Look> {
    let spec = &source.spec;
    let location = spec.location()?;
    let objects = match &location {
        Location::Http { .. } => None,
        _ => match object_store(&location, spec) {
            Ok(o) => Some(o),
            Err(reason) => return failed_look(store, source, &reason).await,
        },
    };
    let (found, unsettled) = match list(&location, spec, objects.as_ref()).await {
        Ok(f) => f,
        Err(reason) => return failed_look(store, source, &reason).await,
    };
    store.clear_alert(AlertRule::IngestionFailed, &spec.name).await?;
    let mut runs = Vec::new();
    for file in found {
        if let Some(run) = take(store, source, objects.as_ref(), file).await? {
            runs.push(run);
        }
    }
    let again_in = (unsettled > 0).then(|| SignedDuration::from_secs(i64::from(spec.settle_s().max(1))));
    Ok(Look { runs, unsettled, again_in })
}

/// A location that could not be read: an alert, and a run when the alert is
/// new (a location down for a day is one run, its alert counting the looks).
async fn failed_look(store: &Store, source: &IngestionSource, reason: &str) -> AppResult<Look> {
    let message =
        AlertMessage::IngestionUnreadable { location: source.spec.location.clone(), error: reason.to_string() };
    let runs = failure(store, &source.id, &source.spec.name, None, message).await?.into_iter().collect();
    Ok(Look { runs, unsettled: 0, again_in: Some(SignedDuration::from_mins(1)) })
}

/// A failure of a location or a file: its alert, and a failed run when the
/// alert is new (a failure lasting many looks is one run, its alert counting them).
async fn failure(
    store: &Store,
    source_id: &str,
    subject: &str,
    file_name: Option<&str>,
    message: AlertMessage,
) -> AppResult<Option<IngestionRun>> {
    let (alert, new) = store.raise_alert(AlertRule::IngestionFailed, subject, message).await?;
    Ok(if new {
        let message = RunMessage::Alert { alert: alert.content };
        Some(store.record_ingestion_failure(source_id, file_name, &message).await?)
    } else {
        None
    })
}

/// The files at a location that the source takes and that have settled,
/// and how many have not settled yet.
async fn list(
    location: &Location,
    spec: &SourceSpec,
    objects: Option<&Objects>,
) -> Result<(Vec<Found>, usize), String> {
    let (objects, prefix) = match (location, objects) {
        (Location::Http { url }, _) => {
            let body = fetch(url, spec).await?;
            let size = body.len() as u64;
            let found = Found { name: url_file_name(url), path: None, bytes: Some(body), size, modified: None };
            return Ok((vec![found], 0));
        }
        (_, Some(o)) => o,
        (_, None) => return Err("no object store".into()),
    };
    let listed = objects.list_with_delimiter(prefix.as_ref()).await.map_err(|e| e.to_string())?;
    let settled_before = vpp_store::now().as_microsecond() - i64::from(spec.settle_s()) * 1_000_000;
    let mut unsettled = 0;
    let mut out = Vec::new();
    for o in listed.objects {
        let Some(name) = o.location.filename().map(str::to_string) else { continue };
        if !spec.takes(&name) {
            continue;
        }
        let modified = o.last_modified.timestamp_micros();
        if modified > settled_before {
            unsettled += 1;
            continue;
        }
        let modified = Timestamp::from_microsecond(modified).ok();
        out.push(Found { name, path: Some(o.location), bytes: None, size: o.size, modified });
    }
    // Oldest name first: the order files of one day were delivered in, when
    // their names carry it.
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, unsettled))
}

/// The file name of a URL: its last path segment, percent-decoded, else `download`.
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.split_once("://").map_or(path, |(_, rest)| rest);
    let last = after_host.split_once('/').map_or("", |(_, p)| p.rsplit('/').next().unwrap_or(""));
    let bytes = last.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    let name = String::from_utf8_lossy(&out).replace('/', "_");
    if name.trim().is_empty() { "download".into() } else { name }
}

async fn fetch(url: &str, spec: &SourceSpec) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| e.to_string())?;
    let mut request = client.get(url);
    if let Some(r) = &spec.bearer_token {
        request = request.bearer_auth(vpp_domain::secret::resolve(r).map_err(|e| format!("bearer_token: {e}"))?);
    }
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the server answered {}", response.status()));
    }
    let too_big = || format!("the file is over {MAX_FILE_BYTES} bytes");
    if response.content_length().is_some_and(|n| n > MAX_FILE_BYTES) {
        return Err(too_big());
    }
    // Read in chunks, so a server that sends no length cannot fill the memory.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if (body.len() + chunk.len()) as u64 > MAX_FILE_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

type Objects = (Arc<dyn ObjectStore>, Option<ObjectPath>);

fn object_store(location: &Location, spec: &SourceSpec) -> Result<Objects, String> {
    match location {
        Location::Inbox { path } => {
            let fs = object_store::local::LocalFileSystem::new_with_prefix(path).map_err(|e| e.to_string())?;
            Ok((Arc::new(fs), None))
        }
        Location::S3 { bucket, prefix } => {
            let mut b = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(spec.region.clone().unwrap_or_else(|| "us-east-1".into()));
            if let Some(endpoint) = &spec.endpoint {
                b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            }
            match (&spec.access_key_id, &spec.secret_access_key) {
                (Some(id), Some(secret)) => {
                    let id = vpp_domain::secret::resolve(id).map_err(|e| format!("access_key_id: {e}"))?;
                    let secret = vpp_domain::secret::resolve(secret).map_err(|e| format!("secret_access_key: {e}"))?;
                    b = b.with_access_key_id(id).with_secret_access_key(secret);
                }
                // A public bucket: requests go unsigned.
                _ => b = b.with_skip_signature(true),
            }
            let s3 = b.build().map_err(|e| e.to_string())?;
            let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.as_str()));
            Ok((Arc::new(s3), prefix))
        }
        Location::Http { .. } => Err("a URL is fetched, not listed".into()),
    }
}

/// Takes one file: claims it by name and checksum, imports it, records how
/// it went, moves it if the source says so, and alerts when it did not
/// wholly go in. `None` when it was taken before.
async fn take(
    store: &Store,
    source: &IngestionSource,
    objects: Option<&Objects>,
    file: Found,
) -> AppResult<Option<IngestionRun>> {
    let spec = &source.spec;
    let subject = subject(spec, &file.name);
    // An unchanged file left in place (`keep`) is not downloaded again.
    if let Some(modified) = file.modified
        && spec.after() == After::Keep
        && store.ingested_since(&source.id, &file.name, file.size, modified).await?
    {
        return Ok(None);
    }
    if file.size > MAX_FILE_BYTES {
        let message =
            AlertMessage::IngestionTooLarge { file: file.name.clone(), bytes: file.size, limit: MAX_FILE_BYTES };
        return failure(store, &source.id, &subject, Some(&file.name), message).await;
    }
    let body = match (file.bytes, objects, &file.path) {
        (Some(b), _, _) => Ok(b),
        (None, Some((o, _)), Some(path)) => match o.get(path).await {
            Ok(got) => got.bytes().await.map(|b| b.to_vec()),
            Err(e) => Err(e),
        },
        _ => return Ok(None),
    };
    let body = match body {
        Ok(b) => b,
        // Moved or deleted since it was listed (another look took it).
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        // One file that cannot be read stops none of the others.
        Err(e) => {
            let message = AlertMessage::IngestionUnreadable { location: file.name.clone(), error: e.to_string() };
            return failure(store, &source.id, &subject, Some(&file.name), message).await;
        }
    };
    let checksum = hex(&Sha256::digest(&body));
    // Delivered again into a folder it is moved out of: an operator put it
    // back after fixing what refused it, so a refused file is taken again.
    let retake = spec.after() == After::Move;
    let run = match store.claim_ingestion_file(&source.id, &file.name, &checksum, body.len() as u64, retake).await? {
        Claim::Taken(run) => run,
        Claim::Held(held) => {
            // Delivered again unchanged: out of the inbox too, where its first
            // delivery went; one still being imported is left to that look.
            let folder = match held.outcome {
                RunOutcome::Running => return Ok(None),
                RunOutcome::Refused | RunOutcome::Failed => "failed",
                RunOutcome::Imported | RunOutcome::Partial => "done",
            };
            move_taken(spec, objects, file.path.as_ref(), folder).await;
            return Ok(None);
        }
    };
    let end = import(store, spec, &file.name, &body).await;
    let run = store.finish_ingestion_run(&run.id, &end).await?;
    tracing::info!(source = %spec.name, file = %file.name, outcome = run.outcome.as_str(), accepted = run.accepted,
        refused = run.refused, "ingested");
    match end.outcome {
        RunOutcome::Refused | RunOutcome::Partial | RunOutcome::Failed => {
            let lines = end
                .refused_lines
                .iter()
                .take(5)
                .map(|l| vpp_domain::alert_message::RefusedLine { line: l.line as u64, reason: l.reason.clone() })
                .collect();
            store
                .raise_alert(
                    AlertRule::IngestionFailed,
                    &subject,
                    AlertMessage::IngestionRefused {
                        outcome: end.outcome.as_str().to_string(),
                        accepted: end.accepted,
                        refused: end.refused,
                        verdict: end.message.render(vpp_domain::lang::Lang::En),
                        lines,
                    },
                )
                .await?;
        }
        _ => {
            store.clear_alert(AlertRule::IngestionFailed, &subject).await?;
        }
    }
    // A file the platform failed on stays where it is, for the next look.
    let folder = match end.outcome {
        RunOutcome::Failed => None,
        RunOutcome::Refused => Some("failed"),
        _ => Some("done"),
    };
    if let Some(folder) = folder {
        move_taken(spec, objects, file.path.as_ref(), folder).await;
    }
    Ok(Some(run))
}

/// Moves a taken file into `folder` beside it, when the source says so.
async fn move_taken(spec: &SourceSpec, objects: Option<&Objects>, path: Option<&ObjectPath>, folder: &str) {
    let (Some((o, prefix)), Some(path)) = (objects, path) else { return };
    if spec.after() != After::Move {
        return;
    }
    // The listed name part as it is (a name string would be encoded again).
    let Some(name) = path.parts().last() else { return };
    let to = match prefix {
        Some(p) => p.child(folder).child(name),
        None => ObjectPath::from(folder).child(name),
    };
    if let Err(e) = o.rename(path, &to).await {
        tracing::warn!(file = %path, error = %e, "the ingested file could not be moved; its run marks it taken");
    }
}

fn subject(spec: &SourceSpec, file_name: &str) -> String {
    format!("{}: {file_name}", spec.name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hands a file to the source's importer; how it went, never an error.
async fn import(store: &Store, spec: &SourceSpec, file_name: &str, body: &[u8]) -> RunEnd {
    let refused = |message: RunMessage, lines: Vec<RowError>| RunEnd {
        outcome: RunOutcome::Refused,
        accepted: 0,
        refused: lines.len() as u64,
        message,
        refused_lines: lines,
    };
    let failed = |e: AppError| match e {
        AppError::RejectedFile(lines) => refused(RunMessage::RefusedLines { count: lines.len() as u64 }, lines),
        // Not the file's fault: the next look tries it again.
        AppError::Internal(detail) => {
            tracing::error!(file = file_name, %detail, "ingestion failed");
            RunEnd { outcome: RunOutcome::Failed, ..refused(RunMessage::ServerFailed, vec![]) }
        }
        AppError::Store(
            e @ (vpp_store::StoreError::Database(_)
            | vpp_store::StoreError::Migrate(_)
            | vpp_store::StoreError::Corrupt(_)),
        ) => {
            tracing::error!(file = file_name, error = %e, "ingestion failed");
            RunEnd { outcome: RunOutcome::Failed, ..refused(RunMessage::ServerFailed, vec![]) }
        }
        other => {
            let field = other.field().map(|f| format!(" ({f})")).unwrap_or_default();
            refused(RunMessage::Refused { detail: format!("{other}{field}") }, vec![])
        }
    };
    let complete = |accepted: u64, message: RunMessage| RunEnd {
        outcome: RunOutcome::Imported,
        accepted,
        refused: 0,
        message,
        refused_lines: vec![],
    };
    match spec.target {
        Target::Series => {
            let q = ImportQuery { timezone: spec.file_timezone.clone(), ..Default::default() };
            match crate::routing::import_routed(store, file_name, body, &q).await {
                Ok(r) => {
                    let rep = &r.report;
                    RunEnd {
                        outcome: if rep.outcome == Outcome::Complete {
                            RunOutcome::Imported
                        } else {
                            RunOutcome::Partial
                        },
                        accepted: rep.accepted,
                        refused: rep.rejected.len() as u64,
                        message: RunMessage::SeriesRows {
                            rows: rep.rows as u64,
                            series: r.routed.series_id.clone(),
                            by: r.routed.by.clone(),
                            new: rep.accepted,
                            duplicates: rep.duplicates,
                            refused: rep.rejected.len() as u64,
                        },
                        refused_lines: rep.rejected.clone(),
                    }
                }
                Err(e) => failed(e),
            }
        }
        Target::TechnicalData => {
            let file: TechnicalDataFile = match crate::json::parse(body) {
                Ok(f) => f,
                Err(e) => return failed(e),
            };
            match crate::routing::import_technical_data(store, file_name, file, false).await {
                Ok(r) => complete(
                    (r.added.len() + r.changed.len() + r.unchanged_count) as u64,
                    RunMessage::TechnicalData {
                        added: r.added.len() as u64,
                        changed: r.changed.len() as u64,
                        unchanged: r.unchanged_count as u64,
                        absent: r.missing.len() as u64,
                    },
                ),
                Err(e) => failed(e),
            }
        }
        Target::Contracts => match vpp_domain::market::invoice::parse_contracts(body) {
            Err(lines) => refused(RunMessage::RefusedLines { count: lines.len() as u64 }, lines),
            Ok(contracts) => match store.import_contracts(&contracts).await {
                Ok((added, updated)) => complete(
                    (added + updated) as u64,
                    RunMessage::Contracts {
                        versions: contracts.len() as u64,
                        new: added as u64,
                        updated: updated as u64,
                    },
                ),
                Err(e) => failed(e.into()),
            },
        },
        Target::RedispatchCompensation => {
            match crate::redispatch::import_compensation(store, file_name, body, spec.file_timezone.as_deref()).await {
                Ok(r) => complete(
                    r.assets.values().sum(),
                    RunMessage::Compensation { rows: r.rows as u64, assets: r.assets.len() as u64 },
                ),
                Err(e) => failed(e),
            }
        }
        Target::Prices | Target::Trades | Target::PublicTrades | Target::Imbalance => {
            let q = ExchangeFileQuery {
                kind: spec.target.as_str().into(),
                vpp_id: spec.vpp_id.clone(),
                estimate: spec.estimate,
                timezone: spec.file_timezone.clone(),
            };
            let connector = spec.connector.as_deref().unwrap_or_default();
            match import_exchange_file(store, connector, &q, body).await {
                Ok(r) => complete(
                    (r.trades as u64).max(r.beliefs),
                    RunMessage::Exchange { rows: r.rows as u64, trades: r.trades as u64, quarter_hours: r.beliefs },
                ),
                Err(e) => failed(e),
            }
        }
    }
}

/// Looks at due sources every `tick` until the task is dropped.
pub fn spawn_ingestion_job(store: Arc<Store>, tick: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = run_due(&store, vpp_store::now()).await {
                tracing::error!(error = %e, "scheduled ingestion failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_file_by_its_last_segment() {
        assert_eq!(url_file_name("https://dso.example/files/WP-07%20meter.csv?token=x"), "WP-07 meter.csv");
        assert_eq!(url_file_name("https://dso.example"), "download");
        assert_eq!(url_file_name("https://dso.example/dir/"), "download");
        assert_eq!(url_file_name("http://h/a%2Fb.csv"), "a_b.csv");
    }
}
