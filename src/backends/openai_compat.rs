//! A backend that speaks OpenAI's Chat Completions over HTTP (llama.cpp, vLLM,
//! LM Studio, LocalAI, SGLang, Ollama's `/v1`, or `portico mock-backend`).
//! Its SSE stream is parsed with eventsource-stream and translated into
//! [`ChatEvent`]s: tool-call deltas are merged by index (servers that repeat the
//! call id and name in every delta, or reuse index 0 for parallel calls, are
//! normalized), and both `reasoning_content` and `reasoning` become reasoning.
//!
//! Every chat body sent is first adapted to the server's kind (its
//! [`Profile`]: `profile::adapt`), set in the configuration or detected from
//! the server on first use (`profile::detect`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};

use super::profile::{adapt, detect, Profile, ServerKind, Tokenizer};
use crate::backends::backend::{Backend, ChatEventStream, Forwarder};
use crate::backends::error::BackendError;
use crate::wire::chat_events::{ChatEvent, ChatRequest, FinishReason, TokenUsage};

/// An OpenAI-compatible chat server.
#[derive(Debug, Clone)]
pub struct OpenAiCompatBackend {
    name: String,
    base_url: String,
    api_key: Option<String>,
    client: reqwest::Client,
    /// The hot paths' URLs, parsed once (parsing one per request was a
    /// visible part of a forwarded request's cost).
    parsed_urls: Vec<(&'static str, reqwest::Url)>,
    /// The server's kind: configured, or detected once it first answers.
    kind: Arc<KindCell>,
}

/// A server's kind, set in the configuration or detected from the server.
#[derive(Debug, Default)]
struct KindCell {
    configured: Option<ServerKind>,
    detected: tokio::sync::OnceCell<ServerKind>,
}

/// The paths whose URLs are parsed once.
const HOT_PATHS: [&str; 2] = ["/chat/completions", "/embeddings"];

impl OpenAiCompatBackend {
    /// A backend at `base_url` (e.g. `http://127.0.0.1:8080/v1`).
    pub fn new(name: impl Into<String>, base_url: &str, api_key: Option<String>) -> Self {
        Self::with_connect_timeout(name, base_url, api_key, Duration::from_secs(10))
    }

    /// A backend whose connections give up after `connect_timeout`.
    pub fn with_connect_timeout(
        name: impl Into<String>,
        base_url: &str,
        api_key: Option<String>,
        connect_timeout: Duration,
    ) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        let base_url = base_url.trim_end_matches('/').to_owned();
        let parsed_urls = HOT_PATHS
            .iter()
            .filter_map(|path| {
                reqwest::Url::parse(&format!("{base_url}{path}"))
                    .ok()
                    .map(|url| (*path, url))
            })
            .collect();
        Self {
            name: name.into(),
            base_url,
            api_key,
            client,
            parsed_urls,
            kind: Arc::default(),
        }
    }

    /// This backend, speaking to a server of `kind` (`None`: detect it).
    pub fn with_kind(mut self, kind: Option<ServerKind>) -> Self {
        self.kind = Arc::new(KindCell {
            configured: kind,
            detected: tokio::sync::OnceCell::new(),
        });
        self
    }

    /// The server's kind: the configured one, else the one detected (once,
    /// when it first answers; a server that cannot be asked yet is treated as
    /// generic for this call and asked again next time).
    pub async fn kind(&self) -> ServerKind {
        if let Some(kind) = self.kind.configured {
            return kind;
        }
        let detected = self
            .kind
            .detected
            .get_or_try_init(|| async {
                let kind =
                    detect::detect(&self.client, &self.base_url, self.api_key.as_deref()).await?;
                tracing::info!(backend = %self.name, %kind, "detected the backend's kind");
                Ok::<_, String>(kind)
            })
            .await;
        match detected {
            Ok(kind) => *kind,
            Err(error) => {
                tracing::debug!(backend = %self.name, %error, "the backend's kind is not known yet");
                ServerKind::Generic
            }
        }
    }

