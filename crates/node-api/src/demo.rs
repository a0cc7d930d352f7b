//! [`Demo`]: what `switchyard demo` shows of a plugin, for a person who has no account with
//! the plugin's service yet.
//!
//! The plugin starts a stand-in for its service in the demo's process and says what to make
//! in it: the credentials, the workflows, how to run each once and what to print. The engine
//! does the rest the same way for every plugin: it starts a throwaway server, creates the
//! credentials and workflows through its HTTP API (as a person would), runs each workflow
//! once and prints the curl commands to try next. The stand-in lives as long as the
//! [`DemoSetup::guard`] the engine holds.

use std::any::Any;
use std::fmt;

use async_trait::async_trait;
use serde_json::Value;

/// A plugin's demo: starts its stand-in service.
#[async_trait]
pub trait Demo: Send + Sync {
    /// Starts the stand-in service on loopback with `records` sample records per object, and
    /// says what the demo creates in it. The error says why it could not start.
    async fn start(&self, records: usize) -> Result<DemoSetup, String>;
}

/// A started demo: what to create and run, and the guard that keeps the stand-in running.
pub struct DemoSetup {
    /// The stand-in for the first line the demo prints, after "with": e.g.
    /// `a fake Salesforce org at http://127.0.0.1:41234 (25 records per object)`.
    pub service: String,
    /// Credentials to create, before any workflow.
    pub credentials: Vec<DemoCredential>,
    /// Workflows to create and run once, in order.
    pub workflows: Vec<DemoWorkflow>,
    /// Keeps the stand-in service running; the engine drops it when the demo stops.
    pub guard: Box<dyn Any + Send + Sync>,
}

impl fmt::Debug for DemoSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoSetup")
            .field("service", &self.service)
            .field("credentials", &self.credentials)
            .field("workflows", &self.workflows)
            .finish_non_exhaustive()
    }
}

/// A credential the demo creates (`POST /api/v1/credentials`). Its data holds only the
/// stand-in's made-up secrets, so `Debug` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoCredential {
    /// Its name; the demo's workflows refer to it by this name.
    pub name: String,
    /// Its credential type, one the plugin declares.
    pub credential_type: String,
    /// Its data, as the API takes it.
    pub data: Value,
}

/// A workflow the demo creates (`POST /api/v1/workflows`) and runs once.
#[derive(Clone, Debug)]
pub struct DemoWorkflow {
    /// The workflow in n8n's JSON. A node's `credentials` entry names a [`DemoCredential`] by
    /// its `name`; the engine fills in the `id` the credential got when it was created.
    pub workflow: Value,
    /// How the demo runs it.
    pub run: DemoRun,
    /// What its curl command under "Try next" does, e.g. `run the search again`.
    pub try_next: String,
}

/// How the demo runs a workflow, and what it prints about the run.
#[derive(Clone, Debug)]
pub enum DemoRun {
    /// Activate the workflow and `POST` `body` to its production webhook `path`; the demo
    /// prints the answer. The curl command under "Try next" sends `try_body`.
    Webhook {
        /// The webhook node's `path`.
        path: String,
        /// The JSON body of the demo's own call.
        body: Value,
        /// The JSON body of the printed curl command.
        try_body: Value,
    },
    /// Run it by hand (`POST /api/v1/workflows/{id}/run?wait=true`); it must succeed.
    Manual {
        /// What the run did, from the execution the API answered (with its data), printed
        /// after the workflow's name, e.g. `found 25 accounts`.
        summary: fn(&Value) -> String,
    },
}
