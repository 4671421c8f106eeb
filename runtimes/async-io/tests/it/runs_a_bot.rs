//! `Client::run`: a bot's timers are async-io timers, its commands reach the server, and `run`
//! returns the bot once it closed the session; on smol and on async-std.

use std::time::{Duration, Instant};

use spaces_socket::bot::{Bot, Ctx};
use spaces_socket::spaces::{SpacesEvent, Token};
use spaces_socket_async_io::Options;

use crate::support::{STEP, peer, test_config, within};
use crate::{on_async_std, on_smol};

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
    for on in [on_smol, on_async_std] {
        let mut peer = peer::spaces_server(peer::SIO_2_0_4, 25_000, 60_000);
        let config = test_config(&peer.url("/chat"));
        let client = on(config, Token::jwt("alice"), Options::default());
        let start = Instant::now();
        let bot = smol::block_on(within("the bot's run", STEP, client.run(Ticker::default())));
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(bot.ticks.len(), 3);
        for pair in bot.ticks.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= Duration::from_millis(95), "{:?}", bot.ticks);
            assert!(gap < Duration::from_millis(1000), "{:?}", bot.ticks);
        }
        assert!(bot.closed, "the bot saw Closed");
        assert!(client.is_closed());
        assert!(bot.confirmed >= 2, "{}", bot.confirmed);
        assert!(peer.stats()["messages"].as_u64() >= Some(2));
    }
}
