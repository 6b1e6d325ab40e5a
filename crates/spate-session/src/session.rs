//! Spark sessions. A [`Session`] is keyed by the client's session id and owns a DataFusion
//! context (attached to the server's one query runner, so its queries share the memory pool),
//! its configuration, its catalog view, persisted DataFrames, artifacts and operations; its
//! server-side id lets a client notice that the server restarted (`INVALID_HANDLE.SESSION_CHANGED`).
//!
//! The [`SessionManager`] creates sessions on first use and closes them on ReleaseSession, at
//! shutdown, or when idle longer than Spark's `defaultSessionTimeout`; a closed session's id is
//! remembered (a bounded set of tombstones) so that a client still using it hears
//! `INVALID_HANDLE.SESSION_CLOSED` instead of silently getting a fresh, empty session. The
//! manager's maintenance also cancels operations abandoned by their clients (detached longer
//! than `detachedTimeout`).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use spate_common::{Error, Result, SessionConfig};
use spate_exec::{QueryRunner, QueryScope};
use spate_lake::{GlobalViews, SessionCatalog};

use crate::artifacts::ArtifactStore;
use crate::handle_error;
use crate::operation::{BufferLimits, Operation};
use crate::settings::ServerSettings;

/// One Spark session.
pub struct Session {
    /// The client's session id.
    pub id: String,
    /// Our id for this incarnation of the session.
    pub server_side_id: String,
    /// The user the client named.
    pub user_id: String,
    /// DataFusion context (function registry, catalog for SQL), attached to the runner.
    pub ctx: SessionContext,
    /// Spark configuration.
    pub config: Mutex<SessionConfig>,
    /// Views and tables.
    pub catalog: Arc<SessionCatalog>,
    /// Persisted DataFrames.
    pub cache: spate_plan::cache::RelationCache,
    /// Uploaded artifacts.
    pub artifacts: ArtifactStore,
    /// Per-session state of crates above this one (the streaming queries), by type.
    extensions: Mutex<HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
    closed: std::sync::atomic::AtomicBool,
    operations: Mutex<HashMap<String, Arc<Operation>>>,
    abandoned: Mutex<VecDeque<String>>,
    last_used: Mutex<Instant>,
    limits: BufferLimits,
    /// The address clients reach this server at (`sc://host:port`), once it listens.
    connect_url: Arc<std::sync::OnceLock<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Abandoned operation ids remembered per session.
const ABANDONED_KEPT: usize = 1000;

impl Session {
    /// The session's `T`, created on first use: state that crates above this one keep per
    /// session (spate-stream's queries) without this crate knowing their types.
    pub fn extension<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = lock(&self.extensions);
        let entry = map
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match Arc::clone(entry).downcast::<T>() {
            Ok(t) => t,
            // the map is keyed by the type id, so the entry is a T; replace it if not
            Err(_) => {
                let fresh = Arc::new(T::default());
                *entry = Arc::clone(&fresh) as Arc<dyn std::any::Any + Send + Sync>;
                fresh
            }
        }
    }

    /// A snapshot of the configuration.
    pub fn config(&self) -> SessionConfig {
        lock(&self.config).clone()
    }

    /// A copy of the session's DataFusion state whose queries run for `scope` (this session's
    /// id is filled in).
    pub fn state(&self, mut scope: QueryScope) -> Result<SessionState> {
        scope.session_id.clone_from(&self.id);
        let mut state = self.ctx.state();
        spate_exec::set_scope(&mut state, scope)?;
        Ok(state)
    }

    /// Marks the session used now (for idle expiry).
    pub fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    /// Registers a new operation; an id already in use is Spark's
    /// `INVALID_HANDLE.OPERATION_ALREADY_EXISTS`.
    pub fn start_operation(
        &self,
        id: String,
        tags: Vec<String>,
        reattachable: bool,
    ) -> Result<Arc<Operation>> {
        let mut ops = lock(&self.operations);
        if ops.contains_key(&id) {
            return Err(handle_error(
                "INVALID_HANDLE.OPERATION_ALREADY_EXISTS",
                format!("The handle {id} is invalid. Operation already exists."),
            ));
        }
        let op = Operation::new(id.clone(), self.id.clone(), tags, reattachable, self.limits);
        ops.insert(id, Arc::clone(&op));
        Ok(op)
    }

