//! `vpp park …`: bills, reconciliation, savings, battery payback and the
//! monthly report of an industrial park's site.

use anyhow::Context;
use vpp_store::Store;

use crate::args::ParkCommand;
use crate::config::Config;
use crate::{api_error, open_store, output};

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
pub(crate) async fn park(config: &Config, command: ParkCommand) -> anyhow::Result<()> {
    use vpp_app::parks;
    let store = open_store(config).await?;
    let lang = crate::output::lang();
    let (ParkCommand::Bill { site, .. }
    | ParkCommand::Reconcile { site, .. }
    | ParkCommand::Savings { site, .. }
    | ParkCommand::Payback { site, .. }
    | ParkCommand::Report { site, .. }) = &command;
    known_site(&store, site).await?;
    match command {
        ParkCommand::Bill { site, month, reactive_kvarh, table } => {
            let bill =
                parks::bill(&store, &site, &month, reactive_kvarh, lang).await.map_err(|e| api_error(e, "site"))?;
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
            let bill =
                parks::bill(&store, &ctx.site.id, &month, None, lang).await.map_err(|e| api_error(e, "month"))?;
            let r = vpp_domain::tariff::bill::reconcile(&bill, &actual)?;
            if table {
                print!("{}", output::reconciliation(&r));
            } else {
                println!("{}", serde_json::to_string_pretty(&r)?);
            }
        }
        ParkCommand::Savings { site, month, battery } => {
            let r = parks::month_savings(&store, &site, &month, battery.spec().as_ref(), lang)
                .await
                .map_err(|e| api_error(e, "site"))?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        ParkCommand::Payback { site, year, battery } => {
            let r = parks::battery_payback(&store, &site, year, battery.spec().as_ref(), lang)
                .await
                .map_err(|e| api_error(e, "site"))?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        ParkCommand::Report { site, month, format } => {
            let r = parks::park_report(&store, &site, &month, lang).await.map_err(|e| api_error(e, "site"))?;
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
