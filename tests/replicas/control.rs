//! The control plane across replicas: a key's rate limit counts every
//! replica's requests (sent at once to both); a key revoked, a project or a
//! key suspended (its running work on the other replica stopped) or resumed
//! on one replica holds on the other within a second; a project's daily
//! budget spent on one is spent on all.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::client::call;
use crate::set::{cluster, within, ReplicaSet, ADMIN};

/// A chat completion with `bearer`; its status.
async fn chat(url: &str, bearer: &str) -> u16 {
    call(
        "POST",
        &format!("{url}/v1/chat/completions"),
        Some(bearer),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
    .0
}

/// An admin call that must succeed; its answer.
async fn admin(method: &str, url: &str, path: &str, body: Value) -> Value {
    let (status, answer) = call(method, &format!("{url}{path}"), Some(ADMIN), body).await;
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// A key issued for `project` on `url`: its secret and id.
async fn issue(url: &str, project: &str) -> (String, String) {
    let issued = admin("POST", url, "/admin/keys", json!({"project": project})).await;
    (
        issued["key"].as_str().unwrap().to_owned(),
        issued["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn ten_requests_a_minute_are_ten_across_both_replicas() {
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(
        cluster,
        2,
        "[[api_keys]]\nkey = \"sk-limited\"\nproject = \"alpha\"\nrequests_per_minute = 10\n",
    );
    let sent = (0..30).map(|number| {
        let url = set.url(number % 2).to_owned();
        async move { chat(&url, "sk-limited").await }
    });
    let statuses = join_all(sent).await;
    let admitted = statuses.iter().filter(|status| **status == 200).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(
        (admitted, refused),
        (10, 20),
        "{statuses:?}\n{}",
        set.logs()
    );
}

#[tokio::test]
async fn a_revocation_a_suspension_and_a_resume_on_a_hold_on_b_within_a_second() {
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(cluster, 2, &format!("admin_key = \"{ADMIN}\""));
    let (a, b) = (set.url(0).to_owned(), set.url(1).to_owned());

    // A key issued on A works on B (and is cached there), then is revoked on A.
    let (secret, key_id) = issue(&a, "beta").await;
    assert_eq!(chat(&b, &secret).await, 200);
    admin("DELETE", &a, &format!("/admin/keys/{key_id}"), Value::Null).await;
    let took = within(
        Duration::from_secs(1),
        "the revoked key refused on B",
        || async { chat(&b, &secret).await == 401 },
    )
    .await;
    eprintln!("revocation reached B after {took:?}");

    // Project gamma: a chat stream running on B stops when A suspends it.
    let (secret, _) = issue(&a, "gamma").await;
    set.script(json!({"content": "a b c d e f g h i j k l m n o p", "chunk_delay_ms": 500}))
        .await;
    let mut running = reqwest::Client::new()
        .post(format!("{b}/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&json!({"model": "m", "stream": true,
                      "messages": [{"role": "user", "content": "slowly"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(running.status(), 200);
    running.chunk().await.unwrap();
    let before = set.mock_stats().await["disconnected_streams"]
        .as_u64()
        .unwrap();
    admin("POST", &a, "/admin/projects/gamma/suspend", Value::Null).await;
    let took = within(
        Duration::from_secs(1),
        "B's stream of gamma stopped",
        || async {
            set.mock_stats().await["disconnected_streams"]
                .as_u64()
                .unwrap()
                > before
        },
    )
    .await;
    eprintln!("the kill switch on A stopped B's backend request after {took:?}");
    let mut rest = String::new();
    while let Ok(Some(chunk)) = running.chunk().await {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!rest.contains("[DONE]") || rest.contains("error"), "{rest}");
    assert_eq!(chat(&b, &secret).await, 403, "gamma is suspended on B too");

    admin("POST", &a, "/admin/projects/gamma/resume", Value::Null).await;
    let took = within(
        Duration::from_secs(1),
        "gamma served on B again",
        || async { chat(&b, &secret).await == 200 },
    )
    .await;
    eprintln!("the resume reached B after {took:?}");
}

#[tokio::test]
async fn suspending_a_key_on_a_stops_its_background_response_running_on_b() {
    let Some(cluster) = cluster() else {
        return;
    };
    // Only B is up when the key's response is queued: B runs it.
    let mut set = ReplicaSet::start(cluster, 1, &format!("admin_key = \"{ADMIN}\""));
    let b = set.url(0).to_owned();
    let (secret, key_id) = issue(&b, "delta").await;
    set.script(json!({"content": "a b c d e f g h i j k l m n o p", "chunk_delay_ms": 300}))
        .await;
    let (status, queued) = call(
        "POST",
        &format!("{b}/v1/responses"),
        Some(&secret),
        json!({"model": "m", "input": "slowly", "background": true}),
    )
    .await;
    assert_eq!(status, 200, "{queued}");
    let id = queued["id"].as_str().unwrap().to_owned();
    within(Duration::from_secs(10), "B runs it", || async {
        let (_, response) = call(
            "GET",
            &format!("{b}/v1/responses/{id}"),
            Some(&secret),
            Value::Null,
        )
        .await;
        response["status"] == "in_progress"
    })
    .await;
    let added = set.add();
    let a = set.url(added).to_owned();
    let before = set.mock_stats().await["disconnected_streams"]
        .as_u64()
        .unwrap();
    let suspended = admin(
        "POST",
        &a,
        &format!("/admin/keys/{key_id}/suspend"),
        Value::Null,
    )
    .await;
    assert_eq!(suspended["cancelled"]["responses"], 1, "{suspended}");
    let took = within(
        Duration::from_secs(1),
        "B's backend request for the key stopped",
        || async {
            set.mock_stats().await["disconnected_streams"]
                .as_u64()
                .unwrap()
                > before
        },
    )
    .await;
    eprintln!("suspending the key on A stopped its response on B after {took:?}");
}

#[tokio::test]
async fn a_daily_budget_spent_on_a_is_spent_on_b() {
    let Some(cluster) = cluster() else {
        return;
    };
    let set = ReplicaSet::start(
        cluster,
        2,
        "[[api_keys]]\nkey = \"sk-budget\"\nproject = \"epsilon\"\n\n\
         [[projects]]\nname = \"epsilon\"\ndaily_token_budget = 40\n",
    );
    let (a, b) = (set.url(0).to_owned(), set.url(1).to_owned());
    let mut spent = 0;
    while chat(&a, "sk-budget").await == 200 {
        spent += 1;
        assert!(spent < 50, "the budget never ran out on A");
    }
    let (status, refused) = call(
        "POST",
        &format!("{b}/v1/chat/completions"),
        Some("sk-budget"),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["error"]["code"], "insufficient_quota", "{refused}");
}
