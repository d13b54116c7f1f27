//! Caching and de-duplication of deterministic generations. A request is
//! deterministic when its temperature is 0 or it sets a `seed` (Chat
//! Completions); its key is the whole request (model, messages, tools, format,
//! limits) and the backends serving it. Identical deterministic requests in
//! flight at the same moment share one backend call (single flight, on by
//! default); with the cache on (off by default), a finished answer is kept,
//! bounded by entries and age, and replayed for the next identical request.
//! Either way every response still gets its own ids and stored rows: only the
//! backend's answer is shared. Settings can differ per route (`[routes.cache]`);
//! each route with its own settings has its own entries. The outcome (`hit`,
//! `miss`, `shared`) is reported in the `x-portico-cache` header.
//!
//! Two kinds of answer are shared: a backend's chat events (Responses and
//! every backend that is not forwarded to), and the raw answer of a Chat
//! Completions body forwarded to HTTP backends ([`UpstreamPiece`]s), which each
//! client's relay then normalizes with its own ids.

pub mod flight;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::backends::backend::{Backend, ChatEventStream};
use crate::backends::error::BackendError;
use crate::config::{CacheConfig, Config};
use crate::wire::chat_events::{ChatEvent, ChatRequest};

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

    /// Sets the `x-portico-cache` header of `answer` (none for `Bypass`).
    pub fn mark(self, answer: &mut axum::response::Response) {
        if let Some(value) = self.header_value() {
            answer.headers_mut().insert(
                "x-portico-cache",
                axum::http::HeaderValue::from_static(value),
            );
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

impl From<&CacheConfig> for CacheSettings {
    fn from(config: &CacheConfig) -> Self {
        Self {
            enabled: config.enabled,
            dedupe: config.dedupe,
            max_entries: config.max_entries.max(1),
            ttl: Duration::from_secs(config.ttl_seconds.max(1)),
        }
    }
}

/// A piece of a forwarded Chat Completions answer: its head, then its body.
#[derive(Debug, Clone)]
pub enum UpstreamPiece {
    /// Whether the answer is an event stream (else one JSON body).
    Head {
        event_stream: bool,
    },
    Body(Bytes),
}

/// A shared stream of `T`s.
pub type SharedStream<T> = BoxStream<'static, Result<T, BackendError>>;

/// Answers being generated, by key.
type InFlight<T> = Arc<Mutex<HashMap<u64, Weak<Flight<T>>>>>;

/// One set of settings with its entries and its generations in flight.
#[derive(Debug, Clone)]
struct Shelf {
    settings: CacheSettings,
    events: moka::future::Cache<u64, Arc<Vec<ChatEvent>>>,
    events_in_flight: InFlight<ChatEvent>,
    answers: moka::future::Cache<u64, Arc<Vec<UpstreamPiece>>>,
    answers_in_flight: InFlight<UpstreamPiece>,
}

impl Shelf {
    fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            events: entries(settings),
            events_in_flight: Arc::default(),
            answers: entries(settings),
            answers_in_flight: Arc::default(),
        }
    }

    fn applies(&self) -> bool {
        self.settings.enabled || self.settings.dedupe
    }
}

fn entries<T: Send + Sync + 'static>(settings: CacheSettings) -> moka::future::Cache<u64, Arc<T>> {
    moka::future::Cache::builder()
        .max_capacity(settings.max_entries)
        .time_to_live(settings.ttl)
        .build()
}

/// The generation cache: default settings, and per-route ones by model name.
#[derive(Debug, Clone)]
pub struct GenerationCache {
    default: Shelf,
    routes: Arc<HashMap<String, Shelf>>,
}

