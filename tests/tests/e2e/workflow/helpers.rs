//! A helper department's queue: the ticket a department helps with is in its own queue
//! (`ListTickets` with its own department, as `cloop tickets list --department` asks), while
//! every other department still sees nothing of it.

use super::{start_cluster, submit, WAIT};
use proto::v1;
use tonic::Code;

/// `ListTickets` with `department` as `token`: the ids listed.
async fn queue_of(
    cluster: &e2e::TestCluster,
    token: &str,
    department: &str,
) -> Result<Vec<String>, tonic::Status> {
    let mut staff = cluster.staff(token).await;
    let tickets = staff
        .list(v1::TicketFilter {
            department: department.into(),
            ..Default::default()
        })
        .await?;
    Ok(tickets.into_iter().map(|ticket| ticket.ticket_id).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_department_sees_the_ticket_it_helps_with_in_its_queue() {
    let cluster = start_cluster("");
    let ticket_id = submit(&cluster, "helper-1", "APP卡顿，打开很慢").await;
    let placed = cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |ticket| {
            ticket.department == "technical"
        })
        .await;
    assert_eq!(placed.helpers, ["product"], "the routing this test assumes");

    // The leading department and the helping one both have it in their queue.
    for (token, department) in [
        ("t-agent-technical", "technical"),
        ("t-agent-product", "product"),
        ("t-head-product", "product"),
    ] {
        let listed = queue_of(&cluster, token, department)
            .await
            .expect("own queue");
        assert!(
            listed.contains(&ticket_id),
            "{token}'s queue of {department} lacks {ticket_id}: {listed:?}"
        );
    }
    // A department that neither leads nor helps sees nothing of it in its own queue, and may
    // not ask for another department's.
    let listed = queue_of(&cluster, "t-agent-logistics", "logistics")
        .await
        .expect("own queue");
    assert!(!listed.contains(&ticket_id), "{listed:?}");
    let refused = queue_of(&cluster, "t-agent-product", "technical")
        .await
        .expect_err("another department's queue");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The service's queue of a department stays the tickets that department leads.
    let listed = queue_of(&cluster, "t-service", "product")
        .await
        .expect("service reads all");
    assert!(!listed.contains(&ticket_id), "{listed:?}");
}
