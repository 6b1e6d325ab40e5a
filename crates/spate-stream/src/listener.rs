//! A session's streaming listener bus: what PySpark's client-side listener bus
//! (`spark.streams.addListener`) hears. A client subscribes with a long-running
//! `StreamingQueryListenerBusCommand`; the session's queries publish their progress, idle and
//! termination events, in Spark's JSON, to every subscriber. Removing the listener (or closing
//! the session) ends the subscriptions, which ends the client's stream.
//!
//! Invariants: publishing never blocks a query — a subscriber that does not keep up loses the
//! events its buffer cannot hold (and a warning is logged); without subscribers nothing is kept.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

/// Events a subscriber may fall behind by before events are dropped for it.
const BUFFER: usize = 4096;

/// The kind of a listener event, as Spark Connect's `StreamingQueryEventType` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `QueryProgressEvent`.
    Progress = 1,
    /// `QueryTerminatedEvent`.
    Terminated = 2,
    /// `QueryIdleEvent`.
    Idle = 3,
}

/// One event: its kind and its JSON.
#[derive(Debug, Clone)]
pub struct ListenerEvent {
    /// Which event.
    pub kind: EventKind,
    /// Spark's JSON for it.
    pub json: String,
}

/// The listener bus of one session (kept in the session as an extension).
#[derive(Debug, Default)]
pub struct ListenerBus {
    subscribers: Mutex<Vec<mpsc::Sender<ListenerEvent>>>,
}

impl ListenerBus {
    /// The bus of `session`.
    pub fn of(session: &spate_session::Session) -> Arc<Self> {
        session.extension::<Self>()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<mpsc::Sender<ListenerEvent>>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new subscription.
    pub fn subscribe(&self) -> mpsc::Receiver<ListenerEvent> {
        let (tx, rx) = mpsc::channel(BUFFER);
        self.lock().push(tx);
        rx
    }

    /// Ends every subscription (the client removed its last listener).
    pub fn unsubscribe_all(&self) {
        self.lock().clear();
    }

    /// Whether anyone listens.
    pub fn has_subscribers(&self) -> bool {
        let mut subs = self.lock();
        subs.retain(|s| !s.is_closed());
        !subs.is_empty()
    }

    /// Sends `event` to every subscriber.
    pub fn publish(&self, kind: EventKind, json: String) {
        let mut subs = self.lock();
        subs.retain(|s| !s.is_closed());
        for s in subs.iter() {
            if let Err(mpsc::error::TrySendError::Full(_)) = s.try_send(ListenerEvent {
                kind,
                json: json.clone(),
            }) {
                tracing::warn!("a streaming listener fell behind; an event was dropped for it");
            }
        }
    }
}
