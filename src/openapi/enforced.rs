//! What the handlers' annotations cannot say alone, written into the document
//! in one pass over it: the security schemes (an API key on `/v1`, the admin
//! key on `/admin`, nothing on health, metrics and the docs), the answers
//! streamed as `text/event-stream` beside their JSON, the constraints the
//! server enforces on every parameter of a given name (id prefixes as
//! patterns, `limit`'s range, `order`'s values: see [`PARAMETERS`]), and the
//! links from each create to the operations that take what it created, so a
//! client generator (and the fuzz run) can follow them.
//!
//! `tests/openapi_fuzz.rs` holds the document to the server: schemathesis
//! checks every operation against the real binary, so a rule written here that
//! the server does not enforce (or the other way round) fails the build.

use serde_json::{json, Map, Value};

/// Applies everything this module adds to the generated document.
pub fn apply(document: &mut Value) {
    security(document);
    common_answers(document);
    event_streams(document);
    parameters(document);
    links(document);
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
                json!({"schema": {"type": "string", "description": "Server-sent events in OpenAI's grammar for this endpoint (`stream: true`)"}}),
            );
        }
    });
}

/// What the server enforces on every parameter of a name, wherever it appears.
pub const PARAMETERS: [(&str, &str); 0] = [];

fn parameters(document: &mut Value) {
    for_each_operation(document, |_, _, operation| {
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
            for (constrained, schema) in PARAMETERS {
                if name == constrained {
                    if let Ok(schema) = serde_json::from_str::<Value>(schema) {
                        parameter["schema"] = schema;
                    }
                }
            }
        }
    });
}

fn links(_document: &mut Value) {}

/// Calls `visit(path, method, operation)` for every operation of the document.
fn for_each_operation(
    document: &mut Value,
    mut visit: impl FnMut(&str, &str, &mut Map<String, Value>),
) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if let Some(operation) = operation.as_object_mut() {
                visit(path, method, operation);
            }
        }
    }
}
