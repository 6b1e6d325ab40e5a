//! Operations: one per ExecutePlan call, with an explicit state machine and the buffer of
//! responses between the execution (the producer) and the client's stream (the sender).
//!
//! States: `Pending` → `Running` → `Succeeded` | `Failed` | `Canceled` → `Closed`; any state
//! but `Closed` may be closed (ReleaseExecute, the session's end, abandonment), which cancels a
//! running execution first. [`Operation::transition`] refuses any other move.
//!
//! The buffer bounds memory on both sides of the client:
//! - ahead: the producer waits ([`Operation::push`]) while the responses not yet sent exceed
//!   the server's ahead budget — backpressure from a slow client reaches the query;
//! - behind: responses already sent are kept for a client that reattaches after a broken
//!   stream, up to Spark's `observerRetryBufferSize` (the last one always), and ReleaseExecute
//!   frees them earlier.
//!
//! At most one sender is attached. A reattach ([`Operation::attach`]) resumes after the last
//! response the client saw and detaches the previous sender, which ends with Spark's
//! `INVALID_CURSOR.DISCONNECTED` (a retryable error for PySpark). When a sender goes away without
//! finishing, the operation is detached: a non-reattachable one is canceled at once, a
//! reattachable one when nobody reattaches within the detached timeout (the session manager's
//! maintenance, [`Operation::detached_for`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prost::Message;
use spark_connect_proto::spark::connect::ExecutePlanResponse;
use spark_connect_proto::spark::connect::execute_plan_response::ResponseType;
use spate_common::{Error, Result};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    /// Registered, not running yet.
    Pending,
    /// Its execution runs.
    Running,
    /// Its execution produced every response.
    Succeeded,
    /// Its execution failed; the failure is its last item.
    Failed,
    /// Interrupted or abandoned before its end.
    Canceled,
    /// Released: its responses are gone.
    Closed,
}

impl OperationState {
    /// Whether the machine may move from `self` to `next`.
    pub fn can_become(self, next: OperationState) -> bool {
        use OperationState::*;
        match (self, next) {
            (Closed, _) => false,
            (_, Closed) => true,
            (Pending, Running | Failed | Canceled) => true,
            (Running, Succeeded | Failed | Canceled) => true,
            _ => false,
        }
    }

    /// Whether the execution has ended (or never will run).
    pub fn is_terminal(self) -> bool {
        !matches!(self, OperationState::Pending | OperationState::Running)
    }
}

/// How much the buffer may hold.
#[derive(Debug, Clone, Copy)]
pub struct BufferLimits {
    /// Bytes of unsent responses the producer may run ahead by.
    pub ahead: usize,
    /// Bytes of sent responses kept for reattachment.
    pub retry: usize,
}

/// What a sender delivers: a response, or the failure that ended the operation.
pub type Delivery = std::result::Result<ExecutePlanResponse, Arc<Error>>;

#[derive(Debug)]
struct Buffered {
    index: u64,
    id: String,
    size: usize,
    item: Delivery,
}

#[derive(Debug)]
struct Inner {
    state: OperationState,
    buffer: VecDeque<Buffered>,
    /// Index of the next item produced.
    produced: u64,
    /// Items with a smaller index were handed to a sender.
    sent: u64,
    /// Ids and indexes of items dropped from the buffer (the newest [`FORGOTTEN_IDS`]): a
    /// client may resume after one (its next item may still be here).
    forgotten: VecDeque<(String, u64)>,
    /// The attached sender, 0 for none.
    sender: u64,
    next_sender: u64,
    detached_at: Option<Instant>,
    abort: Option<AbortHandle>,
    /// The last item (ResultComplete or the failure) is in the buffer.
    ended: bool,
}

const FORGOTTEN_IDS: usize = 10_000;

/// One ExecutePlan call.
#[derive(Debug)]
pub struct Operation {
    /// The operation id (the client's, or one we made).
    pub id: String,
    /// The session id.
    pub session_id: String,
    /// Tags for interrupting by tag.
    pub tags: Vec<String>,
    /// Whether the client reattaches after a broken stream.
    pub reattachable: bool,
    limits: BufferLimits,
    inner: Mutex<Inner>,
    changed: Notify,
}

