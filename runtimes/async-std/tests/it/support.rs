//! The async runtimes' shared test helpers (the Node peers, one bounded wait, the
//! whole-session scenario), written once in the async-io crate's tests.
#![allow(unused_imports, unreachable_pub)]

#[path = "../../../async-io/tests/it/support.rs"]
mod shared;

pub use shared::*;
