//! A bounds-checked reader over one payload, and the little-endian writers.
//!
//! Every read checks what is left first, so a short or lying payload is a
//! [`PayloadError`], never a panic. Byte fields are sliced out of the frame's
//! `Bytes` without copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::PayloadError;

/// Reads fields off the front of one payload.
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn need(&self, field: &'static str, needed: usize) -> Result<(), PayloadError> {
        if self.buf.len() < needed {
            return Err(PayloadError::Truncated {
                field,
                needed,
                available: self.buf.len(),
            });
        }
        Ok(())
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, PayloadError> {
        self.need(field, 1)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, PayloadError> {
        self.need(field, 2)?;
        Ok(self.buf.get_u16_le())
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, PayloadError> {
        self.need(field, 4)?;
        Ok(self.buf.get_u32_le())
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, PayloadError> {
        self.need(field, 8)?;
        Ok(self.buf.get_u64_le())
    }

    pub(crate) fn flag(&mut self, field: &'static str) -> Result<bool, PayloadError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(PayloadError::BadFlag { field, value }),
        }
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], PayloadError> {
        self.need(field, N)?;
        let mut out = [0u8; N];
        self.buf.copy_to_slice(&mut out);
        Ok(out)
    }

    pub(crate) fn bytes(&mut self, field: &'static str, len: usize) -> Result<Bytes, PayloadError> {
        self.need(field, len)?;
        Ok(self.buf.split_to(len))
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Fails if any byte is left unread.
    pub(crate) fn finish(self) -> Result<(), PayloadError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(PayloadError::TrailingBytes(self.buf.len()))
        }
    }
}

/// Fails unless `payload` is exactly `expected` bytes long.
pub(crate) fn expect_len(payload: &Bytes, expected: usize) -> Result<(), PayloadError> {
    if payload.len() != expected {
        return Err(PayloadError::WrongSize {
            expected,
            actual: payload.len(),
        });
    }
    Ok(())
}

/// Checks a count or length field against its range.
pub(crate) fn check_range(
    field: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<(), PayloadError> {
    if value < min || value > max {
        return Err(PayloadError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(())
}

pub(crate) fn put_u16(dst: &mut BytesMut, v: u16) {
    dst.put_u16_le(v);
}

pub(crate) fn put_u32(dst: &mut BytesMut, v: u32) {
    dst.put_u32_le(v);
}

pub(crate) fn put_u64(dst: &mut BytesMut, v: u64) {
    dst.put_u64_le(v);
}
