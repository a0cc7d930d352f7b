//! The node-api contract as a plugin sees it: a custom node registered beside the core nodes
//! gets its typed credential from the engine's provider, writes token data back, and is
//! validated against the credential store; webhook response modes.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use node_api::{
    CredentialError, CredentialProvider, CredentialRef, CredentialSpec, DecryptedCredential,
    ExecuteContext, ExecutionMode, Item, JsonObject, Node, NodeDescription, NodeError,
    ParameterSpec, StoredCredential,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use workflow::webhook::{run_webhook, start_webhook, WebhookRequest};
use workflow::{
    validate, CancelHandle, CredentialLookup, ExecutionStatus, Executor, RunRequest, Workflow,
    WorkflowError,
};

const SECRET: &str = "very-secret-api-key-123";

struct Keyed(NodeDescription);

#[async_trait]
impl Node for Keyed {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let cred = ctx.credentials("testKeyApi").await?;
        let user = cred.string("user")?.to_string();
        let key_len = cred.secret("apiKey")?.expose_secret().len();
        let id = ctx.credential_id("testKeyApi").await?;
        let out = input
            .into_iter()
            .enumerate()
            .map(|(i, mut item)| {
                item.json.insert("user".into(), user.clone().into());
                item.json.insert("keyLength".into(), key_len.into());
                item.json.insert("credentialId".into(), id.clone().into());
                item.paired_with(i)
            })
            .collect();
        Ok(vec![out])
    }
}

fn keyed() -> Arc<Keyed> {
    let mut d = NodeDescription::new("test.keyed", "Keyed", &[1.0]);
    d.credentials.push(CredentialSpec {
        type_name: "testKeyApi".into(),
        required: true,
        show: Default::default(),
    });
    Arc::new(Keyed(d))
}

#[derive(Default)]
struct Provider {
    decrypted: Mutex<usize>,
}

#[async_trait]
impl CredentialProvider for Provider {
    async fn get(&self, r: &CredentialRef, ty: &str) -> Result<DecryptedCredential, NodeError> {
        if r.id.as_deref() != Some("c1") {
            return Err(NodeError::credentials(format!(
                "credential \"{}\" not found",
                r.name
            )));
        }
        *self.decrypted.lock().unwrap() += 1;
        Ok(DecryptedCredential::new("c1", &r.name, ty)
            .with_field("user", json!("ada"))
            .with_secret("apiKey", SecretString::from(SECRET)))
    }

    async fn resolve(&self, r: &CredentialRef, _ty: &str) -> Result<String, NodeError> {
        r.id.clone()
            .filter(|id| id == "c1")
            .ok_or_else(|| NodeError::credentials("not found"))
    }

    async fn by_id(&self, id: &str) -> Result<StoredCredential, CredentialError> {
        Err(CredentialError::NotFound { id: id.into() })
    }

    async fn set_token_data(&self, id: &str, _: Option<Value>) -> Result<(), CredentialError> {
        Err(CredentialError::NotFound { id: id.into() })
    }
}

#[async_trait]
impl CredentialLookup for Provider {
    async fn credential_type(&self, r: &CredentialRef) -> Option<String> {
        match r.id.as_deref() {
            Some("c1") => Some("testKeyApi".into()),
            Some("c2") => Some("otherApi".into()),
            _ => None,
        }
    }
}

fn workflow(cred_id: &str) -> Workflow {
    Workflow::from_value(json!({
        "id": "w", "name": "plugin",
        "nodes": [
            {"name": "Trigger", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Keyed", "type": "test.keyed", "typeVersion": 1, "parameters": {},
             "credentials": {"testKeyApi": {"id": cred_id, "name": "My key"}}}
        ],
        "connections": {"Trigger": {"main": [[{"node": "Keyed", "type": "main", "index": 0}]]}}
    }))
    .unwrap()
}

fn executor(provider: Arc<Provider>) -> Executor {
    let mut registry = core_nodes::registry();
    registry.register(keyed());
    Executor::new(Arc::new(registry), reqwest::Client::new(), provider)
}

