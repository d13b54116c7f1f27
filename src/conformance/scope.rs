//! Which cassettes are out of scope, and why. Out-of-scope cassettes are
//! counted and reported with their reason, never failed. The list (mirrored in
//! `conformance/README.md`): hosted tools (Portico runs no tools — for those,
//! Portico's clean 400 is itself checked), stored prompt templates, files and
//! vector stores, image and audio inputs, encrypted reasoning and logprobs
//! includes, compaction (encrypted by design), Azure recordings (Azure-only
//! fields), cassettes that cannot be replayed on their own (no request was
//! recorded, they use objects created outside the recording, or their lists
//! show objects created outside it), and answers no
//! chat backend can express: a turn's output that is not "reasoning (one summary
//! part at most), then a message, then function calls" — e.g. two messages in one
//! turn, or several reasoning summary parts. Chat Completions adds its own
//! (`scope_chat`): several different choices, web search and moderation,
//! recordings that lost a body, and reads of OpenAI's eventually consistent
//! store of completions or of completions made outside the recording.

use serde_json::Value;

use super::cassette::Cassette;

#[path = "scope_chat.rs"]
mod chat;

/// Why a cassette is not replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Replayed and compared.
    InScope,
    /// Replayed, but only Portico's clean 400 for a hosted tool is checked.
    HostedToolRefusal(String),
    /// Counted, not replayed.
    OutOfScope(String),
}

const HOSTED_TOOL_FEATURES: [&str; 11] = [
    "web_search",
    "file_search",
    "code_interpreter",
    "mcp",
    "image_generation",
    "computer_use",
    "shell",
    "local_shell",
    "apply_patch",
    "tool_search",
    "custom_tool",
];

const HOSTED_TOOL_ITEMS: [&str; 12] = [
    "web_search_call",
    "file_search_call",
    "code_interpreter_call",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "image_generation_call",
    "shell_call",
    "local_shell_call",
    "apply_patch_call",
    "custom_tool_call",
    "tool_search_call",
];

/// Classifies a cassette.
pub fn classify(cassette: &Cassette) -> Scope {
    if cassette.has_flag("response-only") {
        return Scope::OutOfScope("response-only fixture: no request was recorded".into());
    }
    if cassette.has_flag("external-refs") {
        return Scope::OutOfScope("uses objects created outside the recording".into());
    }
    if cassette.has_flag("azure") {
        return Scope::OutOfScope("recorded against Azure OpenAI (Azure-only fields)".into());
    }
    if cassette.has_flag("assistants-v1-header") {
        return Scope::OutOfScope("Assistants v1 (retired; Portico implements v2)".into());
    }
    if february_background_store_default(cassette) {
        return Scope::OutOfScope(
            "background `store` default changed: recorded in February 2026, when OpenAI echoed `store: false` for background responses that did not ask for `store` (its newest recording, 2026-07, echoes `true` again, as Portico does)".into(),
        );
    }
    if lists_outside_objects(cassette) {
        return Scope::OutOfScope("lists objects created outside the recording".into());
    }
    if cassette.has_feature("prompt_template") {
        return Scope::OutOfScope("stored prompt templates".into());
    }
    if cassette.has_feature("file_input") || uses_file_ids(cassette) {
        return Scope::OutOfScope("files and vector stores".into());
    }
    if cassette.has_feature("image_input") || cassette.has_feature("audio_input") {
        return Scope::OutOfScope("image or audio input".into());
    }
    if cassette.has_feature("compaction") || cassette.has_feature("compact") {
        return Scope::OutOfScope("compaction (encrypted by design)".into());
    }
    if cassette.has_feature("encrypted_reasoning")
        || includes(cassette, "reasoning.encrypted_content")
    {
        return Scope::OutOfScope("encrypted reasoning".into());
    }
    if cassette.has_feature("logprobs") || includes(cassette, "logprobs") {
        return Scope::OutOfScope("logprobs".into());
    }
    if let Some(reason) = inexpressible_output(cassette) {
        return Scope::OutOfScope(reason);
    }
    if let Some(reason) = chat::out_of_scope(cassette) {
        return Scope::OutOfScope(reason);
    }
    if let Some(tool) = HOSTED_TOOL_FEATURES
        .iter()
        .chain(HOSTED_TOOL_ITEMS.iter())
        .find(|tool| cassette.has_feature(tool))
    {
        return Scope::HostedToolRefusal(format!("hosted tool {tool}"));
    }
    Scope::InScope
}

