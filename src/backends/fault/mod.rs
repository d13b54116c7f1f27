//! What went wrong at a backend, in OpenAI's terms, whatever the backend's
//! words: the one table that reads every local server's error dialect.
//!
//! A backend's error answer (its status and body) is classified once, where it
//! is read, into a [`Fault`]: an unknown model, a prompt over the context, a
//! model that cannot embed, a feature the server cannot do at all, another
//! refused request (the client's mistake), rate limits and overload, a refused
//! key, or a real server failure. Rendering a fault as OpenAI's status, `type`,
//! `code` and `param` for the endpoint called is `engine::failures`' job.
//!
//! Each row of the table names where its wording comes from. The rows match
//! whatever kind of server answered: detection can be wrong or not done yet,
//! and the wordings do not collide. The sources (read at these versions):
//!
//! | wording | server, source |
//! |---|---|
//! | `code: "context_length_exceeded"`, "This model's maximum context length is N tokens" | OpenAI (recorded); llama-cpp-python 0.3.36 `llama_cpp/server/errors.py` `ErrorResponseFormatters.context_length_exceeded`; vLLM ≤0.10 `serving_engine.py#L621-635`, 0.30+ `renderers/params.py#L531-550` |
//! | `type: "exceed_context_size_error"` (+ `n_ctx`, `n_prompt_tokens`), "exceeds the available context size" | llama.cpp `tools/server/server-context.cpp#L3208-3214` (82bb485) |
//! | "resulting in a maximum input length", "is longer than the maximum model length" | vLLM 0.16–0.25 `renderers/params.py#L330-346`, 0.34 `v1/engine/input_processor.py#L588-598` |
//! | "is longer than the model's context length", "exceeds the model's maximum context length" | SGLang 0.5.23 `managers/tokenizer_manager.py#L1338-1378` |
//! | "the prompt is longer than the context length" | Ollama v0.33 `llm/llama_server.go#L295-299` |
//! | "Input does not fit in context length", "context length of only" | LM Studio 0.4.21 (lmstudio-bug-tracker#2322, #546) |
//! | "does not support embeddings" | llama.cpp `server-context.cpp#L5289-5292` (501); Ollama <0.30 (chunkhound#41) |
//! | "must be created with embedding=True" | llama-cpp-python 0.3.36 `llama_cpp/llama.py#L1098` (a 500) |
//! | "does not support Embeddings API", a 404 on `/embeddings` | vLLM 0.10 `api_server.py#L740-743`; 0.34 registers no route (FastAPI's 404) |
//! | "does not appear to be an embedding model" | SGLang 0.5.23 `tokenizer_manager.py#L1381-1385` |
//! | "Model is not embedding" | LM Studio (lmstudio-ai/lms#205) |
//! | `code: "model_not_found"`, a 404 saying the model "does not exist" / "not found", "Invalid model identifier", "Model path does not exist" | OpenAI; vLLM `serve/engine/serving.py#L74-83` (`NotFoundError`); Ollama `server/routes.go#L2481-2485`; llama.cpp router `server-models.cpp#L1462-1480` (a 400); LM Studio (gpt-researcher#1556); llama-cpp-python `errors.py` |
//! | status 501; "does not support tools"; "requires --enable-auto-tool-choice"; "requires --tool-call-parser"; "requires --jinja"; "input is not supported"; "image URLs are not currently supported"; "response_format type must be one of"; "'response_format.type' must be"; "Only one completion choice is allowed"; "content part type" | llama.cpp `server-common.cpp#L917-990,#L951,#L1029` (old `utils.hpp#L517`); vLLM `online_renderer.py#L271-291`, `chat_message.py`; Ollama `server/routes.go#L211`, `openai/openai.go#L740`; LM Studio (tada#16) |
//! | a pydantic dump (`'loc': ('body', …)`) or FastAPI's `{"detail": [{loc, msg}]}` | llama-cpp-python 0.3.36 (a 500, captured: `errors.py` `RouteErrorHandler`); SGLang `http_server.py#L635-691`; vLLM 0.34 `handlers/validation.py#L149-195` (`param: "body.messages"`) |
//! | "Failed to parse messages", "[json.exception." (a 500) | llama.cpp `common/chat.cpp#L464-467`, `server.cpp#L54-86` |
//! | 503 ("Loading model", "currently busy", "server busy", "queue is full"), 429 | llama.cpp `server-http.cpp#L251-272`; vLLM `exceptions.py#L162-190`; Ollama `server/sched.go#L88`; SGLang `scheduler.py#L3553` |
//!
//! The envelopes read: OpenAI's `{"error":{message,type,param,code}}` (vLLM
//! ≥0.10.1, llama.cpp with an integer `code`, Ollama `/v1`, LM Studio's
//! object form, llama-cpp-python), vLLM ≤0.10 and SGLang's flat
//! `{"object":"error",message,type,param,code}`, Ollama native and LM Studio's
//! `{"error":"…"}`, FastAPI's `{"detail": …}`, and plain text.
//!
//! What a backend says in its own words is kept only as a `detail`, and only
//! when it is one short line with no traceback, file path or validation dump
//! in it ([`safe_detail`]); the whole body is logged where it is read.

