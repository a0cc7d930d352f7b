//! Salesforce for Switchyard: signing in with the three credential types, keeping the
//! resulting tokens alive, and calling the REST API with them.
//!
//! # Layout
//! - [`error`]: the crate's [`Error`]; sign-in failures carry the setup step to fix.
//! - [`auth`]: one sign-in per method (JWT bearer, OAuth2 refresh and code exchange,
//!   client credentials), URL checks (https, loopback exception) and PKCE.
//! - [`provider`]: the [`TokenProvider`]: per credential an in-memory token, persisted
//!   encrypted through the credential store, one sign-in shared by concurrent callers.
//! - [`client`]: the [`Client`] for REST calls: one retry on an expired session.

pub mod auth;
pub mod client;
pub mod error;
pub mod provider;

pub use auth::{AuthSettings, Pkce, Token};
pub use client::{Client, Response, DEFAULT_API_VERSION};
pub use error::{Error, Result, SignInProblem};
pub use provider::TokenProvider;
