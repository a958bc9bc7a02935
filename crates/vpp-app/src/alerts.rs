//! Alerts as people handle them: listed by state, rule and subject, then
//! acknowledged (someone is on it) and resolved, each with a comment. The
//! API, the CLI and the console call these.

use vpp_domain::Invalid;
use vpp_domain::alert::{Alert, AlertAction, AlertRule, AlertState};
use vpp_store::{AlertFilter, Store};

use crate::error::AppResult;

/// The filter of an alert list from its text parts (as a query string or a
/// command line gives them): an unknown state or rule is refused naming
/// the field and the names it takes.
pub fn alert_filter(
    state: Option<&str>,
    rule: Option<&str>,
    subject: Option<String>,
    limit: i64,
) -> AppResult<AlertFilter> {
    let state = state
        .map(|x| {
            AlertState::parse(x).ok_or_else(|| {
                Invalid::one("state", format!("unknown state `{x}`; use open, acknowledged or resolved"))
            })
        })
        .transpose()?;
    let rule = rule
        .map(|x| {
            AlertRule::parse(x).ok_or_else(|| {
                let names: Vec<&str> = AlertRule::ALL.iter().map(|r| r.as_str()).collect();
                Invalid::one("rule", format!("unknown rule `{x}`; use one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    Ok(AlertFilter { state, rule, subject, limit })
}

/// Acknowledges an open alert as `actor`, with the action's comment.
pub async fn acknowledge(store: &Store, id: &str, actor: &str, action: &AlertAction) -> AppResult<Alert> {
    let comment = action.comment()?;
    Ok(store.acknowledge_alert(id, actor, comment.as_deref()).await?)
}

/// Resolves an alert that is not yet resolved as `actor`, with the
/// action's comment.
pub async fn resolve(store: &Store, id: &str, actor: &str, action: &AlertAction) -> AppResult<Alert> {
    let comment = action.comment()?;
    Ok(store.resolve_alert(id, actor, comment.as_deref()).await?)
}
