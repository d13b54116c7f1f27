//! How the mock words a scripted error: as OpenAI does (the script's body
//! verbatim), or as a kind of local server would answer the same failure
//! (`--error-dialect`), so the suite can check that Portico gives the client
//! OpenAI's answer whatever the backend said.
//!
//! The scripted error (OpenAI's recorded envelope, or a status and message)
//! is read with Portico's own fault table, then worded in the dialect. Each
//! wording is the server's own, from its source (the same sources as
//! `backends::fault`); where a server has no wording of its own for a failure
//! (a model-specific refusal), its envelope carries the scripted message, as
//! its generic validation error would:
//!
//! | dialect | envelope | unknown model | prompt over the context | other refusals | busy | failure |
//! |---|---|---|---|---|---|---|
//! | `vllm` (≥0.10.1) | `{"error":{message,type,param,code:int}}` | 404 `NotFoundError`, "The model \`M\` does not exist. Valid aliases: mock.", `param: model` (0.32+) | 400 `BadRequestError`, "This model's maximum context length is 4096 tokens. However, your prompt contains N input tokens, …" | 400 `BadRequestError` with `param` | 503 `Service Unavailable`, "The engine is currently busy…" | 500 `InternalServerError` |
//! | `vllm-flat` (≤0.10.0, SGLang) | `{"object":"error",message,type,param,code:int}` | 404 `NotFoundError`, "The model \`M\` does not exist." | 400 "…However, your request has N input tokens. Please reduce the length of the input messages." | 400 `BadRequestError`, `param: null` | 503 | 500 `InternalServerError` |
//! | `llamacpp` | `{"error":{code:int,message,type}}` | 400 "model 'M' not found" (router mode) | 400 `exceed_context_size_error` + `n_prompt_tokens`, `n_ctx` | 400 `invalid_request_error` (no `param`) | 503 `unavailable_error` "Loading model" | 500 `server_error` |
//! | `ollama` (≥0.18) | `{"error":{message,type,param:null,code:null}}` | 404 `not_found_error` "model 'M' not found" | 400 "the prompt is longer than the context length…" | 400 `invalid_request_error` | 503 `api_error` "server busy…" | 500 `api_error` |
//! | `fastapi` (llama-cpp-python, FastAPI) | llama-cpp-python's envelope; FastAPI's `{"detail":…}` | 400 `model_not_found`, "The model \`M\` does not exist" | 400 its `context_length_exceeded` | 422 `{"detail":[{loc,msg,type}]}` when a parameter is named, else 400 `{"detail":…}` | 503 `{"detail":"Service Unavailable"}` | 500 `internal_server_error` |
//! | `lmstudio` | `{"error":"…"}` or `{"error":{…,"code":"model_not_found"}}` | 400 "Invalid model identifier \"M\"…" | 400 "Trying to keep the first N tokens…" | 400 `{"error":"…"}` | (none documented) `{"error":"…"}` | 500 `{"error":"…"}` |

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::backends::fault::Fault;

/// The context size the dialects report.
const CONTEXT_TOKENS: u64 = 4096;

/// How the mock words its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorDialect {
    /// The scripted body as it is (OpenAI's own envelope).
    #[default]
    Openai,
    Vllm,
    VllmFlat,
    Llamacpp,
    Ollama,
    Fastapi,
    Lmstudio,
}

impl ErrorDialect {
    /// Every dialect.
    pub const ALL: [Self; 7] = [
        Self::Openai,
        Self::Vllm,
        Self::VllmFlat,
        Self::Llamacpp,
        Self::Ollama,
        Self::Fastapi,
        Self::Lmstudio,
    ];

