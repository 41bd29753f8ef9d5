//! Department commands on one ticket, each with a fresh command id, as whoever a step names.

use super::*;
use e2e::Staff;

/// The commands of the workflow scenarios on one ticket, with their usual texts.
pub(super) struct Caller {
    staff: Staff,
    ticket_id: String,
}

type Answer = Result<v1::Ticket, tonic::Status>;

impl Caller {
    fn by(&self, token: &str) -> Staff {
        self.staff.as_(token)
    }

    pub(super) async fn classify(&mut self, token: &str, kind: v1::Kind) -> Answer {
        let reason = "read the text";
        self.by(token).classify(&self.ticket_id, kind, reason).await
    }

    pub(super) async fn dispatch(&mut self, token: &str, department: &str, reason: &str) -> Answer {
        let mut staff = self.by(token);
        staff.dispatch(&self.ticket_id, department, reason).await
    }

    pub(super) async fn acknowledge(&mut self, token: &str) -> Answer {
        let message = "我们已收到，正在处理";
        self.by(token).acknowledge(&self.ticket_id, message).await
    }

    pub(super) async fn propose(&mut self, token: &str, outcome: v1::Outcome) -> Answer {
        let text = "已修复并上线";
        if matches!(outcome, v1::Outcome::Adopted | v1::Outcome::Planned) {
            // A suggestion is evaluated before it is adopted or planned.
            self.by(token)
                .evaluate(&self.ticket_id, (4, 2, 4), "")
                .await?;
        }
        self.by(token).propose(&self.ticket_id, outcome, text).await
    }

    pub(super) async fn approve(&mut self, token: &str) -> Answer {
        self.by(token).approve(&self.ticket_id, "同意").await
    }

    pub(super) async fn review(&mut self, token: &str, satisfaction: u32) -> Answer {
        let comment = "客户回访";
        self.by(token)
            .review(&self.ticket_id, satisfaction, comment)
            .await
    }

    pub(super) async fn archive(&mut self, token: &str) -> Answer {
        self.by(token).archive(&self.ticket_id).await
    }
}

pub(super) async fn caller(cluster: &TestCluster, ticket_id: &str) -> Caller {
    Caller {
        // No token of its own: every command names who sends it.
        staff: Staff::new(cluster.tickets_connected().await, ""),
        ticket_id: ticket_id.to_owned(),
    }
}
