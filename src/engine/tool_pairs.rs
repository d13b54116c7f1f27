//! OpenAI's check of tool calls in what the model is about to see (the stored
//! chain or conversation, then the request's input): every function or custom
//! tool call needs its output, and every output a call before it. A call left
//! unanswered is the usual mistake — continuing a response that ended in a
//! function call with a new message instead of the call's output — and a
//! backend's chat template would otherwise get an assistant tool call with no
//! tool message after it.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::input::History;
use crate::wire::error::{ApiError, ApiResult};

/// The two fields of an item this check reads.
#[derive(Deserialize)]
struct CallFields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    call_id: Option<Cow<'a, str>>,
}

enum Side {
    Call,
    Output,
}

fn side(kind: &str) -> Option<Side> {
    match kind {
        "function_call" | "custom_tool_call" => Some(Side::Call),
        "function_call_output" | "custom_tool_call_output" => Some(Side::Output),
        _ => None,
    }
}

/// A 400 naming `input` when a call has no output or an output no call.
pub fn check_tool_call_pairs(history: &History) -> ApiResult<()> {
    let mut calls: HashSet<String> = HashSet::new();
    let mut unanswered: Vec<String> = Vec::new();
    let mut visit = |kind: &str, call_id: &str| -> ApiResult<()> {
        match side(kind) {
            Some(Side::Call) if calls.insert(call_id.to_owned()) => {
                unanswered.push(call_id.to_owned());
            }
            Some(Side::Output) => {
                if !calls.contains(call_id) {
                    return Err(ApiError::invalid(
                        format!(
                            "No tool call found for function call output with call_id {call_id}."
                        ),
                        Some("input".to_owned()),
                    ));
                }
                unanswered.retain(|open| open != call_id);
            }
            Some(Side::Call) | None => {}
        }
        Ok(())
    };
    // Stored items without a call id (most of a long chain) are not parsed.
    for stored in history
        .chain
        .iter()
        .filter(|stored| stored.contains("call_id"))
    {
        if let Ok(CallFields {
            kind: Some(kind),
            call_id: Some(call_id),
        }) = serde_json::from_str(stored)
        {
            visit(&kind, &call_id)?;
        }
    }
    for item in &history.items {
        let field = |name: &str| item.get(name).and_then(Value::as_str);
        if let (Some(kind), Some(call_id)) = (field("type"), field("call_id")) {
            visit(kind, call_id)?;
        }
    }
    match unanswered.first() {
        Some(call_id) => Err(ApiError::invalid(
            format!("No tool output found for function call {call_id}."),
            Some("input".to_owned()),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error_of(chain: &[Value], items: Vec<Value>) -> Option<String> {
        let history = History {
            chain: chain.iter().map(Value::to_string).collect(),
            items,
        };
        check_tool_call_pairs(&history)
            .err()
            .map(|error| error.body().error.message)
    }

    #[test]
    fn calls_need_their_outputs_and_outputs_their_calls() {
        let call = json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"});
        let output = json!({"type": "function_call_output", "call_id": "call_1", "output": "42"});
        let message = json!({"type": "message", "role": "user", "content": "next"});
        assert_eq!(
            error_of(std::slice::from_ref(&call), vec![output.clone()]),
            None
        );
        assert_eq!(
            error_of(&[], vec![call.clone(), output.clone(), message.clone()]),
            None
        );
        assert_eq!(
            error_of(std::slice::from_ref(&call), vec![message]).as_deref(),
            Some("No tool output found for function call call_1.")
        );
        assert_eq!(
            error_of(
                &[],
                vec![json!({"type": "function_call_output", "call_id": "call_zzz", "output": "1"})]
            )
            .as_deref(),
            Some("No tool call found for function call output with call_id call_zzz.")
        );
        let custom_call =
            json!({"type": "custom_tool_call", "call_id": "call_2", "name": "g", "input": "x"});
        assert_eq!(
            error_of(&[], vec![custom_call.clone()]).as_deref(),
            Some("No tool output found for function call call_2.")
        );
        assert_eq!(
            error_of(
                &[],
                vec![
                    custom_call,
                    json!({"type": "custom_tool_call_output", "call_id": "call_2", "output": "y"})
                ]
            ),
            None
        );
    }
}