    /// The operation with `id`: Spark's `OPERATION_NOT_FOUND`, or `OPERATION_ABANDONED` for one
    /// canceled because its client was gone too long.
    pub fn operation(&self, id: &str) -> Result<Arc<Operation>> {
        if let Some(op) = lock(&self.operations).get(id) {
            return Ok(Arc::clone(op));
        }
        if lock(&self.abandoned).iter().any(|a| a == id) {
            return Err(handle_error(
                "INVALID_HANDLE.OPERATION_ABANDONED",
                format!(
                    "The handle {id} is invalid. Operation was considered abandoned because of \
                     inactivity and removed."
                ),
            ));
        }
        Err(handle_error(
            "INVALID_HANDLE.OPERATION_NOT_FOUND",
            format!("The handle {id} is invalid. Operation not found."),
        ))
    }

    /// The operations, running or not yet released.
    pub fn operations(&self) -> Vec<Arc<Operation>> {
        lock(&self.operations).values().cloned().collect()
    }

    /// Closes and forgets an operation (ReleaseExecute's release-all).
    pub fn release_operation(&self, id: &str) {
        if let Some(op) = lock(&self.operations).remove(id) {
            op.close();
        }
    }

    /// Cancels and forgets operations no client has been attached to for `timeout`.
    fn abandon_detached(&self, timeout: Duration) -> Vec<String> {
        let stale: Vec<Arc<Operation>> = lock(&self.operations)
            .values()
            .filter(|op| op.detached_for().is_some_and(|d| d >= timeout))
            .cloned()
            .collect();
        let mut ids = Vec::new();
        for op in stale {
            if op.cancel() {
                tracing::info!(
                    "operation {} of session {} canceled: no client attached for {timeout:?}",
                    op.id,
                    self.id
                );
            }
            lock(&self.operations).remove(&op.id);
            op.close();
            let mut abandoned = lock(&self.abandoned);
            if abandoned.len() >= ABANDONED_KEPT {
                abandoned.pop_front();
            }
            abandoned.push_back(op.id.clone());
            ids.push(op.id.clone());
        }
        ids
    }

    /// Ends the session: its operations are canceled, its artifacts and cached rows removed.
    /// Whether the session was released or expired (work it started, such as streaming
    /// queries, stops when it sees this).
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The address clients reach this server at (`sc://host:port`), for work that connects
    /// back as a client (a foreachBatch worker); `None` before the server listens.
    pub fn connect_url(&self) -> Option<String> {
        self.connect_url.get().cloned()
    }

    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let ops: Vec<Arc<Operation>> = lock(&self.operations).drain().map(|(_, o)| o).collect();
        for op in ops {
            op.close();
        }
        self.cache.clear();
        self.artifacts.clear();
    }
}

/// All sessions of a server.
pub struct SessionManager {
    settings: ServerSettings,
    warehouse: PathBuf,
    runner: Arc<QueryRunner>,
    global_views: GlobalViews,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    closed: Mutex<VecDeque<String>>,
    artifact_root: PathBuf,
    connect_url: Arc<std::sync::OnceLock<String>>,
}

impl SessionManager {
    /// A manager with `settings`, its own query runner (memory pool, records).
    pub fn new(settings: ServerSettings) -> Result<Self> {
        let runner = QueryRunner::new(settings.memory.clone(), settings.retained_queries)?;
        // the UI's hot keys cost a few formatted values per batch; only when someone can look
        runner.set_key_sampling(settings.ui_enabled || settings.event_log_enabled);
        let warehouse =
            std::path::absolute(&settings.warehouse).unwrap_or(settings.warehouse.clone());
        let artifact_root = std::env::temp_dir().join(format!(
            "spate-artifacts-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        Ok(Self {
            settings,
            warehouse,
            runner,
            global_views: GlobalViews::default(),
            sessions: Mutex::default(),
            closed: Mutex::default(),
            artifact_root,
            connect_url: Arc::default(),
        })
    }

    /// Records the address the server listens on (`sc://host:port`), which sessions give to
    /// work that connects back as a client.
    pub fn set_connect_url(&self, url: String) {
        let _ = self.connect_url.set(url);
    }

    /// The server's settings.
    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    /// The server's query runner.
    pub fn runner(&self) -> &Arc<QueryRunner> {
        &self.runner
    }

