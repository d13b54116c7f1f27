//! The conformance suite: replays recorded real OpenAI traffic (`conformance/`)
//! through Portico, with the backend scripted to produce what OpenAI produced,
//! and compares the answers with OpenAI's, event by event (`compare` holds the
//! rule table). Pointed at another server (`--target`) it checks what can be
//! checked without scripting: statuses, shapes, grammar and envelopes.

pub mod assistants;
pub mod cassette;
pub mod compare;
pub mod idmap;
pub mod replay;
pub mod report;
pub mod scope;
pub mod script;

use std::path::PathBuf;

use crate::config::{ApiKeyConfig, BackendConfig, BackendKind, Config};

pub use replay::{CassetteResult, Outcome, Target};

/// The key Portico is given in scripted mode.
const CONFORMANCE_KEY: &str = "sk-portico-conformance";

/// What to replay, and against what.
#[derive(Debug, Clone)]
pub struct Options {
    pub cassettes: PathBuf,
    /// Another server to grade; `None` replays through an in-process Portico.
    pub target: Option<String>,
    pub api_key: Option<String>,
    /// Model name to send to a `--target` server.
    pub model: Option<String>,
    /// Token cap added to `--target` requests that set none.
    pub max_tokens: Option<u64>,
    /// Only cassettes whose id contains this.
    pub only: Option<String>,
    /// In-process mode: the mock backend poses as the kind of server whose
    /// errors read as this dialect (`None`: OpenAI's own words).
    pub dialect: Option<crate::mock_backend::dialect::ErrorDialect>,
}

/// Replays every cassette and returns each result, with a description of the target.
pub async fn run(options: &Options) -> Result<(Vec<CassetteResult>, String), String> {
    let mut cassettes = cassette::load_directory(&options.cassettes)?;
    if let Some(only) = &options.only {
        cassettes.retain(|cassette| cassette.id.contains(only.as_str()));
    }
    let client = reqwest::Client::builder()
        .build()
        .map_err(|error| error.to_string())?;
    let (target, description, _guard) = match &options.target {
        Some(url) => {
            let base_url = url.trim_end_matches('/').trim_end_matches("/v1").to_owned();
            let target = Target {
                base_url,
                api_key: options.api_key.clone(),
                mock_url: None,
                model: options.model.clone(),
                max_tokens: options.max_tokens,
            };
            (
                target,
                format!("{url} (unscripted: statuses, shapes, grammar and envelopes)"),
                None,
            )
        }
        None => {
            let pose = options
                .dialect
                .map(crate::mock_backend::state::Pose::with_dialect)
                .unwrap_or_default();
            let (target, guard) = start_in_process(pose).await?;
            let description = match options.dialect {
                None => "Portico (this build) in front of its scripted mock backend, over loopback HTTP".to_owned(),
                Some(dialect) => format!(
                    "Portico (this build) in front of its scripted mock backend posing as {} (errors in the {dialect} dialect), over loopback HTTP",
                    pose.kind
                ),
            };
            (target, description, Some(guard))
        }
    };
    let mut results = Vec::with_capacity(cassettes.len());
    for cassette in &cassettes {
        results.push(replay::replay(&client, &target, cassette).await);
    }
    Ok((results, description))
}

/// Removes the temporary database directory when the replay is over.
#[derive(Debug)]
pub struct TempDirectory(PathBuf);

impl Drop for TempDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the mock backend and Portico on loopback ports, Portico with one API key.
async fn start_in_process(
    pose: crate::mock_backend::state::Pose,
) -> Result<(Target, TempDirectory), String> {
    let mock_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| error.to_string())?;
    let mock_address = mock_listener
        .local_addr()
        .map_err(|error| error.to_string())?;
    tokio::spawn(crate::mock_backend::serve_as(mock_listener, pose));
    let directory = std::env::temp_dir().join(format!(
        "portico-conformance-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&directory).map_err(|error| error.to_string())?;
    let config = Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database: directory.join("conformance.db"),
        backends: vec![BackendConfig {
            name: "mock".into(),
            kind: BackendKind::Openai,
            base_url: format!("http://{mock_address}/v1"),
            api_key_env: None,
            models: vec!["*".into()],
            profile: None,
        }],
        api_keys: vec![ApiKeyConfig {
            key: Some(CONFORMANCE_KEY.into()),
            key_env: None,
            project: "conformance".into(),
            ..ApiKeyConfig::default()
        }],
        ..Config::default()
    };
    let app = crate::http::app::App::build(config)
        .await
        .map_err(|error| error.to_string())?;
    let address = app.address().map_err(|error| error.to_string())?;
    tokio::spawn(app.run());
    let target = Target {
        base_url: format!("http://{address}"),
        api_key: Some(CONFORMANCE_KEY.into()),
        mock_url: Some(format!("http://{mock_address}")),
        model: None,
        max_tokens: None,
    };
    Ok((target, TempDirectory(directory)))
}
