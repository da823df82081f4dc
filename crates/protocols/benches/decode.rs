#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report
fn main() {}
