//! OpenAI's rules for a function's `parameters` when the tool asks for
//! `strict: true` (structured outputs): every object schema, the root
//! included, must say `additionalProperties: false` and list every one of its
//! `properties` in `required`. A schema that breaks them is OpenAI's 400
//! `invalid_function_parameters`, worded as OpenAI words it (the place in the
//! schema as a Python tuple, `context=('properties', 'location')`), so that a
//! request that works here also works there. Shared by Chat Completions and
//! Responses; only the `param` differs.

use serde_json::Value;

use crate::wire::error::ApiError;

/// Checks a strict function tool's `parameters` (absent counts as an empty
/// object schema); `param` is where they sit in the request.
pub fn check_strict_parameters(
    function_name: &str,
    parameters: Option<&Value>,
    param: &str,
) -> Result<(), ApiError> {
    let empty = Value::Object(serde_json::Map::new());
    let schema = parameters
        .filter(|value| !value.is_null())
        .unwrap_or(&empty);
    check_object(schema, &mut Vec::new(), true).map_err(|problem| {
        ApiError::invalid_with_code(
            format!("Invalid schema for function '{function_name}': {problem}"),
            Some(param.to_owned()),
            "invalid_function_parameters",
        )
    })
}

/// Checks `schema` at `context` and below; `root` is always an object schema.
fn check_object(schema: &Value, context: &mut Vec<String>, root: bool) -> Result<(), String> {
    let Value::Object(fields) = schema else {
        return Ok(());
    };
    let is_object = root
        || fields.get("type").and_then(Value::as_str) == Some("object")
        || fields.contains_key("properties");
    if is_object {
        if fields.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Err(format!(
                "In context={}, 'additionalProperties' is required to be supplied and to be false.",
                tuple(context)
            ));
        }
        let required: Vec<&str> = fields
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(Value::Object(properties)) = fields.get("properties") {
            if let Some(missing) = properties
                .keys()
                .find(|key| !required.contains(&key.as_str()))
            {
                return Err(format!(
                    "In context={}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing}'.",
                    tuple(context)
                ));
            }
            for (name, property) in properties {
                context.extend(["properties".to_owned(), name.clone()]);
                check_object(property, context, false)?;
                context.truncate(context.len() - 2);
            }
        }
    }
    if let Some(items) = fields.get("items") {
        context.push("items".to_owned());
        check_object(items, context, false)?;
        context.pop();
    }
    for keyword in ["anyOf", "$defs", "definitions"] {
        let children: Vec<(String, &Value)> = match fields.get(keyword) {
            Some(Value::Array(options)) => options
                .iter()
                .enumerate()
                .map(|(index, option)| (index.to_string(), option))
                .collect(),
            Some(Value::Object(named)) => named
                .iter()
                .map(|(name, schema)| (name.clone(), schema))
                .collect(),
            _ => continue,
        };
        for (name, child) in children {
            context.extend([keyword.to_owned(), name]);
            check_object(child, context, false)?;
            context.truncate(context.len() - 2);
        }
    }
    Ok(())
}

/// `context` as Python prints a tuple of strings.
fn tuple(context: &[String]) -> String {
    match context {
        [] => "()".to_owned(),
        [only] => format!("('{only}',)"),
        many => format!(
            "({})",
            many.iter()
                .map(|part| format!("'{part}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(parameters: Option<Value>) -> Option<String> {
        check_strict_parameters("f", parameters.as_ref(), "tools[0].parameters")
            .err()
            .map(|error| error.body().error.message)
    }

    #[test]
    fn openais_recorded_rejections_are_reproduced() {
        assert_eq!(
            problem(None).as_deref(),
            Some("Invalid schema for function 'f': In context=(), 'additionalProperties' is required to be supplied and to be false.")
        );
        assert_eq!(
            problem(Some(json!({"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
                                "required": ["location"], "additionalProperties": false}))).as_deref(),
            Some("Invalid schema for function 'f': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'unit'.")
        );
    }

    #[test]
    fn nested_objects_are_checked_where_they_are() {
        let nested = json!({"type": "object", "additionalProperties": false, "required": ["address", "tags"], "properties": {
            "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        }});
        assert_eq!(
            problem(Some(nested)).as_deref(),
            Some("Invalid schema for function 'f': In context=('properties', 'address'), 'additionalProperties' is required to be supplied and to be false.")
        );
        let fine = json!({"type": "object", "additionalProperties": false, "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}},
                                                 "required": ["n"], "additionalProperties": false}},
        }});
        assert_eq!(problem(Some(fine)), None);
        assert_eq!(
            problem(Some(json!({"type": "object", "additionalProperties": false, "properties": {}, "required": [],
                                "$defs": {"Unit": {"type": "object", "properties": {}}}}))).as_deref(),
            Some("Invalid schema for function 'f': In context=('$defs', 'Unit'), 'additionalProperties' is required to be supplied and to be false.")
        );
    }
}
