//! `cloop customer show`: a customer's profile through `feedback.v1.Customers/GetCustomer`;
//! `cloop customer tag`: a staff tag on a customer (`Customers/TagCustomer`);
//! `cloop customer erase`: erasing a customer's personal data through
//! `feedback.v1.Audit/EraseCustomer` (admin only).

use super::{new_command_id, Context};
use crate::args::CustomerCommand;
use crate::error::CliError;
use crate::render::{customer_json, customer_text};
use crate::render_audit::{erasure_json, erasure_text};
use crate::rpc::{call_error, connect, Service};
use proto::v1;
use proto::v1::audit_client::AuditClient;
use proto::v1::customers_client::CustomersClient;
use proto::v1::get_customer_request::Key;

/// Runs `cloop customer ...`.
pub async fn run(context: &Context, command: CustomerCommand) -> Result<(), CliError> {
    match command {
        CustomerCommand::Show {
            phone,
            email,
            wechat_openid,
            customer_id,
            ticket,
        } => {
            let key = phone
                .map(Key::Phone)
                .or(email.map(Key::Email))
                .or(wechat_openid.map(Key::WechatOpenid))
                .or(customer_id.map(Key::CustomerId))
                .or(ticket.map(Key::TicketId));
            let connection = connect(&context.settings, Service::Workflow).await?;
            let mut client = CustomersClient::new(connection.channel.clone());
            let profile = client
                .get_customer(connection.request(v1::GetCustomerRequest { key })?)
                .await
                .map_err(call_error)?
                .into_inner()
                .customer
                .unwrap_or_default();
            context.print(
                &customer_text(&profile, &context.view),
                &customer_json(&profile),
            )
        }
        CustomerCommand::Tag {
            tag,
            remove,
            phone,
            email,
            wechat_openid,
            customer_id,
            ticket,
            command_id,
        } => {
            use proto::v1::tag_customer_request::Key as TagKey;
            let key = phone
                .map(TagKey::Phone)
                .or(email.map(TagKey::Email))
                .or(wechat_openid.map(TagKey::WechatOpenid))
                .or(customer_id.map(TagKey::CustomerId))
                .or(ticket.map(TagKey::TicketId));
            let connection = connect(&context.settings, Service::Workflow).await?;
            let mut client = CustomersClient::new(connection.channel.clone());
            let profile = client
                .tag_customer(connection.request(v1::TagCustomerRequest {
                    key,
                    tag,
                    remove,
                    command_id: command_id.unwrap_or_else(new_command_id),
                })?)
                .await
                .map_err(call_error)?
                .into_inner()
                .customer
                .unwrap_or_default();
            context.print(
                &customer_text(&profile, &context.view),
                &customer_json(&profile),
            )
        }
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
