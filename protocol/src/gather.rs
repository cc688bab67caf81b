//! One whole response from the client decoder's items: a response as it
//! came, or a streamed version-2 pull gathered by [`PullCollector`] into one.
//!
//! For callers that want every answer in memory (the load generator and the
//! end-to-end tests); the client itself never buffers a pull. It reads from
//! any stream of decoded items (a `Framed` socket, a test's channel) and
//! sets no deadline: the caller bounds the wait with its own runtime's timer,
//! which this crate does not have.

use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;

use crate::codec::{PullCollector, ResponseItem};
use crate::error::ProtocolError;
use crate::frame::Response;

/// Why no whole response could be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatherError {
    /// The bytes broke the protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The stream ended between the items of a streamed pull.
    #[error("connection closed inside a pull")]
    ClosedInsidePull,
    /// An item that does not belong inside a streamed pull.
    #[error("unexpected {0:?} inside a pull")]
    UnexpectedInPull(Box<ResponseItem>),
    /// A pull's item without the pull's start.
    #[error("unexpected {0:?}")]
    Unexpected(Box<ResponseItem>),
}

/// Reads the next whole response; `None` if the stream ends before one.
///
/// # Errors
/// The bytes break the protocol or the stream ends inside a pull.
pub async fn read_response<S>(items: &mut S) -> Result<Option<Response>, GatherError>
where
    S: Stream<Item = Result<ResponseItem, ProtocolError>> + Unpin,
{
    let Some(item) = next(items).await else {
        return Ok(None);
    };
    match item? {
        ResponseItem::Response(r) => Ok(Some(r)),
        ResponseItem::PullStart { .. } => {
            let mut pull = PullCollector::default();
            loop {
                let item = next(items).await.ok_or(GatherError::ClosedInsidePull)??;
                match pull.push(item) {
                    Ok(Some(response)) => return Ok(Some(response)),
                    Ok(None) => {}
                    Err(other) => return Err(GatherError::UnexpectedInPull(other)),
                }
            }
        }
        other => Err(GatherError::Unexpected(Box::new(other))),
    }
}

async fn next<S: Stream + Unpin>(items: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *items).poll_next(cx)).await
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::v2::PulledMessageHeader;
    use crate::{ClientId, MessageKind, v2};

    fn stream(
        items: Vec<ResponseItem>,
    ) -> impl Stream<Item = Result<ResponseItem, ProtocolError>> + Unpin {
        futures::stream::iter(items.into_iter().map(Ok))
    }

    #[tokio::test]
    async fn a_streamed_pull_is_gathered_into_one_response() {
        let header = PulledMessageHeader {
            sender: ClientId([1; 16]),
            message_id: 7,
            kind: MessageKind::Text,
            content_len: 2,
        };
        let mut items = stream(vec![
            ResponseItem::PullStart { payload_len: 0 },
            ResponseItem::PulledHeader(header),
            ResponseItem::PulledChunk {
                data: Bytes::from_static(b"hi"),
                last: true,
            },
            ResponseItem::PullEnd,
        ]);
        let Some(Response::V2(v2::Response::Messages(messages))) =
            read_response(&mut items).await.unwrap()
        else {
            panic!("expected a pull");
        };
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].content, Bytes::from_static(b"hi"));
        assert!(read_response(&mut items).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_stream_ending_inside_a_pull_is_an_error() {
        let mut items = stream(vec![ResponseItem::PullStart { payload_len: 0 }]);
        let err = read_response(&mut items).await.unwrap_err();
        assert_eq!(err.to_string(), "connection closed inside a pull");
    }
}
