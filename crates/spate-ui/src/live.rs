//! The running server as a [`Source`]: its query records, its Spark Connect sessions and their
//! operations, every session's cached DataFrames and the server's settings, read afresh for
//! each request.

use std::sync::Arc;

use spate_plan::cache::Stored;
use spate_session::SessionManager;

use crate::model::{
    App, AppSummary, CachedInfo, OperationInfo, SessionInfo, Source, StreamingInfo,
};

/// The live application.
pub struct LiveSource {
    sessions: Arc<SessionManager>,
    summary: AppSummary,
}

impl LiveSource {
    /// The application of `sessions`, known as `summary`.
    pub fn new(sessions: Arc<SessionManager>, summary: AppSummary) -> Self {
        Self { sessions, summary }
    }

    /// Who it is.
    pub fn summary(&self) -> &AppSummary {
        &self.summary
    }

    fn snapshot(&self) -> App {
        let mut sessions = Vec::new();
        let mut storage = Vec::new();
        let mut streaming = Vec::new();
        for s in self.sessions.all() {
            for q in s.extension::<spate_session::StreamingBoard>().all() {
                streaming.push(StreamingInfo {
                    session_id: s.id.clone(),
                    id: q.id(),
                    run_id: q.run_id(),
                    name: q.name(),
                    active: q.is_active(),
                    failure: q.failure(),
                    started_ms: q.started_ms(),
                    progress: q
                        .recent_progress()
                        .iter()
                        .filter_map(|p| serde_json::from_str(p).ok())
                        .collect(),
                });
            }
            sessions.push(SessionInfo {
                id: s.id.clone(),
                user_id: s.user_id.clone(),
                closed: s.is_closed(),
                operations: s
                    .operations()
                    .iter()
                    .map(|o| OperationInfo {
                        id: o.id.clone(),
                        state: format!("{:?}", o.state()),
                        tags: o.tags.clone(),
                    })
                    .collect(),
            });
            for entry in s.cache.entries() {
                let (computed, memory_bytes, disk_bytes, partitions, rows) = match entry.stored() {
                    Some(Stored::Memory(d)) => (
                        true,
                        d.size() as u64,
                        0,
                        d.batches.len(),
                        d.batches.iter().map(|b| b.num_rows() as u64).sum(),
                    ),
                    Some(Stored::Disk { path, .. }) => {
                        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                        (true, 0, size, 1, 0)
                    }
                    None => (false, 0, 0, 0, 0),
                };
                storage.push(CachedInfo {
                    id: storage.len(),
                    session_id: s.id.clone(),
                    level: level_description(
                        entry.level.use_disk,
                        entry.level.use_memory,
                        entry.level.use_off_heap,
                        entry.level.deserialized,
                        entry.level.replication,
                    ),
                    computed,
                    memory_bytes,
                    disk_bytes,
                    partitions,
                    rows,
                });
            }
        }
        let mut environment = self.sessions.settings().entries();
        environment.push(("spark.app.id".into(), self.summary.id.clone()));
        environment.push(("spark.master".into(), "local[*]".into()));
        environment.sort();
        App {
            summary: self.summary.clone(),
            queries: self.sessions.runner().store().records(),
            sessions,
            storage,
            environment,
            streaming,
            history: false,
        }
    }
}

/// Spark's description of a storage level (`Disk Memory Deserialized 1x Replicated`).
pub fn level_description(
    use_disk: bool,
    use_memory: bool,
    use_off_heap: bool,
    deserialized: bool,
    replication: i32,
) -> String {
    let mut out = String::new();
    if use_disk {
        out.push_str("Disk ");
    }
    if use_memory {
        out.push_str(if use_off_heap {
            "Memory (off heap) "
        } else {
            "Memory "
        });
    }
    out.push_str(if deserialized {
        "Deserialized "
    } else {
        "Serialized "
    });
    out.push_str(&format!("{replication}x Replicated"));
    out
}

impl Source for LiveSource {
    fn apps(&self) -> Vec<AppSummary> {
        vec![self.summary.clone()]
    }

    fn app(&self, id: Option<&str>) -> Option<App> {
        match id {
            Some(id) if id != self.summary.id => None,
            _ => Some(self.snapshot()),
        }
    }

    fn is_history(&self) -> bool {
        false
    }
}
