//! A tiny Prometheus endpoint: `GET /metrics` in the text format, served until shutdown.

use crate::error::ServiceError;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::future::Future;
use std::net::SocketAddr;

/// Registers `metric` in `registry` and returns it: how a service builds its metrics, each
/// one created and registered in one step.
pub fn registered<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, prometheus::Error> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// A counter `name` registered in `registry`.
pub fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
) -> Result<IntCounter, prometheus::Error> {
    registered(registry, IntCounter::new(name, help)?)
}

/// A counter `name` with `labels`, registered in `registry`.
pub fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// A gauge `name` registered in `registry`.
pub fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    registered(registry, IntGauge::new(name, help)?)
}

/// A gauge `name` with `labels`, registered in `registry`.
pub fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    registered(registry, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

/// A histogram `name` with `buckets`, registered in `registry`.
pub fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
) -> Result<Histogram, prometheus::Error> {
    registered(
        registry,
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?,
    )
}

/// Renders every metric of `registry` in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(error) = encoder.encode(&registry.gather(), &mut buffer) {
        tracing::warn!(%error, "encode metrics");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Binds `address` and serves `/metrics` from `registry` until `shutdown` completes. Returns the
/// bound address (useful with port 0) and the serving task (a panic of it is logged).
pub async fn serve(
    address: SocketAddr,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, crate::tasks::Task), ServiceError> {
    let (listener, bound) = crate::server::bind(address).await?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    render(&registry),
                )
                    .into_response()
            }
        }),
    );
    let task = crate::tasks::spawn("metrics endpoint", async move {
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(%error, "metrics endpoint stopped");
        }
    });
    Ok((bound, task))
}

/// Serves `/metrics` from `registry` on `listen` until `shutdown`, when an address is
/// configured; the endpoint's task joins `tasks`. Returns the bound address.
pub async fn endpoint(
    listen: Option<SocketAddr>,
    registry: &Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tasks: &mut crate::server::Tasks,
) -> Result<Option<SocketAddr>, ServiceError> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let (bound, task) = serve(listen, registry.clone(), shutdown).await?;
    tasks.push(task);
    Ok(Some(bound))
}
