//! Which of a customer's contacts a notice goes to, and by which sender.

use proto::v1;

/// Where the customer is reached for one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `sms`, `wechat` or `email`.
    pub channel: &'static str,
    /// `webhook` or `smtp`.
    pub sender: &'static str,
    pub to: String,
}

/// The way to reach a customer: the ticket's own channel first where it is one of the
/// customer's contacts, then phone, WeChat, e-mail; only channels with a configured sender.
pub fn route_for(
    customer: &v1::Customer,
    ticket_channel: &str,
    webhook: bool,
    smtp: bool,
) -> Option<Route> {
    let present = |text: &str| !text.trim().is_empty();
    let mut candidates: Vec<Route> = Vec::new();
    if webhook && present(&customer.phone) {
        candidates.push(Route {
            channel: "sms",
            sender: "webhook",
            to: customer.phone.trim().to_owned(),
        });
    }
    if webhook && present(&customer.wechat_openid) {
        candidates.push(Route {
            channel: "wechat",
            sender: "webhook",
            to: customer.wechat_openid.trim().to_owned(),
        });
    }
    if smtp && present(&customer.email) {
        candidates.push(Route {
            channel: "email",
            sender: "smtp",
            to: customer.email.trim().to_owned(),
        });
    }
    let preferred = candidates
        .iter()
        .position(|route| route.channel == ticket_channel);
    match preferred {
        Some(index) => Some(candidates.swap_remove(index)),
        None => candidates.into_iter().next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(phone: &str, email: &str, wechat: &str) -> v1::Customer {
        v1::Customer {
            phone: phone.to_owned(),
            email: email.to_owned(),
            wechat_openid: wechat.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn routes_prefer_the_ticket_channel_then_phone_wechat_email() {
        let all = customer("+8613812345678", "z@example.com", "oWx");
        let route = route_for(&all, "web", true, true).expect("reachable");
        assert_eq!((route.channel, route.sender), ("sms", "webhook"));
        let route = route_for(&all, "email", true, true).expect("reachable");
        assert_eq!(
            (route.channel, route.to.as_str()),
            ("email", "z@example.com")
        );
        let route = route_for(&all, "wechat", true, true).expect("reachable");
        assert_eq!(route.channel, "wechat");
        let route = route_for(&all, "web", false, true).expect("reachable by e-mail");
        assert_eq!(route.sender, "smtp");
        assert_eq!(
            route_for(&customer("+8613812345678", "", ""), "web", false, true),
            None
        );
        assert_eq!(route_for(&v1::Customer::default(), "web", true, true), None);
    }
}
