//! The assistant object as OpenAI sends it (field order included), and how
//! function tools are normalized the way OpenAI echoes them back.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::wire::assistants::shared::HasId;

/// An assistant (`object: "assistant"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssistantObject {
    /// `asst_…`.
    pub id: String,
    /// Always `assistant`.
    pub object: String,
    pub created_at: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub model: String,
    pub instructions: Option<String>,
    /// Function tools, Chat-style (`{type: "function", function: {name, description, parameters, strict}}`).
    #[schema(value_type = Vec<Object>)]
    pub tools: Vec<Value>,
    pub top_p: Option<f64>,
    pub temperature: Option<f64>,
    pub reasoning_effort: Option<String>,
    /// Always `{}`: Portico keeps no files or vector stores.
    #[schema(value_type = Object)]
    pub tool_resources: Value,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// `"auto"` or a Chat-style format object.
    #[schema(value_type = Object)]
    pub response_format: Value,
}

impl HasId for AssistantObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A function tool as OpenAI echoes it: `parameters` defaults to an empty
/// object schema and `strict` to false.
pub fn normalize_tools(tools: &[Value]) -> Vec<Value> {
    tools
        .iter()
        .map(|tool| {
            let Some(function) = tool.get("function") else {
                return tool.clone();
            };
            let mut normalized = Map::new();
            normalized.insert(
                "name".into(),
                function.get("name").cloned().unwrap_or(Value::Null),
            );
            if let Some(description) = function.get("description").filter(|value| !value.is_null())
            {
                normalized.insert("description".into(), description.clone());
            }
            normalized.insert(
                "parameters".into(),
                function
                    .get("parameters")
                    .filter(|value| !value.is_null())
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            );
            normalized.insert(
                "strict".into(),
                function
                    .get("strict")
                    .filter(|value| value.is_boolean())
                    .cloned()
                    .unwrap_or(Value::Bool(false)),
            );
            json!({"type": "function", "function": normalized})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_tools_gain_openais_defaults() {
        let tools = normalize_tools(&[json!({"type": "function", "function": {"name": "f"}})]);
        assert_eq!(
            tools[0],
            json!({"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}, "strict": false}})
        );
    }
}
