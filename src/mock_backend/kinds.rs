//! The mock posing as a kind of local server (`--kind`): it describes itself
//! as that kind does (its `/v1/models` answer and headers, Ollama's
//! `/api/version`), refuses what that kind refuses with that kind's own error
//! body, and streams with that kind's quirks (no usage chunk from
//! llama-cpp-python, a role chunk without `content`). Tests put Portico in
//! front of each kind without having its server; the real-backend suite checks
//! the same against the real llama-cpp-python.
//!
//! Refusals, by kind (sources as in `backends::profile`):
//! * llama-cpp-python 0.3.36 (bodies captured from the real server, with its
//!   Python validation dump and the file path in it: `captured/`): a
//!   `developer` message, a `system`, `assistant` or `tool` message whose
//!   content is a list of parts, `content: null` beside `tool_calls`,
//!   `response_format` of type `json_schema` — each a 500
//!   `internal_server_error`.
//! * LM Studio: `response_format` of type `json_object` (400 `{"error": "'response_format.type'
//!   must be 'json_schema' or 'text'"}`, tada#16) and the `developer` role
//!   (400, lmstudio-bug-tracker#669).
//! * vLLM: `n` > 1 with `temperature: 0` (400 "n must be 1 when using greedy
//!   sampling, got N.", `sampling_params.py#L773-777`).
//! * llama-server: a `response_format` type other than `text`, `json_object`
//!   and `json_schema` (400, `server-common.cpp#L951`).

use axum::http::{HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::backends::profile::ServerKind;

/// The `/v1/models` answer of `kind` listing `ids`.
pub fn models_answer(kind: ServerKind, ids: &[String]) -> Value {
    let entry = |id: &String| match kind {
        ServerKind::Generic => {
            json!({"id": id, "object": "model", "created": 0, "owned_by": "portico"})
        }
        ServerKind::Vllm => {
            json!({"id": id, "object": "model", "created": 1_795_000_000, "owned_by": "vllm", "root": id, "parent": null, "max_model_len": 4096,
            "permission": [{"id": "modelperm-mock", "object": "model_permission", "created": 1_795_000_000, "allow_create_engine": false, "allow_sampling": true, "allow_logprobs": true, "allow_search_indices": false, "allow_view": true, "allow_fine_tuning": false, "organization": "*", "group": null, "is_blocking": false}]})
        }
        ServerKind::Sglang => {
            json!({"id": id, "object": "model", "created": 1_795_000_000, "owned_by": "sglang", "root": id, "parent": null, "max_model_len": 4096})
        }
        ServerKind::LlamaServer => {
            json!({"id": id, "aliases": [], "tags": [], "object": "model", "created": 1_795_000_000, "owned_by": "llamacpp",
            "meta": {"vocab_type": 1, "n_vocab": 262_144, "n_ctx": 4096, "n_ctx_train": 32768, "n_embd": 640, "n_params": 268_098_176, "size": 253_104_640, "ftype": 15}})
        }
        ServerKind::LlamaCppPython => {
            json!({"id": id, "object": "model", "owned_by": "me", "permissions": []})
        }
        ServerKind::Ollama => {
            json!({"id": id, "object": "model", "created": 1_795_000_000, "owned_by": "library"})
        }
        ServerKind::LmStudio => {
            json!({"id": id, "object": "model", "owned_by": "organization_owner"})
        }
    };
    let data: Vec<Value> = ids.iter().map(entry).collect();
    match kind {
        ServerKind::LmStudio => json!({"data": data, "object": "list"}),
        _ => json!({"object": "list", "data": data}),
    }
}

/// The header that tells `kind` apart, if it sends one.
pub fn identifying_header(kind: ServerKind) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match kind {
        ServerKind::LlamaServer => ("server", "llama.cpp"),
        ServerKind::LmStudio => ("x-powered-by", "Express"),
        ServerKind::Vllm | ServerKind::Sglang | ServerKind::LlamaCppPython => ("server", "uvicorn"),
        ServerKind::Generic | ServerKind::Ollama => return None,
    };
    Some((
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    ))
}

/// Whether `kind` sends a usage chunk when a stream asks for one.
pub fn streams_usage(kind: ServerKind) -> bool {
    kind != ServerKind::LlamaCppPython
}

