//! The real `portico` binary as a child process, for the tests that run it
//! whole (`crash`, `openapi_fuzz`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts a `portico` subcommand and returns it with the URL its first line
/// announced (`… listening on http://…`).
pub fn start(args: &[&str]) -> (Child, String) {
    start_logged(args, None)
}

/// [`start`], its log (at `info`) written to `log` when given; a failure to
/// start quotes it.
pub fn start_logged(args: &[&str], log: Option<&std::path::Path>) -> (Child, String) {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .env("RUST_LOG", "portico=info")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        url.starts_with("http://"),
        "portico {args:?} did not start: {line:?}\n{}",
        log.and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    );
    (child, url)
}
