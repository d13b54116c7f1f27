//! Faults rendered per endpoint, as OpenAI answers them.

use serde_json::json;

use super::{backend_error, param_for, response_error, Endpoint, FailedCall};
use crate::backends::error::BackendError;

fn rendered(endpoint: Endpoint, status: u16, body: serde_json::Value) -> (u16, serde_json::Value) {
    let error = BackendError::from_answer("/v1/chat/completions", status, &body.to_string());
    let error = backend_error(FailedCall::new(endpoint, "gemma", "llama"), error);
    (
        error.status().as_u16(),
        serde_json::to_value(error.body()).unwrap_or_default(),
    )
}

#[test]
fn a_prompt_over_the_context_is_openais_400_on_each_endpoint() {
    let llama_cpp = json!({"error": {"code": 400, "message": "request (6000 tokens) exceeds the available context size (4096 tokens), try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 6000, "n_ctx": 4096}});
    let (status, chat) = rendered(Endpoint::ChatCompletions, 400, llama_cpp.clone());
    assert_eq!(status, 400);
    assert_eq!(
        chat,
        json!({"error": {"message": "This model's maximum context length is 4096 tokens. However, your messages resulted in 6000 tokens. Please reduce the length of the messages.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
    );
    let (status, responses) = rendered(Endpoint::Responses, 400, llama_cpp);
    assert_eq!(status, 400);
    assert_eq!(
        responses,
        json!({"error": {"message": "Your input exceeds the context window of this model. Please adjust your input and try again.", "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}})
    );
}

#[test]
fn an_unknown_model_is_a_404_on_chat_and_a_400_naming_model_on_responses() {
    let vllm = json!({"error": {"message": "The model `gemma` does not exist.", "type": "NotFoundError", "param": null, "code": 404}});
    let (status, chat) = rendered(Endpoint::ChatCompletions, 404, vllm.clone());
    assert_eq!(
        (status, &chat["error"]["code"], &chat["error"]["param"]),
        (404, &json!("model_not_found"), &json!(null))
    );
    assert_eq!(chat["error"]["type"], "invalid_request_error");
    let (status, responses) = rendered(Endpoint::Responses, 404, vllm);
    assert_eq!(
        (
            status,
            &responses["error"]["code"],
            &responses["error"]["param"]
        ),
        (400, &json!("model_not_found"), &json!("model"))
    );
}

#[test]
fn a_validation_dump_becomes_a_400_without_internals() {
    let dump = "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'messages', 2, 'ChatCompletionRequestAssistantMessage', 'content'), 'msg': 'Input should be a valid string', 'input': None}\n\n  File \"/srv/app.py\", line 3";
    let body = json!({"error": {"message": dump, "type": "internal_server_error", "param": null, "code": null}});
    let (status, chat) = rendered(Endpoint::ChatCompletions, 500, body.clone());
    assert_eq!(status, 400);
    assert_eq!(
        chat,
        json!({"error": {"message": "Input should be a valid string", "type": "invalid_request_error", "param": "messages[2].content", "code": null}})
    );
    let (_, responses) = rendered(Endpoint::Responses, 500, body);
    assert_eq!(responses["error"]["param"], "input");
}

#[test]
fn server_failures_are_502_and_show_only_safe_words() {
    let (status, chat) = rendered(
        Endpoint::ChatCompletions,
        500,
        json!({"error": {"message": "Traceback (most recent call last):\n  File \"/x/y.py\"", "type": "internal_server_error"}}),
    );
    assert_eq!(status, 502);
    assert_eq!(
        chat["error"]["message"],
        "The backend 'llama' failed (500)."
    );
    assert_eq!(chat["error"]["type"], "server_error");
    let (status, busy) = rendered(
        Endpoint::Embeddings,
        503,
        json!({"error": {"message": "Loading model", "type": "unavailable_error", "code": 503}}),
    );
    assert_eq!(status, 503);
    assert_eq!(busy["error"]["code"], "backend_unavailable");
}

#[test]
fn unsupported_features_name_the_parameter_for_the_endpoint() {
    let (status, responses) = rendered(
        Endpoint::Responses,
        400,
        json!({"error": {"code": 400, "message": "response_format type must be one of \"text\" or \"json_object\", but got: sound", "type": "invalid_request_error"}}),
    );
    assert_eq!(status, 400);
    assert_eq!(responses["error"]["param"], "text.format");
    assert_eq!(responses["error"]["code"], "unsupported_parameter");
    assert_eq!(
        param_for(Endpoint::Responses, "messages[3].content"),
        "input"
    );
    assert_eq!(
        param_for(Endpoint::Responses, "max_tokens"),
        "max_output_tokens"
    );
    assert_eq!(
        param_for(Endpoint::ChatCompletions, "messages[3].content"),
        "messages[3].content"
    );
}

#[test]
fn a_failed_responses_error_uses_the_specs_codes() {
    let context = BackendError::from_answer(
        "/v1/chat/completions",
        400,
        r#"{"error":{"message":"This model's maximum context length is 10 tokens. However, your messages resulted in 20 tokens.","code":"context_length_exceeded"}}"#,
    );
    assert_eq!(
        response_error("llama", "gemma", &context).0,
        "invalid_prompt"
    );
    let failed = BackendError::from_answer("/v1/chat/completions", 500, "boom");
    assert_eq!(
        response_error("llama", "gemma", &failed),
        (
            "server_error".to_owned(),
            "The model failed to generate a response.".to_owned()
        )
    );
    let limited = BackendError::from_answer("/v1/chat/completions", 429, "{}");
    assert_eq!(
        response_error("llama", "gemma", &limited).0,
        "rate_limit_exceeded"
    );
}
