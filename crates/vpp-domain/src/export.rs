//! Text for files that people open in spreadsheets.

use std::borrow::Cow;

/// A text cell that a spreadsheet will show as text: one starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a
/// formula (CSV injection, OWASP), so it gets a leading `'`. Only for text
/// that people or devices chose (names, keys); numbers are written as they
/// are, since a negative amount must stay a number.
pub fn spreadsheet_text(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_names_stay() {
        assert_eq!(spreadsheet_text("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        for risky in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(spreadsheet_text(risky).starts_with('\''), "{risky:?}");
        }
        assert_eq!(spreadsheet_text("PV 01 Berlin"), "PV 01 Berlin");
        assert_eq!(spreadsheet_text(""), "");
    }
}
