//! Feeds arbitrary bytes to the server's decoder, split where the input says,
//! and checks what a server relies on: no panic, bounded buffering, and every
//! request it accepts encodes back to the bytes it came from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol::codec::{Inbound, ServerCodec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    // The first byte picks how many bytes arrive per read, so that the
    // fuzzer explores partial frames as well as whole ones.
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut codec = ServerCodec::default();
    let mut buf = BytesMut::new();
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Request(frame))) => {
                    let mut again = BytesMut::new();
                    frame.encode(&mut again).expect("a decoded request encodes");
                    let mut codec2 = ServerCodec::default();
                    match codec2.decode(&mut again) {
                        Ok(Some(Inbound::Request(f2))) => assert_eq!(f2, frame),
                        other => panic!("re-decode of {frame:?} gave {other:?}"),
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= 2 * protocol::MAX_FRAME_LEN + 64 * 1024);
    }
    let _ = codec.decode_eof(&mut buf);
});