    /// What the server accepts.
    pub async fn profile(&self) -> Profile {
        self.kind().await.profile()
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let builder = match self.parsed_urls.iter().find(|(hot, _)| *hot == path) {
            Some((_, url)) => self.client.post(url.clone()),
            None => self.client.post(format!("{}{path}", self.base_url)),
        };
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// A non-streamed request's answer, asked in one piece: the completion is
    /// read as one chunk (its `message` as the `delta`) by the stream's
    /// translator, so both ways give the same events.
    async fn whole_answer(&self, request: &ChatRequest) -> Result<ChatEventStream, BackendError> {
        let body = self.adapted(request, false).await?;
        let response = self
            .post("/chat/completions")
            .json(&body)
            .send()
            .await
            .map_err(classify_send_error)?;
        if !response.status().is_success() {
            return Err(status_error(response).await.located_in(&body));
        }
        let body = response
            .text()
            .await
            .map_err(|error| BackendError::Stream(error.to_string()))?;
        let mut translator = ChunkTranslator::default();
        let mut events = translator.translate(&body)?;
        if !translator.saw_finish {
            events.push(ChatEvent::Finish(FinishReason::Stop));
        }
        Ok(Box::pin(futures::stream::iter(events.into_iter().map(Ok))) as ChatEventStream)
    }

    /// A chat request as the body this server reads (streamed or not).
    async fn adapted(&self, request: &ChatRequest, stream: bool) -> Result<Value, BackendError> {
        let mut body = serde_json::to_value(request)
            .map_err(|error| BackendError::Stream(error.to_string()))?;
        if let (true, Some(object)) = (stream, body.as_object_mut()) {
            object.insert("stream".into(), Value::Bool(true));
            object.insert("stream_options".into(), json!({"include_usage": true}));
        }
        let mut body = std::borrow::Cow::Owned(body);
        adapt::adapt_owned(&self.profile().await, &mut body).map_err(refused)?;
        Ok(body.into_owned())
    }

    /// Forwards a Chat Completions body, adapted to the server's kind, and
    /// returns the upstream answer. Connection failures become
    /// [`BackendError`]s, like a request the server cannot do at all; HTTP
    /// error statuses are returned as they are, for the caller to read.
    pub async fn forward_chat(&self, body: &Value) -> Result<reqwest::Response, BackendError> {
        let profile = self.profile().await;
        let adapted = adapt::adapt(&profile, body).map_err(refused)?;
        let bytes = serde_json::to_vec(&*adapted)
            .map(bytes::Bytes::from)
            .map_err(|error| BackendError::Stream(error.to_string()))?;
        self.forward("/chat/completions", bytes).await
    }

    /// Forwards an Embeddings body unchanged to `{base_url}/embeddings`, like
    /// [`forward_chat`](Self::forward_chat).
    pub async fn forward_embeddings(
        &self,
        body: bytes::Bytes,
    ) -> Result<reqwest::Response, BackendError> {
        self.forward("/embeddings", body).await
    }

    async fn forward(
        &self,
        path: &str,
        body: bytes::Bytes,
    ) -> Result<reqwest::Response, BackendError> {
        self.post(path)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(classify_send_error)
    }
}

/// A request the server cannot do, refused before it is sent (a 400).
fn refused(fault: super::fault::Fault) -> BackendError {
    BackendError::Status {
        status: 400,
        fault,
        raw: "refused by Portico before sending: the server cannot do it".to_owned(),
    }
}

/// Maps a reqwest failure before any answer to unreachable or timeout.
pub fn classify_send_error(error: reqwest::Error) -> BackendError {
    if error.is_timeout() {
        BackendError::Timeout(error.to_string())
    } else {
        BackendError::Unreachable(error.to_string())
    }
}

/// Reads an error answer's body into a classified [`BackendError::Status`].
pub async fn status_error(response: reqwest::Response) -> BackendError {
    let status = response.status().as_u16();
    let path = response.url().path().to_owned();
    let body = response.text().await.unwrap_or_default();
    BackendError::from_answer(&path, status, &body)
}

impl Forwarder for OpenAiCompatBackend {
    fn forward_chat<'a>(
        &'a self,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<reqwest::Response, BackendError>> {
        OpenAiCompatBackend::forward_chat(self, body).boxed()
    }

