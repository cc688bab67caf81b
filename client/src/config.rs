//! Turns the command line into a [`ClientConfig`]: where the home folder is
//! and which server to use.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::ClientConfig;

/// File naming the server, as in the reference client.
pub const SERVER_INFO: &str = "server.info";

/// The server address: `--server`, else `server.info` in the home folder,
/// else in the working directory. Several nodes of one cluster are
/// comma-separated in `--server` and one a line in `server.info`; the
/// result lists them comma-separated (see `connection::nodes`).
///
/// # Errors
/// No address anywhere, or a malformed one.
pub fn server_address(flag: Option<&str>, home: &Path) -> anyhow::Result<String> {
    if let Some(s) = flag {
        return check_addresses(s.split(','));
    }
    for dir in [home, Path::new(".")] {
        let path = dir.join(SERVER_INFO);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return check_addresses(text.lines())
                    .with_context(|| format!("in {}", path.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    bail!(
        "no server given: pass --server HOST:PORT (a home remembers the server it registered on) or \
         write HOST:PORT into {SERVER_INFO}; `client --help` lists the commands"
    )
}

/// The non-blank addresses of `parts`, each checked, comma-separated.
fn check_addresses<'a>(parts: impl Iterator<Item = &'a str>) -> anyhow::Result<String> {
    let mut all = Vec::new();
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        all.push(check_address(part)?);
    }
    if all.is_empty() {
        bail!("no HOST:PORT given");
    }
    Ok(all.join(","))
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
