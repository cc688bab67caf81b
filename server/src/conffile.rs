//! The configuration file (`--config FILE`, or `/etc/sealpost/server.toml`
//! when it exists): one TOML key per command-line flag, spelt as the flag
//! without its dashes (`max-connections = 512`). A flag given on the command
//! line wins over the file; a key the server does not know is an error that
//! names it, so that a typo never silently leaves a default in force.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, DurabilityArg};
use startup::size::parse as parse_size;

/// Read when `--config` is not given and the file exists.
pub const DEFAULT_PATH: &str = "/etc/sealpost/server.toml";

/// The file's settings; a missing key leaves the flag's value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSettings {
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub files_dir: Option<PathBuf>,
    pub legacy_v2: Option<bool>,
    pub log_level: Option<String>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub idle_timeout: Option<u64>,
    pub stall_timeout: Option<u64>,
    pub shutdown_grace: Option<u64>,
    pub v2_max_content: Option<Size>,
    pub max_message: Option<Size>,
    pub max_file_size: Option<Size>,
    pub inbox_max_messages: Option<u64>,
    pub inbox_max_bytes: Option<Size>,
    pub sender_max_bytes: Option<Size>,
    pub max_storage: Option<Size>,
    pub requests_per_second: Option<u32>,
    pub max_uploads_per_client: Option<u32>,
    pub upload_max_age_hours: Option<u64>,
    pub room_retention_days: Option<u64>,
    pub min_free_space: Option<Size>,
    pub durability: Option<DurabilityArg>,
}

/// A size as the flags take it: a number of bytes, or a string with a
/// decimal suffix (`"64kB"`, `"16G"`) or a binary one (`"64KiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size: a number of bytes or a string such as \"64K\" or \"16G\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Parses the command line, then fills what it left unset from the
/// configuration file.
pub fn command_line() -> anyhow::Result<Cli> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let Some((path, text, file)) = load(cli.config.as_deref())? {
        fill(&mut cli, &matches, &path, &text, file);
    }
    Ok(cli)
}

/// Takes the settings of `file` (read from `path`, its `text`) that the
/// command line (`matches`) left unset, noting where each was written so
/// that a value the checks refuse is reported there.
fn fill(cli: &mut Cli, matches: &clap::ArgMatches, path: &Path, text: &str, file: FileSettings) {
    let taken = apply(cli, file, |id| {
        matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    });
    for id in taken {
        let line = key_line(text, &id.replace('_', "-")).unwrap_or(1);
        let place = format!("config file {} line {line}", path.display());
        cli.from_file.insert(id, place);
    }
}

/// Takes each setting of `file` whose flag `given` says was not on the
/// command line; returns the flags' ids of those it took.
pub fn apply(cli: &mut Cli, file: FileSettings, given: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut taken = Vec::new();
    // Each key, named once: the field of both structs and the flag's id.
    macro_rules! take {
        ($($field:ident $(as $wrap:ident)?),* $(,)?) => {$(
            if let Some(v) = file.$field {
                if !given(stringify!($field)) {
                    cli.$field = take!(@wrap v $($wrap)?);
                    taken.push(stringify!($field));
                }
            }
        )*};
        (@wrap $v:ident) => { $v };
        (@wrap $v:ident Some) => { Some($v) };
        (@wrap $v:ident size) => { $v.0 };
        (@wrap $v:ident some_size) => { Some($v.0) };
    }
    take!(
        port as Some,
        bind,
        data_dir,
        database as Some,
        files_dir as Some,
        legacy_v2,
        log_level,
        max_connections,
        max_connections_per_ip,
        idle_timeout,
        stall_timeout,
        shutdown_grace,
        v2_max_content as size,
        max_message as size,
        max_file_size as size,
        inbox_max_messages,
        inbox_max_bytes as size,
        sender_max_bytes as size,
        max_storage as size,
        requests_per_second,
        max_uploads_per_client,
        upload_max_age_hours,
        room_retention_days,
        min_free_space as some_size,
        durability,
    );
    taken
}

/// The line (from 1) of a file's text that sets top-level `key`: the file
/// has no tables, so a line that starts with the key and then `=` is it.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Which file to read: `explicit` must exist; without it the default path
/// is read if it exists. Returns its path, its text and its settings.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Option<(PathBuf, String, FileSettings)>> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_PATH);
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    let settings =
        parse(&text).map_err(|e| anyhow::anyhow!("config file {}{e}", path.display()))?;
    Ok(Some((path, text, settings)))
}

