//! A throwaway nginx load balancer in front of several replicas, for the
//! tests that need a real one: round robin over HTTP/1.1, set up for an
//! OpenAI-style API (SSE streams pass through unbuffered, request bodies
//! stream too, long reads, large bodies).
//!
//! Retries: a replica that refuses the connection (or does not accept it
//! within a second) is skipped and marked failed for two seconds, whatever
//! the method, since nothing was sent to it. A POST that reached a replica is
//! never re-sent to another (`proxy_next_upstream` without `non_idempotent`):
//! if that replica dies mid-request, the client sees the error.
//!
//! Each balancer runs from its own temporary folder (configuration, pid file,
//! logs, temp paths; never `/etc/nginx/nginx.conf`, never port 80) under a
//! guardian shell that stops nginx and removes the folder when its stdin, a
//! pipe from this process, closes: when the balancer is dropped, or when the
//! test process ends, however it ends. Run as root, nginx's workers switch to
//! `nobody`, so the folder is made traversable for them. A failure quotes the
//! end of the error log.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A running nginx balancing over the upstreams given to `start`.
pub struct LoadBalancer {
    /// Where clients connect (127.0.0.1, a free port).
    pub address: SocketAddr,
    folder: tempfile::TempDir,
    /// The guardian shell; closing its stdin stops nginx.
    guardian: Child,
}

/// nginx, if the machine has it (on `PATH` or as Debian installs it).
pub fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|folder| folder.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|debian| debian.is_file()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free port")
}

/// The configuration: everything nginx writes stays in `folder`.
fn configuration(folder: &Path, port: u16, upstreams: &[SocketAddr]) -> String {
    let folder = folder.display();
    let servers: String = upstreams
        .iter()
        .map(|upstream| format!("        server {upstream} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    format!(
        "daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 64m;
    upstream replicas {{
{servers}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_connect_timeout 1s;
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"
    )
}

impl LoadBalancer {
    /// Starts nginx in front of `upstreams`. `None` when the machine has no
    /// nginx (said once on stderr); under `CI=true` that panics instead.
    pub fn start(upstreams: &[SocketAddr]) -> Option<Self> {
        let Some(nginx) = binary() else {
            static SAID: Once = Once::new();
            let in_ci = std::env::var("CI").is_ok_and(|ci| ci == "true");
            assert!(!in_ci, "CI=true and no nginx (install Debian's nginx)");
            // Written to stderr itself: the test harness captures `eprintln!`.
            SAID.call_once(|| {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    b"\n*** SKIPPED: load-balancer tests (no nginx on PATH or at /usr/sbin/nginx) ***\n\n",
                );
            });
            return None;
        };
        let folder = tempfile::tempdir().expect("temporary folder");
        if is_root() {
            let traversable = std::os::unix::fs::PermissionsExt::from_mode(0o711);
            std::fs::set_permissions(folder.path(), traversable).expect("chmod");
        }
        let port = free_port();
        let conf = folder.path().join("nginx.conf");
        std::fs::write(&conf, configuration(folder.path(), port, upstreams)).expect("write conf");
        let nginx = format!(
            "{} -c {} -p {folder} -e {folder}/error.log",
            nginx.display(),
            conf.display(),
            folder = folder.path().display(),
        );
        let script = format!(
            "{nginx} </dev/null >>{folder}/error.log 2>&1 & pid=$!; cat >/dev/null; \
             kill -TERM $pid; wait $pid; rm -rf {folder}",
            folder = folder.path().display(),
        );
        let guardian = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let balancer = Self {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            folder,
            guardian,
        };
        balancer.wait_until_ready();
        Some(balancer)
    }

    fn wait_until_ready(&self) {
        let started = Instant::now();
        while TcpStream::connect(self.address).is_err() {
            let failed = self.log_tail().contains("[emerg]");
            assert!(
                !failed && started.elapsed() < Duration::from_secs(10),
                "nginx did not start on {}; its error log ends:\n{}",
                self.address,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The end of nginx's error log, for a failure message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.folder.path().join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for LoadBalancer {
    /// Closes the guardian's stdin and waits while it stops nginx.
    fn drop(&mut self) {
        drop(self.guardian.stdin.take());
        let _ = self.guardian.wait();
    }
}
