//! Unit tests of `config.rs`.

use super::*;

#[test]
fn a_full_file_parses_and_unknown_keys_are_refused() {
    let config: Config = toml::from_str(
        r#"
        listen = "127.0.0.1:9000"
        database = "x.db"
        [[backends]]
        name = "llama"
        base_url = "http://127.0.0.1:8080/v1"
        models = ["gemma"]
        [[api_keys]]
        key = "sk-a"
        project = "a"
        "#,
    )
    .unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(config.backends[0].models, ["gemma"]);
    assert_eq!(
        config.resolved_api_keys().unwrap(),
        [("sk-a".to_owned(), "a".to_owned())]
    );
    assert!(toml::from_str::<Config>("listn = \"x\"").is_err());
}

#[test]
fn routes_calls_health_and_cache_parse() {
    let config: Config = toml::from_str(
        r#"
        autodetect = false
        [[backends]]
        name = "llama"
        base_url = "http://127.0.0.1:8080/v1"
        [[backends]]
        name = "ollama"
        kind = "ollama"
        base_url = "http://127.0.0.1:11434"
        [[routes]]
        model = "gemma"
        aliases = ["fast"]
        backends = ["llama", "ollama"]
        upstream_model = "gemma3:270m"
        [calls]
        retries = 2
        [health]
        failure_threshold = 5
        [cache]
        enabled = true
        "#,
    )
    .unwrap();
    assert!(!config.autodetect);
    assert_eq!(config.backends[1].kind, BackendKind::Ollama);
    assert_eq!(config.routes[0].backends, ["llama", "ollama"]);
    assert_eq!(config.calls.retries, 2);
    assert_eq!(
        config.calls.first_token_timeout_seconds, 120,
        "unset fields keep their defaults"
    );
    assert_eq!(config.health.failure_threshold, 5);
    assert!(config.cache.enabled && config.cache.dedupe);
    assert!(crate::backends::build::registry_from(&config).is_ok());
    let mut broken = config.clone();
    broken.routes[0].backends = vec!["missing".into()];
    assert!(crate::backends::build::registry_from(&broken).is_err());
}
