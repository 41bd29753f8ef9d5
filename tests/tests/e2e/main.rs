//! The one end-to-end test binary: every scenario starts its own nats-server and real service
//! processes, so scenarios are independent and can run in parallel.

mod abuse;
mod alerts;
mod alerts_https;
mod assignment;
mod classifier;
mod classifier_learning;
mod cli;
mod console;
mod console_people;
mod console_rating;
mod contract;
mod customers;
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
mod people_report;
mod problems;
mod replicas;
mod replies;
mod report_delivery;
mod report_month;
mod reports_audit;
mod suggestions;
mod support;
mod terms;
mod tls;
mod webhook;
mod workflow;
