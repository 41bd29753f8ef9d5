//! `cloop customer erase`: erasing a customer's personal data through
//! `feedback.v1.Audit/EraseCustomer` (admin only).

use super::{new_command_id, Context};
use crate::args::CustomerCommand;
use crate::error::CliError;
use crate::render_audit::{erasure_json, erasure_text};
use crate::rpc::{call_error, connect, Service};
use proto::v1;
use proto::v1::audit_client::AuditClient;

/// Runs `cloop customer ...`.
pub async fn run(context: &Context, command: CustomerCommand) -> Result<(), CliError> {
    match command {
        CustomerCommand::Erase {
            ticket,
            customer_id,
            reason,
            command_id,
        } => {
            let connection = connect(&context.settings, Service::Workflow).await?;
            let mut client = AuditClient::new(connection.channel.clone());
            let response = client
                .erase_customer(connection.request(v1::EraseCustomerRequest {
                    ticket_id: ticket.unwrap_or_default(),
                    customer_id: customer_id.unwrap_or_default(),
                    command_id: command_id.unwrap_or_else(new_command_id),
                    reason,
                })?)
                .await
                .map_err(call_error)?
                .into_inner();
            context.print(&erasure_text(&response), &erasure_json(&response))
        }
    }
}
