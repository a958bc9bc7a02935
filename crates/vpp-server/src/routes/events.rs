//! `/api/v1/vpp/events/*`: Server-Sent Events for live pages. The console
//! reads them with the bearer token through `fetch`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vpp_domain::fleet::{AggregatedParams, StatusCounts};
use vpp_domain::vpp::{MarketType, VppStatus};
use vpp_store::{Alert, AlertFilter, AlertState, LivePower, MAX_PAGE_SIZE, Page, VppFilter};

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{AcceptLanguage, ApiQuery};
use crate::state::AppState;
use vpp_domain::lang::Lang;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard_events))
}

/// One VPP on the dashboard.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VppSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Market served.
    pub market_type: MarketType,
    /// Status.
    pub status: VppStatus,
    /// Aggregated parameters over one hour.
    pub aggregated: AggregatedParams,
    /// Measured power now: its members' newest samples of the last
    /// [`LIVE_WINDOW_S`] seconds, weighted by allocation ratio.
    pub live: LivePower,
    /// What it is committed to deliver in the current interval (its cleared
    /// market position), kW; none without one.
    pub committed_kw: Option<f64>,
}

/// The whole fleet now, whatever VPPs its resources are in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetNow {
    /// Σ of every resource's newest sample of the last [`LIVE_WINDOW_S`] seconds.
    pub live: LivePower,
    /// Resources by status.
    pub status_counts: StatusCounts,
    /// Open alerts that are critical.
    pub critical_alerts: usize,
    /// Open alerts that are warnings.
    pub warning_alerts: usize,
}

/// How old a resource's newest sample may be to count as power now, s.
pub const LIVE_WINDOW_S: i64 = 300;

/// What the dashboard shows, as of `at`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DashboardSnapshot {
    /// When taken.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The whole fleet now.
    pub fleet: FleetNow,
    /// Every VPP with its aggregated parameters.
    pub vpps: Vec<VppSummary>,
    /// The newest open alerts (at most 20).
    pub open_alerts: Vec<Alert>,
}

/// One server-sent event of the dashboard stream: `event: snapshot` and,
/// in `data`, a [`DashboardSnapshot`] as JSON.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DashboardEvent {
    /// Always `snapshot`.
    pub event: String,
    /// The snapshot, as JSON (schema `DashboardSnapshot`).
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

impl DashboardEvent {
    fn of(snapshot: &DashboardSnapshot) -> Self {
        Self { event: "snapshot".into(), data: serde_json::to_string(snapshot).unwrap_or_default() }
    }
}

/// How often to send.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Seconds between snapshots, 1..60 (default 5).
    pub interval_s: Option<u64>,
    /// End the stream after this many snapshots (default: never).
    pub count: Option<u64>,
    /// Language of the alert messages (`en` or `zh-CN`; default: from
    /// `Accept-Language`, which a browser's EventSource cannot set).
    pub lang: Option<String>,
}

async fn snapshot(s: &AppState, lang: Lang) -> ApiResult<DashboardSnapshot> {
    let vpps = s.store.list_vpps(&VppFilter::default(), Page { page: 1, size: MAX_PAGE_SIZE }).await?;
    let now = Timestamp::now();
    let since = now - SignedDuration::from_secs(LIVE_WINDOW_S);
    let mut live = s.store.live_power_by_vpp(since).await?;
    let mut out = Vec::with_capacity(vpps.items.len());
    for v in vpps.items {
        let cached = s.fleets.get(&s.store, &v.id).await?;
        let aggregated = AggregatedParams::clone(&cached.aggregate(1.0));
        let live = live.remove(&v.id).unwrap_or(LivePower { kw: None, reporting: 0 });
        let committed_kw = s.store.committed_power(&v.id, now.as_microsecond()).await?.map(|(_, _, kw)| kw);
        out.push(VppSummary {
            id: v.id,
            name: v.name,
            market_type: v.market_type,
            status: v.status,
            aggregated,
            live,
            committed_kw,
        });
    }
    let counts = s.store.open_alert_counts().await?;
    let count = |severity: &str| usize::try_from(counts.get(severity).copied().unwrap_or(0)).unwrap_or(0);
    let fleet = FleetNow {
        live: s.store.live_power(since).await?,
        status_counts: s.store.status_counts().await?,
        critical_alerts: count("critical"),
        warning_alerts: counts
            .iter()
            .filter(|(k, _)| k.as_str() != "critical")
            .map(|(_, n)| usize::try_from(*n).unwrap_or(0))
            .sum(),
    };
    let open = s
        .store
        .list_alerts(&AlertFilter { state: Some(AlertState::Open), rule: None, subject: None, limit: 20 })
        .await?
        .into_iter()
        .map(|a| a.in_lang(lang))
        .collect();
    Ok(DashboardSnapshot { at: now, fleet, vpps: out, open_alerts: open })
}

/// A dashboard snapshot now and then every `interval_s` seconds, as
/// Server-Sent Events named `snapshot` with JSON data.
#[utoipa::path(get, path = "/api/v1/vpp/events/dashboard", tag = "vpps", params(EventsQuery),
    responses((status = 200, description = "text/event-stream of snapshots", body = DashboardEvent, content_type = "text/event-stream"),
              (status = 422, body = Problem)))]
async fn dashboard_events(
    State(s): State<AppState>,
    accepted: AcceptLanguage,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let lang = accepted.or_query(q.lang.as_deref())?;
    let every = q.interval_s.unwrap_or(5);
    if !(1..=60).contains(&every) {
        return Err(ApiError::invalid("interval_s", format!("must be 1..60, got {every}")));
    }
    if q.count == Some(0) {
        return Err(ApiError::invalid("count", "must be at least 1"));
    }
    // The first snapshot is taken before answering, so a failure is a problem, not a broken stream.
    let first = snapshot(&s, lang).await?;
    let mut ticker = tokio::time::interval(Duration::from_secs(every));
    ticker.tick().await;
    let left = q.count.unwrap_or(u64::MAX);
    let events = futures_util::stream::unfold(
        (s, Some(first), ticker, left),
        move |(s, pending, mut ticker, left)| async move {
            if left == 0 {
                return None;
            }
            let snap = match pending {
                Some(snap) => snap,
                None => loop {
                    ticker.tick().await;
                    match snapshot(&s, lang).await {
                        Ok(snap) => break snap,
                        Err(e) => tracing::warn!(error = %e.0.detail, "dashboard snapshot failed; retrying"),
                    }
                },
            };
            let DashboardEvent { event, data } = DashboardEvent::of(&snap);
            let event = Event::default().event(event).data(data);
            Some((Ok(event), (s, None, ticker, left - 1)))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
