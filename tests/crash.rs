//! The crash test: start the real binary, queue background work against a slow
//! scripted backend, kill the process with SIGKILL mid-response, start it again
//! on the same database, and check that every response reaches a final state:
//! the interrupted one failed with a clear error, the queued ones run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/binary.rs"]
mod binary;

use binary::start;

async fn status_of(client: &reqwest::Client, url: &str, id: &str) -> Value {
    client
        .get(format!("{url}/v1/responses/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn background_work_survives_a_sigkill() {
    let directory = tempfile::tempdir().unwrap();
    let (mut mock, mock_url) = start(&["mock-backend", "--listen", "127.0.0.1:0"]);
    let config = directory.path().join("portico.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase = \"{}\"\nbackground_workers = 1\n[[backends]]\nname = \"mock\"\nbase_url = \"{mock_url}/v1\"\n",
            directory.path().join("portico.db").display()
        ),
    )
    .unwrap();
    let client = reqwest::Client::new();
    client
        .post(format!("{mock_url}/control/scripts"))
        .json(&json!([
            {"content": "this answer is far too slow to finish before the crash", "chunk_delay_ms": 300},
            {"content": "second"},
            {"content": "third"}
        ]))
        .send()
        .await
        .unwrap();
    let (mut server, url) = start(&["serve", "--config", config.to_str().unwrap()]);
    let mut ids = Vec::new();
    for input in ["first", "second", "third"] {
        let queued: Value = client
            .post(format!("{url}/v1/responses"))
            .json(&json!({"model": "m", "input": input, "background": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(queued["status"], "queued");
        ids.push(queued["id"].as_str().unwrap().to_owned());
    }
    // Wait until the first one is producing output, then kill the process.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let first = status_of(&client, &url, &ids[0]).await;
        if first["output"][0]["content"][0]["text"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first response never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let restart = Instant::now();
    let (mut server, url) = start(&["serve", "--config", config.to_str().unwrap()]);
    println!(
        "restart resolved the interrupted work and listened after {:?}",
        restart.elapsed()
    );
    let interrupted = status_of(&client, &url, &ids[0]).await;
    assert_eq!(interrupted["status"], "failed", "{interrupted}");
    assert_eq!(interrupted["error"]["code"], "server_error");
    assert!(interrupted["error"]["message"]
        .as_str()
        .unwrap()
        .contains("stopped while this response was in progress"));
    let replay = client
        .get(format!("{url}/v1/responses/{}?stream=true", ids[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        replay
            .trim_end()
            .split("\n\n")
            .last()
            .unwrap()
            .starts_with("event: response.failed"),
        "{replay}"
    );
    for (id, text) in ids[1..].iter().zip(["second", "third"]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = status_of(&client, &url, id).await;
            if response["status"] == "completed" {
                assert_eq!(response["output"][0]["content"][0]["text"], text);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "queued response {id} never ran: {response}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    server.kill().unwrap();
    mock.kill().unwrap();
}
