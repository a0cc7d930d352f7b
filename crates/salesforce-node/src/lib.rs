//! Salesforce for Switchyard: signing in with the three credential types, keeping the
//! resulting tokens alive, and calling the REST API with them.
//!
//! # Layout
//! - [`credential_types`]: the three Salesforce credential types (n8n's names and fields).
//! - [`error`]: the crate's [`Error`]; sign-in failures carry the setup step to fix.
//! - [`auth`]: one sign-in per method (JWT bearer, OAuth2 refresh and code exchange,
//!   client credentials), URL checks (https, loopback exception) and PKCE.
//! - [`provider`]: the [`TokenProvider`]: per credential an in-memory token, persisted
//!   encrypted through the credential store, one sign-in shared by concurrent callers.
//!   A generation per credential keeps a sign-in that raced a credential update from
//!   storing its token.
//! - [`client`]: the [`Client`] for REST calls: one re-auth on an expired session, retries
//!   with backoff for calls safe to repeat, API usage per answer, queries as page streams.
//! - [`metrics`]: per credential counters of API calls, sign-ins and refreshes, and the
//!   last API usage seen; read with [`Client::metrics`].

pub mod auth;
pub mod client;
pub mod credential_types;
pub mod error;
pub mod metrics;
pub mod provider;

pub use auth::{AuthSettings, Pkce, Token};
pub use client::{
    parse_api_version, Call, Client, QueryOptions, QueryPage, Response, RetryPolicy,
    API_VERSION_SETTING, DEFAULT_API_VERSION,
};
pub use error::{ApiError, Error, Result, SignInProblem, TransportKind};
pub use metrics::{ApiUsage, CredentialMetrics};
pub use provider::TokenProvider;
