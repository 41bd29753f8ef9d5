//! Which of a customer's contacts a notice goes to, and by which sender.

use proto::v1;

/// Where the customer is reached for one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `sms`, `wechat` or `email`.
    pub channel: &'static str,
    /// `webhook`, `smtp` or `file`.
    pub sender: &'static str,
    pub to: String,
}

/// Which senders are configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Senders {
    pub webhook: bool,
    pub smtp: bool,
    /// The local file: it takes every contact the webhook or SMTP sender does not.
    pub file: bool,
}

/// The way to reach a customer: the ticket's own channel first where it is one of the
/// customer's contacts, then phone, WeChat, e-mail; only contacts a configured sender
/// reaches (phone and WeChat by the webhook, e-mail by SMTP, any of them by the file when
/// its own sender is not configured).
pub fn route_for(customer: &v1::Customer, ticket_channel: &str, senders: Senders) -> Option<Route> {
    let present = |text: &str| !text.trim().is_empty();
    // A contact's own sender when configured, else the file when configured.
    let via = |configured: bool, sender: &'static str| {
        configured
            .then_some(sender)
            .or(senders.file.then_some("file"))
    };
    let (by_webhook, by_smtp) = (via(senders.webhook, "webhook"), via(senders.smtp, "smtp"));
    let mut candidates: Vec<Route> = Vec::new();
    for (channel, to, sender) in [
        ("sms", &customer.phone, by_webhook),
        ("wechat", &customer.wechat_openid, by_webhook),
        ("email", &customer.email, by_smtp),
    ] {
        if let (Some(sender), true) = (sender, present(to)) {
            candidates.push(Route {
                channel,
                sender,
                to: to.trim().to_owned(),
            });
        }
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

    const BOTH: Senders = Senders {
        webhook: true,
        smtp: true,
        file: false,
    };
    const SMTP: Senders = Senders {
        webhook: false,
        smtp: true,
        file: false,
    };

    #[test]
    fn routes_prefer_the_ticket_channel_then_phone_wechat_email() {
        let all = customer("+8613812345678", "z@example.com", "oWx");
        let route = route_for(&all, "web", BOTH).expect("reachable");
        assert_eq!((route.channel, route.sender), ("sms", "webhook"));
        let route = route_for(&all, "email", BOTH).expect("reachable");
        assert_eq!(
            (route.channel, route.to.as_str()),
            ("email", "z@example.com")
        );
        let route = route_for(&all, "wechat", BOTH).expect("reachable");
        assert_eq!(route.channel, "wechat");
        let route = route_for(&all, "web", SMTP).expect("reachable by e-mail");
        assert_eq!(route.sender, "smtp");
        assert_eq!(
            route_for(&customer("+8613812345678", "", ""), "web", SMTP),
            None
        );
        assert_eq!(route_for(&v1::Customer::default(), "web", BOTH), None);
    }

    #[test]
    fn the_file_takes_the_contacts_no_other_sender_reaches() {
        let phone = customer("+8613812345678", "", "");
        let file_only = Senders {
            file: true,
            ..Senders::default()
        };
        let route = route_for(&phone, "web", file_only).expect("reachable by the file");
        assert_eq!((route.channel, route.sender), ("sms", "file"));
        let with_smtp = Senders {
            smtp: true,
            file: true,
            ..Senders::default()
        };
        let mail = customer("", "z@example.com", "");
        let route = route_for(&mail, "web", with_smtp).expect("reachable");
        assert_eq!(route.sender, "smtp", "a configured sender goes first");
        let route = route_for(&phone, "web", with_smtp).expect("reachable");
        assert_eq!(route.sender, "file");
        assert_eq!(route_for(&v1::Customer::default(), "web", file_only), None);
    }
}
