//! A Chat Completions body adapted to what a kind of server accepts (its
//! [`Profile`]): the same request in the forms the server reads, never a
//! different one. A body that needs nothing is passed on as it is, not copied.
//!
//! In order: a `developer` message becomes `system`; text parts of a `system`,
//! `assistant` or `tool` message are joined into one string; `content: null`
//! beside `tool_calls` becomes `""`; `response_format` takes the server's
//! structured-output form; `max_completion_tokens` becomes `max_tokens`; a
//! named `tool_choice` becomes `required` over that one tool (and `required`
//! over one tool becomes that tool, named). A request the server cannot do at
//! all (`n` > 1 on a server that answers one choice) is refused with the
//! fault the client sees as a 400 naming the parameter.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::{JsonObjectForm, JsonSchemaForm, Profile};
use crate::backends::fault::Fault;

/// `body` in the forms `profile`'s server reads (borrowed when unchanged), or
/// the fault of a request it cannot do.
pub fn adapt<'a>(profile: &Profile, body: &'a Value) -> Result<Cow<'a, Value>, Fault> {
    let mut body = Cow::Borrowed(body);
    adapt_owned(profile, &mut body)?;
    Ok(body)
}

/// [`adapt`] over a body the caller may already own.
pub fn adapt_owned(profile: &Profile, body: &mut Cow<'_, Value>) -> Result<(), Fault> {
    if !profile.several_choices {
        if let Some(choices) = body.get("n").and_then(Value::as_u64).filter(|n| *n > 1) {
            return Err(Fault::Unsupported {
                param: Some("n".to_owned()),
                detail: Some(format!(
                    "the {} server answers one choice per request, and {choices} were asked for; send n = 1, or leave it out",
                    profile.kind
                )),
            });
        }
    }
    adapt_messages(profile, body);
    adapt_response_format(profile, body);
    if !profile.reads_max_completion_tokens && body.get("max_completion_tokens").is_some() {
        if let Some(object) = body.to_mut().as_object_mut() {
            if let Some(limit) = object.remove("max_completion_tokens") {
                object.entry("max_tokens").or_insert(limit);
            }
        }
    }
    adapt_tool_choice(profile, body);
    Ok(())
}

fn adapt_messages(profile: &Profile, body: &mut Cow<'_, Value>) {
    let count = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for position in 0..count {
        let Some(message) = body.pointer(&format!("/messages/{position}")) else {
            continue;
        };
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let rename = role == "developer" && !profile.developer_role;
        let join = !profile.system_text_parts
            && matches!(role, "system" | "developer" | "assistant" | "tool")
            && message
                .get("content")
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().all(is_text_part));
        let fill = !profile.null_content_beside_tool_calls
            && message
                .get("tool_calls")
                .is_some_and(|calls| !calls.is_null())
            && message.get("content").is_none_or(Value::is_null);
        if !(rename || join || fill) {
            continue;
        }
        let Some(message) = body
            .to_mut()
            .pointer_mut(&format!("/messages/{position}"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if rename {
            message.insert("role".into(), json!("system"));
        }
        if join {
            let text = joined_text(message.get("content"));
            message.insert("content".into(), Value::String(text));
        }
        if fill {
            message.insert("content".into(), json!(""));
        }
    }
}

fn is_text_part(part: &Value) -> bool {
    part.get("type").and_then(Value::as_str) == Some("text")
        && part.get("text").is_some_and(Value::is_string)
}

fn joined_text(content: Option<&Value>) -> String {
    content
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

fn adapt_response_format(profile: &Profile, body: &mut Cow<'_, Value>) {
    let kind = body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let adapted = match (kind, profile.json_schema, profile.json_object) {
        ("json_schema", JsonSchemaForm::JsonObjectWithSchema, _) => {
            let schema = body
                .pointer("/response_format/json_schema/schema")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"}));
            json!({"type": "json_object", "schema": schema})
        }
        ("json_object", _, JsonObjectForm::WithObjectSchema)
            if body.pointer("/response_format/schema").is_none() =>
        {
            json!({"type": "json_object", "schema": {"type": "object"}})
        }
        ("json_object", _, JsonObjectForm::AsJsonSchema) => json!({
            "type": "json_schema",
            "json_schema": {"name": "json_object", "schema": {"type": "object"}},
        }),
        _ => return,
    };
    if let Some(object) = body.to_mut().as_object_mut() {
        object.insert("response_format".into(), adapted);
    }
}

fn adapt_tool_choice(profile: &Profile, body: &mut Cow<'_, Value>) {
    let named = body
        .pointer("/tool_choice/function/name")
        .and_then(Value::as_str)
        .filter(|_| body.pointer("/tool_choice/type").and_then(Value::as_str) == Some("function"))
        .map(str::to_owned);
    let tools: Vec<&str> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| tool.pointer("/function/name").and_then(Value::as_str))
        .collect();
    let required = body.get("tool_choice").and_then(Value::as_str) == Some("required");
    if let (Some(name), false) = (&named, profile.named_tool_choice) {
        let Some(object) = body.to_mut().as_object_mut() else {
            return;
        };
        if let Some(Value::Array(tools)) = object.get_mut("tools") {
            tools.retain(|tool| {
                tool.pointer("/function/name").and_then(Value::as_str) == Some(name.as_str())
            });
        }
        object.insert("tool_choice".into(), json!("required"));
    } else if let ([only], true, false) = (tools.as_slice(), required, profile.required_tool_choice)
    {
        let choice = json!({"type": "function", "function": {"name": only}});
        if let Some(object) = body.to_mut().as_object_mut() {
            object.insert("tool_choice".into(), choice);
        }
    }
}

#[cfg(test)]
#[path = "adapt_tests.rs"]
mod tests;
