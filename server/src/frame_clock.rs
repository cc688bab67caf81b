//! The server's codec with a clock: when the frame being read began, so
//! that a frame is bounded as a whole (PROTOCOL.md "Limits"): it must arrive
//! within the stall timeout of its first byte, or, if longer, within the time
//! it takes at [`MIN_FRAME_RATE`]. A peer trickling a byte now and then keeps
//! no frame, and so no connection, open past that.
//!
//! The framed stream decodes right after each read from the socket, so the
//! first `decode` that finds part of a frame is when its first bytes came.
//! Only that one reads the clock. What the deadline leads to (closing, the
//! 1105 frame) is `conn`'s and the watchdog's.

use std::time::Duration;

use bytes::BytesMut;
use protocol::codec::{Inbound, ResponsePart, ServerCodec};
use protocol::header::REQUEST_HEADER_LEN;
use protocol::{PROTOCOL_V2, PROTOCOL_V3, ProtocolError};
use tokio::time::Instant;
use tokio_util::codec::{Decoder, Encoder};

/// Bytes per second a frame longer than the stall timeout allows may take
/// (the largest frame, 1 MiB, gets 16 s): far below any link a client uses,
/// so that large upload chunks on a slow link keep arriving whole.
pub(crate) const MIN_FRAME_RATE: u64 = 64 * 1024;

/// The server's codec, noting when each frame began.
pub(crate) struct TimedCodec {
    inner: ServerCodec,
    /// When the frame being read began, and its size once its header is in.
    started: Option<(Instant, Option<u64>)>,
}

/// How long a frame of `len` bytes (its header included) may take.
pub(crate) fn frame_budget(stall: Duration, len: u64) -> Duration {
    stall.max(Duration::from_millis(
        len.saturating_mul(1000) / MIN_FRAME_RATE,
    ))
}

impl TimedCodec {
    pub(crate) fn new(inner: ServerCodec) -> Self {
        TimedCodec {
            inner,
            started: None,
        }
    }

    /// Whether the decoder is between frames (nothing half-read).
    pub(crate) fn is_idle(&self) -> bool {
        self.inner.is_idle()
    }

    /// When the frame being read, if any, must have arrived.
    pub(crate) fn frame_deadline(&self, stall: Duration) -> Option<Instant> {
        let (at, len) = self.started?;
        let len = len.unwrap_or(0) + REQUEST_HEADER_LEN as u64;
        Some(at + frame_budget(stall, len))
    }

    /// The version of the frame being read, once its version byte is in
    /// (`buffered`: the bytes read and not yet decoded).
    pub(crate) fn version(&self, buffered: &[u8]) -> Option<u8> {
        let version = match self.inner.frame_under_way() {
            Some((version, _)) => version,
            // The version byte follows the 16 of the client id.
            None => *buffered.get(16)?,
        };
        [PROTOCOL_V2, PROTOCOL_V3]
            .contains(&version)
            .then_some(version)
    }

    fn note(&mut self, src: &BytesMut, decoded: &Result<Option<Inbound>, ProtocolError>) {
        match decoded {
            Ok(Some(_)) if self.inner.is_idle() => self.started = None,
            Ok(None) if !src.is_empty() || !self.inner.is_idle() => {
                let (_, len) = self.started.get_or_insert_with(|| (Instant::now(), None));
                if len.is_none() {
                    *len = self.inner.frame_under_way().map(|(_, len)| len);
                }
            }
            _ => {}
        }
    }
}

impl Decoder for TimedCodec {
    type Item = Inbound;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        let decoded = self.inner.decode(src);
        self.note(src, &decoded);
        decoded
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        let decoded = self.inner.decode_eof(src);
        self.note(src, &decoded);
        decoded
    }
}

impl Encoder<ResponsePart> for TimedCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: ResponsePart, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        self.inner.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_gets_the_stall_timeout_or_its_time_at_the_minimum_rate() {
        let stall = Duration::from_secs(30);
        assert_eq!(frame_budget(stall, 100), stall);
        let largest = (protocol::MAX_FRAME_LEN + REQUEST_HEADER_LEN) as u64;
        assert_eq!(frame_budget(stall, largest), stall);
        let short = Duration::from_secs(3);
        let budget = frame_budget(short, largest);
        assert!((Duration::from_secs(16)..Duration::from_secs(17)).contains(&budget));
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_starts_with_a_frames_first_bytes_and_stops_with_its_end() {
        let stall = Duration::from_secs(3);
        let mut codec = TimedCodec::new(ServerCodec::default());
        let mut frame = BytesMut::new();
        protocol::RequestHeader {
            client_id: protocol::ClientId([0; 16]),
            version: PROTOCOL_V3,
            code: 113,
            payload_len: 8,
        }
        .write(&mut frame);
        frame.extend_from_slice(&[0; 8]);
        let mut src = BytesMut::new();
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert_eq!(codec.frame_deadline(stall), None);
        src.extend_from_slice(&frame[..10]);
        let began = Instant::now();
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert_eq!(codec.version(&src), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        src.extend_from_slice(&frame[10..20]);
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert_eq!(codec.version(&src), Some(PROTOCOL_V3));
        // Later bytes do not move the deadline.
        assert_eq!(codec.frame_deadline(stall), Some(began + stall));
        src.extend_from_slice(&frame[20..]);
        assert!(codec.decode(&mut src).unwrap().is_some());
        assert_eq!(codec.frame_deadline(stall), None);
    }
}
