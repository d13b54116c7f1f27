//! Unit tests of the Responses grammar: sequence numbers, item order and the
//! single terminal event.

use super::*;
use crate::stream::events::ResponseStreamEvent;
use crate::wire::responses::object::{InputTokensDetails, OutputTokensDetails};

fn blank_response() -> ResponseObject {
    crate::wire::responses::defaults::blank_response("resp_test".into(), "echo".into(), 0)
}

fn usage() -> ResponseUsage {
    ResponseUsage {
        input_tokens: 1,
        input_tokens_details: InputTokensDetails {
            cache_write_tokens: 0,
            cached_tokens: 0,
        },
        output_tokens: 2,
        output_tokens_details: OutputTokensDetails {
            reasoning_tokens: 0,
        },
        total_tokens: 3,
    }
}

fn types(events: &[ResponseStreamEvent]) -> Vec<&'static str> {
    events.iter().map(ResponseStreamEvent::event_type).collect()
}

#[test]
fn a_text_answer_follows_openais_order_with_dense_sequence_numbers() -> Result<(), GrammarError> {
    let mut builder = ResponseStreamBuilder::new(blank_response(), false, false);
    let mut events = builder.start()?;
    events.extend(builder.text_delta("Hel")?);
    events.extend(builder.text_delta("lo")?);
    events.extend(builder.finish(usage(), None, 5)?);
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let numbers: Vec<u64> = events
        .iter()
        .map(ResponseStreamEvent::sequence_number)
        .collect();
    assert_eq!(numbers, (0..events.len() as u64).collect::<Vec<_>>());
    let final_response = builder.response();
    assert_eq!(final_response.status, ResponseStatus::Completed);
    assert_eq!(final_response.completed_at, Some(5));
    match &final_response.output[..] {
        [OutputItem::Message {
            content, status, ..
        }] => {
            assert_eq!(*status, ItemStatus::Completed);
            assert_eq!(content[0], output_text("Hello".into()));
        }
        other => panic!("unexpected output {other:?}"),
    }
    Ok(())
}

#[test]
fn reasoning_then_text_then_two_calls_get_consecutive_output_indexes() -> Result<(), GrammarError> {
    let mut builder = ResponseStreamBuilder::new(blank_response(), true, true);
    let mut events = builder.start()?;
    events.extend(builder.reasoning_delta("think")?);
    events.extend(builder.text_delta("Let me call.")?);
    events.extend(builder.tool_call_start(0, "call_a", "f")?);
    events.extend(builder.tool_call_arguments(0, "{}")?);
    events.extend(builder.tool_call_start(1, "call_b", "g")?);
    events.extend(builder.finish(usage(), None, 5)?);
    let added: Vec<usize> = events
        .iter()
        .filter_map(|event| match event {
            ResponseStreamEvent::OutputItemAdded { output_index, .. } => Some(*output_index),
            _ => None,
        })
        .collect();
    assert_eq!(added, [0, 1, 2, 3]);
    assert!(types(&events).contains(&"response.reasoning_summary_text.delta"));
    assert_eq!(builder.response().output.len(), 4);
    Ok(())
}

#[test]
fn a_length_finish_is_incomplete_with_its_reason() -> Result<(), GrammarError> {
    let mut builder = ResponseStreamBuilder::new(blank_response(), false, false);
    builder.start()?;
    builder.text_delta("cut")?;
    let events = builder.finish(usage(), Some("max_output_tokens"), 5)?;
    assert_eq!(
        events.last().map(ResponseStreamEvent::event_type),
        Some("response.incomplete")
    );
    let response = builder.response();
    assert_eq!(response.status, ResponseStatus::Incomplete);
    assert_eq!(response.completed_at, None);
    assert_eq!(
        response
            .incomplete_details
            .as_ref()
            .map(|details| details.reason.as_str()),
        Some("max_output_tokens")
    );
    Ok(())
}

#[test]
fn nothing_may_follow_the_terminal_event() -> Result<(), GrammarError> {
    let mut builder = ResponseStreamBuilder::new(blank_response(), false, false);
    builder.start()?;
    builder.fail(
        ResponseError {
            code: "server_error".into(),
            message: "x".into(),
        },
        None,
    )?;
    assert_eq!(builder.text_delta("late"), Err(GrammarError::Ended));
    assert_eq!(builder.finish(usage(), None, 0), Err(GrammarError::Ended));
    Ok(())
}

#[test]
fn deltas_before_start_and_arguments_for_a_closed_call_are_refused() -> Result<(), GrammarError> {
    let mut builder = ResponseStreamBuilder::new(blank_response(), false, false);
    assert_eq!(builder.text_delta("early"), Err(GrammarError::NotStarted));
    builder.start()?;
    builder.tool_call_start(0, "call_a", "f")?;
    builder.tool_call_start(1, "call_b", "g")?;
    assert_eq!(
        builder.tool_call_arguments(0, "{}"),
        Err(GrammarError::UnknownToolCall(0))
    );
    Ok(())
}
