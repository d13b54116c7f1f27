//! Bad input everywhere gets OpenAI's envelope with the right status and param.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{send, spawn_app, spawn_app_with, Options};

fn assert_envelope(body: &Value) {
    let error = body["error"].as_object().expect("an error object");
    for key in ["message", "type", "param", "code"] {
        assert!(error.contains_key(key), "envelope lacks {key}: {body}");
    }
}

#[tokio::test]
async fn invalid_json_is_a_400_envelope() {
    let app = spawn_app().await;
    let answer = app
        .client
        .post(app.url("/v1/responses"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_envelope(&body);
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn wrong_types_name_the_field_path() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"model": "m", "input": "x", "max_output_tokens": "many"}),
            "max_output_tokens",
            "invalid_type",
        ),
        (
            json!({"model": "m", "input": "x", "metadata": {"modified": true}}),
            "metadata.modified",
            "invalid_type",
        ),
        (
            json!({"model": "m", "input": "x", "temperature": -1}),
            "temperature",
            "decimal_below_min_value",
        ),
        (
            json!({"model": "m", "input": "x", "max_output_tokens": 8}),
            "max_output_tokens",
            "integer_below_min_value",
        ),
        (
            json!({"model": "m", "input": [{"role": "user"}]}),
            "input[0].content",
            "missing_required_parameter",
        ),
        (json!({"model": "m", "input": 5}), "input", "invalid_type"),
        (json!({"input": "x"}), "model", "missing_required_parameter"),
        (
            json!({"model": "m", "input": "x", "stream": "yes"}),
            "stream",
            "invalid_type",
        ),
    ];
    for (body, param, code) in cases {
        let (status, answer) = app.post("/v1/responses", body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_envelope(&answer);
        assert_eq!(answer["error"]["param"], param, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
    }
}

#[tokio::test]
async fn unknown_parameters_and_hosted_tools_are_refused_by_name() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x", "foo": 1}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unknown_parameter");
    assert_eq!(body["error"]["param"], "foo");
    assert_eq!(body["error"]["message"], "Unknown parameter: 'foo'.");
    for tool in [
        "web_search",
        "file_search",
        "code_interpreter",
        "computer_use_preview",
        "mcp",
        "image_generation",
        "shell",
    ] {
        let (status, body) = app
            .post(
                "/v1/responses",
                json!({"model": "m", "input": "x", "tools": [{"type": tool}]}),
            )
            .await;
        assert_eq!(status, 400, "{tool}");
        assert_eq!(body["error"]["param"], "tools[0].type");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("runs no tools"));
    }
    assert!(
        app.backend_requests().await.is_empty(),
        "nothing reached the backend"
    );
}

#[tokio::test]
async fn an_unknown_model_is_a_404_in_chat_and_a_400_naming_model_in_responses() {
    let (address, _directory) = crate::helpers::spawn_builtin_app().await;
    let client = reqwest::Client::new();
    // As recorded from OpenAI: Chat Completions answers 404 with no `param`…
    let answer = send(
        &client,
        Method::POST,
        &format!("http://{address}/v1/chat/completions"),
        Some(json!({"model": "gpt-nope", "messages": [{"role": "user", "content": "x"}]})),
    )
    .await;
    assert_eq!(
        answer,
        (
            404,
            json!({"error": {
                "message": "The model `gpt-nope` does not exist or you do not have access to it.",
                "type": "invalid_request_error", "param": null, "code": "model_not_found",
            }})
        )
    );
    // …the Responses API a 400 naming `model`, streamed or not.
    for stream in [false, true] {
        let answer = send(
            &client,
            Method::POST,
            &format!("http://{address}/v1/responses"),
            Some(json!({"model": "gpt-nope", "input": "x", "stream": stream})),
        )
        .await;
        assert_eq!(
            answer,
            (
                400,
                json!({"error": {
                    "message": "The requested model 'gpt-nope' does not exist.",
                    "type": "invalid_request_error", "param": "model", "code": "model_not_found",
                }})
            )
        );
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_the_envelope() {
    let app = spawn_app().await;
    let answer = app
        .client
        .post(app.url("/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let body: Value = answer.json().await.unwrap();
    assert_envelope(&body);
    assert_eq!(body["error"]["message"], "Invalid URL (POST /v1/nothing)");
    let answer = app
        .client
        .put(app.url("/v1/responses"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 405);
    assert_envelope(&answer.json().await.unwrap());
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_envelope() {
    let app = spawn_app_with(Options {
        max_body_bytes: Some(1024),
        ..Options::default()
    })
    .await;
    let (status, body) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x".repeat(4096)}),
        )
        .await;
    assert_eq!(status, 413);
    assert_envelope(&body);
    let (status, body) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(4096)}]}),
        )
        .await;
    assert_eq!(status, 413);
    assert_envelope(&body);
}

