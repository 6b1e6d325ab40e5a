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
        }
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
