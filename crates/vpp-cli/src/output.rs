//! How `vpp` prints tables for people: fitted to the terminal's width,
//! units and currencies in the headers, and the sign of money in words.
//! JSON (the default of every command that has `--table`) is for programs.

use std::fmt::Write;

use vpp_app::schedules::ScheduleResponse;
use vpp_domain::market::invoice::Invoice;
use vpp_domain::tariff::bill::{Bill, Reconciliation};

/// Columns of the terminal, else `$COLUMNS`, else 100 (a pipe or a file).
pub fn width() -> usize {
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(100)
        .max(60)
}

/// A net cost in words: "net cost 12.30 €" or "net revenue 10437.00 €".
pub fn net(cost: f64, currency: &str) -> String {
    if cost > 0.0 { format!("net cost {cost:.2} {currency}") } else { format!("net revenue {:.2} {currency}", -cost) }
}

/// One step per row: time, price, the site's import and export, then each
/// member's power (and SOC) as far as the terminal is wide. Members are
/// numbered in the header and named in a legend below, in full.
pub fn schedule(r: &ScheduleResponse, width: usize) -> String {
    let name = |id: &str| r.names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let fixed = 4 + 2 + 16 + 9 + 11 + 11;
    let member_width = |has_soc: bool| if has_soc { 17 } else { 10 };
    let mut shown = 0;
    let mut used = fixed;
    for m in &r.schedule.members {
        let w = member_width(m.soc_pct.is_some());
        if used + w > width {
            break;
        }
        used += w;
        shown += 1;
    }
    let members = &r.schedule.members[..shown];
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>4}  {:<16}{:>9}{:>11}{:>11}",
        "step",
        format!("start ({})", short_zone(&r.tz)),
        "€/MWh",
        "import kW",
        "export kW"
    );
    for (k, m) in members.iter().enumerate() {
        let _ = write!(out, "{:>10}", format!("M{} kW", k + 1));
        if m.soc_pct.is_some() {
            let _ = write!(out, "{:>7}", "SOC %");
        }
    }
    out.push('\n');
    for (k, t) in r.times.iter().enumerate() {
        let start: String = t.start_local.chars().take(16).collect::<String>().replace('T', " ");
        let _ = write!(
            out,
            "{k:>4}  {start:<16}{:>9.2}{:>11.1}{:>11.1}",
            r.prices[k], r.schedule.import_kw[k], r.schedule.export_kw[k]
        );
        for m in members {
            let _ = write!(out, "{:>10.1}", m.power_kw[k]);
            if let Some(soc) = &m.soc_pct {
                let _ = write!(out, "{:>7.1}", soc[k + 1]);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "kW > 0 injects into the grid, < 0 consumes");
    for (k, m) in members.iter().enumerate() {
        let _ = writeln!(out, "M{}: {} ({})", k + 1, name(&m.id), m.id);
    }
    let hidden = r.schedule.members.len() - shown;
    if hidden > 0 {
        let _ = writeln!(out, "{hidden} more members do not fit {width} columns: see them without --table (JSON)");
    }
    let b = &r.schedule.breakdown;
    let _ = writeln!(out, "{} over the horizon:", net(b.total, "€"));
    let _ = writeln!(
        out,
        "  imports {:.2} €, export revenue {:.2} €, battery wear {:.2} €",
        b.import_cost, b.export_revenue, b.cycle_cost
    );
    let _ = writeln!(
        out,
        "  fuel {:.2} €, generator starts {:.2} €, peak charge {:.2} €",
        b.generation_cost, b.start_cost, b.peak_charge
    );
    let s = &r.schedule.solver;
    let _ = writeln!(out, "solver {:?} {} in {:.1} ms", s.backend, s.status, s.solve_ms);
    for l in &r.left_out {
        let _ = writeln!(out, "left out {} ({}): {}", name(&l.resource_id), l.resource_id, l.reason);
    }
    out
}

/// `Europe/Berlin` → `Berlin`: the column header stays short.
fn short_zone(tz: &str) -> &str {
    tz.rsplit('/').next().unwrap_or(tz)
}

/// One invoice per row, amounts in the invoices' currency; a month with
/// quarter-hours that were not measured or not priced (and so not paid) is
/// flagged, since its amounts are incomplete.
pub fn invoices(invoices: &[Invoice]) -> String {
    let currency = invoices.first().map_or("EUR", |i| i.currency.as_str());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>12} {:>10} {:>10} {:>12} {:>6} {:>10} {:>12}  amounts in {currency}",
        "contract", "MWh", "payout", "redisp.", "fees", "net", "VAT %", "VAT", "gross"
    );
    for i in invoices {
        let flag = if i.unmeasured_quarters + i.unpriced_quarters > 0 { "  incomplete*" } else { "" };
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>12} {:>10} {:>10} {:>12} {:>6} {:>10} {:>12}{flag}",
            i.contract_id,
            i.produced_mwh.round_dp(3),
            i.payout,
            i.redispatch_compensation,
            i.fees,
            i.net,
            i.vat_pct,
            i.vat,
            i.gross
        );
    }
    for i in invoices.iter().filter(|i| i.unmeasured_quarters + i.unpriced_quarters > 0) {
        let _ = writeln!(
            out,
            "* {} ({}): {} quarter-hours unmeasured and {} without a market price are not paid; the month is incomplete",
            i.contract_id, i.month, i.unmeasured_quarters, i.unpriced_quarters
        );
    }
    out
}

