//! Backend profiles: for each kind of server Portico talks to, what its Chat
//! Completions endpoint accepts and how it answers, so that requests are
//! adapted to it (`adapt`) and its kind is recognized (`detect`). How each kind
//! words its errors is the fault table's business (`backends::fault`); how
//! answers are brought to OpenAI's shape (first chunk, usage) is the chat
//! normalizer's, which works whatever the kind.
//!
//! | fact | OpenAI / generic | vLLM | SGLang | llama-server | llama-cpp-python | Ollama `/v1` | LM Studio |
//! |---|---|---|---|---|---|---|---|
//! | `developer` role | yes | to the template as is (1) | to the template as is (2) | mapped to `system` (3) | refused, a 500 (4) | to the template as is (5) | refused (6) |
//! | text parts as `content` | yes | yes (1) | yes (2) | yes (3) | user only (4) | yes, one message each (5) | yes (6) |
//! | `content: null` beside `tool_calls` | yes | yes (1) | yes (2) | yes (3) | refused, a 500 (4) | yes (5) | yes (6) |
//! | `response_format: json_schema` | yes | yes (1) | yes (2) | yes (3) | no: `json_object` + `schema` (4) | yes (5) | yes (6) |
//! | `response_format: json_object` | yes | yes | yes (`{"type":"object"}`) | schema `{}` may leave it unconstrained: send one (3) | yes (4) | yes (5) | refused (6) |
//! | token limit read | both | both (1) | both (2) | both (3) | `max_tokens` only (4) | `max_tokens` only (5) | `max_tokens` (6) |
//! | `n` > 1 | yes | yes (1) | yes (2) | up to its slots (3) | one choice, silently (4) | ignored (5) | unconfirmed: one (6) |
//! | named `tool_choice` | yes | with a parser (1) | yes (2) | read as `auto`: sent as `required` with that tool alone (3) | yes (4) | ignored: only that tool is sent (5) | yes (6) |
//! | `tool_choice: "required"` | yes | with a parser (1) | yes (2) | yes (3) | ignored: one tool is sent as named (4) | ignored (5) | llama.cpp models only (6) |
//! | stream usage (`include_usage`) | yes | yes (1) | yes (2) | yes, when asked (3) | never (4) | since 0.5.2 (5) | since 0.3.18 (6) |
//! | reasoning field | `reasoning_content` / `reasoning` | `reasoning` (≥0.16) (1) | `reasoning_content` (2) | `reasoning_content` (3) | none | `reasoning` (5) | both (6) |
//! | token counting | — | `POST /tokenize` (1) | — | `POST /tokenize` (3) | `POST /extras/tokenize` (4) | — | — |
//! | `/v1/models` `owned_by` | — | `vllm` (1) | `sglang` (2) | `llamacpp`, `Server: llama.cpp` (3) | `me` (4) | namespace, `library` (5) | `organization_owner` (6) |
//!
//! Sources: (1) vLLM 0.34.0 wheel (commit 62d4bc3c7): `renderers/chat_utils/chat_message.py#L476-664`,
//! `chat_completion/protocol.py#L246-268`, `serving.py#L350-359,#L875-924`,
//! `serve/engine/protocol.py#L105-114`; (2) SGLang 0.5.23: `entrypoints/openai/protocol.py#L237-270,#L748-807,#L938,#L1214`,
//! `serving_chat.py#L2765-2805`, `http_server.py#L1993-2022`; (3) llama.cpp 82bb485:
//! `tools/server/server-common.cpp#L932-1032`, `common/chat.cpp#L3259-3262`, `server-schema.cpp#L44-65`,
//! `server-task.cpp#L513-547`, `server-context.cpp#L4919-4958`, `server-http.cpp#L126`; (4) llama-cpp-python
//! 0.3.36, captured here (`scripts/real-backend/NOTES.md`, the real-backend suite) and its `llama_cpp/server/types.py`,
//! `app.py#L529-556`; (5) Ollama v0.33.0-rc2 (fb30760): `openai/openai.go#L81-124,#L565-695`,
//! `docs/api/openai-compatibility.mdx#L217`; (6) LM Studio docs (lmstudio-ai/docs c6854fb) `3_openai-compat/*.md`,
//! lmstudio-bug-tracker#669 (`developer`), tada#16 (`json_object`), eyalrot/ollama_openai#34 (`/v1/models`).

pub mod adapt;
pub mod detect;

use std::fmt;
use std::str::FromStr;

/// The kinds of OpenAI-compatible server Portico knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServerKind {
    /// Any server speaking OpenAI's Chat Completions as OpenAI does (OpenAI
    /// itself, a proxy, `portico mock-backend`): sent as the client asked.
    #[default]
    Generic,
    Vllm,
    Sglang,
    /// llama.cpp's own `llama-server`.
    LlamaServer,
    /// llama-cpp-python's `python -m llama_cpp.server`.
    LlamaCppPython,
    /// Ollama's OpenAI-compatible `/v1`.
    Ollama,
    LmStudio,
}

