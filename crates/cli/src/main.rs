//! The `cloop` binary: parses the command line, runs the command, prints one line on
//! standard error when it fails and exits with the documented code.

use clap::Parser;
use cli::args::Cli;
use cli::exit_code;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
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
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
