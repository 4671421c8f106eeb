//! The examples of spaces-socket live in this package's `[[example]]` targets; run them from
//! the workspace root, e.g. `cargo run --example chat`. This library holds what several of
//! them share: the [`echo::EchoBot`] of `echo_bot` and of the simulation's `bot_sim`.
#![forbid(unsafe_code)]

pub mod echo;

/// The repository README's Rust examples, compiled and run as doctests here, where every
/// runtime, the emulator and the simulation kit are dependencies.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
