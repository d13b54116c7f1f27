//! The runs of this process: live segments (their frames and cancel signals),
//! and how long a run waits for tool outputs.

use crate::background::live::LiveRegistry;

/// The runs of this process: live segments (frames and cancel signals), and
/// how long a run waits for tool outputs.
#[derive(Debug, Clone)]
pub struct RunRegistry {
    pub live: LiveRegistry,
    pub expiry_seconds: u64,
}

impl RunRegistry {
    pub fn new(expiry_seconds: u64) -> Self {
        Self {
            live: LiveRegistry::default(),
            expiry_seconds,
        }
    }
}

impl Default for RunRegistry {
    fn default() -> Self {
        Self::new(600)
    }
}
