//! Alerts: raised by background jobs, deduplicated while their condition
//! lasts, acknowledged and resolved by people (or resolved by the job when
//! the condition clears).

use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use vpp_domain::Invalid;
pub use vpp_domain::alert::{Alert, AlertMessage, AlertRule, AlertState};

use crate::{Result, Store, StoreError, from_micros, to_micros};

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only in this state.
    pub state: Option<AlertState>,
    /// Only of this rule.
    pub rule: Option<AlertRule>,
    /// Only about this subject.
    pub subject: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// `SELECT <alert columns> FROM alerts <rest>`, as one static string.
macro_rules! select_alerts {
    ($rest:literal) => {
        concat!(
            "SELECT id, rule, subject, severity, message, message_data, state, occurrences, first_seen_at, last_seen_at, ",
            "acknowledged_by, acknowledged_at, acknowledged_comment, resolved_by, resolved_at, resolved_comment FROM alerts ",
            $rest
        )
    };
}

fn alert_from_row(r: &AnyRow) -> Result<Alert> {
    let rule: String = r.try_get("rule")?;
    let state: String = r.try_get("state")?;
    let opt_ts =
        |name: &str| -> Result<Option<Timestamp>> { r.try_get::<Option<i64>, _>(name)?.map(from_micros).transpose() };
    Ok(Alert {
        id: r.try_get("id")?,
        rule: AlertRule::parse(&rule).ok_or_else(|| StoreError::Corrupt(format!("alert rule `{rule}`")))?,
        subject: r.try_get("subject")?,
        severity: r.try_get("severity")?,
        content: AlertMessage::from_stored(
            r.try_get::<Option<String>, _>("message_data")?.as_deref(),
            &r.try_get::<String, _>("message")?,
        ),
        message: r.try_get("message")?,
        state: AlertState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("alert state `{state}`")))?,
        occurrences: r.try_get("occurrences")?,
        first_seen_at: from_micros(r.try_get("first_seen_at")?)?,
        last_seen_at: from_micros(r.try_get("last_seen_at")?)?,
        acknowledged_by: r.try_get("acknowledged_by")?,
        acknowledged_at: opt_ts("acknowledged_at")?,
        acknowledged_comment: r.try_get("acknowledged_comment")?,
        resolved_by: r.try_get("resolved_by")?,
        resolved_at: opt_ts("resolved_at")?,
        resolved_comment: r.try_get("resolved_comment")?,
    })
}

impl Store {
    /// Raises an alert, or counts one more occurrence of the active alert of
    /// the same rule and subject. Returns the alert and whether it is new.
    /// The message is stored as its code and figures, and in English.
    pub async fn raise_alert(
        &self,
        rule: AlertRule,
        subject: &str,
        content: impl Into<AlertMessage>,
    ) -> Result<(Alert, bool)> {
        let content = content.into();
        let message = content.render(vpp_domain::lang::Lang::En);
        let data = content.to_json();
        let now = to_micros(crate::now());
        let mut w = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = $3, message = $4, message_data = $5 \
             WHERE rule = $1 AND subject = $2 AND state <> 'resolved'",
        )
        .bind(rule.as_str())
        .bind(subject.to_string())
        .bind(now)
        .bind(message.clone())
        .bind(data.clone())
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        if updated == 0 {
            sqlx::query(
                "INSERT INTO alerts (id, rule, subject, severity, message, message_data, state, occurrences, first_seen_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $7, 'open', 1, $6, $6)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(rule.as_str())
            .bind(subject.to_string())
            .bind(rule.severity())
            .bind(message)
            .bind(now)
            .bind(data)
            .execute(&mut *w.tx)
            .await?;
        }
        let row = sqlx::query(select_alerts!("WHERE rule = $1 AND subject = $2 AND state <> 'resolved'"))
            .bind(rule.as_str())
            .bind(subject.to_string())
            .fetch_one(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok((alert_from_row(&row)?, updated == 0))
    }

    /// Resolves the active alert of a rule and subject because its condition
    /// cleared; returns whether there was one.
    pub async fn clear_alert(&self, rule: AlertRule, subject: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alerts SET state = 'resolved', resolved_by = 'system', resolved_at = $3 \
             WHERE rule = $1 AND subject = $2 AND state <> 'resolved'",
        )
        .bind(rule.as_str())
        .bind(subject.to_string())
        .bind(to_micros(crate::now()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Alerts, newest first.
    pub async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let rows = sqlx::query(select_alerts!(
            "WHERE ($1 = '' OR state = $1) AND ($2 = '' OR rule = $2) \
             AND ($3 = '' OR subject = $3) ORDER BY last_seen_at DESC, id DESC LIMIT $4"
        ))
        .bind(filter.state.map_or("", AlertState::as_str))
        .bind(filter.rule.map_or("", AlertRule::as_str))
        .bind(filter.subject.clone().unwrap_or_default())
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// How many alerts are open, by severity (`critical`, `warning`).
    pub async fn open_alert_counts(&self) -> Result<std::collections::HashMap<String, i64>> {
        let rows = sqlx::query("SELECT severity, COUNT(*) AS n FROM alerts WHERE state = 'open' GROUP BY severity")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("severity")?, r.try_get("n")?))).collect()
    }

