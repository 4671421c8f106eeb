//! The Avaya Spaces layer: credentials and typed events (pure data, no IO, no clock).
pub mod auth;
