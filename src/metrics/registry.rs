//! The storage behind the metrics: a [`Family`] is one metric name with fixed
//! label names, holding one series per distinct set of label values. Every
//! series is a handful of atomics, so recording is lock-free once a series
//! exists; finding it takes a read lock on a map keyed by a hash of the label
//! values (no allocation). Only the first record of a new label set takes the
//! write lock. A family holds at most [`MAX_SERIES`] series: label values that
//! come from clients (a model name under a catch-all route) cannot grow memory
//! without bound — past the cap, new label sets are counted under
//! [`OVERFLOW_VALUE`].

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Series per family before new label sets are folded into one.
pub const MAX_SERIES: usize = 1000;

/// The value of every label of the series that takes label sets past the cap.
pub const OVERFLOW_VALUE: &str = "__overflow__";

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `amount`.
    pub fn add(&self, amount: u64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Observations counted into buckets by upper bound (`le`), with their sum.
/// Each bucket counts only its own range; the cumulative counts Prometheus
/// wants are added up when rendered, and `_count` is their total, so the
/// `+Inf` bucket and `_count` always agree.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus the last for values above every bound.
    buckets: Box<[AtomicU64]>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    /// An empty histogram over ascending `bounds`.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Counts one observation (NaN is ignored).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let index = self.bounds.partition_point(|bound| *bound < value);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let mut current = self.sum.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match self.sum.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
    }

    /// The bounds, the cumulative count at each bound, the total count and the sum.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        for bucket in self.buckets.iter().take(self.bounds.len()) {
            running += bucket.load(Ordering::Relaxed);
            cumulative.push(running);
        }
        let overflow = self
            .buckets
            .last()
            .map_or(0, |bucket| bucket.load(Ordering::Relaxed));
        HistogramSnapshot {
            bounds: self.bounds,
            cumulative,
            count: running + overflow,
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub bounds: &'static [f64],
    /// Observations at or below each bound.
    pub cumulative: Vec<u64>,
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    pub sum: f64,
}

struct Entry<S> {
    values: Box<[String]>,
    series: Arc<S>,
}

/// One metric: its name, help, label names and series.
pub struct Family<S> {
    pub name: &'static str,
    pub help: &'static str,
    pub label_names: &'static [&'static str],
    make: Box<dyn Fn() -> S + Send + Sync>,
    hasher: RandomState,
    series: RwLock<HashMap<u64, Vec<Entry<S>>>>,
    len: AtomicUsize,
}

impl<S> std::fmt::Debug for Family<S> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Family")
            .field("name", &self.name)
            .field("series", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl<S> Family<S> {
    /// A family whose series are made by `make`.
    pub fn new(
        name: &'static str,
        help: &'static str,
        label_names: &'static [&'static str],
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            help,
            label_names,
            make: Box::new(make),
            hasher: RandomState::new(),
            series: RwLock::new(HashMap::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn key(&self, values: &[&str]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for value in values {
            value.hash(&mut hasher);
        }
        hasher.finish()
    }

    /// Runs `record` on the series for `values` (one per label name, in
    /// order), creating it on first use.
    pub fn with<R>(&self, values: &[&str], record: impl FnOnce(&S) -> R) -> R {
        let key = self.key(values);
        {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = find(&map, key, values) {
                return record(&entry.series);
            }
        }
        let series = self.insert(key, values);
        record(&series)
    }

    fn insert(&self, key: u64, values: &[&str]) -> Arc<S> {
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = find(&map, key, values) {
            return Arc::clone(&entry.series);
        }
        if self.len.load(Ordering::Relaxed) >= MAX_SERIES {
            let overflow = vec![OVERFLOW_VALUE; values.len()];
            let overflow_key = self.key(&overflow);
            if let Some(entry) = find(&map, overflow_key, &overflow) {
                return Arc::clone(&entry.series);
            }
            return self.insert_new(&mut map, overflow_key, &overflow);
        }
        self.insert_new(&mut map, key, values)
    }

    fn insert_new(
        &self,
        map: &mut HashMap<u64, Vec<Entry<S>>>,
        key: u64,
        values: &[&str],
    ) -> Arc<S> {
        let series = Arc::new((self.make)());
        map.entry(key).or_default().push(Entry {
            values: values.iter().map(|value| (*value).to_owned()).collect(),
            series: Arc::clone(&series),
        });
        self.len.fetch_add(1, Ordering::Relaxed);
        series
    }

    /// Every series with its label values, sorted by them (stable output).
    pub fn collect(&self) -> Vec<(Vec<String>, Arc<S>)> {
        let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(Vec<String>, Arc<S>)> = map
            .values()
            .flatten()
            .map(|entry| (entry.values.to_vec(), Arc::clone(&entry.series)))
            .collect();
        drop(map);
        all.sort_by(|left, right| left.0.cmp(&right.0));
        all
    }
}

fn find<'a, S>(
    map: &'a HashMap<u64, Vec<Entry<S>>>,
    key: u64,
    values: &[&str],
) -> Option<&'a Entry<S>> {
    map.get(&key)?.iter().find(|entry| {
        entry.values.len() == values.len()
            && entry
                .values
                .iter()
                .zip(values)
                .all(|(stored, wanted)| stored == wanted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_label_values_reach_the_same_series() {
        let family = Family::new("c", "help", &["a", "b"], Counter::default);
        family.with(&["x", "y"], |counter| counter.add(1));
        family.with(&["x", "y"], |counter| counter.add(2));
        family.with(&["xy", ""], |counter| counter.add(5));
        let all = family.collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, ["x", "y"]);
        assert_eq!(all[0].1.get(), 3);
        assert_eq!(all[1].1.get(), 5);
    }

    #[test]
    fn label_sets_past_the_cap_are_folded_into_the_overflow_series() {
        let family = Family::new("c", "help", &["model"], Counter::default);
        for index in 0..MAX_SERIES + 10 {
            family.with(&[&format!("model-{index}")], |counter| counter.add(1));
        }
        let all = family.collect();
        assert_eq!(all.len(), MAX_SERIES + 1);
        let overflow = all.iter().find(|(values, _)| values[0] == OVERFLOW_VALUE);
        assert_eq!(overflow.map(|(_, counter)| counter.get()), Some(10));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_the_count_is_their_total() {
        let histogram = Histogram::new(&[0.1, 1.0, 10.0]);
        for value in [0.05, 0.1, 0.5, 2.0, 50.0, f64::NAN] {
            histogram.observe(value);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.cumulative, [2, 3, 4]);
        assert_eq!(snapshot.count, 5);
        assert!((snapshot.sum - 52.65).abs() < 1e-9);
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let family = Arc::new(Family::new("c", "help", &["a"], Counter::default));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let family = Arc::clone(&family);
                std::thread::spawn(move || {
                    for index in 0..1000 {
                        family.with(&[if index % 2 == 0 { "even" } else { "odd" }], |counter| {
                            counter.add(1)
                        });
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let total: u64 = family
            .collect()
            .iter()
            .map(|(_, counter)| counter.get())
            .sum();
        assert_eq!(total, 4000);
    }
}
