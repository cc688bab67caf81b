//! `loadgen`: parses the command line and hands over to [`bench::run`].
//! Everything else lives in the library.

use std::process::ExitCode;

use bench::cli::Cli;
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match bench::run(&cli) {
        Ok(report) if report.all_passed() => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("loadgen: at least one scenario failed its checks (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}