#[tokio::test]
async fn previous_response_id_and_conversation_together_are_refused() {
    let app = spawn_app().await;
    let (status, body) = app.post("/v1/responses", json!({"model": "m", "input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "conversation");
}

#[tokio::test]
async fn include_values_and_the_conversation_id_type_are_checked_where_responses_take_them() {
    let (address, _directory) = crate::helpers::spawn_builtin_app().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}/v1{path}");
    let (_, models) = send(&client, Method::GET, &url("/models"), None).await;
    let model = models["data"][0]["id"].clone();
    let (_, created) = send(
        &client,
        Method::POST,
        &url("/responses"),
        Some(json!({"model": model, "input": "x", "store": true})),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            Method::POST,
            "/responses".to_owned(),
            Some(json!({"model": model, "input": "x", "include": ["bogus"]})),
        ),
        (
            Method::GET,
            format!("/responses/{id}?include[]=bogus"),
            None,
        ),
        (
            Method::GET,
            format!("/responses/{id}/input_items?include[]=bogus"),
            None,
        ),
    ] {
        let (status, error) = send(&client, method, &url(&path), body).await;
        assert_eq!(status, 400, "{path}: {error}");
        let error = &error["error"];
        assert_eq!(
            (error["param"].as_str(), error["code"].as_str()),
            (Some("include"), Some("invalid_value"))
        );
        assert!(error["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value: 'bogus'. Supported values are: "));
    }
    let path = format!("/responses/{id}?include[]=reasoning.encrypted_content");
    assert_eq!(send(&client, Method::GET, &url(&path), None).await.0, 200);
    let answer = send(
        &client,
        Method::POST,
        &url("/responses"),
        Some(json!({"model": model, "input": "x", "conversation": {"id": 5}})),
    )
    .await;
    assert_eq!(
        answer,
        (
            400,
            json!({"error": {
                "message": "Invalid type for 'conversation.id': expected a string, but got an integer instead.",
                "type": "invalid_request_error", "param": "conversation.id", "code": "invalid_type",
            }})
        )
    );
}

#[tokio::test]
async fn an_in_process_backend_refuses_n_above_1_and_an_assistant_cannot_move_to_an_unserved_model()
{
    let (address, _directory) = crate::helpers::spawn_builtin_app().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}/v1{path}");
    let (_, models) = send(&client, Method::GET, &url("/models"), None).await;
    let model = models["data"][0]["id"].as_str().unwrap().to_owned();
    for stream in [false, true] {
        let (status, error) = send(
            &client,
            Method::POST,
            &url("/chat/completions"),
            Some(json!({"model": model, "n": 2, "stream": stream, "messages": [{"role": "user", "content": "x"}]})),
        )
        .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(
            (
                error["error"]["param"].as_str(),
                error["error"]["code"].as_str()
            ),
            (Some("n"), Some("unsupported_value")),
            "{error}"
        );
    }
    let (_, assistant) = send(
        &client,
        Method::POST,
        &url("/assistants"),
        Some(json!({"model": model})),
    )
    .await;
    let path = url(&format!(
        "/assistants/{}",
        assistant["id"].as_str().unwrap()
    ));
    let (status, error) = send(
        &client,
        Method::POST,
        &path,
        Some(json!({"model": "gpt-nope"})),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    let (_, kept) = send(&client, Method::GET, &path, None).await;
    assert_eq!(kept["model"], model.as_str());
}

#[tokio::test]
async fn a_strict_function_whose_schema_breaks_openais_rules_is_refused_as_openai_refuses_it() {
    let app = spawn_app().await;
    let loose = json!({"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
                       "required": ["location"], "additionalProperties": false});
    let (status, error) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x",
                   "tools": [{"type": "function", "name": "get_current_weather", "parameters": loose, "strict": true}]}),
        )
        .await;
    assert_eq!(
        (status, error),
        (
            400,
            json!({"error": {
                "message": "Invalid schema for function 'get_current_weather': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'unit'.",
                "type": "invalid_request_error", "param": "tools[0].parameters", "code": "invalid_function_parameters",
            }})
        )
    );
    let (status, error) = app
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                   "tools": [{"type": "function", "function": {"name": "get_favorite_color", "strict": true}}]}),
        )
        .await;
    assert_eq!(
        (status, error),
        (
            400,
            json!({"error": {
                "message": "Invalid schema for function 'get_favorite_color': In context=(), 'additionalProperties' is required to be supplied and to be false.",
                "type": "invalid_request_error", "param": "tools[0].function.parameters", "code": "invalid_function_parameters",
            }})
        )
    );
    // Without `strict: true` the same schemas go through.
    let (status, _) = app
        .post(
            "/v1/responses",
            json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "get_current_weather", "parameters": loose, "strict": false}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.backend_requests().await.len(), 1);
}
