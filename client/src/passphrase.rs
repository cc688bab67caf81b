//! Where the command line's passphrase comes from (`--no-passphrase`,
//! `--passphrase-file`, `SEALPOST_PASSPHRASE`, the terminal without echo),
//! and `passphrase change`: both stores of the home re-keyed.
//!
//! Never from an argument: a command line is visible to every user of the
//! machine (`ps`) and stays in shell histories.

use std::path::Path;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

use crate::keystore::atrest::{self, Record};
use crate::keystore::{KeyStoreError, Protection, StoreKey};
use crate::rooms::ROOMS_FILE;
use crate::{Client, ClientError};

/// The environment variable scripts give the passphrase in.
pub const PASSPHRASE_ENV: &str = "SEALPOST_PASSPHRASE";
/// The environment variable `passphrase change` reads the new one from.
pub const NEW_PASSPHRASE_ENV: &str = "SEALPOST_NEW_PASSPHRASE";

/// The fewest characters a new passphrase has (a new home's, a changed
/// one, a plain home's backup's). Homes and backups made under a shorter
/// one, before there was a minimum, still open with it.
pub const MIN_NEW_PASSPHRASE_CHARS: usize = 8;

/// `text` as a new passphrase: refused when shorter than the minimum.
///
/// # Errors
/// [`KeyStoreError::PassphraseTooShort`].
pub fn new_passphrase(text: Zeroizing<String>) -> Result<Zeroizing<String>, KeyStoreError> {
    if text.chars().count() < MIN_NEW_PASSPHRASE_CHARS {
        return Err(KeyStoreError::PassphraseTooShort {
            min: MIN_NEW_PASSPHRASE_CHARS,
        });
    }
    Ok(text)
}

/// The line every start of a plain home prints on standard error.
pub const PLAIN_WARNING: &str = "client: WARNING: this home folder is NOT encrypted (--no-passphrase): anyone who can read its files reads your keys and history";

/// The protection the command line asks for `home`. A plain home (chosen
/// with `--no-passphrase`, now or on an earlier run) says so on standard
/// error, every time.
///
/// `restoring`: the home is being set up from a backup, whose passphrase
/// it takes whatever its length; any other new home's passphrase is a new
/// one, [`MIN_NEW_PASSPHRASE_CHARS`] at least.
///
/// # Errors
/// An unreadable or empty passphrase file; no passphrase to be had (no
/// terminal, nothing given) for a home that needs one; a new home's
/// passphrase too short.
pub fn resolve(
    home: &Path,
    no_passphrase: bool,
    file: Option<&Path>,
    restoring: bool,
) -> anyhow::Result<Protection> {
    let record = atrest::read_record(home)?;
    let new = record.is_none() && !restoring;
    let checked = |text: Zeroizing<String>| -> anyhow::Result<Protection> {
        Ok(Protection::Passphrase(if new {
            new_passphrase(text).map_err(ClientError::Store)?
        } else {
            text
        }))
    };
    if no_passphrase || (record == Some(Record::NoPassphrase) && file.is_none()) {
        // An encrypted home refuses to open without its passphrase: it is
        // not the plain home the warning would call it.
        if !matches!(record, Some(Record::Passphrase(_))) {
            eprintln!("{PLAIN_WARNING}");
        }
        return Ok(Protection::NoPassphrase);
    }
    if let Some(file) = file {
        return checked(read_file(file)?);
    }
    if let Ok(text) = std::env::var(PASSPHRASE_ENV) {
        return checked(non_empty(Zeroizing::new(text))?);
    }
    let first_use = record.is_none();
    let needed = if first_use {
        KeyStoreError::FirstPassphraseNeeded
    } else {
        KeyStoreError::PassphraseNeeded
    };
    let text = ask("Passphrase for this home folder: ", first_use)
        .map_err(|e| no_terminal_as(e, needed))?;
    checked(text)
}

/// A prompt that failed for want of a terminal (none is attached: a
/// script, a service, `setsid`) becomes `needed`, one line with the ways
/// to give the secret and a stable `--json` code; the system's words
/// ("No such device or address") would tell a person nothing more. Any
/// other failure, such as two entries that differ, stays as it is.
fn no_terminal_as(e: anyhow::Error, needed: KeyStoreError) -> anyhow::Error {
    let no_terminal = e.downcast_ref::<std::io::Error>().is_some_and(|io| {
        // ENXIO: no controlling terminal; ENOTTY: not a terminal.
        matches!(io.raw_os_error(), Some(6 | 25))
            || matches!(
                io.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::UnexpectedEof
            )
    });
    if no_terminal {
        ClientError::Store(needed).into()
    } else {
        e
    }
}

/// The new passphrase for `passphrase change`.
///
/// # Errors
/// As [`resolve`].
pub fn resolve_new(file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    let text = if let Some(file) = file {
        read_file(file)?
    } else if let Ok(text) = std::env::var(NEW_PASSPHRASE_ENV) {
        non_empty(Zeroizing::new(text))?
    } else {
        ask("New passphrase: ", true)
            .map_err(|e| no_terminal_as(e, KeyStoreError::NewPassphraseNeeded))?
    };
    Ok(new_passphrase(text).map_err(ClientError::Store)?)
}

fn read_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the passphrase file {}", path.display()))?,
    );
    non_empty(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_string(),
    ))
}

/// What is asked for: the words of its prompts and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The home folder's passphrase.
    Passphrase,
    /// A room's password.
    RoomPassword,
}

