//! The report: pass rates per API and per feature over in-scope cassettes,
//! out-of-scope counts with their reasons, what a target lacks, and the first
//! differences of each failure — as Markdown. In `--target` mode, cassettes
//! where the contract held but the model answered otherwise than OpenAI's
//! (text for a tool call, no reasoning item) are counted apart: they pass the
//! contract and are listed in their own section.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::replay::{CassetteResult, Outcome};

/// Counts for one API or feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub refusals_passed: usize,
    pub refusals_failed: usize,
    /// The contract held; the model answered otherwise than OpenAI's.
    pub chose_differently: usize,
    pub out_of_scope: usize,
}

impl Tally {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::ModelChoseDifferently(_) => self.chose_differently += 1,
            Outcome::HostedToolRefused { passed: true, .. } => self.refusals_passed += 1,
            Outcome::HostedToolRefused { passed: false, .. } => self.refusals_failed += 1,
            Outcome::OutOfScope(_) => self.out_of_scope += 1,
        }
    }

    /// Cassettes whose answers are compared (refusal checks included).
    pub fn in_scope(&self) -> usize {
        self.passed
            + self.failed
            + self.refusals_passed
            + self.refusals_failed
            + self.chose_differently
    }

    /// Cassettes whose answers kept the contract (the model's own choices aside).
    pub fn kept_contract(&self) -> usize {
        self.passed + self.refusals_passed + self.chose_differently
    }

    /// Kept the contract over in scope (1.0 when nothing is in scope).
    pub fn pass_rate(&self) -> f64 {
        let in_scope = self.in_scope();
        if in_scope == 0 {
            1.0
        } else {
            self.kept_contract() as f64 / in_scope as f64
        }
    }
}

/// Pass counts per API.
pub fn by_api(results: &[CassetteResult]) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for result in results {
        tallies
            .entry(result.api.clone())
            .or_default()
            .add(&result.outcome);
    }
    tallies
}

/// The Markdown report.
pub fn markdown(results: &[CassetteResult], target: &str) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# Conformance report\n\nTarget: {target}\n");
    let _ = writeln!(
        text,
        "Rules, scope and how to regenerate: conformance/README.md.\n"
    );
    let _ = writeln!(text, "## By API\n\n| API | in scope | passed | the model chose differently | failed | pass rate | hosted-tool refusals (passed/checked) | out of scope |\n|---|---|---|---|---|---|---|---|");
    let apis = by_api(results);
    let mut total = Tally::default();
    for (api, tally) in &apis {
        row(&mut text, api, tally);
        total.passed += tally.passed;
        total.failed += tally.failed;
        total.refusals_passed += tally.refusals_passed;
        total.refusals_failed += tally.refusals_failed;
        total.chose_differently += tally.chose_differently;
        total.out_of_scope += tally.out_of_scope;
    }
    row(&mut text, "**all**", &total);

    let mut features: BTreeMap<String, Tally> = BTreeMap::new();
    for result in results {
        for feature in &result.features {
            features
                .entry(format!("{}: {feature}", result.api))
                .or_default()
                .add(&result.outcome);
        }
    }
    let _ = writeln!(
        text,
        "\n## By feature\n\n| API: feature | in scope | passed | pass rate |\n|---|---|---|---|"
    );
    for (feature, tally) in features.iter().filter(|(_, tally)| tally.in_scope() > 0) {
        let _ = writeln!(
            text,
            "| {feature} | {} | {} | {:.1} % |",
            tally.in_scope(),
            tally.kept_contract(),
            tally.pass_rate() * 100.0
        );
    }

    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for result in results {
        if let Outcome::OutOfScope(reason) = &result.outcome {
            *reasons
                .entry(format!("{}: {reason}", result.api))
                .or_default() += 1;
        }
    }
    let _ = writeln!(
        text,
        "\n## Out of scope (counted, not failed)\n\n| API: reason | cassettes |\n|---|---|"
    );
    for (reason, count) in &reasons {
        let _ = writeln!(text, "| {reason} | {count} |");
    }

    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    for result in results {
        for endpoint in &result.missing_endpoints {
            *missing.entry(endpoint.clone()).or_default() += 1;
        }
    }
    if !missing.is_empty() {
        let _ = writeln!(
            text,
            "\n## Endpoints the target lacks (answered 404)\n\n| endpoint | requests |\n|---|---|"
        );
        for (endpoint, count) in &missing {
            let _ = writeln!(text, "| `{endpoint}` | {count} |");
        }
    }

    let chose: Vec<&CassetteResult> = results
        .iter()
        .filter(|result| matches!(result.outcome, Outcome::ModelChoseDifferently(_)))
        .collect();
    if !chose.is_empty() {
        let _ = writeln!(
            text,
            "\n## The model chose differently (the contract held)\n"
        );
        for result in chose {
            if let Outcome::ModelChoseDifferently(choices) = &result.outcome {
                let _ = writeln!(text, "- `{}`", result.id);
                for choice in choices.iter().take(2) {
                    let _ = writeln!(text, "  - {}", choice.replace('|', "\\|"));
                }
            }
        }
    }

    let _ = writeln!(text, "\n## Failures (first differences)\n");
    for result in results {
        let differences = match &result.outcome {
            Outcome::Failed(differences) => differences,
            Outcome::HostedToolRefused {
                passed: false,
                differences,
            } => differences,
            _ => continue,
        };
        let _ = writeln!(text, "- `{}`", result.id);
        for difference in differences.iter().take(3) {
            let _ = writeln!(text, "  - {}", difference.replace('|', "\\|"));
        }
    }
    text
}

fn row(text: &mut String, name: &str, tally: &Tally) {
    let _ = writeln!(
        text,
        "| {name} | {} | {} | {} | {} | {:.1} % | {}/{} | {} |",
        tally.in_scope(),
        tally.passed + tally.refusals_passed,
        tally.chose_differently,
        tally.failed + tally.refusals_failed,
        tally.pass_rate() * 100.0,
        tally.refusals_passed,
        tally.refusals_passed + tally.refusals_failed,
        tally.out_of_scope
    );
}
