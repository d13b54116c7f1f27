//! What of a backend's own words may be shown to a client: one short line with
//! no traceback, file path or validation dump.

/// The backend's message, if it can be shown to a client: its first line, at
/// most 300 characters, with no traceback, file path or validation dump in it.
pub fn safe_detail(message: &str) -> Option<String> {
    let line = message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())?;
    let lower = line.to_lowercase();
    let leaks = [
        "traceback",
        "file \"",
        "site-packages",
        "validation error",
        "'loc':",
        "{'type':",
        "exception",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
        || line.split_whitespace().any(looks_like_path);
    if leaks {
        return None;
    }
    let mut detail: String = line.chars().take(300).collect();
    if detail.len() < line.len() {
        detail.push('…');
    }
    Some(detail)
}

/// `/usr/lib/x.py`, `C:\x\y.cpp`, `ggml-cuda.cu:123`, `app/server.py`: a
/// source location or a file path (a URL is not one).
fn looks_like_path(word: &str) -> bool {
    let word = word.trim_matches(|c: char| "\"'`(),;".contains(c));
    if word.contains("://") {
        return false;
    }
    let has_extension = |name: &str| {
        name.rsplit_once('.').is_some_and(|(stem, extension)| {
            !stem.is_empty()
                && (1..=4).contains(&extension.len())
                && extension.chars().all(|c| c.is_ascii_alphanumeric())
                && extension.chars().any(|c| c.is_ascii_alphabetic())
        })
    };
    let source_location = word.rsplit_once(':').is_some_and(|(file, line)| {
        !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()) && has_extension(file)
    });
    let file_path =
        (word.contains('/') || word.contains('\\')) && has_extension(word.trim_end_matches('.'));
    let absolute = (word.starts_with('/') && word[1..].contains('/'))
        || word.contains(":\\")
        || word.starts_with("~/");
    source_location || file_path || absolute
}
