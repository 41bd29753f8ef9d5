//! The `cloop` binary: parses the command line, runs the command, prints one line on
//! standard error when it fails and exits with the documented code.

use clap::{CommandFactory, FromArgMatches};
use cli::args::{typed_command, Cli};
use cli::exit_code;

fn main() {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, typed_command(&matches))));
    let (cli, typed) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            // Help and version go to standard output with code 0; usage errors to standard
            // error with code 2.
            let code = if error.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::OK
            };
            let _ = error.print();
            std::process::exit(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: start the async runtime: {error}");
            std::process::exit(exit_code::ERROR);
        }
    };
    let result = runtime.block_on(cli::commands::run(cli));
    // Do not wait for lingering connection tasks on the way out.
    runtime.shutdown_background();
    if let Err(error) = result {
        // A refusal names the command the person typed, not the call behind it.
        let error = error.naming_command(&typed);
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
