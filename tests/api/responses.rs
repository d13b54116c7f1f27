//! The Responses API over JSON: create, retrieve, delete, input items, chains,
//! function-call round trips, storage rules.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_created_response_carries_openais_fields_and_is_retrievable() {
    let app = spawn_app().await;
    app.script(
        json!({"content": "Hello there!", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
    )
    .await;
    let (status, created) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Hi", "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert!(created["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(created["object"], "response");
    assert_eq!(created["status"], "completed");
    assert_eq!(created["model"], "m");
    assert_eq!(created["store"], true);
    assert_eq!(created["metadata"], json!({"k": "v"}));
    assert_eq!(created["tool_choice"], "auto");
    assert_eq!(created["parallel_tool_calls"], true);
    assert_eq!(created["text"]["format"]["type"], "text");
    assert!(created["completed_at"].is_i64());
    for key in [
        "error",
        "incomplete_details",
        "instructions",
        "previous_response_id",
        "max_output_tokens",
        "user",
    ] {
        assert!(
            created.get(key).is_some_and(Value::is_null),
            "{key} must be present and null"
        );
    }
    let message = &created["output"][0];
    assert_eq!(message["type"], "message");
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["status"], "completed");
    assert_eq!(
        message["content"][0],
        json!({"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello there!"})
    );
    assert_eq!(created["usage"]["input_tokens"], 7);
    assert_eq!(created["usage"]["output_tokens"], 3);
    assert_eq!(created["usage"]["total_tokens"], 10);
    assert_eq!(created["usage"]["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        created["usage"]["output_tokens_details"]["reasoning_tokens"],
        0
    );

    let (status, fetched) = app
        .get(&format!(
            "/v1/responses/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn delete_removes_the_response_and_answers_openais_marker() {
    let app = spawn_app().await;
    let (_, created) = app
        .post("/v1/responses", json!({"model": "m", "input": "Hi"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, deleted) = app.delete(&format!("/v1/responses/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "response.deleted", "deleted": true})
    );
    let (status, missing) = app.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        missing["error"]["message"],
        format!("Response with id '{id}' not found.")
    );
    assert_eq!(app.delete(&format!("/v1/responses/{id}")).await.0, 404);
}

#[tokio::test]
async fn store_false_responses_can_be_neither_fetched_nor_chained() {
    let app = spawn_app().await;
    let (status, created) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Hi", "store": false}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(created["store"], false);
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/responses/{id}")).await.0, 404);
    let (status, error) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "again", "previous_response_id": id}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "previous_response_not_found");
    assert_eq!(error["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn input_items_list_newest_first_and_page_with_after() {
    let app = spawn_app().await;
    let input = json!([
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "user", "content": [{"type": "input_text", "text": "three"}]}
    ]);
    let (_, created) = app
        .post("/v1/responses", json!({"model": "m", "input": input}))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, page) = app.get(&format!("/v1/responses/{id}/input_items")).await;
    assert_eq!(status, 200);
    assert_eq!(page["object"], "list");
    let texts: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["three", "two", "one"]);
    assert_eq!(page["data"][0]["type"], "message");
    assert_eq!(page["data"][0]["status"], "completed");
    assert_eq!(page["data"][0]["content"][0]["type"], "input_text");
    assert_eq!(page["first_id"], page["data"][0]["id"]);
    assert_eq!(page["last_id"], page["data"][2]["id"]);
    assert_eq!(page["has_more"], false);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = match &after {
            Some(after) => format!("?order=asc&limit=1&after={after}"),
            None => "?order=asc&limit=1".to_owned(),
        };
        let (_, page) = app
            .get(&format!("/v1/responses/{id}/input_items{query}"))
            .await;
        let item = &page["data"][0];
        seen.push(item["content"][0]["text"].as_str().unwrap().to_owned());
        after = Some(item["id"].as_str().unwrap().to_owned());
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, ["one", "two", "three"]);
    let (status, error) = app
        .get(&format!("/v1/responses/{id}/input_items?limit=0"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "limit");
    assert_eq!(
        app.get("/v1/responses/resp_missing/input_items").await.0,
        404
    );
}

#[tokio::test]
async fn a_chain_rebuilds_history_without_inheriting_instructions() {
    let app = spawn_app().await;
    app.script(
        json!([{"content": "First answer."}, {"content": "Second answer."}, {"content": "Third."}]),
    )
    .await;
    let (_, first) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Q1", "instructions": "Be terse."}),
        )
        .await;
    let (_, second) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Q2", "previous_response_id": first["id"]}),
        )
        .await;
    let (status, third) = app.post("/v1/responses", json!({"model": "m", "input": "Q3", "previous_response_id": second["id"], "instructions": "Be kind."})).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["previous_response_id"], second["id"]);
    assert_eq!(third["instructions"], "Be kind.");
    let requests = app.backend_requests().await;
    assert_eq!(
        requests[0]["messages"],
        json!([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Q1"}])
    );
    assert_eq!(
        requests[1]["messages"],
        json!([{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "First answer."}, {"role": "user", "content": "Q2"}])
    );
    assert_eq!(
        requests[2]["messages"],
        json!([
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "First answer."},
            {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "Second answer."},
            {"role": "user", "content": "Q3"}
        ])
    );
}

#[tokio::test]
async fn a_function_call_round_trip_sends_tool_calls_and_a_tool_message_with_the_same_id() {
    let app = spawn_app().await;
    app.script(json!([
        {"tool_calls": [{"id": "call_abc", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
        {"content": "It is sunny in Paris."}
    ]))
    .await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let (status, first) = app
        .post("/v1/responses", json!({"model": "m", "input": "Weather in Paris?", "tools": tools, "tool_choice": {"type": "function", "name": "get_weather"}}))
        .await;
    assert_eq!(status, 200, "{first}");
    let call = &first["output"][0];
    assert_eq!(call["type"], "function_call");
    assert!(call["id"].as_str().unwrap().starts_with("fc_"));
    assert_eq!(call["call_id"], "call_abc");
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(call["status"], "completed");
    assert_eq!(first["tools"][0]["name"], "get_weather");

    // Continuing with anything but the call's output is OpenAI's 400, and so
    // is an output for a call that was never made.
    for (input, message) in [
        (
            json!("And in Rome?"),
            "No tool output found for function call call_abc.",
        ),
        (
            json!([{"type": "function_call_output", "call_id": "call_abc", "output": "sunny"},
                   {"type": "function_call_output", "call_id": "call_zzz", "output": "rain"}]),
            "No tool call found for function call output with call_id call_zzz.",
        ),
    ] {
        let (status, error) = app
            .post(
                "/v1/responses",
                json!({"model": "m", "previous_response_id": first["id"], "tools": tools, "input": input}),
            )
            .await;
        assert_eq!(
            (status, error),
            (
                400,
                json!({"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": null}})
            )
        );
    }
    let (status, second) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "previous_response_id": first["id"], "tools": tools,
                   "input": [{"type": "function_call_output", "call_id": "call_abc", "output": "sunny"}]}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["output"][0]["content"][0]["text"],
        "It is sunny in Paris."
    );
    let requests = app.backend_requests().await;
    assert_eq!(requests[0]["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        requests[0]["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    let messages = requests[1]["messages"].as_array().unwrap();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["tool_calls"][0]["id"], "call_abc");
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": "call_abc", "content": "sunny"})
    );
}

#[tokio::test]
async fn replayed_output_items_and_item_references_are_accepted_as_input() {
    let app = spawn_app().await;
    let (_, first) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "remember me"}),
        )
        .await;
    let message_id = first["output"][0]["id"].clone();
    let replayed = first["output"][0].clone();
    let (status, second) = app
        .post("/v1/responses", json!({"model": "m", "input": [replayed, {"type": "item_reference", "id": message_id}, {"role": "user", "content": "go"}]}))
        .await;
    assert_eq!(status, 200, "{second}");
    let requests = app.backend_requests().await;
    let messages = requests[1]["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "assistant", "content": "remember me"})
    );
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": "remember me"})
    );
    let (status, error) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_nope"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "input[0]");
}

