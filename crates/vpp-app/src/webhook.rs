//! Sends every new alert to a webhook: `POST {url}` with `{"alert": {...}}`.
//!
//! A background task follows the alerts table by a cursor (first seen, id),
//! so alerts raised anywhere (device bridge, closed loop) go out in the order
//! they were raised. The cursor is kept in the database and moves on only
//! once an alert is delivered, so alerts raised while the server was down,
//! or while the receiver was unreachable, are posted when it is back (at
//! least once). A receiver that refuses an alert for good (a 4xx other than
//! 408 or 429) has it logged and skipped. The first start begins with the
//! alerts raised from then on.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use vpp_store::{Alert, Store};

/// Meta key of the cursor: `<first seen µs> <alert id>` of the last alert handled.
const CURSOR_KEY: &str = "alert_webhook_cursor";
/// Longest pause after the receiver was unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where and how often.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `http://` or `https://` URL.
    pub url: String,
    /// How often new alerts are looked for.
    pub poll: Duration,
}

/// Checks a webhook URL; the message names what is wrong.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("`{url}` must be an http:// or https:// URL with a host"));
    }
    Ok(())
}

/// What became of one alert.
enum Outcome {
    Delivered,
    /// The receiver refused it for good: skipped.
    Refused,
    /// Not reachable or failing: try again later.
    Later,
}

async fn post(client: &reqwest::Client, url: &str, alert: &Alert) -> Outcome {
    let body = serde_json::json!({ "alert": alert });
    for (attempt, pause) in [0u64, 1, 2].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(pause)).await;
        match client.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => return Outcome::Delivered,
            Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 429) => {
                tracing::error!(alert = %alert.id, status = %r.status(), "alert webhook refused the alert; skipped");
                return Outcome::Refused;
            }
            Ok(r) => tracing::warn!(status = %r.status(), attempt, "alert webhook failed"),
            Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
        }
    }
    Outcome::Later
}

fn parse_cursor(text: &str) -> Option<(Timestamp, String)> {
    let (us, id) = text.split_once(' ')?;
    Some((Timestamp::from_microsecond(us.parse().ok()?).ok()?, id.to_string()))
}

async fn save_cursor(store: &Store, cursor: &(Timestamp, String)) {
    let text = format!("{} {}", cursor.0.as_microsecond(), cursor.1);
    if let Err(e) = store.meta_set(CURSOR_KEY, &text).await {
        tracing::warn!(error = %e, "alert webhook: the cursor could not be saved");
    }
}

/// Starts the sender.
pub fn spawn_alert_webhook(store: Arc<Store>, settings: WebhookSettings) -> tokio::task::JoinHandle<()> {
    // HTTPS through rustls needs a process-wide crypto provider (ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // "From then on" is from this call, not from when the task first runs:
    // an alert raised right after the start (the task not yet scheduled on
    // a busy machine) is sent too.
    let started = vpp_store::now();
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "alert webhook: no HTTP client");
                return;
            }
        };
        let saved = store.meta_get(CURSOR_KEY).await.ok().flatten().and_then(|text| parse_cursor(&text));
        let mut cursor = match saved {
            Some(cursor) => cursor,
            None => {
                let start = (started, String::new());
                save_cursor(&store, &start).await;
                start
            }
        };
        // Rounds in a row the receiver could not be reached: waits double.
        let mut failures = 0u32;
        loop {
            tokio::time::sleep((settings.poll * 2u32.pow(failures.min(8))).min(MAX_BACKOFF.max(settings.poll))).await;
            let alerts = match store.alerts_since(cursor.0, &cursor.1, 100).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "alert webhook: reading alerts failed");
                    continue;
                }
            };
            for alert in alerts {
                match post(&client, &settings.url, &alert).await {
                    Outcome::Delivered | Outcome::Refused => {
                        failures = 0;
                        cursor = (alert.first_seen_at, alert.id.clone());
                        save_cursor(&store, &cursor).await;
                    }
                    Outcome::Later => {
                        failures += 1;
                        tracing::warn!(alert = %alert.id, failures, "alert webhook: will try again");
                        break;
                    }
                }
            }
        }
    })
}
