//! `tracing` output captured into a buffer, for tests that check what reaches the logs
//! (secrets must not; warnings must, once).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::subscriber::DefaultGuard;
use tracing::Level;

/// Log lines captured as plain text (no colours) until dropped.
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: Option<DefaultGuard>,
}

impl LogCapture {
    /// Everything logged on the current thread at `level` and above, while the capture
    /// lives. Use it with a current-thread runtime so the server, the HTTP stack and the
    /// code under test all log on this thread.
    pub fn this_thread(level: Level) -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let guard = tracing::subscriber::set_default(subscriber(&buffer, level));
        Self {
            buffer,
            _guard: Some(guard),
        }
    }

    /// Everything the whole test process logs at INFO and above, from the first call on
    /// (the process's global subscriber: every call shares one buffer, so look for lines
    /// that name what your own test made). Threads with a [`LogCapture::this_thread`]
    /// capture log there instead.
    pub fn process() -> Self {
        static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
        let buffer = BUFFER.get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            tracing::subscriber::set_global_default(subscriber(&buffer, Level::INFO))
                .expect("no other global subscriber in this test process");
            buffer
        });
        Self {
            buffer: buffer.clone(),
            _guard: None,
        }
    }

    /// What was captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().expect("log buffer")).into_owned()
    }
}

fn subscriber(
    buffer: &Arc<Mutex<Vec<u8>>>,
    level: Level,
) -> impl tracing::Subscriber + Send + Sync + 'static {
    let writer = Writer(buffer.clone());
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
}

#[derive(Clone)]
struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_capture_sees_this_threads_lines_at_its_level() {
        let logs = LogCapture::this_thread(Level::INFO);
        tracing::info!("kept line");
        tracing::debug!("dropped line");
        let other = std::thread::spawn(|| tracing::info!("other thread")).join();
        assert!(other.is_ok());
        let text = logs.text();
        assert!(text.contains("kept line"), "{text}");
        assert!(!text.contains("dropped line"), "{text}");
        assert!(!text.contains("other thread"), "{text}");
    }
}
