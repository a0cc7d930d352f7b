#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! - `org`: [`FakeOrg`] and [`FakeOrgBuilder`]: configuration, start/stop,
//!   seeding, fault injection and inspection from Rust.
//! - `oauth`: `/services/oauth2/*` (token for four grants, authorize page, userinfo, revoke).
//! - `rest`: `/services/data/*` behind one guard (version, 503 fault, token, daily limit).
//! - `soql`: tokenizer, recursive-descent parser and evaluator for the SOQL subset.
//! - `schema` / `store`: object descriptions, and the in-memory records with Salesforce's write rules.
//! - `inspect`: request recording, counters, scripted answers and `/__fake/*`.
//! - `expected`: lists of expected calls with canned replies (n8n's compat
//!   suite format), scripted in one go and checked against what was received.
//! - `seed`: deterministic realistic records.

mod error;
mod expected;
mod ids;
mod inspect;
mod oauth;
mod org;
mod rest;
mod schema;
mod seed;
mod soql;
mod state;
mod store;

pub use error::{Error, Result};
pub use inspect::{RecordedRequest, RetryAfter};
pub use org::{FakeOrg, FakeOrgBuilder, User};
pub use schema::{CustomObject, Field, FieldType};
