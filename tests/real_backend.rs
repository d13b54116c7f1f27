//! The real-backend suite: `cargo test` runs the pytest suite in
//! `tests/real_backend` — Portico in front of a real llama-cpp-python server
//! on the gemma-3-270m model, driven by the real openai-python and
//! openai-agents — against the `portico` binary Cargo just built.
//!
//! The server and its model are prepared by `scripts/real-backend/setup.sh`
//! (about six minutes the first time; `.ci/run` runs it). Without them,
//! `cargo test` still passes on a developer's machine and says loudly that
//! this suite was skipped; under `CI=true` a missing server fails the run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/venv.rs"]
mod venv;

use std::path::Path;
use std::process::Command;

use venv::{prepare_venv, run_pytest};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

#[test]
fn openai_sdks_work_through_portico_in_front_of_real_llama_cpp_python() {
    let manifest = Path::new(MANIFEST_DIR);
    let work = manifest.join("target").join("real-backend");
    let server_python = work.join("venv").join("bin").join("python");
    let model = work.join("models").join("gemma-3-270m-q4_k_m.gguf");
    let ready = server_python.is_file()
        && model.is_file()
        && Command::new(&server_python)
            .args(["-c", "import llama_cpp.server.app"])
            .output()
            .is_ok_and(|output| output.status.success());
    if !ready {
        let why = format!(
            "the real-backend suite needs llama-cpp-python and its model in {}: run scripts/real-backend/setup.sh",
            work.display()
        );
        assert!(!under_ci(), "CI=true and {why}");
        eprintln!("\n*** SKIPPED: {why} ***\n");
        return;
    }
    let requirements = manifest
        .join("tests")
        .join("real_backend")
        .join("requirements.txt");
    let python = prepare_venv("real-backend-client-venv", &requirements);
    run_pytest(
        &python,
        &manifest.join("tests").join("real_backend"),
        ".",
        &[
            ("PORTICO_BIN", env!("CARGO_BIN_EXE_portico").as_ref()),
            ("LLAMA_PYTHON", server_python.as_os_str()),
            ("LLAMA_MODEL", model.as_os_str()),
        ],
        "the real-backend suite",
    );
}
