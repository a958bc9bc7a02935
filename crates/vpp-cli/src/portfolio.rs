//! `vpp vpp create` (a portfolio of assets named by their ids) and
//! `vpp report performance` (the portfolio performance report).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use vpp_domain::vpp::{AllocationRatio, MarketType, Member, VppRequest};

use crate::config::Config;
use crate::{api_error, open_store, write_out};

#[derive(Debug, Subcommand)]
pub(crate) enum VppCommand {
    /// Create a VPP of assets named by resource id, asset id or metering point (prints its id).
    Create {
        /// Unique name.
        name: String,
        /// SPOT, ANCILLARY or CAPACITY.
        #[arg(long, default_value = "SPOT")]
        market_type: String,
        /// A member: ASSET or ASSET:RATIO (0 < ratio ≤ 1), repeated.
        #[arg(long = "member", required = true)]
        members: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// The portfolio performance report of a VPP for a delivery day or a month (Europe/Berlin).
    Performance {
        /// The VPP (id or name).
        #[arg(long)]
        vpp: String,
        /// A delivery day, YYYY-MM-DD.
        #[arg(long, conflicts_with = "month")]
        day: Option<String>,
        /// A month, YYYY-MM (adds the contracts' payout and fees).
        #[arg(long)]
        month: Option<String>,
        /// json, csv or html (a printable page).
        #[arg(long, default_value = "json")]
        format: String,
        /// The tradeable forecast is the newest issued this many minutes before delivery.
        #[arg(long, default_value_t = 15)]
        gate_closure_minutes: i64,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

pub(crate) async fn vpp_command(config: &Config, cmd: VppCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        VppCommand::Create { name, market_type, members } => {
            let market_type = MarketType::parse(&market_type.to_ascii_uppercase())
                .with_context(|| format!("--market-type `{market_type}` is not SPOT, ANCILLARY or CAPACITY"))?;
            let aliases = vpp_app::routing::Aliases::load(&store).await.map_err(|e| api_error(e, "member"))?;
            let mut list = Vec::new();
            for m in &members {
                let (asset, ratio) = match m.rsplit_once(':') {
                    Some((a, r)) => {
                        (a, r.parse::<f64>().with_context(|| format!("--member {m}: `{r}` is not a ratio"))?)
                    }
                    None => (m.as_str(), 1.0),
                };
                let resource_id = aliases.resource("member", asset).map_err(|e| api_error(e, "member"))?;
                let allocation_ratio = AllocationRatio::new(ratio).map_err(|e| anyhow::anyhow!("--member {m}: {e}"))?;
                list.push(Member { resource_id, allocation_ratio, priority: vpp_domain::vpp::DEFAULT_PRIORITY });
            }
            let request = VppRequest {
                name,
                description: String::new(),
                market_type,
                status: None,
                resource_ids: vec![],
                members: list,
            };
            let vpp = store.create_vpp(request).await.map_err(|e| api_error(e, "vpp"))?;
            println!("{}", vpp.id);
        }
    }
    Ok(())
}

/// The id of the VPP named `name`.
async fn vpp_by_name(store: &vpp_store::Store, name: &str) -> anyhow::Result<String> {
    let mut page = 1;
    loop {
        let p = store.list_vpps(&Default::default(), vpp_store::Page { page, size: vpp_store::MAX_PAGE_SIZE }).await?;
        if let Some(v) = p.items.iter().find(|v| v.name == name) {
            return Ok(v.id.clone());
        }
        if (p.items.len() as i64) < vpp_store::MAX_PAGE_SIZE {
            anyhow::bail!("no VPP `{name}` (id or name)");
        }
        page += 1;
    }
}

pub(crate) async fn report_command(config: &Config, cmd: ReportCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        ReportCommand::Performance { vpp, day, month, format, gate_closure_minutes, out } => {
            if !matches!(format.as_str(), "json" | "csv" | "html") {
                anyhow::bail!("--format `{format}` is not json, csv or html");
            }
            if !(0..=7 * 24 * 60).contains(&gate_closure_minutes) {
                anyhow::bail!("--gate-closure-minutes must be 0..10080");
            }
            let id = match store.get_vpp(&vpp).await {
                Ok(v) => v.id,
                Err(vpp_store::StoreError::NotFound { .. }) => vpp_by_name(&store, &vpp).await?,
                Err(e) => return Err(e.into()),
            };
            let report = vpp_app::performance::performance_report(
                &store,
                &id,
                day.as_deref(),
                month.as_deref(),
                jiff::SignedDuration::from_mins(gate_closure_minutes),
            )
            .await
            .map_err(|e| api_error(e, "report"))?;
            let text = match format.as_str() {
                "csv" => vpp_app::performance::report_csv(&report),
                "html" => vpp_app::performance::report_html(&report),
                _ => serde_json::to_string_pretty(&report)?,
            };
            write_out(out.as_deref(), text.trim_end())?;
        }
    }
    Ok(())
}
