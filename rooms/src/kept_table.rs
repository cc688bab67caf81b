//! The table of what reading a log entry came to (`crate::kept`): made
//! here, apart from the rows' code, so that the store's migration needs
//! nothing of what the rows hold.

use rusqlite::Connection;

use crate::error::RoomsError;

/// Makes the table of kept results, or adds what a table made by an
/// earlier version lacks (from `crate::store::migrate`).
pub(crate) fn migrate(conn: &Connection) -> Result<(), RoomsError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sealpost_rooms_kept (
             room_id BLOB NOT NULL,
             seq INTEGER NOT NULL,
             incoming TEXT NOT NULL,
             name_before TEXT,
             name_after TEXT,
             plaintext BLOB,
             refused TEXT,
             PRIMARY KEY (room_id, seq)
         );",
    )?;
    // Columns a table made by an earlier version lacks: the plaintext's
    // BLOB (an older row keeps it in its JSON and reads as it is) and a
    // refused entry's reason (NULL for one processed). Rows stay: a crash
    // may have left one to hand out again.
    for (column, kind) in [("plaintext", "BLOB"), ("refused", "TEXT")] {
        let has: i64 = conn.query_row(
            "SELECT count(*) FROM pragma_table_info('sealpost_rooms_kept') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if has == 0 {
            conn.execute_batch(&format!(
                "ALTER TABLE sealpost_rooms_kept ADD COLUMN {column} {kind};"
            ))?;
        }
    }
    Ok(())
}
