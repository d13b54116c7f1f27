//! Background responses: queued answers, polling, resumable streams with several
//! readers, cancel that closes the backend request, and chaining rules.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{parse_sse, spawn_app, TestApp};

async fn poll_until_finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..200 {
        let (_, body) = app.get(&format!("/v1/responses/{id}")).await;
        if ["completed", "failed", "incomplete", "cancelled"]
            .contains(&body["status"].as_str().unwrap_or_default())
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("response {id} did not finish");
}

async fn raw_get(app: &TestApp, path: &str) -> String {
    app.client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_background_response_is_queued_then_runs_and_can_be_polled() {
    let app = spawn_app().await;
    app.script(json!({"content": "Done in the background.", "delay_ms": 200}))
        .await;
    let (status, queued) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "work", "background": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["background"], true);
    assert_eq!(queued["output"], json!([]));
    assert_eq!(queued["usage"], Value::Null);
    let id = queued["id"].as_str().unwrap();
    let (_, early) = app.get(&format!("/v1/responses/{id}")).await;
    assert!(
        ["queued", "in_progress"].contains(&early["status"].as_str().unwrap()),
        "{early}"
    );
    let finished = poll_until_finished(&app, id).await;
    assert_eq!(finished["status"], "completed");
    assert_eq!(
        finished["output"][0]["content"][0]["text"],
        "Done in the background."
    );
}

