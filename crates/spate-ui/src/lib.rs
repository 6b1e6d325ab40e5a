//! Spate's web UI, in the spirit of Spark's: jobs, stages with their task distributions, the
//! SQL tab with each query's plan drawn as a graph with per-operator metrics, storage,
//! environment, Spark Connect sessions and Structured Streaming queries — plus a Skew tab that finds the straggling task for
//! you and names its hot keys. Spark's monitoring REST API is served under `/api/v1`.
//!
//! Everything renders from the query records of the server's one query runner
//! (`spate_exec::records`) through a [`Source`]: [`LiveSource`] reads a running server,
//! [`HistorySource`] reads event logs written by [`EventLog`] (`spark.eventLog.enabled`) so
//! `spate history` shows a job after its server is gone. The server ([`start`]) runs on the
//! caller's tokio runtime, bound like the Spark Connect server (loopback by default), on
//! `spark.ui.port` or the next free port (`spark.port.maxRetries`); pages are HTML rendered on
//! the server, with no JavaScript at all.

pub mod analysis;
pub mod api;
pub mod console;
pub mod event_log;
pub mod graph;
pub mod html;
pub mod live;
pub mod model;
pub mod pages;
pub mod routes;
pub mod streaming;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use event_log::{EventLog, HistorySource};
pub use live::LiveSource;
pub use model::{App, AppSummary, Source};
pub use routes::router;

/// The Spark version the API reports (the one Spate's answers follow).
pub const SPARK_VERSION: &str = "4.1.0";

/// What can go wrong starting the UI or reading event logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No port in the range was free.
    #[error(
        "cannot bind the web UI on {host} ports {first} to {last}: {source}; set spark.ui.port to a free port or spark.ui.enabled=false"
    )]
    Bind {
        /// The host.
        host: String,
        /// The first port tried.
        first: u16,
        /// The last port tried.
        last: u16,
        /// The last failure.
        source: std::io::Error,
    },
    /// An event log could not be written or read.
    #[error("event log '{path}': {source}")]
    EventLog {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file in the log directory is not an event log.
    #[error("'{0}' is not a Spate event log (no ApplicationStart line)")]
    NotAnEventLog(PathBuf),
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A running UI server.
#[derive(Debug)]
pub struct UiServer {
    /// Its address.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UiServer {
    /// Its URL (`http://127.0.0.1:4040`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `host` on the first free port of `port ..= port + retries` (Spark's
/// `spark.ui.port` and `spark.port.maxRetries`; port 0 takes any free port) and serves the UI
/// over `source` on the current runtime.
pub async fn start(
    source: Arc<dyn Source>,
    host: &str,
    port: u16,
    retries: u16,
) -> Result<UiServer> {
    let last = if port == 0 {
        0
    } else {
        port.saturating_add(retries)
    };
    let mut failure = None;
    for p in port..=last {
        match tokio::net::TcpListener::bind((host, p)).await {
            Ok(listener) => {
                let addr = listener.local_addr().map_err(|e| Error::Bind {
                    host: host.into(),
                    first: port,
                    last,
                    source: e,
                })?;
                let app = router(source);
                let task = tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::warn!("the web UI stopped: {e}");
                    }
                });
                return Ok(UiServer { addr, task });
            }
            Err(e) => failure = Some(e),
        }
    }
    Err(Error::Bind {
        host: host.into(),
        first: port,
        last,
        source: failure.unwrap_or_else(|| std::io::Error::other("no port to try")),
    })
}

/// The application id of a server started at `started_ms` (Spark's local-mode form).
pub fn app_id(started_ms: i64) -> String {
    format!("local-{started_ms}")
}

/// The UI and event log of a running server, as its settings ask.
#[derive(Debug)]
pub struct Monitor {
    /// The UI server, when `spark.ui.enabled` and a port was free.
    pub ui: Option<UiServer>,
    /// The event log, when `spark.eventLog.enabled`.
    pub event_log: Option<Arc<EventLog>>,
}

impl Monitor {
    /// Starts the UI on `host` and the event log for the server of `sessions`. A UI that cannot
    /// bind is reported and left out (the server still serves); an event log that cannot be
    /// written is an error, as in Spark.
    pub async fn start(sessions: &Arc<spate_session::SessionManager>, host: &str) -> Result<Self> {
        let settings = sessions.settings();
        let started_ms = spate_exec::records::now_ms();
        let summary = AppSummary {
            id: app_id(started_ms),
            name: settings.app_name.clone(),
            user: std::env::var("USER").unwrap_or_else(|_| "spate".into()),
            started_ms,
            ended_ms: None,
        };
        let event_log = if settings.event_log_enabled {
            let mut environment = settings.entries();
            environment.push(("spark.app.id".into(), summary.id.clone()));
            environment.sort();
            let log = Arc::new(EventLog::start(
                &settings.event_log_dir,
                &summary,
                environment,
            )?);
            sessions
                .runner()
                .store()
                .add_listener(Arc::clone(&log) as Arc<dyn spate_exec::QueryListener>);
            Some(log)
        } else {
            None
        };
        let ui = if settings.ui_enabled {
            let source = Arc::new(LiveSource::new(Arc::clone(sessions), summary));
            match start(source, host, settings.ui_port, settings.port_max_retries).await {
                Ok(ui) => Some(ui),
                Err(e) => {
                    tracing::warn!("{e}");
                    eprintln!("spate: {e}");
                    None
                }
            }
        } else {
            None
        };
        Ok(Self { ui, event_log })
    }

    /// Ends the application: stops the UI and completes the event log.
    pub fn finish(&self) {
        if let Some(ui) = &self.ui {
            ui.stop();
        }
        if let Some(log) = &self.event_log {
            log.finish();
        }
    }
}
