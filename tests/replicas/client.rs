//! A client of the replicas: JSON calls (with a bearer key when given) and
//! SSE streams read into events.

use serde_json::Value;

/// One SSE event: its name and its data.
pub type Event = (String, Value);

/// `method url` with a JSON body (`Value::Null`: none); status and JSON answer.
pub async fn call(method: &str, url: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), url);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if !body.is_null() {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn post(url: &str, body: Value) -> (u16, Value) {
    call("POST", url, None, body).await
}

pub async fn get(url: &str) -> (u16, Value) {
    call("GET", url, None, Value::Null).await
}

/// The events of an SSE text.
pub fn events(text: &str) -> Vec<Event> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                }
            }
            let data = serde_json::from_str(&data).ok()?;
            Some((name, data))
        })
        .collect()
}

/// Reads a whole SSE answer of `GET url`.
pub async fn stream(url: &str) -> Vec<Event> {
    let answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status(), 200, "{url}");
    events(&answer.text().await.unwrap())
}

/// The sequence numbers of `events`.
pub fn sequence(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|(_, data)| data["sequence_number"].as_u64())
        .collect()
}

/// Whether `name` ends a response's stream.
pub fn is_terminal(name: &str) -> bool {
    matches!(
        name,
        "response.completed" | "response.failed" | "response.incomplete"
    )
}

/// Waits until the response's stored status is `status` (up to 10 s).
pub async fn wait_for_status(url: &str, id: &str, status: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, response) = get(&format!("{url}/v1/responses/{id}")).await;
        if response["status"] == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} never became {status}: {response}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
