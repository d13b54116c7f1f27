//! Who may write to a piece of running work (a response or a run): a
//! [`Lease`]. A store hands one out when work is claimed or started; every
//! write of the owner to that work (its events, its final state) carries it,
//! so that a store shared by several processes can refuse the late writes of
//! an owner whose lease has expired and passed on: the fencing token only
//! grows, and a write whose token is not the current one is refused with
//! [`StoreError::Fenced`](super::error::StoreError::Fenced).
//!
//! One process on SQLite owns all of its work: it hands out
//! [`Lease::sole_owner`] and ignores the token (nothing else can write).

/// The right to write to one response or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it (a replica's id).
    pub holder: String,
    /// The fencing token: increases every time the work changes hands.
    pub fence: u64,
}

impl Lease {
    /// The lease of a store that only this process writes to.
    pub fn sole_owner() -> Self {
        Self {
            holder: "this-process".into(),
            fence: 0,
        }
    }
}
