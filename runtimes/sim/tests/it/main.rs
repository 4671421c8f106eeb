//! The simulation kit's integration tests, one binary with a module per behaviour:
//!
//! * `kit`: the kit as a user's test sees it: replays, each fault happening (scripted or
//!   injected while running), participant handles, configurations and token sources,
//!   stepping, shrinking, a bot's commands reaching the emulator. (The echo bot's simulation,
//!   `bot_sim`, is tested with the examples, where its `EchoBot` lives.)

mod kit;