#[tokio::test]
async fn a_length_finish_is_incomplete_with_max_output_tokens() {
    let app = spawn_app().await;
    app.script(json!({"content": "This was cut", "finish_reason": "length"}))
        .await;
    let (status, response) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "long", "max_output_tokens": 16}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(response["status"], "incomplete");
    assert_eq!(
        response["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(response["completed_at"], Value::Null);
    assert_eq!(response["max_output_tokens"], 16);
    assert_eq!(response["output"][0]["status"], "incomplete");
    assert_eq!(app.backend_requests().await[0]["max_tokens"], 16);
}

#[tokio::test]
async fn sampling_and_format_parameters_reach_the_backend_in_chat_shape() {
    let app = spawn_app().await;
    app.script(json!({"content": "{\"a\":1}"})).await;
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let (status, response) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "json please", "temperature": 0.2, "top_p": 0.5, "user": "u1",
                   "text": {"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": true}}}),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["temperature"], 0.2);
    assert_eq!(response["top_p"], 0.5);
    assert_eq!(response["user"], "u1");
    assert_eq!(response["text"]["format"]["name"], "thing");
    let sent = &app.backend_requests().await[0];
    assert_eq!(sent["temperature"], 0.2);
    assert_eq!(sent["top_p"], 0.5);
    assert_eq!(sent["user"], "u1");
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": true}})
    );
}

