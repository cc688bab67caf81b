//! Field types shared by both protocol versions: client ids, names, the
//! 160-byte public key field, message types and upload ids.
//!
//! Each type validates on construction, so a value that exists is one the
//! wire format can carry.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::PayloadError;
use crate::wire::Reader;
use crate::{MAX_NAME_LEN, NAME_FIELD_LEN, PUBLIC_KEY_LEN};

/// A client's 16-byte id (the bytes of a random UUIDv4, assigned at registration).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClientId(pub [u8; 16]);

impl ClientId {
    /// The all-zero id, used in headers before a client has an id.
    pub const NIL: ClientId = ClientId([0; 16]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Whether this is the all-zero id.
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }

    pub(crate) fn read(r: &mut Reader, field: &'static str) -> Result<Self, PayloadError> {
        r.array(field).map(ClientId)
    }

    pub(crate) fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.0);
    }
}

impl fmt::Display for ClientId {
    /// Lower-case hex, 32 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

impl std::str::FromStr for ClientId {
    type Err = PayloadError;

    /// Parses 32 hex digits (dashes, as in a UUID, are ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
        if digits.len() != 32 {
            return Err(PayloadError::WrongSize {
                expected: 32,
                actual: digits.len(),
            });
        }
        let mut out = [0u8; 16];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| PayloadError::Truncated {
                field: "client id hex",
                needed: 2,
                available: 0,
            })?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| PayloadError::OutOfRange {
                field: "client id hex digit",
                value: 0,
                min: 0,
                max: 15,
            })?;
        }
        Ok(ClientId(out))
    }
}

/// A user name: 1 to 254 bytes of UTF-8 with no control characters.
///
/// On the wire it is either a 255-byte field, NUL-terminated and NUL-padded
/// (register, version-2 client list), or a length byte followed by the bytes
/// (version-3 lists and lookups).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Validates a name.
    ///
    /// # Errors
    /// Empty, over 254 bytes, or containing a control character (NUL included).
    pub fn new(name: impl Into<String>) -> Result<Self, PayloadError> {
        let name = name.into();
        if name.is_empty() {
            return Err(PayloadError::NameEmpty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(PayloadError::NameTooLong(name.len()));
        }
        if name.chars().any(char::is_control) {
            return Err(PayloadError::NameControlChar);
        }
        Ok(Name(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the 255-byte NUL-terminated, NUL-padded field.
    pub(crate) fn read_field(r: &mut Reader) -> Result<Self, PayloadError> {
        let field: [u8; NAME_FIELD_LEN] = r.array("name")?;
        let end = field
            .iter()
            .position(|b| *b == 0)
            .ok_or(PayloadError::NameNotTerminated)?;
        if field[end..].iter().any(|b| *b != 0) {
            return Err(PayloadError::NamePadding);
        }
        let text = std::str::from_utf8(&field[..end]).map_err(|_| PayloadError::NameNotUtf8)?;
        Name::new(text)
    }

    pub(crate) fn write_field(&self, dst: &mut BytesMut) {
        dst.put_slice(self.0.as_bytes());
        dst.put_bytes(0, NAME_FIELD_LEN - self.0.len());
    }

    /// Reads a length byte and that many bytes of name.
    pub(crate) fn read_short(r: &mut Reader) -> Result<Self, PayloadError> {
        let len = r.u8("name length")? as usize;
        let bytes = r.bytes("name", len)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| PayloadError::NameNotUtf8)?;
        Name::new(text)
    }

    pub(crate) fn write_short(&self, dst: &mut BytesMut) {
        // A Name is at most 254 bytes, so the length fits the byte.
        dst.put_u8(self.0.len() as u8);
        dst.put_slice(self.0.as_bytes());
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.0)
    }
}

impl fmt::Display for Name {
    /// The raw name. It comes from a peer: escape it before printing it to a
    /// terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Name {
    type Error = PayloadError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Name::new(value)
    }
}

/// The 160-byte public key field, carried opaquely.
///
/// Version 2 gives it no structure (the reference client put an RSA key here).
/// Version 3 requires a signed key bundle, see [`crate::bundle::KeyBundle`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        r.array("public key").map(PublicKey)
    }

    pub(crate) fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.0);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// The message type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageKind {
    /// 1: a request for a symmetric key (in version 3, a key-agreement offer).
    SymmetricKeyRequest = 1,
    /// 2: a symmetric key sealed to the recipient (in version 3, the key-agreement answer).
    SymmetricKey = 2,
    /// 3: an encrypted text.
    Text = 3,
    /// 4: an encrypted file.
    File = 4,
    /// 5: a room welcome (version 3), stored by the server from a room commit
    /// for each member it adds; its content is a [`crate::v3::RoomWelcome`].
    /// Never sent with 103.
    RoomWelcome = 5,
    /// 6: a room deleted (version 3), stored by the server from the owner's
    /// 145 for each other member; its content is a [`crate::v3::RoomNotice`].
    /// Never sent with 103.
    RoomDeleted = 6,
    /// 7: not delivered (version 3), stored by the server when it deletes
    /// an account, for each sender of the texts and file offers deleted
    /// with it; its content is a [`crate::v3::NotDelivered`]. Never sent
    /// with 103, and given only to connections that said they read it.
    NotDelivered = 7,
}

