//! The `feedback.v1.Intake` gRPC service: `Submit` and `SubmitStream`, both through
//! [`Intake::submit`], for principals with the `adapter` role (or `admin`).

use crate::accept::Intake;
use domain::types::Role;
use futures::{Stream, StreamExt};
use proto::v1;
use service::status::FIELD_METADATA_KEY;
use service::status_from;
use service::tokens::principal_of;
use service::Authenticator;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

/// Items of a bulk import answered concurrently (answers still come back in order).
const STREAM_CONCURRENCY: usize = 64;

/// How long one item of a bulk import waits for its caller's rate limit before it is refused.
const STREAM_RATE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The gRPC face of the intake core.
#[derive(Debug, Clone)]
pub struct IntakeService {
    core: Arc<Intake>,
    /// The interceptor's authenticator, so that each item of a bulk import after the first is
    /// also taken from the caller's rate limit (the interceptor takes the first).
    rate_limits: Option<Authenticator>,
}

impl IntakeService {
    pub fn new(core: Arc<Intake>) -> Self {
        Self {
            core,
            rate_limits: None,
        }
    }

    /// Charges every item of a `SubmitStream` after the first to the caller's rate limit: an
    /// item over the limit waits for its token (a bulk import is paced, not refused), for at
    /// most [`STREAM_RATE_WAIT`]; then it is answered RESOURCE_EXHAUSTED and the stream goes
    /// on.
    pub fn with_rate_limits(mut self, authenticator: Authenticator) -> Self {
        self.rate_limits = Some(authenticator);
        self
    }
}

/// The per-item error of a bulk import, from the status a unary call would have had.
pub fn error_status(status: &Status) -> v1::ErrorStatus {
    v1::ErrorStatus {
        code: status.code() as i32,
        message: status.message().to_owned(),
        field: status
            .metadata()
            .get(FIELD_METADATA_KEY)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<v1::SubmitStreamResponse, Status>> + Send>>;

#[tonic::async_trait]
impl v1::intake_server::Intake for IntakeService {
    async fn submit(
        &self,
        request: Request<v1::SubmitRequest>,
    ) -> Result<Response<v1::SubmitResponse>, Status> {
        let principal = principal_of(&request)?;
        principal.require_role(&[Role::Adapter], "Intake.Submit")?;
        principal.may_submit_on(&request.get_ref().channel)?;
        self.core
            .submit(request.into_inner())
            .await
            .map(Response::new)
            .map_err(status_from)
    }

    type SubmitStreamStream = ResponseStream;

    async fn submit_stream(
        &self,
        request: Request<Streaming<v1::SubmitStreamRequest>>,
    ) -> Result<Response<Self::SubmitStreamStream>, Status> {
        let principal = principal_of(&request)?.clone();
        principal.require_role(&[Role::Adapter], "Intake.SubmitStream")?;
        let core = self.core.clone();
        let rate_limits = self.rate_limits.clone();
        let answers = request
            .into_inner()
            .enumerate()
            .map(move |(index, item)| {
                let core = core.clone();
                let submitter = principal.clone();
                // The interceptor charged the call itself, which pays for the first item.
                let charged = (index > 0)
                    .then(|| {
                        rate_limits
                            .clone()
                            .map(|limits| (limits, principal.clone()))
                    })
                    .flatten();
                async move {
                    let item = item?;
                    let index = index as u64;
                    let over_limit = match charged {
                        Some((authenticator, principal)) => authenticator
                            .wait_for_rate(&principal, STREAM_RATE_WAIT)
                            .await
                            .err(),
                        None => None,
                    };
                    if let Some(refusal) = over_limit {
                        return Ok(v1::SubmitStreamResponse {
                            outcome: Some(v1::submit_stream_response::Outcome::Error(
                                error_status(&refusal.to_status()),
                            )),
                            index,
                        });
                    }
                    let submission = item.submission.unwrap_or_default();
                    if let Err(refused) = submitter.may_submit_on(&submission.channel) {
                        return Ok(v1::SubmitStreamResponse {
                            outcome: Some(v1::submit_stream_response::Outcome::Error(
                                error_status(&refused),
                            )),
                            index,
                        });
                    }
                    let outcome = match core.submit(submission).await {
                        Ok(response) => v1::submit_stream_response::Outcome::Result(response),
                        Err(failure) => v1::submit_stream_response::Outcome::Error(error_status(
                            &status_from(failure),
                        )),
                    };
                    Ok(v1::SubmitStreamResponse {
                        outcome: Some(outcome),
                        index,
                    })
                }
            })
            .buffered(STREAM_CONCURRENCY);
        Ok(Response::new(Box::pin(answers)))
    }
}
