//! The request id: the client's `x-request-id` when it is sane (1 to 128
//! characters among letters, digits and `-_.:+/=@`), otherwise a new one,
//! `req_` followed by 32 hex digits. Every answer carries it back in
//! `x-request-id`, and every log line of the request carries it in its span.

use axum::http::{HeaderMap, HeaderValue};

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest client id accepted.
pub const MAX_LEN: usize = 128;

/// The id of the request being served (in the request's extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The client's id if it is sane, else a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(HEADER)
            .and_then(accepted)
            .map_or_else(Self::generate, Self)
    }

    /// A new id: `req_` and 32 hex digits.
    pub fn generate() -> Self {
        Self(format!("req_{}", uuid::Uuid::new_v4().simple()))
    }

    /// The id as a header value.
    pub fn header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.0).ok()
    }
}

/// The client's id, if it is of a sane length and charset.
pub fn accepted(value: &HeaderValue) -> Option<String> {
    let bytes = value.as_bytes();
    let sane = (1..=MAX_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:+/=@".contains(byte));
    sane.then(|| String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(value: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
        RequestId::from_headers(&headers).0
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        for id in [
            "abc",
            "9f1c2d3e-aaaa-bbbb-cccc-000000000000",
            "trace:1/2+x=@y_z.0",
        ] {
            assert_eq!(id_for(id), id);
        }
        assert_eq!(id_for(&"a".repeat(MAX_LEN)), "a".repeat(MAX_LEN));
    }

    #[test]
    fn an_insane_client_id_is_replaced() {
        for id in [
            "",
            "has space",
            "quote\"",
            "semi;colon",
            "é".repeat(2).as_str(),
            &"a".repeat(MAX_LEN + 1),
        ] {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(id) {
                headers.insert(HEADER, value);
            }
            let generated = RequestId::from_headers(&headers).0;
            assert_ne!(generated, id);
            assert!(generated.starts_with("req_"), "{generated}");
        }
    }

    #[test]
    fn a_generated_id_is_req_and_32_hex_digits() {
        let RequestId(id) = RequestId::generate();
        let hex = id.strip_prefix("req_").unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.chars().all(|character| character.is_ascii_hexdigit()));
        assert_ne!(RequestId::generate().0, id);
    }
}
