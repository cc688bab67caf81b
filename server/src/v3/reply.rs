//! Error answers of version 3, in one leaf that the session and every
//! operation use (so that none of them imports another for these).

use protocol::ErrorReason;
use protocol::v3::{self, ServerError};

use crate::error::StoreError;

/// A refusal with a reason code and a human-readable text.
pub(crate) fn error(reason: ErrorReason, text: impl Into<String>) -> v3::Response {
    v3::Response::Error(ServerError::new(reason, text))
}

/// The answer to a storage failure: logged here, sent as its public code and
/// text (internal detail stays in the log).
pub(crate) fn store_error(e: &StoreError) -> v3::Response {
    e.log();
    error(e.reason(), e.public_text())
}

/// An answer still to come from the store's writer: what a pipelined
/// operation (send, acknowledge) returns. The session writes these in order.
pub(crate) type Pipelined = futures::future::BoxFuture<'static, v3::Response>;
