//! The languages vpp writes its own prose in (alert messages, bill lines
//! and notes, savings formulas, report notes, the printable park and
//! performance reports): English and Simplified Chinese. Codes and enums travel as codes and are named by
//! the console; prose the server composes from figures is written here, in
//! the language the request asks for with `Accept-Language`.

use serde::{Deserialize, Serialize};

/// A language of vpp's own texts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Lang {
    /// English (the default).
    #[default]
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    Zh,
}

impl Lang {
    /// The language an `Accept-Language` header prefers among English and
    /// Chinese: the highest-weighted `zh…` or `en…` range (ties go to the
    /// first listed); English when neither is asked for or the header is
    /// unreadable.
    pub fn negotiate(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let range = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            let lang = if range == "zh" || range.starts_with("zh-") {
                Lang::Zh
            } else if range == "en" || range.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// Its BCP 47 tag (`en`, `zh-CN`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// Picks the text of this language.
    pub fn pick<T>(self, en: T, zh: T) -> T {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_of_english_and_chinese_wins() {
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::negotiate("en-GB,en;q=0.9,zh;q=0.5"), Lang::En);
        assert_eq!(Lang::negotiate("de-DE,zh;q=0.7,en;q=0.3"), Lang::Zh);
        assert_eq!(Lang::negotiate("fr, en;q=0.1"), Lang::En);
        assert_eq!(Lang::negotiate("ZH-hans"), Lang::Zh);
    }

    #[test]
    fn neither_asked_for_or_unreadable_is_english() {
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::negotiate("de-DE, fr;q=0.5"), Lang::En);
        assert_eq!(Lang::negotiate("zh;q=0"), Lang::En);
        assert_eq!(Lang::negotiate(";;;,,"), Lang::En);
        assert_eq!(Lang::negotiate("zh;q=abc"), Lang::Zh, "an unreadable weight counts as 1");
    }
}