    /// The name `--error-dialect` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Vllm => "vllm",
            Self::VllmFlat => "vllm-flat",
            Self::Llamacpp => "llamacpp",
            Self::Ollama => "ollama",
            Self::Fastapi => "fastapi",
            Self::Lmstudio => "lmstudio",
        }
    }

    /// The status and body a server of this dialect answers for the scripted
    /// error (`status`, OpenAI's `body`) to a request for `model` on `path`.
    pub fn word(self, path: &str, status: u16, body: &Value, model: &str) -> (u16, Value) {
        if self == Self::Openai {
            return (status, body.clone());
        }
        let fault = Fault::classify(path, status, &body.to_string());
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("scripted backend failure")
            .to_owned();
        let param = body
            .pointer("/error/param")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match fault {
            Fault::UnknownModel => self.unknown_model(model),
            Fault::ContextTooLong { prompt_tokens, .. } => {
                self.context_too_long(prompt_tokens.unwrap_or(CONTEXT_TOKENS + 904))
            }
            Fault::CannotEmbed => self.cannot_embed(),
            Fault::Overloaded { .. } | Fault::RateLimited { .. } => self.busy(status, &message),
            Fault::Unauthorized => self.envelope(status, &message, None),
            Fault::ServerFailure { .. } => self.envelope(status.max(500), &message, None),
            Fault::Invalid { .. } | Fault::Unsupported { .. } => {
                self.refusal(status, &message, param)
            }
        }
    }

    fn unknown_model(self, model: &str) -> (u16, Value) {
        match self {
            Self::Openai => (
                404,
                json!({"error": {"message": format!("The model `{model}` does not exist or you do not have access to it."), "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
            ),
            Self::Vllm => (
                404,
                json!({"error": {"message": format!("The model `{model}` does not exist. Valid aliases: mock."), "type": "NotFoundError", "param": "model", "code": 404}}),
            ),
            Self::VllmFlat => (
                404,
                json!({"object": "error", "message": format!("The model `{model}` does not exist."), "type": "NotFoundError", "param": null, "code": 404}),
            ),
            Self::Llamacpp => (
                400,
                json!({"error": {"code": 400, "message": format!("model '{model}' not found"), "type": "invalid_request_error"}}),
            ),
            Self::Ollama => (
                404,
                json!({"error": {"message": format!("model '{model}' not found"), "type": "not_found_error", "param": null, "code": null}}),
            ),
            Self::Fastapi => (
                400,
                json!({"error": {"message": format!("The model `{model}` does not exist"), "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
            ),
            Self::Lmstudio => (
                400,
                json!({"error": {"message": format!("Invalid model identifier \"{model}\". Please specify a valid downloaded model (e.g., mock)."), "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
            ),
        }
    }

    fn context_too_long(self, prompt: u64) -> (u16, Value) {
        let context = CONTEXT_TOKENS;
        match self {
            Self::Openai => (
                400,
                json!({"error": {"message": format!("This model's maximum context length is {context} tokens. However, your messages resulted in {prompt} tokens. Please reduce the length of the messages."), "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
            ),
            Self::Vllm => (
                400,
                json!({"error": {"message": format!("This model's maximum context length is {context} tokens. However, your prompt contains {prompt} input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value={prompt})"), "type": "BadRequestError", "param": "input_tokens", "code": 400}}),
            ),
            Self::VllmFlat => (
                400,
                json!({"object": "error", "message": format!("This model's maximum context length is {context} tokens. However, your request has {prompt} input tokens. Please reduce the length of the input messages."), "type": "BadRequestError", "param": null, "code": 400}),
            ),
            Self::Llamacpp => (
                400,
                json!({"error": {"code": 400, "message": format!("request ({prompt} tokens) exceeds the available context size ({context} tokens), try increasing it"), "type": "exceed_context_size_error", "n_prompt_tokens": prompt, "n_ctx": context}}),
            ),
            Self::Ollama => (
                400,
                json!({"error": {"message": "the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length", "type": "invalid_request_error", "param": null, "code": null}}),
            ),
            Self::Fastapi => (
                400,
                json!({"error": {"message": format!("This model's maximum context length is {context} tokens. However, you requested {prompt} tokens ({prompt} in the messages, None in the completion). Please reduce the length of the messages or completion."), "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
            ),
            Self::Lmstudio => (
                400,
                json!({"error": format!("Trying to keep the first {prompt} tokens when context the overflows. However, the model is loaded with context length of only {context} tokens, which is not enough. Try to load the model with a larger context length, or provide a shorter input")}),
            ),
        }
    }

    fn cannot_embed(self) -> (u16, Value) {
        match self {
            Self::Openai | Self::Vllm => (404, json!({"detail": "Not Found"})),
            Self::VllmFlat => (
                400,
                json!({"object": "error", "message": "The model does not support Embeddings API", "type": "BadRequestError", "param": null, "code": 400}),
            ),
            Self::Llamacpp => (
                501,
                json!({"error": {"code": 501, "message": "This server does not support embeddings. Start it with `--embeddings`", "type": "not_supported_error"}}),
            ),
            Self::Ollama => (
                500,
                json!({"error": {"message": "this model does not support embeddings", "type": "api_error", "param": null, "code": null}}),
            ),
            Self::Fastapi => (
                500,
                json!({"error": {"message": "Llama model must be created with embedding=True to call this method", "type": "internal_server_error", "param": null, "code": null}}),
            ),
            Self::Lmstudio => (
                404,
                json!({"error": {"message": "Failed to load model \"mock\". Error: Model is not embedding.", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
            ),
        }
    }

    fn busy(self, status: u16, message: &str) -> (u16, Value) {
        match self {
            Self::Openai => (
                503,
                json!({"error": {"message": "The engine is currently overloaded, please try again later", "type": "server_error", "param": null, "code": null}}),
            ),
            Self::Vllm => (
                503,
                json!({"error": {"message": "The engine is currently busy and cannot accept new requests. Please try again later or on a different instance.", "type": "Service Unavailable", "code": 503}}),
            ),
            Self::VllmFlat => (
                503,
                json!({"object": "error", "message": "The request queue is full.", "type": "503", "param": null, "code": 503}),
            ),
            Self::Llamacpp => (
                503,
                json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
            ),
            Self::Ollama => (
                503,
                json!({"error": {"message": "server busy, please try again.  maximum pending requests exceeded", "type": "api_error", "param": null, "code": null}}),
            ),
            Self::Fastapi => (503, json!({"detail": "Service Unavailable"})),
            // LM Studio documents no busy answer: its envelope, the scripted words.
            Self::Lmstudio => (status, json!({"error": message})),
        }
    }

    fn refusal(self, status: u16, message: &str, param: Option<String>) -> (u16, Value) {
        match self {
            Self::Fastapi => match param {
                Some(param) => (
                    422,
                    json!({"detail": [{"loc": fastapi_location(&param), "msg": message, "type": "value_error"}]}),
                ),
                None => (status, json!({"detail": message})),
            },
            _ => self.envelope(status, message, param),
        }
    }

    /// The dialect's generic envelope for `status`.
    fn envelope(self, status: u16, message: &str, param: Option<String>) -> (u16, Value) {
        let client = (400..500).contains(&status);
        match self {
            Self::Openai => (
                status,
                json!({"error": {"message": message, "type": if client { "invalid_request_error" } else { "server_error" }, "param": param, "code": null}}),
            ),
            Self::Vllm => (
                status,
                json!({"error": {"message": message, "type": if client { "BadRequestError" } else { "InternalServerError" }, "param": param, "code": status}}),
            ),
            Self::VllmFlat => (
                status,
                json!({"object": "error", "message": message, "type": if client { "BadRequestError" } else { "InternalServerError" }, "param": null, "code": status}),
            ),
            Self::Llamacpp => (
                status,
                json!({"error": {"code": status, "message": message, "type": if client { "invalid_request_error" } else { "server_error" }}}),
            ),
            Self::Ollama => (
                status,
                json!({"error": {"message": message, "type": match status { 400 => "invalid_request_error", 404 => "not_found_error", _ => "api_error" }, "param": null, "code": null}}),
            ),
            Self::Fastapi => (
                status,
                json!({"error": {"message": message, "type": if client { "invalid_request_error" } else { "internal_server_error" }, "param": null, "code": null}}),
            ),
            Self::Lmstudio => (status, json!({"error": message})),
        }
    }
}

/// `messages[0].role` → `["body", "messages", 0, "role"]`, FastAPI's `loc`.
fn fastapi_location(param: &str) -> Value {
    let mut location = vec![json!("body")];
    for piece in param.split('.') {
        let mut rest = piece;
        if let Some(open) = rest.find('[') {
            location.push(json!(&rest[..open]));
            rest = &rest[open..];
            while let Some(close) = rest.find(']') {
                match rest[1..close].parse::<u64>() {
                    Ok(index) => location.push(json!(index)),
                    Err(_) => location.push(json!(&rest[1..close])),
                }
                rest = &rest[close + 1..];
            }
        } else {
            location.push(json!(rest));
        }
    }
    Value::Array(location)
}

impl fmt::Display for ErrorDialect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for ErrorDialect {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|dialect| dialect.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|dialect| dialect.name()).collect();
                format!(
                    "unknown error dialect '{name}' (known: {})",
                    names.join(", ")
                )
            })
    }
}
