//! The conformance guard: replays every recorded cassette through an in-process
//! Portico (real HTTP to the scripted mock backend) and fails when the pass
//! rate of any API falls below the level recorded in `conformance/levels.toml`.
//! Levels only ever go up: raise them when Portico gets better.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use portico::conformance::report::{by_api, markdown};
use portico::conformance::{run, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_rates_never_fall_below_the_recorded_levels() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let levels: BTreeMap<String, f64> =
        toml::from_str(&std::fs::read_to_string(root.join("conformance/levels.toml")).unwrap())
            .unwrap();
    let options = Options {
        cassettes: root.join("conformance/cassettes"),
        target: None,
        api_key: None,
        model: None,
        only: None,
        max_tokens: None,
        dialect: None,
    };
    let (results, target) = run(&options).await.unwrap();
    assert!(
        results.len() > 1000,
        "the cassettes are missing: {} found",
        results.len()
    );
    let tallies = by_api(&results);
    let mut regressions = Vec::new();
    for (api, level) in &levels {
        let tally = tallies.get(api).copied().unwrap_or_default();
        let rate = tally.pass_rate();
        println!(
            "{api:14} {:4} in scope {:4} passed {:6.1} % (level {:.1} %)",
            tally.in_scope(),
            tally.passed + tally.refusals_passed,
            rate * 100.0,
            level * 100.0
        );
        if rate + 1e-9 < *level {
            regressions.push(format!(
                "{api}: {:.1} % < {:.1} %",
                rate * 100.0,
                level * 100.0
            ));
        }
    }
    if !regressions.is_empty() {
        let report = markdown(&results, &target);
        let failures = report.split("## Failures").nth(1).unwrap_or_default();
        panic!(
            "conformance fell below its levels: {}\n{}",
            regressions.join(", "),
            &failures[..failures.len().min(6000)]
        );
    }
}
