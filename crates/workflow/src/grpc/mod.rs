//! The gRPC edge of the workflow: `feedback.v1.Tickets`, `feedback.v1.Audit`,
//! `feedback.v1.Reports`, `feedback.v1.SelfService` and `feedback.v1.Customers`, and the conversions between the generated types and the domain's.

pub mod audit;
pub mod audit_log;
pub mod convert;
pub mod customers;
pub mod limits;
pub mod report_delivery;
pub mod reports;
pub mod reports_period;
pub mod selfservice;
pub mod tickets;
pub mod watch;

pub use audit::AuditService;
pub use customers::CustomersService;
pub use reports::ReportsService;
pub use selfservice::SelfServiceService;
pub use tickets::TicketsService;
