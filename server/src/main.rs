//! `server`: parses the command line, sets up logging, binds and runs.
//! Everything else lives in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (config, port) = match cli.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("server: {e:#}");
            return ExitCode::from(2);
        }
    };
    // Named threads, so that a profile tells this process's workers apart.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("server-worker")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
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
