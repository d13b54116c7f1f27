//! JSON as requests carry it: a body parsed with OpenAI's wording for one that
//! is not JSON, a value deserialized with the failing field's path as `param`
//! and OpenAI's wording for a wrong type, and counts that may be written with a
//! decimal point (`16.0`).

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::wire::error::ApiError;

/// Parses bytes as JSON with OpenAI's message for a body that is not JSON.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            None,
        ));
    }
    serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
            None,
        )
    })
}

/// A count written as a whole number, also with a decimal point (`16.0`), as
/// JSON Schema's `integer` and OpenAI accept it: `None` for anything else
/// (negative, fractional, 2^64 or more, not a number).
pub fn whole_number(value: &Value) -> Option<u64> {
    const TWO_TO_THE_64: f64 = 18_446_744_073_709_551_616.0;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|number| number.fract() == 0.0 && (0.0..TWO_TO_THE_64).contains(number))
            .map(|number| number as u64)
    })
}

/// `deserialize_with` for an optional count (`Option<u64>`): a whole number,
/// `16.0` included; `null` is `None`. Other values get serde's own errors, so
/// `from_value` words them as before.
pub fn optional_count<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    use serde::de::{Error, Unexpected};
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => whole_number(&value).map(Some).ok_or_else(|| match &value {
            Value::Number(number) if number.is_i64() => D::Error::invalid_value(
                Unexpected::Signed(number.as_i64().unwrap_or_default()),
                &"u64",
            ),
            Value::Number(number) if number.as_f64().is_some_and(|n| n.fract() == 0.0) => {
                D::Error::invalid_value(
                    Unexpected::Float(number.as_f64().unwrap_or_default()),
                    &"u64",
                )
            }
            Value::Number(number) => D::Error::invalid_type(
                Unexpected::Float(number.as_f64().unwrap_or_default()),
                &"u64",
            ),
            Value::Bool(flag) => D::Error::invalid_type(Unexpected::Bool(*flag), &"u64"),
            Value::String(text) => D::Error::invalid_type(Unexpected::Str(text), &"u64"),
            Value::Array(_) => D::Error::invalid_type(Unexpected::Seq, &"u64"),
            _ => D::Error::invalid_type(Unexpected::Map, &"u64"),
        }),
    }
}

/// Deserializes a JSON value, naming the failing field's path on error
/// (`Invalid type for 'max_output_tokens': expected an integer, but got a string instead.`).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.inner().to_string();
        type_error(&path, &inner)
    })
}

/// Turns serde's message into OpenAI's wording and error code.
fn type_error(path: &str, serde_message: &str) -> ApiError {
    if let Some(field) = serde_message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let param = if path == "." || path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        };
        return ApiError::invalid_with_code(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            "missing_required_parameter",
        );
    }
    if let Some(rest) = serde_message.strip_prefix("invalid type: ") {
        let (got, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        return ApiError::invalid_with_code(
            format!(
                "Invalid type for '{path}': expected {}, but got {} instead.",
                describe_expected(expected),
                describe_got(got)
            ),
            Some(path.to_owned()),
            "invalid_type",
        );
    }
    if serde_message.starts_with("unknown variant") || serde_message.starts_with("invalid value") {
        return ApiError::invalid_with_code(
            format!("Invalid value for '{path}': {serde_message}."),
            Some(path.to_owned()),
            "invalid_value",
        );
    }
    ApiError::invalid_with_code(
        format!("Invalid '{path}': {serde_message}."),
        Some(path.to_owned()),
        "invalid_value",
    )
}

fn describe_got(got: &str) -> &'static str {
    match got.split_whitespace().next().unwrap_or_default() {
        "string" => "a string",
        "integer" => "an integer",
        "floating" => "a decimal",
        "boolean" => "a boolean",
        "map" => "an object",
        "sequence" => "an array",
        "null" => "null",
        _ => "a value of another type",
    }
}

fn describe_expected(expected: &str) -> &'static str {
    let expected = expected.to_ascii_lowercase();
    if ["u64", "u32", "usize", "i64", "i32", "integer"]
        .iter()
        .any(|name| expected.contains(name))
    {
        "an integer"
    } else if expected.contains("f64") || expected.contains("f32") || expected.contains("float") {
        "a number"
    } else if expected.contains("bool") {
        "a boolean"
    } else if expected.contains("string") || expected.contains("str") {
        "a string"
    } else if expected.contains("sequence")
        || expected.contains("vec")
        || expected.contains("array")
    {
        "an array"
    } else if expected.contains("map") || expected.contains("struct") || expected.contains("object")
    {
        "an object"
    } else {
        "a value of another type"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        max_output_tokens: Option<u64>,
        metadata: Option<std::collections::HashMap<String, String>>,
    }

    #[test]
    fn type_errors_name_the_field_path() {
        let error =
            from_value::<Sample>(serde_json::json!({"max_output_tokens": "ten"})).unwrap_err();
        let body = error.body().error;
        assert_eq!(body.param.as_deref(), Some("max_output_tokens"));
        assert_eq!(body.code.as_deref(), Some("invalid_type"));
        assert_eq!(
            body.message,
            "Invalid type for 'max_output_tokens': expected an integer, but got a string instead."
        );
        let error = from_value::<Sample>(serde_json::json!({"metadata": {"k": true}})).unwrap_err();
        assert_eq!(error.body().error.param.as_deref(), Some("metadata.k"));
    }

    #[derive(Debug, serde::Deserialize)]
    struct Counted {
        #[serde(default, deserialize_with = "optional_count")]
        tokens: Option<u64>,
    }

    fn counted(value: serde_json::Value) -> Result<Option<u64>, ApiError> {
        from_value::<Counted>(serde_json::json!({ "tokens": value })).map(|counted| counted.tokens)
    }

    #[test]
    fn a_count_may_be_written_with_a_decimal_point_but_must_be_whole() {
        assert_eq!(counted(serde_json::json!(16)).unwrap(), Some(16));
        assert_eq!(counted(serde_json::json!(16.0)).unwrap(), Some(16));
        assert_eq!(counted(serde_json::json!(null)).unwrap(), None);
        assert_eq!(
            counted(serde_json::json!(u64::MAX)).unwrap(),
            Some(u64::MAX)
        );
        let code = |value| counted(value).unwrap_err().body().error.code;
        assert_eq!(
            code(serde_json::json!(16.5)).as_deref(),
            Some("invalid_type")
        );
        assert_eq!(
            code(serde_json::json!("16")).as_deref(),
            Some("invalid_type")
        );
        assert_eq!(
            code(serde_json::json!(-1)).as_deref(),
            Some("invalid_value")
        );
        assert_eq!(
            code(serde_json::json!(1.8446744073709552e19)).as_deref(),
            Some("invalid_value")
        );
        assert_eq!(
            counted(serde_json::json!(-1))
                .unwrap_err()
                .body()
                .error
                .message,
            "Invalid value for 'tokens': invalid value: integer `-1`, expected u64."
        );
    }
}
