//! The commands that set a home up rather than run in one: `client import`
//! and `client register`. Each opens the home itself, so that a failure
//! leaves a home it set up as it found it (see
//! [`crate::backup::open_and_set_up`]).

use std::path::Path;

use serde_json::json;

use crate::client::{Client, ClientConfig};
use crate::commands::Flags;
use crate::display::escape_line;
use crate::script::print_json;

/// `client import FILE`: restores a backup into the home of `config`,
/// which it opens itself so that a failed import can leave the home as it
/// found it, and writes the server's address into the home's `server.info`
/// (the one given, else those the backup pinned).
///
/// # Errors
/// As [`crate::backup::open_and_import`].
pub async fn import(config: ClientConfig, flags: Flags, file: &Path) -> anyhow::Result<()> {
    let home = config.home.clone();
    let given = config.server.clone();
    let (client, summary) = crate::backup::open_and_import(config, file).await?;
    // Without an address given, the servers the backed-up home had pinned:
    // a home restored on a new machine needs no --server.
    let server = if given.is_empty() {
        client
            .store(|s| s.pinned_server_addresses())
            .await?
            .join(",")
    } else {
        given
    };
    // Remembered before anything is printed: a closed output must not
    // leave the home without its server.
    if !server.is_empty() {
        crate::config::remember_server(&home, &server).await?;
    }
    if flags.json {
        print_json(&summary)?;
    } else {
        println!("{summary}");
    }
    Ok(())
}

/// `client register NAME`: in a home set up by this very command, a
/// refused registration (a name taken, the server unreachable) leaves the
/// home as it found it, so that the next try may use another passphrase.
///
/// `invisible`: not shown online while registering (`--invisible`).
///
/// # Errors
/// As [`crate::backup::open_and_set_up`] and [`Client::register`].
pub async fn register(
    config: ClientConfig,
    flags: Flags,
    name: &str,
    invisible: bool,
) -> anyhow::Result<()> {
    let home = config.home.clone();
    let server = config.server.clone();
    let (client, id) = crate::backup::open_and_set_up(config, async |client: &Client| {
        client.set_invisible(invisible);
        client.register(name).await
    })
    .await?;
    let fingerprint = client.my_fingerprint()?;
    // Before anything is printed: the account exists now, and a closed
    // output (`register NAME | head -1`) must not leave its home without
    // the server it is on.
    crate::config::remember_server(&home, &server).await?;
    if flags.json {
        print_json(
            &json!({ "name": name, "id": id.to_string(), "fingerprint": fingerprint.to_string() }),
        )?;
    } else {
        println!("registered {} with id {id}", escape_line(name));
        println!("your fingerprint: {fingerprint}");
    }
    Ok(())
}
