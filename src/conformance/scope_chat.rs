//! Chat Completions cassettes that cannot be replayed faithfully, and why:
//!
//! * several choices (`n` > 1) whose recorded contents differ: the scripted
//!   backend produces one answer (it repeats it for every choice, so cassettes
//!   whose choices agree stay in scope);
//! * OpenAI's hosted extras a gateway has no model for: web search
//!   (`web_search_options`), moderation (`moderation`) and spoken answers
//!   (`audio` output);
//! * recordings that lost an answer's body;
//! * stored completions read from OpenAI's eventually consistent store: the
//!   recording shows a read of a completion just created answered 404 (and the
//!   client retrying), a race Portico, which stores before it answers, does not
//!   have;
//! * lists of stored completions that show completions made outside the
//!   recording (the recording account's history, or other cassettes').

use std::collections::HashSet;

use serde_json::Value;

use crate::conformance::cassette::{Cassette, RecordedRequest};

const COMPLETIONS: &str = "/v1/chat/completions";

/// Why a chat cassette is out of scope, if it is.
pub fn out_of_scope(cassette: &Cassette) -> Option<String> {
    if differing_choices(cassette) {
        return Some(
            "several different choices (n > 1): the scripted backend produces one answer".into(),
        );
    }
    if asks_for(cassette, "web_search_options") {
        return Some("hosted tool web_search (`web_search_options`): Portico runs no tools".into());
    }
    if asks_for(cassette, "moderation") {
        return Some("moderation (`moderation`): OpenAI runs its moderation model alongside; Portico has none".into());
    }
    if asks_for(cassette, "audio") {
        return Some(
            "audio output (`audio`): needs an audio backend the scripted one is not".into(),
        );
    }
    if lost_body(cassette) {
        return Some("the recording lost an answer's body".into());
    }
    stored_completion_reads(cassette)
}

fn chat_requests(cassette: &Cassette) -> impl Iterator<Item = &RecordedRequest> {
    cassette
        .interactions
        .iter()
        .filter_map(|interaction| interaction.request.as_ref())
        .filter(|request| request.method == "POST" && request.path == COMPLETIONS)
}

fn asks_for(cassette: &Cassette, key: &str) -> bool {
    chat_requests(cassette)
        .any(|request| request.body.get(key).is_some_and(|value| !value.is_null()))
}

/// Whether a recorded answer has choices whose texts differ.
fn differing_choices(cassette: &Cassette) -> bool {
    cassette.interactions.iter().any(|interaction| {
        let response = &interaction.response;
        let mut texts: Vec<(u64, String)> = Vec::new();
        let mut add = |choice: &Value, pointer: &str| {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let text = choice
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default();
            match texts.iter_mut().find(|(known, _)| *known == index) {
                Some((_, known)) => known.push_str(text),
                None => texts.push((index, text.to_owned())),
            }
        };
        for choice in choices(&response.body) {
            add(choice, "/message/content");
        }
        for event in response.events.iter().flatten() {
            for choice in choices(&event.data) {
                add(choice, "/delta/content");
            }
        }
        texts.windows(2).any(|pair| pair[0].1 != pair[1].1)
    })
}

fn choices(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Whether a successful chat completion was recorded without its body.
fn lost_body(cassette: &Cassette) -> bool {
    cassette.interactions.iter().any(|interaction| {
        let response = &interaction.response;
        interaction
            .request
            .as_ref()
            .is_some_and(|request| request.path.starts_with(COMPLETIONS))
            && response.status == Some(200)
            && response.body.is_null()
            && response.events.is_none()
    })
}

/// Why the cassette's reads of stored completions cannot be replayed, if so.
fn stored_completion_reads(cassette: &Cassette) -> Option<String> {
    let mut created: HashSet<&str> = HashSet::new();
    let mut deleted: HashSet<&str> = HashSet::new();
    for interaction in &cassette.interactions {
        let Some(request) = &interaction.request else {
            continue;
        };
        let Some(rest) = request.path.strip_prefix(COMPLETIONS) else {
            continue;
        };
        let response = &interaction.response;
        let completion_id = rest
            .strip_prefix('/')
            .and_then(|rest| rest.split('/').next())
            .filter(|id| !id.is_empty());
        match (request.method.as_str(), completion_id) {
            ("POST", None) => {
                if let Some(id) = response.body.get("id").and_then(Value::as_str) {
                    created.insert(id);
                }
            }
            ("GET", None) => {
                let foreign = response
                    .body
                    .get("data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item.get("id").and_then(Value::as_str))
                    .any(|id| !created.contains(id));
                if foreign {
                    return Some("lists stored completions made outside the recording".into());
                }
            }
            ("DELETE", Some(id)) if response.status == Some(200) => {
                deleted.insert(id);
            }
            (_, Some(id))
                if response.status == Some(404)
                    && created.contains(id)
                    && !deleted.contains(id) =>
            {
                return Some("OpenAI's store is eventually consistent: a read of a completion just created was answered 404 and retried (Portico stores before it answers)".into());
            }
            _ => {}
        }
    }
    None
}
