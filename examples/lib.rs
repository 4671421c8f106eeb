//! The examples of spaces-socket live in this package's `[[example]]` targets; run them from
//! the workspace root, e.g. `cargo run --example chat`. This library is empty: it only gives
//! the package a target of its own.
#![forbid(unsafe_code)]
