//! Turns the command line into a [`ClientConfig`]: where the home folder is
//! and which server to use.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ClientConfig;
use crate::connection::ConnectionError;

/// A server address that cannot be one (`bad_address` with `--json`).
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// Nothing but commas and blanks.
    #[error("no HOST:PORT given")]
    Empty,
    /// No colon, no host, or a port that is not 1 to 65535.
    #[error("{0:?} is not HOST:PORT with a port from 1 to 65535")]
    Malformed(String),
}

/// File naming the server, as in the reference client.
pub const SERVER_INFO: &str = "server.info";

/// The server address: `--server`, else `server.info` in the home folder,
/// else in the working directory. Several nodes of one cluster are
/// comma-separated in `--server` and one a line in `server.info`; the
/// result lists them comma-separated (see `connection::nodes`).
///
/// # Errors
/// No address anywhere ([`ConnectionError::NoServer`]), or a malformed one
/// ([`AddressError`]).
pub fn server_address(flag: Option<&str>, home: &Path) -> anyhow::Result<String> {
    given_address(flag, home)?.ok_or_else(|| ConnectionError::NoServer.into())
}

/// [`server_address`], or `None` when none is given anywhere: for the
/// commands that only read and write the home (see
/// [`crate::cli::Command::needs_server`]).
///
/// # Errors
/// A malformed address, or a `server.info` that cannot be read.
pub fn given_address(flag: Option<&str>, home: &Path) -> anyhow::Result<Option<String>> {
    if let Some(s) = flag {
        return Ok(Some(check_addresses(s.split(','))?));
    }
    for dir in [home, Path::new(".")] {
        let path = dir.join(SERVER_INFO);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return check_addresses(text.lines())
                    .map(Some)
                    .with_context(|| format!("in {}", path.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(None)
}

/// Writes `server` (its nodes one a line) into the home's `server.info`
/// unless it has one, so that later commands need no --server. Every way
/// of registering or restoring an account (`client register`, the menu's
/// `register`, `client import`) goes through here.
///
/// # Errors
/// The file cannot be written.
pub async fn remember_server(home: &Path, server: &str) -> anyhow::Result<()> {
    let info = home.join(SERVER_INFO);
    if !tokio::fs::try_exists(&info).await.unwrap_or(true) {
        tokio::fs::write(&info, format!("{}\n", server.replace(',', "\n")))
            .await
            .with_context(|| format!("writing {}", crate::display::escape_path(&info)))?;
    }
    Ok(())
}

/// The non-blank addresses of `parts`, each checked, comma-separated.
fn check_addresses<'a>(parts: impl Iterator<Item = &'a str>) -> Result<String, AddressError> {
    let mut all = Vec::new();
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        all.push(check_address(part)?);
    }
    if all.is_empty() {
        return Err(AddressError::Empty);
    }
    Ok(all.join(","))
}

fn check_address(text: &str) -> Result<String, AddressError> {
    let fine = text
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0));
    if !fine {
        return Err(AddressError::Malformed(text.to_string()));
    }
    Ok(text.to_string())
}

/// The home folder: `--home`, else the working directory.
///
/// # Errors
/// The working directory cannot be found.
pub fn home_folder(home: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match home {
        Some(h) => Ok(h),
        None => std::env::current_dir().context("finding the working directory"),
    }
}

/// The configuration for a home folder and server; `protection` says how
/// the home's stores are protected (see [`crate::passphrase::resolve`]).
/// Without `needs_server`, no address anywhere is an empty one: the
/// command reads the home only, and connecting would fail
/// ([`ConnectionError::NoServer`]).
///
/// # Errors
/// No server address when one is needed, a malformed one, or
/// `protection` failed.
pub fn client_config(
    home: Option<PathBuf>,
    server: Option<&str>,
    needs_server: bool,
    accept_server_key: bool,
    protection: impl FnOnce(&Path) -> anyhow::Result<crate::keystore::Protection>,
) -> anyhow::Result<ClientConfig> {
    let home = home_folder(home)?;
    let server = match given_address(server, &home)? {
        Some(s) => s,
        None if needs_server => return Err(ConnectionError::NoServer.into()),
        None => String::new(),
    };
    let protection = protection(&home)?;
    Ok(ClientConfig {
        home,
        server,
        accept_server_key,
        protection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_info_is_read_from_the_home_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SERVER_INFO), "127.0.0.1:1357\n").unwrap();
        assert_eq!(server_address(None, dir.path()).unwrap(), "127.0.0.1:1357");
        assert_eq!(
            server_address(Some("[::1]:9"), dir.path()).unwrap(),
            "[::1]:9"
        );
    }

    #[test]
    fn several_nodes_come_from_the_flag_or_one_a_line_from_server_info() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SERVER_INFO),
            "127.0.0.1:1357\n\n 127.0.0.2:1357 \n",
        )
        .unwrap();
        assert_eq!(
            server_address(None, dir.path()).unwrap(),
            "127.0.0.1:1357,127.0.0.2:1357"
        );
        assert_eq!(
            server_address(Some("a:1, b:2"), dir.path()).unwrap(),
            "a:1,b:2"
        );
        assert!(server_address(Some("a:1,b"), dir.path()).is_err());
        assert!(server_address(Some(","), dir.path()).is_err());
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["localhost", ":80", "host:0", "host:99999", "host:x"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
