//! Fields of the answers whose JSON has more than one shape, stated exactly
//! (the handlers' structs hold them as JSON values): a tool choice is a mode
//! or a named tool, a response format is `"auto"` or an object, a response's
//! instructions are text or input items. Written wherever the answer's schema
//! appears, inlined too (a list's `data` holds its objects' schema).

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// (schema, field, what the field holds).
fn fields() -> [(&'static str, &'static str, Value); 5] {
    let tool_choice = json!({"anyOf": [
        {"type": "string", "enum": ["none", "auto", "required"]},
        {"type": "object", "required": ["type"]},
    ]});
    let response_format = json!({"anyOf": [
        {"type": "string", "const": "auto"},
        {"type": "object", "required": ["type"]},
    ]});
    [
        ("ResponseObject", "tool_choice", tool_choice.clone()),
        (
            "ResponseObject",
            "instructions",
            json!({"type": ["string", "array", "null"]}),
        ),
        ("RunObject", "tool_choice", tool_choice),
        ("RunObject", "response_format", response_format.clone()),
        ("AssistantObject", "response_format", response_format),
    ]
}

/// Writes the fields into the answers' schemas.
pub fn apply(document: &mut Value) {
    for (schema, field, shape) in fields() {
        let Some(names) = document
            .pointer(&format!("/components/schemas/{schema}/properties"))
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect::<BTreeSet<_>>())
        else {
            continue;
        };
        rewrite(document, &names, field, &shape);
    }
}

/// Rewrites `field` in every schema (anywhere in `value`) whose properties
/// are exactly `names`.
fn rewrite(value: &mut Value, names: &BTreeSet<String>, field: &str, shape: &Value) {
    match value {
        Value::Object(object) => {
            let same = object
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|properties| {
                    properties.keys().cloned().collect::<BTreeSet<_>>() == *names
                });
            if same {
                if let Some(property) = object
                    .get_mut("properties")
                    .and_then(|properties| properties.get_mut(field))
                {
                    let description = property.get("description").cloned();
                    *property = shape.clone();
                    if let Some(description) = description {
                        property["description"] = description;
                    }
                }
            }
            object
                .values_mut()
                .for_each(|inner| rewrite(inner, names, field, shape));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|inner| rewrite(inner, names, field, shape)),
        _ => {}
    }
}
