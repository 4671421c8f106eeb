//! Clones of one `Client` work from many tasks at once: every concurrent send gets its own id
//! and exactly one confirmation.

use std::collections::BTreeSet;

use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::on_smol;
use crate::support::{STEP, expect_event, peer, subscribe, test_config, the_rest, within};

const TASKS: usize = 8;
const PER_TASK: usize = 5;

#[test]
fn concurrent_sends_from_cloned_clients_are_all_confirmed_once() {
    let mut peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
    let config = test_config(&peer.url("/chat"));
    let client = on_smol(config, Token::jwt("alice"), Options::default());
    smol::block_on(async {
        subscribe(&client, "s1").await;
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let client = client.clone();
                smol::spawn(async move {
                    let mut ids = Vec::new();
                    for i in 0..PER_TASK {
                        let text = format!("task {t} message {i}");
                        ids.push(client.send_message(SendMessage::chat("s1", text)));
                        // Let the other tasks in between two sends.
                        smol::future::yield_now().await;
                    }
                    ids
                })
            })
            .collect();
        let mut sent = BTreeSet::new();
        for task in tasks {
            for id in within("a sending task", STEP, task).await {
                let id = id.expect("every concurrent send is accepted");
                assert!(sent.insert(id), "{id:?} was handed out twice");
            }
        }
        assert_eq!(sent.len(), TASKS * PER_TASK);

        let mut confirmed = BTreeSet::new();
        while confirmed.len() < sent.len() {
            let event = expect_event(&client, "the remaining confirmations", |e| {
                matches!(
                    e,
                    SpacesEvent::Confirmed { .. } | SpacesEvent::SendFailed { .. }
                )
            })
            .await;
            match event {
                SpacesEvent::Confirmed { id, .. } => {
                    assert!(sent.contains(&id), "confirmation for unknown {id:?}");
                    assert!(confirmed.insert(id), "{id:?} confirmed twice");
                }
                other => panic!("a send failed: {other:?}"),
            }
        }

        within("close()", STEP, client.close()).await;
        let rest = the_rest(&client).await;
        assert!(
            !rest
                .iter()
                .any(|e| matches!(e, SpacesEvent::Confirmed { .. })),
            "no confirmation after all were seen: {rest:?}"
        );
        assert!(matches!(rest.last(), Some(SpacesEvent::Closed)), "{rest:?}");
    });
    let stats = peer.stats();
    assert_eq!(stats["messages"], (TASKS * PER_TASK) as u64, "{stats}");
}
