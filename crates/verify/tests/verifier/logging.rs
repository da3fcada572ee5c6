//! Tokens never reach the log, whatever happens to them.

use std::io;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

use crate::support::{FakeJwks, ManualClock, claims, eddsa, with};

/// Everything logged, at every level, while the guard lives (this thread only).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn neither_accepted_nor_refused_tokens_are_logged_even_at_trace_level() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let key = eddsa("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    let valid = key.sign(&claims());
    let expired = key.sign(&with(claims(), "exp", serde_json::json!(0)));
    assert!(verifier.verify(&valid).await.is_ok());
    assert!(verifier.verify(&expired).await.is_err());
    server.set_status(500);
    clock.advance(300);
    assert!(verifier.verify(&valid).await.is_ok()); // stale use: a warning

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("verifying with the cached copy"), "{log}");
    for token in [&valid, &expired] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token reached the log: {log}");
    }
}
