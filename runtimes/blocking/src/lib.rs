//! Blocking runtime for [`spaces_socket`]: drives the sans-IO core over `tungstenite` on the
//! caller's thread, and serves the Spaces emulator on a loopback listener.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod emulator;
