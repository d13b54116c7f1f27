//! The bodies of create-run, create-thread-and-run and submit_tool_outputs,
//! validated with OpenAI's messages, codes and `param` paths.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::wire::assistants::request::check_reasoning_effort;
use crate::wire::assistants::shared::{
    check_fields, check_id, check_metadata, check_response_format, check_sampling,
    check_tool_choice, check_tool_resources, check_tools,
};
use crate::wire::error::{ApiError, ApiResult};
use crate::wire::json::from_value;
use crate::wire::threads::request::{
    messages_of, not_an_array, parse_thread, NewMessage, NewThread,
};
use crate::wire::validate::missing;

pub const RUN_FIELDS: [&str; 17] = [
    "assistant_id",
    "model",
    "reasoning_effort",
    "instructions",
    "additional_instructions",
    "additional_messages",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "stream",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
];

/// The smallest token limits OpenAI accepts.
const MIN_TOKEN_LIMIT: u64 = 256;

/// The body of `POST /v1/threads/{id}/runs` and `POST /v1/threads/runs`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateRunRequest {
    pub assistant_id: String,
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub instructions: Option<String>,
    pub additional_instructions: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub additional_messages: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stream: Option<bool>,
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub max_prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "crate::wire::json::optional_count")]
    pub max_completion_tokens: Option<u64>,
    #[schema(value_type = Option<Object>)]
    pub truncation_strategy: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    /// Create-thread-and-run only: the new thread.
    #[schema(value_type = Option<Object>)]
    pub thread: Option<Value>,
    /// Create-thread-and-run only; refused when it names files.
    #[schema(value_type = Option<Object>)]
    pub tool_resources: Option<Value>,
}

/// A validated run request.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub fields: CreateRunRequest,
    pub additional_messages: Vec<NewMessage>,
    /// Create-thread-and-run: the thread to create.
    pub thread: Option<NewThread>,
}

/// Parses a run body; `with_thread` for `POST /v1/threads/runs`.
pub fn parse_run(body: Value, with_thread: bool) -> ApiResult<RunRequest> {
    let mut known = RUN_FIELDS.to_vec();
    if with_thread {
        known
            .retain(|field| *field != "additional_instructions" && *field != "additional_messages");
        known.extend(["thread", "tool_resources"]);
    }
    let fields = check_fields(&body, &known)?;
    if !fields.contains_key("assistant_id") {
        return Err(missing("assistant_id"));
    }
    check_sampling(fields)?;
    let thread = match fields.get("thread") {
        Some(thread) if with_thread && !thread.is_null() => Some(parse_thread(thread, "thread.")?),
        _ if with_thread => Some(NewThread::default()),
        _ => None,
    };
    let request: CreateRunRequest = from_value(body)?;
    check_id("assistant_id", &request.assistant_id, "asst")?;
    check_reasoning_effort(request.reasoning_effort.as_deref())?;
    check_tools(request.tools.as_deref().unwrap_or_default(), "tools")?;
    check_tool_resources(request.tool_resources.as_ref(), "tool_resources")?;
    check_metadata(request.metadata.as_ref(), "metadata")?;
    check_response_format(request.response_format.as_ref())?;
    for (name, limit) in [
        ("max_prompt_tokens", request.max_prompt_tokens),
        ("max_completion_tokens", request.max_completion_tokens),
    ] {
        if limit.is_some_and(|limit| limit < MIN_TOKEN_LIMIT) {
            return Err(ApiError::invalid_with_code(
                format!("Invalid '{name}': integer below minimum value. Expected a value >= {MIN_TOKEN_LIMIT}, but got {} instead.", limit.unwrap_or_default()),
                Some(name.to_owned()),
                "integer_below_min_value",
            ));
        }
    }
    check_truncation(request.truncation_strategy.as_ref())?;
    check_tool_choice(request.tool_choice.as_ref(), None)?;
    let additional_messages = match &request.additional_messages {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(messages)) => messages_of(messages, "additional_messages")?,
        Some(_) => return Err(not_an_array("additional_messages")),
    };
    Ok(RunRequest {
        fields: request,
        additional_messages,
        thread,
    })
}

fn check_truncation(strategy: Option<&Value>) -> ApiResult<()> {
    let Some(strategy) = strategy.filter(|value| !value.is_null()) else {
        return Ok(());
    };
    match strategy.get("type").and_then(Value::as_str) {
        Some("auto") => Ok(()),
        Some("last_messages") => match strategy.get("last_messages") {
            Some(count) if crate::wire::json::whole_number(count).is_some_and(|count| count >= 1) => Ok(()),
            _ => Err(ApiError::invalid_with_code(
                "Invalid 'truncation_strategy.last_messages': expected an integer >= 1 with type 'last_messages'.",
                Some("truncation_strategy.last_messages".to_owned()),
                "invalid_value",
            )),
        },
        Some(other) => Err(ApiError::invalid_with_code(
            format!("Invalid value: '{other}'. Supported values are: 'auto' and 'last_messages'."),
            Some("truncation_strategy.type".to_owned()),
            "invalid_value",
        )),
        None => Err(missing("truncation_strategy.type")),
    }
}

/// One entry of `tool_outputs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolOutput {
    pub tool_call_id: Option<String>,
    pub output: Option<String>,
}

