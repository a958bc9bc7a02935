//! The closed loop: after every step, compare what each ACTIVE VPP's members
//! measured with what their stored schedule asked, record the deviation per
//! member and per VPP, and when the VPP's deviation passes the threshold,
//! re-dispatch its flexibility to hold the scheduled (committed) total for
//! the step now running.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use vpp_domain::fleet::{DispatchMode, dispatch};
use vpp_domain::vpp::VppStatus;
use vpp_store::{DeviationRecord, Page, Store, VppFilter};

use crate::dispatch::dispatch_record;

/// Settings of the loop.
#[derive(Debug, Clone, Copy)]
pub struct ControlSettings {
    /// Step length; the loop runs just after each step boundary.
    pub step: Duration,
    /// A VPP deviation above this share of its scheduled power triggers re-dispatch, %.
    pub threshold_pct: f64,
    /// … and above this many kW (so tiny schedules do not flap).
    pub threshold_kw: f64,
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self { step: Duration::from_secs(900), threshold_pct: 10.0, threshold_kw: 1.0 }
    }
}

/// What one cycle did for one VPP.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleOutcome {
    /// VPP.
    pub vpp_id: String,
    /// Its total row.
    pub total: DeviationRecord,
}

/// Runs one cycle for the step that ended at or before `now`: records the
/// deviations of every ACTIVE VPP with a schedule for it and re-dispatches
/// where needed. A step already recorded is skipped, so a cycle may repeat.
pub async fn control_cycle(
    store: &Store,
    now: Timestamp,
    settings: &ControlSettings,
) -> vpp_store::Result<Vec<CycleOutcome>> {
    let step_us = settings.step.as_micros() as i64;
    let end_us = now.as_microsecond().div_euclid(step_us) * step_us;
    let (start, end) = (ts(end_us - step_us)?, ts(end_us)?);
    let mut outcomes = Vec::new();
    let filter = VppFilter { status: Some(VppStatus::Active), ..VppFilter::default() };
    let vpps = store.list_vpps(&filter, Page { page: 1, size: vpp_store::MAX_PAGE_SIZE }).await?;
    for vpp in vpps.items {
        if store.execution_recorded(&vpp.id, start).await? {
            continue;
        }
        let recorded_at = vpp_store::now();
        let mut rows = Vec::new();
        let (mut scheduled, mut measured, mut samples, mut measured_scheduled) = (0.0, 0.0, 0, 0.0);
        for m in &vpp.members {
            let Some((_, _, plan)) = store.scheduled_power(&m.resource_id, start.as_microsecond()).await? else {
                continue;
            };
            let window = store.telemetry_window(&m.resource_id, start, end).await?;
            let (mean, n) = window.map_or((0.0, 0), |w| (w.mean_power_kw, w.samples));
            scheduled += plan;
            if n > 0 {
                measured += mean;
                measured_scheduled += plan;
                samples += n;
            }
            rows.push(DeviationRecord {
                vpp_id: vpp.id.clone(),
                resource_id: m.resource_id.clone(),
                interval_start: start,
                interval_end: end,
                scheduled_kw: plan,
                measured_kw: mean,
                samples: n,
                deviation_kw: if n > 0 { mean - plan } else { 0.0 },
                action: "member".into(),
                dispatch_id: String::new(),
                recorded_at,
            });
        }
        if rows.is_empty() {
            continue;
        }
        // The deviation counts members that reported; the others are named
        // by their own rows (samples = 0).
        let deviation = measured - measured_scheduled;
        let threshold = settings.threshold_kw.max(settings.threshold_pct / 100.0 * measured_scheduled.abs());
        let (action, dispatch_id) = if samples == 0 {
            ("no_telemetry".to_string(), String::new())
        } else if deviation.abs() <= threshold {
            ("within_threshold".to_string(), String::new())
        } else {
            redispatch(store, &vpp.id, end, settings).await?
        };
        let total = DeviationRecord {
            vpp_id: vpp.id.clone(),
            resource_id: String::new(),
            interval_start: start,
            interval_end: end,
            scheduled_kw: scheduled,
            measured_kw: measured,
            samples,
            deviation_kw: deviation,
            action,
            dispatch_id,
            recorded_at,
        };
        rows.push(total.clone());
        store.record_execution(&rows).await?;
        if total.action == "redispatched" {
            tracing::warn!(vpp = %vpp.id, deviation_kw = deviation, "execution deviation above threshold: re-dispatched");
            let message = vpp_store::AlertMessage::ExecutionDeviation {
                vpp: vpp.name.clone(),
                measured_kw: measured,
                scheduled_kw: measured_scheduled,
                threshold_kw: threshold,
                step_start: start,
            };
            store.raise_alert(vpp_store::AlertRule::ExecutionDeviation, &vpp.id, message).await?;
        } else if total.action == "within_threshold" {
            store.clear_alert(vpp_store::AlertRule::ExecutionDeviation, &vpp.id).await?;
        }
        outcomes.push(CycleOutcome { vpp_id: vpp.id, total });
    }
    Ok(outcomes)
}

