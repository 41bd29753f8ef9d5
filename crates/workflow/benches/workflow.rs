//! End-to-end benchmarks of the workflow service (written later).

fn main() {}
