//! The seeded generator behind every id the emulator makes and every choice a simulation
//! makes: the client core's own SplitMix64 ([`spaces_socket::rng::Rng`]), re-exported so that
//! one generator serves the session, the server and the simulation.

pub use spaces_socket::rng::Rng;
