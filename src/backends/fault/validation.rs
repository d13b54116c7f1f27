//! Validation failures (a pydantic dump in a message, or FastAPI's
//! `{"detail": [{loc, msg}]}`): which of their errors tells what is wrong, and
//! its parameter in OpenAI's spelling.

use serde_json::Value;

/// One error of a validation failure.
#[derive(Debug)]
pub(super) struct ValidationError {
    kind: String,
    location: Vec<LocationPart>,
    message: String,
}

impl ValidationError {
    /// `{'type': 'string_type', 'loc': ('body', 'messages', 1, 'X', 'content'), 'msg': '…', …}`
    pub(super) fn from_dump_line(line: &str) -> Option<Self> {
        let kind = quoted_after(line, "'type': ")?;
        let start = line.find("'loc': (")? + "'loc': (".len();
        let inside = line[start..].split(')').next().unwrap_or_default();
        let location = inside
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| match part.parse::<u64>() {
                Ok(index) => LocationPart::Index(index),
                Err(_) => LocationPart::Name(part.trim_matches('\'').to_owned()),
            })
            .collect();
        let message = quoted_after(line, "'msg': ").unwrap_or_default();
        Some(Self {
            kind,
            location,
            message,
        })
    }

    /// `{"loc": ["body", "messages", 1, "content"], "msg": "…", "type": "…"}`
    pub(super) fn from_fastapi(item: &Value) -> Self {
        let text = |key: &str| {
            item.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let location = item
            .get("loc")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|part| match part {
                Value::Number(index) => LocationPart::Index(index.as_u64().unwrap_or(0)),
                other => LocationPart::Name(other.as_str().unwrap_or_default().to_owned()),
            })
            .collect();
        Self {
            kind: text("type"),
            location,
            message: text("msg"),
        }
    }

    pub(super) fn about_role(&self) -> bool {
        self.kind == "literal_error"
            && matches!(self.location.last(), Some(LocationPart::Name(name)) if name == "role")
    }

    /// pydantic tries a message against every member of a union (system,
    /// user, assistant, tool, function) and reports each failure: "Input
    /// should be 'user'" on the role and "Field required" for another
    /// member's fields say only that the message is not that member. The
    /// error that tells what is wrong is the first of any other kind; when
    /// there is none, the role itself is refused, and the roles accepted are
    /// the ones the role errors expected.
    pub(super) fn pick(errors: &[Self]) -> Option<(String, Option<String>)> {
        if let Some(error) = errors
            .iter()
            .find(|error| !error.about_role() && error.kind != "missing")
        {
            return Some((error.param(), Some(error.message.clone())));
        }
        let roles: Vec<&Self> = errors.iter().filter(|error| error.about_role()).collect();
        let first = roles.first().copied().or_else(|| errors.first())?;
        let accepted: Vec<String> = roles
            .iter()
            .filter_map(|error| quoted_after(&error.message, "Input should be "))
            .map(|role| format!("'{role}'"))
            .collect();
        let detail = match accepted.as_slice() {
            [] | [_] => first.message.clone(),
            [rest @ .., last] => format!("Input should be {} or {last}", rest.join(", ")),
        };
        Some((first.param(), Some(detail)))
    }

    pub(super) fn param(&self) -> String {
        param_from_location(self.location.iter().map(|part| match part {
            LocationPart::Name(name) => LocationPart::Name(name.clone()),
            LocationPart::Index(index) => LocationPart::Index(*index),
        }))
    }
}

/// The Python string literal right after `marker` (quoted with ' or ").
pub(super) fn quoted_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = rest[1..].find(quote)?;
    Some(rest[1..=end].to_owned())
}

#[derive(Debug)]
pub(super) enum LocationPart {
    Name(String),
    Index(u64),
}

/// `('body', 'messages', 0, 'ChatCompletionRequestSystemMessage', 'role')` →
/// `messages[0].role`: `body` and pydantic's model names (capitalized) left out.
pub(super) fn param_from_location(parts: impl Iterator<Item = LocationPart>) -> String {
    let mut param = String::new();
    for part in parts {
        match part {
            LocationPart::Index(index) => param.push_str(&format!("[{index}]")),
            LocationPart::Name(name) => {
                if name.is_empty()
                    || name == "body"
                    || name.starts_with(|first: char| first.is_ascii_uppercase())
                {
                    continue;
                }
                if !param.is_empty() {
                    param.push('.');
                }
                param.push_str(&name);
            }
        }
    }
    param
}
