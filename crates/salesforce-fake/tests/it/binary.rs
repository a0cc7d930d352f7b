//! The `salesforce-fake` binary: flags, the printed URL, and a client
//! credentials login followed by a query, as the README's curl example does.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_its_url_and_serves_seeded_records() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_salesforce-fake"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--consumer-key",
                "cli-key",
                "--consumer-secret",
                "cli-secret",
                "--username",
                "user@example.com",
                "--client-credentials-user",
                "user@example.com",
                "--seed",
                "5",
                "--token-lifetime",
                "30m",
                "--daily-limit",
                "15000",
                "--refresh-token-rotation",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts"),
    );
    // The first line arrives once the socket is bound; a reader thread lets
    // a hung binary fail the test instead of hanging it.
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the binary prints its URL within a minute");
    let url = line
        .trim()
        .strip_prefix("salesforce-fake listening on ")
        .expect("first line names the URL")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let token: Value = client
        .post(format!("{url}/services/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cli-key"),
            ("client_secret", "cli-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().expect("a token");
    let res = client
        .get(format!(
            "{url}/services/data/v65.0/query?q=SELECT+Id,Name+FROM+Account"
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["sforce-limit-info"], "api-usage=1/15000");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totalSize"], 5);
}

#[test]
fn binary_rejects_a_bad_flag_value_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_salesforce-fake"))
        .args(["--token-lifetime", "soon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token-lifetime"), "{err}");
}