    /// Alerts first seen after `(at, id)`, oldest first: the cursor of the
    /// webhook sender (ids are time-ordered, so equal times stay ordered).
    pub async fn alerts_since(&self, at: Timestamp, id: &str, limit: i64) -> Result<Vec<Alert>> {
        let rows = sqlx::query(select_alerts!(
            "WHERE first_seen_at > $1 OR (first_seen_at = $1 AND id > $2) ORDER BY first_seen_at, id LIMIT $3"
        ))
        .bind(to_micros(at))
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// One alert.
    pub async fn get_alert(&self, id: &str) -> Result<Alert> {
        let row = sqlx::query(select_alerts!("WHERE id = $1")).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref()
            .map(alert_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { entity: "alert", id: id.into() })
    }

    /// Marks an open alert acknowledged by `user`, with what they wrote.
    pub async fn acknowledge_alert(&self, id: &str, user: &str, comment: Option<&str>) -> Result<Alert> {
        self.move_alert(id, user, AlertState::Acknowledged, comment).await
    }

    /// Marks an alert that is not yet resolved resolved by `user`, with what
    /// they wrote.
    pub async fn resolve_alert(&self, id: &str, user: &str, comment: Option<&str>) -> Result<Alert> {
        self.move_alert(id, user, AlertState::Resolved, comment).await
    }

    /// Moves an alert on to `to` (acknowledged from open, resolved from open
    /// or acknowledged), recording who, when and their comment; any other
    /// move is refused, and so is a move another caller made first.
    async fn move_alert(&self, id: &str, user: &str, to: AlertState, comment: Option<&str>) -> Result<Alert> {
        let alert = self.get_alert(id).await?;
        let (sql, refused) = match to {
            AlertState::Acknowledged => (
                "UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3, acknowledged_comment = $4 \
                 WHERE id = $1 AND state = 'open'",
                (alert.state != AlertState::Open)
                    .then(|| format!("alert `{id}` is {}, not open", alert.state.as_str())),
            ),
            AlertState::Resolved => (
                "UPDATE alerts SET state = 'resolved', resolved_by = $2, resolved_at = $3, resolved_comment = $4 \
                 WHERE id = $1 AND state <> 'resolved'",
                (alert.state == AlertState::Resolved).then(|| format!("alert `{id}` is already resolved")),
            ),
            AlertState::Open => {
                ("", Some(format!("alert `{id}` cannot be opened again; a new occurrence raises a new alert")))
            }
        };
        if let Some(message) = refused {
            return Err(Invalid::one("state", message).into());
        }
        let moved = sqlx::query(sql)
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(to_micros(crate::now()))
            .bind(comment.map(str::to_string))
            .execute(&self.pool)
            .await?
            .rows_affected();
        let alert = self.get_alert(id).await?;
        if moved == 0 {
            // Someone else moved it between the read and the write.
            return Err(Invalid::one("state", format!("alert `{id}` is {} now", alert.state.as_str())).into());
        }
        Ok(alert)
    }
}
