//! Caching and de-duplication of deterministic generations. A request is
//! deterministic when its temperature is 0; its key is the whole chat request
//! (model, messages, tools, format, limits). Identical deterministic requests
//! in flight at the same moment share one backend call (single flight, on by
//! default); with the cache on (off by default), a finished answer's chat events
//! are kept, bounded by entries and age, and replayed for the next identical
//! request. Either way every response still gets its own ids and stored rows:
//! only the backend's events are shared. The outcome (`hit`, `miss`, `shared`)
//! is reported in the `x-portico-cache` header.

pub mod flight;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;

use crate::backends::{Backend, BackendError, ChatEvent, ChatEventStream, ChatRequest};

use flight::Flight;

/// How a generation was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Replayed from the cache.
    Hit,
    /// A deterministic request that called the backend.
    Miss,
    /// Joined an identical request already in flight.
    Shared,
    /// Not deterministic: neither cached nor shared.
    Bypass,
}

impl CacheOutcome {
    /// The header value (`None` for requests the cache does not apply to).
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Self::Hit => Some("hit"),
            Self::Miss => Some("miss"),
            Self::Shared => Some("shared"),
            Self::Bypass => None,
        }
    }
}

/// Cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    pub enabled: bool,
    pub dedupe: bool,
    pub max_entries: u64,
    pub ttl: Duration,
}

/// The generation cache and the table of generations in flight.
#[derive(Debug, Clone)]
pub struct GenerationCache {
    settings: CacheSettings,
    entries: moka::future::Cache<u64, Arc<Vec<ChatEvent>>>,
    in_flight: Arc<Mutex<HashMap<u64, Weak<Flight>>>>,
}

impl GenerationCache {
    /// A cache with `settings`.
    pub fn new(settings: CacheSettings) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(settings.max_entries)
            .time_to_live(settings.ttl)
            .build();
        Self {
            settings,
            entries,
            in_flight: Arc::default(),
        }
    }

    /// Streams `request` from `backend`, through the cache and the in-flight table
    /// when it is deterministic.
    pub async fn stream(
        &self,
        backend: Arc<dyn Backend>,
        request: ChatRequest,
    ) -> Result<(ChatEventStream, CacheOutcome), BackendError> {
        let deterministic = request.temperature == Some(0.0);
        if !deterministic || !(self.settings.enabled || self.settings.dedupe) {
            return Ok((backend.stream_chat(request).await?, CacheOutcome::Bypass));
        }
        let key = cache_key(backend.name(), &request);
        if self.settings.enabled {
            if let Some(events) = self.entries.get(&key).await {
                let replay =
                    futures::stream::iter(events.iter().cloned().map(Ok).collect::<Vec<_>>());
                return Ok((Box::pin(replay), CacheOutcome::Hit));
            }
        }
        let (flight, leader) = self.join_or_lead(key);
        if leader {
            let cache = self.clone();
            let driven = flight.clone();
            tokio::spawn(async move {
                let events = driven.drive(backend, request).await;
                if let (Some(events), true) = (events, cache.settings.enabled) {
                    cache.entries.insert(key, Arc::new(events)).await;
                }
                if let Ok(mut table) = cache.in_flight.lock() {
                    table.remove(&key);
                }
            });
        }
        let outcome = if leader {
            CacheOutcome::Miss
        } else {
            CacheOutcome::Shared
        };
        let stream = flight.follow();
        let mut stream = Box::pin(stream);
        // Failures before the first event are the caller's ordinary errors.
        match stream.next().await {
            Some(Err(error)) => Err(error),
            first => {
                let rest = stream;
                let joined = futures::stream::iter(first).chain(rest);
                Ok((Box::pin(joined) as ChatEventStream, outcome))
            }
        }
    }

    fn join_or_lead(&self, key: u64) -> (Arc<Flight>, bool) {
        let Ok(mut table) = self.in_flight.lock() else {
            return (Arc::new(Flight::default()), true);
        };
        if self.settings.dedupe {
            if let Some(flight) = table.get(&key).and_then(Weak::upgrade) {
                if flight.joinable() {
                    return (flight, false);
                }
            }
        }
        let flight = Arc::new(Flight::default());
        table.insert(key, Arc::downgrade(&flight));
        (flight, true)
    }
}

/// The key of a request: the backend's name and the whole chat request.
fn cache_key(backend: &str, request: &ChatRequest) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    backend.hash(&mut hasher);
    serde_json::to_string(request)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}
