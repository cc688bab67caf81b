//! The operator's commands (`server status`, `server user list|remove`,
//! `server backup`, `server restore`): they ask the server running on the
//! data folder through its socket (see the library's `admin`), or, for a
//! restore, unpack into a folder no server uses, and print the outcome: a
//! few aligned lines, or JSON with `--json` (errors too).

use std::process::ExitCode;

use server::Config;
use server::admin::{self, Removed, Request, Status, User, client};

use startup::size::human as bytes;

use crate::cli::{Command, UserCommand};

/// Runs an operator command; prints its outcome or one error line.
pub fn run(command: &Command, config: &Config) -> ExitCode {
    let dir = &config.data_dir;
    if let Command::Backup { file } = command
        && file.as_os_str() == "-"
    {
        return backup_to_stdout(dir);
    }
    let (json, result) = match command {
        Command::Status { json } => match client::request::<Status>(dir, &Request::Status) {
            // The node's own figures on standard output, and exit 1 with
            // one line about its database: a monitor sees both.
            Ok(s) if s.database_error.is_some() => {
                let printed = startup::print("server", &status(&s, *json));
                let why = s.database_error.as_deref().unwrap_or_default();
                if *json {
                    let line = serde_json::json!({ "error": why, "code": "failed" });
                    startup::say(format_args!("{line}"));
                } else {
                    startup::say(format_args!("server: {why}"));
                }
                return if printed == ExitCode::SUCCESS {
                    ExitCode::FAILURE
                } else {
                    printed
                };
            }
            result => (*json, result.map(|s| status(&s, *json))),
        },
        Command::User {
            command: UserCommand::List { json },
        } => (
            *json,
            client::request::<Vec<User>>(dir, &Request::Users).map(|u| users(&u, *json)),
        ),
        Command::User {
            command: UserCommand::Remove { name, json },
        } => (
            *json,
            client::request(dir, &Request::RemoveUser { name: name.clone() })
                .map(|r| removed(&r, *json)),
        ),
        Command::Backup { file } => (
            false,
            client::backup(dir, file).map(|m| written(&file.display().to_string(), &m)),
        ),
        Command::Restore { file } => (false, restore(file, config)),
        Command::Fingerprint | Command::GenerateAssets { .. } => unreachable_command(),
    };
    match result {
        Ok(text) => startup::print("server", &text),
        Err(e) if json => {
            // On standard error, as the client's: standard output is only
            // ever the answer.
            let code = client::error_code(&e);
            startup::say(format_args!(
                "{}",
                serde_json::json!({ "error": format!("{e:#}"), "code": code })
            ));
            ExitCode::FAILURE
        }
        Err(e) => {
            startup::say(format_args!("server: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// `server backup -`: the archive on standard output, what it holds on
/// standard error. Never to a terminal, which would take binary noise.
fn backup_to_stdout(dir: &std::path::Path) -> ExitCode {
    use std::io::IsTerminal as _;
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        startup::say(format_args!(
            "server: standard output is a terminal: `server backup -` writes a binary \
             archive there; redirect it (server backup - > FILE) or name a FILE"
        ));
        return ExitCode::FAILURE;
    }
    match client::backup_to(dir, stdout.lock()) {
        Ok(m) => {
            startup::say(format_args!("{}", written("standard output", &m)));
            ExitCode::SUCCESS
        }
        Err(e) => {
            startup::say(format_args!("server: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// What a backup holds, once written to `place`.
fn written(place: &str, m: &admin::Manifest) -> String {
    format!(
        "backup written to {place}: {}, {}, {} ({})",
        count(m.accounts, "account"),
        count(m.messages, "message"),
        count(m.files, "file"),
        bytes(m.file_bytes)
    )
}

fn unreachable_command() -> (bool, anyhow::Result<String>) {
    (false, Err(anyhow::anyhow!("not an operator command")))
}

fn restore(file: &std::path::Path, config: &Config) -> anyhow::Result<String> {
    let archive = std::fs::File::open(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let manifest = admin::restore(
        std::io::BufReader::new(archive),
        &config.data_dir,
        &config.files_dir(),
    )
    .map_err(|e| match e {
        admin::RestoreError::BadArchive(why) => anyhow::anyhow!("{}: {why}", file.display()),
        other => other.into(),
    })?;
    // It only unpacks: what to run next, as the help says.
    Ok(format!(
        "restored into {0}: {1} accounts, {2} messages, {3} files; server fingerprint {4}\n\
         nothing is served yet: start the server on it (`server --data-dir {0}`, with its usual flags)",
        config.data_dir.display(),
        manifest.accounts,
        manifest.messages,
        manifest.files,
        manifest.fingerprint
    ))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn status(s: &Status, json: bool) -> String {
    if json {
        return to_json(s);
    }
    // Figures only the database holds, when it did not answer.
    const UNKNOWN: &str = "unknown";
    let size = |n: Option<u64>| n.map_or(UNKNOWN.into(), bytes);
    let share = match s.storage_used {
        Some(used) if s.max_storage > 0 => {
            format!("{:.1}%", used as f64 * 100.0 / s.max_storage as f64)
        }
        Some(_) => "0.0%".into(),
        None => UNKNOWN.into(),
    };
    let registered = s.users_registered.map_or(UNKNOWN.into(), |n| n.to_string());
    let cluster = s.node.as_ref().map(|_| match s.database_reachable {
        true => format!(
            "cluster      {} heard from: {}",
            count(s.nodes.len(), "node"),
            s.nodes.join(", ")
        ),
        false => "cluster      unknown: the database is unreachable".into(),
    });
    let online = if s.database_reachable {
        "online"
    } else {
        "online here"
    };
    let mut lines = vec![
        format!(
            "server       sealpost {}, up {}",
            s.version,
            uptime(s.uptime_seconds)
        ),
        format!("fingerprint  {}", s.fingerprint),
        match &s.node {
            None => format!(
                "connections  {} ({} {online} of {registered} registered)",
                s.connections,
                count(s.users_online, "user"),
            ),
            Some(node) => format!(
                "connections  {} to node {node} ({} {online} in the cluster of {registered} \
                 registered)",
                s.connections,
                count(s.users_online, "user"),
            ),
        },
        format!(
            "waiting      {}, {}",
            s.messages_waiting
                .map_or(format!("{UNKNOWN} messages"), |n| count(n, "message")),
            size(s.bytes_waiting)
        ),
        format!(
            "uploads      {} in progress, {} received",
            s.uploads_in_progress
                .map_or(UNKNOWN.into(), |n| n.to_string()),
            size(s.upload_bytes_received)
        ),
        format!(
            "storage      {} of {} ({share})",
            size(s.storage_used),
            bytes(s.max_storage)
        ),
        format!(
            "quotas       inbox {} messages or {}, sender {}",
            s.inbox_max_messages,
            bytes(s.inbox_max_bytes),
            bytes(s.sender_max_bytes)
        ),
        format!(
            "disk         {} free, {} kept in reserve",
            bytes(s.disk_free),
            bytes(s.disk_reserve)
        ),
    ];
    if let Some(why) = &s.database_error {
        lines.push(format!("database     unreachable: {why}"));
    }
    // After the connections line, which names this node.
    lines.splice(3..3, cluster);
    lines.join("\n")
}

fn users(list: &[User], json: bool) -> String {
    if json {
        return to_json(&list);
    }
    let now = server::now_ms();
    let row = |cells: [&str; 7]| {
        let [name, id, protocol, online, last, waiting, bytes] = cells;
        format!("{name:<24} {id:<32} {protocol:<8} {online:<6} {last:<14} {waiting:>7} {bytes:>10}")
    };
    let mut out = vec![row([
        "NAME",
        "ID",
        "PROTOCOL",
        "ONLINE",
        "LAST SESSION",
        "WAITING",
        "BYTES",
    ])];
    for u in list {
        // Version 2 has no sessions: its time is the registration's.
        let last = if u.protocol == 2 {
            "none (v2)".to_owned()
        } else {
            ago(now.saturating_sub(u.last_seen_ms) / 1000)
        };
        out.push(row([
            &u.name,
            &u.id,
            &format!("v{}", u.protocol),
            if u.online { "yes" } else { "no" },
            &last,
            &u.messages_waiting.to_string(),
            &bytes(u.bytes_waiting),
        ]));
    }
    out.push(count(list.len(), "account"));
    out.join("\n")
}

/// How long ago, `secs` seconds, in its largest unit: `just now`, `5m ago`.
fn ago(secs: u64) -> String {
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

fn removed(r: &Removed, json: bool) -> String {
    if json {
        return to_json(r);
    }
    let elsewhere = match r.closing_on_nodes.as_slice() {
        [] => String::new(),
        [node] => format!(" here (node {node} closes the others)"),
        nodes => format!(" here (nodes {} close the others)", nodes.join(", ")),
    };
    format!(
        "removed {}: {} ({}) and {} deleted, {} closed{elsewhere}; the name is free",
        r.name,
        count(r.messages_deleted, "waiting message"),
        bytes(r.bytes_deleted),
        count(r.uploads_deleted, "unfinished upload"),
        count(r.sessions_closed, "connection")
    )
}

/// `n` and the noun, in the plural unless `n` is 1 (all nouns here take
/// an "s").
fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h {m:02}m")
    } else if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_last_session_reads_in_its_largest_unit() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(125), "2m ago");
        assert_eq!(ago(7200), "2h ago");
        assert_eq!(ago(3 * 86400 + 5), "3d ago");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        // Regression: "1 users online", "2 node(s) heard from".
        assert_eq!(count(1u64, "user"), "1 user");
        assert_eq!(count(0u64, "upload"), "0 uploads");
        let r = Removed {
            name: "bob".into(),
            messages_deleted: 1,
            bytes_deleted: 10,
            uploads_deleted: 1,
            sessions_closed: 1,
            closing_on_nodes: vec!["b".into()],
        };
        assert_eq!(
            removed(&r, false),
            "removed bob: 1 waiting message (10 B) and 1 unfinished upload deleted, \
             1 connection closed here (node b closes the others); the name is free"
        );
    }
}
