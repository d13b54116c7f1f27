//! The Conversations API's request bodies and query parameters, validated with
//! OpenAI's messages, codes and `param` paths. Items go through the same
//! normalization as a response's `input` (ids, `status: "completed"`, content
//! parts), with their paths named `items[i]…` instead of `input[i]…`.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::wire::error::{ApiError, ApiResult};
use crate::wire::json::from_value;
use crate::wire::query::QueryParams;
use crate::wire::validate::validate_metadata;
use crate::wire::validate::{missing, validate_include_values};

/// The most items one request may add.
pub const MAX_ITEMS: usize = 20;

/// The body of `POST /v1/conversations` (everything optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateConversationRequest {
    /// Up to 16 string pairs.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Up to 20 input items to start the conversation with.
    #[schema(value_type = Option<Vec<Object>>)]
    pub items: Option<Vec<Value>>,
}

/// The body of `POST /v1/conversations/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct UpdateConversationRequest {
    /// The new metadata; it replaces the old one.
    #[schema(value_type = Object)]
    pub metadata: Option<Map<String, Value>>,
}

/// The body of `POST /v1/conversations/{id}/items`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateItemsRequest {
    /// 1 to 20 input items.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
}

/// Parses `POST /v1/conversations`'s body (an empty body is `{}`).
pub fn parse_create(body: Value) -> ApiResult<CreateConversationRequest> {
    check_object(&body, &["items", "metadata"])?;
    let request: CreateConversationRequest = from_value(body)?;
    if let Some(metadata) = &request.metadata {
        validate_metadata(metadata, "metadata")?;
    }
    if let Some(items) = &request.items {
        check_length(items, 0)?;
    }
    Ok(request)
}

/// Parses `POST /v1/conversations/{id}`'s body into the new metadata
/// (`null` clears it).
pub fn parse_update(body: Value) -> ApiResult<Map<String, Value>> {
    check_object(&body, &["metadata"])?;
    if body.get("metadata").is_none() {
        return Err(missing("metadata"));
    }
    let request: UpdateConversationRequest = from_value(body)?;
    let metadata = request.metadata.unwrap_or_default();
    validate_metadata(&metadata, "metadata")?;
    Ok(metadata)
}

/// Parses `POST /v1/conversations/{id}/items`'s body into its raw items.
pub fn parse_create_items(body: Value) -> ApiResult<Vec<Value>> {
    check_object(&body, &["items"])?;
    if body.get("items").is_none() {
        return Err(missing("items"));
    }
    let request: CreateItemsRequest = from_value(body)?;
    check_length(&request.items, 1)?;
    Ok(request.items)
}

fn check_object(body: &Value, known: &[&str]) -> ApiResult<()> {
    let Value::Object(fields) = body else {
        return Err(ApiError::invalid_with_code(
            "Invalid type for request body: expected an object.",
            None,
            "invalid_type",
        ));
    };
    match fields.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(ApiError::invalid_with_code(
            format!("Unknown parameter: '{unknown}'."),
            Some(unknown.clone()),
            "unknown_parameter",
        )),
        None => Ok(()),
    }
}

fn check_length(items: &[Value], minimum: usize) -> ApiResult<()> {
    if items.len() > MAX_ITEMS {
        return Err(ApiError::invalid_with_code(
            format!("Invalid 'items': array too long. Expected an array with maximum length {MAX_ITEMS}, but got an array with {} items instead.", items.len()),
            Some("items".to_owned()),
            "array_above_max_length",
        ));
    }
    if items.len() < minimum {
        return Err(ApiError::invalid_with_code(
            format!("Invalid 'items': empty array. Expected an array with minimum length {minimum}, but got an empty array instead."),
            Some("items".to_owned()),
            "empty_array",
        ));
    }
    Ok(())
}

/// `input[0].content` → `items[0].content`.
pub fn items_param(param: &str) -> String {
    match param.strip_prefix("input") {
        Some(rest) => format!("items{rest}"),
        None => param.to_owned(),
    }
}

/// The input normalizer names `input[i]…`; here the same paths are `items[i]…`.
pub fn rename_input_param(error: ApiError) -> ApiError {
    match error {
        ApiError::InvalidRequest {
            message,
            param,
            code,
        } => ApiError::InvalidRequest {
            message: message.replace("'input[", "'items["),
            param: param.as_deref().map(items_param),
            code,
        },
        other => other,
    }
}

/// Checks `include` / `include[]` query values against OpenAI's list.
pub fn validate_include(query: &QueryParams) -> ApiResult<()> {
    validate_include_values(
        query
            .0
            .iter()
            .filter(|(key, _)| key == "include" || key == "include[]")
            .map(|(_, value)| value.as_str()),
    )
}

/// OpenAI's check of a conversation id's prefix.
pub fn validate_conversation_id(id: &str) -> ApiResult<()> {
    if id.starts_with("conv") {
        return Ok(());
    }
    Err(ApiError::invalid_with_code(
        format!("Invalid 'conversation_id': '{id}'. Expected an ID that begins with 'conv'."),
        Some("conversation_id".to_owned()),
        "invalid_value",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::responses::input::normalize_input;
    use serde_json::json;

    fn error_of(result: ApiResult<impl std::fmt::Debug>) -> (Option<String>, Option<String>) {
        let error = result.unwrap_err().body().error;
        (error.param, error.code)
    }

    #[test]
    fn bodies_follow_openais_rules() {
        assert!(parse_create(json!({})).unwrap().items.is_none());
        assert_eq!(
            error_of(parse_create(json!({"foo": 1}))),
            (Some("foo".into()), Some("unknown_parameter".into()))
        );
        assert_eq!(
            error_of(parse_create(
                json!({"items": vec![json!({"role": "user", "content": "x"}); 21]})
            )),
            (Some("items".into()), Some("array_above_max_length".into()))
        );
        assert_eq!(
            error_of(parse_create(json!({"metadata": {"k": 1}}))),
            (Some("metadata.k".into()), Some("invalid_type".into()))
        );
        assert_eq!(
            error_of(parse_update(json!({}))),
            (
                Some("metadata".into()),
                Some("missing_required_parameter".into())
            )
        );
        assert_eq!(parse_update(json!({"metadata": null})).unwrap(), Map::new());
        assert_eq!(
            error_of(parse_create_items(json!({"items": []}))),
            (Some("items".into()), Some("empty_array".into()))
        );
        assert_eq!(
            error_of(parse_create_items(json!({"items": "x"}))),
            (Some("items".into()), Some("invalid_type".into()))
        );
    }

    #[test]
    fn normalizer_errors_name_items_paths() {
        let error = normalize_input(Some(&json!([{"type": "message", "role": "user"}])))
            .map_err(rename_input_param)
            .unwrap_err();
        let body = error.body().error;
        assert_eq!(body.param.as_deref(), Some("items[0].content"));
        assert_eq!(
            body.message,
            "Missing required parameter: 'items[0].content'."
        );
    }

    #[test]
    fn ids_and_includes_are_checked() {
        assert!(validate_conversation_id("conv_1").is_ok());
        assert_eq!(
            error_of(validate_conversation_id("abc")),
            (Some("conversation_id".into()), Some("invalid_value".into()))
        );
        let query = QueryParams(vec![(
            "include[]".into(),
            "message.input_image.image_url".into(),
        )]);
        assert!(validate_include(&query).is_ok());
        let query = QueryParams(vec![("include[]".into(), "bogus".into())]);
        assert_eq!(
            error_of(validate_include(&query)).0.as_deref(),
            Some("include")
        );
    }
}
