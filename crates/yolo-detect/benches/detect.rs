//! Placeholder, replaced by the per-stage benchmark.
fn main() {}
