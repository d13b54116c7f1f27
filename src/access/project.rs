//! Who a request acts for: the project of its API key, which owns what the
//! request creates and is the only project whose objects it can read, and how
//! a key is shown in messages.

/// The project everything belongs to when no keys are configured.
pub const DEFAULT_PROJECT: &str = "default";

/// The project of the request's API key, put into request extensions by [`require_api_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project(pub String);

/// Masks a key as OpenAI does: the first few and last four characters.
pub fn mask_key(key: &str) -> String {
    let characters: Vec<char> = key.chars().collect();
    if characters.len() <= 8 {
        return format!("{}****", characters.iter().take(2).collect::<String>());
    }
    let head: String = characters.iter().take(4).collect();
    let tail: String = characters[characters.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask_key;

    #[test]
    fn keys_are_masked_in_messages() {
        assert_eq!(mask_key("sk-secret-team-key"), "sk-s****-key");
        assert_eq!(mask_key("short"), "sh****");
    }
}
