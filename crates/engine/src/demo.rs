//! `switchyard demo`: Switchyard for a person who has no Salesforce org yet. It starts the
//! fake org of `salesforce-fake` in this process (seeded with records), the server on
//! `SWITCHYARD_LISTEN` over a throwaway SQLite database, creates a client credentials
//! credential and two workflows through the HTTP API (webhook -> Salesforce upsert contact
//! -> Respond to Webhook; Salesforce search), runs each once, and prints the curl commands to
//! try next. Ctrl+C stops both and deletes the demo's data.
//!
//! The engine otherwise never names Salesforce outside `plugins.rs`: the demo needs an org,
//! so this module (and only this module) depends on the fake one.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use rand::RngCore;
use salesforce_fake::{CustomObject, FakeOrg, Field};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::app;
use crate::config::{DemoArgs, Settings};

const CONSUMER_KEY: &str = "demo-consumer-key";
const CONSUMER_SECRET: &str = "demo-consumer-secret";
const RUN_AS: &str = "user@example.com";
/// The contact field the upsert matches on: Salesforce upserts by an external id field, so
/// the demo org's contacts get one, as an admin would add it.
const EXTERNAL_ID: &str = "External_Id__c";
const WEBHOOK_PATH: &str = "demo-contact";

/// Runs the demo until Ctrl+C.
pub async fn run(
    mut settings: Settings,
    args: DemoArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let org = FakeOrg::builder()
        .consumer_key(CONSUMER_KEY)
        .consumer_secret(CONSUMER_SECRET)
        .client_credentials_user(RUN_AS)
        .custom_object(
            CustomObject::new("Contact").field(Field::text(EXTERNAL_ID, 80).external_id()),
        )
        .seed(args.seed)
        .start()
        .await
        .context("cannot start the fake Salesforce org")?;

    // Fresh data every time: the demo's workflows never meet a real installation's.
    let data_dir = std::env::temp_dir().join(format!("switchyard-demo-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(data_dir.clone());
    settings.data_dir = data_dir.clone();
    settings.set_database_url(format!(
        "sqlite://{}",
        data_dir.join("switchyard.db").display()
    ));
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    settings.set_keys(Some(&hex::encode(key)), None);
    // The fake org speaks plain http on loopback.
    settings.allow_insecure_hosts = true;
    let listen = settings.listen;
    let state = app::open(settings).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (set SWITCHYARD_LISTEN)"))?;
    let base = format!("http://{}", reachable(listener.local_addr()?));
    let (_, api_key) = crate::api_keys::create(&state.db, "demo").await?;
    let server = tokio::spawn(app::serve(state, listener, app::shutdown_signal()));

    let setup = set_up(&base, &api_key, org.base_url()).await;
    let report = match setup {
        Ok(report) => report,
        Err(e) => {
            server.abort();
            return Err(e);
        }
    };
    let contact = json!({"email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper"});
    writeln!(
        out,
        "Switchyard demo at {base}, with a fake Salesforce org at {} ({} records per object).\n\
         Its data is thrown away when it stops.\n",
        org.base_url(),
        args.seed
    )?;
    writeln!(
        out,
        "Workflow {:?} ({}) answered the webhook with: {}",
        report.upsert_name, report.upsert_id, report.upsert_answer
    )?;
    writeln!(
        out,
        "Workflow {:?} ({}) found {} accounts.\n",
        report.search_name, report.search_id, report.search_found
    )?;
    writeln!(out, "Try next:")?;
    writeln!(out, "  # upsert a contact through the webhook")?;
    writeln!(
        out,
        "  curl -s -X POST '{base}/webhook/{WEBHOOK_PATH}' -H 'Content-Type: application/json' -d '{contact}'"
    )?;
    writeln!(out, "  # run the search again")?;
    writeln!(
        out,
        "  curl -s -X POST '{base}/api/v1/workflows/{}/run?wait=true' -H 'X-N8N-API-KEY: {api_key}'",
        report.search_id
    )?;
    writeln!(out, "  # the executions, with every node's output")?;
    writeln!(
        out,
        "  curl -s '{base}/api/v1/executions?includeData=true' -H 'X-N8N-API-KEY: {api_key}'"
    )?;
    writeln!(out, "\nPress Ctrl+C to stop.")?;
    out.flush()?;

    let served = server.await.context("the server task failed")?;
    org.shutdown().await;
    served
}

/// What the first runs gave.
struct Report {
    upsert_name: String,
    upsert_id: String,
    upsert_answer: Value,
    search_name: String,
    search_id: String,
    search_found: usize,
}

/// Creates the credential and workflows through the API and runs each once.
async fn set_up(base: &str, api_key: &str, org_url: &str) -> anyhow::Result<Report> {
    let api = Api::new(base, api_key)?;
    let credential = api
        .post(
            "/api/v1/credentials",
            &json!({"name": "Demo org", "type": "salesforceClientCredentialsApi",
                    "data": {"url": org_url, "clientId": CONSUMER_KEY,
                             "clientSecret": CONSUMER_SECRET}}),
        )
        .await?;
    let credential_ref = json!({"salesforceClientCredentialsApi": {
        "id": credential["id"], "name": "Demo org"}});

    let upsert = api
        .post(
            "/api/v1/workflows",
            &json!({
                "name": "Demo: upsert a contact from a webhook",
                "nodes": [
                    {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                     "parameters": {"httpMethod": "POST", "path": WEBHOOK_PATH,
                                    "responseMode": "responseNode"}},
                    {"name": "Upsert contact", "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
                     "parameters": {"authentication": "clientCredentials", "resource": "contact",
                                    "operation": "upsert", "externalId": EXTERNAL_ID,
                                    "externalIdValue": "={{ $json.body.email }}",
                                    "lastname": "={{ $json.body.lastName }}",
                                    "additionalFields": {"firstName": "={{ $json.body.firstName }}",
                                                         "email": "={{ $json.body.email }}"}},
                     "credentials": credential_ref},
                    {"name": "Respond", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1.1,
                     "parameters": {"respondWith": "firstIncomingItem"}}
                ],
                "connections": {
                    "Webhook": {"main": [[{"node": "Upsert contact", "type": "main", "index": 0}]]},
                    "Upsert contact": {"main": [[{"node": "Respond", "type": "main", "index": 0}]]}
                }
            }),
        )
        .await?;
    let upsert_id = text(&upsert["id"]);
    api.post(
        &format!("/api/v1/workflows/{upsert_id}/activate"),
        &json!({}),
    )
    .await?;
    let upsert_answer = api
        .post(
            &format!("/webhook/{WEBHOOK_PATH}"),
            &json!({"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"}),
        )
        .await?;

    let search = api
        .post(
            "/api/v1/workflows",
            &json!({
                "name": "Demo: search accounts",
                "nodes": [
                    {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
                     "parameters": {}},
                    {"name": "Search", "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
                     "parameters": {"authentication": "clientCredentials", "resource": "search",
                                    "query": "SELECT Id, Name, Industry FROM Account"},
                     "credentials": credential_ref}
                ],
                "connections": {
                    "Start": {"main": [[{"node": "Search", "type": "main", "index": 0}]]}
                }
            }),
        )
        .await?;
    let search_id = text(&search["id"]);
    let execution = api
        .post(
            &format!("/api/v1/workflows/{search_id}/run?wait=true"),
            &json!({}),
        )
        .await?;
    anyhow::ensure!(
        execution["status"] == "success",
        "the search workflow failed: {}",
        execution["error"]
    );
    let search_found = execution["data"]["resultData"]["runData"]["Search"][0]["data"]["main"][0]
        .as_array()
        .map_or(0, Vec::len);
    Ok(Report {
        upsert_name: text(&upsert["name"]),
        upsert_id,
        upsert_answer,
        search_name: text(&search["name"]),
        search_id,
        search_found,
    })
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The demo's own API client: what a person would do with curl.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: &str, api_key: &str) -> anyhow::Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut key = reqwest::header::HeaderValue::from_str(api_key)?;
        key.set_sensitive(true);
        headers.insert("X-N8N-API-KEY", key);
        Ok(Self {
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()?,
            base: base.to_owned(),
        })
    }

    /// POSTs `body` to `path`; the JSON answer, or an error with the server's message.
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = res.status();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "POST {path} answered {status}: {answer}"
        );
        Ok(answer)
    }
}

/// The address to print: a wildcard listen address is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

/// Deletes the demo's data directory when the demo ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
