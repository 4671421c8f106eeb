//! Blocking runtime for [`spaces_socket`]: drives the sans-IO core over `tungstenite` on the
//! caller's thread, and serves the Spaces emulator on a loopback listener.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod stream;
mod tls;

pub use client::{BuildError, Options, SpacesClient};
pub use spaces_socket;
pub use tls::{TlsBackend, TlsError, TlsOptions};
