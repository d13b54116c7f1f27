//! Finding the parameter a backend's message names in the request it refused:
//! a quoted parameter path the request has, or a quoted value only one of its
//! parameters has.

use serde_json::Value;

/// The parameter a message names by quoting it or its value (see
/// [`Fault::located_in`]).
pub(super) fn param_quoted_in(message: &str, request: &Value) -> Option<String> {
    let quoted: Vec<&str> = message.split('\'').skip(1).step_by(2).collect();
    if let Some(path) = quoted
        .iter()
        .find(|quote| looks_like_parameter(quote) && value_at(request, quote).is_some())
    {
        return Some((*path).to_owned());
    }
    quoted.iter().find_map(|quote| {
        let mut found = Vec::new();
        paths_of_string(request, quote, String::new(), &mut found);
        match found.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    })
}

fn looks_like_parameter(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
}

/// The value at a parameter path (`messages[0].role`) of `request`.
fn value_at<'a>(request: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = request;
    for piece in path.split('.') {
        let (name, indexes) = piece
            .split_once('[')
            .map_or((piece, ""), |(name, rest)| (name, rest));
        if !name.is_empty() {
            value = value.get(name)?;
        }
        for index in indexes.split('[').filter(|index| !index.is_empty()) {
            value = value.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(value)
}

/// Every parameter path of `value` whose string value is `wanted`.
fn paths_of_string(value: &Value, wanted: &str, path: String, found: &mut Vec<String>) {
    match value {
        // The model named in a refusal is its context, not what was refused.
        Value::String(text) if text == wanted && !path.is_empty() && path != "model" => {
            found.push(path);
        }
        Value::Object(object) => {
            for (key, inner) in object {
                let inner_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                paths_of_string(inner, wanted, inner_path, found);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                paths_of_string(inner, wanted, format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}
