//! Unit tests of the Assistants grammar: the order of a segment's events, the
//! first-delta-only fields, and the refusal of illegal transitions.

use serde_json::{json, Map, Value};

use super::{AssistantStreamEvent, RunEnd, RunStreamBuilder};
use crate::stream::GrammarError;
use crate::wire::chat_events::TokenUsage;
use crate::wire::runs::object::{RunObject, RunStatus};

fn run() -> RunObject {
    RunObject {
        id: "run_1".into(),
        object: "thread.run".into(),
        created_at: 1,
        assistant_id: "asst_1".into(),
        thread_id: "thread_1".into(),
        status: RunStatus::Queued,
        started_at: None,
        expires_at: Some(601),
        cancelled_at: None,
        failed_at: None,
        completed_at: None,
        required_action: None,
        last_error: None,
        model: "m".into(),
        instructions: None,
        tools: Vec::new(),
        tool_resources: json!({}),
        metadata: Map::new(),
        temperature: None,
        top_p: None,
        reasoning_effort: None,
        max_completion_tokens: None,
        max_prompt_tokens: None,
        truncation_strategy: json!({"type": "auto", "last_messages": null}),
        incomplete_details: None,
        usage: None,
        response_format: json!("auto"),
        tool_choice: json!("auto"),
        parallel_tool_calls: true,
    }
}

fn names(events: &[AssistantStreamEvent]) -> Vec<&'static str> {
    events.iter().map(AssistantStreamEvent::name).collect()
}

#[test]
fn a_text_segment_opens_one_step_and_one_message_then_completes() {
    let mut builder = RunStreamBuilder::new(run());
    let mut events = builder.open();
    events.extend(builder.start(2).unwrap());
    events.extend(builder.text_delta("Hel", 3).unwrap());
    events.extend(builder.text_delta("lo", 3).unwrap());
    events.extend(
        builder
            .end(
                RunEnd::Completed,
                TokenUsage::default(),
                TokenUsage::default(),
                4,
            )
            .unwrap(),
    );
    assert_eq!(
        names(&events),
        [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.message.created",
            "thread.message.in_progress",
            "thread.message.delta",
            "thread.message.delta",
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
            "done",
        ]
    );
    let AssistantStreamEvent::MessageDelta(first) = &events[7] else {
        panic!()
    };
    assert_eq!(
        first["delta"]["content"][0]["text"],
        json!({"value": "Hel", "annotations": []})
    );
    let AssistantStreamEvent::MessageDelta(second) = &events[8] else {
        panic!()
    };
    assert_eq!(
        second["delta"]["content"][0]["text"],
        json!({"value": "lo"})
    );
    let AssistantStreamEvent::Message(_, message) = &events[9] else {
        panic!()
    };
    assert_eq!(message.text(), "Hello");
    assert_eq!(builder.run().status, RunStatus::Completed);
    assert_eq!(builder.run().expires_at, None);
    assert_eq!(builder.text_delta("x", 5), Err(GrammarError::Ended));
}

#[test]
fn tool_calls_name_their_id_once_and_stop_for_outputs() {
    let mut builder = RunStreamBuilder::new(run());
    assert_eq!(builder.text_delta("x", 1), Err(GrammarError::NotStarted));
    builder.start(2).unwrap();
    let opened = builder.tool_call_start(0, "call_1", "f", 3).unwrap();
    assert_eq!(
        names(&opened),
        [
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.run.step.delta"
        ]
    );
    let fragment = builder.tool_call_arguments(0, "{}").unwrap();
    let AssistantStreamEvent::StepDelta(delta) = &fragment[0] else {
        panic!()
    };
    let call = &delta["delta"]["step_details"]["tool_calls"][0];
    assert_eq!(call.get("id"), None);
    assert_eq!(call["function"], json!({"arguments": "{}"}));
    assert_eq!(
        builder.tool_call_arguments(7, "x"),
        Err(GrammarError::UnknownToolCall(7))
    );
    let end = builder.require_action().unwrap();
    assert_eq!(names(&end), ["thread.run.requires_action", "done"]);
    let required = builder.run().required_action.clone().unwrap_or(Value::Null);
    assert_eq!(
        required["submit_tool_outputs"]["tool_calls"][0]["function"],
        json!({"name": "f", "arguments": "{}"})
    );
    assert_eq!(
        builder.open_tool_step().map(|step| step.status.as_str()),
        Some("in_progress")
    );
}

#[test]
fn a_failure_closes_the_open_message_and_step() {
    let mut builder = RunStreamBuilder::new(run());
    builder.start(2).unwrap();
    builder.text_delta("partial", 3).unwrap();
    let failure = RunEnd::Failed {
        code: "server_error".into(),
        message: "gone".into(),
    };
    let end = builder
        .end(failure, TokenUsage::default(), TokenUsage::default(), 4)
        .unwrap();
    assert_eq!(
        names(&end),
        [
            "thread.message.incomplete",
            "thread.run.step.failed",
            "thread.run.failed",
            "done"
        ]
    );
    assert_eq!(
        builder.run().last_error,
        Some(json!({"code": "server_error", "message": "gone"}))
    );
}