/// One alert per row: id, severity, state, last seen, occurrences and its
/// message, then who acknowledged or resolved it and what they wrote.
pub fn alert_table(alerts: &[vpp_domain::alert::Alert]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36} {:<8} {:<12} {:<20} {:>5}  message",
        "id", "severity", "state", "last seen (UTC)", "times"
    );
    for a in alerts {
        let seen = a.last_seen_at.strftime("%Y-%m-%d %H:%M:%S");
        let _ = writeln!(
            out,
            "{:<36} {:<8} {:<12} {:<20} {:>5}  {}",
            a.id,
            a.severity,
            a.state.as_str(),
            seen,
            a.occurrences,
            a.message
        );
        for (what, who, comment) in [
            ("acknowledged", &a.acknowledged_by, &a.acknowledged_comment),
            ("resolved", &a.resolved_by, &a.resolved_comment),
        ] {
            if let Some(who) = who {
                let said = comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
                let _ = writeln!(out, "{:<36} {what} by {who}{said}", "");
            }
        }
    }
    if alerts.is_empty() {
        out.push_str("no alerts\n");
    }
    out
}

/// A bill's lines with quantity, unit, rate and amount, then its coverage.
pub fn bill(bill: &Bill) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Bill {} ({}), amounts in {}", bill.month, bill.time_zone, bill.currency);
    let _ = writeln!(out, "{:<20} {:>14} {:<5} {:>10} {:>14}", "line", "quantity", "unit", "rate", "amount");
    for l in &bill.lines {
        let rate = l.rate.map(|r| r.to_string()).unwrap_or_default();
        let _ = writeln!(out, "{:<20} {:>14} {:<5} {:>10} {:>14}", l.code, l.quantity, l.unit, rate, l.amount);
    }
    let _ = writeln!(out, "{:<20} {:>14} {:<5} {:>10} {:>14}", "total", "", "", "", bill.total);
    let _ = writeln!(
        out,
        "coverage {:.1} % ({} of {} intervals); max demand {:.1} kW",
        bill.coverage.pct, bill.coverage.intervals, bill.coverage.expected_intervals, bill.max_demand_kw
    );
    for note in &bill.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Computed against billed, line by line.
pub fn reconciliation(r: &Reconciliation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Reconciliation {}, amounts in {}", r.month, r.currency);
    let _ = writeln!(out, "{:<20} {:>14} {:>14} {:>12} {:>8}", "line", "computed", "billed", "difference", "diff %");
    for l in &r.lines {
        let pct = l.difference_pct.map(|p| p.to_string()).unwrap_or_default();
        let _ = writeln!(out, "{:<20} {:>14} {:>14} {:>12} {:>8}", l.code, l.computed, l.actual, l.difference, pct);
    }
    out
}

/// A file refused whole, with every bad line.
pub fn refused_file(file: &std::path::Path, errors: &[vpp_domain::series_import::RowError]) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| format!("  line {}: {}", e.line, e.reason)).collect();
    anyhow::anyhow!("{}: nothing imported:\n{}", file.display(), lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_says_its_sign_in_words() {
        assert_eq!(net(-10422.9, "€"), "net revenue 10422.90 €");
        assert_eq!(net(12.3, "EUR"), "net cost 12.30 EUR");
        assert_eq!(short_zone("Europe/Berlin"), "Berlin");
    }
}

/// The language of the prose the CLI prints (bill lines, formulas, the
/// report), from the locale as programs read it: `LC_ALL`, then
/// `LC_MESSAGES`, then `LANG` (`zh_CN.UTF-8` is Chinese; anything else,
/// English).
pub(crate) fn lang() -> vpp_domain::lang::Lang {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default();
    lang_of_locale(&locale)
}

/// The language of a POSIX locale name (`zh_CN.UTF-8`, `en_GB`, `C`).
fn lang_of_locale(locale: &str) -> vpp_domain::lang::Lang {
    vpp_domain::lang::Lang::negotiate(&locale.split(['.', '@']).next().unwrap_or("").replace('_', "-"))
}

#[cfg(test)]
mod lang_tests {
    use super::lang_of_locale;
    use vpp_domain::lang::Lang;

    #[test]
    fn a_chinese_locale_gives_chinese_and_anything_else_english() {
        assert_eq!(lang_of_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(lang_of_locale("zh_TW"), Lang::Zh);
        assert_eq!(lang_of_locale("en_GB.UTF-8"), Lang::En);
        assert_eq!(lang_of_locale("C.UTF-8"), Lang::En);
        assert_eq!(lang_of_locale("de_DE@euro"), Lang::En);
        assert_eq!(lang_of_locale(""), Lang::En);
    }
}
