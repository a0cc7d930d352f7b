//! The OAuth2 connect flow through the real server (`/rest/oauth2-credential/auth` and
//! `/callback`) against the fake org over real HTTP, on SQLite and Postgres; and a toy
//! plugin of the test's own, to show the engine is generic over what plugins declare.

use crate::common;

use std::sync::Arc;

use crate::common::{last_line, Api, Backend, TestEnv, TestServer, KEY_A};
use credentials::Credential;
use reqwest::redirect::Policy;
use salesforce_fake::FakeOrg;
use serde_json::{json, Value};

const KEY: &str = "oauth-consumer-key";
const SECRET: &str = "oauth-consumer-secret-7f3a";
const CALLBACK: &str = "/rest/oauth2-credential/callback";

struct Setup {
    env: TestEnv,
    server: TestServer,
    org: FakeOrg,
    api: Api,
}

impl Setup {
    /// Server (public URL = its own address) and fake org; `None` when Postgres is skipped.
    async fn new(
        backend: Backend,
        test: &str,
        auto_approve: bool,
        rotation: bool,
    ) -> Option<Setup> {
        let env = TestEnv::new(backend, test).await?;
        let key = env.api_key(KEY_A);
        let settings = env.settings_for_fakes();
        let server = TestServer::start_public(settings).await;
        let org = FakeOrg::builder()
            .consumer_key(KEY)
            .consumer_secret(SECRET)
            .auto_approve(auto_approve)
            .refresh_token_rotation(rotation)
            .callback_url(&server.url(CALLBACK))
            .start()
            .await
            .unwrap();
        let api = server.api(&key);
        Some(Setup {
            env,
            server,
            org,
            api,
        })
    }

    async fn credential(&self, name: &str, secret: &str) -> String {
        let (status, body) = self
            .api
            .post_json("/api/v1/credentials", &json!({"name": name, "type": "salesforceOAuth2Api",
                          "data": {"environment": "production", "clientId": KEY, "clientSecret": secret,
                                   "myDomainUrl": self.org.base_url()}}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// `GET /rest/oauth2-credential/auth?id=`: status and body.
    async fn auth(&self, id: &str) -> (u16, Value) {
        let (status, body) = common::answer(
            self.api
                .request(reqwest::Method::GET, "/rest/oauth2-credential/auth")
                .query(&[("id", id)]),
        )
        .await;
        (status.as_u16(), body)
    }

    async fn authorize_url(&self, id: &str) -> String {
        let (status, body) = self.auth(id).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_str().unwrap().to_owned()
    }

    /// Follows the authorize URL to the fake org (auto-approve) without following its
    /// redirect: the callback URL Salesforce sends the browser to.
    async fn callback_url(&self, authorize_url: &str) -> String {
        let res = no_redirects().get(authorize_url).send().await.unwrap();
        assert!(res.status().is_redirection(), "{}", res.status());
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&self.server.url(CALLBACK)),
            "{location}"
        );
        location
    }

    async fn stored(&self, id: &str) -> Credential {
        self.server.state.credentials.get(id).await.unwrap()
    }

    async fn pending_rows(&self, id: &str) -> i64 {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM oauth_states WHERE credential_id = $1")
                .bind(id)
                .fetch_one(self.server.state.db.pool())
                .await
                .unwrap();
        n
    }

    async fn credential_test(&self, id: &str) -> Value {
        let (_, report) = self
            .api
            .post(&format!("/api/v1/credentials/{id}/test"))
            .await;
        report
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A browser: no API key, follows redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::new()
}

async fn page(res: reqwest::Response) -> (u16, String) {
    (res.status().as_u16(), res.text().await.unwrap())
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = parsed.query_pairs_mut();
        q.clear();
        for (k, v) in pairs {
            q.append_pair(&k, if k == name { value } else { &v });
        }
    }
    parsed.into()
}

fn without_param(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.into()
}

common::on_both_backends!(
    connects_end_to_end_and_the_token_is_used,
    a_replayed_state_is_refused_and_one_of_two_concurrent_callbacks_wins,
    an_expired_state_is_refused,
    a_tampered_or_missing_state_is_refused,
    a_state_for_one_credential_cannot_complete_another,
    access_denied_and_other_salesforce_errors_are_shown_escaped,
    a_failed_exchange_shows_the_step_to_fix_and_stores_nothing,
    refresh_tokens_rotate_after_connect_and_survive_a_secret_change,
    the_auth_route_checks_key_id_and_type,
    cli_connect_prints_a_url_that_completes_the_flow,
);

async fn connects_end_to_end_and_the_token_is_used(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_e2e", true, false).await else {
        return;
    };
    let id = s.credential("Sales org", SECRET).await;
    let before = s.credential_test(&id).await;
    assert!(
        before["message"]
            .as_str()
            .unwrap()
            .contains("connect it first"),
        "{before}"
    );

