//! The one skeleton of every service: bind a listener (TCP_NODELAY on the gRPC connections),
//! serve metrics, build the gRPC server with TLS, health, reflection and authenticated
//! services, and run until a shutdown signal or the failure of a vital task ([`Running`]).
//!
//! A service's `start` opens its storage, spawns its duties into [`Tasks`] and serves; its
//! `run` is [`Running::run_until`].

use crate::error::ServiceError;
use crate::shutdown::Shutdown;
use crate::tasks::{Failures, Task};
use crate::tls::ServerTls;
use crate::tokens::Authenticator;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::{Router, TcpIncoming};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

/// Binds `address`; returns the listener and the address it is bound to (useful with port 0).
pub async fn bind(address: SocketAddr) -> Result<(TcpListener, SocketAddr), ServiceError> {
    let listen_error = |source| ServiceError::Listen {
        address: address.to_string(),
        source,
    };
    let listener = TcpListener::bind(address).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    Ok((listener, bound))
}

/// Long-lived tasks joined together, in the order they were spawned. Vital ones record their
/// failure in the shared [`Failures`], which stops the service.
#[derive(Debug)]
pub struct Tasks {
    failures: Failures,
    tasks: Vec<Task>,
}

impl Tasks {
    /// An empty set whose vital tasks report to `failures`.
    pub fn new(failures: &Failures) -> Self {
        Self {
            failures: failures.clone(),
            tasks: Vec::new(),
        }
    }

    /// Spawns the vital task `name` (see [`crate::tasks::spawn_vital`]).
    pub fn spawn_vital<F>(&mut self, name: &'static str, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = crate::tasks::spawn_vital(name, &self.failures, future);
        self.tasks.push(task);
    }

    /// Adds a task spawned elsewhere.
    pub fn push(&mut self, task: Task) {
        self.tasks.push(task);
    }

    /// Waits until every task has ended.
    pub async fn join(self) {
        for task in self.tasks {
            task.join().await;
        }
    }
}

/// A gRPC server under construction: TLS when configured, health (the named services marked
/// SERVING, then NOT_SERVING once the server stops), reflection, and services behind the
/// bearer-token interceptor.
#[derive(Debug)]
pub struct Grpc {
    router: Router,
    health: HealthReporter,
    names: &'static [&'static str],
    authenticator: Authenticator,
}

impl Grpc {
    /// The server with health and reflection; `names` are the services it will serve.
    pub async fn new(
        tls: Option<&ServerTls>,
        names: &'static [&'static str],
        authenticator: Authenticator,
    ) -> Result<Self, ServiceError> {
        let (health, health_service) = crate::grpc::health();
        for name in names {
            health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let reflection = crate::grpc::reflection()
            .map_err(|error| ServiceError::Grpc(format!("build reflection: {error}")))?;
        let router = crate::tls::apply_server(tls, tonic::transport::Server::builder())?
            .add_service(health_service)
            .add_service(reflection);
        Ok(Self {
            router,
            health,
            names,
            authenticator,
        })
    }

    /// Adds `service` behind the authentication interceptor.
    pub fn add_authenticated<S>(mut self, service: S) -> Self
    where
        InterceptedService<S, Authenticator>: tonic::codegen::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        <InterceptedService<S, Authenticator> as tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
        >>::Response: axum::response::IntoResponse,
        <InterceptedService<S, Authenticator> as tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
        >>::Future: Send + 'static,
    {
        let intercepted = InterceptedService::new(service, self.authenticator.clone());
        self.router = self.router.add_service(intercepted);
        self
    }

    /// Adds `service` without the authentication interceptor: for a service that proves its
    /// callers otherwise (the customers' self-service) and limits them itself.
    pub fn add_public<S>(mut self, service: S) -> Self
    where
        S: tonic::codegen::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.router = self.router.add_service(service);
        self
    }

    /// Serves on `listener` (TCP_NODELAY: without it small answers wait for the client's
    /// delayed ack) until `shutdown`, then marks the services NOT_SERVING.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let served = self
            .router
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await;
        for name in self.names {
            self.health
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        served.map_err(|error| ServiceError::Grpc(error.to_string()))
    }
}

/// A started service: the task that serves and then drains, the shutdown that starts the
/// drain, and the first failure of a vital task.
#[derive(Debug)]
pub struct Running<E> {
    shutdown: Shutdown,
    failures: Failures,
    task: JoinHandle<Result<(), E>>,
}

impl<E> Running<E>
where
    E: From<ServiceError> + Send + 'static,
{
    /// Spawns `serve` (serve until `shutdown` is triggered, then drain); `failures` is where
    /// its vital tasks report.
    pub fn spawn<F>(shutdown: Shutdown, failures: Failures, serve: F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        Self {
            shutdown,
            failures,
            task: tokio::spawn(serve),
        }
    }

    /// Shuts down gracefully and returns how serving ended.
    pub async fn stop(self) -> Result<(), E> {
        self.shutdown.trigger();
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(E::from(ServiceError::Task(format!(
                "the service task {}",
                crate::tasks::describe(error)
            )))),
        }
    }

    /// Runs until `signal` completes, then shuts down gracefully. When a vital task fails
    /// first, the rest drains as on a signal and the failure is returned through `failed`
    /// (the process then exits non-zero).
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()>,
        failed: impl FnOnce(String) -> E,
    ) -> Result<(), E>
    where
        E: std::fmt::Display,
    {
        let failures = self.failures.clone();
        tokio::select! {
            () = signal => self.stop().await,
            failure = failures.first() => {
                if let Err(error) = self.stop().await {
                    tracing::warn!(%error, "stopping after a failed task");
                }
                Err(failed(failure))
            }
        }
    }
}
