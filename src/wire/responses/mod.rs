//! The Responses API's wire: the response object and its items
//! (`object`), the create request and its validation (`request`), input
//! normalization (`input`), the initial object a request makes (`defaults`)
//! and sealed compaction summaries (`sealed`).

pub mod defaults;
pub mod input;
pub mod object;
pub mod request;
pub mod sealed;
