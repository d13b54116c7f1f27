//! The Chat Completions chunk pipeline's grammar: chunks synthesized from
//! chat events (`synthesize`), answers brought to OpenAI's exact shape
//! (`normalize`), SSE lines read from a backend (`sse_lines`), and the
//! completion a stream of chunks adds up to (`accumulate`).

pub mod accumulate;
pub mod normalize;
pub mod sse_lines;
pub mod synthesize;
