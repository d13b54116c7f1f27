//! The `encrypted_content` of this server's `compaction` items: OpenAI's is
//! encrypted; Portico's is only encoded (`pcmp1.` and the summary in base64),
//! since it goes back to the client that asked for it. `/v1/responses/compact`
//! seals a summary; an input item's content is read back here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The prefix of Portico's `encrypted_content`.
pub const SEAL: &str = "pcmp1.";

/// The `encrypted_content` that carries `summary`.
pub fn seal(summary: &str) -> String {
    format!("{SEAL}{}", URL_SAFE_NO_PAD.encode(summary))
}

/// The summary a compaction item of this server carries; `None` for anything
/// else (another server's, or a damaged one).
pub fn summary_of(encrypted_content: &str) -> Option<String> {
    let encoded = encrypted_content.strip_prefix(SEAL)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_summary_reads_back_and_nothing_else_does() {
        let summary = "The user wants a landing page — café, dogs, \"petting\".";
        assert_eq!(summary_of(&seal(summary)).as_deref(), Some(summary));
        assert_eq!(summary_of("gAAAAABencrypted-by-openai"), None);
        assert_eq!(summary_of("pcmp1.***"), None);
    }
}
