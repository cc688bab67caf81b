//! The original reference server of PRODUCT.md's version-2 target
//! (rdar-lab/messaging-system, Python 3), started from a checkout of it.
//! It reads its port from `port.info` and keeps `server.db` and `files/` in
//! its working folder, so it runs in a temporary folder of its own. Its log
//! (several `INFO` lines a request, on standard output) is discarded, which
//! spares it the writes a terminal or a file would cost.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::target::ChildServer;

/// The original's entry point inside its checkout.
const ENTRY: &str = "server/server_main.py";

/// How runs and reports name it.
pub const ORIGINAL_REFERENCE: &str = "original reference (rdar-lab/messaging-system)";

/// Starts the original reference from the checkout at `checkout` on a free
/// port (it listens on every interface; the workload only ever connects to
/// 127.0.0.1).
///
/// # Errors
/// The checkout has no `server/server_main.py`, or it does not start.
pub fn spawn_original_reference(checkout: &Path) -> anyhow::Result<ChildServer> {
    let entry = checkout.join(ENTRY);
    if !entry.is_file() {
        bail!(
            "no {ENTRY} in {} (a checkout of github.com/rdar-lab/messaging-system)",
            checkout.display()
        );
    }
    let entry = entry
        .canonicalize()
        .with_context(|| format!("reading {}", entry.display()))?;
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("port.info"), format!("{port}\n"))?;
    let mut command = Command::new("python3");
    command.arg(&entry).current_dir(dir.path());
    ChildServer::spawn_listening_at(
        command,
        &format!("{ORIGINAL_REFERENCE} (python3)"),
        Some(dir),
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

/// A port nothing listens on now (the original takes its port from a file,
/// so it cannot be given port 0).
fn free_port() -> anyhow::Result<u16> {
    let probe = TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(probe.local_addr()?.port())
}
