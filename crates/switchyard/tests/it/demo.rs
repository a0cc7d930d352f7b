//! `switchyard demo`, the real binary: it starts, runs its two workflows once, and the curl
//! command it prints for the webhook works against it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Runs one printed shell command (a curl line) and parses its output as JSON.
fn curl(line: &str) -> Value {
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{line}: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {out:?}"))
}

#[test]
fn demo_starts_and_its_printed_webhook_curl_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["demo", "--seed", "5"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHYARD_DATA_DIR", dir.path())
        .env("SWITCHYARD_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchyard demo starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    while !printed
        .iter()
        .any(|l: &String| l.contains("Press Ctrl+C to stop"))
    {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => printed.push(line),
            Err(e) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "the demo did not finish setting up ({e}); printed {printed:#?}; stderr {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    let text = printed.join("\n");
    assert!(
        text.contains("answered the webhook with: {")
            && text.contains("\"created\":true")
            && text.contains("\"success\":true"),
        "the first run upserted a contact:\n{text}"
    );
    assert!(text.contains("found 5 accounts"), "{text}");

    let webhook = printed
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("curl") && l.contains("/webhook/"))
        .unwrap_or_else(|| panic!("no webhook curl in\n{text}"));
    let first = curl(webhook);
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(first["created"], true, "a new contact: {first}");
    let again = curl(webhook);
    assert_eq!(
        again["created"], false,
        "matched by its external id: {again}"
    );
    assert_eq!(again["id"], first["id"]);

    let run = printed
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("curl") && l.contains("/run?wait=true"))
        .unwrap_or_else(|| panic!("no run curl in\n{text}"));
    let execution = curl(run);
    assert_eq!(execution["status"], "success", "{execution}");

    // SIGTERM, as Ctrl+C: the demo stops cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