mod locate;
mod safe;
mod validation;
mod words;

use serde_json::Value;

use locate::param_quoted_in;
pub use safe::safe_detail;
use words::{openai_code, parameter_suffix, ErrorWords};

/// Why a backend refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The backend does not serve the model asked for.
    UnknownModel,
    /// The prompt (with the tokens asked for) does not fit the model's context.
    ContextTooLong {
        context_tokens: Option<u64>,
        prompt_tokens: Option<u64>,
    },
    /// The model (or the server) cannot create embeddings.
    CannotEmbed,
    /// The server cannot do what the request asks at all (a parameter it has
    /// no support for); `param` in Chat Completions terms.
    Unsupported {
        param: Option<String>,
        detail: Option<String>,
    },
    /// The request broke one of the backend's rules (the client's mistake):
    /// `param` in Chat Completions terms, an OpenAI-style `code` when the
    /// backend sent one.
    Invalid {
        status: u16,
        param: Option<String>,
        code: Option<String>,
        detail: Option<String>,
    },
    /// The backend limits the rate of requests (429).
    RateLimited { detail: Option<String> },
    /// The backend is busy or still starting (503).
    Overloaded { detail: Option<String> },
    /// The backend refused Portico's own credentials (401, 403).
    Unauthorized,
    /// The backend failed (5xx, or an answer nothing else explains).
    ServerFailure { detail: Option<String> },
}

impl Fault {
    /// Whether the fault is the client's to fix (a 4xx for the client, not
    /// counted against the backend's health, not retried on another backend).
    pub fn is_client_mistake(&self) -> bool {
        matches!(
            self,
            Self::UnknownModel
                | Self::ContextTooLong { .. }
                | Self::CannotEmbed
                | Self::Unsupported { .. }
                | Self::Invalid { .. }
        )
    }

    /// Classifies an error answer of the backend to `path` (`/chat/completions`,
    /// `/embeddings`, `/api/chat`, …) with this status and body.
    pub fn classify(path: &str, status: u16, body: &str) -> Self {
        let words = ErrorWords::read(body);
        if let Some(fault) = context_too_long(&words) {
            return fault;
        }
        if cannot_embed(&words.lower)
            || (path.ends_with("/embeddings") && status == 404 && !words.mentions_model())
        {
            return Self::CannotEmbed;
        }
        if words.code.as_deref() == Some("model_not_found")
            || (words.mentions_model()
                && (status == 404
                    || words.lower.contains("invalid model identifier")
                    || (status == 400 && words.lower.starts_with("model '"))))
            || words.lower.contains("model path does not exist")
        {
            return Self::UnknownModel;
        }
        if let Some(fault) = unsupported(status, &words) {
            return fault;
        }
        match status {
            // Not about a model: the server has no such endpoint.
            404 => {
                return Self::ServerFailure {
                    detail: safe_detail(&words.message),
                }
            }
            401 | 403 => return Self::Unauthorized,
            429 => {
                return Self::RateLimited {
                    detail: safe_detail(&words.message),
                }
            }
            503 => {
                return Self::Overloaded {
                    detail: safe_detail(&words.message),
                }
            }
            _ => {}
        }
        if let Some((param, detail)) = words.validation() {
            return Self::Invalid {
                status: 400,
                param,
                code: detail.as_deref().and_then(openai_code).map(str::to_owned),
                detail,
            };
        }
        if status >= 500 && client_mistake_in_500(&words.lower) {
            return Self::Invalid {
                status: 400,
                param: words.param.clone().or_else(|| {
                    words
                        .lower
                        .contains("messages")
                        .then(|| "messages".to_owned())
                }),
                code: None,
                detail: safe_detail(&words.message),
            };
        }
        if (400..500).contains(&status) {
            return Self::Invalid {
                status: if status == 422 { 400 } else { status },
                param: words
                    .param
                    .clone()
                    .or_else(|| parameter_suffix(&words.message)),
                code: words
                    .code
                    .clone()
                    .or_else(|| openai_code(&words.message).map(str::to_owned)),
                detail: safe_detail(&words.message),
            };
        }
        Self::ServerFailure {
            detail: safe_detail(&words.message),
        }
    }