#[tokio::test]
async fn a_plugin_gets_typed_credentials_and_their_id() {
    let provider = Arc::new(Provider::default());
    let exec = executor(provider.clone());
    let wf = Arc::new(workflow("c1"));
    validate(&wf, exec.registry(), Some(provider.as_ref()))
        .await
        .unwrap();
    let r = exec
        .run(RunRequest {
            workflow: wf,
            execution_id: "e".into(),
            mode: ExecutionMode::Manual,
            start_node: None,
            items: vec![Item::new(JsonObject::new())],
            cancel: CancelHandle::new(),
            respond_early: None,
        })
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(
        r.last_node_output()[0].json.clone().into_value(),
        json!({"user": "ada", "keyLength": SECRET.len(), "credentialId": "c1"})
    );
    // The id is resolved without decrypting the credential a second time.
    assert_eq!(*provider.decrypted.lock().unwrap(), 1);
    // The secret is nowhere in the recorded execution.
    assert!(!r.data_json().to_string().contains(SECRET));
}

#[tokio::test]
async fn a_missing_credential_fails_the_node_and_validation_names_it() {
    let provider = Arc::new(Provider::default());
    let exec = executor(provider.clone());
    for (id, want) in [
        ("c9", "node \"Keyed\": credential \"My key\" (id c9) does not exist"),
        ("c2", "node \"Keyed\": credential \"My key\" is of type \"otherApi\", expected \"testKeyApi\""),
    ] {
        let err = validate(&workflow(id), exec.registry(), Some(provider.as_ref())).await.unwrap_err();
        let WorkflowError::Invalid(p) = err else { panic!() };
        assert_eq!(p.iter().map(ToString::to_string).collect::<Vec<_>>(), vec![want]);
    }
    let r = exec
        .run(RunRequest {
            workflow: Arc::new(workflow("c9")),
            execution_id: "e".into(),
            mode: ExecutionMode::Manual,
            start_node: None,
            items: vec![],
            cancel: CancelHandle::new(),
            respond_early: None,
        })
        .await
        .unwrap();
    let err = r.error.unwrap();
    assert_eq!(
        (err.node.as_deref(), err.message.as_str()),
        (Some("Keyed"), "credential \"My key\" not found")
    );
}

#[tokio::test]
async fn a_value_outside_a_fixed_list_is_refused_at_save_naming_node_parameter_and_value() {
    let mut d = NodeDescription::new("test.listed", "Listed", &[1.0]);
    d.parameters.push(ParameterSpec {
        options: Some(vec![json!("create"), json!("get")]),
        ..ParameterSpec::required("operation")
    });
    let mut registry = core_nodes::registry();
    registry.register(Arc::new(Keyed(d)));
    let wf = |operation: Value| {
        Workflow::from_value(json!({
            "name": "listed",
            "nodes": [{"name": "Pick", "type": "test.listed", "typeVersion": 1,
                       "parameters": {"operation": operation}}],
            "connections": {}
        }))
        .unwrap()
    };
    let err = validate(&wf(json!("upsert")), &registry, None)
        .await
        .unwrap_err();
    let WorkflowError::Invalid(p) = err else {
        panic!()
    };
    assert_eq!(
        p.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["node \"Pick\": Parameter \"operation\" has an unknown value \"upsert\" (accepted: create, get)"]
    );
    validate(&wf(json!("get")), &registry, None).await.unwrap();
    // An expression is judged when it runs, not when it is saved.
    validate(&wf(json!("={{ $json.op }}")), &registry, None)
        .await
        .unwrap();
}

fn hook(mode: &str, extra: Value) -> Arc<Workflow> {
    let mut params =
        json!({"httpMethod": "POST", "path": "p", "responseMode": mode, "options": {}});
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    Arc::new(
        Workflow::from_value(json!({
            "name": "hook",
            "nodes": [
                {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "parameters": params},
                {"name": "Check", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1, "disabled": true,
                 "parameters": {"errorMessage": "boom"}}
            ],
            "connections": {"Webhook": {"main": [[{"node": "Check", "type": "main", "index": 0}]]}}
        }))
        .unwrap(),
    )
}

fn request(test: bool) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        path: "p".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        query: JsonObject::from_iter([("q".to_string(), json!("1"))]),
        body: json!({"v": 1}),
        base_url: "http://localhost:5678".into(),
        params: Default::default(),
        test,
    }
}

fn body(r: &node_api::WebhookResponse) -> Value {
    serde_json::from_slice(r.body.as_deref().unwrap_or(b"null")).unwrap()
}

