//! `vpp import series`: files or folders of files, into one series or each
//! into the asset it names (see `vpp_app::routing`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::args::SeriesImportArgs;
use crate::config::Config;
use crate::{api_error, open_store, progress_printer};

/// The files of `paths`: files as given, folders as their files in name
/// order (not hidden ones, not sub-folders).
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading the folder {}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && !f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                .collect();
            files.sort();
            if files.is_empty() {
                anyhow::bail!("the folder {} holds no files", p.display());
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub(crate) async fn import_series(config: &Config, args: SeriesImportArgs) -> anyhow::Result<()> {
    let time_unit = args
        .time_unit
        .as_deref()
        .map(|u| vpp_domain::delivered::TimeUnit::parse(u).with_context(|| format!("--time-unit `{u}` is not s or ms")))
        .transpose()?;
    let on_error = match args.on_error.as_str() {
        "skip" => vpp_app::series::OnError::Skip,
        "reject" => vpp_app::series::OnError::Reject,
        other => anyhow::bail!("--on-error `{other}` is not skip or reject"),
    };
    let source = args
        .source
        .as_deref()
        .map(|s| vpp_domain::series::SourceKind::parse(s).with_context(|| format!("unknown source `{s}`")))
        .transpose()?;
    let query = vpp_app::series::ImportQuery {
        format: args.format.clone(),
        delimiter: args.delimiter.clone(),
        decimal_comma: if args.decimal_comma { Some(true) } else { args.decimal_point.then_some(false) },
        timestamp_format: args.timestamp_format.clone(),
        time_unit,
        on_error: Some(on_error),
        timezone: args.timezone.clone(),
        start_column: args.start_column.clone(),
        value_column: args.value_column.clone(),
        belief_time_column: args.belief_time_column.clone(),
        belief_time: args.belief_time,
        source,
        unit: args.unit.clone(),
        background: None,
        file_name: None,
    };
    let files = expand(&args.files)?;
    let store = open_store(config).await?;
    let series = match &args.series {
        Some(name) => Some(
            vpp_app::series::series_by_name(&store, name)
                .await
                .map_err(|e| api_error(e, "series"))?
                .with_context(|| format!("no series has the id or name `{name}`"))?
                .1
                .id,
        ),
        None => None,
    };
    let single = files.len() == 1 && args.files.len() == 1 && !args.files[0].is_dir();
    let mut results = Vec::new();
    let mut failed = 0;
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let body = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                failed += 1;
                eprintln!("{}: unreadable: {e}", file.display());
                results.push(json!({"file_name": name, "error": format!("unreadable: {e}")}));
                continue;
            }
        };
        let format = query.format.clone().unwrap_or_else(|| vpp_app::routing::format_of(&name, &body).into());
        let q = vpp_app::series::ImportQuery { format: Some(format), file_name: Some(name.clone()), ..query.clone() };
        let outcome = match &series {
            Some(id) => into_series(&store, id, file, &body, &q).await,
            None => vpp_app::routing::import_routed(&store, &name, &body, &q)
                .await
                .map_err(|e| api_error(e, "file"))
                .and_then(|r| {
                    summary(file, &r.report, Some(&r.routed.by));
                    Ok(serde_json::to_value(r)?)
                }),
        };
        match outcome {
            Ok(value) => results.push(value),
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e}", file.display());
                results.push(json!({"file_name": name, "error": e.to_string()}));
            }
        }
    }
    if single {
        if failed == 0 {
            println!("{}", serde_json::to_string_pretty(&results[0])?);
            return Ok(());
        }
        anyhow::bail!("{}: refused", files[0].display());
    }
    println!("{}", serde_json::to_string_pretty(&results)?);
    if failed > 0 {
        anyhow::bail!("{failed} of {} files refused (each named above); the others went in", files.len());
    }
    Ok(())
}

/// One file into a given series, with progress on stderr for large files.
async fn into_series(
    store: &vpp_store::Store,
    series: &str,
    file: &Path,
    body: &[u8],
    q: &vpp_app::series::ImportQuery,
) -> anyhow::Result<serde_json::Value> {
    let prepared = vpp_app::series::prepare_import(store, series, body, q).await.map_err(|e| api_error(e, "file"))?;
    let progress = progress_printer(file, prepared.rows());
    let report = prepared.store(store, &progress).await.map_err(|e| api_error(e, "file"))?;
    summary(file, &report, None);
    Ok(serde_json::to_value(report)?)
}

fn summary(file: &Path, r: &vpp_app::series::FileImportReport, routed: Option<&str>) {
    let partial = if r.rejected.is_empty() { "" } else { " (partial)" };
    eprintln!(
        "{}: {} rows, {} accepted, {} duplicates, {} rejected{partial}{}",
        file.display(),
        r.rows,
        r.accepted,
        r.duplicates,
        r.rejected.len(),
        routed.map(|b| format!("; {b}")).unwrap_or_default()
    );
}
