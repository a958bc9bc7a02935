//! What an alert says, as a code with its figures, so it can be written in
//! the reader's language when it is read (alerts are stored once and read
//! in English and Chinese). Texts that come from outside (a device's or an
//! operating system's error, an import's refusals) are quoted verbatim.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// The message of an alert: its code and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AlertMessage {
    /// A device sent no telemetry for `quiet_s` seconds.
    NoTelemetry {
        /// Resource id.
        resource: String,
        /// Seconds without telemetry.
        quiet_s: f64,
        /// The timeout, seconds.
        timeout_s: f64,
    },
    /// A Modbus device did not answer several polls in a row.
    DeviceNotAnswering {
        /// Resource id.
        resource: String,
        /// Host and port polled.
        address: String,
        /// Polls in a row without an answer.
        failures: u32,
        /// The last error, verbatim.
        error: String,
    },
    /// An OCPP station's connection closed.
    StationDisconnected {
        /// Resource id.
        resource: String,
        /// Station id.
        station: String,
    },
    /// A device rejected a setpoint.
    SetpointRejected {
        /// Resource id.
        resource: String,
        /// Instruction id.
        instruction: String,
        /// The device's reason, verbatim.
        reason: Option<String>,
    },
    /// A setpoint was sent this many times without an answer.
    SetpointUnanswered {
        /// Resource id.
        resource: String,
        /// Instruction id.
        instruction: String,
        /// Times sent.
        attempts: i64,
    },
    /// A setpoint's window ended before the device took it.
    SetpointExpired {
        /// Resource id.
        resource: String,
        /// Instruction id.
        instruction: String,
    },
    /// An OCPP charging profile was rejected or failed.
    ChargingProfileRefused {
        /// Resource id.
        resource: String,
        /// Instruction id.
        instruction: String,
        /// Delivery state (`rejected`, `failed`).
        state: String,
        /// The station's reason, verbatim.
        reason: Option<String>,
    },
    /// The MQTT broker could not be reached.
    BrokerUnreachable {
        /// Seconds since it was last reached.
        seconds: f64,
        /// The client's error, verbatim.
        error: String,
    },
    /// A battery reported a SOC outside its window.
    SocOutOfWindow {
        /// Resource id.
        resource: String,
        /// SOC reported, %.
        soc_pct: f64,
        /// Window, %.
        min_pct: f64,
        /// Window, %.
        max_pct: f64,
    },
    /// An ingestion source's location or file could not be read.
    IngestionUnreadable {
        /// The location or file.
        location: String,
        /// The error, verbatim.
        error: String,
    },
    /// A file is larger than a source takes.
    IngestionTooLarge {
        /// File name.
        file: String,
        /// Its size, bytes.
        bytes: u64,
        /// The most a source takes, bytes.
        limit: u64,
    },
    /// An ingested file was refused, whole or in part, or its import failed.
    IngestionRefused {
        /// `refused`, `partial` or `failed`.
        outcome: String,
        /// Rows stored.
        accepted: u64,
        /// Rows refused.
        refused: u64,
        /// The import's verdict in English (the English message; the
        /// Chinese one is written from the figures).
        verdict: String,
        /// The first refused lines with their reasons.
        lines: Vec<RefusedLine>,
    },
    /// A VPP's measured power strayed from its schedule past the threshold.
    ExecutionDeviation {
        /// VPP name.
        vpp: String,
        /// Measured mean power, kW.
        measured_kw: f64,
        /// Scheduled power (of the members measured), kW.
        scheduled_kw: f64,
        /// Threshold, kW.
        threshold_kw: f64,
        /// Start of the step.
        #[schema(value_type = String, format = DateTime)]
        step_start: Timestamp,
    },
    /// Free text (alerts stored before messages had codes).
    Text {
        /// The text.
        text: String,
    },
}

/// A line of a file that was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefusedLine {
    /// Line number (1 = the first line).
    pub line: u64,
    /// Why, verbatim.
    pub reason: String,
}

