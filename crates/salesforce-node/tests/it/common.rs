//! What every node test needs: the fake org on port 0, a real SQLite credential store, a
//! real `Client`, and a minimal `ExecuteContext` that resolves each item's parameters from
//! a JSON object (no expressions) and hands out the stored credential.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credentials::{
    Actor, CredentialStore as Store, CredentialTypes, EncryptionKey, KeyRing, NewCredential,
    ValidateOptions,
};
use node_api::{
    DecryptedCredential, ExecuteContext, ExecutionMode, Item, JsonObject, Node, NodeError,
    NodeInfo, Parameters, WebhookResponse,
};
use salesforce_fake::{FakeOrg, FakeOrgBuilder, RecordedRequest};
use salesforce_node::{
    AuthSettings, BulkPolling, Client, LimitBackoff, NodeSettings, RetryPolicy, SalesforceNode,
    TokenProvider,
};
use serde_json::{json, Value};

pub const KEY: &str = "test-consumer-key";
pub const SECRET: &str = "test-consumer-secret";
pub const USER: &str = "user@example.com";

/// Retries without long waits, so the tests stay quick; the rules are the same.
pub const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    min_delay: Duration::from_millis(1),
    max_delay: Duration::from_millis(5),
    max_total_delay: Duration::from_secs(1),
    timeout: Duration::from_secs(30),
};

/// Node settings with a short REQUEST_LIMIT_EXCEEDED budget and quick Bulk API polls.
pub fn fast_settings() -> NodeSettings {
    NodeSettings {
        limits: LimitBackoff {
            first_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            budget: Duration::from_millis(600),
        },
        bulk: BulkPolling {
            first_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            timeout: Duration::from_secs(20),
        },
        ..NodeSettings::default()
    }
}

/// A fake org, a store holding one credential per type used, and a client over them.
pub struct Env {
    pub org: FakeOrg,
    pub store: Store,
    pub client: Client,
    credentials: HashMap<String, String>,
    _dir: tempfile::TempDir,
}

/// An org with the test app and a client credentials Run As user.
pub fn org_builder() -> FakeOrgBuilder {
    FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user(USER)
}

/// The default environment: a client credentials credential.
pub async fn env() -> Env {
    env_with(org_builder()).await
}

/// An environment over an org built by `builder` (which must keep [`org_builder`]'s app).
pub async fn env_with(builder: FakeOrgBuilder) -> Env {
    let org = builder.start().await.unwrap();
    let (db, dir) = db::testing::sqlite().await;
    let store = Store::new(
        db,
        Arc::new(KeyRing::new(EncryptionKey::generate(), vec![])),
        Arc::new(
            CredentialTypes::new(salesforce_node::credential_types::credential_types())
                .expect("distinct types"),
        ),
        ValidateOptions {
            allow_insecure_loopback: true,
        },
    );
    let provider = TokenProvider::new(
        Arc::new(store.clone()),
        reqwest::Client::new(),
        AuthSettings {
            allow_insecure_hosts: true,
        },
    );
    let client = Client::new(Arc::new(provider), "v64.0").with_retry(FAST);
    let mut env = Env {
        org,
        store,
        client,
        credentials: HashMap::new(),
        _dir: dir,
    };
    let data = json!({"url": env.org.base_url(), "clientId": KEY, "clientSecret": SECRET});
    env.add_credential("salesforceClientCredentialsApi", data, None)
        .await;
    env
}

impl Env {
    /// Stores a credential of `type_name` (with token data, if given) for the contexts.
    pub async fn add_credential(
        &mut self,
        type_name: &str,
        data: Value,
        token_data: Option<Value>,
    ) -> String {
        let new = NewCredential {
            id: None,
            name: format!("sf {type_name}"),
            type_name: type_name.into(),
            data,
        };
        let id = self.store.create(new, &Actor::Cli).await.unwrap().id;
        if token_data.is_some() {
            self.store.set_token_data(&id, token_data).await.unwrap();
        }
        self.credentials.insert(type_name.into(), id.clone());
        id
    }

