//! Salesforce for Switchyard, as a plugin: signing in with the three credential types,
//! keeping the resulting tokens alive, calling the REST API with them, and the node built on
//! that. The engine knows this crate only as the [`Plugin`](node_api::Plugin) [`plugin()`]
//! returns.
//!
//! # Layout
//! - [`credential_types`]: the three Salesforce credential types (n8n's names and fields).
//! - [`error`]: the crate's [`Error`]; sign-in failures carry the setup step to fix.
//! - [`auth`]: one sign-in per method (JWT bearer, OAuth2 refresh and code exchange,
//!   client credentials), URL checks (https, loopback exception).
//! - [`provider`]: the [`TokenProvider`]: per credential an in-memory token, persisted
//!   encrypted through the credential store, one sign-in shared by concurrent callers.
//!   A generation per credential keeps a sign-in that raced a credential update from
//!   storing its token.
//! - [`client`]: the [`Client`] for REST calls: one re-auth on an expired session, retries
//!   with backoff for calls safe to repeat, API usage per answer, queries as page streams.
//! - [`metrics`]: per credential counters of API calls, sign-ins and refreshes, and the
//!   last API usage seen; read with [`Client::metrics`].
//! - [`node`]: the [`SalesforceNode`] (`n8n-nodes-base.salesforce`): every n8n resource and
//!   operation over the [`Client`], record writes in batches.
//! - [`trigger`]: the [`SalesforceTrigger`] (`n8n-nodes-base.salesforceTrigger`): created and
//!   updated records of an object, each once, from a keyset cursor with an overlap window;
//!   triggers polling the same query in one tick share it.
//! - [`plugin`]: the plugin value: settings, credential types, the node and the trigger, the
//!   credential test, the OAuth2 connect strategy, cache invalidation and metrics.
//! - [`demo`]: what `switchyard demo` shows: the fake org of `salesforce-fake`, seeded, a
//!   client credentials credential for it, an upsert behind a webhook and a search.

pub mod auth;
pub mod client;
pub mod credential_types;
pub mod demo;
pub mod error;
pub mod metrics;
pub mod node;
pub mod plugin;
pub mod provider;
pub mod trigger;

pub use auth::{AuthSettings, Token};
pub use client::{
    parse_api_version, Call, Client, QueryOptions, QueryPage, Response, RetryPolicy,
    API_VERSION_SETTING, DEFAULT_API_VERSION,
};
pub use error::{ApiError, Error, Result, SignInProblem, TransportKind};
pub use metrics::{ApiUsage, CredentialMetrics};
pub use node::{BulkPolling, LimitBackoff, NodeSettings, SalesforceNode, DEFAULT_BULK_THRESHOLD};
pub use plugin::{plugin, SalesforcePlugin};
pub use provider::TokenProvider;
pub use trigger::{SalesforceTrigger, TriggerSettings};
