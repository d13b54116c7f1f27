//! Requests adapted to each kind: what changes, and that nothing else does.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::adapt;
use crate::backends::fault::Fault;
use crate::backends::profile::ServerKind;

fn adapted(kind: ServerKind, body: &Value) -> Value {
    match adapt(&kind.profile(), body) {
        Ok(adapted) => adapted.into_owned(),
        Err(fault) => panic!("refused: {fault:?}"),
    }
}

fn everyday_request() -> Value {
    json!({
        "model": "m",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "max_completion_tokens": 20,
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    })
}

#[test]
fn a_generic_server_gets_the_request_as_sent_without_a_copy() {
    let body = everyday_request();
    let adapted = adapt(&ServerKind::Generic.profile(), &body);
    assert!(matches!(adapted, Ok(Cow::Borrowed(_))));
}

#[test]
fn llama_cpp_python_gets_the_forms_it_reads() {
    let body = adapted(ServerKind::LlamaCppPython, &everyday_request());
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief.\nBe kind."})
    );
    // A user message's parts are accepted as they are.
    assert_eq!(body["messages"][1]["content"][0]["text"], "Weather?");
    assert_eq!(body["messages"][2]["content"], "");
    assert_eq!(
        body["response_format"],
        json!({"type": "json_object", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}})
    );
    assert_eq!(body["max_tokens"], 20);
    assert!(body.get("max_completion_tokens").is_none());
    // It honours a named choice: kept, with every tool.
    assert_eq!(body["tool_choice"]["function"]["name"], "get_weather");
    assert_eq!(body["tools"].as_array().map(Vec::len), Some(2));
}

#[test]
fn llama_server_gets_required_over_the_named_tool_and_a_schema_for_json_object() {
    let body = adapted(ServerKind::LlamaServer, &everyday_request());
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(body["tools"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    // It maps developer itself and reads every other form as sent.
    assert_eq!(body["messages"][0]["role"], "developer");
    assert_eq!(body["max_completion_tokens"], 20);
    let json_object = adapted(
        ServerKind::LlamaServer,
        &json!({"messages": [], "response_format": {"type": "json_object"}}),
    );
    assert_eq!(
        json_object["response_format"],
        json!({"type": "json_object", "schema": {"type": "object"}})
    );
}

#[test]
fn lm_studio_gets_json_object_as_a_json_schema() {
    let body = adapted(
        ServerKind::LmStudio,
        &json!({"messages": [{"role": "developer", "content": "x"}], "response_format": {"type": "json_object"}}),
    );
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        json!({"type": "object"})
    );
}

#[test]
fn required_over_one_tool_is_named_for_llama_cpp_python() {
    let body = adapted(
        ServerKind::LlamaCppPython,
        &json!({"messages": [], "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f"}}]}),
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    let two = json!({"messages": [], "tool_choice": "required", "tools": [
        {"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "g"}}]});
    assert_eq!(
        adapted(ServerKind::LlamaCppPython, &two)["tool_choice"],
        "required"
    );
}

#[test]
fn several_choices_are_refused_by_a_server_that_answers_one() {
    let body = json!({"messages": [], "n": 2});
    for kind in [
        ServerKind::LlamaCppPython,
        ServerKind::Ollama,
        ServerKind::LmStudio,
    ] {
        assert!(
            matches!(adapt(&kind.profile(), &body), Err(Fault::Unsupported { param: Some(ref param), .. }) if param == "n"),
            "{kind}"
        );
    }
    assert!(adapt(&ServerKind::Vllm.profile(), &body).is_ok());
    assert!(adapt(
        &ServerKind::LlamaCppPython.profile(),
        &json!({"messages": [], "n": 1})
    )
    .is_ok());
}

#[test]
fn vllm_gets_developer_as_system_and_everything_else_as_sent() {
    let body = adapted(ServerKind::Vllm, &everyday_request());
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(body["messages"][0]["content"].is_array());
    let mut expected = everyday_request();
    expected["messages"][0]["role"] = json!("system");
    assert_eq!(body, expected);
}
