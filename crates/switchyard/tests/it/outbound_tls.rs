//! Outbound HTTPS (issue 15): the shared client trusts the platform's store plus the
//! certificates of SWITCHYARD_CA_FILE, and a failed handshake says why in the node's error.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use node_api::ExecutionMode;
use serde_json::json;
use workflow::{
    CancelHandle, ExecutionResult, ExecutionStatus, Executor, NoCredentials, RunRequest,
};

use crate::flows::{node, trigger, workflow};
use crate::tls;

/// `openssl s_server` answering every HTTPS request with 200, stopped on drop.
struct HttpsServer(Child);

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn https_server(certs: &tls::TestCerts, port: u16) -> HttpsServer {
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&certs.cert)
        .arg("-key")
        .arg(&certs.key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = HttpsServer(child);
    tls::wait_for_port(port);
    server
}

/// Runs Manual Trigger -> HTTP Request GET `url` with the given client.
async fn fetch(http: reqwest::Client, url: &str) -> ExecutionResult {
    let wf = workflow(
        json!([
            trigger(),
            node(
                "Fetch",
                "httpRequest",
                4.2,
                json!({"method": "GET", "url": url}),
                0
            ),
        ]),
        &[("Trigger", 0, "Fetch", 0)],
    );
    Executor::new(
        Arc::new(core_nodes::registry()),
        http,
        Arc::new(NoCredentials),
    )
    .run(RunRequest {
        workflow: wf,
        execution_id: "exec-tls".into(),
        mode: ExecutionMode::Manual,
        start_node: None,
        items: Vec::new(),
        cancel: CancelHandle::new(),
        respond_early: None,
    })
    .await
    .expect("the execution runs")
}

#[tokio::test]
async fn a_private_ca_is_trusted_through_the_ca_file_setting_and_its_absence_is_named() {
    if !tls::openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = tls::make_certs(dir.path());
    let port = tls::free_port();
    let _server = https_server(&certs, port);
    let url = format!("https://localhost:{port}/");

    // The platform's store does not hold the test CA: the error says so, not just
    // "error sending request".
    let refused = fetch(engine::app::http_client(None).unwrap(), &url).await;
    assert_eq!(refused.status, ExecutionStatus::Error);
    let error = serde_json::to_string(&refused.error).unwrap();
    assert!(
        error.contains("invalid peer certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );

    let trusted = fetch(engine::app::http_client(Some(&certs.ca)).unwrap(), &url).await;
    assert_eq!(
        trusted.status,
        ExecutionStatus::Success,
        "{:?}",
        trusted.error
    );
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = format!(
        "{:#}",
        engine::app::http_client(Some(&missing)).unwrap_err()
    );
    assert!(e.starts_with("SWITCHYARD_CA_FILE: cannot read"), "{e}");

    let empty = dir.path().join("not-a-certificate.pem");
    std::fs::write(&empty, "hello\n").unwrap();
    let e = format!("{:#}", engine::app::http_client(Some(&empty)).unwrap_err());
    assert!(
        e.contains("SWITCHYARD_CA_FILE") && e.contains("holds no PEM certificate"),
        "{e}"
    );
}

#[test]
fn the_ca_file_setting_is_an_environment_variable_and_a_flag() {
    use clap::Parser;
    let cli = engine::config::Cli::try_parse_from([
        "switchyard",
        "--ca-file",
        "/etc/corp-ca.pem",
        "start",
    ])
    .unwrap();
    assert_eq!(
        cli.settings.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/corp-ca.pem"))
    );
}
