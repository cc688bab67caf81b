//! The serving flags checked and turned into the library's [`Options`]:
//! each value out of range is refused at start with one line naming the
//! flag (or the config file's line), never quietly changed.
//!
//! One rule for every number: 0 means "off" only where the flag's help says
//! so (`--requests-per-second`, `--room-retention-days`, `--shutdown-grace`:
//! no limit, kept until read, stop at once); wherever 0 would refuse every
//! connection, message, file or upload, or time out at once, it is refused.
//! Timeouts have an upper bound too, past which the clock's arithmetic would
//! overflow. `--min-free-space` larger than the disk is refused when the
//! server measures the disk (`server::headroom`).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use server::{Config, DEFAULT_PORT, Durability, Options};

use crate::cli::{Cli, DurabilityArg};

/// The smallest `--max-message`: a session's first message (121 bytes)
/// and a short text fit under it (`1K`).
const MIN_MAX_MESSAGE: u64 = 1000;

/// The longest `--upload-max-age-hours`: ten years. Longer ones overflowed
/// the clock's arithmetic, and a week is already generous.
const MAX_UPLOAD_AGE_HOURS: u64 = 10 * 366 * 24;

/// The longest `--room-retention-days`: a hundred years.
const MAX_RETENTION_DAYS: u64 = 100 * 366;

/// The longest `--idle-timeout`, `--stall-timeout` and `--shutdown-grace`
/// in seconds: a year (a timer that far ahead is as good as none, and much
/// further ones overflowed the clock).
const MAX_TIMEOUT_SECS: u64 = 366 * 24 * 3600;

/// The largest `--v2-max-content`: 4GiB, the protocol's limit rounded up.
const V2_MAX_CONTENT_FLAG: u64 = 4 << 30;

impl Cli {
    /// The validated configuration and the port.
    pub fn config(&self) -> anyhow::Result<(Config, u16)> {
        let port = match (self.port, &self.command) {
            (Some(p), _) => p,
            // The commands listen on nothing.
            (None, Some(_)) => DEFAULT_PORT,
            (None, None) => read_port_info()?,
        };
        let mut options = Options::new(&self.data_dir);
        options.legacy_v2 = self.legacy_v2;
        options.database.clone_from(&self.database);
        options.files_dir.clone_from(&self.files_dir);
        options.max_connections = self.max_connections;
        options.max_connections_per_ip = self.max_connections_per_ip;
        options.idle_timeout = self.seconds("idle_timeout", self.idle_timeout, 1)?;
        options.stall_timeout = self.seconds("stall_timeout", self.stall_timeout, 1)?;
        options.shutdown_grace = self.seconds("shutdown_grace", self.shutdown_grace, 0)?;
        if self.v2_max_content > V2_MAX_CONTENT_FLAG {
            return Err(self.refuse(
                "v2_max_content",
                format_args!(
                    "{} is over 4GiB: a version-2 length is 32 bits",
                    self.v2_max_content
                ),
            ));
        }
        options.v2_max_content = self
            .v2_max_content
            .min(protocol::v2::MAX_CONTENT_LEN.into()) as u32;
        if self.max_message < MIN_MAX_MESSAGE {
            return Err(self.refuse(
                "max_message",
                format_args!(
                    "{} is under {MIN_MAX_MESSAGE} bytes: a session's first message alone is \
                     121, so nothing could be sent",
                    self.max_message
                ),
            ));
        }
        if self.max_message > protocol::MAX_MESSAGE_LEN as u64 {
            return Err(self.refuse(
                "max_message",
                format_args!(
                    "{} is over the protocol's limit of {} (256KiB)",
                    self.max_message,
                    protocol::MAX_MESSAGE_LEN
                ),
            ));
        }
        options.max_message_len = self.max_message as u32;
        self.check_counts()?;
        options.max_file_size = self.max_file_size;
        options.inbox_max_messages = self.inbox_max_messages;
        options.inbox_max_bytes = self.inbox_max_bytes;
        options.sender_max_bytes = self.sender_max_bytes;
        options.max_storage_bytes = self.max_storage;
        options.requests_per_second = self.requests_per_second;
        options.max_uploads_per_client = self.max_uploads_per_client;
        if !(1..=MAX_UPLOAD_AGE_HOURS).contains(&self.upload_max_age_hours) {
            return Err(self.refuse(
                "upload_max_age_hours",
                format_args!(
                    "{} is out of range: 1 to {MAX_UPLOAD_AGE_HOURS} (ten years)",
                    self.upload_max_age_hours
                ),
            ));
        }
        options.upload_max_age = Duration::from_secs(self.upload_max_age_hours * 3600);
        if self.room_retention_days > MAX_RETENTION_DAYS {
            return Err(self.refuse(
                "room_retention_days",
                format_args!(
                    "{} is over {MAX_RETENTION_DAYS} (a hundred years; 0 keeps entries until \
                     every member has read them)",
                    self.room_retention_days
                ),
            ));
        }
        options.room_retention = Duration::from_secs(self.room_retention_days * 24 * 3600);
        options.min_free_space = self.min_free_space;
        options.durability = match self.durability {
            DurabilityArg::Full => Durability::Full,
            DurabilityArg::Normal => Durability::Normal,
        };
        Ok((Config::new(options)?, port))
    }