#[tokio::test]
async fn webhook_response_modes_answer_as_n8n() {
    let exec = core_nodes::executor();
    let out = run_webhook(
        &exec,
        hook("onReceived", json!({})),
        "Webhook",
        "1".into(),
        &request(false),
    )
    .await
    .unwrap();
    assert_eq!(
        (out.response.status, body(&out.response)),
        (200, json!({"message": "Workflow was started"}))
    );

    let out = run_webhook(
        &exec,
        hook("lastNode", json!({})),
        "Webhook",
        "2".into(),
        &request(true),
    )
    .await
    .unwrap();
    let b = body(&out.response);
    assert_eq!(out.response.status, 200);
    assert_eq!(b["body"], json!({"v": 1}));
    assert_eq!(b["query"], json!({"q": "1"}));
    assert_eq!(b["webhookUrl"], "http://localhost:5678/webhook-test/p");
    assert_eq!(b["executionMode"], "test");

    // A failing workflow answers 500 with n8n's message, never the error's details.
    let mut wf = (*hook("lastNode", json!({}))).clone();
    wf.nodes[1].disabled = None;
    let out = run_webhook(&exec, Arc::new(wf), "Webhook", "3".into(), &request(false))
        .await
        .unwrap();
    assert_eq!(
        (out.response.status, body(&out.response)),
        (500, json!({"message": "Error in workflow"}))
    );
    assert_eq!(out.execution.error.unwrap().message, "boom");
}

/// `test.gate`: passes its items on once the test opens the gate (a watch channel), saying
/// first that it has been reached.
struct Gate {
    description: NodeDescription,
    reached: tokio::sync::mpsc::UnboundedSender<()>,
    open: tokio::sync::watch::Receiver<bool>,
}

#[async_trait]
impl Node for Gate {
    fn description(&self) -> &NodeDescription {
        &self.description
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let _ = self.reached.send(());
        let mut open = self.open.clone();
        open.wait_for(|open| *open)
            .await
            .map_err(|_| NodeError::operation("the gate was dropped"))?;
        Ok(vec![input])
    }
}

// Multi-threaded like the server: the caller's task must be free to run while the execution
// goes on. "Before the end" is proven by order, not by a clock: the node after Respond to
// Webhook waits for a gate the test opens only once it holds the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn respond_to_webhook_answers_before_the_execution_ends() {
    let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel();
    let (open, open_rx) = tokio::sync::watch::channel(false);
    let mut registry = core_nodes::registry();
    registry.register(Arc::new(Gate {
        description: NodeDescription::new("test.gate", "Gate", &[1.0]),
        reached: reached_tx,
        open: open_rx,
    }));
    let exec = Executor::new(
        Arc::new(registry),
        reqwest::Client::new(),
        Arc::new(Provider::default()),
    );
    let wf = Arc::new(
        Workflow::from_value(json!({
            "name": "early",
            "nodes": [
                {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                 "parameters": {"httpMethod": "POST", "path": "p", "responseMode": "responseNode"}},
                {"name": "Respond", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1.1,
                 "parameters": {"respondWith": "text", "responseBody": "={{ 'got ' + $json.body.v }}"}},
                {"name": "Held", "type": "test.gate", "typeVersion": 1, "parameters": {}}
            ],
            "connections": {
                "Webhook": {"main": [[{"node": "Respond", "type": "main", "index": 0}]]},
                "Respond": {"main": [[{"node": "Held", "type": "main", "index": 0}]]}
            }
        }))
        .unwrap(),
    );
    let wait = std::time::Duration::from_secs(30);
    let start = tokio::time::timeout(
        wait,
        start_webhook(exec, wf, "Webhook", "e".into(), request(false)),
    )
    .await
    .expect("answered while the node after Respond to Webhook is still held")
    .unwrap();
    assert_eq!(start.response.status, 200);
    assert_eq!(start.response.body.as_deref(), Some(&b"got 1"[..]));
    // The execution is still under way: it has reached the held node and cannot end.
    tokio::time::timeout(wait, reached.recv())
        .await
        .expect("the node after Respond to Webhook runs")
        .expect("the gate node is alive");
    let mut execution = start.execution;
    assert!(
        futures::poll!(&mut execution).is_pending(),
        "the execution ended while its last node was held"
    );
    open.send(true).unwrap();
    let result = tokio::time::timeout(wait, execution)
        .await
        .expect("the execution ends once released")
        .unwrap()
        .unwrap();
    assert_eq!(
        result.status,
        ExecutionStatus::Success,
        "{:?}",
        result.error
    );
    assert_eq!(result.last_node.as_deref(), Some("Held"));
}
