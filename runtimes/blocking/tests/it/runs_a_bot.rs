//! `Client::run`: a bot's timers are real timers waited for in the same read as the websocket,
//! its commands reach the server, and `run` returns the bot once it closed the session.

use std::time::{Duration, Instant};

use spaces_socket::bot::{Bot, Ctx};
use spaces_socket::spaces::{SpacesEvent, Token};

use crate::support::client;
use crate::support::peer::{self, SIO_2_0_4};

/// Subscribes, says "tick" every 100 ms three times, then closes.
#[derive(Default)]
struct Ticker {
    ticks: Vec<Duration>,
    confirmed: usize,
    closed: bool,
}

impl Bot for Ticker {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe("s1");
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        match event {
            SpacesEvent::Subscribed { .. } => ctx.set_timer(Duration::from_millis(100), 7),
            SpacesEvent::Confirmed { .. } => self.confirmed += 1,
            SpacesEvent::Closed => self.closed = true,
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        assert_eq!(timer, 7);
        self.ticks.push(ctx.elapsed());
        ctx.send_text("s1", "tick").expect("subscribed");
        match self.ticks.len() {
            3 => ctx.close(),
            _ => ctx.set_timer(Duration::from_millis(100), 7),
        }
    }
}

#[test]
fn a_bots_timers_fire_on_time_and_run_returns_once_it_closes() {
    let mut peer = peer::spaces_server(SIO_2_0_4, 25_000, 60_000);
    let mut alice = client(&peer.url("/chat"), Token::jwt("alice"));
    let start = Instant::now();
    let bot = alice.run(Ticker::default());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(bot.ticks.len(), 3);
    for pair in bot.ticks.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(95), "{:?}", bot.ticks);
        assert!(gap < Duration::from_millis(1000), "{:?}", bot.ticks);
    }
    assert!(bot.closed, "the bot saw Closed");
    assert!(alice.is_closed());
    // The third tick was sent just before the close: at least the first two were confirmed.
    assert!(bot.confirmed >= 2, "{}", bot.confirmed);
    assert!(peer.stats()["messages"].as_u64() >= Some(2));
}
