//! The web console over real HTTP (the real server on a free port, SQLite and Postgres):
//! setup, sign-in and sign-out, sessions and CSRF, the rate limit, every page, and that no
//! page shows a secret. The browser test is `console_browser`.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{self, Backend, TestEnv, TestServer, KEY_A};

pub const EMAIL: &str = "owner@example.com";
pub const PASSWORD: &str = "correct horse battery";

/// A browser without JavaScript: follows nothing by itself, keeps its cookies.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

/// An answer: status, `Location`, `Set-Cookie` lines and the body.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for line in &set_cookies {
            let pair = line.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = res.text().await.unwrap();
        Page {
            status,
            location,
            set_cookies,
            body,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(res).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(res).await
    }

    /// Posts `form` with the CSRF token of the page at `from`.
    pub async fn submit(&mut self, from: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf();
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    /// Posts like [`Browser::submit`], expects the redirect a successful form post answers
    /// with (303, post / redirect / get), and gets the page it leads to.
    pub async fn submit_and_follow(
        &mut self,
        from: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Page {
        let posted = self.submit(from, path, form).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        let to = posted.location.expect("a redirect names where to");
        self.get(&to).await
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.cookies.get("sy_session").cloned()
    }
}

/// Sets up the owner through the setup page and returns the signed-in browser.
pub async fn owner_browser(server: &TestServer) -> Browser {
    let mut browser = Browser::new(server);
    let page = browser
        .submit(
            "/setup",
            "/setup",
            &[
                ("email", EMAIL),
                ("name", "Olive Owner"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(browser.session_cookie().is_some());
    browser
}

/// Waits (polling, 30 s at most) until `check` holds for the page at `path`.
pub async fn wait_for_page(
    browser: &mut Browser,
    path: &str,
    check: impl Fn(&Page) -> bool,
) -> Page {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = browser.get(path).await;
        if check(&page) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never got there: {}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

common::on_both_backends!(
    setup_sign_in_and_a_signed_out_cookie_is_refused,
    every_page_needs_a_session_and_every_form_its_token,
    workflows_import_run_retry_and_execution_pages,
    credential_pages_never_show_a_secret,
    operators_create_and_revoke_api_keys,
);

async fn setup_sign_in_and_a_signed_out_cookie_is_refused(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "console_setup").await else {
        return;
    };
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let mut first = Browser::new(&server);

    // No owner yet: every way in leads to the setup form.
    let page = first.get("/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/signin"));
    let page = first.get("/signin").await;
    assert_eq!(page.location.as_deref(), Some("/setup"));
    let page = first.get("/setup").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Set up Switchyard"), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");

    // Without the form's token: 403 and no owner.
    let page = first
        .post(
            "/setup",
            &[("email", EMAIL), ("name", "Olive"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(
        first.get("/setup").await.status,
        StatusCode::OK,
        "no owner was created"
    );

    // Bad fields: each named, nothing stored.
    let page = first
        .submit(
            "/setup",
            "/setup",
            &[
                ("email", "not-an-email"),
                ("name", ""),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("expected an email address"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("at least 10 characters"),
        "{}",
        page.body
    );
    assert_eq!(first.get("/setup").await.status, StatusCode::OK);

    let page = first
        .submit(
            "/setup",
            "/setup",
            &[
                ("email", EMAIL),
                ("name", "Olive Owner"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/workflows"));
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("sy_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain http public URL: {session}"
    );
    // Only the hash of the cookie is stored.
    let token = first.session_cookie().unwrap();
    let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM console_sessions")
        .fetch_all(server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, token);
    let page = first.get("/workflows").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No workflows yet"), "{}", page.body);

    // The setup form is gone once there is an owner.
    let mut second = Browser::new(&server);
    assert_eq!(
        second.get("/setup").await.location.as_deref(),
        Some("/signin")
    );
    let page = second
        .submit(
            "/signin",
            "/signin",
            &[("email", EMAIL), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("Wrong email or password"));
    assert!(second.session_cookie().is_none());
    let page = second
        .submit(
            "/signin",
            "/signin",
            &[("email", "Owner@Example.com "), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(second.get("/workflows").await.status, StatusCode::OK);

    // The first browser signs out; its cookie, replayed, leads to the sign-in page.
    let replay = first.clone();
    let page = first.submit("/workflows", "/signout", &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/signin"));
    assert!(first.session_cookie().is_none(), "the cookie is cleared");
    let mut replay = replay;
    let page = replay.get("/workflows").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/signin"));
    // Its CSRF token is useless too: the form post is refused before it is checked.
    let page = replay.post("/operators/api-keys", &[("name", "x")]).await;
    assert_eq!(page.location.as_deref(), Some("/signin"));
    // The other browser's session is untouched.
    assert_eq!(second.get("/workflows").await.status, StatusCode::OK);

    // Sign-in attempts are limited per email: the sixth within the window is 429, even
    // with the right password.
    let mut third = Browser::new(&server);
    for _ in 0..5 {
        let page = third
            .submit(
                "/signin",
                "/signin",
                &[("email", EMAIL), ("password", "guess guess guess")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let page = third
        .submit(
            "/signin",
            "/signin",
            &[("email", EMAIL), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    let retry: u64 = page.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(third.session_cookie().is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_cookie_is_secure_behind_an_https_public_url() {
    let env = TestEnv::new(Backend::Sqlite, "console_secure")
        .await
        .unwrap();
    let mut settings = env.settings(KEY_A, None);
    settings.public_url = "https://switchyard.example.com".into();
    let server = TestServer::start(settings).await;
    let mut browser = Browser::new(&server);
    let page = browser.get("/setup").await;
    assert!(
        page.set_cookies.iter().all(|c| c.contains("; Secure")),
        "{:?}",
        page.set_cookies
    );
    let page = browser
        .submit(
            "/setup",
            "/setup",
            &[("email", EMAIL), ("name", "Olive"), ("password", PASSWORD)],
        )
        .await;
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("sy_session="))
        .expect("a session cookie");
    assert!(session.contains("; Secure"), "{session}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_create_command_then_sign_in() {
    let env = TestEnv::new(Backend::Sqlite, "console_owner_cli")
        .await
        .unwrap();
    let out = env
        .command(
            KEY_A,
            None,
            &["owner", "create", "--email", EMAIL, "--name", "Olive"],
        )
        .env("SWITCHYARD_OWNER_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password: at least 10 characters"), "{err}");
    assert!(
        !err.contains("short"),
        "the password is never echoed: {err}"
    );

    let out = env
        .command(
            KEY_A,
            None,
            &["owner", "create", "--email", EMAIL, "--name", "Olive"],
        )
        .env("SWITCHYARD_OWNER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("Created the console owner owner@example.com"));

    let again = env
        .command(
            KEY_A,
            None,
            &["owner", "create", "--email", "b@example.com", "--name", "B"],
        )
        .env("SWITCHYARD_OWNER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("has an owner already"));

    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let mut browser = Browser::new(&server);
    assert_eq!(
        browser.get("/setup").await.location.as_deref(),
        Some("/signin")
    );
    let page = browser
        .submit(
            "/signin",
            "/signin",
            &[("email", EMAIL), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(browser.get("/operators").await.status, StatusCode::OK);
    server.stop().await;
}

/// Every page: without a session, 303 to the sign-in page; every form post without (or
/// with a wrong) CSRF token: 403 and nothing done.
async fn every_page_needs_a_session_and_every_form_its_token(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "console_guard").await else {
        return;
    };
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let mut owner = owner_browser(&server).await;
    let page = owner
        .submit_and_follow(
            "/workflows/import",
            "/workflows/import",
            &[("json", &workflow_json().to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (workflows, _) = server.state.workflows.store.list(None, None).await.unwrap();
    let wf = workflows[0].id.clone();

    let pages = [
        "/".to_owned(),
        "/workflows".into(),
        "/workflows/import".into(),
        format!("/workflows/{wf}"),
        format!("/workflows/{wf}/export"),
        "/executions".into(),
        "/executions/1".into(),
        "/executions/1/data.json".into(),
        "/credentials".into(),
        "/credentials/new?type=httpHeaderAuth".into(),
        "/credentials/abc".into(),
        "/operators".into(),
    ];
    let mut stranger = Browser::new(&server);
    for path in &pages {
        let page = stranger.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location.as_deref(), Some("/signin"), "{path}");
    }
    let posts = [
        "/signout".to_owned(),
        "/workflows/import".into(),
        format!("/workflows/{wf}/activate"),
        format!("/workflows/{wf}/deactivate"),
        format!("/workflows/{wf}/run"),
        format!("/workflows/{wf}/delete"),
        "/executions/1/retry".into(),
        "/credentials/new".into(),
        "/credentials/abc".into(),
        "/credentials/abc/test".into(),
        "/credentials/abc/connect".into(),
        "/credentials/abc/delete".into(),
        "/operators/api-keys".into(),
        "/operators/api-keys/abc/revoke".into(),
    ];
    for path in &posts {
        let page = stranger.post(path, &[("name", "x")]).await;
        assert_eq!(page.location.as_deref(), Some("/signin"), "{path}");
        let page = owner.post(path, &[("name", "x")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(
            page.body.contains("CSRF token is missing or wrong"),
            "{path}"
        );
        let page = owner.post(path, &[("name", "x"), ("csrf", "forged")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Nothing happened: the workflow is there and inactive, never ran; no key; still signed in.
    let stored = server.state.workflows.store.get(&wf).await.unwrap();
    assert!(!stored.active);
    let (executions, _) = server
        .state
        .workflows
        .store
        .list_executions(&Default::default())
        .await
        .unwrap();
    assert!(executions.is_empty());
    assert!(engine::api_keys::list(&server.state.db)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(owner.get("/workflows").await.status, StatusCode::OK);

    // Signed in, every page answers.
    for path in &pages {
        let page = owner.get(path).await;
        let expected = if path.contains("/executions/1") || path.ends_with("/abc") {
            StatusCode::NOT_FOUND
        } else if path == "/" {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::OK
        };
        assert_eq!(page.status, expected, "{path}: {}", page.body);
    }
    // The existing routes are untouched.
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/api/v1/workflows"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (status, body) = common::answer(http.get(server.url("/no/such/route"))).await;
    assert_eq!(status, 404);
    assert!(body["message"].is_string(), "{body}");
    server.stop().await;
}

pub fn workflow_json() -> Value {
    json!({
        "name": "Console double",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"name": "Double", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [240, 0], "parameters": {
                "assignments": {"assignments": [{"id": "a", "name": "doubled", "value": "={{ 21 * 2 }}", "type": "number"}]}}},
            {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 200],
             "parameters": {"path": "console-hook", "httpMethod": "POST"}}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Double", "type": "main", "index": 0}]]},
            "Hook": {"main": [[{"node": "Double", "type": "main", "index": 0}]]}
        }
    })
}

fn path_of(location: &str) -> String {
    location.to_owned()
}

async fn workflows_import_run_retry_and_execution_pages(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "console_workflows").await else {
        return;
    };
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let mut owner = owner_browser(&server).await;

    // Not JSON, then a workflow with a bad node: errors shown, nothing stored.
    let page = owner
        .submit(
            "/workflows/import",
            "/workflows/import",
            &[("json", "{\"nodes\": [")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("Not JSON"), "{}", page.body);
    let mut bad = workflow_json();
    bad["nodes"][1]["type"] = json!("n8n-nodes-base.noSuchNode");
    let page = owner
        .submit(
            "/workflows/import",
            "/workflows/import",
            &[("json", &bad.to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body.contains("<td data-label=\"Node\">Double</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("noSuchNode"), "{}", page.body);
    assert!(server
        .state
        .workflows
        .store
        .list(None, None)
        .await
        .unwrap()
        .0
        .is_empty());

    // An n8n export (an array of one) imports.
    let exported = json!([workflow_json()]).to_string();
    let page = owner
        .submit_and_follow(
            "/workflows/import",
            "/workflows/import",
            &[("json", &exported)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Imported."));
    assert!(page.body.contains("<svg"), "the drawing");
    assert!(page.body.contains(">Double</text>"), "{}", page.body);
    let wf = server
        .state
        .workflows
        .store
        .list(None, None)
        .await
        .unwrap()
        .0[0]
        .id
        .clone();

    let page = owner.get("/workflows").await;
    assert!(page.body.contains("Console double"));
    assert!(page.body.contains("inactive"));
    // The search box: name contains, any case; LIKE wildcards are plain text.
    let page = owner.get("/workflows?q=DOUBLE").await;
    assert!(page.body.contains("Console double"), "{}", page.body);
    for (q, shown) in [("zzz", "zzz"), ("_", "_"), ("%25", "%")] {
        let page = owner.get(&format!("/workflows?q={q}")).await;
        assert_eq!(page.status, StatusCode::OK, "{q}: {}", page.body);
        assert!(!page.body.contains("Console double"), "{q}: {}", page.body);
        assert!(
            page.body.contains(&format!(
                "No workflow name contains <strong>{shown}</strong>"
            )),
            "{q}: {}",
            page.body
        );
    }
    // A NUL byte is refused, naming the parameter, as everywhere.
    let refused = owner.get("/workflows?q=e%00d").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("query parameter q"),
        "{}",
        refused.body
    );
    assert!(
        page.body.contains("manualTrigger, webhook"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!(
            "{}/webhook/console-hook",
            server.state.settings.public_url
        )),
        "{}",
        page.body
    );

    // Activate: the production webhook answers; deactivate: it does not.
    let page = owner
        .submit_and_follow("/workflows", &format!("/workflows/{wf}/activate"), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Activated"));
    // The message is shown once: the page read again has none.
    let again = owner.get(&format!("/workflows/{wf}")).await;
    assert!(!again.body.contains("Activated"), "{}", again.body);
    assert!(
        again.body.contains("badge success\">active"),
        "{}",
        again.body
    );
    let hook = reqwest::Client::new()
        .post(server.url("/webhook/console-hook"))
        .json(&json!({"x": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 200);
    // The message waits for the page it was left for: a download in between does not take it.
    let posted = owner
        .submit("/workflows", &format!("/workflows/{wf}/deactivate"), &[])
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let download = owner.get(&format!("/workflows/{wf}/export")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(!download.body.contains("Deactivated"), "{}", download.body);
    let page = owner
        .get(&posted.location.expect("a redirect names where to"))
        .await;
    assert!(page.body.contains("Deactivated"), "{}", page.body);
    let hook = reqwest::Client::new()
        .post(server.url("/webhook/console-hook"))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 404);

    // Export: the workflow JSON as a download.
    let page = owner.get(&format!("/workflows/{wf}/export")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let exported: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(exported["name"], "Console double");
    assert_eq!(exported["id"], wf.as_str());

    // Run now: on to the execution, which ends with the Set node's output shown.
    let page = owner
        .submit("/workflows", &format!("/workflows/{wf}/run"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let execution = path_of(page.location.as_deref().unwrap());
    assert!(execution.starts_with("/executions/"), "{execution}");
    let page = wait_for_page(&mut owner, &execution, |p| {
        p.body.contains("badge success\">success")
    })
    .await;
    assert!(
        page.body.contains("&quot;doubled&quot;: 42"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<details"), "collapsible");
    assert!(page.body.contains("Input 1 from Start"), "{}", page.body);
    let data = owner.get(&format!("{execution}/data.json")).await;
    let data: Value = serde_json::from_str(&data.body).unwrap();
    assert_eq!(data["status"], "success");

    // Retry: a new execution in retry mode.
    let page = owner
        .submit(&execution, &format!("{execution}/retry"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let retried = page.location.unwrap();
    assert_ne!(retried, execution);
    let page = wait_for_page(&mut owner, &retried, |p| {
        p.body.contains("badge success\">success")
    })
    .await;
    assert!(page.body.contains("<dd>retry</dd>"), "{}", page.body);

    // The list: newest first, filtered by workflow and status.
    let page = owner.get("/executions").await;
    let (first, second) = (
        page.body
            .find(&format!("href=\"{retried}\""))
            .expect("retried listed"),
        page.body
            .find(&format!("href=\"{execution}\""))
            .expect("first listed"),
    );
    assert!(first < second, "newest first");
    let page = owner
        .get(&format!("/executions?workflow={wf}&status=error"))
        .await;
    assert!(page.body.contains("No executions."), "{}", page.body);
    let page = owner
        .get(&format!("/executions?workflow={wf}&status=success"))
        .await;
    assert!(page.body.contains(&format!("href=\"{execution}\"")));
    assert_eq!(
        owner.get("/executions?status=bogus").await.status,
        StatusCode::BAD_REQUEST
    );

    // A failing workflow: the error with its node.
    let mut failing = workflow_json();
    failing["name"] = json!("Console failing");
    failing["nodes"][2]["parameters"]["path"] = json!("console-hook-2");
    failing["nodes"][1] = json!({"name": "Boom", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1,
        "position": [240, 0], "parameters": {"errorMessage": "it broke on purpose"}});
    failing["connections"] =
        json!({"Start": {"main": [[{"node": "Boom", "type": "main", "index": 0}]]}});
    let page = owner
        .submit_and_follow(
            "/workflows/import",
            "/workflows/import",
            &[("json", &failing.to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let failing_id = server
        .state
        .workflows
        .store
        .list(None, None)
        .await
        .unwrap()
        .0
        .into_iter()
        .find(|w| w.workflow.name == "Console failing")
        .unwrap()
        .id;
    let page = owner
        .submit("/workflows", &format!("/workflows/{failing_id}/run"), &[])
        .await;
    let failed = page.location.unwrap();
    let page = wait_for_page(&mut owner, &failed, |p| {
        p.body.contains("badge error\">error")
    })
    .await;
    assert!(
        page.body.contains("Node &quot;Boom&quot; failed"),
        "{}",
        page.body
    );
    assert!(page.body.contains("it broke on purpose"), "{}", page.body);

    // Delete: gone with its executions.
    let page = owner
        .submit_and_follow("/workflows", &format!("/workflows/{wf}/delete"), &[])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Deleted workflow"));
    assert_eq!(
        owner.get(&format!("/workflows/{wf}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(owner.get(&execution).await.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn credential_pages_never_show_a_secret(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "console_credentials").await else {
        return;
    };
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let mut owner = owner_browser(&server).await;
    const SECRET: &str = "s3cret-header-value";
    const NEW_SECRET: &str = "n3w-header-value";

    // The form comes from the type's field spec: the secret field is a password input.
    let page = owner.get("/credentials/new?type=httpHeaderAuth").await;
    assert!(page.body.contains("name=\"f_name\""), "{}", page.body);
    assert!(
        page.body.contains("type=\"password\" name=\"f_value\""),
        "{}",
        page.body
    );
    assert_eq!(
        owner.get("/credentials/new?type=noSuchType").await.status,
        StatusCode::BAD_REQUEST
    );

    // A missing field is named; the secret typed is not sent back.
    let page = owner
        .submit(
            "/credentials/new?type=httpHeaderAuth",
            "/credentials/new",
            &[
                ("type", "httpHeaderAuth"),
                ("name", "Header"),
                ("f_name", ""),
                ("f_value", SECRET),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("required"), "{}", page.body);
    assert!(!page.body.contains(SECRET));
    assert!(server.state.credentials.list().await.unwrap().is_empty());

    let page = owner
        .submit_and_follow(
            "/credentials/new?type=httpHeaderAuth",
            "/credentials/new",
            &[
                ("type", "httpHeaderAuth"),
                ("name", "Header"),
                ("f_name", "X-Key"),
                ("f_value", SECRET),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Created credential"));
    assert!(page.body.contains("Header Auth"));
    assert!(!page.body.contains(SECRET));
    let id = server.state.credentials.list().await.unwrap()[0].id.clone();

    // The edit page shows the API's placeholder, never the secret.
    let page = owner.get(&format!("/credentials/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(node_api::REDACTED), "{}", page.body);
    assert!(!page.body.contains(SECRET));
    assert!(page.body.contains("value=\"X-Key\""));

    // Saving with the placeholder (or blank) keeps the secret.
    for kept in [node_api::REDACTED, ""] {
        let page = owner
            .submit_and_follow(
                &format!("/credentials/{id}"),
                &format!("/credentials/{id}"),
                &[("name", "Header 2"), ("f_name", "X-Key"), ("f_value", kept)],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("Replaced"), "{}", page.body);
        let stored = server.state.credentials.get(&id).await.unwrap();
        assert_eq!(stored.data.get_str("value"), Some(SECRET));
        assert_eq!(stored.meta.name, "Header 2");
    }
    // A new secret replaces it, and the page says what that invalidated.
    let page = owner
        .submit_and_follow(
            &format!("/credentials/{id}"),
            &format!("/credentials/{id}"),
            &[
                ("name", "Header 2"),
                ("f_name", "X-Key"),
                ("f_value", NEW_SECRET),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("Replaced value. Invalidated: every access token cached"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(NEW_SECRET));
    let stored = server.state.credentials.get(&id).await.unwrap();
    assert_eq!(stored.data.get_str("value"), Some(NEW_SECRET));
    // The audit log names the console owner.
    let audit = server.state.credentials.audit(Some(&id), 10).await.unwrap();
    assert!(
        audit.iter().all(|a| a.actor == format!("owner:{EMAIL}")),
        "{audit:?}"
    );

    // A type without a test says so.
    let page = owner
        .submit_and_follow("/credentials", &format!("/credentials/{id}/test"), &[])
        .await;
    assert!(page.body.contains("cannot be tested"), "{}", page.body);

    // Nothing in any page holds a secret.
    for path in ["/credentials", &format!("/credentials/{id}"), "/operators"] {
        let page = owner.get(path).await;
        assert!(
            !page.body.contains(SECRET) && !page.body.contains(NEW_SECRET),
            "{path}"
        );
    }

    let page = owner
        .submit_and_follow("/credentials", &format!("/credentials/{id}/delete"), &[])
        .await;
    assert!(page.body.contains("Deleted credential"), "{}", page.body);
    assert!(server.state.credentials.list().await.unwrap().is_empty());
    server.stop().await;
}

async fn operators_create_and_revoke_api_keys(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "console_operators").await else {
        return;
    };
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let mut owner = owner_browser(&server).await;
    let page = owner.get("/operators").await;
    assert!(page.body.contains("none pending"), "{}", page.body);
    assert!(
        page.body
            .contains(server.state.credentials.current_key_id()),
        "the key id"
    );
    assert!(page.body.contains(env!("CARGO_PKG_VERSION")));

    let page = owner
        .submit("/operators", "/operators/api-keys", &[("name", "")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = owner
        .submit("/operators", "/operators/api-keys", &[("name", "ci")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let at = page
        .body
        .find("id=\"new-api-key\">")
        .expect("the key, once");
    let rest = &page.body[at + "id=\"new-api-key\">".len()..];
    let key = rest[..rest.find('<').unwrap()].to_owned();
    assert!(key.starts_with("sy_"), "{key}");
    let api = common::Api::keyed(&server.url(""), &key);
    assert_eq!(api.get("/api/v1/workflows").await.0, 200);
    // Shown once: the list has the name and id, never the key.
    let page = owner.get("/operators").await;
    assert!(!page.body.contains(&key));
    let keys = engine::api_keys::list(&server.state.db).await.unwrap();
    assert!(page.body.contains(&keys[0].id));

    let page = owner
        .submit_and_follow(
            "/operators",
            &format!("/operators/api-keys/{}/revoke", keys[0].id),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Revoked API key"));
    assert_eq!(api.get("/api/v1/workflows").await.0, 401);
    let page = owner
        .submit("/operators", "/operators/api-keys/nosuchkey/revoke", &[])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    server.stop().await;
}
