//! Retention of background responses created without `store: true`: OpenAI's
//! docs say they are kept about ten minutes for polling and then deleted
//! (only an explicit `store: true` keeps a background response), whatever
//! their `store` echo says (see `responses::defaults`). Each such row is
//! stored with its `expires_at`; a sweeper deletes them, with their items and
//! event log, once they have ended and expired.

use std::time::Duration;

use crate::engine::state::AppState;

/// How often the sweeper looks.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Starts the sweeper.
pub fn spawn(state: &AppState) {
    let responses = state.store.responses.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match responses.delete_expired(crate::wire::ids::unix_now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "unstored background responses expired"),
                Err(error) => {
                    tracing::warn!(%error, "could not expire unstored background responses")
                }
            }
        }
    });
}
