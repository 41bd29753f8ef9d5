//! The gRPC edge of the workflow: `feedback.v1.Tickets`, `feedback.v1.Audit` and
//! `feedback.v1.Reports`, and the conversions between the generated types and the domain's.

pub mod audit;
pub mod audit_log;
pub mod convert;
pub mod limits;
pub mod reports;
pub mod tickets;
pub mod watch;

pub use audit::AuditService;
pub use reports::ReportsService;
pub use tickets::TicketsService;