    /// An OAuth2 credential already connected with `access_token`, which the org accepts.
    pub async fn connect_oauth2(&mut self, access_token: &str) -> String {
        self.org.accept_token(access_token, USER).unwrap();
        let data = json!({"environment": "production", "clientId": KEY, "clientSecret": SECRET});
        let tokens = json!({"access_token": access_token, "instance_url": self.org.base_url()});
        self.add_credential("salesforceOAuth2Api", data, Some(tokens))
            .await
    }

    /// The node with test settings.
    pub fn node(&self) -> SalesforceNode {
        SalesforceNode::with_settings(self.client.clone(), fast_settings())
    }

    /// The node with test settings, sending more than `threshold` writes through Bulk API 2.0.
    pub fn bulk_node(&self, threshold: usize) -> SalesforceNode {
        let settings = NodeSettings {
            bulk_threshold: threshold,
            ..fast_settings()
        };
        SalesforceNode::with_settings(self.client.clone(), settings)
    }

    /// A context giving every item `params` (client credentials unless they say otherwise).
    pub fn ctx(&self, params: Value) -> Ctx {
        self.ctx_per_item(vec![params])
    }

    /// A context giving item `i` the `i`-th of `params` (the last one past the end).
    pub fn ctx_per_item(&self, params: Vec<Value>) -> Ctx {
        let params = params
            .into_iter()
            .map(|p| {
                let mut p = p.as_object().cloned().expect("parameters are an object");
                p.entry("authentication")
                    .or_insert_with(|| json!("clientCredentials"));
                p
            })
            .collect();
        Ctx {
            info: NodeInfo {
                name: "Salesforce".into(),
                type_name: "n8n-nodes-base.salesforce".into(),
                type_version: 1.0,
            },
            params,
            credentials: self.credentials.clone(),
            store: self.store.clone(),
            continue_on_fail: false,
            http: reqwest::Client::new(),
            span: tracing::Span::none(),
        }
    }

    /// The REST calls the org received (token requests left out), oldest first.
    pub fn data_requests(&self) -> Vec<RecordedRequest> {
        self.org
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/services/data/"))
            .collect()
    }
}

/// A test `ExecuteContext`.
pub struct Ctx {
    info: NodeInfo,
    params: Vec<JsonObject>,
    credentials: HashMap<String, String>,
    store: Store,
    continue_on_fail: bool,
    http: reqwest::Client,
    span: tracing::Span,
}

impl Ctx {
    /// The node's typeVersion.
    pub fn version(mut self, v: f64) -> Self {
        self.info.type_version = v;
        self
    }

    /// Failed items become error items instead of failing the node.
    pub fn continue_on_fail(mut self) -> Self {
        self.continue_on_fail = true;
        self
    }

    /// Runs `node` over `items`; the items of its one output.
    pub async fn run(
        &self,
        node: &SalesforceNode,
        items: Vec<Item>,
    ) -> Result<Vec<Item>, NodeError> {
        let mut out = node.execute(self, items).await?;
        assert_eq!(out.len(), 1, "the node has one output");
        Ok(out.remove(0))
    }

    /// Runs `node` over `n` empty items; the items' JSON.
    pub async fn json(&self, node: &SalesforceNode, n: usize) -> Result<Vec<Value>, NodeError> {
        Ok(jsons(&self.run(node, empty_items(n)).await?))
    }
}

#[async_trait]
impl ExecuteContext for Ctx {
    fn node(&self) -> &NodeInfo {
        &self.info
    }

    fn parameters(&self, item_index: usize) -> Result<Parameters, NodeError> {
        let p = self
            .params
            .get(item_index)
            .or(self.params.last())
            .cloned()
            .unwrap_or_default();
        Ok(Parameters::new(p))
    }

    fn input(&self, _index: usize) -> Option<&[Item]> {
        None
    }

