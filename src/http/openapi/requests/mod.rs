//! The request bodies, stated exactly as the server checks them: which
//! properties exist (others are refused, except where Chat Completions and
//! Embeddings pass them to the backend), their types, ranges, values and
//! lengths, which are required, where `null` is accepted, and which bodies may
//! be left out. Each schema is written beside the constants of the checks it
//! states (`REASONING_EFFORTS`, `INCLUDE_VALUES`, `MAX_ITEMS`…), and
//! `tests/openapi_fuzz.rs` holds the two to each other.
//!
//! What a schema cannot state (a model the backends serve, a `tool_choice`
//! naming a declared tool, ids that exist) is said in the descriptions.

mod assistants;
mod chat;
mod conversations;
mod responses;
mod shared;

use serde_json::{json, Value};

/// A body: its operation, the schema's name, the schema, and whether the body
/// may be left out.
struct Body {
    method: &'static str,
    path: &'static str,
    name: &'static str,
    schema: fn() -> Value,
    optional: bool,
}

const fn body(
    method: &'static str,
    path: &'static str,
    name: &'static str,
    schema: fn() -> Value,
) -> Body {
    Body {
        method,
        path,
        name,
        schema,
        optional: false,
    }
}

const BODIES: [Body; 20] = [
    body(
        "post",
        "/v1/responses",
        "CreateResponseRequest",
        responses::create,
    ),
    body(
        "post",
        "/v1/responses/compact",
        "CompactRequest",
        responses::compact,
    ),
    body(
        "post",
        "/v1/responses/input_tokens",
        "InputTokensRequest",
        responses::input_tokens,
    ),
    body(
        "post",
        "/v1/chat/completions",
        "CreateChatCompletionRequest",
        chat::create,
    ),
    body(
        "post",
        "/v1/chat/completions/{completion_id}",
        "UpdateChatCompletionRequest",
        chat::update,
    ),
    body(
        "post",
        "/v1/embeddings",
        "CreateEmbeddingRequest",
        chat::embeddings,
    ),
    Body {
        optional: true,
        ..body(
            "post",
            "/v1/conversations",
            "CreateConversationRequest",
            conversations::create,
        )
    },
    body(
        "post",
        "/v1/conversations/{conversation_id}",
        "UpdateConversationRequest",
        conversations::update,
    ),
    body(
        "post",
        "/v1/conversations/{conversation_id}/items",
        "CreateItemsRequest",
        conversations::create_items,
    ),
    body(
        "post",
        "/v1/assistants",
        "CreateAssistantRequest",
        assistants::create_assistant,
    ),
    body(
        "post",
        "/v1/assistants/{assistant_id}",
        "ModifyAssistantRequest",
        assistants::modify_assistant,
    ),
    Body {
        optional: true,
        ..body(
            "post",
            "/v1/threads",
            "CreateThreadRequest",
            assistants::create_thread,
        )
    },
    body(
        "post",
        "/v1/threads/{thread_id}",
        "ModifyThreadRequest",
        assistants::modify_thread,
    ),
    body(
        "post",
        "/v1/threads/{thread_id}/messages",
        "ThreadMessageRequest",
        assistants::thread_message,
    ),
    body(
        "post",
        "/v1/threads/{thread_id}/messages/{message_id}",
        "MetadataUpdate",
        modify_metadata,
    ),
    body(
        "post",
        "/v1/threads/{thread_id}/runs",
        "CreateRunRequest",
        assistants::create_run,
    ),
    body(
        "post",
        "/v1/threads/runs",
        "CreateThreadAndRunRequest",
        assistants::create_thread_and_run,
    ),
    body(
        "post",
        "/v1/threads/{thread_id}/runs/{run_id}",
        "MetadataUpdate",
        modify_metadata,
    ),
    body(
        "post",
        "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "SubmitToolOutputsRequest",
        assistants::submit_tool_outputs,
    ),
    body(
        "post",
        "/admin/keys",
        "CreateKeyRequest",
        assistants::create_key,
    ),
];

/// Written under `MetadataUpdate` by the shared schemas.
fn modify_metadata() -> Value {
    shared::reference("MetadataUpdate")
}

/// Writes the shared schemas and every body's schema into `document`, and
/// points each operation's request body at its schema.
pub fn apply(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    for (name, schema) in shared::schemas() {
        schemas[name] = schema;
    }
    for body in &BODIES {
        if body.name != "MetadataUpdate" {
            document["components"]["schemas"][body.name] = (body.schema)();
        }
        let Some(operation) = document
            .get_mut("paths")
            .and_then(|paths| paths.get_mut(body.path))
            .and_then(|item| item.get_mut(body.method))
        else {
            continue;
        };
        operation["requestBody"] = json!({
            "required": !body.optional,
            "description": if body.optional { "May be left out (an empty body is `{}`)." } else { "A JSON object." },
            "content": {"application/json": {"schema": shared::reference(body.name)}},
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn properties(schema: &Value) -> BTreeSet<String> {
        schema["properties"]
            .as_object()
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn each_closed_body_names_exactly_the_fields_its_parser_knows() {
        assert_eq!(
            properties(&responses::create()),
            names(&crate::wire::responses::request::KNOWN_PARAMETERS)
        );
        assert_eq!(
            properties(&responses::compact()),
            names(&crate::http::responses::compact::KNOWN_PARAMETERS)
        );
        assert_eq!(
            properties(&responses::input_tokens()),
            names(&crate::http::responses::input_tokens::KNOWN_PARAMETERS)
        );
        assert_eq!(
            properties(&assistants::create_assistant()),
            names(&crate::wire::assistants::request::FIELDS)
        );
        assert_eq!(
            properties(&assistants::modify_assistant()),
            names(&crate::wire::assistants::request::FIELDS)
        );
        let run_fields = names(&crate::wire::runs::request::RUN_FIELDS);
        assert_eq!(properties(&assistants::create_run()), run_fields);
        let mut thread_and_run = run_fields;
        thread_and_run.remove("additional_instructions");
        thread_and_run.remove("additional_messages");
        thread_and_run.extend(["thread".to_owned(), "tool_resources".to_owned()]);
        assert_eq!(
            properties(&assistants::create_thread_and_run()),
            thread_and_run
        );
    }

    #[test]
    fn every_body_is_written_and_referenced() {
        let mut document = crate::http::openapi::document();
        for body in &BODIES {
            assert!(
                document["components"]["schemas"][body.name].is_object(),
                "{}",
                body.name
            );
            let operation = document["paths"][body.path][body.method].take();
            assert_eq!(
                operation["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{}", body.name),
                "{} {}",
                body.method,
                body.path
            );
            assert_eq!(operation["requestBody"]["required"], !body.optional);
        }
    }
}