#[tokio::test]
async fn polling_shows_partial_output_while_the_response_runs() {
    let app = spawn_app().await;
    app.script(json!({"content": "one two three four five six seven eight nine ten", "chunk_delay_ms": 60})).await;
    let (_, queued) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x", "background": true}),
        )
        .await;
    let id = queued["id"].as_str().unwrap();
    let mut partial = None;
    for _ in 0..100 {
        let (_, body) = app.get(&format!("/v1/responses/{id}")).await;
        let text = body["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if body["status"] == "in_progress" && !text.is_empty() {
            partial = Some(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let partial = partial.expect("a partial answer while running");
    assert!("one two three four five six seven eight nine ten".starts_with(&partial));
    assert_eq!(poll_until_finished(&app, id).await["status"], "completed");
}

#[tokio::test]
async fn a_background_stream_resumes_byte_for_byte_from_any_offset_for_several_readers() {
    let app = spawn_app().await;
    app.script(
        json!({"content": "alpha beta gamma delta epsilon zeta eta theta", "chunk_delay_ms": 40}),
    )
    .await;
    let live = app
        .client
        .post(app.url("/v1/responses"))
        .json(&json!({"model": "m", "input": "x", "background": true, "stream": true}))
        .send()
        .await
        .unwrap();
    let mut live = live;
    let first_chunk = String::from_utf8(live.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    let created = &parse_sse(&first_chunk)[0].1;
    assert_eq!(created["type"], "response.created");
    assert_eq!(created["response"]["status"], "queued");
    let id = created["response"]["id"].as_str().unwrap().to_owned();
    // Two readers follow the running response from different offsets.
    let reader_a = {
        let (app_url, client) = (
            app.url(&format!("/v1/responses/{id}?stream=true")),
            app.client.clone(),
        );
        tokio::spawn(async move {
            client
                .get(app_url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    let reader_b = {
        let (app_url, client) = (
            app.url(&format!("/v1/responses/{id}?stream=true&starting_after=3")),
            app.client.clone(),
        );
        tokio::spawn(async move {
            client
                .get(app_url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    let mut live_text = first_chunk;
    while let Some(chunk) = live.chunk().await.unwrap() {
        live_text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events = parse_sse(&live_text);
    let types: Vec<&str> = events
        .iter()
        .map(|(_, data)| data["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        &types[..3],
        [
            "response.created",
            "response.queued",
            "response.in_progress"
        ]
    );
    assert_eq!(types.last(), Some(&"response.completed"));
    for (index, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], index as u64);
    }
    let frames: Vec<&str> = live_text.split_inclusive("\n\n").collect();
    assert_eq!(
        reader_a.await.unwrap(),
        live_text,
        "a live reader from the start sees the same bytes"
    );
    assert_eq!(
        reader_b.await.unwrap(),
        frames[4..].concat(),
        "a live reader after 3 sees the rest"
    );
    for offset in [0usize, 5, frames.len() - 2] {
        let replay = raw_get(
            &app,
            &format!("/v1/responses/{id}?stream=true&starting_after={offset}"),
        )
        .await;
        assert_eq!(
            replay,
            frames[offset + 1..].concat(),
            "replay after {offset} once finished"
        );
    }
    assert_eq!(
        raw_get(&app, &format!("/v1/responses/{id}?stream=true")).await,
        live_text
    );
}

#[tokio::test]
async fn cancel_stops_the_backend_request_and_is_idempotent() {
    let app = spawn_app().await;
    app.script(json!({"content": "a b c d e f g h i j k l m n o p", "chunk_delay_ms": 100}))
        .await;
    let (_, queued) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x", "background": true}),
        )
        .await;
    let id = queued["id"].as_str().unwrap();
    // Wait until the backend is streaming.
    for _ in 0..100 {
        let (_, body) = app.get(&format!("/v1/responses/{id}")).await;
        if body["output"][0]["content"][0]["text"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = app
        .client
        .post(app.url(&format!("/v1/responses/{id}/cancel")))
        .header("content-type", "application/json")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let cancelled: Value = answer.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["output"][0]["status"], "incomplete");
    let mut disconnected = 0;
    for _ in 0..100 {
        let stats: Value = app
            .client
            .get(format!("http://{}/control/stats", app.mock_address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        disconnected = stats["disconnected_streams"].as_u64().unwrap();
        if disconnected > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(disconnected, 1, "the backend saw its request closed");
    let (status, again) = app
        .post(&format!("/v1/responses/{id}/cancel"), Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "cancelled");
    let (_, stored) = app.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(stored["status"], "cancelled");
}

#[tokio::test]
async fn only_unfinished_background_responses_can_be_cancelled() {
    let app = spawn_app().await;
    let (_, foreground) = app
        .post("/v1/responses", json!({"model": "m", "input": "x"}))
        .await;
    let (status, error) = app
        .post(
            &format!(
                "/v1/responses/{}/cancel",
                foreground["id"].as_str().unwrap()
            ),
            Value::Null,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Only responses created with background=true can be cancelled."
    );
    let (_, queued) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x", "background": true}),
        )
        .await;
    let id = queued["id"].as_str().unwrap();
    poll_until_finished(&app, id).await;
    let (status, error) = app
        .post(&format!("/v1/responses/{id}/cancel"), Value::Null)
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        app.post("/v1/responses/resp_unknown/cancel", Value::Null)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_queued_response_cancelled_before_it_runs_never_reaches_the_backend() {
    let app = spawn_app().await;
    // Keep the workers busy so the next job stays queued.
    let mut busy = Vec::new();
    for _ in 0..4 {
        app.script(json!({"content": "slow", "delay_ms": 1500}))
            .await;
        let (_, queued) = app
            .post(
                "/v1/responses",
                json!({"model": "m", "input": "busy", "background": true}),
            )
            .await;
        busy.push(queued["id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, waiting) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "never", "background": true}),
        )
        .await;
    let id = waiting["id"].as_str().unwrap();
    let (status, cancelled) = app
        .post(&format!("/v1/responses/{id}/cancel"), Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    for busy_id in &busy {
        poll_until_finished(&app, busy_id).await;
    }
    let requests = app.backend_requests().await;
    assert_eq!(requests.len(), 4, "the cancelled job never ran");
    assert_eq!(poll_until_finished(&app, id).await["status"], "cancelled");
}

#[tokio::test]
async fn chaining_onto_an_unfinished_response_is_refused() {
    let app = spawn_app().await;
    app.script(json!({"content": "slow", "delay_ms": 500}))
        .await;
    let (_, queued) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x", "background": true}),
        )
        .await;
    let (status, error) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "next", "previous_response_id": queued["id"]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "previous_response_id");
    poll_until_finished(&app, queued["id"].as_str().unwrap()).await;
    let (status, _) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "next", "previous_response_id": queued["id"]}),
        )
        .await;
    assert_eq!(status, 200, "finished responses can be chained");
}

#[tokio::test]
async fn background_responses_not_asked_to_be_kept_expire_and_stored_ones_stay() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (body, echoed_store) in [
        (
            json!({"model": "m", "input": "keep me", "background": true, "store": true}),
            true,
        ),
        // `store` left out: echoed `true`, as OpenAI's newest recording does.
        (
            json!({"model": "m", "input": "poll me for a while", "background": true}),
            true,
        ),
        (
            json!({"model": "m", "input": "do not keep me", "background": true, "store": false}),
            false,
        ),
    ] {
        let (status, queued) = app.post("/v1/responses", body).await;
        assert_eq!(status, 200, "{queued}");
        assert_eq!(queued["store"], echoed_store, "{queued}");
        let id = queued["id"].as_str().unwrap().to_owned();
        assert_eq!(poll_until_finished(&app, &id).await["store"], echoed_store);
        ids.push(id);
    }
    let (kept, unstated, unstored) = (&ids[0], &ids[1], &ids[2]);
    let store = app.open_store().await;
    let now = portico::wire::ids::unix_now();
    let retention = portico::wire::responses::defaults::UNSTORED_RETENTION.as_secs() as i64;
    assert_eq!(
        store.responses.delete_expired(now).await.unwrap(),
        0,
        "still within the retention"
    );
    assert_eq!(
        store
            .responses
            .delete_expired(now + retention + 1)
            .await
            .unwrap(),
        2,
        "the two not asked to be kept, once they are old enough"
    );
    assert_eq!(app.get(&format!("/v1/responses/{unstated}")).await.0, 404);
    assert_eq!(app.get(&format!("/v1/responses/{unstored}")).await.0, 404);
    assert_eq!(app.get(&format!("/v1/responses/{kept}")).await.0, 200);
    for gone in [unstated, unstored] {
        let events = store.responses.events_after(gone, None).await.unwrap();
        assert!(
            events.is_empty(),
            "their event logs went with them: {events:?}"
        );
    }
    let kept_events = store.responses.events_after(kept, None).await.unwrap();
    assert!(!kept_events.is_empty(), "the kept one's log stays");
}
