//! Unit tests of `BackendCall`: outcomes, time to first token, tokens, error kinds.
use super::*;
use crate::wire::chat_events::TokenUsage;
use futures::StreamExt;

fn events(items: Vec<Result<ChatEvent, BackendError>>) -> ChatEventStream {
    Box::pin(futures::stream::iter(items))
}

#[tokio::test]
async fn a_stream_read_to_its_end_counts_success_tokens_and_its_first_token() {
    let metrics = Metrics::new();
    let call = metrics.backend_call("m", "b");
    let usage = TokenUsage {
        prompt_tokens: 7,
        completion_tokens: 3,
        ..TokenUsage::default()
    };
    let stream = call.observe(events(vec![
        Ok(ChatEvent::TextDelta("hi".into())),
        Ok(ChatEvent::Usage(usage)),
    ]));
    assert_eq!(stream.collect::<Vec<_>>().await.len(), 2);
    let text = metrics.render();
    assert!(
        text.contains(
            "portico_backend_requests_total{model=\"m\",backend=\"b\",outcome=\"success\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("portico_time_to_first_token_seconds_count{model=\"m\",backend=\"b\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("portico_tokens_total{model=\"m\",backend=\"b\",direction=\"input\"} 7\n"),
        "{text}"
    );
    assert!(
        text.contains("portico_tokens_total{model=\"m\",backend=\"b\",direction=\"output\"} 3\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_broken_stream_counts_one_error_of_kind_stream() {
    let metrics = Metrics::new();
    let stream = metrics.backend_call("m", "b").observe(events(vec![
        Ok(ChatEvent::TextDelta("hi".into())),
        Err(BackendError::Stream("reset".into())),
    ]));
    let _ = stream.collect::<Vec<_>>().await;
    let text = metrics.render();
    assert!(text.contains("outcome=\"error\"} 1\n"), "{text}");
    assert!(!text.contains("outcome=\"success\""), "{text}");
    assert!(
        text.contains("portico_backend_errors_total{backend=\"b\",kind=\"stream\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_call_dropped_before_its_end_counts_as_cancelled() {
    let metrics = Metrics::new();
    let mut stream = metrics.backend_call("m", "b").observe(events(vec![
        Ok(ChatEvent::TextDelta("a".into())),
        Ok(ChatEvent::TextDelta("b".into())),
    ]));
    let _ = stream.next().await;
    drop(stream);
    assert!(metrics.render().contains("outcome=\"cancelled\"} 1\n"));
}

#[test]
fn a_failure_before_answering_counts_its_kind() {
    let metrics = Metrics::new();
    let call = metrics.backend_call("m", "b");
    let error = call.failed(BackendError::Unreachable("refused".into()));
    assert!(matches!(error, BackendError::Unreachable(_)));
    drop(call);
    let text = metrics.render();
    assert!(text.contains("kind=\"unreachable\"} 1\n"), "{text}");
    assert!(text.contains("outcome=\"error\"} 1\n"), "{text}");
    assert!(!text.contains("outcome=\"cancelled\""), "{text}");
}

#[test]
fn relayed_chunks_give_usage_and_error_chunks_fail() {
    let metrics = Metrics::new();
    let call = metrics.backend_call("m", "b");
    call.observe_chunk(
        &serde_json::json!({"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1}}),
    );
    call.succeeded();
    let failing = metrics.backend_call("m", "b");
    failing.observe_chunk(&serde_json::json!({"error": {"message": "boom"}}));
    let text = metrics.render();
    assert!(text.contains("direction=\"input\"} 2\n"), "{text}");
    assert!(text.contains("outcome=\"success\"} 1\n"), "{text}");
    assert!(text.contains("outcome=\"error\"} 1\n"), "{text}");
}
