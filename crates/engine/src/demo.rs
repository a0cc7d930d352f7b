//! `switchyard demo`: Switchyard for a person who has no account with a plugin's service yet.
//! Every plugin with a [`Demo`] starts a stand-in for its service in this process (seeded
//! with records) and says what to make in it; this module starts the server on
//! `SWITCHYARD_LISTEN` over a throwaway SQLite database, creates the plugins' credentials and
//! workflows through the HTTP API, runs each workflow once, and prints the curl commands to
//! try next. Ctrl+C stops the server and the stand-ins and deletes the demo's data.

use std::any::Any;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use node_api::{Demo, DemoRun, DemoSetup, Plugin};
use rand::RngCore;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::app;
use crate::config::{DemoArgs, Settings};

/// Runs the demo of `plugins` (those that have one), hosting all of them, until Ctrl+C.
pub async fn run(
    mut settings: Settings,
    args: DemoArgs,
    plugins: Vec<Arc<dyn Plugin>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let demos: Vec<(&'static str, Arc<dyn Demo>)> = plugins
        .iter()
        .filter_map(|p| Some((p.name(), p.demo()?)))
        .collect();
    anyhow::ensure!(!demos.is_empty(), "no plugin of this build has a demo");
    let mut setups = Vec::with_capacity(demos.len());
    for (name, demo) in demos {
        let setup = demo
            .start(args.seed)
            .await
            .map_err(|e| anyhow::anyhow!("the {name} demo cannot start: {e}"))?;
        setups.push(setup);
    }

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
    // The stand-in services speak plain http on loopback.
    settings.allow_insecure_hosts = true;
    let listen = settings.listen;
    let state = app::open(settings, plugins).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (set SWITCHYARD_LISTEN)"))?;
    let base = format!("http://{}", reachable(listener.local_addr()?));
    let (_, api_key) = crate::api_keys::create(&state.db, "demo").await?;
    let server = tokio::spawn(app::serve(state, listener, app::shutdown_signal()));

    let api = Api::new(&base, &api_key)?;
    let mut runs = Vec::new();
    let mut guards: Vec<Box<dyn Any + Send + Sync>> = Vec::with_capacity(setups.len());
    let mut services = Vec::with_capacity(setups.len());
    for setup in setups {
        let DemoSetup {
            service,
            credentials,
            workflows,
            guard,
        } = setup;
        guards.push(guard);
        services.push(service);
        let created = async {
            let mut ids = HashMap::new();
            for credential in credentials {
                let answer = api
                    .post(
                        "/api/v1/credentials",
                        &json!({"name": credential.name, "type": credential.credential_type,
                                "data": credential.data}),
                    )
                    .await?;
                ids.insert(credential.name, answer["id"].clone());
            }
            for workflow in workflows {
                let mut body = workflow.workflow;
                fill_credential_ids(&mut body, &ids);
                runs.push(run_once(&api, &body, workflow.run, workflow.try_next).await?);
            }
            anyhow::Ok(())
        };
        if let Err(e) = created.await {
            server.abort();
            return Err(e);
        }
    }

    writeln!(
        out,
        "Switchyard demo at {base}, with {}.\n\
         Its data is thrown away when it stops.\n",
        services.join(" and ")
    )?;
    for run in &runs {
        writeln!(out, "Workflow {:?} ({}) {}", run.name, run.id, run.outcome)?;
    }
    writeln!(out, "\nTry next:")?;
    for run in &runs {
        writeln!(out, "  # {}", run.try_next)?;
        match &run.try_command {
            TryCommand::Webhook { path, body } => writeln!(
                out,
                "  curl -s -X POST '{base}/webhook/{path}' -H 'Content-Type: application/json' -d '{body}'"
            )?,
            TryCommand::Manual => writeln!(
                out,
                "  curl -s -X POST '{base}/api/v1/workflows/{}/run?wait=true' -H 'X-N8N-API-KEY: {api_key}'",
                run.id
            )?,
        }
    }
    writeln!(out, "  # the executions, with every node's output")?;
    writeln!(
        out,
        "  curl -s '{base}/api/v1/executions?includeData=true' -H 'X-N8N-API-KEY: {api_key}'"
    )?;
    writeln!(out, "\nPress Ctrl+C to stop.")?;
    out.flush()?;

    let served = server.await.context("the server task failed")?;
    // The stand-ins stop after the server, which may still be calling them.
    drop(guards);
    served
}

/// A demo workflow after its first run: what to print about it.
struct Run {
    name: String,
    id: String,
    /// After the name and id: how the first run went.
    outcome: String,
    try_next: String,
    try_command: TryCommand,
}

/// The curl command under "Try next".
enum TryCommand {
    Webhook { path: String, body: Value },
    Manual,
}

/// Creates `workflow` through the API and runs it once as `run` says.
async fn run_once(
    api: &Api,
    workflow: &Value,
    run: DemoRun,
    try_next: String,
) -> anyhow::Result<Run> {
    let created = api.post("/api/v1/workflows", workflow).await?;
    let name = text(&created["name"]);
    let id = text(&created["id"]);
    let (outcome, try_command) = match run {
        DemoRun::Webhook {
            path,
            body,
            try_body,
        } => {
            api.post(&format!("/api/v1/workflows/{id}/activate"), &json!({}))
                .await?;
            let answer = api.post(&format!("/webhook/{path}"), &body).await?;
            (
                format!("answered the webhook with: {answer}"),
                TryCommand::Webhook {
                    path,
                    body: try_body,
                },
            )
        }
        DemoRun::Manual { summary } => {
            let execution = api
                .post(&format!("/api/v1/workflows/{id}/run?wait=true"), &json!({}))
                .await?;
            anyhow::ensure!(
                execution["status"] == "success",
                "the workflow {name:?} failed: {}",
                execution["error"]
            );
            (format!("{}.", summary(&execution)), TryCommand::Manual)
        }
    };
    Ok(Run {
        name,
        id,
        outcome,
        try_next,
        try_command,
    })
}

/// Gives each node's reference to a demo credential (by name) the id it was created with.
fn fill_credential_ids(workflow: &mut Value, ids: &HashMap<String, Value>) {
    let Some(nodes) = workflow["nodes"].as_array_mut() else {
        return;
    };
    for node in nodes {
        let Some(refs) = node["credentials"].as_object_mut() else {
            continue;
        };
        for reference in refs.values_mut() {
            let id = reference["name"].as_str().and_then(|name| ids.get(name));
            if let (Some(id), Some(reference)) = (id.cloned(), reference.as_object_mut()) {
                reference.insert("id".into(), id);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_references_get_the_created_ids_by_name() {
        let mut workflow = json!({"nodes": [
            {"name": "A", "credentials": {"someApi": {"name": "Demo"}}},
            {"name": "B", "credentials": {"otherApi": {"name": "Elsewhere"}}},
            {"name": "C"}
        ]});
        let ids = HashMap::from([("Demo".to_owned(), json!("7"))]);
        fill_credential_ids(&mut workflow, &ids);
        assert_eq!(
            workflow["nodes"][0]["credentials"]["someApi"],
            json!({"id": "7", "name": "Demo"})
        );
        assert_eq!(
            workflow["nodes"][1]["credentials"]["otherApi"],
            json!({"name": "Elsewhere"}),
            "a name the demo did not create stays as it was"
        );
    }
}
