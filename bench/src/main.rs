//! `loadgen`: parses the command line and hands over to [`bench::run`].
//! Everything else lives in the library.

use std::process::ExitCode;

use bench::cli::Cli;
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = startup::logging(&cli.log_level, "warn", std::io::stderr) {
        eprintln!("loadgen: {e}");
        return ExitCode::from(2);
    }
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
