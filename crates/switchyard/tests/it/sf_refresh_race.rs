//! Two servers on one database, the test server in this process and the real
//! `switchyard start` in another, refresh one Salesforce OAuth2 credential at once, with
//! refresh-token rotation on. The org revokes the whole grant when a rotated-out refresh
//! token comes back, so the two must agree on one refresh (through the store) and both use
//! its token: the credential keeps working. (No command of the CLI signs in, so the second
//! party is a second server.)

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{self, Api, Backend, TestEnv, TestServer, KEY_A};
use reqwest::redirect::Policy;
use salesforce_fake::FakeOrg;
use serde_json::json;

const KEY: &str = "test-consumer-key";
const SECRET: &str = "test-consumer-secret";
const CALLBACK: &str = "/rest/oauth2-credential/callback";
const TOKEN: &str = "POST /services/oauth2/token";
const USERINFO: &str = "GET /services/oauth2/userinfo";

common::on_both_backends!(two_servers_refreshing_one_rotating_credential_keep_it_working);

async fn two_servers_refreshing_one_rotating_credential_keep_it_working(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "sf_refresh_race").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let a = TestServer::start_public(settings).await;
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .auto_approve(true)
        .refresh_token_rotation(true)
        .callback_url(&a.url(CALLBACK))
        .start()
        .await
        .unwrap();
    let api_a = a.api(&key);

    // A credential, connected through server a's OAuth2 flow.
    let (_, created) = api_a
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "sf", "type": "salesforceOAuth2Api",
                    "data": {"environment": "production", "clientId": KEY,
                             "clientSecret": SECRET, "myDomainUrl": org.base_url()}}),
        )
        .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let (status, body) = api_a
        .get(&format!("/rest/oauth2-credential/auth?id={id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let no_redirects = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .get(body["data"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    let res = reqwest::get(&callback).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Read from the database itself, not through server a's cache.
    let refresh_token = |a: &TestServer, id: &str| {
        let credentials = a.state.credentials.clone().with_cache_ttl(Duration::ZERO);
        let id = id.to_owned();
        async move {
            let data = credentials.get(&id).await.unwrap().token_data.unwrap();
            assert!(
                data.expose().get("refreshing_until").is_none(),
                "no refresh claim is left behind"
            );
            data.get_str("refresh_token").unwrap().to_owned()
        }
    };
    let first_refresh = refresh_token(&a, &id).await;

    // Server b: the real binary, on the same database.
    let (child, logs) = spawn_server(&env);
    let mut b = Server(child);
    let b_base = wait_ready(&mut b, &logs).await;
    let api_b = Api::keyed(&b_base, &key);

    let test_path = format!("/api/v1/credentials/{id}/test");
    let test = |api: &Api| {
        let (api, path) = (api.clone(), test_path.clone());
        tokio::spawn(async move { api.post(&path).await })
    };
    // Both use the stored token: no token request yet.
    let exchanged = org.counter(TOKEN);
    for api in [&api_a, &api_b] {
        assert_eq!(
            test(api).await.unwrap(),
            (reqwest::StatusCode::OK, json!({"status": "OK"}))
        );
    }
    assert_eq!(org.counter(TOKEN), exchanged);

    // The token expires. Each server gets a credential test, sends the expired token, is
    // refused, and goes for a new one, while the org holds the first refresh unanswered:
    // both have read the same refresh token before any new one exists.
    org.expire_tokens_now();
    org.hold_token_requests();
    let userinfo_before = org.counter(USERINFO);
    let mut tests = vec![test(&api_a), test(&api_b)];
    until("both servers send the expired token", || {
        org.counter(USERINFO) >= userinfo_before + 2
    })
    .await;
    // More callers on both sides, queued behind their server's refresh.
    for _ in 0..3 {
        tests.push(test(&api_a));
        tests.push(test(&api_b));
    }
    until("a refresh reaches the org", || {
        org.counter(TOKEN) > exchanged
    })
    .await;
    org.release_token_requests();
    for t in tests {
        let (status, body) = t.await.unwrap();
        assert_eq!(
            (status, &body),
            (reqwest::StatusCode::OK, &json!({"status": "OK"})),
            "{}",
            logs.lock().unwrap().join("\n")
        );
    }
    assert_eq!(
        org.counter(TOKEN),
        exchanged + 1,
        "one refresh between the two servers"
    );
    let rotated = refresh_token(&a, &id).await;
    assert_ne!(
        rotated, first_refresh,
        "the rotated refresh token is stored"
    );

    // The credential still works on both, through the next expiry and refresh too.
    org.expire_tokens_now();
    for api in [&api_b, &api_a] {
        assert_eq!(
            test(api).await.unwrap(),
            (reqwest::StatusCode::OK, json!({"status": "OK"}))
        );
    }
    assert_eq!(org.counter(TOKEN), exchanged + 2);
    assert_ne!(refresh_token(&a, &id).await, rotated);

    b.terminate().await;
    a.stop().await;
}

/// Waits (polling every 20 ms, up to 30 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `switchyard start` process; killed if the test fails before it stops it.
struct Server(Child);

impl Server {
    /// SIGTERM, then waits (up to 30 s) for the exit.
    async fn terminate(mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "server b did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The real binary on the test's database, reaching the fake org over plain HTTP.
fn spawn_server(env: &TestEnv) -> (Child, Arc<Mutex<Vec<String>>>) {
    crate::cli::spawn_server_with(
        env,
        KEY_A,
        None,
        "info",
        &[("SWITCHYARD_ALLOW_INSECURE_HOSTS", "true")],
    )
}

/// Waits (up to 60 s) for the "ready" line and returns the base URL it names.
async fn wait_ready(server: &mut Server, logs: &Arc<Mutex<Vec<String>>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("Switchyard is ready"))
            .cloned();
        if let Some(line) = ready {
            let address = line
                .split("address=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
            return format!("http://{address}");
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "server b exited with {status}: {}",
                logs.lock().unwrap().join("\n")
            );
        }
        assert!(
            Instant::now() < deadline,
            "server b not ready: {}",
            logs.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