    /// Refuses a limit of 0 that would refuse everything it counts.
    fn check_counts(&self) -> anyhow::Result<()> {
        let counts: [(&str, u64, &str); 8] = [
            (
                "max_connections",
                self.max_connections as u64,
                "every connection",
            ),
            (
                "max_connections_per_ip",
                self.max_connections_per_ip as u64,
                "every connection",
            ),
            ("max_file_size", self.max_file_size, "every file"),
            (
                "inbox_max_messages",
                self.inbox_max_messages,
                "every message",
            ),
            ("inbox_max_bytes", self.inbox_max_bytes, "every message"),
            ("sender_max_bytes", self.sender_max_bytes, "every message"),
            ("max_storage", self.max_storage, "every message and file"),
            (
                "max_uploads_per_client",
                self.max_uploads_per_client.into(),
                "every file",
            ),
        ];
        for (id, value, what) in counts {
            if value == 0 {
                return Err(self.refuse(id, format_args!("0 would refuse {what}: at least 1")));
            }
        }
        Ok(())
    }

    /// `secs` of flag `id` as a duration, refused under `min` or over
    /// [`MAX_TIMEOUT_SECS`].
    fn seconds(&self, id: &str, secs: u64, min: u64) -> anyhow::Result<Duration> {
        if secs < min || secs > MAX_TIMEOUT_SECS {
            return Err(self.refuse(
                id,
                format_args!(
                    "{secs} is out of range: {min} to {MAX_TIMEOUT_SECS} seconds (a year)"
                ),
            ));
        }
        Ok(Duration::from_secs(secs))
    }

    /// A refusal of the value of flag `id` (`what`: the value and why),
    /// where it was set: `--max-message 100 is under...` on the command line,
    /// `config file F line 7: max-message 100 is under...` in the file.
    fn refuse(&self, id: &str, what: impl std::fmt::Display) -> anyhow::Error {
        let key = id.replace('_', "-");
        match self.from_file.get(id) {
            Some(place) => anyhow::anyhow!("{place}: {key} {what}"),
            None => anyhow::anyhow!("--{key} {what}"),
        }
    }
}

/// The port from `port.info`: missing means the default (with a warning),
/// malformed is an error.
fn read_port_info() -> anyhow::Result<u16> {
    let path = Path::new("port.info");
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            match text.parse::<u16>() {
                Ok(p) if p > 0 => Ok(p),
                _ => bail!("port.info must hold a port number from 1 to 65535, not {text:?}"),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("no port.info in the working directory; using port {DEFAULT_PORT}");
            Ok(DEFAULT_PORT)
        }
        Err(e) => Err(e).context("reading port.info"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use startup::size::parse as parse_size;

    #[test]
    fn sizes_parse_with_decimal_suffixes_as_the_client_s() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64_000));
        assert_eq!(parse_size("16G"), Ok(16_000_000_000));
        assert_eq!(parse_size("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5Q").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn a_message_limit_no_session_start_fits_under_is_refused() {
        let cli = |max: &str| {
            Cli::try_parse_from(["server", "--port", "1357", "--max-message", max]).unwrap()
        };
        let said = cli("100").config().unwrap_err().to_string();
        assert!(said.contains("--max-message 100 is under 1000"), "{said}");
        let (config, _) = cli("1K").config().unwrap();
        assert_eq!(config.max_message_len, 1000);
    }

    fn refused(args: &[&str]) -> String {
        let cli = Cli::try_parse_from([&["server", "--port", "1357"], args].concat()).unwrap();
        cli.config().unwrap_err().to_string()
    }

    #[test]
    fn limits_out_of_range_are_refused_naming_the_flag() {
        let said = refused(&["--v2-max-content", "5G"]);
        assert_eq!(
            said,
            "--v2-max-content 5000000000 is over 4GiB: a version-2 length is 32 bits"
        );
        let said = refused(&["--max-message", "300K"]);
        assert_eq!(
            said,
            "--max-message 300000 is over the protocol's limit of 262144 (256KiB)"
        );
        let said = refused(&["--room-retention-days", "99065847803255"]);
        assert!(
            said.starts_with("--room-retention-days 99065847803255 is over 36600"),
            "{said}"
        );
        for hours in ["0", "297197543409765", "18446744073709551615"] {
            let said = refused(&["--upload-max-age-hours", hours]);
            assert!(
                said.starts_with(&format!(
                    "--upload-max-age-hours {hours} is out of range: 1 to 87840"
                )),
                "{said}"
            );
        }
        let said = refused(&["--max-connections-per-ip", "0"]);
        assert_eq!(
            said,
            "--max-connections-per-ip 0 would refuse every connection: at least 1"
        );
        // 4GiB, the default, is the protocol's own limit.
        let cli = Cli::try_parse_from(["server", "--port", "1357", "--v2-max-content", "4GiB"]);
        let (config, _) = cli.unwrap().config().unwrap();
        assert_eq!(config.v2_max_content, protocol::v2::MAX_CONTENT_LEN);
    }

    #[test]
    fn a_zero_that_would_refuse_everything_is_refused_and_a_documented_off_is_not() {
        for flag in ["--idle-timeout", "--stall-timeout"] {
            let said = refused(&[flag, "0"]);
            assert!(
                said.starts_with(&format!("{flag} 0 is out of range: 1 to")),
                "{said}"
            );
            let said = refused(&[flag, "18446744073709551615"]);
            assert!(said.contains("is out of range"), "{said}");
        }
        for flag in ["--max-storage", "--max-file-size", "--inbox-max-bytes"] {
            let said = refused(&[flag, "0"]);
            assert!(
                said.starts_with(&format!("{flag} 0 would refuse every")),
                "{said}"
            );
        }
        let cli = Cli::try_parse_from([
            "server",
            "--port",
            "1",
            "--requests-per-second",
            "0",
            "--shutdown-grace",
            "0",
            "--room-retention-days",
            "0",
        ]);
        cli.unwrap().config().unwrap();
    }
}
