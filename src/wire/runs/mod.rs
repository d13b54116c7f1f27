//! Runs and run steps on the wire: objects, the job a run keeps between
//! segments and its errors (`object`), and run requests (`request`).

pub mod object;
pub mod request;
