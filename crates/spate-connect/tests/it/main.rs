//! Integration tests of the service's decoding and the readers behind it, on generated input.

mod fuzz;
mod operators;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn settings() -> spate_session::ServerSettings {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    spate_session::ServerSettings::new(
        std::env::temp_dir().join(format!("spate-it-{nanos:x}-{}", std::process::id())),
    )
}

/// A session id (a UUID, as clients send).
fn session_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}
