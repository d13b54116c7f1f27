//! Several `portico serve` processes on one PostgreSQL database: what holds
//! with the PostgreSQL store alone, nothing cached in any process. A chain
//! made on replica A continues on replica B (and back), many chains at once,
//! requests sent to A and B directly and concurrently; a response deleted on
//! A is gone on B, and a turn on B can no longer continue it.
//!
//! Background work, cancel, live streams, limits and suspensions across
//! replicas need a shared coordinator, which is not written yet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::future::join_all;
use serde_json::{json, Value};

#[path = "support/binary.rs"]
mod binary;
#[path = "support/postgres.rs"]
mod postgres_cluster;

use binary::start;

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let answer = client.post(url).json(&body).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let answer = client.get(url).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// Three turns of one chain, alternating between the two replicas.
async fn chain(client: &reqwest::Client, replicas: [&str; 2], number: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for turn in 0..3 {
        let replica = replicas[(number + turn) % 2];
        let mut body =
            json!({"model": "m", "input": format!("chain {number} turn {turn}"), "store": true});
        if let Some(previous) = ids.last() {
            body["previous_response_id"] = json!(previous);
        }
        let (status, response) = post(client, &format!("{replica}/v1/responses"), body).await;
        assert_eq!(
            status, 200,
            "chain {number} turn {turn} on {replica}: {response}"
        );
        ids.push(response["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn chains_continue_across_replicas_and_a_deletion_is_seen_by_every_replica() {
    let Some(cluster) = postgres_cluster::cluster() else {
        eprintln!("\n*** SKIPPED: replicas on PostgreSQL (no PostgreSQL server binaries on this machine) ***\n");
        return;
    };
    let database = cluster.new_database();
    let (mut mock, mock_url) = start(&["mock-backend", "--listen", "127.0.0.1:0"]);
    let backend = format!("{mock_url}/v1");
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        &database,
        "--backend",
        &backend,
    ];
    let (mut first, a) = start(&serve);
    let (mut second, b) = start(&serve);
    let client = reqwest::Client::new();

    let chains = join_all((0..12).map(|number| chain(&client, [&a, &b], number))).await;
    for (number, ids) in chains.iter().enumerate() {
        // Read on the replica that did not make the last turn.
        let reader = [&a, &b][(number + 3) % 2];
        let (status, items) = get(
            &client,
            &format!("{reader}/v1/responses/{}/input_items?order=asc", ids[2]),
        )
        .await;
        assert_eq!(status, 200, "{items}");
        let texts: Vec<String> = items["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["role"] == "user")
            .map(|item| {
                item["content"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            texts,
            (0..3)
                .map(|turn| format!("chain {number} turn {turn}"))
                .collect::<Vec<_>>(),
            "chain {number} as read on {reader}"
        );
    }

    let last = &chains[0][2];
    let deleted = client
        .delete(format!("{a}/v1/responses/{last}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let (status, _) = get(&client, &format!("{b}/v1/responses/{last}")).await;
    assert_eq!(status, 404, "deleted on A, still found on B");
    let (status, refused) = post(
        &client,
        &format!("{b}/v1/responses"),
        json!({"model": "m", "input": "after the deletion", "previous_response_id": last}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["param"], "previous_response_id",
        "{refused}"
    );

    for child in [&mut first, &mut second, &mut mock] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