/// The first chunk's delta of a text stream, as `kind` sends it (`None`:
/// OpenAI's own).
pub fn first_delta(kind: ServerKind) -> Option<Value> {
    match kind {
        ServerKind::Generic => None,
        ServerKind::LlamaCppPython => Some(json!({"role": "assistant"})),
        ServerKind::LlamaServer => Some(json!({"role": "assistant", "content": null})),
        _ => Some(json!({"role": "assistant", "content": ""})),
    }
}

/// The status and body `kind` answers a chat request it refuses, if it refuses it.
pub fn refusal(kind: ServerKind, body: &Value) -> Option<(u16, Value)> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let format = body
        .pointer("/response_format/type")
        .and_then(Value::as_str);
    match kind {
        ServerKind::LlamaCppPython => llama_cpp_python_refusal(messages, format),
        ServerKind::LmStudio => {
            if format == Some("json_object") {
                return Some((400, json!({"error": "'response_format.type' must be 'json_schema' or 'text'"})));
            }
            messages
                .iter()
                .any(|message| role(message) == "developer")
                .then(|| (400, json!({"error": "'messages' array must only contain objects with a 'role' field that is in [user, assistant, system, tool]. Got 'developer'"})))
        }
        ServerKind::Vllm => {
            let choices = body.get("n").and_then(Value::as_u64).unwrap_or(1);
            let greedy = body.get("temperature").and_then(Value::as_f64) == Some(0.0);
            (choices > 1 && greedy).then(|| {
                (400, json!({"error": {"message": format!("n must be 1 when using greedy sampling, got {choices}."), "type": "BadRequestError", "param": null, "code": 400}}))
            })
        }
        ServerKind::LlamaServer => format
            .filter(|format| !["text", "json_object", "json_schema"].contains(format))
            .map(|format| {
                (400, json!({"error": {"code": 400, "message": format!("response_format type must be one of \"text\" or \"json_object\", but got: {format}"), "type": "invalid_request_error"}}))
            }),
        ServerKind::Generic | ServerKind::Sglang | ServerKind::Ollama => None,
    }
}

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// llama-cpp-python's captured refusals (`captured/llama-cpp-python.json`):
/// name → the request that drew it, and the status and body it answered.
const LLAMA_CPP_PYTHON_REFUSALS: &str = include_str!("captured/llama-cpp-python.json");

/// llama-cpp-python validates a request against its own pydantic models and
/// answers a mismatch with the dump as a 500: the captured body of the first
/// offending message (its index put in), else of the response format.
fn llama_cpp_python_refusal(messages: &[Value], format: Option<&str>) -> Option<(u16, Value)> {
    for (index, message) in messages.iter().enumerate() {
        let content = message.get("content");
        let parts = content.is_some_and(Value::is_array);
        let captured = match role(message) {
            "developer" => "developer_role",
            "system" if parts => "system_text_parts",
            "assistant"
                if message.get("tool_calls").is_some() && content.is_none_or(Value::is_null) =>
            {
                "assistant_null_beside_tool_calls"
            }
            "assistant" if parts => "assistant_text_parts",
            "tool" if parts => "tool_text_parts",
            _ => continue,
        };
        return captured_refusal(captured, Some(index));
    }
    (format == Some("json_schema"))
        .then(|| captured_refusal("json_schema_response_format", None))
        .flatten()
}

/// A captured refusal, with the offending message's index in its dump.
fn captured_refusal(name: &str, index: Option<usize>) -> Option<(u16, Value)> {
    let captured: Value = serde_json::from_str(LLAMA_CPP_PYTHON_REFUSALS).ok()?;
    let refusal = captured.get(name)?;
    let status = refusal.get("status")?.as_u64()? as u16;
    let mut body = refusal.get("body")?.clone();
    if let (Some(index), Some(Value::String(message))) = (index, body.pointer_mut("/error/message"))
    {
        // Every error of a captured dump is about one message (of index < 10).
        for recorded in 0..10 {
            *message = message.replace(
                &format!("'messages', {recorded},"),
                &format!("'messages', {index},"),
            );
        }
    }
    Some((status, body))
}
