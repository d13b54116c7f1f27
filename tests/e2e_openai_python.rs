//! End-to-end test with the real openai-python SDK: `cargo test` runs the pytest
//! suite in `tests/e2e` against the `portico` binary Cargo just built.
//!
//! The suite's Python dependencies (`tests/e2e/requirements.txt`) live in a
//! virtual environment under the target directory (`target/e2e-venv`). It is
//! created on first use and reinstalled only when the requirements change (a
//! marker file holds their hash). Missing Python, venv or pip is a failure, not
//! a skip: a skipped end-to-end test would hide a broken client contract.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/venv.rs"]
mod venv;

use std::path::Path;
use venv::{prepare_venv, run_pytest};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn openai_python_sdk_suite_passes_against_portico() {
    let manifest = Path::new(MANIFEST_DIR);
    let requirements = manifest.join("tests").join("e2e").join("requirements.txt");
    let python = prepare_venv("e2e-venv", &requirements);

    run_pytest(
        &python,
        manifest,
        "tests/e2e",
        &[("PORTICO_BIN", env!("CARGO_BIN_EXE_portico").as_ref())],
        "the openai-python end-to-end suite",
    );
}
