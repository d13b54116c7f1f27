//! A query string as name/value pairs, and OpenAI's rules for the list
//! parameters every list endpoint shares (`limit`, `order`) and for booleans
//! and counts given in a query.

use crate::wire::error::ApiError;

/// A query string as name/value pairs (`include[]=a&include[]=b` repeats a name);
/// a malformed query is a 400 envelope.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

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

/// A cursor list query (`after`, `before`, `limit`, `order`).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub after: Option<String>,
    pub before: Option<String>,
    pub limit: usize,
    pub descending: bool,
}

/// One page of bodies and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}
