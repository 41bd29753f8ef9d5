//! `cloop-console`, the web face of closedloop for staff: the queue, the ticket page with the
//! actions of the person's role, the managers' reports and the auditors' checks, as
//! server-rendered pages (maud) that work without JavaScript; a small vendored script adds
//! live updates of the queue (server-sent events fed by `WatchTickets`).
//!
//! The console holds no data and no power of its own: people sign in with their own token
//! (the tokens file tells the console their name, role and department, for display), and
//! every call to the workflow carries that token, so department isolation stays the
//! workflow's. Sessions are server-side, in memory, behind an HttpOnly SameSite=Strict
//! cookie; every form carries the session's anti-forgery token.
//!
//! [`start`] runs the console in-process and returns once it listens; [`run`] is what the
//! binary calls.

pub mod actions;
pub mod answer;
pub mod app;
pub mod backend;
pub mod customer;
pub mod error;
pub mod i18n;
pub mod pages;
pub mod people_page;
pub mod queue;
pub mod routes;
pub mod session;
pub mod settings;
pub mod views;

pub use error::ConsoleError;
pub use settings::ConsoleSettings;

use service::shutdown::Shutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The default listen address of `cloop-console`.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}

/// Everything the console needs to start.
#[derive(Debug)]
pub struct ConsoleConfig {
    pub listen: SocketAddr,
    /// The workflow's gRPC address (`http://host:port`, `https://...` or `host:port`).
    pub workflow: String,
    /// The intake's gRPC address (for the customer pages).
    pub intake: String,
    pub settings: ConsoleSettings,
    /// The people who may sign in.
    pub registry: service::TokenRegistry,
    /// The offset instants are shown in (the business calendar's).
    pub offset: chrono::FixedOffset,
}

/// A running console.
#[derive(Debug)]
pub struct RunningConsole {
    pub address: SocketAddr,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), ConsoleError>>,
}

impl RunningConsole {
    /// Stops taking connections, ends the live-update streams and waits for the requests in
    /// flight.
    pub async fn stop(self) -> Result<(), ConsoleError> {
        self.shutdown.trigger();
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(ConsoleError::Serve(format!("server task failed: {error}"))),
        }
    }
}

/// Starts the console and returns once it listens.
pub async fn start(config: ConsoleConfig) -> Result<RunningConsole, ConsoleError> {
    config.settings.check().map_err(ConsoleError::Config)?;
    let backend = backend::Backend::new(
        &config.workflow,
        &config.intake,
        Duration::from_millis(config.settings.request_timeout_ms),
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ConsoleError::Listen {
            address: config.listen.to_string(),
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| ConsoleError::Listen {
            address: config.listen.to_string(),
            source,
        })?;
    let shutdown = Shutdown::new();
    let state = Arc::new(routes::AppState {
        backend,
        sessions: session::Sessions::new(Duration::from_secs(config.settings.session_ttl_secs)),
        registry: config.registry,
        settings: config.settings,
        offset: config.offset,
        shutdown: shutdown.clone(),
    });
    let app = app::router(state);
    tracing::info!(%address, workflow = %config.workflow, "cloop-console listening");
    let wait = shutdown.wait();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(wait)
            .await
            .map_err(|error| ConsoleError::Serve(error.to_string()))
    });
    Ok(RunningConsole {
        address,
        shutdown,
        task,
    })
}

/// Starts the console, runs it until `signal` completes, then shuts down gracefully.
pub async fn run(
    config: ConsoleConfig,
    signal: impl Future<Output = ()> + Send,
) -> Result<(), ConsoleError> {
    let running = start(config).await?;
    println!("cloop-console listening on http://{}", running.address);
    signal.await;
    running.stop().await?;
    tracing::info!("cloop-console stopped");
    Ok(())
}