impl AlertMessage {
    /// The message in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            Self::NoTelemetry { resource, quiet_s, timeout_s } => {
                if zh {
                    format!("{resource}：{quiet_s:.0} 秒无遥测（超时 {timeout_s:.0} 秒）")
                } else {
                    format!("{resource}: no telemetry for {quiet_s:.0} s (timeout {timeout_s:.0} s)")
                }
            }
            Self::DeviceNotAnswering { resource, address, failures, error } => {
                if zh {
                    format!("{resource}：{address} 连续 {failures} 次轮询无应答：{error}")
                } else {
                    format!("{resource}: {address} did not answer {failures} polls: {error}")
                }
            }
            Self::StationDisconnected { resource, station } => {
                if zh {
                    format!("{resource}：充电站 {station} 的 OCPP 连接已断开")
                } else {
                    format!("{resource}: station {station}: OCPP connection closed")
                }
            }
            Self::SetpointRejected { resource, instruction, reason } => match (zh, reason) {
                (true, Some(r)) => format!("{resource} 拒绝了设定值 {instruction}：{r}"),
                (true, None) => format!("{resource} 拒绝了设定值 {instruction}（未说明原因）"),
                (false, Some(r)) => format!("{resource} rejected setpoint {instruction}: {r}"),
                (false, None) => format!("{resource} rejected setpoint {instruction}: no reason given"),
            },
            Self::SetpointUnanswered { resource, instruction, attempts } => {
                if zh {
                    format!("{resource}：设定值 {instruction} 已发送 {attempts} 次，仍未确认")
                } else {
                    format!("{resource}: setpoint {instruction}: no acknowledgement after {attempts} attempts")
                }
            }
            Self::SetpointExpired { resource, instruction } => {
                if zh {
                    format!("{resource}：设定值 {instruction} 在设备接收前已过期")
                } else {
                    format!("{resource}: setpoint {instruction} ended before the device took it")
                }
            }
            Self::ChargingProfileRefused { resource, instruction, state, reason } => {
                let reason = reason.as_deref();
                if zh {
                    let state = match state.as_str() {
                        "rejected" => "被拒绝",
                        "failed" => "失败",
                        other => other,
                    };
                    format!("{resource}：充电曲线 {instruction} {state}：{}", reason.unwrap_or("未说明原因"))
                } else {
                    format!(
                        "{resource}: charging profile {instruction} {state}: {}",
                        reason.unwrap_or("no reason given")
                    )
                }
            }
            Self::BrokerUnreachable { seconds, error } => {
                if zh {
                    format!("MQTT 代理已 {seconds:.0} 秒无法连接：{error}")
                } else {
                    format!("broker unreachable for {seconds:.0} s: {error}")
                }
            }
            Self::SocOutOfWindow { soc_pct, min_pct, max_pct, .. } => {
                if zh {
                    format!("荷电状态 {soc_pct:.1} % 超出 {min_pct}..{max_pct} %")
                } else {
                    format!("SOC {soc_pct:.1} % outside {min_pct}..{max_pct} %")
                }
            }
            Self::IngestionUnreadable { location, error } => {
                if zh {
                    format!("无法读取 {location}：{error}")
                } else {
                    format!("could not read {location}: {error}")
                }
            }
            Self::IngestionTooLarge { file, bytes, limit } => {
                if zh {
                    format!("{file} 大小为 {bytes} 字节，超过数据源上限 {limit} 字节")
                } else {
                    format!("{file} is {bytes} bytes, over the {limit} a source takes")
                }
            }
            Self::IngestionRefused { outcome, accepted, refused, verdict, lines } => {
                let head = match (zh, outcome.as_str()) {
                    (false, _) => verdict.clone(),
                    (true, "partial") => format!("文件部分导入：接受 {accepted} 行，拒收 {refused} 行"),
                    (true, "failed") => "导入失败：服务器出错，详见服务器日志".to_string(),
                    (true, _) if *refused > 0 => format!("文件被拒收：{refused} 行无效，未导入任何数据"),
                    (true, _) => format!("文件被拒收：{verdict}"),
                };
                let lines: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        let (n, reason) = (l.line, &l.reason);
                        if zh { format!("第 {n} 行：{reason}") } else { format!("line {n}: {reason}") }
                    })
                    .collect();
                let sep = lang.pick("; ", "；");
                if lines.is_empty() { head } else { format!("{head}{sep}{}", lines.join(sep)) }
            }
            Self::ExecutionDeviation { vpp, measured_kw, scheduled_kw, threshold_kw, step_start } => {
                let deviation = measured_kw - scheduled_kw;
                if zh {
                    format!(
                        "{vpp}：自 {step_start} 起的时段实测 {measured_kw:.1} kW，计划 {scheduled_kw:.1} kW（偏差 {deviation:+.1} kW，阈值 {threshold_kw:.1} kW）；已重新调度"
                    )
                } else {
                    format!(
                        "{vpp}: measured {measured_kw:.1} kW against {scheduled_kw:.1} kW scheduled ({deviation:+.1} kW, threshold {threshold_kw:.1} kW) \
                         in the step from {step_start}; re-dispatched"
                    )
                }
            }
            Self::Text { text } => text.clone(),
        }
    }

    /// Its stored form (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored form; a missing or unreadable one falls back to the
    /// stored English text.
    pub fn from_stored(json: Option<&str>, text: &str) -> AlertMessage {
        json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_else(|| Self::Text { text: text.to_string() })
    }
}

