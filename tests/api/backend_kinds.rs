//! Portico in front of the mock posing as each kind of local server (which
//! refuses what that kind refuses, streams with its quirks and words errors
//! its way): requests are adapted to what the kind reads, answers come back in
//! OpenAI's shape, and the kind's errors in OpenAI's words.

use portico::backends::profile::ServerKind;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_posing_as, TestApp};

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

fn answer_schema() -> Value {
    json!({"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"], "additionalProperties": false})
}

async fn last_backend_request(app: &TestApp) -> Value {
    app.backend_requests().await.pop().unwrap()
}

#[tokio::test]
async fn llama_cpp_python_takes_the_everyday_chat_request_in_its_own_forms() {
    let app = spawn_app_posing_as(ServerKind::LlamaCppPython).await;
    app.script(json!({"content": "{\"answer\":\"yes\"}"})).await;
    let (status, answer) = app
        .post(
            "/v1/chat/completions",
            json!({
                "model": "gemma",
                "messages": [
                    {"role": "developer", "content": "Answer yes or no."},
                    {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                    {"role": "user", "content": [{"type": "text", "text": "Is it sunny?"}]},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                ],
                "tools": [weather_tool()],
                "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": answer_schema()}},
                "max_completion_tokens": 30,
            }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "{\"answer\":\"yes\"}"
    );
    let sent = last_backend_request(&app).await;
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Answer yes or no."})
    );
    assert_eq!(sent["messages"][1]["content"], "Be brief.");
    assert_eq!(sent["messages"][3]["content"], "");
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_object", "schema": answer_schema()})
    );
    assert_eq!(sent["max_tokens"], 30);
    assert!(sent.get("max_completion_tokens").is_none());
}

#[tokio::test]
async fn a_stream_from_llama_cpp_python_opens_with_empty_content_and_gets_its_usage_chunk() {
    let app = spawn_app_posing_as(ServerKind::LlamaCppPython).await;
    app.script(json!({"content": "one two three", "chunk_chars": 4}))
        .await;
    let (status, _, events) = app
        .post_stream(
            "/v1/chat/completions",
            json!({"model": "gemma", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "count"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let chunks: Vec<&Value> = events
        .iter()
        .map(|(_, data)| data)
        .filter(|data| data.is_object())
        .collect();
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let text_chunks = chunks
        .iter()
        .filter(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|text| !text.is_empty())
        })
        .count() as u64;
    assert_eq!(
        text_chunks, 4,
        "'one two three' in pieces of four characters"
    );
    // The mock, like llama-cpp-python, sent no usage: Portico made OpenAI's last chunk.
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], text_chunks);
    // "count" is one token for the mock's tokenizer, plus 3 for the message and 3 for the reply.
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 7);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 7 + text_chunks);
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
}

