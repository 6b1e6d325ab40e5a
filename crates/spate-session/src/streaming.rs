//! What the web UI sees of a session's streaming queries. The streaming engine lives in a crate
//! above this one; it registers each query it starts on the session's [`StreamingBoard`] (a
//! session extension) behind the [`StreamingView`] trait, so the UI — which depends on
//! sessions, not on the streaming engine — can list them and chart their progress.

use std::sync::{Arc, Mutex};

/// One run of a streaming query, as the UI shows it.
pub trait StreamingView: Send + Sync {
    /// The query's id (the same across restarts from one checkpoint).
    fn id(&self) -> String;
    /// This run's id.
    fn run_id(&self) -> String;
    /// The query's name.
    fn name(&self) -> Option<String>;
    /// When the run started, milliseconds since the epoch.
    fn started_ms(&self) -> i64;
    /// Whether it still runs.
    fn is_active(&self) -> bool;
    /// Why it stopped, if it failed.
    fn failure(&self) -> Option<String>;
    /// Its recent batches' progress, Spark's `StreamingQueryProgress` JSON, oldest first.
    fn recent_progress(&self) -> Vec<String>;
}

/// The streaming queries of one session, for the UI.
#[derive(Default)]
pub struct StreamingBoard {
    queries: Mutex<Vec<Arc<dyn StreamingView>>>,
}

impl std::fmt::Debug for StreamingBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingBoard")
            .field("queries", &self.all().len())
            .finish()
    }
}

impl StreamingBoard {
    /// Shows `query` from now on.
    pub fn add(&self, query: Arc<dyn StreamingView>) {
        self.queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(query);
    }

    /// Forgets the queries that stopped (`spark.streams.resetTerminated()`).
    pub fn forget_terminated(&self) {
        self.queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|q| q.is_active());
    }

    /// Every query shown, oldest first.
    pub fn all(&self) -> Vec<Arc<dyn StreamingView>> {
        self.queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
