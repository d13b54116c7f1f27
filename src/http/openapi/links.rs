//! The links of the document: from each create (and some lists) to the
//! operations that read, change or delete what it made, so a client generator
//! or a fuzzer (`tests/openapi_fuzz.rs`, whose stateful phase follows them and
//! only them) can chain them.

use serde_json::{json, Map, Value};

use super::operations::for_each_operation;

/// A link: from an operation's 200 answer to an operation that takes what it
/// answered (`name: expression` per parameter, and body fields to merge).
struct Link {
    from: &'static str,
    to: &'static [&'static str],
    parameters: &'static [(&'static str, &'static str)],
    /// Fields to merge into the target's body (JSON with expressions).
    body: Option<&'static str>,
}

const fn link(
    from: &'static str,
    to: &'static [&'static str],
    parameters: &'static [(&'static str, &'static str)],
) -> Link {
    Link {
        from,
        to,
        parameters,
        body: None,
    }
}

/// Creates (and lists) linked to the operations that read, change or delete
/// what they made (a response or chat completion is kept only with `store:
/// true`; a kept chat completion is also reached from the list).
const LINKS: [Link; 21] = [
    link(
        "create_chat_completion",
        &[
            "get_chat_completion",
            "update_chat_completion",
            "delete_chat_completion",
            "list_chat_completion_messages",
        ],
        &[("completion_id", "$response.body#/id")],
    ),
    link(
        "create_response",
        &[
            "get_response",
            "delete_response",
            "list_input_items",
            "cancel_response",
        ],
        &[("response_id", "$response.body#/id")],
    ),
    link(
        "list_chat_completions",
        &[
            "get_chat_completion",
            "update_chat_completion",
            "delete_chat_completion",
            "list_chat_completion_messages",
        ],
        &[("completion_id", "$response.body#/data/0/id")],
    ),
    link(
        "create_conversation",
        &[
            "get_conversation",
            "update_conversation",
            "delete_conversation",
            "list_items",
            "create_items",
        ],
        &[("conversation_id", "$response.body#/id")],
    ),
    link(
        "create_items",
        &["get_item", "delete_item"],
        &[
            ("conversation_id", "$request.path.conversation_id"),
            ("item_id", "$response.body#/data/0/id"),
        ],
    ),
    link(
        "list_items",
        &["get_item", "delete_item"],
        &[
            ("conversation_id", "$request.path.conversation_id"),
            ("item_id", "$response.body#/data/0/id"),
        ],
    ),
    link(
        "create_assistant",
        &["get_assistant", "modify_assistant", "delete_assistant"],
        &[("assistant_id", "$response.body#/id")],
    ),
    Link {
        body: Some(r#"{"assistant_id": "$response.body#/id"}"#),
        ..link("create_assistant", &["create_thread_and_run"], &[])
    },
    Link {
        body: Some(r#"{"assistant_id": "$response.body#/data/0/id"}"#),
        ..link("list_assistants", &["create_thread_and_run"], &[])
    },
    link(
        "create_thread",
        &[
            "get_thread",
            "modify_thread",
            "delete_thread",
            "list_messages",
            "create_message",
            "list_runs",
        ],
        &[("thread_id", "$response.body#/id")],
    ),
    link(
        "create_message",
        &["get_message", "modify_message", "delete_message"],
        &[
            ("thread_id", "$request.path.thread_id"),
            ("message_id", "$response.body#/id"),
        ],
    ),
    link(
        "list_messages",
        &["get_message", "modify_message", "delete_message"],
        &[
            ("thread_id", "$request.path.thread_id"),
            ("message_id", "$response.body#/data/0/id"),
        ],
    ),
    link(
        "create_thread_and_run",
        &[
            "get_run",
            "modify_run",
            "cancel_run",
            "submit_tool_outputs",
            "list_run_steps",
        ],
        &[
            ("thread_id", "$response.body#/thread_id"),
            ("run_id", "$response.body#/id"),
        ],
    ),
    link(
        "create_thread_and_run",
        &["get_thread", "list_messages", "list_runs"],
        &[("thread_id", "$response.body#/thread_id")],
    ),
    Link {
        body: Some(r#"{"assistant_id": "$response.body#/assistant_id"}"#),
        ..link(
            "create_thread_and_run",
            &["create_run"],
            &[("thread_id", "$response.body#/thread_id")],
        )
    },
    Link {
        body: Some(
            r#"{"tool_outputs": [{"tool_call_id": "$response.body#/required_action/submit_tool_outputs/tool_calls/0/id", "output": "42"}]}"#,
        ),
        ..link(
            "get_run",
            &["submit_tool_outputs"],
            &[
                ("thread_id", "$request.path.thread_id"),
                ("run_id", "$request.path.run_id"),
            ],
        )
    },
    link(
        "create_run",
        &[
            "get_run",
            "modify_run",
            "cancel_run",
            "submit_tool_outputs",
            "list_run_steps",
        ],
        &[
            ("thread_id", "$request.path.thread_id"),
            ("run_id", "$response.body#/id"),
        ],
    ),
    link(
        "list_runs",
        &["get_run", "list_run_steps"],
        &[
            ("thread_id", "$request.path.thread_id"),
            ("run_id", "$response.body#/data/0/id"),
        ],
    ),
    link(
        "list_run_steps",
        &["get_run_step"],
        &[
            ("thread_id", "$request.path.thread_id"),
            ("run_id", "$request.path.run_id"),
            ("step_id", "$response.body#/data/0/id"),
        ],
    ),
    link(
        "create_key",
        &[
            "suspend_key",
            "resume_key",
            "revoke_key",
            "get_project",
            "suspend_project",
            "resume_project",
        ],
        &[
            ("key_id", "$response.body#/id"),
            ("project", "$response.body#/project"),
        ],
    ),
    link(
        "list_models",
        &["retrieve_model", "delete_model"],
        &[("model", "$response.body#/data/0/id")],
    ),
];

/// Writes every link into the 200 answer of its source operation.
pub fn apply(document: &mut Value) {
    let mut parameters_of = std::collections::HashMap::new();
    for_each_operation(document, |_, _, operation| {
        if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
            let names: Vec<String> = operation
                .get("parameters")
                .and_then(Value::as_array)
                .map(|parameters| {
                    parameters
                        .iter()
                        .filter_map(|parameter| {
                            parameter
                                .get("name")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            parameters_of.insert(id.to_owned(), names);
        }
    });
    for_each_operation(document, |_, _, operation| {
        let Some(id) = operation
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let Some(ok) = operation
            .get_mut("responses")
            .and_then(|responses| responses.get_mut("200"))
        else {
            return;
        };
        for link in LINKS.iter().filter(|link| link.from == id) {
            for target in link.to {
                let taken = parameters_of.get(*target).cloned().unwrap_or_default();
                let parameters: Map<String, Value> = link
                    .parameters
                    .iter()
                    .filter(|(name, _)| taken.iter().any(|taken| taken == name))
                    .map(|(name, expression)| ((*name).to_owned(), Value::from(*expression)))
                    .collect();
                let mut definition = json!({"operationId": target, "parameters": parameters});
                if let Some(body) = link
                    .body
                    .and_then(|body| serde_json::from_str::<Value>(body).ok())
                {
                    definition["requestBody"] = body;
                }
                ok["links"][*target] = definition;
            }
        }
    });
}
