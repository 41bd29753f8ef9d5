//! What the caller believes a stream's version to be before its append: named by an append
//! and by the error that refuses it, so it stands apart from both.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the caller believes the stream's version to be before its append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version is.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be at exactly this version (0 means no stream, like `NoStream`).
    Exact(u64),
}

impl ExpectedVersion {
    /// True when a stream at version `actual` satisfies this expectation.
    pub fn accepts(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(expected) => actual == expected,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => formatter.write_str("any version"),
            ExpectedVersion::NoStream => formatter.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(formatter, "version {version}"),
        }
    }
}
