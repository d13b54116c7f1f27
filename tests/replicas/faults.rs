//! Faults across replicas (leases of 2 s, polling every 200 ms):
//! * the owner of a background response killed mid-stream: a client of the
//!   load balancer resumes and reaches the terminal event, which another
//!   replica wrote when it took the work over; that replica also fails the
//!   killed one's Assistants run and releases its conversation's mark;
//! * the owner stalled (SIGSTOP) past its lease, then continued: its late
//!   writes are refused, one final state stays;
//! * a cancel on one replica racing the finish on another, over and over:
//!   one final state, one terminal event, matching;
//! * PostgreSQL restarted under load: requests wait up to 5 s for it, then
//!   get a clear 503 (never a 500, never a hang); nothing committed lost;
//!   every replica serving again after;
//! * the signal connection killed: cancels still arrive, by polling first
//!   and by signal again once it has reconnected.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};

use crate::client::{events, get, is_terminal, post, sequence, stream, wait_for_status, Event};
use crate::nginx::LoadBalancer;
use crate::postgres_cluster;
use crate::set::{cluster, within, ReplicaSet};

/// A slow answer: `words` words, `delay_ms` apart.
fn slow(words: usize, delay_ms: u64) -> Value {
    let content: Vec<String> = (0..words).map(|word| format!("w{word}")).collect();
    json!({"content": content.join(" "), "chunk_delay_ms": delay_ms})
}

async fn queue(url: &str, body: Value) -> String {
    let (status, queued) = post(&format!("{url}/v1/responses"), body).await;
    assert_eq!(status, 200, "{queued}");
    queued["id"].as_str().unwrap().to_owned()
}

/// Reads SSE from `url` until the stream ends or breaks; the events read.
async fn read_until_broken(
    url: &str,
    mut stop_after: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
) -> Vec<Event> {
    let mut answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status(), 200, "{url}");
    let mut text = String::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(None) | Err(_) => break,
        }
        let complete = &text[..text.rfind("\n\n").map_or(0, |end| end + 2)];
        if let Some((count, _)) = &stop_after {
            if events(complete).len() >= *count {
                let (_, signal) = stop_after.take().unwrap();
                let _ = signal.send(());
            }
        }
    }
    let complete = &text[..text.rfind("\n\n").map_or(0, |end| end + 2)];
    events(complete)
}

