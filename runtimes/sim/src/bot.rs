//! The bots a simulation runs: the core's own [`Bot`] trait, hosted by the core's [`Host`], so
//! the type you test is the type you ship (every runtime's `run` hosts it the same way).

use std::any::Any;

use spaces_socket::bot::{Bot, Host};

/// A [`Bot`] the simulation can hand back by its type ([`Sim::bot`](crate::Sim::bot)).
pub(crate) trait SimBot: Bot + Any {
    fn as_any(&self) -> &dyn Any;
}

impl<B: Bot + Any> SimBot for B {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A participant's bot in its host.
pub(crate) type BotHost = Host<Box<dyn SimBot>>;
