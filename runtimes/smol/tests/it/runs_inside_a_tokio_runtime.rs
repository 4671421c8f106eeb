//! The smol client used from a tokio application, against the real socket.io 2.0.4 Spaces
//! server: no adapter, no smol executor of the application's own.
//!
//! `connect` spawns the driver on smol's global executor, which runs on its own threads and
//! async-io's reactor thread; the `Client`'s futures (`next_event`, `close`) wake through
//! ordinary wakers, so a tokio task can await them like any other future. These tests hold the
//! README's promise (the recipe in the crate documentation): a whole session from a task on a
//! multi-thread runtime, the same on a current-thread runtime, and a client dropped without
//! `close` that ends its session without holding up the runtime's shutdown. Every wait is
//! bounded, by tokio's own timer on the outside and by `within` (async-io's timer) inside.

use std::time::{Duration, Instant};

use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_smol::{Options, connect};

use crate::support::{STEP, expect_event, full_session, peer, subscribe, test_config};

/// How long a whole scenario may take, on tokio's clock.
const SCENARIO: Duration = Duration::from_secs(90);
/// How long dropping a runtime may take (its tasks are done; nothing of ours is on it).
const SHUTDOWN: Duration = Duration::from_secs(5);

#[test]
fn a_whole_session_from_a_task_on_a_tokio_multi_thread_runtime() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");

    runtime.block_on(async {
        // On a worker task (not only on `block_on`'s thread), as a service would run it:
        // connect, subscribe, send and see it confirmed, receive the other participant's
        // message, unsubscribe, close, and the events end.
        let session = tokio::spawn(async move {
            full_session(&url, |config, token| {
                connect(config, token, Options::default()).expect("valid config")
            })
            .await;
        });
        tokio::time::timeout(SCENARIO, session)
            .await
            .expect("the whole session within the limit")
            .expect("the session task did not panic");
    });

    let started = Instant::now();
    runtime.shutdown_timeout(SHUTDOWN);
    assert!(
        started.elapsed() < SHUTDOWN,
        "the runtime took {:?} to shut down",
        started.elapsed()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_session_on_a_tokio_current_thread_runtime() {
    let peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    // Every await below is on the test's single thread; the driver runs on smol's threads, so
    // nothing here needs a second tokio worker.
    tokio::time::timeout(
        SCENARIO,
        full_session(&url, |config, token| {
            connect(config, token, Options::default()).expect("valid config")
        }),
    )
    .await
    .expect("the whole session within the limit");
}

#[test]
fn a_client_dropped_without_close_in_a_tokio_task_ends_its_session() {
    let mut peer = peer::spaces_server_with(peer::SIO_2_0_4, 25_000, 60_000, &["--log-frames"]);
    let config = test_config(&peer.url("/chat"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");

    runtime.block_on(async {
        let task = tokio::spawn(async move {
            let client =
                connect(config, Token::jwt("alice"), Options::default()).expect("valid config");
            subscribe(&client, "s1").await;
            let id = client
                .send_message(SendMessage::chat("s1", "from tokio"))
                .expect("the session accepts the message");
            // tokio's timer around our future, as an application would bound it.
            tokio::time::timeout(
                STEP,
                expect_event(
                    &client,
                    "Confirmed",
                    |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
                ),
            )
            .await
            .expect("confirmed in time");
            // Dropped here, with the session up and no `close()`.
        });
        tokio::time::timeout(SCENARIO, task)
            .await
            .expect("the task within the limit")
            .expect("the task did not panic");
    });
    let started = Instant::now();
    drop(runtime);
    assert!(
        started.elapsed() < SHUTDOWN,
        "dropping the runtime took {:?}",
        started.elapsed()
    );

    // With its last `Client` gone, the driver (on smol's executor) leaves `/chat` and closes.
    peer.wait_for_stats(
        |s| s["connections"] == 0 && s["chatSockets"] == 0,
        Duration::from_secs(10),
    );
    assert!(
        peer.wait_for_frame("in", |d| d.starts_with("41/chat"), Duration::from_secs(5))
            .is_some(),
        "the driver left /chat before closing: {:#?}",
        peer.frames()
    );
}
