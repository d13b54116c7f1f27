//! Threads and messages on the wire: objects (`object`), requests
//! (`request`), and new objects as the API makes them (`build`).

pub mod build;
pub mod object;
pub mod request;