#[tokio::test]
async fn a_killed_owner_s_work_is_taken_over_and_a_client_resumes_through_the_load_balancer() {
    let Some(cluster) = cluster() else {
        return;
    };
    let mut set = ReplicaSet::start(cluster, 1, "");
    let a = set.url(0).to_owned();
    // On A: a background response in a conversation, and an Assistants run.
    set.script(json!([slow(300, 50), slow(300, 50)])).await;
    let (_, conversation) = post(&format!("{a}/v1/conversations"), json!({})).await;
    let conversation = conversation["id"].as_str().unwrap().to_owned();
    let id = queue(
        &a,
        json!({"model": "m", "input": "long", "background": true, "conversation": conversation}),
    )
    .await;
    wait_for_status(&a, &id, "in_progress").await;
    let (_, assistant) = post(&format!("{a}/v1/assistants"), json!({"model": "m"})).await;
    let (_, run) = post(
        &format!("{a}/v1/threads/runs"),
        json!({"assistant_id": assistant["id"], "thread": {"messages": [{"role": "user", "content": "hi"}]}}),
    )
    .await;
    let (thread, run_id) = (
        run["thread_id"].as_str().unwrap().to_owned(),
        run["id"].as_str().unwrap().to_owned(),
    );
    within(Duration::from_secs(10), "the run in progress", || async {
        get(&format!("{a}/v1/threads/{thread}/runs/{run_id}"))
            .await
            .1["status"]
            == "in_progress"
    })
    .await;
    let b_index = set.add();
    let b = set.url(b_index).to_owned();
    let Some(balancer) = LoadBalancer::start(&set.addresses()) else {
        return;
    };
    let lb = format!("http://{}", balancer.address);

    // A client follows through the load balancer; A dies after 5 events.
    let (seen_five, five) = tokio::sync::oneshot::channel();
    let url = format!("{lb}/v1/responses/{id}?stream=true");
    let reading = tokio::spawn(async move { read_until_broken(&url, Some((5, seen_five))).await });
    five.await.unwrap();
    set.signal(0, "KILL");
    let killed = Instant::now();
    let mut received = reading.await.unwrap();
    // Resumed through the balancer (A refuses connections: B answers) until the end.
    while !received.last().is_some_and(|(name, _)| is_terminal(name)) {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no terminal event: {received:?}\n{}",
            set.logs()
        );
        let last = sequence(&received).last().copied().unwrap();
        let rest = read_until_broken(
            &format!("{lb}/v1/responses/{id}?stream=true&starting_after={last}"),
            None,
        )
        .await;
        received.extend(rest);
    }
    eprintln!(
        "the killed replica's response ended {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(
        sequence(&received),
        (0..received.len() as u64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let (name, terminal) = received.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(
        terminal["response"]["error"]["code"], "server_error",
        "{terminal}"
    );
    let (_, stored) = get(&format!("{b}/v1/responses/{id}")).await;
    assert_eq!(stored["status"], "failed");
    // The conversation's mark was released with it: the next turn runs on B.
    set.script(json!({"content": "again"})).await;
    let (status, next) = post(
        &format!("{b}/v1/responses"),
        json!({"model": "m", "input": "next", "conversation": conversation}),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    // And the run A was running failed with a clear error.
    within(
        Duration::from_secs(10),
        "the killed replica's run failed",
        || async {
            let (_, run) = get(&format!("{b}/v1/threads/{thread}/runs/{run_id}")).await;
            run["status"] == "failed" && run["last_error"]["code"] == "server_error"
        },
    )
    .await;
}

#[tokio::test]
async fn a_replica_stalled_past_its_lease_is_fenced_when_it_wakes() {
    let Some(cluster) = cluster() else {
        return;
    };
    let mut set = ReplicaSet::start(cluster, 1, "");
    let a = set.url(0).to_owned();
    set.script(slow(60, 50)).await;
    let id = queue(&a, json!({"model": "m", "input": "x", "background": true})).await;
    wait_for_status(&a, &id, "in_progress").await;
    let b_index = set.add();
    let b = set.url(b_index).to_owned();
    set.signal(0, "STOP");
    let stopped = Instant::now();
    wait_for_status(&b, &id, "failed").await;
    eprintln!(
        "B took over the stalled replica's response {:?} after SIGSTOP",
        stopped.elapsed()
    );
    set.signal(0, "CONT");
    // A wakes mid-answer (3 s of it left): its writes must be refused.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, on_a) = get(&format!("{a}/v1/responses/{id}")).await;
    let (_, on_b) = get(&format!("{b}/v1/responses/{id}")).await;
    assert_eq!(on_a["status"], "failed", "{on_a}\n{}", set.logs());
    assert_eq!(on_a, on_b);
    let log = stream(&format!("{b}/v1/responses/{id}?stream=true")).await;
    assert_eq!(
        log.iter().filter(|(name, _)| is_terminal(name)).count(),
        1,
        "{log:?}"
    );
    assert_eq!(log.last().unwrap().0, "response.failed");
    assert_eq!(sequence(&log), (0..log.len() as u64).collect::<Vec<_>>());
    assert!(
        set.logs().contains("no longer this owner's"),
        "A was not fenced:\n{}",
        set.logs()
    );
}

#[tokio::test]
async fn a_cancel_racing_the_finish_on_another_replica_leaves_one_final_state() {
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(cluster, 2, "");
    let (a, b) = (set.url(0).to_owned(), set.url(1).to_owned());
    let mut outcomes = Vec::new();
    for round in 0..12_u64 {
        set.script(slow(6, 15)).await;
        let id = queue(
            &a,
            json!({"model": "m", "input": "race", "background": true}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(round * 15)).await;
        let (status, answer) = post(&format!("{b}/v1/responses/{id}/cancel"), json!({})).await;
        assert!(status == 200 || status == 400, "{status} {answer}");
        within(Duration::from_secs(10), "a final status", || async {
            let (_, stored) = get(&format!("{a}/v1/responses/{id}")).await;
            !matches!(stored["status"].as_str(), Some("queued" | "in_progress"))
        })
        .await;
        let (_, stored) = get(&format!("{a}/v1/responses/{id}")).await;
        let log = stream(&format!("{b}/v1/responses/{id}?stream=true")).await;
        let terminals: Vec<&Event> = log.iter().filter(|(name, _)| is_terminal(name)).collect();
        assert!(terminals.len() <= 1, "round {round}: {log:?}");
        if let Some((name, event)) = terminals.first() {
            assert_eq!(
                log.last().unwrap().0,
                *name,
                "round {round}: the terminal event is last"
            );
            assert_eq!(
                event["response"]["status"], stored["status"],
                "round {round}"
            );
        } else {
            assert_eq!(
                stored["status"], "cancelled",
                "round {round}: cancelled before it ran"
            );
        }
        outcomes.push(stored["status"].as_str().unwrap().to_owned());
    }
    eprintln!("cancel-versus-finish outcomes: {outcomes:?}");
}

#[tokio::test]
async fn a_postgres_restart_under_load_is_503s_then_service_with_nothing_lost() {
    let Some(own) = postgres_cluster::private_cluster() else {
        cluster(); // says the replica tests were skipped
        return;
    };
    let set = ReplicaSet::start(&own, 2, "");
    let urls = [set.url(0).to_owned(), set.url(1).to_owned()];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = (0..4).map(|worker| {
        let (url, stop) = (urls[worker % 2].clone(), stop.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap();
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = client
                    .post(format!("{url}/v1/responses"))
                    .json(&json!({"model": "m", "input": "under load", "store": true}))
                    .send()
                    .await
                    .expect("a request hung or its connection broke");
                let status = answer.status().as_u16();
                let body: Value = answer.json().await.unwrap_or_default();
                seen.push((status, body));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    });
    let load: Vec<_> = load.collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restart = tokio::task::spawn_blocking(move || {
        // Down longer than a replica waits for a connection (5 s).
        own.restart(Duration::from_secs(7));
        own
    });
    let own = restart.await.unwrap();
    // Serving again on both replicas, soon.
    for url in &urls {
        within(
            Duration::from_secs(15),
            "served again after the restart",
            || async {
                post(
                    &format!("{url}/v1/responses"),
                    json!({"model": "m", "input": "after"}),
                )
                .await
                .0 == 200
            },
        )
        .await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: Vec<(u16, Value)> = join_all(load)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    let unavailable = seen.iter().filter(|(status, _)| *status == 503).count();
    for (status, body) in &seen {
        assert!(
            *status == 200 || *status == 503,
            "{status}: {body}\n{}",
            set.logs()
        );
        if *status == 503 {
            assert_eq!(body["error"]["type"], "server_error", "{body}");
        }
    }
    assert!(
        unavailable > 0,
        "nothing noticed the restart: {:?}\n{}",
        seen.iter().map(|(status, _)| status).collect::<Vec<_>>(),
        set.logs()
    );
    // Every answered response is there, on either replica.
    for (_, body) in seen.iter().filter(|(status, _)| *status == 200) {
        let id = body["id"].as_str().unwrap();
        let (status, stored) = get(&format!("{}/v1/responses/{id}", urls[1])).await;
        assert_eq!(status, 200, "{id} lost: {stored}");
    }
    eprintln!(
        "PostgreSQL restart under load: {} answered, {unavailable} clear 503s",
        seen.len() - unavailable
    );
    drop(set);
    drop(own);
}

#[tokio::test]
async fn cancels_arrive_after_the_signal_connection_is_killed() {
    let Some(cluster) = cluster() else {
        return;
    };
    let mut set = ReplicaSet::start(cluster, 1, "");
    let a = set.url(0).to_owned();
    set.script(json!([slow(200, 50), slow(200, 50)])).await;
    let first = queue(
        &a,
        json!({"model": "m", "input": "one", "background": true}),
    )
    .await;
    let second = queue(
        &a,
        json!({"model": "m", "input": "two", "background": true}),
    )
    .await;
    wait_for_status(&a, &first, "in_progress").await;
    wait_for_status(&a, &second, "in_progress").await;
    let b_index = set.add();
    let b = set.url(b_index).to_owned();
    let killed = cluster.execute(
        &set.database,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    assert_ne!(killed.trim(), "0", "no listening connection found");
    // At once: the signal may be lost, polling catches it.
    let started = Instant::now();
    let (status, cancelled) = post(&format!("{b}/v1/responses/{first}/cancel"), json!({})).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // Later, reconnected: by signal again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let (status, cancelled) = post(&format!("{b}/v1/responses/{second}/cancel"), json!({})).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}
