//! Sessions and operations, shared by every front end — the Spark Connect service, `spate sql`,
//! and later the streaming engine and cluster mode: the [`session::SessionManager`] with its
//! idle expiry and tombstones, each [`session::Session`]'s DataFusion context attached to the
//! server's one query runner, the [`operation::Operation`] state machine with its bounded,
//! reattachable response buffer, per-session [`artifacts`], and the server's static
//! [`settings`].

pub mod artifacts;
pub mod operation;
pub mod session;
pub mod settings;
pub mod streaming;

pub use operation::{Operation, OperationState, Sender};
pub use session::{Session, SessionManager};
pub use settings::ServerSettings;
pub use streaming::{StreamingBoard, StreamingView};

use spate_common::Error;

/// Spark's error for a handle (session, operation, cursor) the client cannot use.
pub fn handle_error(class: &str, message: String) -> Error {
    Error::Handle {
        class: class.to_string(),
        message,
    }
}