impl Secret {
    fn word(self) -> &'static str {
        match self {
            Secret::Passphrase => "passphrase",
            Secret::RoomPassword => "password",
        }
    }
}

fn non_empty(text: Zeroizing<String>) -> anyhow::Result<Zeroizing<String>> {
    non_empty_as(text, Secret::Passphrase)
}

fn non_empty_as(text: Zeroizing<String>, what: Secret) -> anyhow::Result<Zeroizing<String>> {
    if text.is_empty() {
        bail!(EntryError::Empty(what));
    }
    Ok(text)
}

/// The second entry of a new secret must be the first again.
fn confirm(first: &str, again: &str, what: Secret) -> anyhow::Result<()> {
    if again != first {
        bail!(EntryError::Differ(what));
    }
    Ok(())
}

/// A secret given that cannot be used, whatever the home holds.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Nothing was given.
    #[error("the {} is empty", .0.word())]
    Empty(Secret),
    /// The second entry of a new secret is not the first.
    #[error("the two {}s differ", .0.word())]
    Differ(Secret),
}

impl EntryError {
    /// The stable word for `--json` errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty(Secret::Passphrase) => "empty_passphrase",
            Self::Empty(Secret::RoomPassword) => "empty_password",
            Self::Differ(Secret::Passphrase) => "passphrases_differ",
            Self::Differ(Secret::RoomPassword) => "passwords_differ",
        }
    }
}

/// A room's password (PROTOCOL.md "Passwords (146 to 149)"): asked on the
/// terminal without echo (a new one twice), or, when standard input is not
/// a terminal, its first line. Never an argument.
///
/// # Errors
/// Standard input failed, the password is empty, or the two differ.
pub fn read_room_password(prompt: &str, twice: bool) -> anyhow::Result<Zeroizing<String>> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return ask_as(prompt, twice, Secret::RoomPassword);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the room password from standard input")?;
    let text = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string());
    non_empty_as(text, Secret::RoomPassword).context("no room password on standard input")
}

/// Asks on the terminal without echo; a new passphrase twice.
fn ask(prompt: &str, twice: bool) -> anyhow::Result<Zeroizing<String>> {
    ask_as(prompt, twice, Secret::Passphrase)
}

/// Asks for `what` on the terminal without echo; a new one twice.
fn ask_as(prompt: &str, twice: bool, what: Secret) -> anyhow::Result<Zeroizing<String>> {
    let first = non_empty_as(Zeroizing::new(rpassword::prompt_password(prompt)?), what)?;
    if twice {
        let again = Zeroizing::new(rpassword::prompt_password(format!(
            "Same {} again: ",
            what.word()
        ))?);
        confirm(&first, &again, what)?;
    }
    Ok(first)
}

impl Client {
    /// Re-keys both stores of the home (`store.db` and, if there is one,
    /// `rooms.db`) with a key from `new` and a new salt, then records the
    /// salt. Run it with no rooms engine open (a command of its own).
    ///
    /// # Errors
    /// [`KeyStoreError::PassphraseTooShort`]; [`KeyStoreError::NoPassphraseToChange`]
    /// for a plain home; [`KeyStoreError::SamePassphrase`]; database and
    /// file errors.
    pub async fn change_passphrase(&self, new: Zeroizing<String>) -> Result<(), ClientError> {
        let new = new_passphrase(new)?;
        let home = self.config().home.clone();
        self.store(move |store| {
            // Not under another client of the home: it would stop.
            store.claim_alone()?;
            let old = store
                .key()
                .cloned()
                .ok_or(KeyStoreError::NoPassphraseToChange)?;
            // The same passphrase under the current salt makes the same key:
            // re-keying would change nothing but the salt, and tell the user
            // that a passphrase they meant to change was changed.
            if let Some(Record::Passphrase(salt)) = atrest::read_record(&home)?
                && atrest::derive(&new, &salt)?.bytes() == old.bytes()
            {
                return Err(KeyStoreError::SamePassphrase);
            }
            let salt = atrest::new_salt();
            let key = atrest::derive(&new, &salt)?;
            rekey_rooms(&home, &old, &key)?;
            store.rekey(key)?;
            // Last: until here the old passphrase opens both (a crash
            // between the two re-keys is the one window; see README).
            atrest::write_record(&home, &Record::Passphrase(salt))?;
            Ok(())
        })
        .await
    }
}

fn rekey_rooms(home: &Path, old: &StoreKey, new: &StoreKey) -> Result<(), KeyStoreError> {
    let path = home.join(ROOMS_FILE);
    if !path.exists() {
        return Ok(());
    }
    let conn = rusqlite::Connection::open(&path)?;
    atrest::apply_key(&conn, Some(old))?;
    conn.execute_batch(&atrest::key_pragma("rekey", new))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_password_is_worded_as_a_password() {
        let differ = |what| confirm("one", "two", what).unwrap_err().to_string();
        assert_eq!(differ(Secret::RoomPassword), "the two passwords differ");
        assert_eq!(differ(Secret::Passphrase), "the two passphrases differ");
        assert!(confirm("same", "same", Secret::RoomPassword).is_ok());
        let empty = |what| {
            non_empty_as(Zeroizing::new(String::new()), what)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(empty(Secret::RoomPassword), "the password is empty");
        assert_eq!(empty(Secret::Passphrase), "the passphrase is empty");
    }
}