impl ServerKind {
    /// Every kind, in the order of the table above.
    pub const ALL: [Self; 7] = [
        Self::Generic,
        Self::Vllm,
        Self::Sglang,
        Self::LlamaServer,
        Self::LlamaCppPython,
        Self::Ollama,
        Self::LmStudio,
    ];

    /// The name used in configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Vllm => "vllm",
            Self::Sglang => "sglang",
            Self::LlamaServer => "llama-server",
            Self::LlamaCppPython => "llama-cpp-python",
            Self::Ollama => "ollama",
            Self::LmStudio => "lm-studio",
        }
    }

    /// What this kind accepts.
    pub fn profile(self) -> Profile {
        let generic = Profile {
            kind: self,
            developer_role: true,
            system_text_parts: true,
            null_content_beside_tool_calls: true,
            json_schema: JsonSchemaForm::Native,
            json_object: JsonObjectForm::Native,
            reads_max_completion_tokens: true,
            several_choices: true,
            named_tool_choice: true,
            required_tool_choice: true,
            tokenizer: None,
        };
        match self {
            Self::Generic => generic,
            Self::Vllm => Profile {
                developer_role: false,
                tokenizer: Some(Tokenizer::Vllm),
                ..generic
            },
            Self::Sglang => Profile {
                developer_role: false,
                ..generic
            },
            Self::LlamaServer => Profile {
                json_object: JsonObjectForm::WithObjectSchema,
                named_tool_choice: false,
                tokenizer: Some(Tokenizer::LlamaServer),
                ..generic
            },
            Self::LlamaCppPython => Profile {
                developer_role: false,
                system_text_parts: false,
                null_content_beside_tool_calls: false,
                json_schema: JsonSchemaForm::JsonObjectWithSchema,
                reads_max_completion_tokens: false,
                several_choices: false,
                required_tool_choice: false,
                tokenizer: Some(Tokenizer::LlamaCppPython),
                ..generic
            },
            Self::Ollama => Profile {
                developer_role: false,
                reads_max_completion_tokens: false,
                several_choices: false,
                named_tool_choice: false,
                ..generic
            },
            Self::LmStudio => Profile {
                developer_role: false,
                json_object: JsonObjectForm::AsJsonSchema,
                reads_max_completion_tokens: false,
                several_choices: false,
                ..generic
            },
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for ServerKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                format!(
                    "unknown server kind '{name}' (known: auto, {})",
                    names.join(", ")
                )
            })
    }
}

/// What a kind of server accepts on `POST /v1/chat/completions` (see the
/// table in the module doc for each fact's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub kind: ServerKind,
    /// Takes (or maps itself) the `developer` role; otherwise it is sent as `system`.
    pub developer_role: bool,
    /// Takes text parts as a `system` or `assistant` message's content (and a
    /// `tool` message's); otherwise they are joined into a string.
    pub system_text_parts: bool,
    /// Takes `content: null` beside `tool_calls`; otherwise `""` is sent.
    pub null_content_beside_tool_calls: bool,
    pub json_schema: JsonSchemaForm,
    pub json_object: JsonObjectForm,
    /// Reads `max_completion_tokens`; otherwise it is sent as `max_tokens`.
    pub reads_max_completion_tokens: bool,
    /// Answers `n` > 1 with that many choices; otherwise `n` > 1 is refused
    /// (it would answer one, or ignore it).
    pub several_choices: bool,
    /// Honours `tool_choice: {"type": "function", …}`; otherwise it is sent as
    /// `required` with only that tool.
    pub named_tool_choice: bool,
    /// Honours `tool_choice: "required"`; otherwise, with one tool, that tool
    /// is named instead (which the server does honour).
    pub required_tool_choice: bool,
    /// Where it counts tokens, if it says.
    pub tokenizer: Option<Tokenizer>,
}

impl Default for Profile {
    fn default() -> Self {
        ServerKind::Generic.profile()
    }
}

/// How a `response_format` of type `json_schema` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonSchemaForm {
    /// As OpenAI's `{"type":"json_schema","json_schema":{"name","schema",…}}`.
    Native,
    /// As `{"type":"json_object","schema":…}` (llama-cpp-python's grammar form).
    JsonObjectWithSchema,
}

/// How a `response_format` of type `json_object` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonObjectForm {
    Native,
    /// With `"schema": {"type": "object"}`, so the server builds a grammar.
    WithObjectSchema,
    /// As a `json_schema` whose schema is `{"type": "object"}`.
    AsJsonSchema,
}

/// A server's own token-counting endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenizer {
    /// `POST /tokenize {"prompt"}` → `{"count", "tokens"}`.
    Vllm,
    /// `POST /tokenize {"content"}` → `{"tokens"}`.
    LlamaServer,
    /// `POST /extras/tokenize/count {"input"}` → `{"count"}`.
    LlamaCppPython,
}
