//! Recorded traffic through Portico in front of the mock backend posing as
//! each kind of local server, its errors worded in that kind's dialect
//! (`portico mock-backend --error-dialect`): the same OpenAI answer must come
//! out whatever the backend said. The one allowed difference is a request a
//! kind cannot do at all — several choices (`n` > 1) from a server that
//! answers one — which is that kind's 400 naming `n`, checked here too.
//! (OpenAI's own dialect is `tests/conformance.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use portico::conformance::cassette::load_directory;
use portico::conformance::{run, Options, Outcome};
use portico::mock_backend::dialect::ErrorDialect;

/// The cassettes that ask for `n` = 2 (of identical choices, so they are in
/// scope): a server that answers one choice cannot do them.
const SEVERAL_CHOICES: [&str; 2] = [
    "test_async_chat_completion_multiple_choices",
    "test_chat_completion_multiple_choices",
];

fn cassettes() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/cassettes")
}

/// Ids of the cassettes with an error answer to a request that reaches a
/// backend (POST to Responses, Chat Completions or Embeddings).
fn backend_error_cassettes() -> Vec<String> {
    load_directory(&cassettes())
        .unwrap()
        .into_iter()
        .filter(|cassette| {
            cassette.interactions.iter().any(|interaction| {
                let Some(request) = &interaction.request else {
                    return false;
                };
                let path = request.path.split('?').next().unwrap_or_default();
                request.method == "POST"
                    && ["/responses", "/chat/completions", "/embeddings"]
                        .iter()
                        .any(|end| path.ends_with(end))
                    && interaction.response.status.unwrap_or(200) >= 400
            })
        })
        .map(|cassette| cassette.id)
        .collect()
}

async fn replay_in(dialect: ErrorDialect) {
    let options = Options {
        cassettes: cassettes(),
        target: None,
        api_key: None,
        model: None,
        only: None,
        max_tokens: None,
        dialect: Some(dialect),
    };
    let (results, _) = run(&options).await.unwrap();
    assert!(results.len() > 1000, "the cassettes are missing");
    let one_choice = matches!(
        dialect,
        ErrorDialect::Fastapi | ErrorDialect::Ollama | ErrorDialect::Lmstudio
    );
    let mut failures = Vec::new();
    for result in &results {
        let Outcome::Failed(differences) = &result.outcome else {
            continue;
        };
        let allowed = one_choice
            && SEVERAL_CHOICES.iter().any(|id| result.id.ends_with(id))
            && differences.len() == 1
            && differences[0].contains("status 400 instead of 200")
            && differences[0].contains("'n' is not supported");
        if !allowed {
            failures.push(format!("{}: {}", result.id, differences.join("; ")));
        }
    }
    let errors = backend_error_cassettes();
    let replayed_errors = results
        .iter()
        .filter(|result| errors.contains(&result.id))
        .filter(|result| !matches!(result.outcome, Outcome::OutOfScope(_)))
        .count();
    println!(
        "{dialect}: {} cassettes, {} with a backend's error answer replayed, {} failures",
        results.len(),
        replayed_errors,
        failures.len()
    );
    assert!(
        replayed_errors >= 19,
        "only {replayed_errors} recorded error exchanges were replayed"
    );
    assert!(
        failures.is_empty(),
        "in the {dialect} dialect, {} cassettes differ from OpenAI:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vllm_errors_come_out_as_openais() {
    replay_in(ErrorDialect::Vllm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_vllm_and_sglang_flat_errors_come_out_as_openais() {
    replay_in(ErrorDialect::VllmFlat).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_server_errors_come_out_as_openais() {
    replay_in(ErrorDialect::Llamacpp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_errors_come_out_as_openais() {
    replay_in(ErrorDialect::Ollama).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_cpp_python_and_fastapi_errors_come_out_as_openais() {
    replay_in(ErrorDialect::Fastapi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lm_studio_errors_come_out_as_openais() {
    replay_in(ErrorDialect::Lmstudio).await;
}
