//! The examples of spaces-socket live in this package's `[[example]]` targets; run them from
//! the workspace root, e.g. `cargo run --example chat`. This library is empty: it only gives
//! the package a target of its own.
#![forbid(unsafe_code)]

/// The repository README's Rust examples, compiled and run as doctests here, where every
/// runtime, the emulator and the simulation kit are dependencies.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
