//! Recognizing the kind of an OpenAI-compatible server from what it says of
//! itself: its `GET /v1/models` answer (each kind's `owned_by`, see the table
//! in `profile`), its response headers (`Server: llama.cpp`,
//! `X-Powered-By: Express` for LM Studio), and, when neither tells, Ollama's
//! `GET /api/version` beside `/v1`. A server that matches none is generic.

use std::time::Duration;

use serde_json::Value;

use super::ServerKind;

/// How long each detection request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The kind a `/v1/models` answer (its headers, as `(name, value)` pairs with
/// lower-case names, and its body) shows, if it shows one.
pub fn kind_from_models(headers: &[(String, String)], body: &Value) -> Option<ServerKind> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.to_lowercase())
    };
    if header("server").is_some_and(|server| server.contains("llama.cpp")) {
        return Some(ServerKind::LlamaServer);
    }
    if header("x-powered-by").is_some_and(|powered| powered.contains("express")) {
        return Some(ServerKind::LmStudio);
    }
    let first = body.get("data").and_then(Value::as_array)?.first()?;
    match first.get("owned_by").and_then(Value::as_str)? {
        "llamacpp" => Some(ServerKind::LlamaServer),
        "vllm" => Some(ServerKind::Vllm),
        "sglang" => Some(ServerKind::Sglang),
        "organization_owner" => Some(ServerKind::LmStudio),
        "me" if first.get("permissions").is_some() => Some(ServerKind::LlamaCppPython),
        _ => None,
    }
}

/// Asks the server at `base_url` (with `/v1`) what it is. `Err` when it does
/// not answer (detection is tried again later); a server that answers but
/// matches no kind is [`ServerKind::Generic`].
pub async fn detect(
    client: &reqwest::Client,
    base_url: &str,
    api_key: Option<&str>,
) -> Result<ServerKind, String> {
    let mut request = client
        .get(format!("{base_url}/models"))
        .timeout(PROBE_TIMEOUT);
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let answer = request.send().await.map_err(|error| error.to_string())?;
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|value| (name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if let Some(kind) = kind_from_models(&headers, &body) {
        return Ok(kind);
    }
    if !status.is_success() && status.as_u16() != 404 {
        return Err(format!("GET /models answered {status}"));
    }
    let root = base_url.trim_end_matches('/').trim_end_matches("/v1");
    let ollama = client
        .get(format!("{root}/api/version"))
        .timeout(PROBE_TIMEOUT)
        .send()
        .await
        .ok()
        .filter(|answer| answer.status().is_success());
    if let Some(answer) = ollama {
        let version: Value = answer.json().await.unwrap_or(Value::Null);
        if version.get("version").is_some_and(Value::is_string) {
            return Ok(ServerKind::Ollama);
        }
    }
    Ok(ServerKind::Generic)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_headers() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn each_kind_is_recognized_by_its_models_answer() {
        let cases = [
            (
                json!({"object":"list","data":[{"id":"gemma3-270m","object":"model","owned_by":"me","permissions":[]}]}),
                Some(ServerKind::LlamaCppPython),
            ),
            (
                json!({"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"llamacpp","meta":{"n_ctx":4096}}]}),
                Some(ServerKind::LlamaServer),
            ),
            (
                json!({"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"vllm","root":"/m","parent":null,"max_model_len":4096}]}),
                Some(ServerKind::Vllm),
            ),
            (
                json!({"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"sglang","root":"m"}]}),
                Some(ServerKind::Sglang),
            ),
            (
                json!({"data":[{"id":"qwen","object":"model","owned_by":"organization_owner"}],"object":"list"}),
                Some(ServerKind::LmStudio),
            ),
            (
                json!({"object":"list","data":[{"id":"llama3.2:latest","object":"model","created":1,"owned_by":"library"}]}),
                None,
            ),
            (
                json!({"object":"list","data":[{"id":"mock","object":"model","created":0,"owned_by":"portico"}]}),
                None,
            ),
        ];
        for (body, kind) in cases {
            assert_eq!(kind_from_models(&no_headers(), &body), kind, "{body}");
        }
    }

    #[test]
    fn headers_tell_llama_server_and_lm_studio_apart() {
        let empty = json!({"object": "list", "data": []});
        let server = vec![("server".to_owned(), "llama.cpp".to_owned())];
        assert_eq!(
            kind_from_models(&server, &empty),
            Some(ServerKind::LlamaServer)
        );
        let express = vec![("x-powered-by".to_owned(), "Express".to_owned())];
        assert_eq!(
            kind_from_models(&express, &empty),
            Some(ServerKind::LmStudio)
        );
        let uvicorn = vec![("server".to_owned(), "uvicorn".to_owned())];
        assert_eq!(kind_from_models(&uvicorn, &empty), None);
    }
}
