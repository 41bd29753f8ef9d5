//! The configuration types, where the rules have always offered them
//! (`domain::rules::config::DomainConfig`); they live in `crate::config`.

pub use crate::config::*;
