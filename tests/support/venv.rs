//! Python virtual environments for the test suites that drive Portico with
//! real Python clients (`e2e_openai_python`, `real_backend`): created under
//! the target directory on first use and reinstalled only when their
//! requirements change (a marker file holds their hash). Missing Python, venv
//! or pip is a failure, not a skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The file in a venv that holds the hash of the requirements installed.
const MARKER: &str = ".portico-requirements-hash";

/// The target directory: the parent of Cargo's per-target temporary directory.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// FNV-1a, 64 bits: stable across Rust versions, enough to notice a change.
fn fnv1a(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: could not start {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{what} failed: {command:?}\n{}",
        describe(&output)
    );
    output
}

/// A Python 3 interpreter: `$PORTICO_E2E_PYTHON`, else `python3`, else `python`.
fn find_python() -> String {
    let candidates: Vec<String> = match std::env::var("PORTICO_E2E_PYTHON") {
        Ok(python) if !python.is_empty() => vec![python],
        _ => vec!["python3".to_owned(), "python".to_owned()],
    };
    for candidate in &candidates {
        let probe = Command::new(candidate)
            .args(["-c", "import sys; assert sys.version_info >= (3, 9)"])
            .output();
        if matches!(probe, Ok(ref out) if out.status.success()) {
            return candidate.clone();
        }
    }
    panic!(
        "the Python test suites need Python >= 3.9 with venv and pip; \
         none of {candidates:?} works (install python3 and python3-venv)"
    );
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Creates the venv `target/<name>` if needed and installs `requirements`
/// when they changed.
pub fn prepare_venv(name: &str, requirements: &Path) -> PathBuf {
    let venv = target_dir().join(name);
    let python = venv_python(&venv);
    let marker = venv.join(MARKER);

    let just_created = !python.is_file();
    if just_created {
        let system_python = find_python();
        run(
            Command::new(&system_python)
                .arg("-m")
                .arg("venv")
                .arg(&venv),
            "creating a test virtual environment",
        );
        assert!(
            python.is_file(),
            "no interpreter at {} after `python -m venv`",
            python.display()
        );
    }

    let wanted = fnv1a(
        &fs::read(requirements)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", requirements.display())),
    );
    let installed = fs::read_to_string(&marker).unwrap_or_default();
    if just_created || installed.trim() != wanted {
        // Forget the old marker first so a failed install is retried next time.
        let _ = fs::remove_file(&marker);
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(requirements),
            "installing the test requirements with pip",
        );
        fs::write(&marker, format!("{wanted}\n")).unwrap();
    }
    python
}

/// Runs pytest with `python` in `directory` on `target` with `envs` (plus
/// unbuffered, bytecode-free Python), fails with the whole output when the
/// suite fails, and prints it when it passes.
pub fn run_pytest(
    python: &Path,
    directory: &Path,
    target: &str,
    envs: &[(&str, &std::ffi::OsStr)],
    suite: &str,
) {
    let output = Command::new(python)
        .current_dir(directory)
        .args(["-m", "pytest", target, "-q", "-p", "no:cacheprovider", "-s"])
        .envs(envs.iter().copied())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .output()
        .unwrap_or_else(|err| panic!("could not run pytest with {}: {err}", python.display()));
    let report = describe(&output);
    assert!(output.status.success(), "{suite} failed\n{report}");
    println!("{report}");
}
