//! Sends every new alert to a webhook: `POST {url}` with `{"alert": {...}}`.
//!
//! A background task follows the alerts table by a cursor (first seen, id),
//! so alerts raised anywhere (device bridge, closed loop) go out once, in the
//! order they were raised. A failed POST is tried three times (after 1 s and
//! 2 s), then logged and skipped; alerts raised before the server started are
//! not sent.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use vpp_store::Store;

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

/// Starts the sender.
pub fn spawn_alert_webhook(store: Arc<Store>, settings: WebhookSettings) -> tokio::task::JoinHandle<()> {
    // HTTPS through rustls needs a process-wide crypto provider (ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "alert webhook: no HTTP client");
                return;
            }
        };
        let mut cursor = (Timestamp::now(), String::new());
        loop {
            tokio::time::sleep(settings.poll).await;
            let alerts = match store.alerts_since(cursor.0, &cursor.1, 100).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "alert webhook: reading alerts failed");
                    continue;
                }
            };
            for alert in alerts {
                cursor = (alert.first_seen_at, alert.id.clone());
                let body = serde_json::json!({ "alert": alert });
                let mut sent = false;
                for (attempt, pause) in [0u64, 1, 2].into_iter().enumerate() {
                    tokio::time::sleep(Duration::from_secs(pause)).await;
                    match client.post(&settings.url).json(&body).send().await {
                        Ok(r) if r.status().is_success() => {
                            sent = true;
                            break;
                        }
                        Ok(r) => tracing::warn!(status = %r.status(), attempt, "alert webhook refused the alert"),
                        Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
                    }
                }
                if !sent {
                    tracing::error!(alert = %alert.id, url = %settings.url, "alert not delivered to the webhook after 3 attempts");
                }
            }
        }
    })
}
