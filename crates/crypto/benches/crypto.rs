//! Placeholder; benches follow.
fn main() {}
