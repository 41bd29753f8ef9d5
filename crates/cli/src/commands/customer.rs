//! `cloop customer show`: a customer's profile through `feedback.v1.Customers/GetCustomer`;
//! `cloop customer tag`: a staff tag on a customer (`Customers/TagCustomer`);
//! `cloop customer erase`: erasing a customer's personal data through
//! `feedback.v1.Audit/EraseCustomer` (admin only).

use super::{new_command_id, Context};
use crate::args::{ContactArgs, CustomerCommand};
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
        CustomerCommand::Show { contact } => {
            let key = contact_key(
                contact,
                [
                    Key::Phone,
                    Key::Email,
                    Key::WechatOpenid,
                    Key::CustomerId,
                    Key::TicketId,
                ],
            );
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
            contact,
            command_id,
        } => {
            use proto::v1::tag_customer_request::Key as TagKey;
            let key = contact_key(
                contact,
                [
                    TagKey::Phone,
                    TagKey::Email,
                    TagKey::WechatOpenid,
                    TagKey::CustomerId,
                    TagKey::TicketId,
                ],
            );
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

/// The one contact given as a request's `key` oneof, built by `variants`: its phone, e-mail,
/// WeChat openid, customer id and ticket id variants, in that order (clap lets through
/// exactly one contact; were there more, the first in that order would win).
fn contact_key<K>(contact: ContactArgs, variants: [fn(String) -> K; 5]) -> Option<K> {
    let [phone, email, wechat_openid, customer_id, ticket] = variants;
    contact
        .phone
        .map(phone)
        .or(contact.email.map(email))
        .or(contact.wechat_openid.map(wechat_openid))
        .or(contact.customer_id.map(customer_id))
        .or(contact.ticket.map(ticket))
}
