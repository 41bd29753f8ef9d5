//! A `SubmitRequest` as the domain's raw submission, the one conversion intake and the
//! adapters share.

use domain::submission::{CustomerInput, SubmissionInput};
use proto::v1;

/// Some text, or `None` when it is blank (protobuf sends absent strings as empty).
pub fn present(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        None
    } else {
        Some(text.to_owned())
    }
}

/// The domain's view of `request`, before validation: empty strings are absent. Without
/// `occurred_at`, which each caller reads its own way (intake refuses a bad one).
pub fn input(request: &v1::SubmitRequest) -> SubmissionInput {
    let customer = request.customer.clone().unwrap_or_default();
    SubmissionInput {
        channel: request.channel.clone(),
        external_id: present(&request.external_id),
        customer: CustomerInput {
            customer_id: present(&customer.customer_id),
            name: present(&customer.name),
            phone: present(&customer.phone),
            email: present(&customer.email),
            wechat_openid: present(&customer.wechat_openid),
        },
        content: request.content.clone(),
        occurred_at: None,
        product: present(&request.product),
        order_id: present(&request.order_id),
        attributes: request
            .attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    }
}
