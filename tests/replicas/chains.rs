//! Chains across replicas: nothing is cached in any process. A chain made
//! on replica A continues on replica B (and back), many chains at once,
//! requests sent to A and B directly and concurrently; a response deleted on
//! A is gone on B, and a turn on B can no longer continue it.

use futures::future::join_all;
use serde_json::json;

use crate::client::{get, post};
use crate::set::{cluster, ReplicaSet};

/// Three turns of one chain, alternating between the two replicas.
async fn chain(replicas: [&str; 2], number: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for turn in 0..3 {
        let replica = replicas[(number + turn) % 2];
        let mut body =
            json!({"model": "m", "input": format!("chain {number} turn {turn}"), "store": true});
        if let Some(previous) = ids.last() {
            body["previous_response_id"] = json!(previous);
        }
        let (status, response) = post(&format!("{replica}/v1/responses"), body).await;
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
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(cluster, 2, "");
    let (a, b) = (set.url(0).to_owned(), set.url(1).to_owned());

    let chains = join_all((0..12).map(|number| chain([&a, &b], number))).await;
    for (number, ids) in chains.iter().enumerate() {
        // Read on the replica that did not make the last turn.
        let reader = [&a, &b][(number + 3) % 2];
        let (status, items) = get(&format!(
            "{reader}/v1/responses/{}/input_items?order=asc",
            ids[2]
        ))
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
    let (status, _) = crate::client::call(
        "DELETE",
        &format!("{a}/v1/responses/{last}"),
        None,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = get(&format!("{b}/v1/responses/{last}")).await;
    assert_eq!(status, 404, "deleted on A, still found on B");
    let (status, refused) = post(
        &format!("{b}/v1/responses"),
        json!({"model": "m", "input": "after the deletion", "previous_response_id": last}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["param"], "previous_response_id",
        "{refused}"
    );
}
