//! Log lines written off the request path. A request's log line is appended
//! to a shared buffer (a copy under a short lock) and a background thread
//! writes the buffer to stderr every [`FLUSH_INTERVAL`], in one `write` for
//! all the lines gathered, instead of one `write` system call per line on the
//! thread serving the request. Lines keep their order. When the buffer
//! passes [`HIGH_WATER`] (the output is slower than the logging), the thread
//! that logs writes it out itself, so memory stays bounded. [`LogBuffer::flush`]
//! writes what is pending (at exit).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

/// Buffered bytes past which the logging thread writes them itself.
pub const HIGH_WATER: usize = 256 * 1024;

/// A shared log buffer in front of an output.
#[derive(Clone)]
pub struct LogBuffer {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Vec<u8>>,
    /// No flushing thread could be started: lines are written as they come.
    unbuffered: AtomicBool,
    /// Held while writing, so that batches reach the output in order.
    output: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for LogBuffer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("LogBuffer").finish_non_exhaustive()
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked while logging leaves bytes, not broken state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogBuffer {
    /// A buffer in front of `output`, with no flushing thread (see [`Self::spawn_flusher`]).
    pub fn new(output: Box<dyn Write + Send>) -> Self {
        Self {
            shared: Arc::new(Shared {
                pending: Mutex::new(Vec::with_capacity(16 * 1024)),
                unbuffered: AtomicBool::new(false),
                output: Mutex::new(output),
            }),
        }
    }

    /// The process's stderr buffer, flushed every [`FLUSH_INTERVAL`] by its own thread.
    pub fn stderr() -> Self {
        static STDERR: OnceLock<LogBuffer> = OnceLock::new();
        STDERR
            .get_or_init(|| {
                let buffer = LogBuffer::new(Box::new(std::io::stderr()));
                buffer.spawn_flusher();
                buffer
            })
            .clone()
    }

    /// Starts the thread that flushes every [`FLUSH_INTERVAL`]. If no thread
    /// can be started, every line is written at once instead.
    pub fn spawn_flusher(&self) {
        let buffer = self.clone();
        let started = std::thread::Builder::new()
            .name("portico-log".to_owned())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_INTERVAL);
                buffer.flush();
            });
        if started.is_err() {
            self.shared.unbuffered.store(true, Ordering::Relaxed);
            self.flush();
        }
    }

    fn append(&self, bytes: &[u8]) {
        let full = {
            let mut pending = locked(&self.shared.pending);
            pending.extend_from_slice(bytes);
            pending.len() >= HIGH_WATER
        };
        if full || self.shared.unbuffered.load(Ordering::Relaxed) {
            self.flush();
        }
    }

    /// Writes every pending line to the output now.
    pub fn flush(&self) {
        let mut output = locked(&self.shared.output);
        let batch = {
            let mut pending = locked(&self.shared.pending);
            if pending.is_empty() {
                return;
            }
            std::mem::replace(&mut *pending, Vec::with_capacity(16 * 1024))
        };
        // Nowhere to report a failure to write the log: the lines are dropped.
        let _ = output.write_all(&batch);
        let _ = output.flush();
    }
}

/// One event's writer: tracing-subscriber formats the line, then writes it here.
#[derive(Debug)]
pub struct BufferedLine {
    buffer: LogBuffer,
}

impl Write for BufferedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'writer> MakeWriter<'writer> for LogBuffer {
    type Writer = BufferedLine;

    fn make_writer(&'writer self) -> Self::Writer {
        BufferedLine {
            buffer: self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that keeps what it is given, and counts the writes.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut kept = locked(&self.0);
            kept.0.extend_from_slice(bytes);
            kept.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Kept {
        fn text(&self) -> String {
            String::from_utf8_lossy(&locked(&self.0).0).into_owned()
        }
        fn writes(&self) -> usize {
            locked(&self.0).1
        }
    }

    #[test]
    fn lines_wait_for_the_flush_and_leave_in_one_write_in_order() {
        let kept = Kept::default();
        let buffer = LogBuffer::new(Box::new(kept.clone()));
        for line in ["one\n", "two\n", "three\n"] {
            buffer.make_writer().write_all(line.as_bytes()).ok();
        }
        assert_eq!(kept.text(), "", "nothing is written on the logging thread");
        buffer.flush();
        assert_eq!(kept.text(), "one\ntwo\nthree\n");
        assert_eq!(kept.writes(), 1);
        buffer.flush();
        assert_eq!(kept.writes(), 1, "an empty buffer writes nothing");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_thread_that_fills_it() {
        let kept = Kept::default();
        let buffer = LogBuffer::new(Box::new(kept.clone()));
        let line = vec![b'x'; 1000];
        for _ in 0..(HIGH_WATER / line.len() + 1) {
            buffer.make_writer().write_all(&line).ok();
        }
        assert!(kept.text().len() >= HIGH_WATER);
    }

    #[test]
    fn the_flusher_thread_writes_without_being_asked() {
        let kept = Kept::default();
        let buffer = LogBuffer::new(Box::new(kept.clone()));
        buffer.spawn_flusher();
        buffer.make_writer().write_all(b"late\n").ok();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while kept.text().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(kept.text(), "late\n");
    }
}
