//! A session's streaming queries (kept in the session as an extension): started, looked up
//! by id for the client's commands, listed as `spark.streams.active`. Terminated queries stay
//! reachable, as in Spark, until `resetTerminated()`.

use std::sync::{Arc, Mutex, MutexGuard};

use spate_common::{Error, Result};
use spate_session::Session;

use crate::query::{StartRequest, StreamingQuery};

/// The streaming queries of one session.
#[derive(Debug, Default)]
pub struct SessionStreams {
    queries: Mutex<Vec<Arc<StreamingQuery>>>,
}

impl SessionStreams {
    /// The streams of `session`.
    pub fn of(session: &Session) -> Arc<Self> {
        session.extension::<Self>()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<StreamingQuery>>> {
        self.queries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a query in `session`; Spark's error when an active query has the same name.
    pub fn start(&self, session: Arc<Session>, req: StartRequest) -> Result<Arc<StreamingQuery>> {
        if let Some(name) = &req.name
            && self
                .active()
                .iter()
                .any(|q| q.name.as_deref() == Some(name))
        {
            return Err(Error::IllegalArgument(format!(
                "Cannot start query with name {name} as a query with that name is already \
                 active in this SparkSession"
            )));
        }
        let board = session.extension::<spate_session::StreamingBoard>();
        let query = StreamingQuery::start(session, req)?;
        self.lock().push(Arc::clone(&query));
        board.add(Arc::clone(&query) as Arc<dyn spate_session::StreamingView>);
        Ok(query)
    }

    /// The query `query_id` (its latest run), if the session has it.
    pub fn get(&self, query_id: &str) -> Option<Arc<StreamingQuery>> {
        self.lock().iter().rev().find(|q| q.id == query_id).cloned()
    }

    /// Run `run_id` of query `query_id` (a client holds a run: after a restart from the same
    /// checkpoint, the old run's handle still shows the old run), else the query's latest run.
    pub fn get_run(&self, query_id: &str, run_id: &str) -> Option<Arc<StreamingQuery>> {
        let exact = self
            .lock()
            .iter()
            .find(|q| q.id == query_id && q.run_id == run_id)
            .cloned();
        exact.or_else(|| self.get(query_id))
    }

    /// The active queries.
    pub fn active(&self) -> Vec<Arc<StreamingQuery>> {
        self.lock()
            .iter()
            .filter(|q| q.state().is_active())
            .cloned()
            .collect()
    }

    /// Every query the session has not forgotten.
    pub fn all(&self) -> Vec<Arc<StreamingQuery>> {
        self.lock().clone()
    }

    /// Forgets the terminated queries.
    pub fn reset_terminated(&self) {
        self.lock().retain(|q| q.state().is_active());
    }
}
