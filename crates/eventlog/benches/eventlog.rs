//! Benchmarks of the event log (filled in below).

fn main() {}
