#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Without `wire` the codec modules are private, so the links to them above resolve only in
// `--document-private-items` builds; that is expected, not a broken link.
#![cfg_attr(not(feature = "wire"), allow(rustdoc::private_intra_doc_links))]
// Without `service-app` the minting types are gone, so the links to them in the `spaces`
// docs do not resolve; docs.rs builds with every feature.
#![cfg_attr(not(feature = "service-app"), allow(rustdoc::broken_intra_doc_links))]
// Feature labels on items (docs.rs builds with `--cfg docsrs`, every feature, nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bot;
pub mod client;
// The wire codecs: public only with the `wire` feature, for the emulator crate and the fuzzers.
#[cfg(feature = "wire")]
pub mod engine;
#[cfg(not(feature = "wire"))]
#[allow(unreachable_pub, dead_code)]
mod engine;
pub mod record;
pub mod redact;
pub mod rng;
#[cfg(feature = "wire")]
pub mod socket;
#[cfg(not(feature = "wire"))]
#[allow(unreachable_pub, dead_code)]
mod socket;
pub mod spaces;

pub use client::Transmit;
pub use redact::Secret;
pub use spaces::{
    Input, SendError, SendFailure, SendId, SendMessage, Spaces, SpacesConfig, SpacesEvent, Step,
    Token, TokenProvider,
};
