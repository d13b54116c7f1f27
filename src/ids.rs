//! Object ids with OpenAI's prefixes (`resp_`, `msg_`, `fc_`, `rs_`, `call_`,
//! `chatcmpl-`). The random part is hex, long enough to never collide.

use uuid::Uuid;

/// A new id: `prefix` followed by 48 hex digits (OpenAI's ids are of that length).
pub fn new_id(prefix: &str) -> String {
    let first = Uuid::new_v4().simple();
    let second = Uuid::new_v4().simple();
    let mut id = String::with_capacity(prefix.len() + 48);
    id.push_str(prefix);
    id.push_str(&first.to_string());
    id.push_str(&second.to_string()[..16]);
    id
}

/// Seconds since the Unix epoch, as OpenAI's `created_at`.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_differ() {
        let a = new_id("resp_");
        let b = new_id("resp_");
        assert!(a.starts_with("resp_"));
        assert_eq!(a.len(), "resp_".len() + 48);
        assert_ne!(a, b);
    }
}
