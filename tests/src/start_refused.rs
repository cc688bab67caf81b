//! A server binary that must refuse to start: what it said before it
//! exited.

use std::path::Path;

use tokio::io::AsyncReadExt;

use crate::bounded;

/// Runs `server --port 0 --bind 127.0.0.1 --data-dir DATA ARGS...`, which
/// must exit unsuccessfully (bounded), and returns its standard error.
///
/// # Panics
/// It did not exit in time, or exited successfully.
pub async fn server_refusing_to_start(data: &Path, args: &[&str]) -> String {
    let mut server = crate::server_command(data, 0, args)
        .unwrap()
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    let mut pipe = server.stderr.take().unwrap();
    // Ends when the process exits; a server that started would keep it
    // open, and the wait would fail.
    bounded("the server to give up", pipe.read_to_string(&mut stderr))
        .await
        .unwrap()
        .unwrap();
    let status = bounded("the server to exit", server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "it started: {stderr}");
    stderr
}
