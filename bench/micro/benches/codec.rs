//! Micro-benchmarks of the wire codec (`protocol` crate): encoding and
//! decoding the frames that dominate real traffic, whole and split across
//! reads as TCP delivers them.
//!
//! `cargo bench -p sealpost-micro --bench codec`. Short measurement times
//! keep the whole suite to a few minutes on two cores.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use protocol::codec::{ClientCodec, ServerCodec};
use protocol::{
    ClientId, MessageKind, Name, PublicKey, Request, RequestFrame, Response, UploadId, v2, v3,
};
use tokio_util::codec::Decoder;

/// A sealed 5,000-byte text: 5,000 bytes plus the 65-byte envelope overhead.
const SEALED_TEXT_LEN: usize = 5_065;
/// A sealed 100-byte text.
const SMALL_SEALED_TEXT_LEN: usize = 165;

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
}

fn v3_send(content_len: usize) -> RequestFrame {
    RequestFrame {
        client_id: ClientId([7; 16]),
        request: Request::V3(v3::Request::SendMessage(v3::SendMessage {
            destination: ClientId([9; 16]),
            kind: MessageKind::Text,
            content: Bytes::from(vec![0x42; content_len]),
        })),
    }
}

fn v3_pull_batch(messages: usize, content_len: usize) -> Response {
    Response::V3(v3::Response::Messages(v3::MessageBatch {
        more: true,
        messages: (0..messages)
            .map(|i| v3::Delivery {
                sender: ClientId([i as u8; 16]),
                message_id: 1_000_000 + i as u64,
                kind: MessageKind::Text,
                sent_at_ms: 1_700_000_000_000 + i as u64,
                content: Bytes::from(vec![i as u8; content_len]),
            })
            .collect(),
    }))
}

fn v3_upload_chunk() -> RequestFrame {
    RequestFrame {
        client_id: ClientId([7; 16]),
        request: Request::V3(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: UploadId([3; 16]),
            offset: 5 << 20,
            data: Bytes::from(vec![0x5a; protocol::MAX_CHUNK_LEN]),
        })),
    }
}

fn v2_register() -> RequestFrame {
    RequestFrame {
        client_id: ClientId::NIL,
        request: Request::V2(v2::Request::Register(v2::Register {
            name: Name::new("alice-benchmark").unwrap(),
            public_key: PublicKey([0x11; 160]),
        })),
    }
}

fn encoded_request(frame: &RequestFrame) -> Bytes {
    let mut buf = BytesMut::new();
    frame.encode(&mut buf).unwrap();
    buf.freeze()
}

fn encoded_response(response: &Response) -> Bytes {
    let mut buf = BytesMut::new();
    response.encode(&mut buf).unwrap();
    buf.freeze()
}

/// Encode into a reused buffer, and decode a whole frame with the server's
/// codec (the buffer copy is set up outside the measurement).
fn request_pair(c: &mut Criterion, name: &str, frame: &RequestFrame) {
    let bytes = encoded_request(frame);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut buf = BytesMut::with_capacity(bytes.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(frame).encode(&mut buf).unwrap();
            black_box(&buf);
        })
    });
    let mut codec = ServerCodec::default();
    group.bench_function("decode", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&bytes[..]),
            |src| black_box(codec.decode(src).unwrap().unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    request_pair(c, "v3_send_100B_text", &v3_send(SMALL_SEALED_TEXT_LEN));
    request_pair(c, "v3_send_5000B_text", &v3_send(SEALED_TEXT_LEN));
    request_pair(c, "v3_upload_chunk_1MiB", &v3_upload_chunk());
    request_pair(c, "v2_register", &v2_register());

    // A pull answer of 100 sealed 100-byte texts, through the client's codec.
    let batch = v3_pull_batch(100, SMALL_SEALED_TEXT_LEN);
    let bytes = encoded_response(&batch);
    let mut group = c.benchmark_group("v3_pull_batch_100");
    group.throughput(Throughput::Elements(100));
    let mut buf = BytesMut::with_capacity(bytes.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&batch).encode(&mut buf).unwrap();
            black_box(&buf);
        })
    });
    let mut client = ClientCodec::default();
    group.bench_function("decode", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&bytes[..]),
            |src| black_box(client.decode(src).unwrap().unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // The same frames arriving in pieces: the decoder is called after each
    // read, as `Framed` does, until the frame completes.
    let send = encoded_request(&v3_send(SEALED_TEXT_LEN));
    let mut group = c.benchmark_group("decode_split_v3_send_5000B");
    group.throughput(Throughput::Bytes(send.len() as u64));
    for piece in [16usize, 1460, 4096] {
        let mut codec = ServerCodec::default();
        group.bench_function(format!("pieces_of_{piece}"), |b| {
            b.iter(|| {
                let mut src = BytesMut::new();
                let mut item = None;
                for chunk in send.chunks(piece) {
                    src.extend_from_slice(chunk);
                    if let Some(i) = codec.decode(&mut src).unwrap() {
                        item = Some(i);
                    }
                }
                black_box(item.unwrap())
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("decode_split_v3_pull_batch_100");
    group.throughput(Throughput::Elements(100));
    for piece in [1460usize, 16384] {
        let mut client = ClientCodec::default();
        group.bench_function(format!("pieces_of_{piece}"), |b| {
            b.iter(|| {
                let mut src = BytesMut::new();
                let mut item = None;
                for chunk in bytes.chunks(piece) {
                    src.extend_from_slice(chunk);
                    if let Some(i) = client.decode(&mut src).unwrap() {
                        item = Some(i);
                    }
                }
                black_box(item.unwrap())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = codec
}
criterion_main!(benches);