impl Operation {
    /// A pending operation.
    pub fn new(
        id: String,
        session_id: String,
        tags: Vec<String>,
        reattachable: bool,
        limits: BufferLimits,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            session_id,
            tags,
            reattachable,
            limits,
            inner: Mutex::new(Inner {
                state: OperationState::Pending,
                buffer: VecDeque::new(),
                produced: 0,
                sent: 0,
                forgotten: VecDeque::new(),
                sender: 0,
                next_sender: 1,
                detached_at: Some(Instant::now()),
                abort: None,
                ended: false,
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> OperationState {
        self.lock().state
    }

    /// Moves the state machine; an illegal move is a bug.
    pub fn transition(&self, next: OperationState) -> Result<()> {
        let mut inner = self.lock();
        Self::move_to(&mut inner, &self.id, next)?;
        drop(inner);
        self.changed.notify_waiters();
        Ok(())
    }

    fn move_to(inner: &mut Inner, id: &str, next: OperationState) -> Result<()> {
        if !inner.state.can_become(next) {
            return Err(Error::internal(format!(
                "operation {id} cannot go from {:?} to {next:?}",
                inner.state
            )));
        }
        inner.state = next;
        Ok(())
    }

    /// Marks the execution as running. Call it before the execution's task is spawned: a
    /// task that ends at once (a quick command on a busy machine) must find it running, or
    /// its end would be lost and the client would wait forever.
    pub fn start(&self) -> Result<()> {
        self.transition(OperationState::Running)
    }

    /// Hands over the running execution's `abort` (which cancels it). An execution canceled
    /// before this is aborted at once; one that already ended needs nothing.
    pub fn set_abort(&self, abort: AbortHandle) {
        let mut inner = self.lock();
        match inner.state {
            OperationState::Running => inner.abort = Some(abort),
            OperationState::Canceled | OperationState::Closed => abort.abort(),
            _ => {}
        }
    }

    /// Adds a response, waiting while the client is too far behind. Fails with
    /// `OPERATION_CANCELED` once the operation was canceled or closed.
    pub async fn push(&self, response: ExecutePlanResponse) -> Result<()> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if matches!(
                    inner.state,
                    OperationState::Canceled | OperationState::Closed
                ) {
                    return Err(Error::Interrupted);
                }
                let ahead: usize = inner
                    .buffer
                    .iter()
                    .filter(|b| b.index >= inner.sent)
                    .map(|b| b.size)
                    .sum();
                if ahead == 0 || ahead < self.limits.ahead {
                    Self::append(&mut inner, Ok(response));
                    drop(inner);
                    self.changed.notify_waiters();
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    fn append(inner: &mut Inner, item: Delivery) {
        let (id, size) = match &item {
            Ok(r) => (r.response_id.clone(), r.encoded_len()),
            Err(_) => (uuid::Uuid::new_v4().to_string(), 0),
        };
        let index = inner.produced;
        inner.produced += 1;
        inner.buffer.push_back(Buffered {
            index,
            id,
            size,
            item,
        });
    }

    /// Ends the execution with its last response (ResultComplete).
    pub fn succeed(&self, last: ExecutePlanResponse) -> Result<()> {
        let mut inner = self.lock();
        if matches!(
            inner.state,
            OperationState::Canceled | OperationState::Closed
        ) {
            return Ok(());
        }
        Self::move_to(&mut inner, &self.id, OperationState::Succeeded)?;
        Self::append(&mut inner, Ok(last));
        inner.ended = true;
        inner.abort = None;
        drop(inner);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Ends the execution with a failure, which the client receives after the responses before
    /// it.
    pub fn fail(&self, error: Error) -> Result<()> {
        let mut inner = self.lock();
        if !matches!(
            inner.state,
            OperationState::Running | OperationState::Pending
        ) {
            return Ok(());
        }
        Self::move_to(&mut inner, &self.id, OperationState::Failed)?;
        Self::append(&mut inner, Err(Arc::new(error)));
        inner.ended = true;
        inner.abort = None;
        drop(inner);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Cancels a pending or running execution; whether it was one.
    pub fn cancel(&self) -> bool {
        let mut inner = self.lock();
        if inner.state.is_terminal() {
            return false;
        }
        inner.state = OperationState::Canceled;
        if let Some(abort) = inner.abort.take() {
            abort.abort();
        }
        Self::append(&mut inner, Err(Arc::new(Error::Interrupted)));
        inner.ended = true;
        drop(inner);
        self.changed.notify_waiters();
        true
    }

    /// Closes the operation: cancels it if it runs and forgets its responses.
    pub fn close(&self) {
        self.cancel();
        let mut inner = self.lock();
        inner.state = OperationState::Closed;
        inner.buffer.clear();
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Forgets the responses up to and including `response_id`.
    pub fn release_until(&self, response_id: &str) {
        let mut inner = self.lock();
        if let Some(pos) = inner.buffer.iter().position(|b| b.id == response_id) {
            let removed: Vec<Buffered> = inner.buffer.drain(..=pos).collect();
            for b in removed {
                Self::forget(&mut inner, b.id, b.index);
            }
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    fn forget(inner: &mut Inner, id: String, index: u64) {
        if inner.forgotten.len() >= FORGOTTEN_IDS {
            inner.forgotten.pop_front();
        }
        inner.forgotten.push_back((id, index));
    }

    /// Attaches a new sender that resumes after `last_response_id` (from the start when
    /// `None`); the sender attached before, if any, is detached.
    pub fn attach(self: &Arc<Self>, last_response_id: Option<&str>) -> Result<Sender> {
        let mut inner = self.lock();
        if inner.state == OperationState::Closed {
            return Err(crate::handle_error(
                "INVALID_HANDLE.OPERATION_NOT_FOUND",
                format!("The handle {} is invalid. Operation not found.", self.id),
            ));
        }
        // as Spark: resume after the response named (released or not); only the next one must
        // still be here
        let cursor = match last_response_id.filter(|id| !id.is_empty()) {
            Some(id) => match inner.buffer.iter().find(|b| b.id == id) {
                Some(b) => b.index + 1,
                None => match inner.forgotten.iter().find(|(f, _)| f == id) {
                    Some((_, index)) => index + 1,
                    None => return Err(cursor_error("POSITION_NOT_FOUND", id)),
                },
            },
            None => 0,
        };
        if cursor < inner.produced && inner.buffer.front().is_none_or(|b| b.index > cursor) {
            return Err(cursor_error(
                "POSITION_NOT_AVAILABLE",
                last_response_id.unwrap_or("(the first response)"),
            ));
        }
        let id = inner.next_sender;
        inner.next_sender += 1;
        inner.sender = id;
        inner.detached_at = None;
        drop(inner);
        self.changed.notify_waiters();
        Ok(Sender {
            operation: Arc::clone(self),
            id,
            cursor,
            finished: false,
        })
    }

    /// How long no sender has been attached; `None` while one is.
    pub fn detached_for(&self) -> Option<Duration> {
        self.lock().detached_at.map(|t| t.elapsed())
    }

    /// Responses (and bytes) in the buffer, sent or not.
    pub fn buffered(&self) -> (usize, usize) {
        let inner = self.lock();
        (
            inner.buffer.len(),
            inner.buffer.iter().map(|b| b.size).sum(),
        )
    }

    fn detach(&self, sender: u64, finished: bool) {
        let mut inner = self.lock();
        if inner.sender != sender {
            return;
        }
        inner.sender = 0;
        inner.detached_at = Some(Instant::now());
        let abandon = !self.reattachable && !finished && !inner.state.is_terminal();
        drop(inner);
        if abandon {
            tracing::info!(
                "operation {} of session {}: its client went away; canceling it",
                self.id,
                self.session_id
            );
            self.cancel();
        }
    }

    /// Trims the responses already sent beyond the retry budget, keeping the last one sent.
    fn trim(inner: &mut Inner, retry: usize) {
        loop {
            let sent: Vec<(u64, usize)> = inner
                .buffer
                .iter()
                .filter(|b| b.index < inner.sent)
                .map(|b| (b.index, b.size))
                .collect();
            let bytes: usize = sent.iter().map(|(_, s)| s).sum();
            if sent.len() <= 1 || bytes <= retry {
                return;
            }
            if let Some(b) = inner.buffer.pop_front() {
                Self::forget(inner, b.id, b.index);
            }
        }
    }
}

fn cursor_error(kind: &str, id: &str) -> Error {
    let text = match kind {
        "POSITION_NOT_AVAILABLE" => format!(
            "The cursor position id {id} is no longer available, as it has already been released."
        ),
        "POSITION_NOT_FOUND" => format!("The cursor position id {id} is not found."),
        _ => "The cursor has been disconnected by the server.".to_string(),
    };
    crate::handle_error(&format!("INVALID_CURSOR.{kind}"), text)
}

/// One client stream's view of an operation: the items from its cursor on.
#[derive(Debug)]
pub struct Sender {
    operation: Arc<Operation>,
    id: u64,
    cursor: u64,
    finished: bool,
}

impl Sender {
    /// The next item; `None` once the operation's last item was delivered (or it was closed).
    pub async fn next(&mut self) -> Option<Delivery> {
        if self.finished {
            return None;
        }
        loop {
            let op = &self.operation;
            let notified = op.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = op.lock();
                if inner.sender != self.id {
                    self.finished = true;
                    return Some(Err(Arc::new(cursor_error("DISCONNECTED", ""))));
                }
                if inner.state == OperationState::Closed {
                    self.finished = true;
                    return None;
                }
                if self.cursor < inner.produced {
                    let found = inner
                        .buffer
                        .iter()
                        .find(|b| b.index == self.cursor)
                        .map(|b| match &b.item {
                            Ok(r) => Ok(r.clone()),
                            Err(e) => Err(Arc::clone(e)),
                        });
                    let Some(item) = found else {
                        self.finished = true;
                        return Some(Err(Arc::new(cursor_error(
                            "POSITION_NOT_AVAILABLE",
                            &self.cursor.to_string(),
                        ))));
                    };
                    self.cursor += 1;
                    inner.sent = inner.sent.max(self.cursor);
                    Operation::trim(&mut inner, op.limits.retry);
                    let last = match &item {
                        Ok(r) => matches!(r.response_type, Some(ResponseType::ResultComplete(_))),
                        Err(_) => true,
                    };
                    if last {
                        self.finished = true;
                    }
                    drop(inner);
                    op.changed.notify_waiters();
                    return Some(item);
                }
                if inner.ended {
                    self.finished = true;
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The items as a stream; dropping it detaches the sender.
    pub fn into_stream(self) -> Pin<Box<dyn futures::Stream<Item = Delivery> + Send>> {
        Box::pin(futures::stream::unfold(self, |mut sender| async move {
            sender.next().await.map(|item| (item, sender))
        }))
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.operation.detach(self.id, self.finished);
    }
}