    async fn credentials(&self, credential_type: &str) -> Result<DecryptedCredential, NodeError> {
        let id = self.credentials.get(credential_type).ok_or_else(|| {
            NodeError::credentials(format!("the node has no {credential_type} credential"))
        })?;
        let found = self
            .store
            .get(id)
            .await
            .map_err(|e| NodeError::credentials(e.to_string()))?;
        assert_eq!(found.meta.type_name, credential_type);
        // Only the id matters to the node; the fields stay in the store.
        Ok(DecryptedCredential::new(
            &found.meta.id,
            &found.meta.name,
            &found.meta.type_name,
        ))
    }

    async fn credential_id(&self, credential_type: &str) -> Result<String, NodeError> {
        self.credentials
            .get(credential_type)
            .cloned()
            .ok_or_else(|| {
                NodeError::credentials(format!("the node has no {credential_type} credential"))
            })
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn span(&self) -> &tracing::Span {
        &self.span
    }

    fn execution_id(&self) -> &str {
        "execution-1"
    }

    fn workflow_id(&self) -> &str {
        "workflow-1"
    }

    fn mode(&self) -> ExecutionMode {
        ExecutionMode::Manual
    }

    fn continue_on_fail(&self) -> bool {
        self.continue_on_fail
    }

    fn send_response(&self, _response: WebhookResponse) -> Result<(), NodeError> {
        Ok(())
    }
}

/// `n` items with empty JSON.
pub fn empty_items(n: usize) -> Vec<Item> {
    (0..n).map(|_| Item::new(JsonObject::new())).collect()
}

/// The items' JSON.
pub fn jsons(items: &[Item]) -> Vec<Value> {
    items.iter().map(|i| i.json.clone().into_value()).collect()
}

/// The input item each output item is paired with.
pub fn pairing(items: &[Item]) -> Vec<usize> {
    items
        .iter()
        .map(|i| {
            assert_eq!(i.paired_item.len(), 1, "one pairing per item");
            i.paired_item[0].item
        })
        .collect()
}

/// `(method, path without /services/data/vXX.X)` of each request.
pub fn calls(requests: &[RecordedRequest]) -> Vec<(String, String)> {
    requests
        .iter()
        .map(|r| (r.method.clone(), short_path(&r.path)))
        .collect()
}

/// A REST path below `/services/data/vXX.X`.
pub fn short_path(path: &str) -> String {
    path.strip_prefix("/services/data/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, tail)| format!("/{tail}"))
        .unwrap_or_else(|| path.to_owned())
}

/// The SOQL of a query request, decoded.
pub fn soql(r: &RecordedRequest) -> String {
    r.query_param("q").expect("a query request")
}

impl Env {
    /// A context with `params` exactly as given (no authentication added): n8n's own
    /// workflows leave `authentication` out, meaning OAuth2.
    pub fn ctx_as_is(&self, params: Value) -> Ctx {
        let mut ctx = self.ctx(json!({}));
        ctx.params = vec![params
            .as_object()
            .cloned()
            .expect("parameters are an object")];
        ctx
    }
}

/// A private key (PEM) and its self-signed certificate.
pub fn keypair(_dir: &std::path::Path) -> (String, String) {
    let key = testkit::RsaKey::generate();
    (
        key.private_pem(),
        key.self_signed_certificate("sf-node-test"),
    )
}

/// Runs a story (an `async fn(db::Db)`) on SQLite and on Postgres, as two tests
/// (`story::sqlite`, `story::postgres`); the Postgres one shows as ignored, with the reason,
/// when no test server is named (see `build.rs`).
#[macro_export]
macro_rules! both_backends {
    ($story:ident) => {
        mod $story {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (db, _dir) = db::testing::sqlite().await;
                super::$story(db).await;
            }

            #[cfg_attr(
                postgres_tests_unset,
                ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
            )]
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = db::testing::postgres(stringify!($story))
                    .await
                    .expect("SWITCHYARD_TEST_POSTGRES_URL names the test server");
                super::$story(db).await;
            }
        }
    };
}