/// Parses a file's text; the error reads `" line N: what"`, on one line
/// (the toml crate's own display quotes the source over several).
pub fn parse(text: &str) -> Result<FileSettings, String> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let place = e
            .span()
            .map(|s| {
                let before = text.get(..s.start).unwrap_or(text);
                format!(" line {}", before.matches('\n').count() + 1)
            })
            .unwrap_or_default();
        format!("{place}: {}", e.message().trim())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const EXAMPLE: &str = include_str!("../../deploy/server.toml");

    /// The example with every `#key = value` line made a setting.
    fn example_uncommented() -> String {
        EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| is_key(k)) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn is_key(k: &str) -> bool {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    #[test]
    fn the_example_has_a_key_for_every_flag_and_shows_the_defaults() {
        let text = example_uncommented();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let command = Cli::command();
        let mut flags: Vec<&str> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| !["help", "version", "config"].contains(l))
            .collect();
        flags.sort_unstable();
        assert_eq!(keys, flags, "deploy/server.toml and the flags differ");

        let file = parse(&text).unwrap();
        let defaults = Cli::parse_from(["server"]);
        let mut from_file = Cli::parse_from(["server"]);
        apply(&mut from_file, file, |_| false);
        // What the example sets on purpose, the reserve whose default
        // depends on the disk, and a cluster's settings (no default).
        assert_eq!(from_file.data_dir, PathBuf::from("/var/lib/sealpost"));
        assert_eq!(from_file.port, Some(1357));
        assert_eq!(from_file.min_free_space, Some(256_000_000));
        assert_eq!(
            from_file.database.as_deref(),
            Some("postgres://sealpost@127.0.0.1/sealpost")
        );
        assert_eq!(
            from_file.files_dir,
            Some(PathBuf::from("/srv/sealpost-files"))
        );
        from_file.database = None;
        from_file.files_dir = None;
        from_file.data_dir = defaults.data_dir.clone();
        from_file.port = defaults.port;
        from_file.min_free_space = defaults.min_free_space;
        assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_and_its_line() {
        let err = parse("port = 1\nmax-conections = 5\n").unwrap_err();
        assert!(err.starts_with(" line 2: "), "{err}");
        assert!(err.contains("max-conections"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn sizes_take_numbers_and_suffixes_and_bad_ones_are_refused() {
        let file = parse("max-storage = \"2G\"\ninbox-max-bytes = 4096\n").unwrap();
        assert_eq!(file.max_storage, Some(Size(2_000_000_000)));
        assert_eq!(file.inbox_max_bytes, Some(Size(4096)));
        let err = parse("max-storage = \"lots\"").unwrap_err();
        assert!(err.contains("not a size"), "{err}");
        assert!(parse("max-storage = -1").unwrap_err().contains("negative"));
    }

    #[test]
    fn a_value_refused_from_the_file_is_reported_at_its_line_and_from_the_flag_as_the_flag() {
        let text = "# limits\nport = 1357\n\n  max-message = 100\nmax-connections = 0\n";
        let path = Path::new("/etc/sealpost/server.toml");
        let matches = Cli::command().get_matches_from(["server"]);
        let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        fill(&mut cli, &matches, path, text, parse(text).unwrap());
        let said = cli.config().unwrap_err().to_string();
        assert!(
            said.starts_with(
                "config file /etc/sealpost/server.toml line 4: max-message 100 is under 1000"
            ),
            "{said}"
        );
        cli.max_message = 1024;
        let said = cli.config().unwrap_err().to_string();
        assert!(
            said.starts_with("config file /etc/sealpost/server.toml line 5: max-connections 0 "),
            "{said}"
        );

        let matches = Cli::command().get_matches_from(["server", "--max-message", "100"]);
        let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        fill(&mut cli, &matches, path, text, parse(text).unwrap());
        cli.max_connections = 1;
        let said = cli.config().unwrap_err().to_string();
        assert!(
            said.starts_with("--max-message 100 is under 1000"),
            "{said}"
        );
    }

    #[test]
    fn a_flag_on_the_command_line_wins_over_the_file() {
        let matches = Cli::command().get_matches_from(["server", "--max-connections", "7"]);
        let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap();
        let file = parse("max-connections = 99\nidle-timeout = 5\n").unwrap();
        apply(&mut cli, file, |id| {
            matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        });
        assert_eq!(cli.max_connections, 7);
        assert_eq!(cli.idle_timeout, 5);
    }
}