    let url = s.authorize_url(&id).await;
    let redirect_uri = s.server.url(CALLBACK);
    assert!(
        url.starts_with(&format!("{}/services/oauth2/authorize?", s.org.base_url())),
        "{url}"
    );
    for (name, expected) in [
        ("response_type", "code"),
        ("client_id", KEY),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", "full refresh_token"),
        ("prompt", "login"),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(query_param(&url, name).as_deref(), Some(expected), "{name}");
    }
    let challenge = query_param(&url, "code_challenge").unwrap();
    assert_eq!(challenge.len(), 43);
    assert!(query_param(&url, "code_verifier").is_none());
    assert_eq!(s.pending_rows(&id).await, 1);

    // The browser: authorize (auto-approved) -> redirect -> our callback.
    let res = browser().get(&url).send().await.unwrap();
    assert_eq!(res.url().path(), CALLBACK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let (status, html) = page(res).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Connection successful"), "{html}");
    assert!(html.contains("Sales org"), "{html}");
    assert!(
        html.contains(&format!(
            "window.opener.postMessage('success', \"{}\")",
            s.server.base
        )),
        "{html}"
    );
    assert!(html.contains("window.close()"), "{html}");

    // Tokens stored (encrypted, via the token path), the attempt consumed.
    let stored = s.stored(&id).await;
    let tokens = stored.token_data.expect("tokens stored");
    let access = tokens.get_str("access_token").unwrap().to_owned();
    let refresh = tokens.get_str("refresh_token").unwrap().to_owned();
    assert_eq!(tokens.get_str("instance_url"), Some(s.org.base_url()));
    assert_eq!(s.pending_rows(&id).await, 0);

    // The org saw the PKCE challenge, then the verifier and the same redirect URI.
    let requests = s.org.requests();
    let authorize = requests
        .iter()
        .find(|r| r.path == "/services/oauth2/authorize")
        .unwrap();
    assert_eq!(
        authorize.query_param("code_challenge").as_deref(),
        Some(challenge.as_str())
    );
    let exchange = requests
        .iter()
        .find(|r| r.path == "/services/oauth2/token")
        .unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(exchange.body.as_bytes())
        .into_owned()
        .collect();
    let field = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("authorization_code"));
    assert_eq!(field("redirect_uri"), Some(redirect_uri.as_str()));
    assert_eq!(
        field("code_verifier"),
        Some("[masked]"),
        "a verifier was sent"
    );
    assert_eq!(field("client_id"), Some(KEY));

    // The credential test uses the stored token.
    s.org.clear_requests();
    assert_eq!(s.credential_test(&id).await, json!({"status": "OK"}));
    let userinfo = s
        .org
        .requests()
        .into_iter()
        .find(|r| r.path == "/services/oauth2/userinfo")
        .unwrap();
    assert!(userinfo.authorization_is(&format!("Bearer {access}")));
    assert_eq!(
        s.org.counter("POST /services/oauth2/token"),
        1,
        "no new sign-in"
    );

    // The API never shows the tokens.
    let (_, shown) = s.api.get_text(&format!("/api/v1/credentials/{id}")).await;
    assert!(!shown.contains(&access) && !shown.contains(&refresh) && !shown.contains(SECRET));
    s.server.stop().await;
}

