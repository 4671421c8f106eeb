//! The core's integration tests, one binary: a module per behaviour of the sans-IO client,
//! the Spaces session and the codecs. Timed behaviour runs on the virtual clock in [`support`].

mod support;

mod ack_ids;
mod binary_reassembly;
mod buffered_emits_flush_in_order;
mod codec_properties;
mod connect_timeout;
mod credential_refusals_and_error_packets;
mod decoding_agrees_with_a_full_json_parse;
mod echoes_and_delivery_policies;
mod engine_codec_golden_vectors;
mod heartbeat_timing;
mod join_and_subscribe_deadlines;
mod namespace_errors_and_server_disconnect;
mod namespaces_and_root_connect;
mod owned_event_arguments;
mod reconnect_backoff;
#[cfg(feature = "service-app")]
mod service_app_jwt;
mod socket_codec_golden_vectors;
mod spaces_event_payloads;
mod spaces_failures_and_limits;
mod spaces_subscriptions_survive_reconnects;
mod spaces_token_per_connection;
mod who_am_i;
