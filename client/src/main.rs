//! `client`: parses the command line, sets up logging and runs a subcommand,
//! the self-test or the menu. Errors become one line on standard error and a
//! non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use client::cli::{Cli, Command};
use client::commands::{self, Flags};
use client::config::client_config;

fn main() -> ExitCode {
    output_failures_are_errors();
    let cli = Cli::try_parse().unwrap_or_else(|e| client::output::usage_error(e));
    if let Some(Command::GenerateAssets { dir }) = &cli.command {
        use clap::CommandFactory;
        return match startup::assets::generate(Cli::command(), "sealpost-client", dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("client: writing into {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        };
    }
    // The self-test tampers with and replays its own messages on purpose:
    // at the default level the warnings of those rejections would read as
    // faults, and its PASS lines already say what happened.
    let level = match &cli.command {
        Some(Command::Test) if cli.log_level == "warn" => "warn,client::inbox=error",
        _ => cli.log_level.as_str(),
    };
    // Standard error, or above the menu's prompt while the menu runs.
    if let Err(e) = startup::logging(level, "warn", client::repl::terminal::log_writer) {
        eprintln!("client: {e}");
        return ExitCode::from(2);
    }
    let runtime = match startup::runtime("client") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let json = cli.json;
    client::notice::as_json(json);
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line, in the menu's words; with --json one JSON object.
            if json {
                eprintln!("{}", client::repl::explain::error_json(&e));
            } else {
                eprintln!("client: {}", client::repl::explain::error_line(&e));
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let flags = Flags {
        json: cli.json,
        accept_new_key: cli.accept_new_key,
    };
    let policy = client::DownloadPolicy {
        max_auto_download: cli.max_auto_download,
        accept_all: cli.accept_files,
    };
    if let Some(Command::Test) = cli.command {
        // Fresh homes of its own: no passphrase of this one is needed.
        let home = client::config::home_folder(cli.home)?;
        let server = client::config::server_address(cli.server.as_deref(), &home)?;
        let passed = client::selftest::run(&server, cli.json).await?;
        return Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    // Only these make a home: anything else on a folder without one (a
    // mistyped --home, the wrong working directory) would create a stray
    // key store and ask for its new passphrase before saying it holds no
    // account.
    let makes_a_home = matches!(
        cli.command,
        None | Some(Command::Register { .. } | Command::Import { .. })
    );
    let (no_passphrase, passphrase_file) = (cli.no_passphrase, cli.passphrase_file);
    let invisible = cli.invisible;
    // A backup brings its passphrase, which may predate the minimum.
    let restoring = matches!(cli.command, Some(Command::Import { .. }));
    // The menu connects at once.
    let needs_server = cli.command.as_ref().is_none_or(Command::needs_server);
    let config = client_config(
        cli.home,
        cli.server.as_deref(),
        needs_server,
        cli.accept_server_key,
        |home| {
            if !makes_a_home && client::keystore::atrest::read_record(home)?.is_none() {
                return Err(client::ClientError::NotRegistered(home.display().to_string()).into());
            }
            client::passphrase::resolve(home, no_passphrase, passphrase_file.as_deref(), restoring)
        },
    )?;
    match cli.command {
        Some(Command::Tui { bell }) => {
            // Its own transfer lines replace the progress bars.
            let client = commands::open(config, flags).await?;
            client.set_download_policy(policy);
            client.set_invisible(invisible);
            client::tui::run(client, client::tui::Options { bell }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Import { file }) => {
            client::set_up::import(config, flags, &file).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Register { name }) => {
            client::set_up::register(config, flags, &name, invisible).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(command) => {
            let client = commands::open(config, flags).await?;
            client.set_download_policy(policy);
            client.set_invisible(invisible);
            commands::run(&client, command, flags).await?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let client = commands::open(config, flags).await?;
            client.set_download_policy(policy);
            client.set_invisible(invisible);
            client::repl::run(client).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A print to standard output that fails (a closed pipe, `> /dev/full`)
/// ends the client with one line and exit code 1, not a panic's backtrace
/// and 101: `println!` panics on a failed write.
fn output_failures_are_errors() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        match message.and_then(|m| m.strip_prefix("failed printing to stdout: ")) {
            Some(why) => {
                eprintln!("client: cannot write to standard output: {why}");
                std::process::exit(1);
            }
            None => default(info),
        }
    }));
}
