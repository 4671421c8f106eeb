//! The simulation kit's integration tests, one binary with a module per behaviour:
//!
//! * `kit`: the kit as a user's test sees it: replays, the `bot_sim` example's echo bot
//!   passing and its buggy twin caught, each fault happening, a bot's commands reaching the
//!   emulator.

mod kit;
