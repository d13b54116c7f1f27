//! The Assistants API's wire: the assistant object (`object`), its create
//! and modify requests (`request`), and what every Assistants v2 resource
//! shares (`shared`: cursor lists, id prefixes, tool rules).

pub mod object;
pub mod request;
pub mod shared;