/// The body of `POST /v1/threads/{id}/runs/{id}/submit_tool_outputs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SubmitToolOutputsRequest {
    pub tool_outputs: Vec<ToolOutput>,
    pub stream: Option<bool>,
}

/// Parses the body and checks it answers exactly the `pending` call ids;
/// returns (call id, output) pairs and whether to stream.
pub fn parse_tool_outputs(
    body: Value,
    pending: &[String],
) -> ApiResult<(Vec<(String, String)>, bool)> {
    check_fields(&body, &["tool_outputs", "stream"])?;
    if body.get("tool_outputs").is_none() {
        return Err(missing("tool_outputs"));
    }
    let request: SubmitToolOutputsRequest = from_value(body)?;
    let mut outputs = Vec::new();
    for (index, output) in request.tool_outputs.into_iter().enumerate() {
        let Some(call_id) = output.tool_call_id else {
            return Err(missing(&format!("tool_outputs[{index}].tool_call_id")));
        };
        if !pending.contains(&call_id) || outputs.iter().any(|(id, _)| *id == call_id) {
            return Err(ApiError::invalid_with_code(
                format!("Invalid 'tool_outputs[{index}].tool_call_id': '{call_id}' is not a pending tool call of this run, or was answered twice."),
                Some(format!("tool_outputs[{index}].tool_call_id")),
                "invalid_value",
            ));
        }
        outputs.push((call_id, output.output.unwrap_or_default()));
    }
    if outputs.len() != pending.len() {
        let got: Vec<String> = outputs.iter().map(|(id, _)| format!("'{id}'")).collect();
        let expected: Vec<String> = pending.iter().map(|id| format!("'{id}'")).collect();
        return Err(ApiError::invalid(
            format!(
                "Expected tool outputs for call_ids [{}], got [{}]. All outputs must be submitted in a single request.",
                expected.join(", "),
                got.join(", ")
            ),
            Some("tool_outputs".to_owned()),
        ));
    }
    Ok((outputs, request.stream.unwrap_or(false)))
}

/// The defaults OpenAI fills in: `truncation_strategy` auto.
pub fn default_truncation() -> Value {
    json!({"type": "auto", "last_messages": null})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_of<T: std::fmt::Debug>(result: ApiResult<T>) -> Option<String> {
        result.unwrap_err().body().error.param
    }

    #[test]
    fn run_bodies_name_their_param() {
        assert_eq!(
            param_of(parse_run(json!({}), false)).as_deref(),
            Some("assistant_id")
        );
        assert_eq!(
            param_of(parse_run(json!({"assistant_id": "x"}), false)).as_deref(),
            Some("assistant_id")
        );
        let ok = parse_run(json!({"assistant_id": "asst_1", "additional_messages": [{"role": "user", "content": "hi"}]}), false).unwrap();
        assert_eq!(ok.additional_messages.len(), 1);
        assert_eq!(
            param_of(parse_run(
                json!({"assistant_id": "asst_1", "tools": [{"type": "file_search"}]}),
                false
            ))
            .as_deref(),
            Some("tools[0].type")
        );
        assert_eq!(
            param_of(parse_run(
                json!({"assistant_id": "asst_1", "truncation_strategy": {"type": "last_messages"}}),
                false
            ))
            .as_deref(),
            Some("truncation_strategy.last_messages")
        );
        assert_eq!(
            param_of(parse_run(
                json!({"assistant_id": "asst_1", "max_completion_tokens": 10}),
                false
            ))
            .as_deref(),
            Some("max_completion_tokens")
        );
        // As OpenAI (and an assistant's own `reasoning_effort`): a known level only.
        assert_eq!(
            param_of(parse_run(
                json!({"assistant_id": "asst_1", "reasoning_effort": "extreme"}),
                false
            ))
            .as_deref(),
            Some("reasoning_effort")
        );
        let whole = parse_run(
            json!({"assistant_id": "asst_1", "max_completion_tokens": 256.0, "truncation_strategy": {"type": "last_messages", "last_messages": 3.0}}),
            false,
        )
        .unwrap();
        assert_eq!(whole.fields.max_completion_tokens, Some(256));
        assert_eq!(
            param_of(parse_run(
                json!({"assistant_id": "asst_1", "thread": {}}),
                false
            ))
            .as_deref(),
            Some("thread")
        );
        assert!(parse_run(
            json!({"assistant_id": "asst_1", "thread": {"messages": []}}),
            true
        )
        .unwrap()
        .thread
        .is_some());
    }

    #[test]
    fn tool_outputs_must_answer_every_pending_call_once() {
        let pending = vec!["call_a".to_owned(), "call_b".to_owned()];
        let both = json!({"tool_outputs": [{"tool_call_id": "call_a", "output": "1"}, {"tool_call_id": "call_b", "output": "2"}]});
        assert_eq!(parse_tool_outputs(both, &pending).unwrap().0.len(), 2);
        let one = json!({"tool_outputs": [{"tool_call_id": "call_a", "output": "1"}]});
        assert_eq!(
            param_of(parse_tool_outputs(one, &pending)).as_deref(),
            Some("tool_outputs")
        );
        let unknown = json!({"tool_outputs": [{"tool_call_id": "call_x", "output": "1"}]});
        assert_eq!(
            param_of(parse_tool_outputs(unknown, &pending)).as_deref(),
            Some("tool_outputs[0].tool_call_id")
        );
    }
}
