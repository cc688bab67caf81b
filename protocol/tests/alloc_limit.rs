//! The decoders never allocate on a peer's word beyond the limit for the
//! frame's code: headers that claim huge payloads are fed with only a little
//! data, and the bytes allocated during decoding are measured by an
//! instrumented global allocator (this file is its own test binary, with a
//! single test, so nothing else allocates while it measures).

use bytes::BytesMut;
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use protocol::codec::{
    ClientCodec, CodecLimits, STREAM_PIECE_LEN, ServerCodec, V2_STREAM_THRESHOLD,
    request_payload_bounds, response_payload_max,
};
use protocol::{
    ClientId, PROTOCOL_V2, PROTOCOL_V3, RequestCode, RequestHeader, ResponseCode, ResponseHeader,
};
use std::alloc::System;
use tokio_util::codec::Decoder;

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Slack for the decoder's own small allocations and BytesMut's rounding
/// (it may double a buffer when it grows).
const SLACK: u64 = 64 * 1024;

/// Peak bytes allocated while `f` runs.
fn peak_during(f: impl FnOnce()) -> u64 {
    GLOBAL.reset_peak_memory();
    f();
    GLOBAL.get_peak_memory() as u64
}

/// What a decoder may hold for a payload it accepts: the whole payload, or a
/// streaming piece for the codes that stream.
fn allowed(claimed: u64, max: u64, streams: bool) -> u64 {
    let held = if streams && claimed as usize > V2_STREAM_THRESHOLD {
        STREAM_PIECE_LEN as u64
    } else {
        claimed.min(max)
    };
    2 * held + SLACK
}

#[test]
fn decoders_never_allocate_beyond_the_limit_of_the_code() {
    let limits = CodecLimits::default();
    let junk = vec![0x5au8; 4096];
    let mut checked = 0;
    for version in [PROTOCOL_V2, PROTOCOL_V3] {
        for code in RequestCode::ALL {
            if version == PROTOCOL_V2 && !code.in_v2() {
                continue;
            }
            let (_, max) = request_payload_bounds(version, *code, &limits);
            for claimed in [max, max.saturating_add(1), u32::MAX as u64] {
                let claimed = claimed.min(u32::MAX as u64);
                let mut buf = BytesMut::with_capacity(64);
                RequestHeader {
                    client_id: ClientId::NIL,
                    version,
                    code: code.value(),
                    payload_len: claimed as u32,
                }
                .write(&mut buf);
                buf.extend_from_slice(&junk);
                let peak = peak_during(|| {
                    let mut codec = ServerCodec::new(limits);
                    while let Ok(Some(_)) = codec.decode(&mut buf) {}
                    drop(buf);
                });
                let streams = version == PROTOCOL_V2 && *code == RequestCode::SendMessage;
                let bound = allowed(claimed, max, streams);
                assert!(
                    peak <= bound,
                    "request v{version} {code:?} claiming {claimed} bytes allocated {peak} (bound {bound})"
                );
                checked += 1;
            }
        }
        for code in ResponseCode::ALL {
            if version == PROTOCOL_V2 && !code.in_v2() {
                continue;
            }
            let max = response_payload_max(version, *code, &limits);
            for claimed in [max, max.saturating_add(1), u32::MAX as u64] {
                let claimed = claimed.min(u32::MAX as u64);
                let mut buf = BytesMut::with_capacity(64);
                ResponseHeader {
                    version,
                    code: code.value(),
                    payload_len: claimed as u32,
                }
                .write(&mut buf);
                buf.extend_from_slice(&junk);
                let peak = peak_during(|| {
                    let mut codec = ClientCodec::new(limits);
                    while let Ok(Some(_)) = codec.decode(&mut buf) {}
                    drop(buf);
                });
                let streams = version == PROTOCOL_V2 && *code == ResponseCode::Messages;
                let bound = allowed(claimed, max, streams);
                assert!(
                    peak <= bound,
                    "response v{version} {code:?} claiming {claimed} bytes allocated {peak} (bound {bound})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} cases checked");

    // The headline cases, stated plainly: a 4 GiB version-2 send or pull
    // costs a streaming piece, not 4 GiB.
    let mut buf = BytesMut::new();
    RequestHeader {
        client_id: ClientId::NIL,
        version: 2,
        code: 103,
        payload_len: u32::MAX - 30,
    }
    .write(&mut buf);
    buf.extend_from_slice(&[0u8; 21]);
    buf[22 + 16] = 4;
    buf[22 + 17..22 + 21].copy_from_slice(&(u32::MAX - 30 - 21).to_le_bytes());
    buf.extend_from_slice(&vec![1u8; 200_000]);
    let peak = peak_during(|| {
        let mut codec = ServerCodec::default();
        let mut items = 0;
        while let Ok(Some(_)) = codec.decode(&mut buf) {
            items += 1;
        }
        assert!(items > 2, "the send should have started streaming");
    });
    assert!(
        peak < 512 * 1024,
        "a streamed 4 GiB send allocated {peak} bytes"
    );
}