    /// The session with `id`, created on first use. `observed` is the server-side id the client
    /// saw before, if any: a different one means the server restarted since.
    pub fn get_or_create(
        &self,
        id: &str,
        user_id: &str,
        observed: Option<&str>,
    ) -> Result<Arc<Session>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(handle_error(
                "INVALID_HANDLE.FORMAT",
                format!(
                    "The handle {id} is invalid. Handle must be an UUID string of the format \
                     '00112233-4455-6677-8899-aabbccddeeff'"
                ),
            ));
        }
        let mut sessions = lock(&self.sessions);
        if let Some(s) = sessions.get(id) {
            if let Some(seen) = observed.filter(|o| !o.is_empty())
                && seen != s.server_side_id
            {
                return Err(session_changed(id));
            }
            s.touch();
            return Ok(Arc::clone(s));
        }
        if lock(&self.closed).iter().any(|c| c == id) {
            return Err(handle_error(
                "INVALID_HANDLE.SESSION_CLOSED",
                format!("The handle {id} is invalid. Session was closed."),
            ));
        }
        if observed.is_some_and(|o| !o.is_empty()) {
            // the client had a session here before this server started
            return Err(session_changed(id));
        }
        let session = Arc::new(self.create(id, user_id)?);
        sessions.insert(id.to_string(), Arc::clone(&session));
        Ok(session)
    }

    fn create(&self, id: &str, user_id: &str) -> Result<Session> {
        let config = SessionConfig::new(self.warehouse.display().to_string());
        let scope = QueryScope {
            session_id: id.to_string(),
            ..QueryScope::default()
        };
        let ctx = spate_plan::session::new_context(&config, &self.runner, scope)?;
        Ok(Session {
            id: id.to_string(),
            server_side_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_string(),
            ctx,
            config: Mutex::new(config),
            catalog: Arc::new(SessionCatalog::new(
                self.warehouse.clone(),
                self.global_views.clone(),
            )),
            cache: Default::default(),
            artifacts: ArtifactStore::new(self.artifact_root.join(id)),
            extensions: Mutex::default(),
            closed: Default::default(),
            operations: Mutex::default(),
            abandoned: Mutex::default(),
            last_used: Mutex::new(Instant::now()),
            limits: BufferLimits {
                ahead: self.settings.ahead_buffer,
                retry: self.settings.retry_buffer,
            },
            connect_url: Arc::clone(&self.connect_url),
        })
    }

    /// The live session with `id`, without creating one.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).get(id).cloned()
    }

    /// Closes a session (ReleaseSession): its operations are canceled and its id remembered.
    pub fn release(&self, id: &str) {
        let removed = lock(&self.sessions).remove(id);
        if let Some(s) = removed {
            s.close();
            let mut closed = lock(&self.closed);
            if closed.len() >= self.settings.closed_sessions_kept.max(1) {
                closed.pop_front();
            }
            closed.push_back(id.to_string());
        }
    }

    /// One round of maintenance: closes sessions idle longer than the session timeout and
    /// cancels operations detached longer than the detached timeout. Returns the sessions
    /// closed.
    pub fn maintain(&self) -> Vec<String> {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        let mut expired = Vec::new();
        for s in sessions {
            s.abandon_detached(self.settings.detached_timeout);
            let busy = s.operations().iter().any(|o| !o.state().is_terminal());
            if !busy && s.idle_for() >= self.settings.session_timeout {
                tracing::info!(
                    "session {} closed after {:?} idle",
                    s.id,
                    self.settings.session_timeout
                );
                expired.push(s.id.clone());
            }
        }
        for id in &expired {
            self.release(id);
        }
        expired
    }

    /// Runs [`Self::maintain`] every maintenance interval until the manager is dropped.
    pub fn spawn_maintenance(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let every = self
            .settings
            .maintenance_interval
            .max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(manager) => {
                        manager.maintain();
                    }
                    None => return,
                }
            }
        });
    }

    /// Closes every session (the server is shutting down).
    pub fn close_all(&self) {
        let ids: Vec<String> = lock(&self.sessions).keys().cloned().collect();
        for id in ids {
            self.release(&id);
        }
    }

    /// The live sessions.
    pub fn all(&self) -> Vec<Arc<Session>> {
        lock(&self.sessions).values().cloned().collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for SessionManager {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.artifact_root);
    }
}

fn session_changed(id: &str) -> Error {
    handle_error(
        "INVALID_HANDLE.SESSION_CHANGED",
        format!(
            "The handle {id} is invalid. The existing Spark server driver instance has \
             restarted. Please reconnect."
        ),
    )
}
