//! A throwaway PostgreSQL cluster for the tests that need one: Debian's
//! server binaries (`/usr/lib/postgresql/<version>/bin`, or the folder in
//! `PORTICO_PG_BIN`), a new cluster in a temporary folder, on a free loopback
//! port, run as the `postgres` user when the tests run as root (`initdb`
//! refuses root). One cluster per test process, started at its first use in
//! about a second; a guardian shell stops it when the test process ends (its
//! stdin, a pipe from this process, closes then, however the process ends)
//! and removes its folder.
//! Each caller gets a database of its own (the API suite drops it when its
//! app goes). The server logs to `portico-postgres-<port>.log` in the
//! temporary folder; a failure to reach it quotes the log's end.

// Each test crate uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running cluster.
pub struct Cluster {
    bin: PathBuf,
    port: u16,
    /// The cluster's data folder.
    data: PathBuf,
    /// The guardian shell; its stdin stays open while this process lives.
    guardian: Mutex<Child>,
    _directory: tempfile::TempDir,
}

/// A private cluster stops with its owner: the guardian is told (its stdin
/// closes) and waited for, before the folder goes.
impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(mut guardian) = self.guardian.lock() {
            drop(guardian.stdin.take());
            let _ = guardian.wait();
        }
    }
}

/// The folder of PostgreSQL's server binaries, if the machine has them.
pub fn server_binaries() -> Option<PathBuf> {
    if let Ok(folder) = std::env::var("PORTICO_PG_BIN") {
        return Some(PathBuf::from(folder));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when this process is root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Where the server on `port` writes its log: outside the cluster's folder,
/// so that it outlives the cluster for a failure message or a look after CI.
fn server_log(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("portico-postgres-{port}.log"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free port")
}

impl Cluster {
    /// Starts a new cluster (panics with the reason when it cannot).
    fn start(bin: PathBuf) -> Self {
        let directory = tempfile::tempdir().expect("temporary folder");
        let data = directory.path().join("data");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(directory.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "could not give the cluster's folder to postgres"
            );
        }
        let initdb = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .expect("initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = free_port();
        let log = server_log(port);
        let settings = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             max_connections = 500\nwal_level = minimal\nmax_wal_senders = 0\n\
             max_wal_size = 256MB\nmin_wal_size = 32MB\n",
            directory.path().display(),
        );
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("postgresql.conf");
        std::io::Write::write_all(&mut conf, settings.as_bytes()).expect("postgresql.conf");
        let pg_ctl = bin.join("pg_ctl");
        // The guardian: starts the server, and stops it and removes the
        // cluster's folder when stdin closes (however this process ends).
        let script = format!(
            "{pg_ctl} -D {data} -l {log} -w start >/dev/null 2>&1; cat >/dev/null; \
             {pg_ctl} -D {data} -m immediate -w stop >/dev/null 2>&1; rm -rf {folder}",
            pg_ctl = pg_ctl.display(),
            data = data.display(),
            log = log.display(),
            folder = directory.path().display(),
        );
        let guardian = as_postgres(Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        let cluster = Self {
            bin,
            port,
            data,
            guardian: Mutex::new(guardian),
            _directory: directory,
        };
        cluster.wait_until_ready();
        cluster
    }

    /// Restarts the server (a fast shutdown: connections are ended, what
    /// was committed stays) and waits until it accepts connections again;
    /// `down` is how long it stays stopped.
    pub fn restart(&self, down: Duration) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = as_postgres(&pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .expect("pg_ctl stop");
        assert!(
            stop.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stop.stderr)
        );
        std::thread::sleep(down);
        let start = as_postgres(&pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(server_log(self.port))
            .args(["-w", "start"])
            .output()
            .expect("pg_ctl start");
        assert!(
            start.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&start.stderr)
        );
        self.wait_until_ready();
    }

    /// Runs `statement` in the database of `url` (from
    /// [`new_database`](Self::new_database)); what it printed.
    pub fn execute(&self, url: &str, statement: &str) -> String {
        let output = self.psql(url.rsplit('/').next().unwrap_or("postgres"), statement);
        assert!(
            output.status.success(),
            "{statement}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn wait_until_ready(&self) {
        let started = Instant::now();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "PostgreSQL did not start on port {}; its log ends:\n{}",
                self.port,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of the server's log, for a failure message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(server_log(self.port)).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// A new, empty database; its URL.
    pub fn new_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let created = self.psql("postgres", &format!("CREATE DATABASE {name}"));
        assert!(
            created.status.success(),
            "CREATE DATABASE failed: {}\nthe server's log ends:\n{}",
            String::from_utf8_lossy(&created.stderr),
            self.log_tail()
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Drops the database `new_database` made for `url`, ending its
    /// connections: a suite of many tests keeps the cluster small. Best
    /// effort (for a `Drop`): a failure only leaves the database behind.
    pub fn drop_database(&self, url: &str) {
        let Some(name) = url.rsplit('/').next().filter(|name| name.starts_with("t_")) else {
            return;
        };
        let _ = self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }

    /// Runs one SQL statement through `psql` as the `postgres` superuser,
    /// in `database`.
    fn psql(&self, database: &str, statement: &str) -> std::process::Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                statement,
            ])
            .output()
            .expect("psql")
    }
}

/// Says loudly that `suites` were skipped and why, on stderr itself (the
/// test harness captures `eprintln!` of tests that pass).
pub fn say_skipped(suites: &str) {
    let line = format!(
        "\n*** SKIPPED: {suites} (no PostgreSQL server binaries on this machine; \
         install Debian's postgresql) ***\n\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// The cluster of this test process, started at the first call; `None` when
/// the machine has no PostgreSQL (and `CI` is not set: there, that fails).
pub fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER.get_or_init(private_cluster).as_ref()
}

/// A cluster of the caller's own (to restart it, say), stopped when it is
/// dropped; `None` as for [`cluster`].
pub fn private_cluster() -> Option<Cluster> {
    match server_binaries() {
        Some(bin) => Some(Cluster::start(bin)),
        None if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI=true and no PostgreSQL server binaries (install Debian's postgresql)")
        }
        None => None,
    }
}
