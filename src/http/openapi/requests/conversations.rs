//! The bodies of the Conversations API, as `conversations::request` checks
//! them: items are the Responses API's input items.

use serde_json::{json, Value};

use super::shared::{nullable, reference};
use crate::wire::conversations::request::MAX_ITEMS;

/// `POST /v1/conversations` (the body may be left out: an empty conversation).
pub fn create() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "metadata": nullable("Metadata"),
            "items": {"type": ["array", "null"], "maxItems": MAX_ITEMS, "items": reference("ResponsesInputItem")},
        },
    })
}

/// `POST /v1/conversations/{conversation_id}`: `metadata: null` clears it.
pub fn update() -> Value {
    super::shared::metadata_change()
}

/// `POST /v1/conversations/{conversation_id}/items`.
pub fn create_items() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": reference("ResponsesInputItem")},
        },
    })
}
