//! Refused requests in the audit trail, counted instead of copied.
//!
//! A flood of refused writes (no or a forged credential, a missing
//! permission, an exhausted budget) once wrote one audit row each: 7,000
//! rows in 10 s. Now the first refusal of each (caller, address, route,
//! answer) in a minute is written at once, so it shows in the trail
//! immediately, and the rest of that minute is counted in memory and
//! written as one row with its count when the minute is over. The trail is
//! append-only, so the count is a second row, never an update: at most two
//! rows per key and minute, however large the flood.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use vpp_store::{NewAudit, Store};

/// Most keys held at once. Past it (a flood from very many addresses),
/// new keys share one key per route and answer under the address `*`.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    actor: Option<String>,
    ip: String,
    action: String,
    status: i64,
}

#[derive(Debug)]
struct Window {
    minute: i64,
    repeats: u64,
    first: Timestamp,
    last: Timestamp,
    /// The first refusal's record, the template of the count row.
    audit: NewAudit,
}

/// The minute-windows of refused requests.
#[derive(Debug, Default)]
pub struct Refusals {
    windows: Mutex<HashMap<Key, Window>>,
}

fn minute(t: Timestamp) -> i64 {
    t.as_second().div_euclid(60)
}

fn key_of(audit: &NewAudit) -> Key {
    Key {
        actor: audit.actor_id.clone(),
        ip: audit.ip.clone().unwrap_or_default(),
        action: audit.action.clone(),
        status: audit.status,
    }
}

/// Whether `audit` is a window's count row rather than a refusal's own row.
pub fn is_count_row(audit: &NewAudit) -> bool {
    audit.after.as_ref().is_some_and(|a| a.get("count").is_some())
}

fn count_row(w: Window) -> NewAudit {
    let mut audit = w.audit;
    let refused = audit.after.as_ref().and_then(|a| a.get("refused")).cloned();
    audit.after = Some(serde_json::json!({
        "refused": refused,
        "count": w.repeats,
        "first_at": w.first,
        "last_at": w.last,
        "note": "refusals of this caller, address, route and answer within the minute without a row of their own",
    }));
    audit
}

impl Refusals {
    /// Notes a refusal at `now`; returns the records to write: the refusal
    /// itself when it opens a window, and the count row of the window it
    /// closes, if any.
    pub fn note(&self, mut audit: NewAudit, now: Timestamp) -> Vec<NewAudit> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut key = key_of(&audit);
        if windows.len() >= MAX_KEYS && !windows.contains_key(&key) {
            key.ip = "*".into();
            audit.ip = Some("*".into());
        }
        let m = minute(now);
        let mut out = Vec::new();
        if let Some(w) = windows.get_mut(&key) {
            if w.minute == m {
                w.repeats += 1;
                w.last = now;
                return out;
            }
            if let Some(old) = windows.remove(&key)
                && old.repeats > 0
            {
                out.push(count_row(old));
            }
        }
        windows.insert(key, Window { minute: m, repeats: 0, first: now, last: now, audit: audit.clone() });
        out.push(audit);
        out
    }

    /// Counts a refusal whose own row could not be written (the store was
    /// busy or down) into its window, so that the window's count row still
    /// carries it: a refusal is never lost from the trail's totals.
    pub fn unwritten(&self, audit: &NewAudit, now: Timestamp) {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = windows.entry(key_of(audit)).or_insert_with(|| Window {
            minute: minute(now),
            repeats: 0,
            first: now,
            last: now,
            audit: audit.clone(),
        });
        window.repeats += 1;
    }

    /// Takes the count rows of windows that closed before `now` (all
    /// windows with `all`), forgetting them.
    pub fn take_closed(&self, now: Timestamp, all: bool) -> Vec<NewAudit> {
        let m = minute(now);
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let closed: Vec<Key> = windows.iter().filter(|(_, w)| all || w.minute < m).map(|(k, _)| k.clone()).collect();
        closed.into_iter().filter_map(|k| windows.remove(&k)).filter(|w| w.repeats > 0).map(count_row).collect()
    }

    /// Writes the count rows of closed windows (of all windows with `all`).
    pub async fn flush(&self, store: &Store, all: bool) {
        for audit in self.take_closed(Timestamp::now(), all) {
            if let Err(e) = store.append_audit(audit).await {
                tracing::error!(error = %e, "writing the audit trail failed");
            }
        }
    }

    /// Writes every pending count row now (at shutdown, and in tests).
    pub async fn flush_all(&self, store: &Store) {
        self.flush(store, true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(ip: &str) -> NewAudit {
        NewAudit {
            actor_kind: "anonymous".into(),
            action: "POST /api/v1/vpp/vpps".into(),
            status: 401,
            ip: Some(ip.into()),
            after: Some(serde_json::json!({"refused": "no credential"})),
            ..NewAudit::default()
        }
    }

    #[test]
    fn a_refusal_whose_row_failed_is_counted_instead() {
        let r = Refusals::default();
        let t0 = Timestamp::from_second(1_800_000_000).unwrap();
        let first = r.note(refusal("10.0.0.1"), t0);
        assert_eq!(first.len(), 1);
        assert!(!is_count_row(&first[0]));
        r.unwritten(&first[0], t0);
        r.note(refusal("10.0.0.1"), t0);
        let rows = r.take_closed(t0, true);
        assert_eq!(rows.len(), 1);
        assert!(is_count_row(&rows[0]));
        assert_eq!(rows[0].after.as_ref().unwrap()["count"], 2, "the unwritten first and the repeat");
    }

    #[test]
    fn a_minute_of_refusals_is_one_row_and_one_count() {
        let r = Refusals::default();
        let t0: Timestamp = "2026-12-06T10:00:05Z".parse().unwrap();
        assert_eq!(r.note(refusal("a"), t0).len(), 1, "the first is written at once");
        for s in 1..50 {
            assert!(r.note(refusal("a"), t0 + jiff::SignedDuration::from_millis(s * 100)).is_empty());
        }
        assert_eq!(r.note(refusal("b"), t0).len(), 1, "another address is another key");
        assert!(r.take_closed(t0, false).is_empty(), "the minute is still open");
        let next = r.note(refusal("a"), t0 + jiff::SignedDuration::from_secs(60));
        assert_eq!(next.len(), 2, "the closed window's count, then the new first");
        assert_eq!(next[0].after.as_ref().unwrap()["count"], 49);
        assert_eq!(next[0].after.as_ref().unwrap()["refused"], "no credential");
        // `b` had no repeats: nothing more to write.
        assert!(r.take_closed(t0 + jiff::SignedDuration::from_secs(120), false).is_empty());
    }
}