async fn a_replayed_state_is_refused_and_one_of_two_concurrent_callbacks_wins(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_replay", true, false).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let url = s.authorize_url(&id).await;
    let callback = s.callback_url(&url).await;
    let (a, b) = tokio::join!(
        browser().get(&callback).send(),
        browser().get(&callback).send()
    );
    let mut results = [page(a.unwrap()).await, page(b.unwrap()).await];
    results.sort_by_key(|(status, _)| *status);
    assert_eq!(results[0].0, 200, "{}", results[0].1);
    assert_eq!(results[1].0, 409, "{}", results[1].1);
    assert!(results[1].1.contains("already used"), "{}", results[1].1);
    let first = s.stored(&id).await.token_data.unwrap();
    let first = first.get_str("access_token").unwrap().to_owned();
    assert_eq!(
        s.org.counter("POST /services/oauth2/token"),
        1,
        "the code was exchanged once"
    );

    // Later replays: refused, and the stored tokens stay as they were.
    let (status, html) = page(browser().get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 409);
    assert!(html.contains("already used"), "{html}");
    let now = s.stored(&id).await.token_data.unwrap();
    assert_eq!(now.get_str("access_token"), Some(first.as_str()));
    s.server.stop().await;
}

async fn an_expired_state_is_refused(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_expired", true, false).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let url = s.authorize_url(&id).await;
    let callback = s.callback_url(&url).await;
    // The user took longer than five minutes.
    sqlx::query("UPDATE oauth_states SET expires_at = $1 WHERE credential_id = $2")
        .bind("2020-01-01T00:00:00.000000Z")
        .bind(&id)
        .execute(s.server.state.db.pool())
        .await
        .unwrap();
    let (status, html) = page(browser().get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(html.contains("expired"), "{html}");
    assert!(html.contains("5 minutes"), "{html}");
    assert!(s.stored(&id).await.token_data.is_none());
    assert_eq!(
        s.org.counter("POST /services/oauth2/token"),
        0,
        "no exchange tried"
    );
    s.server.stop().await;
}

async fn a_tampered_or_missing_state_is_refused(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_tampered", true, false).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let url = s.authorize_url(&id).await;
    let callback = s.callback_url(&url).await;
    let state = query_param(&callback, "state").unwrap();
    let mut chars: Vec<char> = state.chars().collect();
    let i = chars.len() - 6;
    chars[i] = if chars[i] == 'x' { 'y' } else { 'x' };
    let tampered: String = chars.into_iter().collect();
    for bad in [
        with_param(&callback, "state", &tampered),
        with_param(&callback, "state", "sy1.0000.AAAA"),
        with_param(&callback, "state", "<b>hi</b>"),
    ] {
        let (status, html) = page(browser().get(&bad).send().await.unwrap()).await;
        assert_eq!(status, 400, "{bad}");
        assert!(html.contains("not valid"), "{html}");
        assert!(!html.contains("<b>hi"), "{html}");
    }
    // Not even valid UTF-8 once decoded: still the HTML page.
    let raw = format!("{}?code=abc&state=%FF%FE%3Cx", s.server.url(CALLBACK));
    let res = browser().get(&raw).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let (status, html) = page(res).await;
    assert_eq!(status, 400);
    assert!(html.contains("not valid"), "{html}");
    let (status, html) = page(
        browser()
            .get(without_param(&callback, "code"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("missing: code)"), "{html}");
    let (status, html) = page(browser().get(s.server.url(CALLBACK)).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(html.contains("missing: code and state"), "{html}");
    assert!(s.stored(&id).await.token_data.is_none());
    assert_eq!(s.org.counter("POST /services/oauth2/token"), 0);

    // None of that consumed the genuine state.
    let (status, html) = page(browser().get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 200, "{html}");
    assert!(s.stored(&id).await.token_data.is_some());
    s.server.stop().await;
}

async fn a_state_for_one_credential_cannot_complete_another(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_cross", true, false).await else {
        return;
    };
    let a = s.credential("a", SECRET).await;
    let b = s.credential("b", SECRET).await;
    let url_a = s.authorize_url(&a).await;
    let url_b = s.authorize_url(&b).await;
    // A code obtained for A's attempt, sent back with B's state: B's verifier does not
    // match A's challenge, so Salesforce refuses, and nothing is stored for either.
    let callback_a = s.callback_url(&url_a).await;
    let state_b = query_param(&url_b, "state").unwrap();
    let crossed = with_param(&callback_a, "state", &state_b);
    let (status, html) = page(browser().get(&crossed).send().await.unwrap()).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Salesforce refused"), "{html}");
    assert!(s.stored(&a).await.token_data.is_none());
    assert!(s.stored(&b).await.token_data.is_none());
    assert_eq!(s.pending_rows(&a).await, 1, "A's attempt is untouched");
    assert_eq!(s.pending_rows(&b).await, 0, "B's attempt is spent");

    // A fresh attempt for A completes A, and only A.
    let url = s.authorize_url(&a).await;
    let (status, _) = page(browser().get(&url).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(s.stored(&a).await.token_data.is_some());
    assert!(s.stored(&b).await.token_data.is_none());
    s.server.stop().await;
}

async fn access_denied_and_other_salesforce_errors_are_shown_escaped(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_denied", false, false).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let url = s.authorize_url(&id).await;
    // The user presses Deny on Salesforce's page.
    let mut form: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    form.push(("decision".into(), "deny".into()));
    let res = browser()
        .post(format!("{}/services/oauth2/authorize", s.org.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.url().path(), CALLBACK);
    let (status, html) = page(res).await;
    assert_eq!(status, 403);
    assert!(html.contains("Access was denied in Salesforce"), "{html}");
    assert!(html.contains("end-user denied authorization"), "{html}");
    assert!(s.stored(&id).await.token_data.is_none());
    assert_eq!(s.pending_rows(&id).await, 0, "the attempt is over");

    let res = browser()
        .get(s.server.url(CALLBACK))
        .query(&[
            ("error", "invalid_scope"),
            ("error_description", "<script>alert(1)</script>"),
        ])
        .send()
        .await
        .unwrap();
    let (status, html) = page(res).await;
    assert_eq!(status, 400);
    assert!(html.contains("invalid_scope"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    s.server.stop().await;
}

async fn a_failed_exchange_shows_the_step_to_fix_and_stores_nothing(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_exchange", true, false).await else {
        return;
    };
    let id = s.credential("o", "a-wrong-secret-91c2").await;
    let url = s.authorize_url(&id).await;
    let res = browser().get(&url).send().await.unwrap();
    assert_eq!(res.url().path(), CALLBACK);
    let (status, html) = page(res).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("check the Client Secret"), "{html}");
    assert!(
        !html.contains("a-wrong-secret-91c2") && !html.contains(SECRET),
        "{html}"
    );
    assert!(s.stored(&id).await.token_data.is_none());
    s.server.stop().await;
}

async fn refresh_tokens_rotate_after_connect_and_survive_a_secret_change(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_rotation", true, true).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let url = s.authorize_url(&id).await;
    assert_eq!(page(browser().get(&url).send().await.unwrap()).await.0, 200);
    let refresh_of = |c: Credential| {
        c.token_data
            .and_then(|t| t.get_str("refresh_token").map(str::to_owned))
    };
    let r1 = refresh_of(s.stored(&id).await).unwrap();

    // The access token expires: one refresh, and the rotated refresh token is stored.
    s.org.expire_tokens_now();
    assert_eq!(s.credential_test(&id).await, json!({"status": "OK"}));
    let r2 = refresh_of(s.stored(&id).await).unwrap();
    assert_ne!(r1, r2);
    s.org.expire_tokens_now();
    assert_eq!(s.credential_test(&id).await, json!({"status": "OK"}));
    let r3 = refresh_of(s.stored(&id).await).unwrap();
    assert_ne!(r2, r3);

    // A new client secret alone keeps the connection: the access token goes, the next
    // call refreshes with the new secret (a wrong one is reported at once)...
    let path = format!("/api/v1/credentials/{id}");
    let patch = |secret: &str| {
        let body = json!({"data": {"clientSecret": secret}});
        let (api, path) = (&s.api, &path);
        async move { api.patch_json(path, &body).await.0 }
    };
    assert_eq!(patch("a-wrong-secret-22").await, 200);
    let kept = s.stored(&id).await.token_data.unwrap();
    assert!(kept.get_str("access_token").is_none());
    assert_eq!(kept.get_str("refresh_token"), Some(r3.as_str()));
    let report = s.credential_test(&id).await;
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("check the Client Secret"),
        "{report}"
    );
    // ...and the right secret works again without reconnecting.
    assert_eq!(patch(SECRET).await, 200);
    assert_eq!(s.credential_test(&id).await, json!({"status": "OK"}));
    let r4 = refresh_of(s.stored(&id).await).unwrap();
    assert_ne!(r3, r4, "refreshed with the kept refresh token");

    // A new client id means another app: everything goes, reconnect needed.
    let (status, body) = s
        .api
        .patch_json(&path, &json!({"data": {"clientId": "another-app"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(s.stored(&id).await.token_data.is_none());
    s.server.stop().await;
}

async fn the_auth_route_checks_key_id_and_type(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_auth_route", true, false).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let (status, _) = s
        .server
        .anonymous()
        .get(&format!("/rest/oauth2-credential/auth?id={id}"))
        .await;
    assert_eq!(status, 401, "the API key is required");
    assert_eq!(s.pending_rows(&id).await, 0);

    let (status, body) = s.auth("nosuchcredential").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s.api.get("/rest/oauth2-credential/auth").await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().starts_with("id:"),
        "{body}"
    );

    // Without a My Domain URL the login host follows the environment.
    for (environment, host) in [
        ("production", "https://login.salesforce.com"),
        ("sandbox", "https://test.salesforce.com"),
    ] {
        let (_, created) = s
            .api
            .post_json("/api/v1/credentials", &json!({"name": environment, "type": "salesforceOAuth2Api",
                          "data": {"environment": environment, "clientId": KEY, "clientSecret": SECRET}}))
            .await;
        let url = s.authorize_url(created["id"].as_str().unwrap()).await;
        assert!(
            url.starts_with(&format!("{host}/services/oauth2/authorize?")),
            "{url}"
        );
    }

    let (_, cc) = s
        .api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "cc", "type": "salesforceClientCredentialsApi",
                      "data": {"url": s.org.base_url(), "clientId": KEY, "clientSecret": SECRET}}),
        )
        .await;
    let (status, body) = s.auth(cc["id"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("salesforceClientCredentialsApi")
            && message.contains("salesforceOAuth2Api"),
        "{message}"
    );
    s.server.stop().await;
}

async fn cli_connect_prints_a_url_that_completes_the_flow(backend: Backend) {
    let Some(s) = Setup::new(backend, "oauth2_cli", true, false).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let run = |args: &[&str]| {
        s.env
            .command(KEY_A, None, args)
            .env("SWITCHYARD_PUBLIC_URL", &s.server.base)
            .env("SWITCHYARD_ALLOW_INSECURE_HOSTS", "true")
            .output()
            .unwrap()
    };
    let out = run(&["credentials", "connect", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = last_line(&out.stdout);
    assert!(
        url.starts_with(&format!("{}/services/oauth2/authorize?", s.org.base_url())),
        "{url}"
    );
    assert_eq!(
        query_param(&url, "redirect_uri").as_deref(),
        Some(s.server.url(CALLBACK).as_str())
    );
    // The running server completes what the command started.
    let (status, html) = page(browser().get(&url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{html}");
    assert!(s.stored(&id).await.token_data.is_some());
    assert_eq!(s.credential_test(&id).await, json!({"status": "OK"}));

    let out = run(&["credentials", "connect", "nosuchcredential"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nosuchcredential"), "{stderr}");
    s.server.stop().await;
}

/// Connects, replays, fails an exchange, refreshes: none of the secrets, tokens, codes,
/// states or verifiers involved reaches the logs, even at trace level. One thread, so the
/// server, the org and the HTTP stack all log to the captured subscriber.
async fn no_secret_token_code_or_verifier_in_the_logs(backend: Backend) {
    let captured = testkit::LogCapture::this_thread(tracing::Level::TRACE);

    let Some(s) = Setup::new(backend, "oauth2_logs", true, true).await else {
        return;
    };
    let id = s.credential("o", SECRET).await;
    let url = s.authorize_url(&id).await;
    // The verifier, read the way the server reads it.
    let (sid, key_id, blob): (String, String, Vec<u8>) = sqlx::query_as(
        "SELECT id, verifier_key_id, verifier FROM oauth_states WHERE credential_id = $1",
    )
    .bind(&id)
    .fetch_one(s.server.state.db.pool())
    .await
    .unwrap();
    let verifier = s
        .server
        .state
        .credentials
        .keys()
        .open(&key_id, &blob, format!("oauth_states/{sid}").as_bytes())
        .unwrap();
    let verifier = String::from_utf8(verifier.to_vec()).unwrap();
    let callback = s.callback_url(&url).await;
    let code = query_param(&callback, "code").unwrap();
    let state = query_param(&callback, "state").unwrap();
    assert_eq!(
        page(no_redirects().get(&callback).send().await.unwrap())
            .await
            .0,
        200
    );
    assert_eq!(
        page(no_redirects().get(&callback).send().await.unwrap())
            .await
            .0,
        409
    );
    let tokens = s.stored(&id).await.token_data.unwrap();
    let access = tokens.get_str("access_token").unwrap().to_owned();
    let refresh = tokens.get_str("refresh_token").unwrap().to_owned();
    s.org.expire_tokens_now();
    assert_eq!(s.credential_test(&id).await, json!({"status": "OK"}));
    let refreshed = s.stored(&id).await.token_data.unwrap();
    let access2 = refreshed.get_str("access_token").unwrap().to_owned();
    let refresh2 = refreshed.get_str("refresh_token").unwrap().to_owned();

    let wrong = s.credential("w", "a-wrong-secret-4e1b").await;
    let url = s.authorize_url(&wrong).await;
    let callback = s.callback_url(&url).await;
    let code2 = query_param(&callback, "code").unwrap();
    assert_eq!(
        page(no_redirects().get(&callback).send().await.unwrap())
            .await
            .0,
        400
    );
    s.server.stop().await;

    let logs = captured.text();
    assert!(logs.contains("OAuth2 connect completed"), "{logs}");
    assert!(logs.contains("OAuth2 callback refused"), "{logs}");
    for (what, secret) in [
        ("client secret", SECRET),
        ("wrong client secret", "a-wrong-secret-4e1b"),
        ("verifier", verifier.as_str()),
        ("code", code.as_str()),
        ("second code", code2.as_str()),
        ("state", state.as_str()),
        ("access token", access.as_str()),
        ("refresh token", refresh.as_str()),
        ("refreshed access token", access2.as_str()),
        ("rotated refresh token", refresh2.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} reached the logs");
    }
}

mod logs {
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::no_secret_token_code_or_verifier_in_the_logs(super::Backend::Sqlite).await
    }

    #[cfg_attr(
        postgres_tests_unset,
        ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
    )]
    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        super::no_secret_token_code_or_verifier_in_the_logs(super::Backend::Postgres).await
    }
}

/// A toy integration the engine has never heard of: its credential type, OAuth2 connect
/// strategy, credential test, change hook and metrics all reach the user through the
/// engine's generic routes, with no edit to the engine.
mod echo {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use node_api::{
        AuthorizeRequest, CodeExchange, ConnectError, CredentialType, FieldKind, FieldSpec, Host,
        MetricFamily, MetricKind, OAuth2Connect, Plugin, PluginRuntime, Sample, StoredCredential,
    };
    use serde_json::{json, Value};

    pub const TYPE: &str = "echoOAuth2Api";

    /// What the plugin saw, for the test to check.
    #[derive(Default)]
    pub struct Seen {
        pub changed: Mutex<Vec<String>>,
        pub exchanged_codes: Mutex<Vec<String>>,
    }

    pub struct Echo {
        /// Where its "provider" authorizes (a local server of the test).
        pub authorize_base: String,
        pub seen: Arc<Seen>,
    }

    struct Runtime {
        authorize_base: String,
        seen: Arc<Seen>,
    }

    impl Plugin for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }

        fn credential_types(&self) -> Vec<CredentialType> {
            vec![CredentialType {
                name: TYPE,
                display_name: "Echo OAuth2",
                fields: vec![FieldSpec {
                    name: "clientId",
                    kind: FieldKind::Text,
                    required: true,
                    secret: false,
                    description: "Client id",
                    default: None,
                }],
                oauth2: true,
                keep_refresh_token_on_change_of: &[],
            }]
        }

        fn start(&self, _host: Host) -> Result<Arc<dyn PluginRuntime>, String> {
            Ok(Arc::new(Runtime {
                authorize_base: self.authorize_base.clone(),
                seen: self.seen.clone(),
            }))
        }
    }

    #[async_trait]
    impl PluginRuntime for Runtime {
        async fn test_credential(
            &self,
            credential: &StoredCredential,
        ) -> Option<Result<(), String>> {
            Some(match &credential.token_data {
                Some(t) if t.get_str("access_token").is_some() => Ok(()),
                _ => Err("not connected yet: connect it first".into()),
            })
        }

        fn oauth2(&self, credential_type: &str) -> Option<&dyn OAuth2Connect> {
            (credential_type == TYPE).then_some(self as &dyn OAuth2Connect)
        }

        fn credential_changed(&self, id: &str) {
            self.seen.changed.lock().unwrap().push(id.to_owned());
        }

        fn metrics(&self) -> Vec<MetricFamily> {
            vec![MetricFamily {
                name: "switchyard_echo_codes_exchanged_total".into(),
                help: "Codes the echo plugin exchanged.".into(),
                kind: MetricKind::Counter,
                samples: vec![Sample {
                    labels: vec![],
                    value: self.seen.exchanged_codes.lock().unwrap().len() as f64,
                }],
            }]
        }
    }

    #[async_trait]
    impl OAuth2Connect for Runtime {
        fn provider(&self) -> &str {
            "Echo"
        }

        fn authorize_url(
            &self,
            credential: &StoredCredential,
            request: &AuthorizeRequest<'_>,
        ) -> Result<String, String> {
            let client_id = credential.data.get_str("clientId").ok_or("no clientId")?;
            let mut url = url::Url::parse(&format!("{}/authorize", self.authorize_base))
                .map_err(|e| e.to_string())?;
            url.query_pairs_mut()
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", request.redirect_uri)
                .append_pair("state", request.state)
                .append_pair("code_challenge", request.code_challenge);
            Ok(url.into())
        }

        async fn exchange_code(
            &self,
            _credential: &StoredCredential,
            exchange: &CodeExchange<'_>,
        ) -> Result<Value, ConnectError> {
            self.seen
                .exchanged_codes
                .lock()
                .unwrap()
                .push(exchange.code.to_owned());
            Ok(json!({"access_token": format!("echo-token-for-{}", exchange.code)}))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_of_its_own_connects_tests_and_reports_through_the_engine() {
    // The "provider": approves at once, sending the browser back with a code.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authorize_base = format!("http://{}", listener.local_addr().unwrap());
    let provider = axum::Router::new().route(
        "/authorize",
        axum::routing::get(
            |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| async move {
                let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
                back.query_pairs_mut()
                    .append_pair("code", "code-42")
                    .append_pair("state", &q["state"]);
                axum::response::Redirect::temporary(back.as_str())
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });

    let env = TestEnv::new(Backend::Sqlite, "echo_plugin").await.unwrap();
    let key = env.api_key(KEY_A);
    let seen = Arc::new(echo::Seen::default());
    let mut plugins = switchyard::builtin();
    plugins.push(Arc::new(echo::Echo {
        authorize_base,
        seen: seen.clone(),
    }));
    let server = TestServer::start_public_with_plugins(env.settings(KEY_A, None), plugins).await;
    let api = server.api(&key);

    // Its type is validated like any other: a missing field is named.
    let (status, body) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "echo", "type": echo::TYPE, "data": {}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("clientId"), "{body}");
    let (_, created) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "echo", "type": echo::TYPE, "data": {"clientId": "client-1"}}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();

    // Its test hook answers through the API: not connected yet.
    let (_, tested) = api.post(&format!("/api/v1/credentials/{id}/test")).await;
    assert!(tested.to_string().contains("not connected yet"), "{tested}");

    // Connect: the engine's generic route asks the plugin for the authorize URL, the
    // browser goes there and back, the engine's callback asks the plugin to exchange.
    let (status, body) = api
        .get(&format!("/rest/oauth2-credential/auth?id={id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let authorize = body["data"].as_str().unwrap();
    assert!(authorize.contains("client_id=client-1"), "{authorize}");
    let (code, page) = page(browser().get(authorize).send().await.unwrap()).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Echo"), "the page names the provider: {page}");
    assert_eq!(*seen.exchanged_codes.lock().unwrap(), ["code-42"]);
    let stored = server.state.credentials.get(&id).await.unwrap();
    assert!(stored.token_data.is_some(), "the token data is stored");

    // Now the test passes, the metrics show the plugin's family, and a change reaches it.
    let (status, body) = api.post(&format!("/api/v1/credentials/{id}/test")).await;
    assert!(status.is_success(), "{body}");
    let (_, metrics) = server.anonymous().get_text("/metrics").await;
    assert!(
        metrics.contains("switchyard_echo_codes_exchanged_total 1"),
        "{metrics}"
    );
    let (status, body) = api
        .patch_json(
            &format!("/api/v1/credentials/{id}"),
            &json!({"data": {"clientId": "client-2"}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert!(seen.changed.lock().unwrap().contains(&id));
    server.stop().await;
}
