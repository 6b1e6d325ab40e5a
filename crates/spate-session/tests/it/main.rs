//! Integration tests of sessions and operations: real sessions over a real warehouse
//! directory, real operations whose buffers are filled and drained by concurrent tasks.

mod operations;
mod sessions;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn settings() -> spate_session::ServerSettings {
    let dir = std::env::temp_dir().join(format!("spate-it-{}", uuid_like()));
    spate_session::ServerSettings::new(dir)
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}-{}", std::process::id())
}

/// A fresh session id (a UUID, as clients send).
fn session_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}
