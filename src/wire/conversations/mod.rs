//! The Conversations API's wire: its objects and errors (`object`), and its
//! requests and their validation (`request`).

pub mod object;
pub mod request;