    /// The fault with the parameter its backend's words (`body`) name, found
    /// in `request` (the Chat Completions body sent): a quoted parameter path
    /// that is in the request (`'messages[0].role' does not support …`,
    /// llama.cpp's `Field 'temperature': …`), else a quoted value that only
    /// one parameter of the request has (`'minimal' is not supported` →
    /// `reasoning_effort`). Faults that name one already are left as they are.
    pub fn located_in(self, body: &str, request: &Value) -> Self {
        let locate = || param_quoted_in(&ErrorWords::read(body).message, request);
        match self {
            Self::Invalid {
                status,
                param: None,
                code,
                detail,
            } => Self::Invalid {
                status,
                param: locate(),
                code,
                detail,
            },
            Self::Unsupported {
                param: None,
                detail,
            } => Self::Unsupported {
                param: locate(),
                detail,
            },
            fault => fault,
        }
    }

    /// A mid-stream error object (`{"error": …}` in an event stream, or an
    /// NDJSON line) classified as if it had come with `status` (its own
    /// integer `code` when it has one, else a server failure).
    pub fn classify_stream_error(path: &str, error: &Value) -> (u16, Self) {
        let status = error
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|code| u16::try_from(code).ok())
            .filter(|code| (400..600).contains(code))
            .unwrap_or(500);
        let body = serde_json::json!({ "error": error }).to_string();
        (status, Self::classify(path, status, &body))
    }
}

fn context_too_long(words: &ErrorWords) -> Option<Fault> {
    const WORDINGS: [&str; 10] = [
        "maximum context length",
        "exceeds the available context size",
        "resulting in a maximum input length",
        "is longer than the maximum model length",
        "is longer than the model's context length",
        "exceeds the model's maximum context length",
        "the prompt is longer than the context length",
        "input does not fit in context length",
        "context length of only",
        "exceed context window of",
    ];
    let matched = words.code.as_deref() == Some("context_length_exceeded")
        || words.kind.as_deref() == Some("exceed_context_size_error")
        || WORDINGS.iter().any(|wording| words.lower.contains(wording));
    if !matched {
        return None;
    }
    let context_tokens = words.context_tokens.or_else(|| {
        number_after(&words.lower, "maximum context length is ")
            .or_else(|| number_after(&words.lower, "available context size ("))
            .or_else(|| number_after(&words.lower, "context length ("))
            .or_else(|| number_after(&words.lower, "exceed context window of "))
    });
    let prompt_tokens = words.prompt_tokens.or_else(|| {
        number_after(&words.lower, "resulted in ")
            .or_else(|| number_after(&words.lower, "you requested "))
            .or_else(|| number_after(&words.lower, "request ("))
            .or_else(|| number_after(&words.lower, "the input ("))
            .or_else(|| number_after(&words.lower, "contains at least "))
            .or_else(|| number_after(&words.lower, "contains "))
            .or_else(|| number_after(&words.lower, "requested tokens ("))
    });
    Some(Fault::ContextTooLong {
        context_tokens,
        prompt_tokens,
    })
}

/// The integer right after `marker` in `text`, if any.
fn number_after(text: &str, marker: &str) -> Option<u64> {
    let start = text.find(marker)? + marker.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn cannot_embed(lower: &str) -> bool {
    [
        "does not support embeddings",
        "must be created with embedding=true",
        "does not support embeddings api",
        "does not appear to be an embedding model",
        "model is not embedding",
    ]
    .iter()
    .any(|wording| lower.contains(wording))
}

/// Features the server cannot do at all, and the parameter that asked for them.
fn unsupported(status: u16, words: &ErrorWords) -> Option<Fault> {
    const ROWS: [(&str, &str); 14] = [
        ("does not support tools", "tools"),
        ("requires --enable-auto-tool-choice", "tools"),
        ("requires --tool-call-parser", "tool_choice"),
        ("tools param requires --jinja", "tools"),
        ("tool_choice param requires --jinja", "tool_choice"),
        ("does not support thinking", "reasoning_effort"),
        ("input is not supported", "messages"),
        ("image urls are not currently supported", "messages"),
        ("content part type", "messages"),
        ("unsupported content[].type", "messages"),
        ("response_format type must be one of", "response_format"),
        ("'response_format.type' must be", "response_format"),
        ("only one completion choice is allowed", "n"),
        ("not supported", ""),
    ];
    let row = ROWS
        .iter()
        .find(|(wording, _)| words.lower.contains(wording))
        .filter(|(_, param)| !param.is_empty() || status == 501);
    if row.is_none() && status != 501 {
        return None;
    }
    let param = row
        .map(|(_, param)| (*param).to_owned())
        .filter(|param| !param.is_empty())
        .or_else(|| words.param.clone());
    Some(Fault::Unsupported {
        param,
        detail: safe_detail(&words.message),
    })
}

/// llama.cpp and llama-cpp-python answer some of the client's mistakes with a 500.
fn client_mistake_in_500(lower: &str) -> bool {
    [
        "failed to parse messages",
        "[json.exception.",
        "cannot use both json_schema and grammar",
        "validation error",
    ]
    .iter()
    .any(|wording| lower.contains(wording))
}

#[cfg(test)]
mod tests;
