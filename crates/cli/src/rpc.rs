//! Connections to the services: one tonic channel per service, a bearer token on every
//! request, and connection failures turned into one clear line.

use crate::config::Settings;
use crate::error::CliError;
use service::tls::error_chain;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::Request;

/// Which service a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Intake,
    Workflow,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Intake => "cloop-intake",
            Service::Workflow => "cloop-workflow",
        }
    }
}

/// A connected channel and the token to send.
#[derive(Debug, Clone)]
pub struct Connection {
    pub channel: Channel,
    token: Option<String>,
}

/// Connects to a service; an unreachable service is `CliError::Unreachable` (exit code 6).
pub async fn connect(settings: &Settings, service: Service) -> Result<Connection, CliError> {
    let address = match service {
        Service::Intake => settings.intake.clone(),
        Service::Workflow => settings.workflow.clone(),
    };
    let unreachable = |reason: String| CliError::Unreachable {
        service: service.name(),
        address: address.clone(),
        reason,
    };
    let flag = match service {
        Service::Intake => "--intake",
        Service::Workflow => "--workflow",
    };
    // http:// is plain text, https:// is TLS with --ca (or the system's roots) and, for mutual
    // TLS, --cert and --key.
    let endpoint = service::tls::endpoint(flag, &address, settings.tls.as_ref())
        .map_err(|error| CliError::Usage(error.to_string()))?
        .connect_timeout(std::time::Duration::from_secs(5).min(settings.timeout))
        .timeout(settings.timeout);
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| unreachable(error_chain(&error)))?;
    Ok(Connection {
        channel,
        token: settings.token.clone(),
    })
}

impl Connection {
    /// A request carrying `authorization: Bearer <token>` when a token is configured.
    pub fn request<T>(&self, message: T) -> Result<Request<T>, CliError> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            let value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
                CliError::Usage("the token contains characters not allowed in a header".into())
            })?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// Maps a failed call: a transport failure (the service went away) reads like an unreachable
/// service; other statuses keep their code.
pub fn call_error(status: tonic::Status) -> CliError {
    // A connection that broke under the call (e.g. a server that requires a client
    // certificate closes the TLS session: "received fatal alert: CertificateRequired") comes
    // as UNKNOWN "transport error" or CANCELLED, with the transport's error as its source; say
    // why, as UNAVAILABLE (exit code 6).
    if matches!(status.code(), tonic::Code::Unknown | tonic::Code::Cancelled) {
        if let Some(source) = std::error::Error::source(&status) {
            let chain = error_chain(source);
            let message = if chain.starts_with(status.message()) {
                chain
            } else {
                format!("{}: {chain}", status.message())
            };
            return CliError::Status {
                status: tonic::Status::unavailable(message),
            };
        }
    }
    CliError::Status { status }
}

/// The next message of a server stream; `None` once the stream ends or the user presses
/// Ctrl-C.
pub async fn next_until_interrupted<T>(
    stream: &mut tonic::Streaming<T>,
) -> Option<Result<T, CliError>> {
    tokio::select! {
        next = futures::StreamExt::next(stream) => next.map(|message| message.map_err(call_error)),
        _ = tokio::signal::ctrl_c() => None,
    }
}
