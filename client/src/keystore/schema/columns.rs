//! How Rust values are kept in the key store's columns: fixed-size blobs,
//! secrets copied straight into wiped memory, u64 values and times as
//! SQLite integers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Row;
use zeroize::Zeroizing;

/// A fixed-size blob column; a wrong size is a conversion error.
pub(in crate::keystore) fn blob_array<const N: usize>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<[u8; N]> {
    let blob = row.get_ref(idx)?.as_blob()?;
    blob.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!("expected {N} bytes, found {}", blob.len()).into(),
        )
    })
}

/// A fixed-size secret blob column, copied straight into wiped memory.
pub(in crate::keystore) fn secret_array<const N: usize>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Zeroizing<[u8; N]>> {
    let blob = row.get_ref(idx)?.as_blob()?;
    if blob.len() != N {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!("expected {N} bytes, found {}", blob.len()).into(),
        ));
    }
    let mut out = Zeroizing::new([0u8; N]);
    out.copy_from_slice(blob);
    Ok(out)
}

/// Server message ids and times are u64 on the wire and i64 in SQLite: the
/// bits are kept as they are (a value over i64::MAX reads back unchanged).
/// SQL never orders or compares these columns, so the sign does not matter.
pub(in crate::keystore) fn to_sql_u64(value: u64) -> i64 {
    i64::from_le_bytes(value.to_le_bytes())
}

pub(in crate::keystore) fn from_sql_u64(value: i64) -> u64 {
    u64::from_le_bytes(value.to_le_bytes())
}

pub(in crate::keystore) fn system_time_to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

pub(in crate::keystore) fn ms_to_system_time(ms: i64) -> SystemTime {
    let offset = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

pub(in crate::keystore) fn now_ms() -> i64 {
    system_time_to_ms(SystemTime::now())
}
