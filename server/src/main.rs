//! `server`: parses the command line, sets up logging, binds and runs.
//! Everything else lives in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    startup::logging(&cli.log_level, "info", std::io::stderr);
    let (config, port) = match cli.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("server: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match startup::runtime("server") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Fingerprint) => cli::print_fingerprint(config).await,
            None => cli::serve(cli.bind, config, port).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
