//! A server's own settings, fixed at start (Spark's static configuration): where tables live,
//! the memory limit and spill directory, how long idle sessions and detached operations live,
//! and the protocol's limits. They come from `spate serve` flags and `--conf key=value` pairs
//! with Spark's key names and defaults; a session cannot change them.

use std::path::PathBuf;
use std::time::Duration;

use spate_common::config::{parse_bytes, parse_duration};
use spate_common::{Error, Result};
use spate_exec::MemoryConfig;

/// A server's settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Warehouse directory for persistent tables.
    pub warehouse: PathBuf,
    /// Memory limit and spill directory.
    pub memory: MemoryConfig,
    /// `spark.connect.session.manager.defaultSessionTimeout`: a session idle this long is closed.
    pub session_timeout: Duration,
    /// `spark.connect.session.manager.maintenanceInterval`: how often idle sessions and
    /// abandoned operations are looked for.
    pub maintenance_interval: Duration,
    /// `spark.connect.session.manager.closedSessionsTombstonesSize`: closed session ids
    /// remembered, so that a client using one hears `INVALID_HANDLE.SESSION_CLOSED`.
    pub closed_sessions_kept: usize,
    /// `spark.connect.execute.manager.detachedTimeout`: an operation no client has been
    /// attached to for this long is canceled and forgotten.
    pub detached_timeout: Duration,
    /// `spark.connect.execute.reattachable.observerRetryBufferSize`: bytes of responses already
    /// sent that are kept for a client that reattaches.
    pub retry_buffer: usize,
    /// Bytes of responses an execution may produce ahead of what its client has read.
    pub ahead_buffer: usize,
    /// `spark.connect.grpc.arrow.maxBatchSize`: the largest Arrow batch message.
    pub max_batch_size: usize,
    /// `spark.connect.grpc.maxInboundMessageSize`: the largest request.
    pub max_inbound_message_size: usize,
    /// `spark.connect.grpc.marshallerRecursionLimit`: the deepest request.
    pub recursion_limit: usize,
    /// `spark.connect.progress.reportInterval`: how often a running query reports progress.
    pub progress_interval: Duration,
    /// `spark.sql.ui.retainedExecutions`: query records kept.
    pub retained_queries: usize,
    /// `spark.app.name`: the application's name in the UI and event log.
    pub app_name: String,
    /// `spark.ui.enabled`: whether the server serves its web UI.
    pub ui_enabled: bool,
    /// `spark.ui.port`: the UI's first port choice (the next free one is taken if busy).
    pub ui_port: u16,
    /// `spark.port.maxRetries`: how many ports after `ui_port` are tried.
    pub port_max_retries: u16,
    /// `spark.eventLog.enabled`: whether finished queries are written to an event log.
    pub event_log_enabled: bool,
    /// `spark.eventLog.dir`: where event logs go (`file:` URLs or paths).
    pub event_log_dir: PathBuf,
    /// `spark.ui.showConsoleProgress`: a progress line for long queries in `spate sql`
    /// (default: when standard error is a terminal).
    pub console_progress: Option<bool>,
}

impl ServerSettings {
    /// Spark's defaults, with tables under `warehouse`.
    pub fn new(warehouse: impl Into<PathBuf>) -> Self {
        Self {
            warehouse: warehouse.into(),
            memory: MemoryConfig::default(),
            session_timeout: Duration::from_secs(60 * 60),
            maintenance_interval: Duration::from_secs(30),
            closed_sessions_kept: 1000,
            detached_timeout: Duration::from_secs(5 * 60),
            retry_buffer: 10 << 20,
            ahead_buffer: 8 << 20,
            max_batch_size: 4 << 20,
            max_inbound_message_size: 128 << 20,
            recursion_limit: 1024,
            progress_interval: Duration::from_secs(2),
            retained_queries: spate_exec::records::DEFAULT_RETAINED,
            app_name: "Spate".into(),
            ui_enabled: true,
            ui_port: 4040,
            port_max_retries: 16,
            event_log_enabled: false,
            event_log_dir: PathBuf::from("/tmp/spark-events"),
            console_progress: None,
        }
    }