    fn forward_embeddings(
        &self,
        body: bytes::Bytes,
    ) -> BoxFuture<'_, Result<reqwest::Response, BackendError>> {
        OpenAiCompatBackend::forward_embeddings(self, body).boxed()
    }

    fn learn_kind(&self) -> BoxFuture<'static, ()> {
        let backend = self.clone();
        async move {
            backend.kind().await;
        }
        .boxed()
    }
}

impl Backend for OpenAiCompatBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream_chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'_, Result<ChatEventStream, BackendError>> {
        async move {
            if request.whole_answer {
                return self.whole_answer(&request).await;
            }
            let body = self.adapted(&request, true).await?;
            let response = self
                .post("/chat/completions")
                .json(&body)
                .send()
                .await
                .map_err(classify_send_error)?;
            if !response.status().is_success() {
                return Err(status_error(response).await.located_in(&body));
            }
            let mut events = response.bytes_stream().eventsource();
            let stream = async_stream::stream! {
                let mut translator = ChunkTranslator::default();
                let mut finished = false;
                while let Some(event) = events.next().await {
                    let event = match event {
                        Ok(event) => event,
                        Err(error) => {
                            yield Err(BackendError::Stream(error.to_string()));
                            return;
                        }
                    };
                    if event.data.trim() == "[DONE]" {
                        finished = true;
                        break;
                    }
                    if event.data.trim().is_empty() {
                        continue;
                    }
                    match translator.translate(&event.data) {
                        Ok(translated) => {
                            for item in translated {
                                yield Ok(item);
                            }
                        }
                        Err(error) => {
                            yield Err(error);
                            return;
                        }
                    }
                }
                if !finished && !translator.saw_finish {
                    yield Err(BackendError::Stream("the backend closed the stream before it finished".into()));
                    return;
                }
                if !translator.saw_finish {
                    yield Ok(ChatEvent::Finish(FinishReason::Stop));
                }
            };
            Ok(Box::pin(stream) as ChatEventStream)
        }
        .boxed()
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        async move {
            let mut builder = self
                .client
                .get(format!("{}/models", self.base_url))
                .timeout(Duration::from_secs(5));
            if let Some(key) = &self.api_key {
                builder = builder.bearer_auth(key);
            }
            let response = builder.send().await.map_err(classify_send_error)?;
            if !response.status().is_success() {
                return Err(status_error(response).await);
            }
            let body: Value = response
                .json()
                .await
                .map_err(|error| BackendError::Stream(error.to_string()))?;
            // OpenAI's `{"data":[{"id":…}]}`, or Ollama's `{"models":[{"name":…}]}`.
            let listed = body
                .get("data")
                .or_else(|| body.get("models"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Ok(listed
                .iter()
                .filter_map(|model| {
                    model
                        .get("id")
                        .or_else(|| model.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect())
        }
        .boxed()
    }

    fn chat_passthrough(&self) -> Option<&dyn Forwarder> {
        Some(self)
    }

    /// The server's own tokenizer, when its kind has one (see `profile`).
    fn count_tokens(&self, text: &str) -> BoxFuture<'_, Option<u64>> {
        let text = text.to_owned();
        async move {
            let tokenizer = self.profile().await.tokenizer?;
            let root = self.base_url.trim_end_matches("/v1");
            let (path, body) = match tokenizer {
                Tokenizer::Vllm => ("/tokenize", json!({"prompt": text})),
                Tokenizer::LlamaServer => ("/tokenize", json!({"content": text})),
                Tokenizer::LlamaCppPython => ("/extras/tokenize/count", json!({"input": text})),
            };
            let mut builder = self
                .client
                .post(format!("{root}{path}"))
                .timeout(Duration::from_secs(5))
                .json(&body);
            if let Some(key) = &self.api_key {
                builder = builder.bearer_auth(key);
            }
            let answer = builder
                .send()
                .await
                .ok()
                .filter(|answer| answer.status().is_success())?;
            let counted: Value = answer.json().await.ok()?;
            counted.get("count").and_then(Value::as_u64).or_else(|| {
                counted
                    .get("tokens")
                    .and_then(Value::as_array)
                    .map(|tokens| tokens.len() as u64)
            })
        }
        .boxed()
    }
}

/// Turns Chat Completions chunks into [`ChatEvent`]s, remembering which tool
/// calls have started so that repeated ids and names are not started twice.
#[derive(Debug, Default)]
pub struct ChunkTranslator {
    /// Upstream index → (our index, call id) of the call last seen there.
    calls: HashMap<u64, (u32, String)>,
    /// Arguments that arrived before the call's name, by upstream index.
    pending_arguments: HashMap<u64, String>,
    next_index: u32,
    /// Whether a `finish_reason` has been seen.
    pub saw_finish: bool,
}

impl ChunkTranslator {
    /// Translates one `data:` payload.
    pub fn translate(&mut self, data: &str) -> Result<Vec<ChatEvent>, BackendError> {
        let chunk: Value = serde_json::from_str(data)
            .map_err(|error| BackendError::Stream(format!("unparseable chunk: {error}")))?;
        if let Some(error) = chunk.get("error").filter(|error| !error.is_null()) {
            return Err(BackendError::from_stream_error("/chat/completions", error));
        }
        let mut out = Vec::new();
        if let Some(choice) = chunk.get("choices").and_then(|choices| choices.get(0)) {
            if let Some(delta) = choice.get("delta").or_else(|| choice.get("message")) {
                self.translate_delta(delta, &mut out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.saw_finish = true;
                out.push(ChatEvent::Finish(FinishReason::from_wire(reason)));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            out.push(ChatEvent::Usage(parse_usage(usage)));
        }
        Ok(out)
    }

    fn translate_delta(&mut self, delta: &Value, out: &mut Vec<ChatEvent>) {
        for field in ["reasoning_content", "reasoning"] {
            if let Some(text) = delta.get(field).and_then(Value::as_str) {
                if !text.is_empty() {
                    out.push(ChatEvent::ReasoningDelta(text.to_owned()));
                }
            }
        }
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                out.push(ChatEvent::TextDelta(text.to_owned()));
            }
        }
        if let Some(text) = delta.get("refusal").and_then(Value::as_str) {
            if !text.is_empty() {
                out.push(ChatEvent::RefusalDelta(text.to_owned()));
            }
        }
        let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) else {
            return;
        };
        for (position, call) in calls.iter().enumerate() {
            let upstream_index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty());
            let name = call
                .pointer("/function/name")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty());
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("");
            let known = self.calls.get(&upstream_index).cloned();
            // A different id at a known index is a new call (servers that reuse index 0).
            let is_new = match (&known, id) {
                (None, _) => true,
                (Some((_, known_id)), Some(id)) => known_id != id && name.is_some(),
                (Some(_), None) => false,
            };
            if is_new {
                let Some(name) = name else {
                    // Arguments before the name: keep them until the call can start.
                    self.pending_arguments
                        .entry(upstream_index)
                        .or_default()
                        .push_str(arguments);
                    continue;
                };
                let index = self.next_index;
                self.next_index += 1;
                let call_id = id
                    .map(str::to_owned)
                    .unwrap_or_else(|| crate::wire::ids::new_id("call_"));
                self.calls.insert(upstream_index, (index, call_id.clone()));
                out.push(ChatEvent::ToolCallStart {
                    index,
                    call_id,
                    name: name.to_owned(),
                });
                let mut fragment = self
                    .pending_arguments
                    .remove(&upstream_index)
                    .unwrap_or_default();
                fragment.push_str(arguments);
                if !fragment.is_empty() {
                    out.push(ChatEvent::ToolCallArguments { index, fragment });
                }
            } else if let Some((index, _)) = known {
                if !arguments.is_empty() {
                    out.push(ChatEvent::ToolCallArguments {
                        index,
                        fragment: arguments.to_owned(),
                    });
                }
            }
        }
    }
}

/// Reads an OpenAI `usage` object (Chat or Responses spelling).
pub fn parse_usage(usage: &Value) -> TokenUsage {
    let number = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    TokenUsage {
        prompt_tokens: number("/prompt_tokens").max(number("/input_tokens")),
        completion_tokens: number("/completion_tokens").max(number("/output_tokens")),
        reasoning_tokens: number("/completion_tokens_details/reasoning_tokens"),
        cached_tokens: number("/prompt_tokens_details/cached_tokens"),
    }
}

#[cfg(test)]
#[path = "openai_compat_tests.rs"]
mod tests;