/// Splits the VPP's committed total for the step starting at `start` over
/// its available members (merit order): the cleared market position where
/// an auction left one, else the sum of the members' schedules.
async fn redispatch(
    store: &Store,
    vpp_id: &str,
    start: Timestamp,
    settings: &ControlSettings,
) -> vpp_store::Result<(String, String)> {
    let snapshot = store.load_fleet(vpp_id).await?;
    let mut committed = 0.0;
    let mut any = false;
    if let Some((_, _, kw)) = store.committed_power(vpp_id, start.as_microsecond()).await? {
        committed = kw;
        any = true;
    } else {
        for m in &snapshot.members {
            if let Some((_, _, kw)) = store.scheduled_power(&m.resource_id, start.as_microsecond()).await? {
                committed += kw;
                any = true;
            }
        }
    }
    if !any {
        return Ok(("no_flexibility".into(), String::new()));
    }
    let end = start
        .checked_add(SignedDuration::try_from(settings.step).unwrap_or(SignedDuration::from_mins(15)))
        .map_err(|e| vpp_store::StoreError::Corrupt(e.to_string()))?;
    let hours = settings.step.as_secs_f64() / 3600.0;
    // dispatch() gives setpoints to ONLINE members only.
    let plan = dispatch(&snapshot.fleet, committed, hours, DispatchMode::MeritOrder);
    let record = dispatch_record(&snapshot, committed, (start, end), DispatchMode::MeritOrder, &plan, vpp_store::now());
    store.save_dispatch(&record).await?;
    Ok(("redispatched".into(), record.id))
}

fn ts(us: i64) -> vpp_store::Result<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| vpp_store::StoreError::Corrupt(e.to_string()))
}

/// Whether a cycle at `now` compares the step that just ended: not when
/// that step began before the loop did at `began`. The process was not
/// running for all of it (devices started, or followed their first
/// dispatch, part-way through), so its mean against the schedule would
/// raise a false critical alert right after a start.
pub fn whole_step_observed(now: Timestamp, began: Timestamp, step: Duration) -> bool {
    let step_us = (step.as_micros() as i64).max(1);
    let end_us = now.as_microsecond().div_euclid(step_us) * step_us;
    end_us - step_us >= began.as_microsecond()
}

/// Runs [`control_cycle`] a few seconds after every step boundary until the
/// task is dropped, from the first step the loop saw whole; failures are
/// logged and the loop goes on.
pub fn spawn_control_loop(store: Arc<Store>, settings: ControlSettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let began = Timestamp::now();
        let step_ms = settings.step.as_millis().max(1) as i64;
        loop {
            let now_ms = Timestamp::now().as_millisecond();
            let wait = step_ms - now_ms.rem_euclid(step_ms) + 5_000;
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            let now = Timestamp::now();
            if !whole_step_observed(now, began, settings.step) {
                tracing::info!("the step that just ended began before vpp started: not compared");
                continue;
            }
            match control_cycle(&store, now, &settings).await {
                Ok(outcomes) => tracing::info!(vpps = outcomes.len(), "execution recorded"),
                Err(e) => tracing::error!(error = %e, "execution control cycle failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_that_began_before_the_start_is_not_compared() {
        let at = |s: &str| s.parse::<Timestamp>().expect("time");
        let quarter = Duration::from_secs(900);
        let began = at("2026-12-06T10:07:00Z");
        // 10:15:05: the step 10:00-10:15 ran only 8 minutes under vpp.
        assert!(!whole_step_observed(at("2026-12-06T10:15:05Z"), began, quarter));
        // 10:30:05: the step 10:15-10:30 ran whole.
        assert!(whole_step_observed(at("2026-12-06T10:30:05Z"), began, quarter));
        // Started exactly on a boundary: that step is whole.
        assert!(whole_step_observed(at("2026-12-06T10:15:05Z"), at("2026-12-06T10:00:00Z"), quarter));
    }
}