impl From<&str> for AlertMessage {
    fn from(text: &str) -> Self {
        Self::Text { text: text.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_stored_as_its_code_and_figures_and_read_in_either_language() {
        let m = AlertMessage::SetpointUnanswered { resource: "b7".into(), instruction: "i1".into(), attempts: 3 };
        let stored = m.to_json();
        assert_eq!(stored, r#"{"code":"setpoint_unanswered","resource":"b7","instruction":"i1","attempts":3}"#);
        let back = AlertMessage::from_stored(Some(&stored), "ignored");
        assert_eq!(back.render(Lang::En), "b7: setpoint i1: no acknowledgement after 3 attempts");
        assert_eq!(back.render(Lang::Zh), "b7：设定值 i1 已发送 3 次，仍未确认");
    }

    #[test]
    fn an_old_alert_without_a_code_keeps_its_text() {
        let m = AlertMessage::from_stored(None, "SOC 97.0 % outside 10..90 %");
        assert_eq!(m.render(Lang::Zh), "SOC 97.0 % outside 10..90 %");
        assert_eq!(AlertMessage::from_stored(Some("{not json"), "kept").render(Lang::En), "kept");
    }

    #[test]
    fn every_message_has_chinese_prose_apart_from_quoted_texts() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let all = [
            AlertMessage::NoTelemetry { resource: "r".into(), quiet_s: 301.0, timeout_s: 300.0 },
            AlertMessage::DeviceNotAnswering {
                resource: "r".into(),
                address: "127.0.0.1:502".into(),
                failures: 3,
                error: String::new(),
            },
            AlertMessage::StationDisconnected { resource: "r".into(), station: "s".into() },
            AlertMessage::SetpointRejected { resource: "r".into(), instruction: "i".into(), reason: None },
            AlertMessage::SetpointExpired { resource: "r".into(), instruction: "i".into() },
            AlertMessage::ChargingProfileRefused {
                resource: "r".into(),
                instruction: "i".into(),
                state: "rejected".into(),
                reason: None,
            },
            AlertMessage::BrokerUnreachable { seconds: 12.0, error: String::new() },
            AlertMessage::SocOutOfWindow { resource: "r".into(), soc_pct: 97.0, min_pct: 10.0, max_pct: 90.0 },
            AlertMessage::IngestionUnreadable { location: "/x".into(), error: String::new() },
            AlertMessage::IngestionTooLarge { file: "f.csv".into(), bytes: 2, limit: 1 },
            AlertMessage::IngestionRefused {
                outcome: "refused".into(),
                accepted: 0,
                refused: 1,
                verdict: "1 refused lines, nothing imported".into(),
                lines: vec![RefusedLine { line: 3, reason: String::new() }],
            },
            AlertMessage::IngestionRefused {
                outcome: "partial".into(),
                accepted: 9,
                refused: 1,
                verdict: "10 rows into series s".into(),
                lines: vec![],
            },
            AlertMessage::IngestionRefused {
                outcome: "failed".into(),
                accepted: 0,
                refused: 0,
                verdict: "the server failed; see its log".into(),
                lines: vec![],
            },
            AlertMessage::ExecutionDeviation {
                vpp: "V".into(),
                measured_kw: 1.0,
                scheduled_kw: 2.0,
                threshold_kw: 0.5,
                step_start: at,
            },
        ];
        for m in all {
            let zh = m.render(Lang::Zh);
            let english: Vec<&str> = zh
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() > 3 && *w != "OCPP" && *w != "MQTT")
                .collect();
            assert!(english.is_empty(), "{zh}: {english:?}");
            assert_ne!(zh, m.render(Lang::En));
        }
    }
}
