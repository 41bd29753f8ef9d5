//! The auditor toolkit.
