//! A small reader of the Prometheus text format, for the metrics tests.

use std::collections::BTreeMap;

/// One sample line: metric name, labels, value.
pub type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition format (comments skipped).
pub fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            other => other.parse().unwrap(),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => (name.to_owned(), labels(rest.strip_suffix('}').unwrap())),
        };
        out.push((name, labels, value));
    }
    out
}

/// `a="x",b="y"` into a map (values unescaped).
fn labels(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"").unwrap();
        let mut value = String::new();
        let mut characters = rest.char_indices();
        let end = loop {
            match characters.next().unwrap() {
                (_, '\\') => match characters.next().unwrap().1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (index, '"') => break index,
                (_, other) => value.push(other),
            }
        };
        labels.insert(key.to_owned(), value);
        text = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The sum of the samples `name` whose labels include `wanted` (as PromQL's
/// `sum(name{wanted})`); `None` when there is none.
pub fn value(text: &str, name: &str, wanted: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples(text)
        .into_iter()
        .filter(|(sample, labels, _)| {
            sample == name
                && wanted
                    .iter()
                    .all(|(key, value)| labels.get(*key).map(String::as_str) == Some(*value))
        })
        .map(|(_, _, value)| value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// Every histogram series: buckets non-decreasing, `+Inf` equal to `_count`.
/// Returns the number of series checked.
pub fn check_histograms(text: &str) -> usize {
    let all = samples(text);
    let mut checked = 0;
    for (name, labels, count) in all.iter().filter(|(name, ..)| name.ends_with("_count")) {
        let base = name.strip_suffix("_count").unwrap();
        let bucket_name = format!("{base}_bucket");
        let buckets: Vec<(f64, f64)> = all
            .iter()
            .filter(|(name, bucket_labels, _)| {
                *name == bucket_name && {
                    let mut without_le = bucket_labels.clone();
                    without_le.remove("le");
                    without_le == *labels
                }
            })
            .map(|(_, bucket_labels, value)| {
                let le = match bucket_labels["le"].as_str() {
                    "+Inf" => f64::INFINITY,
                    bound => bound.parse().unwrap(),
                };
                (le, *value)
            })
            .collect();
        assert!(buckets.len() > 1, "{base} {labels:?} has no buckets");
        assert!(
            buckets.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "{base}: bounds ascend"
        );
        assert!(
            buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
            "{base} {labels:?}: cumulative"
        );
        assert_eq!(
            buckets.last().unwrap(),
            &(f64::INFINITY, *count),
            "{base} {labels:?}: +Inf is _count"
        );
        checked += 1;
    }
    checked
}
