//! Feeds arbitrary bytes to the client's decoder: no panic, bounded
//! buffering, and every whole response it accepts encodes back and decodes to
//! the same value.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol::codec::{ClientCodec, CodecLimits, ResponseItem};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let limits = CodecLimits {
        v2_max_list_len: 1 << 20,
        ..CodecLimits::default()
    };
    let mut codec = ClientCodec::new(limits);
    let mut buf = BytesMut::new();
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(ResponseItem::Response(response))) => {
                    let mut again = BytesMut::new();
                    response.encode(&mut again).expect("a decoded response encodes");
                    match ClientCodec::new(limits).decode(&mut again) {
                        Ok(Some(ResponseItem::Response(r2))) => assert_eq!(r2, response),
                        other => panic!("re-decode of {response:?} gave {other:?}"),
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