    /// Every setting with its Spark key and value, sorted by key (the UI's Environment tab).
    pub fn entries(&self) -> Vec<(String, String)> {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let mut all = vec![
            (
                "spark.sql.warehouse.dir".to_string(),
                self.warehouse.display().to_string(),
            ),
            (
                spate_exec::memory::LIMIT_KEY.to_string(),
                self.memory.limit.to_string(),
            ),
            (
                "spark.local.dir".into(),
                self.memory
                    .spill_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| std::env::temp_dir().display().to_string()),
            ),
            (
                "spark.connect.session.manager.defaultSessionTimeout".into(),
                ms(self.session_timeout),
            ),
            (
                "spark.connect.session.manager.maintenanceInterval".into(),
                ms(self.maintenance_interval),
            ),
            (
                "spark.connect.session.manager.closedSessionsTombstonesSize".into(),
                self.closed_sessions_kept.to_string(),
            ),
            (
                "spark.connect.execute.manager.detachedTimeout".into(),
                ms(self.detached_timeout),
            ),
            (
                "spark.connect.execute.reattachable.observerRetryBufferSize".into(),
                self.retry_buffer.to_string(),
            ),
            (
                "spark.connect.grpc.arrow.maxBatchSize".into(),
                self.max_batch_size.to_string(),
            ),
            (
                "spark.connect.grpc.maxInboundMessageSize".into(),
                self.max_inbound_message_size.to_string(),
            ),
            (
                "spark.connect.grpc.marshallerRecursionLimit".into(),
                self.recursion_limit.to_string(),
            ),
            (
                "spark.connect.progress.reportInterval".into(),
                ms(self.progress_interval),
            ),
            (
                "spark.sql.ui.retainedExecutions".into(),
                self.retained_queries.to_string(),
            ),
            ("spark.app.name".into(), self.app_name.clone()),
            ("spark.ui.enabled".into(), self.ui_enabled.to_string()),
            ("spark.ui.port".into(), self.ui_port.to_string()),
            (
                "spark.port.maxRetries".into(),
                self.port_max_retries.to_string(),
            ),
            (
                "spark.eventLog.enabled".into(),
                self.event_log_enabled.to_string(),
            ),
            (
                "spark.eventLog.dir".into(),
                self.event_log_dir.display().to_string(),
            ),
        ];
        if let Some(p) = self.console_progress {
            all.push(("spark.ui.showConsoleProgress".into(), p.to_string()));
        }
        all.sort();
        all
    }

    /// Applies one `--conf key=value`; an unknown key or a bad value is an error naming it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let bad = |what: &str| {
            Error::IllegalArgument(format!(
                "[INVALID_CONF_VALUE] the value '{value}' of the config \"{key}\" is invalid: it should be {what}"
            ))
        };
        let duration = |unit: Duration| {
            parse_duration(value, unit).ok_or_else(|| bad("a duration such as '30s' or '5m'"))
        };
        let bytes = || {
            parse_bytes(value)
                .and_then(|b| usize::try_from(b).ok())
                .ok_or_else(|| bad("a size such as '4m' or '2g'"))
        };
        let count = || value.trim().parse::<usize>().map_err(|_| bad("a number"));
        let flag = || match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad("true or false")),
        };
        let port = || {
            value
                .trim()
                .parse::<u16>()
                .map_err(|_| bad("a port number"))
        };
        let ms = Duration::from_millis(1);
        match key {
            "spark.sql.warehouse.dir" => self.warehouse = PathBuf::from(value),
            spate_exec::memory::LIMIT_KEY => self.memory.limit = bytes()?,
            "spark.local.dir" => self.memory.spill_dir = Some(PathBuf::from(value)),
            "spark.connect.session.manager.defaultSessionTimeout" => {
                self.session_timeout = duration(ms)?
            }
            "spark.connect.session.manager.maintenanceInterval" => {
                self.maintenance_interval = duration(ms)?
            }
            "spark.connect.session.manager.closedSessionsTombstonesSize" => {
                self.closed_sessions_kept = count()?
            }
            "spark.connect.execute.manager.detachedTimeout" => {
                self.detached_timeout = duration(ms)?
            }
            "spark.connect.execute.reattachable.observerRetryBufferSize" => {
                self.retry_buffer = bytes()?
            }
            "spark.connect.grpc.arrow.maxBatchSize" => self.max_batch_size = bytes()?,
            "spark.connect.grpc.maxInboundMessageSize" => self.max_inbound_message_size = bytes()?,
            "spark.connect.grpc.marshallerRecursionLimit" => self.recursion_limit = count()?,
            "spark.connect.progress.reportInterval" => self.progress_interval = duration(ms)?,
            "spark.sql.ui.retainedExecutions" => self.retained_queries = count()?,
            "spark.app.name" => self.app_name = value.to_string(),
            "spark.ui.enabled" => self.ui_enabled = flag()?,
            "spark.ui.port" => self.ui_port = port()?,
            "spark.port.maxRetries" => self.port_max_retries = port()?,
            "spark.eventLog.enabled" => self.event_log_enabled = flag()?,
            "spark.eventLog.dir" => {
                let path = value
                    .strip_prefix("file://")
                    .or_else(|| value.strip_prefix("file:"));
                self.event_log_dir = PathBuf::from(path.unwrap_or(value));
            }
            "spark.ui.showConsoleProgress" => self.console_progress = Some(flag()?),
            other => {
                return Err(Error::IllegalArgument(format!(
                    "the server setting '{other}' is not known; server settings are {}",
                    KEYS.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The keys [`ServerSettings::set`] knows.
pub const KEYS: &[&str] = &[
    "spark.sql.warehouse.dir",
    spate_exec::memory::LIMIT_KEY,
    "spark.local.dir",
    "spark.connect.session.manager.defaultSessionTimeout",
    "spark.connect.session.manager.maintenanceInterval",
    "spark.connect.session.manager.closedSessionsTombstonesSize",
    "spark.connect.execute.manager.detachedTimeout",
    "spark.connect.execute.reattachable.observerRetryBufferSize",
    "spark.connect.grpc.arrow.maxBatchSize",
    "spark.connect.grpc.maxInboundMessageSize",
    "spark.connect.grpc.marshallerRecursionLimit",
    "spark.connect.progress.reportInterval",
    "spark.sql.ui.retainedExecutions",
    "spark.app.name",
    "spark.ui.enabled",
    "spark.ui.port",
    "spark.port.maxRetries",
    "spark.eventLog.enabled",
    "spark.eventLog.dir",
    "spark.ui.showConsoleProgress",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_keys_set_the_settings_and_bad_ones_are_named() -> Result<()> {
        let mut s = ServerSettings::new("/tmp/w");
        s.set("spark.connect.execute.manager.detachedTimeout", "2s")?;
        s.set("spark.spate.memory.limit", "256m")?;
        assert_eq!(s.detached_timeout, Duration::from_secs(2));
        assert_eq!(s.memory.limit, 256 << 20);
        let e = s.set("spark.connect.grpc.arrow.maxBatchSize", "big");
        assert!(e.is_err_and(|e| e.to_string().contains("maxBatchSize")));
        let e = s.set("spark.nope", "1");
        assert!(e.is_err_and(|e| e.to_string().contains("spark.nope")));
        Ok(())
    }
}
