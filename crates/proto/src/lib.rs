//! The `feedback.v1` public API, generated from `proto/feedback/v1/*.proto`: the protobuf
//! messages, the gRPC clients and servers of Intake, Tickets, Audit and Reports, and the
//! encoded descriptor set that gRPC server reflection serves.
//!
//! Generated types stay in this crate: services convert them to and from domain types at
//! their gRPC edge. [`time`] is the one conversion of protobuf timestamps and
//! [`mapping`] the one mapping of enums to the domain's vocabularies, for every crate.

/// The `feedback.v1` package.
pub mod feedback {
    /// Version 1 of the feedback API.
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        include!(concat!(env!("OUT_DIR"), "/feedback.v1.rs"));
    }
}

pub use feedback::v1;

pub mod mapping;
pub mod time;

/// The encoded `FileDescriptorSet` of every `feedback.v1` file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/feedback_v1_descriptor.bin"));

/// The NATS subject prefix adapters send `SubmitRequest`s to: `feedback.inbound.<channel>`.
pub const INBOUND_SUBJECT_PREFIX: &str = "feedback.inbound";
/// The subject prefix of `FeedbackReceived` on stream FEEDBACK: `feedback.received.<channel>`.
pub const RECEIVED_SUBJECT_PREFIX: &str = "feedback.received";
/// The subject prefix of `LogEvent` on stream TICKET_EVENTS: `ticket.events.<event type>`.
pub const TICKET_EVENTS_SUBJECT_PREFIX: &str = "ticket.events";
/// The JetStream stream intake publishes to.
pub const FEEDBACK_STREAM: &str = "FEEDBACK";
/// The JetStream stream workflow publishes its log to.
pub const TICKET_EVENTS_STREAM: &str = "TICKET_EVENTS";

#[cfg(test)]
mod tests {
    use super::v1;
    use prost::Message;

    #[test]
    fn descriptor_set_names_every_service() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let services: Vec<String> = set
            .file
            .iter()
            .flat_map(|file| {
                file.service
                    .iter()
                    .filter_map(|service| service.name.clone())
            })
            .collect();
        for expected in [
            "Intake",
            "Tickets",
            "Audit",
            "Reports",
            "SelfService",
            "Customers",
        ] {
            assert!(
                services.iter().any(|name| name == expected),
                "{expected} missing"
            );
        }
        let feedback_files = set
            .file
            .iter()
            .filter(|file| file.name().starts_with("feedback/v1/"));
        assert_eq!(feedback_files.clone().count(), 8);
        assert!(feedback_files
            .into_iter()
            .all(|file| file.package() == "feedback.v1"));
    }

    #[test]
    fn submit_request_round_trips_through_bytes() {
        let request = v1::SubmitRequest {
            channel: "web".into(),
            external_id: "form-1".into(),
            content: "APP卡顿".into(),
            customer: Some(v1::Customer {
                phone: "13800138000".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let decoded = v1::SubmitRequest::decode(request.encode_to_vec().as_slice())
            .expect("decodes what it encoded");
        assert_eq!(decoded, request);
    }

    #[test]
    fn enums_use_their_type_name_as_prefix() {
        assert_eq!(v1::Step::Receive.as_str_name(), "STEP_RECEIVE");
        assert_eq!(
            v1::ContentType::Product.as_str_name(),
            "CONTENT_TYPE_PRODUCT"
        );
        assert_eq!(v1::SlaState::OnTime.as_str_name(), "SLA_STATE_ON_TIME");
        assert_eq!(v1::Priority::Urgent as i32, 1);
    }
}
