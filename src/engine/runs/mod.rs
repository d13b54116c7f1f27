//! Assistants runs as a service: a run's segments executed (`run`) and the
//! chat history a run becomes (`history`).

pub mod history;
pub mod run;
