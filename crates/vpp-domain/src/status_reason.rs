//! Why a resource's status changed, as a code with its figures, so that the
//! reasons vpp writes itself (a silent device, an OCPP station's report, a
//! technical-data file) are read in the reader's language. What a person
//! typed is kept as they typed it.

use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// The reason of a status change: its code and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum StatusReason {
    /// Typed by a person (or stored before reasons had codes).
    Text {
        /// The text, verbatim.
        text: String,
    },
    /// No telemetry for `quiet_s` seconds.
    NoTelemetry {
        /// Seconds without telemetry.
        quiet_s: f64,
        /// The timeout, seconds.
        timeout_s: f64,
    },
    /// Telemetry arrived again after the device was OFFLINE.
    TelemetryAgain,
    /// The device itself reported the status in its telemetry.
    ReportedByDevice,
    /// A Modbus device did not answer several polls in a row.
    DeviceNotAnswering {
        /// Host and port polled.
        address: String,
        /// Polls in a row without an answer.
        failures: u32,
        /// The last error, verbatim.
        error: String,
    },
    /// An OCPP station's connection closed.
    StationDisconnected,
    /// An OCPP station booted.
    StationBooted,
    /// An OCPP station sent meter values.
    StationMeterValues,
    /// An OCPP station reported a connector status.
    StationStatus {
        /// OCPP connector status (`Available`, `Faulted`, …), verbatim.
        status: String,
        /// EVSE id.
        evse: i64,
    },
    /// A technical-data file set the status.
    TechnicalData {
        /// File name.
        file: String,
    },
}

impl StatusReason {
    /// The reason in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            Self::Text { text } => text.clone(),
            Self::NoTelemetry { quiet_s, timeout_s } => {
                if zh {
                    format!("{quiet_s:.0} 秒无遥测（超时 {timeout_s:.0} 秒）")
                } else {
                    format!("no telemetry for {quiet_s:.0} s (timeout {timeout_s:.0} s)")
                }
            }
            Self::TelemetryAgain => if zh { "重新收到遥测" } else { "telemetry received again" }.into(),
            Self::ReportedByDevice => if zh { "设备自报" } else { "reported by the device" }.into(),
            Self::DeviceNotAnswering { address, failures, error } => {
                if zh {
                    format!("{address} 连续 {failures} 次轮询无应答：{error}")
                } else {
                    format!("{address} did not answer {failures} polls: {error}")
                }
            }
            Self::StationDisconnected => if zh { "OCPP 连接已断开" } else { "OCPP connection closed" }.into(),
            Self::StationBooted => if zh { "OCPP 充电站已启动" } else { "OCPP station booted" }.into(),
            Self::StationMeterValues => if zh { "收到 OCPP 计量值" } else { "OCPP meter values received" }.into(),
            Self::StationStatus { status, evse } => {
                if zh {
                    format!("OCPP 连接器状态 {status}（EVSE {evse}）")
                } else {
                    format!("OCPP connector status {status} (EVSE {evse})")
                }
            }
            Self::TechnicalData { file } => {
                if zh {
                    format!("技术数据导入 `{file}`")
                } else {
                    format!("technical-data import `{file}`")
                }
            }
        }
    }
}

impl StatusReason {
    /// The reason as stored: its JSON if it has one (and it reads), else the
    /// stored text.
    pub fn from_stored(json: Option<&str>, text: &str) -> StatusReason {
        json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_else(|| Self::Text { text: text.to_string() })
    }
}

/// In English, for logs.
impl std::fmt::Display for StatusReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl From<&str> for StatusReason {
    fn from(text: &str) -> Self {
        Self::Text { text: text.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_in_both_languages_and_typed_text_stays() {
        let r = StatusReason::NoTelemetry { quiet_s: 125.4, timeout_s: 120.0 };
        assert_eq!(r.render(Lang::En), "no telemetry for 125 s (timeout 120 s)");
        assert_eq!(r.render(Lang::Zh), "125 秒无遥测（超时 120 秒）");
        let typed = StatusReason::from("inverter replacement scheduled");
        assert_eq!(typed.render(Lang::Zh), "inverter replacement scheduled");
        let json = serde_json::to_string(&StatusReason::StationStatus { status: "Faulted".into(), evse: 1 }).unwrap();
        assert_eq!(json, r#"{"code":"station_status","status":"Faulted","evse":1}"#);
        let back: StatusReason = serde_json::from_str(&json).unwrap();
        assert_eq!(back.render(Lang::En), "OCPP connector status Faulted (EVSE 1)");
    }
}
