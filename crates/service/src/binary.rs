//! The `main` of every service binary: logging, configuration, the runtime, the exit code.
//! A configuration that cannot be used, or logging that cannot be set up, exits 2; a service
//! that fails to start or stops on a failure exits 1; a clean shutdown exits 0. Each failure
//! is one line on standard error, prefixed with the binary's name.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

/// The shutdown signal handed to a service's `run`: SIGTERM or SIGINT.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Sets up logging, then loads the configuration with `load`: `Err` is the exit code (2).
pub fn load<C, E: Display>(name: &str, load: impl FnOnce() -> Result<C, E>) -> Result<C, ExitCode> {
    if let Err(error) = crate::telemetry::init_logging() {
        eprintln!("{name}: {error}");
        return Err(ExitCode::from(2));
    }
    load().map_err(|error| {
        eprintln!("{name}: {error}");
        ExitCode::from(2)
    })
}

/// Runs `run` on a multi-threaded runtime until it returns, with SIGTERM and SIGINT as its
/// shutdown signal: 0 when it ends well, 1 when it fails.
pub fn serve<E, F>(name: &str, run: impl FnOnce(Signal) -> F) -> ExitCode
where
    E: Display,
    F: Future<Output = Result<(), E>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let signal: Signal = Box::pin(crate::shutdown::terminate_signal());
    match runtime.block_on(run(signal)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// [`load`], then [`serve`] with the loaded configuration.
pub fn main<C, LE, E, F>(
    name: &str,
    load: impl FnOnce() -> Result<C, LE>,
    run: impl FnOnce(C, Signal) -> F,
) -> ExitCode
where
    LE: Display,
    E: Display,
    F: Future<Output = Result<(), E>>,
{
    match self::load(name, load) {
        Ok(config) => serve(name, |signal| run(config, signal)),
        Err(code) => code,
    }
}
