//! The gRPC side of a started workflow: `feedback.v1.Tickets`, `feedback.v1.Audit`,
//! `feedback.v1.Reports` and `feedback.v1.Customers` behind the bearer-token interceptor
//! (`Reports.AdoptedSuggestions` answers without a token too: the public list),
//! `feedback.v1.SelfService` without it (its callers prove themselves with a ticket's phone
//! digits or its signed rating link), with health and reflection.

use super::duties::Duties;
use super::storage::Storage;
use crate::config::WorkflowConfig;
use crate::error::WorkflowError;
use crate::grpc;
use crate::metrics::WorkflowMetrics;
use service::server::Grpc;

/// The services the workflow serves (and marks in health).
pub(crate) const SERVICES: &[&str] = &[
    "feedback.v1.Tickets",
    "feedback.v1.Audit",
    "feedback.v1.Reports",
    "feedback.v1.SelfService",
    "feedback.v1.Customers",
];

/// The gRPC server of the workflow, ready to serve.
pub(crate) async fn build(
    config: &WorkflowConfig,
    storage: &Storage,
    duties: &Duties,
    metrics: &WorkflowMetrics,
) -> Result<Grpc, WorkflowError> {
    let authenticator = service::Authenticator::new(config.base.tokens.clone());
    authenticator
        .limiter()
        .register_metrics(&metrics.registry, "rate_limited_total")
        .map_err(service::ServiceError::from)?;
    let max_message_bytes = config.settings.max_message_bytes;
    let reports = proto::v1::reports_server::ReportsServer::new(grpc::ReportsService {
        log: storage.log.clone(),
        readers: storage.readers.clone(),
        rules: config.base.rules.clone(),
        vault: storage.vault.clone(),
        public_limiter: authenticator.limiter().clone(),
        public_limit: authenticator
            .registry()
            .role_rate_limit(domain::types::Role::Agent),
        clock: config.clock.clone(),
    })
    .max_decoding_message_size(max_message_bytes);
    // `Reports.AdoptedSuggestions` answers the public too (the list of adopted suggestions,
    // as the customers agreed to publish it): the service's calls without a token pass the
    // interceptor with no principal, and every other RPC of it refuses them.
    let reports = tonic::service::interceptor::InterceptedService::new(
        reports,
        authenticator.allowing_anonymous(),
    );
    let query_limits = grpc::limits::QueryLimits::from_settings(&config.settings)
        .with_metrics(&metrics.registry)
        .map_err(service::ServiceError::from)?;
    let tickets = proto::v1::tickets_server::TicketsServer::new(grpc::TicketsService {
        commands: storage.commands.clone(),
        readers: storage.readers.clone(),
        log: storage.log.clone(),
        rules: config.base.rules.clone(),
        vault: storage.vault.clone(),
        default_page_size: config.settings.default_page_size,
        max_page_size: config.settings.max_page_size,
        limits: query_limits.clone(),
        assigner: duties.assigner.clone(),
    })
    .max_decoding_message_size(max_message_bytes);
    let audit = proto::v1::audit_server::AuditServer::new(grpc::AuditService {
        log: storage.log.clone(),
        vault: storage.vault.clone(),
        erasure: crate::erasure::Erasure {
            commands: storage.commands.clone(),
            vault: storage.vault.clone(),
        },
        checkpoint_file: duties.checkpoint_file.clone(),
        watches: query_limits.watches.clone(),
    })
    .max_decoding_message_size(max_message_bytes);
    let customers = proto::v1::customers_server::CustomersServer::new(grpc::CustomersService {
        commands: storage.commands.clone(),
        readers: storage.readers.clone(),
        rules: config.base.rules.clone(),
        vault: storage.vault.clone(),
    })
    .max_decoding_message_size(max_message_bytes);
    let self_service =
        proto::v1::self_service_server::SelfServiceServer::new(grpc::SelfServiceService {
            commands: storage.commands.clone(),
            readers: storage.readers.clone(),
            log: storage.log.clone(),
            lockout: Default::default(),
            limiter: authenticator.limiter().clone(),
            limit: authenticator
                .registry()
                .role_rate_limit(domain::types::Role::Agent),
            links: config.rating_links.clone(),
        })
        .max_decoding_message_size(max_message_bytes);
    Ok(Grpc::new(config.base.tls.as_ref(), SERVICES, authenticator)
        .await?
        .add_authenticated(tickets)
        .add_authenticated(audit)
        .add_public(reports)
        .add_authenticated(customers)
        .add_public(self_service))
}
