//! The command line: `portico serve`, `portico mock-backend`, `portico openapi`.
//! Servers print `… listening on http://ADDR` as their first line on stdout, so
//! scripts and tests that ask for port 0 learn the real port.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::http::app::App;

/// Portico: the OpenAI platform (Responses, Chat, Models) in front of local inference servers.
#[derive(Debug, Parser)]
#[command(name = "portico", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines on stderr as `json` or `text` [default: json for `serve`, text otherwise].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<crate::observe::logging::LogFormat>,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve {
        /// A TOML config file (see README).
        #[arg(long)]
        config: Option<PathBuf>,
        /// An OpenAI-compatible backend URL such as http://127.0.0.1:8080/v1 serving every model.
        /// May be repeated.
        #[arg(long = "backend")]
        backends: Vec<String>,
        /// Address to listen on [default: 127.0.0.1:8400].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// The database: a SQLite file, or a PostgreSQL URL (`postgres://…`)
        /// [default: ./portico.db]. Overrides the config file's `database`.
        #[arg(long, env = "PORTICO_DATABASE_URL")]
        db: Option<PathBuf>,
        /// Do not look for local servers (Ollama, llama.cpp, vLLM, LM Studio) when no backend is configured.
        #[arg(long)]
        no_autodetect: bool,
    },
    /// Serve the built-in scripted backend as an OpenAI-compatible chat server.
    MockBackend {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Pose as this kind of server (generic, vllm, sglang, llama-server,
        /// llama-cpp-python, ollama, lm-studio): its /v1/models answer, its
        /// refusals, its stream quirks and its error dialect.
        #[arg(long, default_value = "generic")]
        kind: String,
        /// Word scripted errors in this dialect (openai, vllm, vllm-flat,
        /// llamacpp, ollama, fastapi, lmstudio) [default: the kind's own].
        #[arg(long)]
        error_dialect: Option<String>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Replay recorded OpenAI traffic and compare the answers (see conformance/README.md).
    Conformance {
        /// Grade this server instead of an in-process Portico (e.g. http://127.0.0.1:8080/v1).
        #[arg(long)]
        target: Option<String>,
        /// Folder of cassettes.
        #[arg(long, default_value = "conformance/cassettes")]
        cassettes: PathBuf,
        /// Write the Markdown report here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// API key for --target.
        #[arg(long, env = "PORTICO_CONFORMANCE_API_KEY")]
        api_key: Option<String>,
        /// Model name to send to --target instead of OpenAI's.
        #[arg(long)]
        model: Option<String>,
        /// Only cassettes whose id contains this text.
        #[arg(long)]
        only: Option<String>,
        /// With --target: the token limit added to requests that set none.
        #[arg(long, default_value_t = 64)]
        max_tokens: u64,
        /// Without --target: the mock backend words its errors in this dialect
        /// (vllm, vllm-flat, llamacpp, ollama, fastapi, lmstudio), posing as that kind.
        #[arg(long)]
        error_dialect: Option<String>,
    },
}

/// Runs the command line.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let default_format = match cli.command {
        Command::Serve { .. } => crate::observe::logging::LogFormat::Json,
        _ => crate::observe::logging::LogFormat::Text,
    };
    crate::observe::logging::init(cli.log_format.unwrap_or(default_format));
    let result = match cli.command {
        Command::Serve {
            config,
            backends,
            listen,
            db,
            no_autodetect,
        } => serve(config, backends, listen, db, no_autodetect).await,
        Command::MockBackend {
            listen,
            kind,
            error_dialect,
        } => mock_backend(listen, &kind, error_dialect.as_deref()).await,
        Command::Conformance {
            target,
            cassettes,
            report,
            api_key,
            model,
            only,
            max_tokens,
            error_dialect,
        } => match error_dialect.as_deref().map(str::parse).transpose() {
            Err(error) => Err(error),
            Ok(dialect) => {
                conformance(
                    crate::conformance::Options {
                        cassettes,
                        target,
                        api_key,
                        model,
                        only,
                        max_tokens: Some(max_tokens),
                        dialect,
                    },
                    report,
                )
                .await
            }
        },
        Command::Openapi => {
            println!("{}", crate::http::openapi::document_json());
            Ok(())
        }
    };
    // Buffered log lines go out before the process's last words.
    crate::observe::logging::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("portico: {message}");
            ExitCode::FAILURE
        }
    }
}

fn announce(what: &str, address: SocketAddr) {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{what} listening on http://{address}");
    let _ = stdout.flush();
}

async fn serve(
    config_path: Option<PathBuf>,
    backends: Vec<String>,
    listen: Option<SocketAddr>,
    db: Option<PathBuf>,
    no_autodetect: bool,
) -> Result<(), String> {
    let mut config = match config_path {
        Some(path) => Config::from_file(&path).map_err(|error| error.to_string())?,
        None => Config::default(),
    };
    for backend in &backends {
        config.add_backend_url(backend);
    }
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(db) = db {
        config.database = db;
    }
    if config.backends.is_empty() && config.autodetect && !no_autodetect {
        let found = crate::backends::build::detect_local_servers().await;
        if found.is_empty() {
            tracing::info!("no backend configured and none found on the usual local ports: serving the built-in `echo` model");
        }
        for backend in &found {
            tracing::info!(backend = %backend.name, url = %backend.base_url, "found a local inference server");
        }
        config.backends = found;
    }
    let app = App::build(config)
        .await
        .map_err(|error| error.to_string())?;
    let address = app.address().map_err(|error| error.to_string())?;
    announce("portico", address);
    app.run().await.map_err(|error| error.to_string())
}

async fn mock_backend(
    listen: SocketAddr,
    kind: &str,
    error_dialect: Option<&str>,
) -> Result<(), String> {
    let mut pose = crate::mock_backend::state::Pose::as_kind(kind.parse()?);
    if let Some(dialect) = error_dialect {
        pose.dialect = dialect.parse()?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| error.to_string())?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    announce("portico mock-backend", address);
    crate::mock_backend::serve_as(listener, pose)
        .await
        .map_err(|error| error.to_string())
}

async fn conformance(
    options: crate::conformance::Options,
    report: Option<PathBuf>,
) -> Result<(), String> {
    let (results, target) = crate::conformance::run(&options).await?;
    let markdown = crate::conformance::report::markdown(&results, &target);
    for (api, tally) in crate::conformance::report::by_api(&results) {
        println!(
            "{api:14} {:4} in scope {:4} passed {:6.1} %  ({} out of scope)",
            tally.in_scope(),
            tally.passed + tally.refusals_passed,
            tally.pass_rate() * 100.0,
            tally.out_of_scope
        );
    }
    if let Some(path) = report {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| error.to_string())?;
        }
        std::fs::write(&path, markdown).map_err(|error| format!("{}: {error}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}
