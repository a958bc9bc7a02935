//! `vpp vpp create` (a portfolio of assets named by their ids), `vpp vpp
//! dispatch` (a power target split across a VPP's members), `vpp alert`
//! (list, acknowledge, resolve) and `vpp report performance` (the
//! portfolio performance report).

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
    /// Split a power target across an ACTIVE VPP's ONLINE members and store the instructions,
    /// queued for the devices: a running `vpp serve` on the same database sends them (MQTT,
    /// Modbus, OCPP). Prints the split as JSON (follow it with GET
    /// /trading/execution-status/{dispatch_id}); audited as `dispatch`.
    Dispatch {
        /// The VPP (id or name).
        vpp: String,
        /// Net target in kW: positive injects, negative absorbs.
        #[arg(long, allow_hyphen_values = true)]
        target_kw: f64,
        /// Start of delivery, RFC 3339 (default now).
        #[arg(long)]
        start: Option<String>,
        /// Length of delivery in minutes, 1..1440.
        #[arg(long, default_value_t = 15)]
        duration_min: i64,
        /// merit_order, pro_rata or priority.
        #[arg(long, default_value = "merit_order")]
        mode: String,
        /// Only show the split: nothing is stored or sent.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertCommand {
    /// Alerts, newest first, as a table.
    List {
        /// open, acknowledged or resolved.
        #[arg(long)]
        state: Option<String>,
        /// Only this rule (device_offline, execution_deviation, …).
        #[arg(long)]
        rule: Option<String>,
        /// Only about this resource, VPP or instruction id.
        #[arg(long)]
        subject: Option<String>,
        /// At most this many, 1..1000.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Acknowledge an open alert: someone is on it.
    Ack {
        /// Alert id.
        id: String,
        /// Why, or what is being done.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Resolve an alert by hand.
    Resolve {
        /// Alert id.
        id: String,
        /// What was done.
        #[arg(long)]
        comment: Option<String>,
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
        VppCommand::Dispatch { vpp, target_kw, start, duration_min, mode, dry_run } => {
            let mode = vpp_domain::fleet::DispatchMode::parse(&mode)
                .with_context(|| format!("--mode `{mode}` is not merit_order, pro_rata or priority"))?;
            let start = start
                .map(|s| s.parse::<jiff::Timestamp>().with_context(|| format!("--start `{s}` is not an RFC 3339 time")))
                .transpose()?;
            let id = vpp_id(&store, &vpp).await?;
            // Queued for the device paths a running `vpp serve` delivers
            // (MQTT, and the Modbus and OCPP links), in the dispatch's own
            // transaction, as a dispatch through the API is.
            if let Some(mqtt) = &config.mqtt {
                store.enable_setpoint_outbox(vpp_devices::bridge::outbox(&mqtt.topic_prefix));
            }
            store.enable_link_outbox();
            let request =
                vpp_domain::execution::DispatchRequest { target_kw, start, duration_minutes: duration_min, mode };
            let answer = vpp_app::dispatch::dispatch_vpp(&store, &id, &request, dry_run)
                .await
                .map_err(|e| api_error(e, "dispatch"))?;
            if !dry_run {
                let after = serde_json::to_value(&answer)?;
                audit(&store, "vpp vpp dispatch", "dispatch", answer.dispatch_id.clone(), after).await;
            }
            println!("{}", serde_json::to_string_pretty(&answer)?);
        }
    }
    Ok(())
}

pub(crate) async fn alert_command(config: &Config, cmd: AlertCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    // Who acted, as the alert and the audit trail name API users.
    let actor = cli_actor();
    let action = |comment: Option<String>| vpp_domain::alert::AlertAction { comment };
    let alert = match cmd {
        AlertCommand::List { state, rule, subject, limit } => {
            if !(1..=1000).contains(&limit) {
                anyhow::bail!("--limit must be 1..1000");
            }
            let filter = vpp_app::alerts::alert_filter(state.as_deref(), rule.as_deref(), subject, limit)
                .map_err(|e| api_error(e, "alert"))?;
            let lang = crate::output::lang();
            let alerts: Vec<_> = store.list_alerts(&filter).await?.into_iter().map(|a| a.in_lang(lang)).collect();
            print!("{}", crate::output::alert_table(&alerts));
            return Ok(());
        }
        AlertCommand::Ack { id, comment } => {
            vpp_app::alerts::acknowledge(&store, &id, &actor, &action(comment)).await.map(|a| ("acknowledge-alert", a))
        }
        AlertCommand::Resolve { id, comment } => {
            vpp_app::alerts::resolve(&store, &id, &actor, &action(comment)).await.map(|a| ("resolve-alert", a))
        }
    }
    .map_err(|e| api_error(e, "alert"))?;
    let (entity, alert) = alert;
    audit(&store, &format!("vpp alert ({entity})"), entity, Some(alert.id.clone()), serde_json::to_value(&alert)?)
        .await;
    println!("{} {} ({})", alert.id, alert.state.as_str(), alert.content.render(crate::output::lang()));
    Ok(())
}

/// Records a control action taken from the command line in the audit trail,
/// under the same entity names as the API's (`dispatch`, `acknowledge-alert`,
/// `resolve-alert`), so the audit log's filters find both. A failed write is
/// reported, not fatal: the action itself is done.
async fn audit(store: &vpp_store::Store, action: &str, entity: &str, id: Option<String>, after: serde_json::Value) {
    let record = vpp_store::NewAudit {
        actor_kind: "cli".into(),
        actor_name: Some(cli_actor()),
        action: action.into(),
        status: 200,
        entity_type: Some(entity.into()),
        entity_id: id,
        after: Some(after),
        ..Default::default()
    };
    if let Err(e) = store.append_audit(record).await {
        eprintln!("warning: the audit record of `{action}` could not be written: {e}");
    }
}

/// Who acts from the command line: `cli:` and the login name.
fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

/// The id of the VPP given by id or name.
async fn vpp_id(store: &vpp_store::Store, vpp: &str) -> anyhow::Result<String> {
    match store.get_vpp(vpp).await {
        Ok(v) => Ok(v.id),
        Err(vpp_store::StoreError::NotFound { .. }) => vpp_by_name(store, vpp).await,
        Err(e) => Err(e.into()),
    }
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
            let id = vpp_id(&store, &vpp).await?;
            let report = vpp_app::performance::performance_report(
                &store,
                &id,
                day.as_deref(),
                month.as_deref(),
                jiff::SignedDuration::from_mins(gate_closure_minutes),
                crate::output::lang(),
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
