//! Sessions and their operations. A session is keyed by the client's session id and owns a
//! DataFusion context, its configuration and its catalog; the server-side session id lets
//! PySpark notice a server restart. Each execution is an operation with tags, an abort handle
//! for Interrupt, and its buffered responses for ReattachExecute until ReleaseExecute.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use datafusion::prelude::SessionContext;
use spark_connect_proto::spark::connect::ExecutePlanResponse;
use spate_common::{Error, Result, SessionConfig};
use spate_lake::{GlobalViews, SessionCatalog};
use tokio::task::AbortHandle;

/// One operation (an ExecutePlan call).
pub struct Operation {
    /// Tags the client attached (for interrupt by tag).
    pub tags: Vec<String>,
    /// Aborts the running task.
    pub abort: Option<AbortHandle>,
    /// Responses produced so far, kept for reattachment.
    pub responses: Vec<ExecutePlanResponse>,
}

/// One Spark session.
pub struct Session {
    /// The client's session id.
    pub id: String,
    /// Our id for this incarnation of the session.
    pub server_side_id: String,
    /// DataFusion context (function registry, catalog for SQL).
    pub ctx: SessionContext,
    /// Spark configuration.
    pub config: Mutex<SessionConfig>,
    /// Views and tables.
    pub catalog: Arc<SessionCatalog>,
    /// Running and finished operations by id.
    pub operations: Mutex<HashMap<String, Operation>>,
    /// Persisted DataFrames.
    pub cache: spate_plan::cache::RelationCache,
}

impl Session {
    /// A snapshot of the configuration.
    pub fn config(&self) -> SessionConfig {
        self.config
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

/// All sessions of a server.
pub struct SessionManager {
    warehouse: PathBuf,
    global_views: GlobalViews,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl SessionManager {
    /// A manager whose sessions use `warehouse` for persistent tables.
    pub fn new(warehouse: impl Into<PathBuf>) -> Self {
        Self {
            warehouse: warehouse.into(),
            global_views: GlobalViews::default(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The session with `id`, created on first use.
    pub fn get_or_create(&self, id: &str) -> Result<Arc<Session>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(Error::IllegalArgument(format!(
                "[INVALID_HANDLE.FORMAT] the session id '{id}' is not a UUID"
            )));
        }
        let mut sessions = self
            .sessions
            .lock()
            .map_err(|_| Error::internal("session map poisoned"))?;
        if let Some(s) = sessions.get(id) {
            return Ok(s.clone());
        }
        let warehouse = std::path::absolute(&self.warehouse).unwrap_or(self.warehouse.clone());
        let config = SessionConfig::new(warehouse.display().to_string());
        let ctx = spate_plan::session::new_context(&config)?;
        let session = Arc::new(Session {
            id: id.to_string(),
            server_side_id: uuid::Uuid::new_v4().to_string(),
            ctx,
            config: Mutex::new(config),
            catalog: Arc::new(SessionCatalog::new(warehouse, self.global_views.clone())),
            operations: Mutex::new(HashMap::new()),
            cache: Default::default(),
        });
        sessions.insert(id.to_string(), session.clone());
        Ok(session)
    }

    /// Removes a session, aborting its operations.
    pub fn release(&self, id: &str) {
        let removed = self.sessions.lock().ok().and_then(|mut s| s.remove(id));
        if let Some(s) = removed
            && let Ok(ops) = s.operations.lock()
        {
            for op in ops.values() {
                if let Some(a) = &op.abort {
                    a.abort();
                }
            }
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
