//! The Prometheus text exposition format (version 0.0.4). Each family is
//! written as
//!
//! ```text
//! # HELP <name> <help>
//! # TYPE <name> counter|gauge|histogram
//! <name>{<label>="<value>",…} <value>
//! ```
//!
//! with one line per series (none when the family has no series yet). A
//! histogram series is written as its cumulative buckets
//! `<name>_bucket{…,le="<bound>"}` in ascending order, ending with
//! `le="+Inf"`, then `<name>_sum{…}` and `<name>_count{…}`; the `+Inf` bucket
//! equals `_count`. Label values escape `\`, `"` and newlines; help text
//! escapes `\` and newlines. Series come sorted by their label values.

use std::fmt::Write;

use super::registry::{Counter, Family, Gauge, Histogram};

/// The `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family that can be written in the text format.
pub trait Render {
    /// Appends the family's `# HELP`, `# TYPE` and series lines to `out`.
    fn render(&self, out: &mut String);
}

impl Render for Family<Counter> {
    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "counter");
        for (values, counter) in self.collect() {
            let labels = label_pairs(self.label_names, &values);
            sample(out, self.name, "", &labels, &counter.get().to_string());
        }
    }
}

impl Render for Family<Gauge> {
    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "gauge");
        for (values, gauge) in self.collect() {
            let labels = label_pairs(self.label_names, &values);
            sample(out, self.name, "", &labels, &gauge.get().to_string());
        }
    }
}

impl Render for Family<Histogram> {
    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "histogram");
        for (values, histogram) in self.collect() {
            let labels = label_pairs(self.label_names, &values);
            let snapshot = histogram.snapshot();
            let separator = if labels.is_empty() { "" } else { "," };
            for (bound, count) in snapshot.bounds.iter().zip(&snapshot.cumulative) {
                let with_le = format!("{labels}{separator}le=\"{}\"", number(*bound));
                sample(out, self.name, "_bucket", &with_le, &count.to_string());
            }
            let with_le = format!("{labels}{separator}le=\"+Inf\"");
            let count = snapshot.count.to_string();
            sample(out, self.name, "_bucket", &with_le, &count);
            sample(out, self.name, "_sum", &labels, &number(snapshot.sum));
            sample(out, self.name, "_count", &labels, &count);
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, value: &str) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name}{suffix} {value}");
    } else {
        let _ = writeln!(out, "{name}{suffix}{{{labels}}} {value}");
    }
}

/// `name="value",…` without the braces.
pub fn label_pairs(names: &[&str], values: &[String]) -> String {
    let mut out = String::new();
    for (index, (name, value)) in names.iter().zip(values).enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", escape_label_value(value));
    }
    out
}

/// A label value with `\`, `"` and newlines escaped.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, whole numbers with `.0`.
pub fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(family: &dyn Render) -> String {
        let mut out = String::new();
        family.render(&mut out);
        out
    }

    #[test]
    fn a_counter_is_written_with_help_type_and_one_line_per_series() {
        let family = Family::new(
            "jobs_total",
            "Jobs done.",
            &["queue", "status"],
            Counter::default,
        );
        family.with(&["b", "ok"], |counter| counter.add(2));
        family.with(&["a", "ok"], |counter| counter.add(1));
        assert_eq!(
            rendered(&family),
            "# HELP jobs_total Jobs done.\n\
             # TYPE jobs_total counter\n\
             jobs_total{queue=\"a\",status=\"ok\"} 1\n\
             jobs_total{queue=\"b\",status=\"ok\"} 2\n"
        );
    }

    #[test]
    fn a_family_without_labels_or_series_writes_bare_lines() {
        let gauge = Family::new("in_flight", "Now.", &[], Gauge::default);
        assert_eq!(
            rendered(&gauge),
            "# HELP in_flight Now.\n# TYPE in_flight gauge\n"
        );
        gauge.with(&[], |gauge| gauge.add(-1));
        assert!(rendered(&gauge).ends_with("\nin_flight -1\n"));
    }

    #[test]
    fn a_histogram_is_written_as_cumulative_buckets_sum_and_count() {
        let family = Family::new("latency_seconds", "Latency.", &["route"], || {
            Histogram::new(&[0.1, 1.0])
        });
        for value in [0.05, 0.5, 0.7, 3.0] {
            family.with(&["/v1/x/{id}"], |histogram| histogram.observe(value));
        }
        assert_eq!(
            rendered(&family),
            "# HELP latency_seconds Latency.\n\
             # TYPE latency_seconds histogram\n\
             latency_seconds_bucket{route=\"/v1/x/{id}\",le=\"0.1\"} 1\n\
             latency_seconds_bucket{route=\"/v1/x/{id}\",le=\"1.0\"} 3\n\
             latency_seconds_bucket{route=\"/v1/x/{id}\",le=\"+Inf\"} 4\n\
             latency_seconds_sum{route=\"/v1/x/{id}\"} 4.25\n\
             latency_seconds_count{route=\"/v1/x/{id}\"} 4\n"
        );
    }

    #[test]
    fn a_histogram_without_labels_puts_only_le_in_braces() {
        let family = Family::new("added_seconds", "Added.", &[], || Histogram::new(&[0.5]));
        family.with(&[], |histogram| histogram.observe(1.0));
        let text = rendered(&family);
        assert!(
            text.contains("added_seconds_bucket{le=\"0.5\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("added_seconds_bucket{le=\"+Inf\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("added_seconds_sum 1.0\nadded_seconds_count 1\n"),
            "{text}"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let family = Family::new("c", "Back\\slash\nnewline.", &["model"], Counter::default);
        family.with(&["a\"b\\c\nd"], |counter| counter.add(1));
        assert_eq!(
            rendered(&family),
            "# HELP c Back\\\\slash\\nnewline.\n# TYPE c counter\nc{model=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn numbers_are_written_the_prometheus_way() {
        assert_eq!(number(1.0), "1.0");
        assert_eq!(number(0.005), "0.005");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
