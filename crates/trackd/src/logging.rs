//! The log sink of `trackd serve`: what strangers can make it write is
//! bounded and cannot forge lines.
//!
//! - Rate limit per call site: a flood of bad datagrams or failed commits
//!   writes a few lines per window and then one "suppressed N" summary,
//!   instead of one line per event (200k garbage datagrams were 40 MB).
//! - Escaping at the sink: every control character inside a line (a
//!   newline in a device's Codec 12 response, a user's e-mail) is written
//!   as an escape, so one event is always one line whatever field or
//!   message carried it.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

/// Target of the summary lines (never limited themselves).
const SUMMARY_TARGET: &str = "trackd::log";

/// Lines one call site may write per window.
const BURST: u32 = 20;
/// The rate limit's window.
const WINDOW: Duration = Duration::from_secs(10);

/// Installs the global subscriber: `filter`, the rate limit, escaped
/// lines on stderr (with colours when `ansi`).
pub(crate) fn init(filter: EnvFilter, ansi: bool) {
    let limit = RateLimit::new(BURST, WINDOW);
    let flusher = limit.clone();
    tracing_subscriber::registry()
        .with(filter)
        .with(RateLimitLayer(limit))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(EscapingStderr { ansi }),
        )
        .init();
    // Summaries go out once per window, also after a flood has stopped.
    let spawned = std::thread::Builder::new()
        .name("log-summary".into())
        .spawn(move || loop {
            std::thread::sleep(WINDOW);
            flusher.flush();
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the log summary thread; suppressed counts are not reported");
    }
}

/// Per call site counts of one window.
#[derive(Debug)]
struct Gate {
    started: Instant,
    passed: u32,
    suppressed: u64,
    at: String,
}

/// Lines allowed per call site per window, and what was held back.
#[derive(Clone, Debug)]
pub(crate) struct RateLimit {
    gates: Arc<Mutex<HashMap<Identifier, Gate>>>,
    burst: u32,
    window: Duration,
}

impl RateLimit {
    pub(crate) fn new(burst: u32, window: Duration) -> Self {
        RateLimit {
            gates: Arc::default(),
            burst,
            window,
        }
    }

    /// Whether `event` may be written now; counts it if not.
    fn admit(&self, event: &Event<'_>) -> bool {
        let meta = event.metadata();
        if meta.target() == SUMMARY_TARGET {
            return true;
        }
        let now = Instant::now();
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        let gate = gates.entry(meta.callsite()).or_insert_with(|| Gate {
            started: now,
            passed: 0,
            suppressed: 0,
            at: format!(
                "{} {}:{}",
                meta.target(),
                meta.file().unwrap_or("?"),
                meta.line().unwrap_or(0)
            ),
        });
        if now.duration_since(gate.started) >= self.window {
            gate.started = now;
            gate.passed = 0;
        }
        if gate.passed < self.burst {
            gate.passed += 1;
            true
        } else {
            gate.suppressed += 1;
            false
        }
    }

    /// Takes the suppressed counts (call site, count) seen since the last take.
    fn take_suppressed(&self) -> Vec<(String, u64)> {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        gates
            .values_mut()
            .filter(|gate| gate.suppressed > 0)
            .map(|gate| (gate.at.clone(), std::mem::take(&mut gate.suppressed)))
            .collect()
    }

    /// Writes one summary line per call site that had lines held back.
    pub(crate) fn flush(&self) {
        for (at, suppressed) in self.take_suppressed() {
            tracing::warn!(target: SUMMARY_TARGET, suppressed, at = %at, "suppressed {suppressed} similar log lines");
        }
    }
}

/// [`RateLimit`] as a layer: a held-back event reaches no other layer.
struct RateLimitLayer(RateLimit);

impl<S: Subscriber> Layer<S> for RateLimitLayer {
    fn event_enabled(&self, event: &Event<'_>, _cx: Context<'_, S>) -> bool {
        self.0.admit(event)
    }
}

