//! The webhook's Prometheus metrics: requests by channel and HTTP status, and their latency.

use prometheus::{Histogram, IntCounterVec, Registry};
use service::metrics::{counter_vec, histogram};

/// Every metric of the service, registered in one registry.
#[derive(Debug, Clone)]
pub struct WebhookMetrics {
    pub registry: Registry,
    /// `cloop_webhook_requests_total{channel, status}`; `channel` is a configured channel or
    /// `unknown`, `status` the HTTP status code.
    pub requests: IntCounterVec,
    /// `cloop_webhook_request_duration_seconds`: from the request to the answer, for
    /// submissions to a configured channel.
    pub duration: Histogram,
}

impl WebhookMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = counter_vec(
            &registry,
            "cloop_webhook_requests_total",
            "Submissions by channel and HTTP status",
            &["channel", "status"],
        )?;
        let duration = histogram(
            &registry,
            "cloop_webhook_request_duration_seconds",
            "Time from a submission's request to its answer",
            vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )?;
        Ok(Self {
            registry,
            requests,
            duration,
        })
    }
}