impl GenerationCache {
    /// A cache with `settings` for every model.
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            default: Shelf::new(settings),
            routes: Arc::default(),
        }
    }

    /// The generation cache `config` asks for: its `[cache]` settings, and
    /// each route's own over them.
    pub fn from_config(config: &Config) -> Self {
        let mut cache = Self::new(CacheSettings::from(&config.cache));
        for route in &config.routes {
            if let Some(own) = &route.cache {
                let mut names = vec![route.model.clone()];
                names.extend(route.aliases.iter().cloned());
                let settings = CacheSettings::from(&config.cache.overridden_by(own));
                cache = cache.with_route(&names, settings);
            }
        }
        cache
    }

    /// Gives the model names in `names` (a route's model and aliases) their
    /// own settings and entries.
    pub fn with_route(mut self, names: &[String], settings: CacheSettings) -> Self {
        let shelf = Shelf::new(settings);
        let routes = Arc::make_mut(&mut self.routes);
        for name in names {
            routes.insert(name.clone(), shelf.clone());
        }
        self
    }

    fn shelf(&self, model: &str) -> &Shelf {
        self.routes.get(model).unwrap_or(&self.default)
    }

    /// Streams `request` from `backend`, through the cache and the in-flight table
    /// when it is deterministic.
    pub async fn stream(
        &self,
        backend: Arc<dyn Backend>,
        request: ChatRequest,
    ) -> Result<(ChatEventStream, CacheOutcome), BackendError> {
        let shelf = self.shelf(&request.model);
        if request.temperature != Some(0.0) || !shelf.applies() {
            return Ok((backend.stream_chat(request).await?, CacheOutcome::Bypass));
        }
        // A whole answer comes as one delta, a stream token by token: kept apart.
        let answer_kind = if request.whole_answer {
            "whole"
        } else {
            "stream"
        };
        let key = cache_key(
            &format!("{}\n{answer_kind}", backend.name()),
            &serde_json::to_vec(&request).unwrap_or_default(),
        );
        let open: BoxFuture<'static, Result<SharedStream<ChatEvent>, BackendError>> =
            Box::pin(async move {
                Ok(Box::pin(backend.stream_chat(request).await?) as SharedStream<ChatEvent>)
            });
        let (stream, outcome) = through(
            shelf.settings,
            &shelf.events,
            &shelf.events_in_flight,
            key,
            open,
        )
        .await?;
        Ok((Box::pin(stream) as ChatEventStream, outcome))
    }

    /// Whether the cache applies to a Chat Completions `body` for `model`: it
    /// is deterministic and the model's settings share or keep answers.
    pub fn applies_to_chat(&self, model: &str, body: &serde_json::Value) -> bool {
        let deterministic = body.get("temperature").and_then(serde_json::Value::as_f64)
            == Some(0.0)
            || body.get("seed").is_some_and(|seed| !seed.is_null());
        deterministic && self.shelf(model).applies()
    }

    /// A forwarded Chat Completions answer for `body` (whose key includes
    /// `backends`, the candidates' names), shared or replayed when possible;
    /// `open` forwards it when this request must.
    pub async fn forwarded_answer(
        &self,
        model: &str,
        backends: &str,
        body: &[u8],
        open: BoxFuture<'static, Result<SharedStream<UpstreamPiece>, BackendError>>,
    ) -> Result<(SharedStream<UpstreamPiece>, CacheOutcome), BackendError> {
        let shelf = self.shelf(model);
        let key = cache_key(backends, body);
        through(
            shelf.settings,
            &shelf.answers,
            &shelf.answers_in_flight,
            key,
            open,
        )
        .await
    }
}

/// The cache and single-flight logic for one kind of answer.
async fn through<T: Clone + Send + Sync + 'static>(
    settings: CacheSettings,
    entries: &moka::future::Cache<u64, Arc<Vec<T>>>,
    in_flight: &InFlight<T>,
    key: u64,
    open: BoxFuture<'static, Result<SharedStream<T>, BackendError>>,
) -> Result<(SharedStream<T>, CacheOutcome), BackendError> {
    if settings.enabled {
        if let Some(items) = entries.get(&key).await {
            let replay = futures::stream::iter(items.iter().cloned().map(Ok).collect::<Vec<_>>());
            return Ok((Box::pin(replay), CacheOutcome::Hit));
        }
    }
    let (flight, leader) = join_or_lead(settings, in_flight, key);
    if leader {
        let (entries, in_flight, driven) = (entries.clone(), in_flight.clone(), flight.clone());
        tokio::spawn(async move {
            let items = driven.drive(open).await;
            if let (Some(items), true) = (items, settings.enabled) {
                entries.insert(key, Arc::new(items)).await;
            }
            if let Ok(mut table) = in_flight.lock() {
                table.remove(&key);
            }
        });
    }
    let outcome = if leader {
        CacheOutcome::Miss
    } else {
        CacheOutcome::Shared
    };
    let mut stream = Box::pin(flight.follow());
    // Failures before the first item are the caller's ordinary errors.
    match stream.next().await {
        Some(Err(error)) => Err(error),
        first => Ok((
            Box::pin(futures::stream::iter(first).chain(stream)),
            outcome,
        )),
    }
}

fn join_or_lead<T: Clone + Send + Sync + 'static>(
    settings: CacheSettings,
    in_flight: &InFlight<T>,
    key: u64,
) -> (Arc<Flight<T>>, bool) {
    let Ok(mut table) = in_flight.lock() else {
        return (Arc::new(Flight::default()), true);
    };
    if settings.dedupe {
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

/// The key of a request: the backends' names and the whole request.
fn cache_key(backends: &str, request: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    backends.hash(&mut hasher);
    request.hash(&mut hasher);
    hasher.finish()
}
