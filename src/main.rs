//! The `slope` command: parse the command line, run it, exit 0, 1 or 2.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    let cli = cli::parse(std::env::args_os().collect());
    let status = cli::run(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(status)
}
