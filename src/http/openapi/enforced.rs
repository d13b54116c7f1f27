//! What the handlers' annotations cannot say alone, written into the document
//! in one pass over it: the request bodies exactly as they are checked (see
//! `requests`), the answers' fields of more than one shape (`answers`), where
//! Portico differs from OpenAI (at the top), the security schemes (an API key
//! on `/v1`, the admin key on `/admin`, nothing on health, metrics and the
//! docs), the answers every operation can give whatever its handler, the
//! answers streamed as `text/event-stream` beside their JSON, the constraints
//! the server enforces on every parameter of a given name (id prefixes as
//! patterns, `limit`'s range, `order`'s values: [`parameter_schema`]), and the
//! links (`links`).
//!
//! `tests/openapi_fuzz.rs` holds the document to the server: schemathesis
//! checks every operation against the real binary, so a rule written here that
//! the server does not enforce (or the other way round) fails the build.

use serde_json::{json, Value};

use crate::wire::validate::INCLUDE_VALUES;

use super::operations::for_each_operation;

/// Applies everything this module adds to the generated document.
pub fn apply(document: &mut Value) {
    super::requests::apply(document);
    super::answers::apply(document);
    differences(document);
    security(document);
    common_answers(document);
    event_streams(document);
    parameters(document);
    super::links::apply(document);
}

/// Where Portico answers otherwise than OpenAI's API (and its published
/// spec) would, said once at the top of the document.
const DIFFERENCES: &str = "

## Where Portico differs from OpenAI

This document states what this server enforces. Where that differs from OpenAI's own API description, the server follows what OpenAI's API does (recorded traffic), and these are the differences:

- **No hosted tools.** Portico passes function calls through and runs no tool: hosted tool types (web search, file search, code interpreter, computer use, MCP, image generation, shell, `custom` in Responses) are refused with 400 naming the tool's `type`.
- **No Files API.** `input_file` parts, `image_file` parts, message `attachments` and `tool_resources` that name files or vector stores are refused; images go by URL (data: URLs too).
- **No stored prompts.** `prompt` must be left out or `null`.
- **Models are the backends'.** A model no backend serves is refused as OpenAI refuses it: 400 `model_not_found` naming `model` on the Responses API, 404 on Chat Completions, Embeddings and the Assistants API. `DELETE /v1/models/{model}` never deletes (403 for a served model). Embeddings need a backend that embeds.
- **One choice per request on some backends.** Where the backend generates one choice a request, `n` > 1 is a 400 naming `n`.
- **Chat Completions and Embeddings pass unlisted parameters to the backend** unchecked, as they are; the other APIs refuse unknown parameters (`unknown_parameter`).
- **Whole numbers may be written `16.0`**, as JSON Schema's `integer` allows.
- Health, metrics and `/admin` are Portico's own (not OpenAI's).
";

fn differences(document: &mut Value) {
    if let Some(description) = document.pointer_mut("/info/description") {
        let text = format!("{}{DIFFERENCES}", description.as_str().unwrap_or_default());
        *description = Value::from(text);
    }
}

/// The two bearer keys and which paths need which.
fn security(document: &mut Value) {
    if let Some(components) = document
        .as_object_mut()
        .map(|document| document.entry("components").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        components.insert(
            "securitySchemes".into(),
            json!({
                "ApiKey": {"type": "http", "scheme": "bearer", "description": "An API key of the configuration or issued by the admin API: `Authorization: Bearer <key>`. Without any key configured the server is open."},
                "AdminKey": {"type": "http", "scheme": "bearer", "description": "The admin key (`admin_key` / `admin_key_env`); without one the admin API answers 404."},
            }),
        );
    }
    for_each_operation(document, |path, _, operation| {
        let scheme = if path.starts_with("/v1/") {
            json!([{"ApiKey": []}])
        } else if path.starts_with("/admin/") {
            json!([{"AdminKey": []}])
        } else {
            json!([])
        };
        operation.insert("security".into(), scheme);
    });
}

