//! Extractors whose rejections are OpenAI error envelopes: JSON bodies (with the
//! failing field's path as `param`), and query strings.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON body parsed into `T`; every failure is a 400 (or 413) envelope.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        let value: Value = parse_json(&bytes)?;
        from_value(value).map(JsonBody)
    }
}

/// Reads the whole body, mapping the size limit to 413.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(failure)
                if is_length_limit(&failure.to_string()) =>
            {
                ApiError::PayloadTooLarge {
                    message: "The request body is larger than this server accepts.".into(),
                }
            }
            other => ApiError::invalid(format!("Could not read the request body: {other}"), None),
        })
}

fn is_length_limit(message: &str) -> bool {
    message.contains("length limit")
}

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

/// A query string as name/value pairs (`include[]=a&include[]=b` repeats a name);
/// a malformed query is a 400 envelope.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(pairs)| QueryParams(pairs))
            .map_err(|rejection| {
                ApiError::invalid(format!("Invalid query string: {rejection}"), None)
            })
    }
}

impl QueryParams {
    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A boolean parameter (`true`/`false`, `1`/`0`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid_with_code(
                format!("Invalid value for '{name}': expected a boolean, but got '{other}'."),
                Some(name.to_owned()),
                "invalid_type",
            )),
        }
    }

    /// A non-negative integer parameter.
    pub fn unsigned(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| {
                ApiError::invalid_with_code(
                    format!("Invalid type for '{name}': expected a non-negative integer, but got '{raw}' instead."),
                    Some(name.to_owned()),
                    "invalid_type",
                )
            }),
        }
    }

    /// OpenAI's list `limit`: 1 to 100, default 20.
    pub fn limit(&self) -> Result<usize, ApiError> {
        let Some(raw) = self.get("limit") else {
            return Ok(20);
        };
        match raw.parse::<i64>() {
            Ok(limit) if (1..=100).contains(&limit) => Ok(limit as usize),
            Ok(limit) if limit < 1 => Err(ApiError::invalid_with_code(
                format!("Invalid 'limit': integer below minimum value. Expected a value >= 1, but got {limit} instead."),
                Some("limit".to_owned()),
                "integer_below_min_value",
            )),
            Ok(limit) => Err(ApiError::invalid_with_code(
                format!("Invalid 'limit': integer above maximum value. Expected a value <= 100, but got {limit} instead."),
                Some("limit".to_owned()),
                "integer_above_max_value",
            )),
            Err(_) => Err(ApiError::invalid_with_code(
                format!("Invalid type for 'limit': expected an integer, but got '{raw}' instead."),
                Some("limit".to_owned()),
                "invalid_type",
            )),
        }
    }

    /// OpenAI's list `order`: `asc` or `desc`; true when descending.
    pub fn descending(&self, default_descending: bool) -> Result<bool, ApiError> {
        match self.get("order") {
            None => Ok(default_descending),
            Some("desc") => Ok(true),
            Some("asc") => Ok(false),
            Some(other) => Err(ApiError::invalid_with_code(
                format!("Invalid value: '{other}'. Supported values are: 'asc' and 'desc'."),
                Some("order".to_owned()),
                "invalid_value",
            )),
        }
    }
}
