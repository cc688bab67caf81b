//! `server`: parses the command line, sets up logging, binds and runs.
//! Everything else lives in the library.

mod cli;
mod conffile;
mod flags;
mod operator;

use std::process::ExitCode;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match conffile::command_line() {
        Ok(c) => c,
        Err(e) => {
            // clap's own errors (--help, a bad flag) print themselves.
            if let Some(e) = e.downcast_ref::<clap::Error>() {
                e.exit();
            }
            startup::say(format_args!("server: {e:#}"));
            return ExitCode::from(2);
        }
    };
    if let Some(Command::GenerateAssets { dir }) = &cli.command {
        use clap::CommandFactory;
        return match startup::assets::generate(Cli::command(), "sealpost-server", dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                startup::say(format_args!("server: writing into {}: {e}", dir.display()));
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = startup::logging(&cli.log_level, "info", std::io::stderr) {
        startup::say(format_args!("server: {e}"));
        return ExitCode::from(2);
    }
    let (config, port) = match cli.config() {
        Ok(c) => c,
        Err(e) => {
            startup::say(format_args!("server: {e:#}"));
            return ExitCode::from(2);
        }
    };
    // The operator's commands block on a socket or files: no runtime.
    let fingerprint = match &cli.command {
        None => false,
        Some(Command::Fingerprint) => true,
        Some(command) => return operator::run(command, &config),
    };
    let runtime = match startup::runtime("server") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        if fingerprint {
            cli::fingerprint(config).await.map(Some)
        } else {
            cli::serve(cli.bind, config, port).await.map(|()| None)
        }
    });
    match result {
        Ok(Some(answer)) => startup::print("server", &answer),
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            startup::say(format_args!("server: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
