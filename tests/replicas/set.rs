//! A set of real `portico serve` processes on one PostgreSQL database, with
//! the mock backend they share: started, signalled (SIGKILL, SIGSTOP,
//! SIGCONT) and stopped by the tests. Each replica logs to a file in the
//! set's folder, quoted when a test fails.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::start_logged;
use crate::postgres_cluster::{self, Cluster};

/// The admin key of the sets whose config turns the admin API on.
pub const ADMIN: &str = "admin-secret";

/// One `portico serve` process.
pub struct Replica {
    pub url: String,
    child: Option<Child>,
    log: std::path::PathBuf,
}

/// Replicas, their mock backend and their database.
pub struct ReplicaSet {
    pub replicas: Vec<Replica>,
    pub mock_url: String,
    pub database: String,
    mock: Child,
    config: std::path::PathBuf,
    directory: tempfile::TempDir,
}

/// The shared cluster, or `None` (and a loud line) when the machine has no
/// PostgreSQL; under `CI=true` a missing PostgreSQL fails instead.
pub fn cluster() -> Option<&'static Cluster> {
    let cluster = postgres_cluster::cluster();
    if cluster.is_none() {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| postgres_cluster::say_skipped("the replica tests"));
    }
    cluster
}

impl ReplicaSet {
    /// `count` replicas on a new database of `cluster`, configured with
    /// `config` (TOML, added to the set's own: the database, the mock
    /// backend, leases of 2 s and polling every 200 ms).
    pub fn start(cluster: &Cluster, count: usize, config: &str) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let database = cluster.new_database();
        let (mock, mock_url) = start_logged(
            &["mock-backend", "--listen", "127.0.0.1:0"],
            Some(&directory.path().join("mock.log")),
        );
        let config_path = directory.path().join("portico.toml");
        let text = format!(
            "database = \"{database}\"\nlisten = \"127.0.0.1:0\"\n\
             autodetect = false\n{config}\n\n\
             [[backends]]\nname = \"mock\"\nbase_url = \"{mock_url}/v1\"\n\n\
             [replicas]\nlease_seconds = 2\npoll_interval_ms = 200\n"
        );
        std::fs::write(&config_path, text).unwrap();
        let mut set = Self {
            replicas: Vec::new(),
            mock_url,
            database,
            mock,
            config: config_path,
            directory,
        };
        for _ in 0..count {
            set.add();
        }
        set
    }

    /// Starts one more replica; its index.
    pub fn add(&mut self) -> usize {
        let index = self.replicas.len();
        let log = self.directory.path().join(format!("replica-{index}.log"));
        let config = self.config.to_string_lossy().into_owned();
        let (child, url) = start_logged(&["serve", "--config", &config], Some(&log));
        self.replicas.push(Replica {
            url,
            child: Some(child),
            log,
        });
        index
    }

    /// The base URL of replica `index`.
    pub fn url(&self, index: usize) -> &str {
        &self.replicas[index].url
    }

    /// The addresses of the replicas, for a load balancer.
    pub fn addresses(&self) -> Vec<std::net::SocketAddr> {
        self.replicas
            .iter()
            .map(|replica| replica.url.trim_start_matches("http://").parse().unwrap())
            .collect()
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`) to replica `index`.
    pub fn signal(&mut self, index: usize, signal: &str) {
        let child = self.replicas[index].child.as_mut().unwrap();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
        if signal == "KILL" {
            child.wait().unwrap();
            self.replicas[index].child = None;
        }
    }

    /// Every replica's log, for a failure message.
    pub fn logs(&self) -> String {
        self.replicas
            .iter()
            .enumerate()
            .map(|(index, replica)| {
                format!(
                    "--- replica {index} ({}) ---\n{}",
                    replica.url,
                    std::fs::read_to_string(&replica.log).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Queues scripts on the mock backend.
    pub async fn script(&self, scripts: Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/control/scripts", self.mock_url))
            .json(&scripts)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    /// The mock's counters (`requests`, `completed_streams`, `disconnected_streams`).
    pub async fn mock_stats(&self) -> Value {
        reqwest::get(format!("{}/control/stats", self.mock_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for ReplicaSet {
    fn drop(&mut self) {
        for replica in &mut self.replicas {
            if let Some(child) = replica.child.as_mut() {
                // A stopped process must be continued to die of SIGKILL promptly.
                let _ = Command::new("kill")
                    .arg("-CONT")
                    .arg(child.id().to_string())
                    .status();
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = self.mock.kill();
        let _ = self.mock.wait();
    }
}

/// Waits until `check` holds (polling every 20 ms) or `limit` passes; how long it took.
pub async fn within<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}