/// Stderr, with control characters inside each line escaped.
#[derive(Clone, Copy, Debug)]
struct EscapingStderr {
    ansi: bool,
}

impl<'a> MakeWriter<'a> for EscapingStderr {
    type Writer = Escaping<io::StderrLock<'static>>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaping {
            inner: io::stderr().lock(),
            ansi: self.ansi,
        }
    }
}

/// Writes each buffer as one line: control characters before its final
/// newline become escapes (`\n`, `\r`, `\u{1b}`, ...).
pub(crate) struct Escaping<W> {
    inner: W,
    /// Colour codes (ESC) are the formatter's own and pass.
    ansi: bool,
}

impl<W: Write> Escaping<W> {
    fn escaped(&self, buf: &[u8]) -> Option<Vec<u8>> {
        let (body, end) = match buf.split_last() {
            Some((b'\n', body)) => (body, &b"\n"[..]),
            _ => (buf, &b""[..]),
        };
        let text = String::from_utf8_lossy(body);
        let keep = |c: char| c == '\t' || (self.ansi && c == '\u{1b}');
        let unsafe_char =
            |c: char| (c.is_control() && !keep(c)) || c == '\u{2028}' || c == '\u{2029}';
        if !text.chars().any(unsafe_char) && matches!(text, std::borrow::Cow::Borrowed(_)) {
            return None;
        }
        let mut out = String::with_capacity(text.len() + 16);
        for c in text.chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if unsafe_char(c) => out.push_str(&c.escape_unicode().to_string()),
                c => out.push(c),
            }
        }
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(end);
        Some(bytes)
    }
}

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.escaped(buf) {
            Some(escaped) => self.inner.write_all(&escaped),
            None => self.inner.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(line: &str, ansi: bool) -> String {
        let mut out = Escaping {
            inner: Vec::new(),
            ansi,
        };
        out.write_all(line.as_bytes()).unwrap_or_default();
        String::from_utf8(out.inner).unwrap_or_default()
    }

    #[test]
    fn a_newline_inside_a_line_cannot_start_a_fake_one() {
        let line = "INFO device notice text=\"ok\n2026-12-03T00:00:00Z ERROR fake\"\n";
        let written = escape(line, false);
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(written.contains("ok\\n2026-12-03"), "{written}");
        assert!(written.ends_with('\n'));
    }

    #[test]
    fn other_control_characters_are_escaped_and_text_is_kept() {
        let written = escape("a\rb\u{1b}[31mc\u{85}d\u{2028}e\tü\n", false);
        assert_eq!(written, "a\\rb\\u{1b}[31mc\\u{85}d\\u{2028}e\tü\n");
        // With colours on, the formatter's escape codes pass.
        assert_eq!(
            escape("\u{1b}[2mx\u{1b}[0m\n", true),
            "\u{1b}[2mx\u{1b}[0m\n"
        );
        assert_eq!(escape("plain line\n", false), "plain line\n");
    }

    /// A subscriber writing into a shared buffer, for the rate limit.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_flood_from_one_call_site_writes_a_burst_and_a_summary() {
        let captured = Captured::default();
        let limit = RateLimit::new(5, Duration::from_secs(3600));
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry()
            .with(RateLimitLayer(limit.clone()))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            for n in 0..1000 {
                tracing::warn!(n, "bad datagram");
            }
            tracing::warn!("another call site");
            limit.flush();
            // Nothing more to report: no second summary.
            limit.flush();
        });
        let text = String::from_utf8(
            captured
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
        .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.iter().filter(|l| l.contains("bad datagram")).count(),
            5,
            "{text}"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("another call site"))
                .count(),
            1
        );
        let summaries: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains("suppressed 995 similar"))
            .collect();
        assert_eq!(summaries.len(), 1, "{text}");
        assert!(summaries[0].contains("logging.rs"), "{text}");
        assert_eq!(lines.len(), 7, "{text}");
    }
}