#[tokio::test]
async fn reasoning_from_the_backend_becomes_a_reasoning_item_before_the_message() {
    let app = spawn_app().await;
    app.script(json!([{"reasoning": "Let me think.", "content": "42"}, {"reasoning": "Again.", "content": "43"}])).await;
    let (_, plain) = app
        .post("/v1/responses", json!({"model": "m", "input": "?"}))
        .await;
    assert_eq!(plain["output"][0]["type"], "reasoning");
    assert!(plain["output"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("rs_"));
    assert_eq!(
        plain["output"][0]["content"][0],
        json!({"type": "reasoning_text", "text": "Let me think."})
    );
    assert_eq!(plain["output"][1]["content"][0]["text"], "42");
    let (_, summarized) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "?", "reasoning": {"summary": "auto"}}),
        )
        .await;
    assert_eq!(
        summarized["output"][0]["summary"],
        json!([{"type": "summary_text", "text": "Again."}])
    );
    assert_eq!(summarized["reasoning"]["summary"], "auto");
}

#[tokio::test]
async fn a_non_streamed_response_asks_the_backend_for_the_whole_answer_and_a_streamed_one_for_a_stream(
) {
    let app = spawn_app().await;
    app.script(json!([{"content": "one two three"}, {"content": "one two three"}]))
        .await;
    let (status, whole) = app
        .post("/v1/responses", json!({"model": "m", "input": "Count."}))
        .await;
    assert_eq!(status, 200, "{whole}");
    let (status, _, events) = app
        .post_stream(
            "/v1/responses",
            json!({"model": "m", "input": "Count.", "stream": true}),
        )
        .await;
    assert_eq!(status, 200);
    let requests = app.backend_requests().await;
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0]
            .get("stream")
            .is_none_or(|stream| stream == false),
        "{}",
        requests[0]
    );
    assert_eq!(requests[1]["stream"], true);
    // The same answer either way: text, status and usage.
    let (_, completed) = events
        .iter()
        .find(|(name, _)| name.as_deref() == Some("response.completed"))
        .expect("a response.completed event");
    let streamed = &completed["response"];
    assert_eq!(whole["output"][0]["content"][0]["text"], "one two three");
    assert_eq!(
        whole["output"][0]["content"][0]["text"],
        streamed["output"][0]["content"][0]["text"]
    );
    assert_eq!(whole["status"], "completed");
    assert_eq!(whole["usage"], streamed["usage"]);
    assert!(whole["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn whole_numbers_may_carry_a_decimal_point_and_query_numbers_are_checked_always() {
    let app = spawn_app().await;
    let (status, created) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Hi", "max_output_tokens": 64.0}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["max_output_tokens"], 64);
    let (status, refused) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "Hi", "max_output_tokens": 64.5}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["param"], "max_output_tokens");
    assert_eq!(refused["error"]["code"], "invalid_type");
    // `starting_after` is a number whether or not the answer is streamed.
    let id = created["id"].as_str().unwrap();
    let (status, refused) = app
        .get(&format!("/v1/responses/{id}?starting_after=abc"))
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["param"], "starting_after");
}
