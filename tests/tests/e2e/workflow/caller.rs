//! Department commands with a fresh command id each.

use super::*;

/// A command helper: every command goes through here with a fresh command id.
pub(super) struct Caller {
    pub(super) client: TicketsClient<Channel>,
    pub(super) ticket_id: String,
    pub(super) counter: u32,
}

impl Caller {
    pub(super) fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("cmd-{}-{}", self.ticket_id, self.counter)
    }

    pub(super) async fn classify(
        &mut self,
        token: &str,
        kind: v1::Kind,
    ) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::ClassifyRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            kind: kind as i32,
            content_type: v1::ContentType::Product as i32,
            priority: v1::Priority::Low as i32,
            scope: v1::Scope::Local as i32,
            reason: "read the text".into(),
            ..Default::default()
        };
        let response = self.client.classify(authorized(request, token)).await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }

    pub(super) async fn dispatch(
        &mut self,
        token: &str,
        department: &str,
        reason: &str,
    ) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::DispatchRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            department: department.into(),
            reason: reason.into(),
            ..Default::default()
        };
        let response = self.client.dispatch(authorized(request, token)).await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }

    pub(super) async fn acknowledge(&mut self, token: &str) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::AcknowledgeRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            message: "我们已收到，正在处理".into(),
            ..Default::default()
        };
        let response = self.client.acknowledge(authorized(request, token)).await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }

    pub(super) async fn propose(
        &mut self,
        token: &str,
        outcome: v1::Outcome,
    ) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::ProposeSolutionRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            outcome: outcome as i32,
            text: "已修复并上线".into(),
            ..Default::default()
        };
        let response = self
            .client
            .propose_solution(authorized(request, token))
            .await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }

    pub(super) async fn approve(&mut self, token: &str) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::ApproveSolutionRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            approve: true,
            comment: "同意".into(),
            ..Default::default()
        };
        let response = self
            .client
            .approve_solution(authorized(request, token))
            .await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }

    pub(super) async fn review(
        &mut self,
        token: &str,
        satisfaction: u32,
    ) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::RecordReviewRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            satisfaction,
            comment: "客户回访".into(),
            ..Default::default()
        };
        let response = self
            .client
            .record_review(authorized(request, token))
            .await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }

    pub(super) async fn archive(&mut self, token: &str) -> Result<v1::Ticket, tonic::Status> {
        let request = v1::ArchiveRequest {
            ticket_id: self.ticket_id.clone(),
            command_id: self.next_id(),
            ..Default::default()
        };
        let response = self.client.archive(authorized(request, token)).await?;
        Ok(response.into_inner().ticket.expect("ticket"))
    }
}

pub(super) async fn caller(cluster: &TestCluster, ticket_id: &str) -> Caller {
    Caller {
        client: cluster.tickets_connected().await,
        ticket_id: ticket_id.to_owned(),
        counter: 0,
    }
}
