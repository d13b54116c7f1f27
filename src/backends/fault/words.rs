//! Reading an error body, whatever its envelope (see the parent module): its
//! message, `type`, a string `code`, `param`, llama.cpp's token counts and
//! FastAPI's list of validation errors; and what OpenAI's own wordings say.

use serde_json::Value;

use super::safe::safe_detail;
use super::validation::ValidationError;

/// The fields an error body carries, from any of the envelopes read.
#[derive(Debug, Default)]
pub(super) struct ErrorWords {
    pub(super) message: String,
    /// `message` in lower case, for matching.
    pub(super) lower: String,
    pub(super) kind: Option<String>,
    /// A string `code` (integer codes are statuses, not OpenAI codes).
    pub(super) code: Option<String>,
    pub(super) param: Option<String>,
    pub(super) context_tokens: Option<u64>,
    pub(super) prompt_tokens: Option<u64>,
    /// FastAPI's `{"detail": [{loc, msg}]}`.
    pub(super) detail_list: Vec<Value>,
}

impl ErrorWords {
    pub(super) fn read(body: &str) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            return Self::with_message(body.trim().to_owned());
        };
        let envelope = match value.get("error") {
            Some(Value::Object(_)) => value.get("error"),
            Some(Value::String(message)) => return Self::with_message(message.clone()),
            _ => Some(&value),
        };
        let Some(envelope) = envelope else {
            return Self::default();
        };
        let text = |key: &str| envelope.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut words = match envelope.get("detail") {
            Some(Value::String(detail)) => Self::with_message(detail.clone()),
            Some(Value::Array(list)) => {
                let mut words = Self::with_message(
                    list.iter()
                        .filter_map(|item| item.get("msg").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                words.detail_list = list.clone();
                words
            }
            _ => Self::with_message(text("message").unwrap_or_default()),
        };
        words.kind = text("type");
        words.code = text("code").filter(|code| looks_like_code(code));
        words.param = text("param").map(|param| clean_param(&param));
        let number = |key: &str| envelope.get(key).and_then(Value::as_u64);
        words.context_tokens = number("n_ctx");
        words.prompt_tokens = number("n_prompt_tokens");
        words
    }

    pub(super) fn with_message(message: String) -> Self {
        Self {
            lower: message.to_lowercase(),
            message,
            ..Self::default()
        }
    }

    pub(super) fn mentions_model(&self) -> bool {
        self.lower.contains("model")
            && (self.lower.contains("does not exist") || self.lower.contains("not found"))
    }

    /// For a validation failure (a pydantic dump or FastAPI's list), the
    /// error that says what is wrong: its parameter in OpenAI's spelling
    /// (`messages[0].content`) and its words (see [`ValidationError::pick`]).
    pub(super) fn validation(&self) -> Option<(Option<String>, Option<String>)> {
        let errors: Vec<ValidationError> = if self.detail_list.is_empty() {
            if !is_validation_dump(&self.message) {
                return None;
            }
            self.message
                .lines()
                .filter_map(ValidationError::from_dump_line)
                .collect()
        } else {
            self.detail_list
                .iter()
                .map(ValidationError::from_fastapi)
                .collect()
        };
        Some(match ValidationError::pick(&errors) {
            Some((param, detail)) => (Some(param), detail.as_deref().and_then(safe_detail)),
            None => (self.param.clone(), None),
        })
    }
}

/// OpenAI's codes for its own message wordings (some servers and proxies
/// copy them): "Unsupported value: …" is `unsupported_value`, and so on.
pub(super) fn openai_code(message: &str) -> Option<&'static str> {
    const WORDINGS: [(&str, &str); 8] = [
        ("Unsupported value:", "unsupported_value"),
        ("Unsupported parameter:", "unsupported_parameter"),
        ("Invalid type for '", "invalid_type"),
        ("Missing required parameter:", "missing_required_parameter"),
        ("Invalid value for '", "invalid_value"),
        ("Invalid file data:", "invalid_value"),
        ("Invalid '", "invalid_value"),
        ("Error while downloading ", "invalid_image_url"),
    ];
    WORDINGS
        .iter()
        .find(|(wording, _)| message.starts_with(wording))
        .map(|(_, code)| *code)
}

/// vLLM's `(parameter=stream_options, …)` suffix.
pub(super) fn parameter_suffix(message: &str) -> Option<String> {
    let start = message.rfind("(parameter=")? + "(parameter=".len();
    let name: String = message[start..]
        .chars()
        .take_while(|c| !matches!(c, ',' | ')'))
        .collect();
    (!name.is_empty()).then_some(name)
}

/// vLLM's `body.messages` → `messages`.
pub(super) fn clean_param(param: &str) -> String {
    param.strip_prefix("body.").unwrap_or(param).to_owned()
}

/// OpenAI's codes are snake_case words (`invalid_value`); vLLM and llama.cpp
/// put the status there.
pub(super) fn looks_like_code(code: &str) -> bool {
    !code.is_empty()
        && code.chars().any(|c| c.is_ascii_alphabetic())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
}

pub(super) fn is_validation_dump(message: &str) -> bool {
    message.contains("validation error") && message.contains("'loc': (")
}
