//! Keeps PROTOCOL.md true: every hex example in it is decoded and compared with
//! the typed value it documents, the typed value encodes to exactly those
//! bytes, and every request and response code of both versions has an example.
//! The examples also become the golden fixtures in tests/data (the fuzz seeds).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use bytes::BytesMut;
use common::{Example, examples, hex_blocks, to_notation};
use protocol::codec::{ClientCodec, Inbound, ResponseItem, ServerCodec};
use protocol::{PROTOCOL_V2, PROTOCOL_V3, RequestCode, ResponseCode};
use tokio_util::codec::Decoder;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn document_blocks() -> std::collections::BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(repo_root().join("PROTOCOL.md")).expect("read PROTOCOL.md");
    hex_blocks(&text).expect("parse PROTOCOL.md examples")
}

fn decode(example: &Example, bytes: &[u8]) -> Example {
    let mut buf = BytesMut::from(bytes);
    let decoded = match example {
        Example::Request(_) => match ServerCodec::default().decode_eof(&mut buf) {
            Ok(Some(Inbound::Request(frame))) => Example::Request(frame),
            other => panic!("expected a request, got {other:?}"),
        },
        Example::Response(_) => match ClientCodec::default().decode_eof(&mut buf) {
            Ok(Some(ResponseItem::Response(r))) => Example::Response(r),
            other => panic!("expected a response, got {other:?}"),
        },
    };
    assert!(buf.is_empty(), "bytes left after the frame");
    decoded
}

#[test]
fn every_example_in_protocol_md_matches_its_typed_value() {
    let blocks = document_blocks();
    let expected = examples();
    let documented: BTreeSet<_> = blocks.keys().map(String::as_str).collect();
    let typed: BTreeSet<_> = expected.keys().copied().collect();
    assert_eq!(
        documented, typed,
        "PROTOCOL.md examples and the typed examples differ"
    );
    for (name, bytes) in &blocks {
        let example = &expected[name.as_str()];
        let encoded = example.encode();
        assert_eq!(
            &encoded[..],
            &bytes[..],
            "example {name}: the document says\n{}\nbut the value encodes to\n{}",
            to_notation(bytes),
            to_notation(&encoded)
        );
        assert_eq!(
            &decode(example, bytes),
            example,
            "example {name} decodes differently"
        );
    }
}

#[test]
fn every_code_of_both_versions_has_an_example() {
    let mut requests = BTreeSet::new();
    let mut responses = BTreeSet::new();
    for example in examples().values() {
        match example {
            Example::Request(f) => {
                requests.insert((f.request.version(), f.request.code().value()));
            }
            Example::Response(r) => {
                responses.insert((r.version(), r.code().value()));
            }
        }
    }
    for code in RequestCode::ALL {
        assert!(
            requests.contains(&(PROTOCOL_V3, code.value())),
            "no v3 example of {code:?}"
        );
        if code.in_v2() {
            assert!(
                requests.contains(&(PROTOCOL_V2, code.value())),
                "no v2 example of {code:?}"
            );
        }
    }
    for code in ResponseCode::ALL {
        assert!(
            responses.contains(&(PROTOCOL_V3, code.value())),
            "no v3 example of {code:?}"
        );
        if code.in_v2() {
            assert!(
                responses.contains(&(PROTOCOL_V2, code.value())),
                "no v2 example of {code:?}"
            );
        }
    }
}

/// tests/data/<name>.bin holds each example's bytes, for the fuzzer's corpus
/// and for readers with a hex viewer. `SEALPOST_BLESS=1` rewrites them.
#[test]
fn golden_fixtures_match_protocol_md() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let bless = std::env::var_os("SEALPOST_BLESS").is_some();
    for (name, bytes) in document_blocks() {
        let path = dir.join(format!("{name}.bin"));
        if bless {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with SEALPOST_BLESS=1)", path.display()));
        assert_eq!(
            on_disk,
            bytes,
            "{} is stale (run with SEALPOST_BLESS=1)",
            path.display()
        );
    }
}

/// Prints every example in the document's notation; used when writing PROTOCOL.md.
#[test]
#[ignore]
fn print_examples() {
    for (name, example) in examples() {
        println!("{name}\n{}\n", to_notation(&example.encode()));
    }
}