#[tokio::test]
async fn a_stream_that_carries_usage_is_not_given_a_second_one() {
    let app = spawn_app_posing_as(ServerKind::Vllm).await;
    app.script(json!({"content": "hi", "usage": {"prompt_tokens": 11, "completion_tokens": 2}}))
        .await;
    let (_, _, events) = app
        .post_stream(
            "/v1/chat/completions",
            json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    let usages: Vec<&Value> = events
        .iter()
        .filter_map(|(_, data)| data.get("usage"))
        .filter(|usage| usage.is_object())
        .collect();
    assert_eq!(usages.len(), 1);
    assert_eq!(usages[0]["prompt_tokens"], 11);
}

#[tokio::test]
async fn responses_structured_output_and_a_tool_round_trip_reach_llama_cpp_python_in_its_forms() {
    let app = spawn_app_posing_as(ServerKind::LlamaCppPython).await;
    app.script(json!({"tool_calls": [{"id": "call_w", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}]}))
        .await;
    let tool = json!({"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}});
    let (status, first) = app
        .post(
            "/v1/responses",
            json!({"model": "gemma", "input": "Weather in Oslo?", "tools": [tool],
                "tool_choice": {"type": "function", "name": "get_weather"}}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["output"][0]["type"], "function_call");
    app.script(json!({"content": "{\"answer\":\"yes\"}"})).await;
    let (status, second) = app
        .post(
            "/v1/responses",
            json!({"model": "gemma", "previous_response_id": first["id"], "tools": [tool],
                "input": [{"type": "function_call_output", "call_id": "call_w", "output": "sunny"}],
                "text": {"format": {"type": "json_schema", "name": "answer", "strict": true, "schema": answer_schema()}}}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["output"][0]["content"][0]["text"],
        "{\"answer\":\"yes\"}"
    );
    let sent = last_backend_request(&app).await;
    let messages = sent["messages"].as_array().unwrap();
    let call = messages
        .iter()
        .find(|message| message.get("tool_calls").is_some())
        .unwrap();
    assert_eq!(
        call["content"], "",
        "llama-cpp-python refuses null beside tool calls"
    );
    let result = messages
        .iter()
        .find(|message| message["role"] == "tool")
        .unwrap();
    assert_eq!(result["content"], "sunny");
    assert_eq!(result["tool_call_id"], "call_w");
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(sent["response_format"]["schema"], answer_schema());
}

#[tokio::test]
async fn several_choices_from_a_server_that_answers_one_are_a_400_naming_n() {
    for kind in [
        ServerKind::LlamaCppPython,
        ServerKind::Ollama,
        ServerKind::LmStudio,
    ] {
        let app = spawn_app_posing_as(kind).await;
        let (status, answer) = app
            .post(
                "/v1/chat/completions",
                json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(status, 400, "{kind}: {answer}");
        assert_eq!(answer["error"]["param"], "n");
        assert_eq!(answer["error"]["code"], "unsupported_parameter");
        assert!(
            app.backend_requests().await.is_empty(),
            "not sent to {kind}"
        );
    }
    let app = spawn_app_posing_as(ServerKind::Vllm).await;
    let (status, answer) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "vLLM answers several choices: {answer}");
    assert_eq!(answer["choices"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn lm_studio_gets_json_object_as_the_json_schema_it_accepts() {
    let app = spawn_app_posing_as(ServerKind::LmStudio).await;
    app.script(json!({"content": "{}"})).await;
    let (status, answer) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "response_format": {"type": "json_object"},
                "messages": [{"role": "developer", "content": "JSON only"}, {"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = last_backend_request(&app).await;
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["messages"][0]["role"], "system");
}

#[tokio::test]
async fn llama_server_gets_a_named_tool_choice_as_required_over_that_tool() {
    let app = spawn_app_posing_as(ServerKind::LlamaServer).await;
    let other = json!({"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}});
    let (status, _) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "tools": [weather_tool(), other],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "messages": [{"role": "user", "content": "weather"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let sent = last_backend_request(&app).await;
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["tools"], json!([weather_tool()]));
}

#[tokio::test]
async fn a_validation_dump_from_llama_cpp_python_is_a_400_without_its_internals() {
    let app = spawn_app_posing_as(ServerKind::LlamaCppPython).await;
    // A refusal Portico does not adapt away: the server's own 500 with its dump.
    let dump = "1 validation error:\n  {'type': 'greater_than_equal', 'loc': ('body', 'top_k'), 'msg': 'Input should be greater than or equal to 0', 'input': -4}\n\n  File \"/srv/venv/lib/python3.11/site-packages/llama_cpp/server/app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions";
    app.script(json!({"error_status": 500, "error_body": {"error": {"message": dump, "type": "internal_server_error", "param": null, "code": null}}}))
        .await;
    for path in ["/v1/chat/completions", "/v1/responses"] {
        if path == "/v1/responses" {
            app.script(json!({"error_status": 500, "error_body": {"error": {"message": dump, "type": "internal_server_error", "param": null, "code": null}}}))
                .await;
        }
        let body = if path == "/v1/responses" {
            json!({"model": "gemma", "input": "hi"})
        } else {
            json!({"model": "gemma", "top_k": -4, "messages": [{"role": "user", "content": "hi"}]})
        };
        let (status, answer) = app.post(path, body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert_eq!(answer["error"]["param"], "top_k");
        assert_eq!(
            answer["error"]["message"],
            "Input should be greater than or equal to 0"
        );
        let text = answer.to_string();
        for leak in ["File", "site-packages", "/srv", "validation error", "'loc'"] {
            assert!(!text.contains(leak), "{path} leaked {leak}: {text}");
        }
    }
}

#[tokio::test]
async fn embeddings_asked_of_a_chat_model_are_the_clients_400_naming_model() {
    let app = spawn_app_posing_as(ServerKind::LlamaCppPython).await;
    // llama-cpp-python's own answer when its model was not loaded for embeddings.
    app.script(json!({"error_status": 500, "error_body": {"error": {"message": "Llama model must be created with embedding=True to call this method", "type": "internal_server_error", "param": null, "code": null}}}))
        .await;
    let (status, answer) = app
        .post(
            "/v1/embeddings",
            json!({"model": "gemma", "input": "hello"}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "model");
    assert_eq!(answer["error"]["type"], "invalid_request_error");
}
