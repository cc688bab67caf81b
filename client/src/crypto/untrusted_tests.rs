//! What a peer controls, fed arbitrary bytes: a key-agreement offer or
//! answer from anyone, a sealed content as the server hands it over, and
//! the plaintext an authentic peer sealed (a contact's client may be
//! broken or hostile). None of it may panic the client; what does decode
//! is the one encoding of its value, so that re-sealing it gives back the
//! same bytes (no second spelling of a receipt, a refusal or a file's
//! metadata for a check to miss).

use proptest::prelude::*;

use super::receipt::is_receipt;
use super::refusal::{clear_sid_and_counter, is_refusal};
use super::test_support::{ALICE, BOB, fixed_identity, kat_handshake};
use super::{
    CryptoError, FORMAT_VERSION, Opened, RECEIPT_FORMAT, REFUSAL_FORMAT, ReplayWindow, SealedKind,
    Session, VerifiedBundle,
};

fn any_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

type Open<T> = fn(&Session, &[u8], &ReplayWindow) -> Result<Opened<T>, CryptoError>;
type Reseal<T> = fn(&Session, u64, &T) -> Result<Vec<u8>, CryptoError>;

/// Seals `body` as `kind` from Bob, opens it as Alice with `open` and, if
/// it decodes, seals the decoded value again with `reseal`: Alice must
/// find the very bytes of `body` in it. A body longer than the kind allows
/// must be refused by sealing instead.
fn one_spelling<T>(
    kind: SealedKind,
    body: &[u8],
    open: Open<T>,
    reseal: Reseal<T>,
) -> Result<(), TestCaseError> {
    let (sa, sb, _, _) = kat_handshake();
    let window = ReplayWindow::default();
    let sealed = sb.seal(kind, 1, body);
    if body.len() > kind.max_body_len() {
        prop_assert!(
            sealed.is_err(),
            "a {kind:?} of {} bytes was sealed",
            body.len()
        );
        return Ok(());
    }
    if let Ok(opened) = open(&sa, &sealed.unwrap(), &window) {
        let again = reseal(&sb, 2, &opened.plaintext).unwrap();
        let plaintext = sa.open(kind, &again, &window).unwrap().plaintext;
        prop_assert_eq!(&plaintext[..], body);
    }
    Ok(())
}

proptest! {
    #[test]
    fn an_offer_or_answer_of_any_bytes_is_refused_without_panicking(bytes in any_bytes(400)) {
        let a = fixed_identity(1);
        let b = fixed_identity(101);
        let a_bundle = VerifiedBundle::verify(&a.bundle()).unwrap();
        // Whatever a stranger sends as an offer: refused, or a session.
        let _ = Session::accept_offer(&b, BOB, ALICE, &a_bundle, &bytes);
        let (mut sa, _, _, _) = kat_handshake();
        let _ = sa.confirm(&bytes);
    }

    #[test]
    fn a_content_of_any_bytes_opens_as_nothing_and_shows_what_it_claims(bytes in any_bytes(300)) {
        let (sa, _, _, _) = kat_handshake();
        let window = ReplayWindow::default();
        // Not sealed in this session: no kind opens it.
        prop_assert!(sa.open_text(&bytes, &window).is_err());
        prop_assert!(sa.open_receipt(&bytes, &window).is_err());
        prop_assert!(sa.open_refusal(&bytes, &window).is_err());
        prop_assert!(sa.open_file_meta(&bytes, &window).is_err());
        // What a refusal of it would name is read from its clear bytes.
        let (sid, counter) = clear_sid_and_counter(&bytes);
        let known = matches!(
            bytes.first(),
            Some(&(FORMAT_VERSION | REFUSAL_FORMAT | RECEIPT_FORMAT))
        );
        let expected_sid = match bytes.get(1..17) {
            Some(sid) if known => sid.to_vec(),
            _ => vec![0; 16],
        };
        prop_assert_eq!(&sid.as_bytes()[..], &expected_sid[..]);
        let expected_counter = bytes
            .get(17..25)
            .map_or(0, |c| u64::from_le_bytes(c.try_into().unwrap()));
        prop_assert_eq!(counter, expected_counter);
        prop_assert_eq!(is_receipt(&bytes), bytes.first() == Some(&RECEIPT_FORMAT));
        prop_assert_eq!(is_refusal(&bytes), bytes.first() == Some(&REFUSAL_FORMAT));
    }

    #[test]
    fn an_authentic_receipt_of_any_body_decodes_only_in_its_one_spelling(
        body in prop_oneof![any_bytes(80), well_formed_receipt()],
    ) {
        one_spelling(SealedKind::Receipt, &body, Session::open_receipt, Session::seal_receipt)?;
    }

    #[test]
    fn an_authentic_refusal_of_any_body_decodes_only_in_its_one_spelling(
        body in prop_oneof![any_bytes(60), prop::collection::vec(any::<u8>(), REFUSAL_LEN)],
    ) {
        one_spelling(SealedKind::Refusal, &body, Session::open_refusal, Session::seal_refusal)?;
    }

    #[test]
    fn authentic_file_metadata_of_any_body_decodes_only_in_its_one_spelling(
        body in prop_oneof![any_bytes(120), well_formed_meta()],
    ) {
        one_spelling(SealedKind::FileMeta, &body, Session::open_file_meta, Session::seal_file_meta)?;
    }
}

/// File metadata laid out right but with any name bytes and size, so that
/// the checks after the layout (UTF-8, lengths, the size's limit) are
/// reached, not only the length check.
fn well_formed_meta() -> impl Strategy<Value = Vec<u8>> {
    (
        any_bytes(300),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<[u8; 19]>(),
    )
        .prop_map(|(name, size, key, prefix)| {
            let mut out = Vec::new();
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&name);
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&key);
            out.extend_from_slice(&prefix);
            out
        })
}

/// The length of a refusal's body.
const REFUSAL_LEN: usize = 34;

/// A receipt laid out right (a kind byte, a count, that many ids) but with
/// a kind byte from 0 to 4 (1 to 3 are kinds) and a count from 0 to 40, and the ids' bytes one short, exact
/// or one over.
fn well_formed_receipt() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..5,
        0u16..40,
        -1i32..=1,
        prop::collection::vec(any::<u8>(), 1..400),
    )
        .prop_map(|(kind, count, skew, ids)| {
            let mut out = vec![kind];
            out.extend_from_slice(&count.to_le_bytes());
            let want = (8 * i32::from(count) + skew).max(0) as usize;
            out.extend(ids.iter().copied().cycle().take(want));
            out
        })
}
