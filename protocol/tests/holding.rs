//! The holding codes (150, 1322) at their edges: both are exactly 25 bytes
//! (one byte more is refused before the payload is read, one less as the
//! wrong size), and a
//! hold flag other than 0 or 1 is refused as malformed, with the
//! connection going on.

mod common;

use common::frames::{decode_request, decode_response, invalid, raw_request, raw_response};
use protocol::codec::Inbound;
use protocol::v3::{self, RoomFileHold};
use protocol::{PayloadError, ProtocolError, Request, RoomId};

const HOLD: u8 = 150;
const HELD: u16 = 1322;

fn payload(flag: u8) -> Vec<u8> {
    let mut p = vec![7; 16];
    p.extend_from_slice(&46u64.to_le_bytes());
    p.push(flag);
    p
}

#[test]
fn a_hold_and_a_release_decode() {
    for (flag, hold) in [(1, true), (0, false)] {
        match decode_request(raw_request(HOLD, &payload(flag))).unwrap() {
            Inbound::Request(f) => assert_eq!(
                f.request,
                Request::V3(v3::Request::RoomFileHold(RoomFileHold {
                    room: RoomId([7; 16]),
                    seq: 46,
                    hold,
                }))
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_flag_other_than_zero_or_one_is_malformed() {
    let error = invalid(raw_request(HOLD, &payload(2)));
    assert!(
        matches!(error, PayloadError::BadFlag { value: 2, .. }),
        "{error:?}"
    );
}

#[test]
fn a_hold_of_the_wrong_size_is_refused_unread() {
    for len in [24, 26] {
        let mut p = payload(1);
        p.resize(len, 0);
        let result = decode_request(raw_request(HOLD, &p));
        let refused = match len {
            24 => matches!(
                result,
                Ok(Inbound::Invalid {
                    error: PayloadError::WrongSize {
                        expected: 25,
                        actual: 24
                    },
                    ..
                })
            ),
            _ => matches!(result, Err(ProtocolError::FrameTooLarge { max: 25, .. })),
        };
        assert!(refused, "{len} bytes: {result:?}");
    }
}

#[test]
fn a_1322_of_the_wrong_size_is_refused() {
    for len in [24usize, 26] {
        assert!(
            decode_response(raw_response(HELD, &vec![1; len])).is_err(),
            "a 1322 of {len} bytes"
        );
    }
}
