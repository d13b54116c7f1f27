//! Chat Completions requests on the wire: their validation (`validate`) and
//! legacy function calling (`legacy_functions`).

pub mod legacy_functions;
pub mod validate;
