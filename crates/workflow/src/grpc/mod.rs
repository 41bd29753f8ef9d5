//! The gRPC edge of the workflow: `feedback.v1.Tickets` and `feedback.v1.Audit`, and the
//! conversions between the generated types and the domain's. `feedback.v1.Reports` is not
//! served yet: calls to it answer UNIMPLEMENTED.

pub mod audit;
pub mod convert;
pub mod tickets;
pub mod watch;

pub use audit::AuditService;
pub use tickets::TicketsService;
