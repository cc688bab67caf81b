//! Turns the command line into a [`ClientConfig`]: where the home folder is
//! and which server to use.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::ClientConfig;

/// File naming the server, as in the reference client.
pub const SERVER_INFO: &str = "server.info";

/// The server address: `--server`, else `server.info` in the home folder,
/// else in the working directory.
///
/// # Errors
/// No address anywhere, or a malformed one.
pub fn server_address(flag: Option<&str>, home: &Path) -> anyhow::Result<String> {
    if let Some(s) = flag {
        return check_address(s);
    }
    for dir in [home, Path::new(".")] {
        let path = dir.join(SERVER_INFO);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let line = text.lines().next().unwrap_or_default().trim();
                return check_address(line).with_context(|| format!("in {}", path.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    bail!("no server given: pass --server HOST:PORT or write HOST:PORT into {SERVER_INFO}")
}

fn check_address(text: &str) -> anyhow::Result<String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        bail!("{text:?} is not HOST:PORT");
    };
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        bail!("{text:?} is not HOST:PORT with a port from 1 to 65535");
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
///
/// # Errors
/// No server address, or `protection` failed.
pub fn client_config(
    home: Option<PathBuf>,
    server: Option<&str>,
    accept_server_key: bool,
    protection: impl FnOnce(&Path) -> anyhow::Result<crate::keystore::Protection>,
) -> anyhow::Result<ClientConfig> {
    let home = home_folder(home)?;
    let server = server_address(server, &home)?;
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
    fn malformed_addresses_are_refused() {
        for bad in ["localhost", ":80", "host:0", "host:99999", "host:x"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
