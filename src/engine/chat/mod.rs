//! Chat Completions as a service: the pipeline from request to backend and
//! back (`pipeline`, `relay`), shared deterministic calls (`shared`), prompt
//! token counts (`prompt_tokens`) and stored completions (`stored`).

pub mod pipeline;
pub mod prompt_tokens;
pub mod relay;
pub mod shared;
pub mod stored;
