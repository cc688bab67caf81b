//! The interactive menu (rustyline).

use crate::client::Client;

/// Runs the menu until the user exits.
///
/// # Errors
/// The terminal failed.
pub async fn run(_client: Client) -> anyhow::Result<()> {
    anyhow::bail!("the interactive menu is not built yet; use a subcommand (client --help)")
}
