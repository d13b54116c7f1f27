//! Several real `portico serve` processes on one PostgreSQL database (and a
//! real nginx in front of them where a client would have one): what a client
//! sees must not depend on which replica answers. Requests go to replicas A
//! and B directly and concurrently, so that races show.
//!
//! * `chains`: chains continue across replicas; deletions are seen by all.
//! * `background`: background responses are followed, resumed and cancelled
//!   from any replica, with the owner's events and sequence numbers.
//! * `control`: rate limits count across replicas; revocations, suspensions
//!   and resumes reach every replica within a second.
//! * `faults`: a replica killed or stalled, a cancel racing a finish,
//!   PostgreSQL restarted, the signal connection killed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod background;
mod chains;
mod client;
mod control;
mod faults;
mod set;

#[path = "../support/binary.rs"]
#[allow(dead_code)]
mod binary;
#[path = "../support/nginx.rs"]
mod nginx;
#[path = "../support/postgres.rs"]
mod postgres_cluster;
