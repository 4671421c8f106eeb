//! The shared async driver's integration tests, one module per behaviour, run on smol's and
//! async-std's executors (spawning the driver as `spaces-socket-smol` and
//! `spaces-socket-async-std` do). The Node socket.io servers they run against live in the
//! root crate's `tests/peer/` (Node.js is required: a test that cannot start it fails and
//! says why).

mod auth_failure_ends_the_session;
mod back_pressure;
mod clones_from_many_tasks;
mod ends_when_every_client_is_dropped;
mod heartbeat_keeps_the_connection;
mod native_tls_with_a_private_ca;
mod pull_loops;
mod runs_a_bot;
mod support;
mod tls_with_a_private_ca;

use spaces_socket::spaces::{SpacesConfig, TokenProvider};
use spaces_socket_async_io::{Client, Options, start};

/// A session with its driver spawned on smol's global executor.
fn on_smol(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Client {
    let (client, driver) = start(config, provider, options).expect("valid config");
    smol::spawn(driver).detach();
    client
}

/// A session with its driver spawned on async-std's executor.
fn on_async_std(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Client {
    let (client, driver) = start(config, provider, options).expect("valid config");
    let _detached = async_std::task::spawn(driver);
    client
}
