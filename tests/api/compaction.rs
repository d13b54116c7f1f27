//! `POST /v1/responses/compact`: the backend writes the summary, the output is
//! the user messages and one compaction item, and that item given back as input
//! reaches the model as the summary.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[tokio::test]
async fn a_conversation_is_compacted_and_its_compaction_item_continues_it() {
    let app = spawn_app().await;
    app.script(json!([
        {"content": "The user asked for a landing page for a dog café; a draft was written.",
         "usage": {"prompt_tokens": 40, "completion_tokens": 15}},
        {"content": "Added a menu."},
    ]))
    .await;
    let input = json!([
        user("Create a landing page for a dog petting café."),
        {"id": "msg_001", "type": "message", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Here is a draft…"}]},
    ]);
    let (status, compacted) = app
        .post(
            "/v1/responses/compact",
            json!({"model": "m", "input": input, "instructions": "Be brief."}),
        )
        .await;
    assert_eq!(status, 200, "{compacted}");
    assert!(compacted["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(compacted["object"], "response.compaction");
    assert!(compacted["created_at"].as_i64().unwrap() > 0);
    assert_eq!(
        compacted["usage"],
        json!({"input_tokens": 40, "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
               "output_tokens": 15, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 55})
    );
    let output = compacted["output"].as_array().unwrap();
    assert_eq!(output.len(), 2, "{compacted}");
    assert!(output[0]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        output[0],
        json!({"id": output[0]["id"], "type": "message", "status": "completed",
               "content": [{"type": "input_text", "text": "Create a landing page for a dog petting café."}],
               "role": "user"})
    );
    let keys: Vec<&str> = compacted
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "object", "created_at", "output", "usage"]);
    assert_eq!(output[1]["type"], "compaction");
    assert!(output[1]["id"].as_str().unwrap().starts_with("cmp_"));
    assert!(output[1]["encrypted_content"].as_str().is_some());

    // The backend saw the instructions, the conversation, then the request for a summary.
    let asked = &app.backend_requests().await[0]["messages"];
    assert_eq!(asked[0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(asked[1]["role"], "user");
    assert_eq!(asked[2]["role"], "assistant");
    assert_eq!(asked[3]["role"], "user");
    assert!(asked[3]["content"].as_str().unwrap().contains("summary"));
    assert_eq!(asked.as_array().unwrap().len(), 4);

    // The compacted output, then a new message, continues the conversation.
    let mut next_input = output.clone();
    next_input.push(user("Now add a menu."));
    let (status, next) = app
        .post("/v1/responses", json!({"model": "m", "input": next_input}))
        .await;
    assert_eq!(status, 200, "{next}");
    let seen = &app.backend_requests().await[1]["messages"];
    assert_eq!(
        seen.as_array()
            .unwrap()
            .iter()
            .map(|message| message["role"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["user", "assistant", "user"]
    );
    assert_eq!(
        seen[1]["content"],
        "Summary of the conversation so far:\nThe user asked for a landing page for a dog café; a draft was written."
    );
}

#[tokio::test]
async fn a_stored_chain_compacts_and_bad_requests_are_openais_400s() {
    let app = spawn_app().await;
    app.script(json!([{"content": "Noted: 7."}, {"content": "The number is 7."}]))
        .await;
    let (status, first) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Remember 7.", "store": true}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let (status, compacted) = app
        .post(
            "/v1/responses/compact",
            json!({"model": "m", "previous_response_id": first["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{compacted}");
    assert_eq!(compacted["output"][0]["content"][0]["text"], "Remember 7.");
    assert_eq!(compacted["output"][1]["type"], "compaction");
    // No usage from the backend: estimated, as for responses.
    assert!(compacted["usage"]["total_tokens"].as_u64().unwrap() > 0);

    for (body, status, param, code) in [
        (
            json!({"input": "x"}),
            400,
            "model",
            "missing_required_parameter",
        ),
        (
            json!({"model": "m"}),
            400,
            "input",
            "missing_required_parameter",
        ),
        (
            json!({"model": "m", "input": "x", "stream": true}),
            400,
            "stream",
            "unknown_parameter",
        ),
        (
            json!({"model": "m", "input": [{"type": "compaction", "encrypted_content": "gAAAA-from-elsewhere"}]}),
            400,
            "input[0].encrypted_content",
            "invalid_value",
        ),
    ] {
        let (got, error) = app.post("/v1/responses/compact", body.clone()).await;
        assert_eq!(got, status, "{body}: {error}");
        assert_eq!(
            (
                error["error"]["param"].as_str(),
                error["error"]["code"].as_str()
            ),
            (Some(param), Some(code)),
            "{body}"
        );
    }
}
