//! The plugin contract between the Switchyard engine and its nodes.
//!
//! A node (core nodes in `core-nodes`, other plugins' in their own crates) implements [`Node`] or
//! [`PollingTrigger`]; the engine calls it with a [`ExecuteContext`] that gives it resolved
//! parameters, typed decrypted credentials, a shared HTTP client and a logger. This crate knows
//! nothing about databases or web frameworks, so plugins stay small and testable.
//!
//! # Layout
//! - [`item`]: [`Item`], the unit of data flowing between nodes (n8n's `INodeExecutionData`).
//! - [`error`]: [`NodeError`], what a node reports; never carries a secret.
//! - [`params`]: [`Parameters`], typed access to a node's (already resolved) parameters.
//! - [`description`]: [`NodeDescription`], a node's type name, versions, credentials, outputs.
//! - [`credential`]: [`DecryptedCredential`] and the [`CredentialProvider`] the engine implements.
//! - [`credential_type`]: [`CredentialType`], a credential type's fields, validation,
//!   redaction and token rules, as a plugin declares it.
//! - [`context`]: [`ExecuteContext`], what a node may ask of the engine while it runs (run
//!   another stored workflow too, through the [`WorkflowRunner`] the engine implements).
//! - [`node`]: the [`Node`] and [`PollingTrigger`] traits.
//! - [`plugin`]: [`Plugin`], what an integration crate hands the engine: its nodes, triggers,
//!   credential types, settings and hooks (credential test, OAuth2 connect, metrics).
//! - [`demo`]: [`Demo`], what `switchyard demo` shows of a plugin: a stand-in service and
//!   the credentials and workflows to make in it.

pub mod context;
pub mod credential;
pub mod credential_type;
pub mod demo;
pub mod description;
pub mod error;
pub mod item;
pub mod node;
pub mod params;
pub mod plugin;

pub use context::{
    ExecuteContext, ExecutionMode, NodeInfo, SubWorkflowCall, WebhookResponse, WorkflowRunner,
};
pub use credential::{
    CredentialError, CredentialProvider, CredentialRef, DecryptedCredential, SecretData,
    StoredCredential,
};
pub use credential_type::{
    CredentialType, FieldKind, FieldProblem, FieldSpec, TokensAfterUpdate, ValidateOptions,
    ValidationError, REDACTED,
};
pub use demo::{Demo, DemoCredential, DemoRun, DemoSetup, DemoWorkflow};
pub use description::{CredentialSpec, NodeDescription, ParameterSpec};
pub use error::{error_with_causes, NodeError, NodeErrorKind};
pub use item::{BinaryData, Item, ItemJson, ItemRef, JsonObject, PairedSource};
pub use node::{Node, PollMode, PollingTrigger};
pub use params::Parameters;
pub use plugin::{
    AuthorizeRequest, CodeExchange, ConnectError, Host, MetricFamily, MetricKind, OAuth2Connect,
    Plugin, PluginRuntime, Sample, Setting, SettingValues, SignRequest, SignedRequest,
};

/// Re-exported so plugins use the same `async_trait` as the traits they implement.
pub use async_trait::async_trait;
