//! The one end-to-end test binary: every scenario starts its own nats-server and real service
//! processes, so scenarios are independent and can run in parallel.

mod abuse;
mod assignment;
mod cli;
mod console;
mod contract;
mod disk_full;
mod erasure;
mod faults;
mod harness_selftest;
mod intake;
mod limits;
mod local_run;
mod nats_cluster;
mod nats_security;
mod notify;
mod problems;
mod replicas;
mod report_month;
mod reports_audit;
mod support;
mod tls;
mod webhook;
mod workflow;
