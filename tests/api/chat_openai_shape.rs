//! What a local server's chat answer becomes on its way to the client, where a
//! single chunk cannot tell: OpenAI's merged first chunk of a tool-call answer
//! and of a refusal, the `obfuscation` padding, several choices, and legacy
//! function calling answered through a tools-only backend.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn chunks(events: &[(Option<String>, Value)]) -> Vec<Value> {
    events
        .iter()
        .map(|(_, data)| data.clone())
        .filter(Value::is_object)
        .collect()
}

fn request(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "Hi"}]})
}

#[tokio::test]
async fn a_tool_call_stream_opens_with_openais_merged_first_chunk() {
    let app = spawn_app().await;
    app.script(json!({"tool_calls": [{"id": "call_1", "name": "f", "arguments": "{}"}]}))
        .await;
    let (status, _, events) = app.post_stream("/v1/chat/completions", request(true)).await;
    assert_eq!(status, 200);
    let chunks = chunks(&events);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": null,
               "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}],
               "refusal": null})
    );
    assert!(chunks
        .iter()
        .skip(1)
        .all(|chunk| chunk["choices"][0]["delta"].get("role").is_none()));
}

#[tokio::test]
async fn a_refusal_stream_opens_with_null_content_and_an_empty_refusal() {
    let app = spawn_app().await;
    app.script(json!({"refusal": "I can't help with that."}))
        .await;
    let (_, _, events) = app.post_stream("/v1/chat/completions", request(true)).await;
    let chunks = chunks(&events);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": null, "refusal": ""})
    );
    app.script(json!({"refusal": "No."})).await;
    let (_, answer) = app.post("/v1/chat/completions", request(false)).await;
    let message = &answer["choices"][0]["message"];
    assert!(message["content"].is_null());
    assert_eq!(message["refusal"], "No.");
}

#[tokio::test]
async fn every_chunk_is_padded_unless_the_client_turns_it_off() {
    let app = spawn_app().await;
    app.script(json!({"content": "Hello there"})).await;
    let mut padded = request(true);
    padded["stream_options"] = json!({"include_usage": true});
    let (_, _, events) = app.post_stream("/v1/chat/completions", padded).await;
    let padded_chunks = chunks(&events);
    let usage_chunk = padded_chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]), "the usage chunk too");
    assert!(padded_chunks
        .iter()
        .all(|chunk| chunk["obfuscation"].is_string()));
    app.script(json!({"content": "Hello there"})).await;
    let mut plain = request(true);
    plain["stream_options"] = json!({"include_obfuscation": false});
    let (_, _, events) = app.post_stream("/v1/chat/completions", plain).await;
    assert!(chunks(&events)
        .iter()
        .all(|chunk| chunk.get("obfuscation").is_none()));
}

#[tokio::test]
async fn several_choices_are_answered_with_their_indexes() {
    let app = spawn_app().await;
    app.script(json!({"content": "Same"})).await;
    let mut body = request(false);
    body["n"] = json!(2);
    let (status, answer) = app.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let indexes: Vec<&Value> = answer["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|choice| &choice["index"])
        .collect();
    assert_eq!(indexes, [&json!(0), &json!(1)]);
    assert_eq!(answer["choices"][1]["message"]["content"], "Same");
    app.script(json!({"content": "Same"})).await;
    body["stream"] = json!(true);
    let (_, _, events) = app.post_stream("/v1/chat/completions", body).await;
    let text = |index: u64| -> String {
        chunks(&events)
            .iter()
            .filter(|chunk| chunk["choices"][0]["index"] == index)
            .filter_map(|chunk| {
                chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    assert_eq!((text(0), text(1)), ("Same".to_owned(), "Same".to_owned()));
}

#[tokio::test]
async fn legacy_functions_are_asked_as_tools_and_answered_as_function_calls() {
    let app = spawn_app().await;
    app.script(json!({"tool_calls": [{"id": "call_1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"}]}))
        .await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Weather?"}],
        "functions": [{"name": "weather", "parameters": {"type": "object"}}], "function_call": "auto"});
    let (status, answer) = app.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = &app.backend_requests().await[0];
    assert_eq!(sent["tools"][0]["function"]["name"], "weather");
    assert_eq!(sent["tool_choice"], "auto");
    assert!(sent.get("functions").is_none());
    let choice = &answer["choices"][0];
    assert_eq!(
        choice["message"]["function_call"],
        json!({"name": "weather", "arguments": "{\"city\":\"Oslo\"}"})
    );
    assert!(choice["message"].get("tool_calls").is_none());
    assert!(choice["message"]["content"].is_null());
    assert_eq!(choice["finish_reason"], "function_call");
}
