//! Clones of one `SpacesHandle` work from many tasks at once: every concurrent send gets its
//! own id and exactly one confirmation.
mod async_support;
mod support;

use std::collections::BTreeSet;

use async_support::{STEP, expect_event, subscribe, test_config, within};
use futures_lite::StreamExt;
use spaces_socket::spaces::{SendMessage, SpacesEvent, Token};

const TASKS: usize = 8;
const PER_TASK: usize = 5;

#[test]
fn concurrent_sends_from_cloned_handles_are_all_confirmed_once() {
    let mut peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
    let (handle, mut events) =
        spaces_socket_smol::connect(test_config(&peer.url("/chat")), Token::jwt("alice"))
            .expect("valid config");
    smol::block_on(async {
        subscribe(&handle, &mut events, "s1").await;
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let handle = handle.clone();
                smol::spawn(async move {
                    let mut ids = Vec::new();
                    for i in 0..PER_TASK {
                        let text = format!("task {t} message {i}");
                        ids.push(handle.send_message(SendMessage::chat("s1", text)).await);
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
            let event = expect_event(&mut events, "the remaining confirmations", |e| {
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

        within("close()", STEP, handle.close()).await;
        let rest: Vec<_> = within("the rest of the events", STEP, events.collect()).await;
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
