//! Unit tests of `backends/openai_compat.rs`.

use super::*;

#[test]
fn repeated_ids_and_names_start_a_call_once() {
    let mut translator = ChunkTranslator::default();
    let chunk = |arguments: &str| {
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":arguments}}]}}]}).to_string()
    };
    let mut events = translator.translate(&chunk("{\"a\"")).unwrap_or_default();
    events.extend(translator.translate(&chunk(":1}")).unwrap_or_default());
    assert_eq!(
        events,
        vec![
            ChatEvent::ToolCallStart {
                index: 0,
                call_id: "call_a".into(),
                name: "f".into()
            },
            ChatEvent::ToolCallArguments {
                index: 0,
                fragment: "{\"a\"".into()
            },
            ChatEvent::ToolCallArguments {
                index: 0,
                fragment: ":1}".into()
            },
        ]
    );
}

#[test]
fn a_new_id_at_a_reused_index_is_a_new_call() {
    let mut translator = ChunkTranslator::default();
    let first = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"f","arguments":"{}"}}]}}]}).to_string();
    let second = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_b","function":{"name":"g","arguments":"{}"}}]}}]}).to_string();
    let mut events = translator.translate(&first).unwrap_or_default();
    events.extend(translator.translate(&second).unwrap_or_default());
    assert!(events.contains(&ChatEvent::ToolCallStart {
        index: 1,
        call_id: "call_b".into(),
        name: "g".into()
    }));
}

#[test]
fn reasoning_fields_and_finish_and_usage_are_read() {
    let mut translator = ChunkTranslator::default();
    let events = translator
        .translate(&json!({"choices":[{"index":0,"delta":{"reasoning_content":"hmm","reasoning":"ok"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}).to_string())
        .unwrap_or_default();
    assert_eq!(
        events,
        vec![
            ChatEvent::ReasoningDelta("hmm".into()),
            ChatEvent::ReasoningDelta("ok".into()),
            ChatEvent::Finish(FinishReason::Length),
            ChatEvent::Usage(TokenUsage {
                prompt_tokens: 3,
                completion_tokens: 5,
                ..TokenUsage::default()
            }),
        ]
    );
    assert!(translator.saw_finish);
}

#[test]
fn an_error_chunk_is_a_classified_backend_error() {
    let mut translator = ChunkTranslator::default();
    let result = translator.translate(r#"{"error":{"message":"boom"}}"#);
    assert!(matches!(
        result,
        Err(BackendError::Status {
            status: 500,
            fault: crate::backends::fault::Fault::ServerFailure { .. },
            ..
        })
    ));
    let overflow = translator.translate(
        r#"{"error":{"code":400,"message":"request (5000 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error"}}"#,
    );
    assert!(matches!(overflow, Err(error) if error.is_client_mistake()));
}
