//! Test support for the core: virtual-clock harnesses that play the server by hand.
//!
//! Shared by the `it` binary (`mod support;`) and `tests/hostile_server.rs`
//! (`#[path = "it/support/mod.rs"] mod support;`).

pub mod client;
pub mod spaces;
