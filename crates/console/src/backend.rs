//! The console's connections to the services: gRPC channels to the workflow (and intake),
//! and requests that carry the signed-in person's own bearer token. The console has no token
//! of its own.

use crate::error::ConsoleError;
use proto::v1::audit_client::AuditClient;
use proto::v1::reports_client::ReportsClient;
use proto::v1::self_service_client::SelfServiceClient;
use proto::v1::tickets_client::TicketsClient;
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::Request;

/// The channels the console calls.
#[derive(Debug, Clone)]
pub struct Backend {
    workflow: Channel,
    /// The workflow without a call timeout, for the live-update streams.
    watch: Channel,
    /// Kept for the customer pages (intake answers no staff page).
    #[allow(dead_code)]
    intake: Channel,
}

/// `host:port` becomes `http://host:port`; a URL stays as it is.
pub fn with_scheme(address: &str) -> String {
    if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    }
}

impl Backend {
    /// Channels that connect on first use and reconnect after a restart of the service.
    pub fn new(workflow: &str, intake: &str, timeout: Duration) -> Result<Self, ConsoleError> {
        let endpoint = |flag: &str, address: &str| {
            service::tls::endpoint(flag, &with_scheme(address), None)
                .map(|endpoint| endpoint.connect_timeout(Duration::from_secs(3).min(timeout)))
        };
        let channel = |flag: &str, address: &str| -> Result<Channel, ConsoleError> {
            Ok(endpoint(flag, address)?.timeout(timeout).connect_lazy())
        };
        Ok(Self {
            workflow: channel("--workflow", workflow)?,
            watch: endpoint("--workflow", workflow)?.connect_lazy(),
            intake: channel("--intake", intake)?,
        })
    }

    /// The customer profiles (`feedback.v1.Customers`).
    pub fn customers(&self) -> proto::v1::customers_client::CustomersClient<Channel> {
        proto::v1::customers_client::CustomersClient::new(self.workflow.clone())
    }

    pub fn tickets(&self) -> TicketsClient<Channel> {
        TicketsClient::new(self.workflow.clone())
    }

    /// The tickets client for `WatchTickets`, whose answer lasts as long as the page.
    pub fn tickets_streaming(&self) -> TicketsClient<Channel> {
        TicketsClient::new(self.watch.clone())
    }

    pub fn reports(&self) -> ReportsClient<Channel> {
        ReportsClient::new(self.workflow.clone())
    }

    pub fn audit(&self) -> AuditClient<Channel> {
        AuditClient::new(self.workflow.clone())
    }

    /// The customers' service: no token at all (the customer pages prove themselves with a
    /// ticket's phone digits).
    pub fn self_service(&self) -> SelfServiceClient<Channel> {
        SelfServiceClient::new(self.workflow.clone())
    }

    /// Whether the workflow answers its health check.
    pub async fn workflow_healthy(&self) -> bool {
        let mut client = tonic_health::pb::health_client::HealthClient::new(self.workflow.clone());
        let request = tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        };
        matches!(
            client.check(request).await,
            Ok(response) if response.get_ref().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        )
    }
}

/// A request with the person's `authorization: Bearer <token>`.
pub fn as_person<T>(token: &str, message: T) -> Result<Request<T>, ConsoleError> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| ConsoleError::NotSignedIn)?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}
