//! Writing the families' samples as text: Prometheus text format 0.0.4, or OpenMetrics 1.0.
//!
//! A family's `# HELP` and `# TYPE` lines are written before its first sample, so a family
//! whose reader gives nothing is absent. Label values escape `\`, `"` and line feeds; HELP
//! texts escape `\` and line feeds (the formats' rules).

use std::fmt::Write as _;

use crate::families::{FamilyInfo, Kind, Sink, Value};

/// The text formats the exporter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4 ([`Format::content_type`]).
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 text: counter families named without `_total`, `# UNIT` lines, no blank
    /// lines, `# EOF` at the end.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format a scraper asks for with its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text` (with a non-zero quality), else Prometheus text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let wants = accept.is_some_and(|a| {
            a.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let media = parts.next().unwrap_or("");
                let zero =
                    parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse() == Ok(0.0)));
                media.eq_ignore_ascii_case("application/openmetrics-text") && !zero
            })
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// Writes one family's samples into `out`.
pub(crate) struct TextSink<'a> {
    out: &'a mut String,
    family: &'static FamilyInfo,
    format: Format,
    started: bool,
}

impl<'a> TextSink<'a> {
    pub(crate) fn new(out: &'a mut String, family: &'static FamilyInfo, format: Format) -> Self {
        TextSink {
            out,
            family,
            format,
            started: false,
        }
    }

    /// Ends the family (a blank line after it in Prometheus text, if it had samples).
    pub(crate) fn finish(self) {
        if self.started && self.format == Format::Prometheus {
            self.out.push('\n');
        }
    }

    fn header(&mut self) {
        let f = self.family;
        let name = match (self.format, f.kind) {
            (Format::OpenMetrics, Kind::Counter) => f.name.strip_suffix("_total").unwrap_or(f.name),
            _ => f.name,
        };
        // Writing into a String cannot fail.
        let _ = write!(self.out, "# HELP {name} ");
        escape_help(self.out, f.help);
        let _ = writeln!(self.out, "\n# TYPE {name} {}", f.kind.as_str());
        if self.format == Format::OpenMetrics {
            if let Some(unit) = f.unit() {
                let _ = writeln!(self.out, "# UNIT {name} {unit}");
            }
        }
    }
}

impl Sink for TextSink<'_> {
    fn sample(&mut self, suffix: &'static str, labels: &[(&'static str, &str)], value: Value) {
        if !self.started {
            self.started = true;
            self.header();
        }
        self.out.push_str(self.family.name);
        self.out.push_str(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label_value(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value as the formats quote it: `\` → `\\`, `"` → `\"`, line feed → `\n`.
pub(crate) fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A HELP text as the formats write it: `\` → `\\`, line feed → `\n`.
fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(v: &str) -> String {
        let mut s = String::new();
        escape_label_value(&mut s, v);
        s
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label("line\nnext"), r"line\nnext");
        assert_eq!(label("plain é ✓"), "plain é ✓");
        let mut h = String::new();
        escape_help(&mut h, "a \"quoted\" \\ and\nmore");
        assert_eq!(h, r#"a "quoted" \\ and\nmore"#);
    }

    #[test]
    fn accept_headers_choose_the_format() {
        let f = |a: &str| Format::from_accept(Some(a));
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(f("text/plain"), Format::Prometheus);
        assert_eq!(
            f("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::OpenMetrics
        );
        assert_eq!(f("application/openmetrics-text; q=0"), Format::Prometheus);
    }
}
