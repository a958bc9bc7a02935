//! Dispatch instructions and how their execution is judged against telemetry.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid};
use crate::fleet::DispatchMode;

/// Longest dispatch window accepted, minutes (one day).
pub const MAX_DISPATCH_MINUTES: i64 = 1440;

/// A dispatch request for a VPP.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// Net VPP setpoint in kW: positive injects, negative absorbs.
    pub target_kw: f64,
    /// Start of delivery (UTC); default now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    /// Length of delivery in minutes, 1..1440; default 15.
    #[serde(default = "default_duration")]
    pub duration_minutes: i64,
    /// Split rule; default merit_order.
    #[serde(default)]
    pub mode: DispatchMode,
}

fn default_duration() -> i64 {
    15
}

impl DispatchRequest {
    /// Checks the target and window.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Errors::default();
        errors.range("target_kw", self.target_kw, -1e9, 1e9);
        errors.check(
            (1..=MAX_DISPATCH_MINUTES).contains(&self.duration_minutes),
            "duration_minutes",
            format!("must be 1..{MAX_DISPATCH_MINUTES}, got {}", self.duration_minutes),
        );
        errors.finish(())
    }

    /// Delivery window `[start, end)` given the current time.
    pub fn window(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let start = self.start.unwrap_or(now);
        (start, start + SignedDuration::from_mins(self.duration_minutes))
    }
}

/// Where an instruction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionPhase {
    /// Delivery has not started.
    Scheduled,
    /// Inside the delivery window.
    InProgress,
    /// The window has ended.
    Completed,
}

/// Phase of the half-open window `[start, end)` at `now`.
pub fn phase(start: Timestamp, end: Timestamp, now: Timestamp) -> ExecutionPhase {
    if now < start {
        ExecutionPhase::Scheduled
    } else if now < end {
        ExecutionPhase::InProgress
    } else {
        ExecutionPhase::Completed
    }
}

/// Measured power against a setpoint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deviation {
    /// actual − target, kW.
    pub deviation_kw: f64,
    /// deviation / |target| × 100; null when the target is 0.
    pub deviation_pct: Option<f64>,
}

/// Deviation of `actual_kw` from `target_kw`.
pub fn deviation(target_kw: f64, actual_kw: f64) -> Deviation {
    let deviation_kw = actual_kw - target_kw;
    Deviation { deviation_kw, deviation_pct: (target_kw != 0.0).then(|| deviation_kw / target_kw.abs() * 100.0) }
}

/// Where a setpoint is on its way to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet published.
    Pending,
    /// Published, waiting for the device's answer.
    Sent,
    /// The device takes it.
    Acknowledged,
    /// The device refused it.
    Rejected,
    /// No answer after every retry.
    Failed,
}

impl DeliveryState {
    /// Its stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Acknowledged => "acknowledged",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Acknowledged, Self::Rejected, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A setpoint on its way to a device.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Instruction id.
    pub instruction_id: String,
    /// Device.
    pub resource_id: String,
    /// Adapter that delivers it: `mqtt`, or `modbus_tcp` for a resource with
    /// an enabled Modbus link.
    pub channel: String,
    /// MQTT topic, or the device's address (`modbus://host:port/unit`).
    pub topic: String,
    /// JSON payload (`{instruction_id, target_kw, start, duration_s}`).
    pub payload: String,
    /// State.
    pub state: DeliveryState,
    /// Times published.
    pub attempts: i64,
    /// When it is due for (re)publishing or giving up.
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    /// Last published.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
    /// When the device answered (or the bridge gave up).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<Timestamp>,
    /// The device's reason for a rejection, or why it failed.
    pub reason: Option<String>,
}

/// One member's (or, with an empty `resource_id`, the VPP's) execution in one interval.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviationRecord {
    /// VPP.
    pub vpp_id: String,
    /// Member, or empty for the VPP total.
    pub resource_id: String,
    /// Interval start (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub interval_start: Timestamp,
    /// Interval end (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub interval_end: Timestamp,
    /// Scheduled power, kW.
    pub scheduled_kw: f64,
    /// Mean measured power, kW (0 when no sample arrived; see `samples`).
    pub measured_kw: f64,
    /// Telemetry samples in the interval.
    pub samples: i64,
    /// measured − scheduled, kW (0 without samples).
    pub deviation_kw: f64,
    /// `within_threshold`, `no_telemetry`, `redispatched` or `no_flexibility` (VPP rows); `member` for member rows.
    pub action: String,
    /// Re-dispatch issued, if any (else empty).
    pub dispatch_id: String,
    /// When recorded (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_half_open() {
        let s: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        let e = s + SignedDuration::from_mins(15);
        assert_eq!(phase(s, e, s - SignedDuration::from_secs(1)), ExecutionPhase::Scheduled);
        assert_eq!(phase(s, e, s), ExecutionPhase::InProgress);
        assert_eq!(phase(s, e, e), ExecutionPhase::Completed);
    }

    #[test]
    fn deviation_sign_and_percent() {
        let d = deviation(-100.0, -90.0);
        assert_eq!(d.deviation_kw, 10.0);
        assert_eq!(d.deviation_pct, Some(10.0));
        assert_eq!(deviation(0.0, 5.0).deviation_pct, None);
    }

    #[test]
    fn request_checks() {
        let r: DispatchRequest =
            serde_json::from_value(serde_json::json!({"target_kw": 5, "duration_minutes": 0})).expect("json");
        assert_eq!(r.validate().expect_err("bad").0[0].field, "duration_minutes");
    }
}

/// A setpoint as it goes to a device, whatever the adapter: the MQTT
/// message's payload, and the payload recorded with every delivery.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setpoint {
    /// Instruction id, echoed in the acknowledgement.
    pub instruction_id: String,
    /// Power to hold, kW (positive: inject).
    pub target_kw: f64,
    /// From when (UTC).
    pub start: Timestamp,
    /// For how long, seconds.
    pub duration_s: u64,
}
