//! Integration tests for the fake org, in one binary so it links once.
//!
//! Every test starts its own org on port 0 and talks to it with a real HTTP
//! client. Nothing waits on the wall clock: expiry and commit visibility are
//! driven through the org's test hooks (`advance_clock`, `expire_tokens_now`,
//! `insert_uncommitted`/`commit`), and the only waits are for events, each
//! under a generous overall timeout.

mod binary;
mod bulk;
mod common;
mod expected;
mod node_ops;
mod oauth;
mod rest;
mod trigger;