/// The answers every operation of a kind can give, whatever its handler: a
/// missing or wrong key (401), a suspended key or project (403), a rate limit
/// or a spent budget (429) on `/v1`; no admin key (401) or no admin API (404)
/// on `/admin`; a body too large (413) or not JSON (400) where there is one.
fn common_answers(document: &mut Value) {
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}});
    for_each_operation(document, |path, _, operation| {
        let has_body = operation.contains_key("requestBody");
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let mut add = |status: &str, description: &str| {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| error(description));
        };
        if path.starts_with("/v1/") {
            add("401", "Missing or wrong API key (`invalid_api_key`)");
            add(
                "403",
                "The key or its project is suspended (the kill switch)",
            );
            add(
                "429",
                "A rate limit or the project's daily budget is reached",
            );
        } else if path.starts_with("/admin/") {
            add("401", "Missing or wrong admin key");
            add(
                "404",
                "No admin key is configured: the admin API does not exist",
            );
        }
        if has_body {
            add(
                "400",
                "The body is not valid JSON, or breaks a rule of this operation",
            );
            add("413", "The body is larger than `max_body_bytes`");
        }
    });
}

/// Operations that answer an event stream when asked (`stream: true`), in
/// OpenAI's grammar, beside their JSON answer.
const STREAMED: [(&str, &str); 6] = [
    ("post", "/v1/responses"),
    ("get", "/v1/responses/{response_id}"),
    ("post", "/v1/chat/completions"),
    ("post", "/v1/threads/runs"),
    ("post", "/v1/threads/{thread_id}/runs"),
    (
        "post",
        "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
    ),
];

fn event_streams(document: &mut Value) {
    for_each_operation(document, |path, method, operation| {
        if !STREAMED.contains(&(method, path)) {
            return;
        }
        if let Some(content) = operation
            .get_mut("responses")
            .and_then(|responses| responses.get_mut("200"))
            .and_then(|ok| ok.get_mut("content"))
            .and_then(Value::as_object_mut)
        {
            // JSON first: Swagger UI asks for the first type listed.
            content.insert(
                "text/event-stream".into(),
                json!({"schema": {
                    "type": "object",
                    "description": "One server-sent event of OpenAI's grammar for this endpoint (`stream: true`): `data` holds its JSON (Chat Completions ends with `data: [DONE]`); `event` names it where the grammar does (Responses, Assistants).",
                    "required": ["data"],
                    "properties": {"event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"}},
                }}),
            );
        }
    });
}

/// What the server enforces on every parameter of a name, wherever it appears
/// (`include[]` only where it is read: the Responses and Conversations APIs).
fn parameter_schema(path: &str, name: &str) -> Option<Value> {
    let prefixed = |prefix: &str| json!({"type": "string", "pattern": format!("^{prefix}"), "description": format!("An id that begins with `{prefix}`.")});
    Some(match name {
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
        "order" => json!({"type": "string", "enum": ["asc", "desc"]}),
        "starting_after" => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        "include[]" | "include"
            if path.starts_with("/v1/responses") || path.starts_with("/v1/conversations") =>
        {
            json!({"type": "array", "items": {"type": "string", "enum": INCLUDE_VALUES}})
        }
        "conversation_id" => prefixed("conv"),
        "assistant_id" => prefixed("asst"),
        "thread_id" => prefixed("thread"),
        "message_id" => prefixed("msg"),
        "run_id" if path.contains("{run_id}") => prefixed("run"),
        "step_id" => prefixed("step"),
        _ => return None,
    })
}

fn parameters(document: &mut Value) {
    for_each_operation(document, |path, _, operation| {
        let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        for parameter in parameters {
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(schema) = parameter_schema(path, &name) {
                parameter["schema"] = schema;
            }
        }
    });
}
