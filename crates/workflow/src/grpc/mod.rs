//! The gRPC edge of the workflow: `feedback.v1.Tickets`, `feedback.v1.Audit`,
//! `feedback.v1.Reports` and `feedback.v1.SelfService`, and the conversions between the generated types and the domain's.

pub mod audit;
pub mod audit_log;
pub mod convert;
pub mod limits;
pub mod reports;
pub mod selfservice;
pub mod tickets;
pub mod watch;

pub use audit::AuditService;
pub use reports::ReportsService;
pub use selfservice::SelfServiceService;
pub use tickets::TicketsService;