impl MessageKind {
    /// The wire value.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses the wire value.
    ///
    /// # Errors
    /// Anything but 1 to 7.
    pub fn from_code(code: u8) -> Result<Self, PayloadError> {
        match code {
            1 => Ok(Self::SymmetricKeyRequest),
            2 => Ok(Self::SymmetricKey),
            3 => Ok(Self::Text),
            4 => Ok(Self::File),
            5 => Ok(Self::RoomWelcome),
            6 => Ok(Self::RoomDeleted),
            7 => Ok(Self::NotDelivered),
            other => Err(PayloadError::BadMessageType(other)),
        }
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Self::from_code(r.u8("message type")?)
    }
}

/// The server's 16-byte handle on an unfinished upload (version 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(pub [u8; 16]);

impl UploadId {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        r.array("upload id").map(UploadId)
    }

    pub(crate) fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.0);
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({self})")
    }
}

/// A room's 16-byte id, chosen at random by its creator (version 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub [u8; 16]);

impl RoomId {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        r.array("room id").map(RoomId)
    }

    pub(crate) fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.0);
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomId({self})")
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn field(bytes: &[u8]) -> Reader {
        let mut f = vec![0u8; NAME_FIELD_LEN];
        f[..bytes.len()].copy_from_slice(bytes);
        Reader::new(Bytes::from(f))
    }

    #[test]
    fn name_field_round_trips() {
        let name = Name::new("alice").unwrap();
        let mut buf = BytesMut::new();
        name.write_field(&mut buf);
        assert_eq!(buf.len(), NAME_FIELD_LEN);
        let mut r = Reader::new(buf.freeze());
        assert_eq!(Name::read_field(&mut r).unwrap(), name);
    }

    #[test]
    fn name_of_254_bytes_fits_the_field() {
        let name = Name::new("x".repeat(254)).unwrap();
        let mut buf = BytesMut::new();
        name.write_field(&mut buf);
        assert_eq!(buf[253], b'x');
        assert_eq!(buf[254], 0);
        let mut r = Reader::new(buf.freeze());
        assert_eq!(Name::read_field(&mut r).unwrap(), name);
    }

    #[test]
    fn rejects_unterminated_name() {
        let mut r = Reader::new(Bytes::from(vec![b'a'; NAME_FIELD_LEN]));
        assert_eq!(
            Name::read_field(&mut r),
            Err(PayloadError::NameNotTerminated)
        );
    }

    #[test]
    fn rejects_empty_name() {
        assert_eq!(
            Name::read_field(&mut field(b"")),
            Err(PayloadError::NameEmpty)
        );
    }

    #[test]
    fn rejects_garbage_after_terminator() {
        assert_eq!(
            Name::read_field(&mut field(b"bob\0x")),
            Err(PayloadError::NamePadding)
        );
    }

    #[test]
    fn rejects_non_utf8_name() {
        assert_eq!(
            Name::read_field(&mut field(&[0xff, 0xfe])),
            Err(PayloadError::NameNotUtf8)
        );
    }

    #[test]
    fn rejects_control_characters() {
        assert_eq!(
            Name::read_field(&mut field(b"bo\x1bb")),
            Err(PayloadError::NameControlChar)
        );
        assert_eq!(Name::new("a\u{85}b"), Err(PayloadError::NameControlChar));
    }

    #[test]
    fn rejects_long_name() {
        assert_eq!(
            Name::new("y".repeat(255)),
            Err(PayloadError::NameTooLong(255))
        );
    }

    #[test]
    fn client_id_parses_hex_and_uuid_forms() {
        let id: ClientId = "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap();
        assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
        assert!("0011".parse::<ClientId>().is_err());
        assert!(
            "zz112233445566778899aabbccddeeff"
                .parse::<ClientId>()
                .is_err()
        );
    }

    #[test]
    fn message_kind_codes() {
        for code in 1..=7 {
            assert_eq!(MessageKind::from_code(code).unwrap().code(), code);
        }
        assert_eq!(
            MessageKind::from_code(0),
            Err(PayloadError::BadMessageType(0))
        );
        assert_eq!(
            MessageKind::from_code(8),
            Err(PayloadError::BadMessageType(8))
        );
    }
}
