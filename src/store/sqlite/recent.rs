//! Recently finished stored responses, kept in memory for the turns that
//! continue them. A turn with `previous_response_id` needs the whole chain's
//! items; the turn before it has almost always just been written by this
//! process, so the chain is usually here, link by link, and the turn reads
//! nothing from SQLite (measured at 1,000 stored turns a second: the chain
//! query cost 150–200 µs of CPU and six thread switches a turn).
//!
//! Each entry is one response's link: its project, the response it continued
//! and its own items as stored (input items, then output items). Only
//! finished responses created with `store: true` are remembered, as they are
//! committed (a finished response is not changed afterwards: a cancel only
//! changes responses that have not ended). A deleted response is forgotten
//! for good: its id is kept as a tombstone, so that a
//! finish committed around the same time (the row was already gone, or went
//! between the commit and the remembering) cannot bring it back. Another
//! process writing the same database file would not be seen: Portico expects
//! to be the only writer of its file.

use std::sync::Arc;

/// Bytes of stored item text the cache holds at most.
pub const CAPACITY_BYTES: u64 = 32 * 1024 * 1024;

/// Forgotten ids kept at most (ids of deleted responses; a finish racing a
/// delete comes within seconds of it).
pub const TOMBSTONES: u64 = 100_000;

/// One response's place in its chain.
#[derive(Debug)]
struct Link {
    project: String,
    previous: Option<String>,
    /// Input items, then output items, as their stored JSON text.
    items: Box<[Box<str>]>,
}

/// Finished stored responses by id.
#[derive(Debug, Clone)]
pub struct RecentResponses {
    links: moka::future::Cache<String, Arc<Link>>,
    forgotten: moka::future::Cache<String, ()>,
}

impl Default for RecentResponses {
    fn default() -> Self {
        Self::with_capacity(CAPACITY_BYTES)
    }
}

impl RecentResponses {
    /// A cache holding at most `bytes` of item text (and ids).
    pub fn with_capacity(bytes: u64) -> Self {
        Self {
            links: moka::future::Cache::builder()
                .max_capacity(bytes)
                .weigher(|id: &String, link: &Arc<Link>| {
                    let text: usize = link.items.iter().map(|item| item.len()).sum();
                    u32::try_from(id.len() + link.project.len() + text).unwrap_or(u32::MAX)
                })
                .build(),
            forgotten: moka::future::Cache::builder()
                .max_capacity(TOMBSTONES)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
        }
    }

    /// Remembers a finished response's link (its items: input, then output).
    pub async fn remember(
        &self,
        id: &str,
        project: &str,
        previous: Option<&str>,
        items: impl Iterator<Item = &str>,
    ) {
        if self.forgotten.contains_key(id) {
            return;
        }
        let link = Link {
            project: project.to_owned(),
            previous: previous.map(str::to_owned),
            items: items.map(Box::from).collect(),
        };
        self.links.insert(id.to_owned(), Arc::new(link)).await;
        // Forgotten while it was being remembered.
        if self.forgotten.contains_key(id) {
            self.links.invalidate(id).await;
        }
    }

    /// Forgets a response for good (it was deleted).
    pub async fn forget(&self, id: &str) {
        self.forgotten.insert(id.to_owned(), ()).await;
        self.links.invalidate(id).await;
    }

    /// The items of the chain ending at `last_id` in `project`, oldest turn
    /// first, if every link of it is here; `None` sends the caller to the
    /// database.
    pub async fn chain(&self, project: &str, last_id: &str) -> Option<Vec<String>> {
        let mut links = Vec::new();
        let mut next = Some(last_id.to_owned());
        while let Some(id) = next {
            let link = self.links.get(&id).await?;
            if link.project != project {
                return None;
            }
            next = link.previous.clone();
            links.push(link);
        }
        let count = links.iter().map(|link| link.items.len()).sum();
        let mut items = Vec::with_capacity(count);
        for link in links.iter().rev() {
            items.extend(link.items.iter().map(|item| String::from(&**item)));
        }
        Some(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chain_whose_links_are_all_here_comes_oldest_first() {
        let recent = RecentResponses::default();
        recent
            .remember("a", "p", None, ["a-in", "a-out"].into_iter())
            .await;
        recent
            .remember("b", "p", Some("a"), ["b-in", "b-out"].into_iter())
            .await;
        assert_eq!(
            recent.chain("p", "b").await.unwrap(),
            ["a-in", "a-out", "b-in", "b-out"]
        );
        assert_eq!(recent.chain("p", "a").await.unwrap(), ["a-in", "a-out"]);
    }

    #[tokio::test]
    async fn a_missing_link_another_project_or_a_forgotten_response_is_not_answered() {
        let recent = RecentResponses::default();
        recent
            .remember("b", "p", Some("a"), ["b-in"].into_iter())
            .await;
        assert_eq!(recent.chain("p", "b").await, None, "a is not here");
        recent.remember("a", "p", None, ["a-in"].into_iter()).await;
        assert_eq!(recent.chain("other", "b").await, None, "another project");
        recent.forget("a").await;
        assert_eq!(recent.chain("p", "b").await, None, "a was deleted");
        assert_eq!(recent.chain("p", "nothing").await, None);
        // A finish of the deleted response committed late does not bring it back.
        recent.remember("a", "p", None, ["a-in"].into_iter()).await;
        assert_eq!(recent.chain("p", "b").await, None, "a stays forgotten");
    }

    #[tokio::test]
    async fn the_cache_keeps_within_its_capacity() {
        let recent = RecentResponses::with_capacity(10_000);
        let item = "x".repeat(1_000);
        for turn in 0..100 {
            recent
                .remember(&format!("r{turn}"), "p", None, [item.as_str()].into_iter())
                .await;
        }
        recent.links.run_pending_tasks().await;
        assert!(recent.links.weighted_size() <= 10_000);
        assert!(recent.links.entry_count() < 100);
    }
}