/// Whether any request asks to include something containing `needle`.
fn includes(cassette: &Cassette, needle: &str) -> bool {
    cassette
        .interactions
        .iter()
        .filter_map(|interaction| interaction.request.as_ref())
        .any(|request| {
            let in_body = request
                .body
                .get("include")
                .and_then(Value::as_array)
                .is_some_and(|values| {
                    values
                        .iter()
                        .any(|value| value.as_str().is_some_and(|text| text.contains(needle)))
                });
            let in_body_top_logprobs = needle == "logprobs"
                && (request
                    .body
                    .get("logprobs")
                    .is_some_and(|value| value == &Value::Bool(true))
                    || request
                        .body
                        .get("top_logprobs")
                        .and_then(Value::as_u64)
                        .is_some_and(|count| count > 0));
            let in_query = request.query.iter().any(|(key, value)| {
                key.starts_with("include") && value.to_string().contains(needle)
            });
            in_body || in_body_top_logprobs || in_query
        })
}

/// Whether requests refer to uploaded files (`file-…`) or vector stores (`vs_…`).
fn uses_file_ids(cassette: &Cassette) -> bool {
    cassette
        .interactions
        .iter()
        .filter_map(|interaction| interaction.request.as_ref())
        .any(|request| {
            let text = request.body.to_string();
            text.contains("\"file-") || text.contains("\"vs_")
        })
}

/// Whether some recorded Responses output has a shape a chat backend cannot produce.
fn inexpressible_output(cassette: &Cassette) -> Option<String> {
    for interaction in &cassette.interactions {
        let Some(output) = interaction
            .response
            .final_object()
            .and_then(|object| object.get("output"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        // Position in the expressible sequence: 0 reasoning, 1 message, 2 function calls.
        let mut stage = 0;
        for item in output {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            let item_stage = match kind {
                "reasoning" => 0,
                "message" => 1,
                "function_call" => 2,
                _ => continue,
            };
            let repeated = item_stage < 2 && item_stage == stage && stage_seen(output, item, kind);
            if item_stage < stage || repeated {
                return Some("output a chat backend cannot express (several messages or reasoning items, or out of order)".into());
            }
            stage = item_stage;
            if kind == "reasoning"
                && item
                    .get("summary")
                    .and_then(Value::as_array)
                    .is_some_and(|parts| parts.len() > 1)
            {
                return Some(
                    "several reasoning summary parts (a chat backend streams one reasoning text)"
                        .into(),
                );
            }
        }
    }
    None
}

/// Whether an item of the same kind comes before `item` in `output`.
fn stage_seen(output: &[Value], item: &Value, kind: &str) -> bool {
    output
        .iter()
        .take_while(|candidate| !std::ptr::eq(*candidate, item))
        .any(|candidate| candidate.get("type").and_then(Value::as_str) == Some(kind))
}

/// Whether a recorded assistants list shows assistants the cassette never
/// created: the account had objects from elsewhere, which an empty server cannot show.
fn lists_outside_objects(cassette: &Cassette) -> bool {
    let mut created: Vec<&str> = Vec::new();
    for interaction in &cassette.interactions {
        let Some(request) = &interaction.request else {
            continue;
        };
        let body = &interaction.response.body;
        if request.method == "GET" && request.path.trim_end_matches('/') == "/v1/assistants" {
            let listed = body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            if listed
                .filter_map(|item| item.get("id").and_then(Value::as_str))
                .any(|id| !created.contains(&id))
            {
                return true;
            }
        }
        if let Some(id) = body.get("id").and_then(Value::as_str) {
            created.push(id);
        }
    }
    false
}

/// Whether a background request that did not set `store` was answered with
/// `store: false` — what OpenAI's recordings of February 2026 show; the older
/// ones (2025-09, 2026-02-05) and the newest (2026-07-21) show `true`, which
/// is what Portico answers.
fn february_background_store_default(cassette: &Cassette) -> bool {
    cassette.interactions.iter().any(|interaction| {
        let Some(request) = &interaction.request else {
            return false;
        };
        let asked_background =
            request.body.get("background").and_then(Value::as_bool) == Some(true);
        let store_unset = request.body.get("store").is_none();
        let answered_unstored =
            interaction
                .response
                .final_object()
                .or_else(|| {
                    interaction.response.events.as_ref().and_then(|events| {
                        events.iter().find_map(|event| event.data.get("response"))
                    })
                })
                .and_then(|object| object.get("store"))
                .and_then(Value::as_bool)
                == Some(false);
        request.method == "POST" && asked_background && store_unset && answered_unstored
    })
}
