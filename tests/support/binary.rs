//! The real `portico` binary as a child process, for the tests that run it
//! whole (`crash`, `openapi_fuzz`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts a `portico` subcommand and returns it with the URL its first line
/// announced (`… listening on http://…`).
pub fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
        "portico {args:?} did not start: {line:?}"
    );
    (child, url)
}
