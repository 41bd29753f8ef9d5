//! What every closedloop service binary shares: the common flags and environment of `api.md`,
//! configuration loading, the tokens file and bearer-token authentication with per-caller rate
//! limits, the one mapping of errors to `tonic::Status` (with the words and the alarm of a full
//! data disk), Prometheus metrics, structured logging, health and reflection, the NATS
//! connection, TLS of the gRPC servers and clients, the loop of periodic duties, named
//! long-lived tasks whose panics are seen, graceful shutdown, and the one skeleton every service
//! binary is built on (`server`, `binary`).

pub mod binary;
pub mod cli;
pub mod config;
pub mod disk;
pub mod duty;
pub mod error;
pub mod grpc;
pub mod metrics;
pub mod nats;
pub mod nats_auth;
pub mod ratelimit;
pub mod ratelink;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod signature;
pub mod status;
pub mod submission;
pub mod tasks;
pub mod telemetry;
#[cfg(test)]
mod test_log;
pub mod tls;
pub mod tokens;

pub use cli::{CommonArgs, ServiceBase};
pub use error::ServiceError;
pub use ratelimit::{RateLimit, RateLimitConfig, RateLimiter};
pub use status::{status_from, Failure};
pub use tokens::{Authenticator, Principal, TokenRegistry};
