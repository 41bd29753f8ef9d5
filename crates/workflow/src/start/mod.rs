//! [`crate::start`] in three parts, each on one screen: `storage` opens the log, the key
//! store and the projections' readers; `duties` spawns the consumer, the timers and the
//! publisher; `server` builds the gRPC services.

pub(crate) mod duties;
pub(crate) mod server;
pub(crate) mod storage;
