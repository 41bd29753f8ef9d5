//! The audit toolkit's tests, in one test binary: rule checks on hand-built tickets, tamper
//! detection on real log files, exports and their independent verifier, checkpoints, time
//! travel, and erasure with the key store.

mod audit {
    pub mod erasure;
    pub mod export;
    pub mod fixtures;
    pub mod rules;
    pub mod tamper;
    pub mod time_travel;
}
