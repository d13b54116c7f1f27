//! Background responses across replicas: whichever replica runs one, every
//! replica streams it with the owner's events and sequence numbers, resumes
//! it after any of them, reads it while it runs, and cancels it (the owner's
//! backend request closes within a second).

use std::time::Duration;

use futures::future::join_all;
use serde_json::json;

use crate::client::{get, is_terminal, post, sequence, stream, wait_for_status};
use crate::set::{cluster, within, ReplicaSet};

/// A slow answer: `words` words, `delay_ms` apart.
fn slow(words: usize, delay_ms: u64) -> serde_json::Value {
    let content: Vec<String> = (0..words).map(|word| format!("w{word}")).collect();
    json!({"content": content.join(" "), "chunk_delay_ms": delay_ms})
}

/// Queues a background response on `url`; its id.
async fn queue(url: &str, input: &str) -> String {
    let (status, queued) = post(
        &format!("{url}/v1/responses"),
        json!({"model": "m", "input": input, "background": true}),
    )
    .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["status"], "queued");
    queued["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_background_response_streams_alike_from_every_replica_and_resumes_anywhere() {
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(cluster, 2, "");
    let (a, b) = (set.url(0).to_owned(), set.url(1).to_owned());
    set.script(slow(30, 40)).await;
    let id = queue(&a, "Count.").await;
    // Followed from both replicas at once, while it runs, and polled on each.
    let follow = |url: String| {
        let id = id.clone();
        async move { stream(&format!("{url}/v1/responses/{id}?stream=true")).await }
    };
    let polls = async {
        wait_for_status(&a, &id, "in_progress").await;
        let (_, on_b) = get(&format!("{b}/v1/responses/{id}")).await;
        assert!(
            matches!(on_b["status"].as_str(), Some("in_progress" | "completed")),
            "{on_b}"
        );
    };
    let (streams, ()) = tokio::join!(join_all([follow(a.clone()), follow(b.clone())]), polls);
    let (on_a, on_b) = (&streams[0], &streams[1]);
    assert!(!on_a.is_empty());
    assert_eq!(
        on_a,
        on_b,
        "A and B streamed different events\n{}",
        set.logs()
    );
    assert_eq!(
        sequence(on_a),
        (0..on_a.len() as u64).collect::<Vec<_>>(),
        "sequence numbers from 0 without a gap"
    );
    assert_eq!(on_a.last().unwrap().0, "response.completed");
    assert_eq!(on_a.iter().filter(|(name, _)| is_terminal(name)).count(), 1);
    // Resumed on B after any event: the rest, as A sent it.
    let resumed = stream(&format!(
        "{b}/v1/responses/{id}?stream=true&starting_after=5"
    ))
    .await;
    assert_eq!(resumed, on_a[6..]);
    let (_, done_a) = get(&format!("{a}/v1/responses/{id}")).await;
    let (_, done_b) = get(&format!("{b}/v1/responses/{id}")).await;
    assert_eq!(done_a, done_b);
    assert_eq!(done_a["status"], "completed");
}

#[tokio::test]
async fn background_streams_opened_on_either_replica_reach_their_end_whoever_runs_them() {
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(cluster, 2, "");
    set.script(json!((0..8).map(|_| slow(6, 10)).collect::<Vec<_>>()))
        .await;
    let opened = (0..8).map(|number| {
        let url = set.url(number % 2).to_owned();
        async move {
            let answer = reqwest::Client::new()
                .post(format!("{url}/v1/responses"))
                .json(&json!({"model": "m", "input": "go", "background": true, "stream": true}))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            crate::client::events(&answer.text().await.unwrap())
        }
    });
    for events in join_all(opened).await {
        assert_eq!(
            sequence(&events),
            (0..events.len() as u64).collect::<Vec<_>>()
        );
        assert_eq!(events.first().unwrap().0, "response.created");
        assert_eq!(events.last().unwrap().0, "response.completed");
    }
}

#[tokio::test]
async fn a_cancel_on_b_stops_the_backend_request_of_the_response_a_runs_within_a_second() {
    let Some(cluster) = cluster() else {
        return;
    };
    // Only A is up when the response is queued: A runs it.
    let mut set = ReplicaSet::start(cluster, 1, "");
    let a = set.url(0).to_owned();
    set.script(slow(200, 50)).await;
    let id = queue(&a, "Go on.").await;
    wait_for_status(&a, &id, "in_progress").await;
    let added = set.add();
    let b = set.url(added).to_owned();
    // B's start did not touch A's running work.
    let (_, running) = get(&format!("{b}/v1/responses/{id}")).await;
    assert_eq!(running["status"], "in_progress", "{running}");
    let before = set.mock_stats().await["disconnected_streams"]
        .as_u64()
        .unwrap();
    let started = std::time::Instant::now();
    let stopped = async {
        within(
            Duration::from_secs(1),
            "A's backend request closed",
            || async {
                set.mock_stats().await["disconnected_streams"]
                    .as_u64()
                    .unwrap()
                    > before
            },
        )
        .await
    };
    let cancel_url = format!("{b}/v1/responses/{id}/cancel");
    let ((status, cancelled), stopped) = tokio::join!(post(&cancel_url, json!({})), stopped);
    assert_eq!(status, 200, "{cancelled}\n{}", set.logs());
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    eprintln!(
        "cancel on B: A's backend request closed {stopped:?} after it was sent; answered after {:?}",
        started.elapsed()
    );
    let (_, on_a) = get(&format!("{a}/v1/responses/{id}")).await;
    assert_eq!(on_a["status"], "cancelled");
    // Its stream, replayed on B, ends where A stopped it (a cancelled
    // response has no terminal event), with the item closed incomplete.
    let events = stream(&format!("{b}/v1/responses/{id}?stream=true")).await;
    assert_eq!(
        sequence(&events),
        (0..events.len() as u64).collect::<Vec<_>>()
    );
    assert!(
        !events.iter().any(|(name, _)| is_terminal(name)),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap().0, "response.output_item.done");
}
