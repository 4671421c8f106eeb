//! The examples of spaces-socket live in this package's `[[example]]` targets; run them from
//! the workspace root, e.g. `cargo run --example chat`. This library holds what several of
//! them share: the [`echo::EchoBot`] of `echo_bot` and of the simulation's `bot_sim`.
#![forbid(unsafe_code)]

pub mod echo;
