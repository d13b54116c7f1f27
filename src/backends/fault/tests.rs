//! The translation table against each server's real error bodies (captured
//! from llama-cpp-python 0.3.36 here, the others as their sources write them).

use serde_json::json;

use super::{safe_detail, Fault};

const CHAT: &str = "/v1/chat/completions";
const EMBEDDINGS: &str = "/v1/embeddings";

fn classify(status: u16, body: serde_json::Value) -> Fault {
    Fault::classify(CHAT, status, &body.to_string())
}

#[test]
fn a_prompt_over_the_context_is_recognized_in_every_dialect() {
    let bodies = [
        // llama-cpp-python 0.3.36, errors.py
        (
            400,
            json!({"error": {"message": "This model's maximum context length is 4096 tokens. However, you requested 6012 tokens (6000 in the messages, 12 in the completion). Please reduce the length of the messages or completion.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
        ),
        // llama.cpp server-context.cpp
        (
            400,
            json!({"error": {"code": 400, "message": "request (6000 tokens) exceeds the available context size (4096 tokens), try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 6000, "n_ctx": 4096}}),
        ),
        // vLLM 0.34 renderers/params.py
        (
            400,
            json!({"error": {"message": "This model's maximum context length is 4096 tokens. However, your prompt contains 6000 input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value=6000)", "type": "BadRequestError", "param": "input_tokens", "code": 400}}),
        ),
        // vLLM 0.10 (flat)
        (
            400,
            json!({"object": "error", "message": "This model's maximum context length is 4096 tokens. However, your request has 6000 input tokens. Please reduce the length of the input messages.", "type": "BadRequestError", "param": null, "code": 400}),
        ),
        // SGLang tokenizer_manager.py
        (
            400,
            json!({"object": "error", "message": "The input (6000 tokens) is longer than the model's context length (4096 tokens).", "type": "BadRequestError", "param": null, "code": 400}),
        ),
        // Ollama llama_server.go
        (
            400,
            json!({"error": {"message": "the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length", "type": "invalid_request_error", "param": null, "code": null}}),
        ),
        // LM Studio 0.4.21
        (
            400,
            json!({"error": {"message": "Input does not fit in context length. The input has 6000 tokens, but the context length only supports 4096 tokens."}}),
        ),
    ];
    for (status, body) in bodies {
        assert!(
            matches!(classify(status, body.clone()), Fault::ContextTooLong { .. }),
            "{body}"
        );
    }
    assert_eq!(
        classify(
            400,
            json!({"error": {"code": 400, "message": "request (6000 tokens) exceeds the available context size (4096 tokens), try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 6000, "n_ctx": 4096}})
        ),
        Fault::ContextTooLong {
            context_tokens: Some(4096),
            prompt_tokens: Some(6000)
        }
    );
    assert_eq!(
        classify(
            400,
            json!({"error": {"message": "This model's maximum context length is 4097 tokens. However, your messages resulted in 4363 tokens. Please reduce the length of the messages.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
        ),
        Fault::ContextTooLong {
            context_tokens: Some(4097),
            prompt_tokens: Some(4363)
        }
    );
}

#[test]
fn an_unknown_model_is_recognized_in_every_dialect() {
    let bodies = [
        (
            404,
            json!({"error": {"message": "The model `gpt-x` does not exist. Valid aliases: qwen.", "type": "NotFoundError", "param": "model", "code": 404}}),
        ),
        (
            404,
            json!({"object": "error", "message": "The model `gpt-x` does not exist.", "type": "NotFoundError", "param": null, "code": 404}),
        ),
        (
            404,
            json!({"error": {"message": "model 'gpt-x' not found", "type": "not_found_error", "param": null, "code": null}}),
        ),
        (
            404,
            json!({"error": "model \"gpt-x\" not found, try pulling it first"}),
        ),
        (
            400,
            json!({"error": {"code": 400, "message": "model 'gpt-x' not found", "type": "invalid_request_error"}}),
        ),
        (
            400,
            json!({"error": {"message": "Invalid model identifier \"gpt-x\". Please specify a valid downloaded model.", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
        ),
        (
            404,
            json!({"error": {"message": "The model `gpt-x` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
        ),
    ];
    for (status, body) in bodies {
        assert_eq!(
            classify(status, body.clone()),
            Fault::UnknownModel,
            "{body}"
        );
    }
}

#[test]
fn a_model_that_cannot_embed_is_the_clients_mistake() {
    let bodies = [
        (
            501,
            json!({"error": {"code": 501, "message": "This server does not support embeddings. Start it with `--embeddings`", "type": "not_supported_error"}}),
        ),
        (
            500,
            json!({"error": {"message": "Llama model must be created with embedding=True to call this method", "type": "internal_server_error", "param": null, "code": null}}),
        ),
        (404, json!({"detail": "Not Found"})),
        (
            400,
            json!({"object": "error", "message": "This model does not appear to be an embedding model by default. Please add `--is-embedding` when launching the server or try another model.", "type": "BadRequestError", "param": null, "code": 400}),
        ),
        (
            404,
            json!({"error": {"message": "Failed to load model \"llama-3\". Error: Model is not embedding.", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
        ),
        (
            500,
            json!({"error": {"message": "this model does not support embeddings", "type": "api_error", "param": null, "code": null}}),
        ),
    ];
    for (status, body) in bodies {
        let fault = Fault::classify(EMBEDDINGS, status, &body.to_string());
        assert_eq!(fault, Fault::CannotEmbed, "{body}");
        assert!(fault.is_client_mistake());
    }
}

#[test]
fn llama_cpp_pythons_validation_dump_is_a_400_naming_the_parameter() {
    // Captured from llama-cpp-python 0.3.36: a `developer` message.
    let message = "7 validation errors:\n  {'type': 'literal_error', 'loc': ('body', 'messages', 0, 'ChatCompletionRequestSystemMessage', 'role'), 'msg': \"Input should be 'system'\", 'input': 'developer', 'ctx': {'expected': \"'system'\"}}\n  {'type': 'missing', 'loc': ('body', 'messages', 0, 'ChatCompletionRequestToolMessage', 'tool_call_id'), 'msg': 'Field required', 'input': {'role': 'developer', 'content': 'Be short.'}}\n\n  File \"/srv/venv/lib/python3.11/site-packages/llama_cpp/server/app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions";
    let fault = classify(
        500,
        json!({"error": {"message": message, "type": "internal_server_error", "param": null, "code": null}}),
    );
    assert_eq!(
        fault,
        Fault::Invalid {
            status: 400,
            param: Some("messages[0].role".into()),
            code: None,
            detail: Some("Input should be 'system'".into()),
        }
    );
}

#[test]
fn fastapi_and_vllm_validation_errors_name_the_parameter() {
    let fastapi = classify(
        422,
        json!({"detail": [{"loc": ["body", "messages", 1, "content"], "msg": "field required", "type": "value_error.missing"}]}),
    );
    assert_eq!(
        fastapi,
        Fault::Invalid {
            status: 400,
            param: Some("messages[1].content".into()),
            code: None,
            detail: Some("field required".into())
        }
    );
    let vllm = classify(
        400,
        json!({"error": {"message": "Stream options can only be defined when `stream=True`. (parameter=stream_options)", "type": "BadRequestError", "param": "stream_options", "code": 400}}),
    );
    assert!(
        matches!(vllm, Fault::Invalid { status: 400, ref param, code: None, .. } if param.as_deref() == Some("stream_options"))
    );
}

#[test]
fn features_a_server_cannot_do_name_their_parameter() {
    let rows = [
        (
            400,
            json!({"error": {"message": "registry.ollama.ai/library/gemma3:4b does not support tools", "type": "invalid_request_error", "param": null, "code": null}}),
            "tools",
        ),
        (
            400,
            json!({"error": {"message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set", "type": "BadRequestError", "param": null, "code": 400}}),
            "tools",
        ),
        (
            500,
            json!({"error": {"code": 500, "message": "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj", "type": "server_error"}}),
            "messages",
        ),
        (
            400,
            json!({"error": {"code": 400, "message": "response_format type must be one of \"text\" or \"json_object\", but got: sound", "type": "invalid_request_error"}}),
            "response_format",
        ),
        (
            400,
            json!({"error": "'response_format.type' must be 'json_schema' or 'text'"}),
            "response_format",
        ),
    ];
    for (status, body, param) in rows {
        let fault = classify(status, body.clone());
        assert!(
            matches!(&fault, Fault::Unsupported { param: Some(named), .. } if named == param),
            "{body} → {fault:?}"
        );
    }
}

#[test]
fn busy_limited_and_failing_servers_are_the_backends_faults() {
    assert!(matches!(
        classify(
            503,
            json!({"error": {"message": "Loading model", "type": "unavailable_error", "code": 503}})
        ),
        Fault::Overloaded { .. }
    ));
    assert!(matches!(
        classify(429, json!({"error": "slow down"})),
        Fault::RateLimited { .. }
    ));
    assert_eq!(
        classify(
            401,
            json!({"error": {"message": "Invalid API Key", "type": "authentication_error", "code": 401}})
        ),
        Fault::Unauthorized
    );
    let failure = classify(
        500,
        json!({"error": {"message": "CUDA error: out of memory", "type": "InternalServerError", "code": 500}}),
    );
    assert_eq!(
        failure,
        Fault::ServerFailure {
            detail: Some("CUDA error: out of memory".into())
        }
    );
    assert!(!failure.is_client_mistake());
    assert!(matches!(
        Fault::classify(CHAT, 404, "File Not Found"),
        Fault::ServerFailure { .. }
    ));
}

#[test]
fn openai_shaped_refusals_keep_their_param_and_code() {
    let fault = classify(
        400,
        json!({"error": {"code": "invalid_value", "message": "Invalid 'messages[3]'. Content blocks are expected to be either text or image_url type.", "param": "messages[3]", "type": "invalid_request_error"}}),
    );
    assert_eq!(
        fault,
        Fault::Invalid {
            status: 400,
            param: Some("messages[3]".into()),
            code: Some("invalid_value".into()),
            detail: Some("Invalid 'messages[3]'. Content blocks are expected to be either text or image_url type.".into()),
        }
    );
}

#[test]
fn stream_errors_take_their_status_from_their_code() {
    let (status, fault) = Fault::classify_stream_error(
        CHAT,
        &json!({"code": 400, "message": "request (9000 tokens) exceeds the available context size (4096 tokens), try increasing it", "type": "exceed_context_size_error"}),
    );
    assert_eq!(status, 400);
    assert!(matches!(fault, Fault::ContextTooLong { .. }));
    let (status, fault) = Fault::classify_stream_error("/api/chat", &json!("model 'x' not found"));
    assert_eq!(status, 500);
    assert_eq!(
        fault,
        Fault::ServerFailure {
            detail: Some("model 'x' not found".into())
        }
    );
}

#[test]
fn details_with_tracebacks_paths_or_dumps_are_never_shown() {
    assert_eq!(safe_detail("Traceback (most recent call last):"), None);
    assert_eq!(
        safe_detail("failed at /usr/lib/python3/site.py line 3"),
        None
    );
    assert_eq!(safe_detail("error in server-context.cpp:4091"), None);
    assert_eq!(safe_detail("1 validation error for Request"), None);
    assert_eq!(safe_detail("C:\\models\\x.gguf not readable"), None);
    assert_eq!(
        safe_detail("  \nInvalid tool_choice: sometimes\n  more"),
        Some("Invalid tool_choice: sometimes".into())
    );
    assert_eq!(
        safe_detail(&"x".repeat(400)).map(|detail| detail.chars().count()),
        Some(301)
    );
}

#[test]
fn every_captured_llama_cpp_python_refusal_names_what_is_wrong() {
    let captured: serde_json::Value = serde_json::from_str(include_str!(
        "../../mock_backend/captured/llama-cpp-python.json"
    ))
    .unwrap_or_default();
    let expected = [
        (
            "developer_role",
            "messages[0].role",
            "Input should be 'system', 'user', 'assistant', 'tool' or 'function'",
        ),
        (
            "system_text_parts",
            "messages[0].content",
            "Input should be a valid string",
        ),
        (
            "assistant_null_beside_tool_calls",
            "messages[1].content",
            "Input should be a valid string",
        ),
        (
            "assistant_text_parts",
            "messages[1].content",
            "Input should be a valid string",
        ),
        (
            "tool_text_parts",
            "messages[2].content",
            "Input should be a valid string",
        ),
        (
            "json_schema_response_format",
            "response_format.type",
            "Input should be 'text' or 'json_object'",
        ),
    ];
    for (name, param, detail) in expected {
        let refusal = &captured[name];
        let status = refusal["status"].as_u64().unwrap_or_default() as u16;
        assert_eq!(status, 500, "{name}");
        let fault = Fault::classify(CHAT, status, &refusal["body"].to_string());
        assert_eq!(
            fault,
            Fault::Invalid {
                status: 400,
                param: Some(param.into()),
                code: None,
                detail: Some(detail.into())
            },
            "{name}"
        );
    }
}
