//! Scenario `file` (not built yet): one large file through the whole path.
//!
//! What it will measure, per PRODUCT.md: a 1 GiB file encrypted
//! (`client::crypto::FileEncryptor`), uploaded in chunks, stored by the
//! server, downloaded and decrypted (`FileDecryptor`), in MB/s each way,
//! with the peak resident memory of the server (VmHWM of its process, as in
//! `idle`) and of the client, each beside the limits measured in the same
//! run (loopback TCP and raw XChaCha20-Poly1305 from `limits`).
//!
//! What it needs: the client application layer's file transfer (upload
//! with resume and progress, download into a file, sealed file offer),
//! being built on main now. Then this module will:
//! 1. start the release `server` binary as a child (memory must be its own);
//! 2. make a sparse-free plaintext of `--mib` MiB from a seeded pattern in a
//!    temporary file (and its SHA-256);
//! 3. time encrypt+upload, then download+decrypt, separately;
//! 4. compare the decrypted file's SHA-256, read both peak memories, report.
//!
//! Until then, [`run`] refuses with that explanation.

use clap::Args;

/// The file workload (the interface is fixed now; see the module docs).
#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    /// File size in MiB.
    #[arg(long, default_value_t = 1024)]
    pub mib: u64,
}

/// Why this scenario cannot run yet.
pub const NOT_BUILT: &str = "scenario file is not built yet: it needs the client application \
    layer's file transfer (upload with resume, download, sealed offers) that is being built \
    on main; see bench/src/scenario/file.rs";

/// Runs the scenario.
///
/// # Errors
/// Always, for now: see [`NOT_BUILT`].
pub fn run(_args: &FileArgs) -> anyhow::Result<crate::report::Outcome> {
    anyhow::bail!(NOT_BUILT)
}
