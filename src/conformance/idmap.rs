//! Id mapping: the ids OpenAI returned in a cassette are not the ids Portico
//! returns, so every id learned from an answer (recorded next to actual) is
//! substituted into the later recorded requests — paths, query values and bodies.

use std::collections::HashMap;

use serde_json::Value;

/// Prefixes of object ids that are mapped (and whose prefix is checked).
pub const ID_PREFIXES: [&str; 12] = [
    "resp_",
    "msg_",
    "fc_",
    "rs_",
    "conv_",
    "asst_",
    "thread_",
    "run_",
    "step_",
    "chatcmpl-",
    "cmpl-",
    "call_",
];

/// The prefix of an id, if it carries a known one.
pub fn id_prefix(value: &str) -> Option<&'static str> {
    ID_PREFIXES
        .iter()
        .copied()
        .find(|prefix| value.starts_with(prefix) && value.len() > prefix.len())
}

/// Recorded id → Portico's id.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    ids: HashMap<String, String>,
}

impl IdMap {
    /// Learns the ids at matching places of a recorded answer and Portico's answer.
    pub fn learn(&mut self, recorded: &Value, actual: &Value) {
        match (recorded, actual) {
            (Value::Object(recorded), Value::Object(actual)) => {
                for (key, recorded_value) in recorded {
                    if let Some(actual_value) = actual.get(key) {
                        self.learn(recorded_value, actual_value);
                    }
                }
            }
            (Value::Array(recorded), Value::Array(actual)) => {
                for (recorded_item, actual_item) in recorded.iter().zip(actual) {
                    self.learn(recorded_item, actual_item);
                }
            }
            (Value::String(recorded), Value::String(actual))
                if recorded != actual
                    && id_prefix(recorded).is_some()
                    && id_prefix(actual).is_some() =>
            {
                self.ids
                    .entry(recorded.clone())
                    .or_insert_with(|| actual.clone());
            }
            _ => {}
        }
    }

    /// The id Portico gave for a recorded id (the id itself when unknown).
    pub fn map<'a>(&'a self, recorded: &'a str) -> &'a str {
        self.ids.get(recorded).map_or(recorded, String::as_str)
    }

    /// Replaces every known recorded id in a JSON value.
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.map(text).to_owned()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.apply(item)).collect())
            }
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.clone(), self.apply(value)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Replaces known ids in the segments of a URL path.
    pub fn apply_path(&self, path: &str) -> String {
        path.split('/')
            .map(|segment| self.map(segment))
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_learned_from_answers_are_substituted_into_later_requests() {
        let mut map = IdMap::default();
        map.learn(
            &json!({"id": "resp_old", "output": [{"id": "msg_old"}], "model": "gpt-4o"}),
            &json!({"id": "resp_new", "output": [{"id": "msg_new"}], "model": "m"}),
        );
        assert_eq!(
            map.apply(&json!({"previous_response_id": "resp_old", "input": [{"id": "msg_old"}]})),
            json!({"previous_response_id": "resp_new", "input": [{"id": "msg_new"}]})
        );
        assert_eq!(
            map.apply_path("/v1/responses/resp_old/input_items"),
            "/v1/responses/resp_new/input_items"
        );
        assert_eq!(map.map("gpt-4o"), "gpt-4o", "only ids are mapped");
    }
}
