//! Test harness: the real server on a free port over a real database, and the real
//! `switchyard` binary for the commands.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use db::testing;
use engine::app::{self, AppState};
use engine::config::Settings;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A test encryption key (hex), and a second one for rotation tests.
pub const KEY_A: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// The key rotated to.
pub const KEY_B: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

/// Which database a test story runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's data directory.
    Sqlite,
    /// A fresh database on the test Postgres server.
    Postgres,
}

/// A data directory and database for one test; `None` when Postgres is skipped.
pub struct TestEnv {
    pub dir: TempDir,
    pub database_url: String,
}

impl TestEnv {
    pub async fn new(backend: Backend, test: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database_url = match backend {
            Backend::Sqlite => testing::sqlite_url(dir.path()),
            Backend::Postgres => testing::fresh_postgres_url(test).await?,
        };
        Some(Self { dir, database_url })
    }

    /// Settings for this environment with the given keys.
    pub fn settings(&self, key: &str, previous: Option<&str>) -> Settings {
        let mut settings = Settings::with_data_dir(self.dir.path());
        settings.set_database_url(&self.database_url);
        settings.set_keys(Some(key), previous);
        settings.listen = "127.0.0.1:0".parse().expect("address");
        settings
    }

    /// Settings with [`KEY_A`] that let nodes and sign-ins reach plain-HTTP hosts on
    /// loopback: for stories that talk to the fake org or another fake service.
    pub fn settings_for_fakes(&self) -> Settings {
        let mut settings = self.settings(KEY_A, None);
        settings.allow_insecure_hosts = true;
        settings
    }

    /// Runs the `switchyard` binary with this environment.
    pub fn switchyard(&self, key: &str, previous: Option<&str>, args: &[&str]) -> Output {
        self.command(key, previous, args)
            .output()
            .expect("switchyard runs")
    }

    /// The `switchyard` binary set up for this environment, not yet started.
    pub fn command(&self, key: &str, previous: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHYARD_DATA_DIR", self.dir.path())
            .env("DATABASE_URL", &self.database_url)
            .env("SWITCHYARD_ENCRYPTION_KEY", key)
            .env("SWITCHYARD_LISTEN", "127.0.0.1:0");
        if let Some(previous) = previous {
            cmd.env("SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS", previous);
        }
        cmd
    }

    /// Creates an API key with the real command and returns it (the last line of stdout).
    pub fn api_key(&self, key: &str) -> String {
        let out = self.switchyard(key, None, &["api-key", "create", "--name", "tests"]);
        assert!(
            out.status.success(),
            "api-key create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        last_line(&out.stdout)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The last non-empty line of a command's output.
pub fn last_line(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A server running in this process on a free port.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(settings: Settings) -> Self {
        Self::start_with_plugins(settings, switchyard::builtin()).await
    }

    /// A server hosting `plugins` instead of the built-in ones.
    pub async fn start_with_plugins(
        settings: Settings,
        plugins: Vec<Arc<dyn node_api::Plugin>>,
    ) -> Self {
        let state = app::open(settings, plugins).await.expect("server opens");
        Self::serve(state, free_port().await)
    }

    /// Like [`TestServer::start`], with `SWITCHYARD_PUBLIC_URL` set to the server's own
    /// address, so that OAuth2 redirect URIs lead back to it.
    pub async fn start_public(settings: Settings) -> Self {
        Self::start_public_with_plugins(settings, switchyard::builtin()).await
    }

    /// [`TestServer::start_public`] hosting `plugins` instead of the built-in ones.
    pub async fn start_public_with_plugins(
        mut settings: Settings,
        plugins: Vec<Arc<dyn node_api::Plugin>>,
    ) -> Self {
        let listener = free_port().await;
        settings.public_url = format!("http://{}", listener.local_addr().expect("address"));
        let state = app::open(settings, plugins).await.expect("server opens");
        Self::serve(state, listener)
    }

    fn serve(state: AppState, listener: tokio::net::TcpListener) -> Self {
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app::serve(state.clone(), listener, async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The typed client for this server, sending `api_key` on every call.
    pub fn api(&self, api_key: &str) -> Api {
        Api::keyed(&self.base, api_key)
    }

    /// The typed client for this server without an API key.
    pub fn anonymous(&self) -> Api {
        Api::new(&self.base, reqwest::Client::new())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops gracefully and waits until the database is closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }
}

/// A listener on a free port of the loopback interface.
async fn free_port() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
}

/// What a call answered: the status and the JSON body (`null` when the body is not JSON,
/// so the status assertion is the one that fails).
pub type Answer = (reqwest::StatusCode, serde_json::Value);

/// [`Answer`] with the answer's headers (content type, `Location`, `Retry-After`, ...).
pub type FullAnswer = (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    serde_json::Value,
);

/// One server's HTTP API as a test sees it: paths relative to the server, every call
/// answered as [`Answer`].
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    /// Sent on every call besides the client's own (an API key, say).
    headers: reqwest::header::HeaderMap,
}

impl Api {
    /// A client for the server at `base` (`http://127.0.0.1:PORT`, no trailing slash).
    pub fn new(base: &str, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            headers: reqwest::header::HeaderMap::new(),
        }
    }

    /// A client for the server at `base` sending `api_key` on every call (a server the
    /// test started as a process, say).
    pub fn keyed(base: &str, api_key: &str) -> Self {
        Self::new(base, reqwest::Client::new()).with_header("X-N8N-API-KEY", api_key)
    }

    /// This client, sending header `name: value` on every call too.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers
            .insert(name, value.parse().expect("header value"));
        self
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` with this client's headers, for what the typed calls do not
    /// cover; send it with [`answer`].
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .headers(self.headers.clone())
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(self.request(reqwest::Method::GET, path)).await
    }

    /// GET, answered with the headers too (`Location`, `Retry-After`, ...).
    pub async fn get_with_headers(&self, path: &str) -> FullAnswer {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Any method, with a JSON body or none, answered with the headers too.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> FullAnswer {
        let request = self.request(method, path);
        answer_with_headers(match body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    /// GET, answered with the body as text (pages and answers that are not JSON).
    pub async fn get_text(&self, path: &str) -> (reqwest::StatusCode, String) {
        let res = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("the server answers");
        let status = res.status();
        (status, res.text().await.expect("a text body"))
    }

    pub async fn delete(&self, path: &str) -> Answer {
        answer(self.request(reqwest::Method::DELETE, path)).await
    }

    /// POST without a body.
    pub async fn post(&self, path: &str) -> Answer {
        answer(self.request(reqwest::Method::POST, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Answer {
        answer(self.request(reqwest::Method::POST, path).json(body)).await
    }

    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> Answer {
        answer(self.request(reqwest::Method::PUT, path).json(body)).await
    }

    pub async fn patch_json(&self, path: &str, body: &serde_json::Value) -> Answer {
        answer(self.request(reqwest::Method::PATCH, path).json(body)).await
    }

    /// POST with a raw body and content type (malformed JSON, other media types).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        self.send_raw(reqwest::Method::POST, path, content_type, body)
            .await
    }

    /// Any method with a raw body and content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        answer(
            self.request(method, path)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }

    /// The underlying client, for requests the typed calls do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Saves a `salesforceClientCredentialsApi` credential named `name` for `org`'s
    /// connected app `consumer_key` / `consumer_secret`, and returns its id.
    pub async fn client_credentials(
        &self,
        name: &str,
        org: &salesforce_fake::FakeOrg,
        consumer_key: &str,
        consumer_secret: &str,
    ) -> String {
        let (status, created) = self
            .post_json(
                "/api/v1/credentials",
                &serde_json::json!({"name": name, "type": "salesforceClientCredentialsApi",
                    "data": {"url": org.base_url(), "clientId": consumer_key,
                             "clientSecret": consumer_secret}}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{created}");
        created["id"].as_str().expect("an id").to_owned()
    }
}

/// A fake Salesforce org whose connected app `consumer_key` / `consumer_secret` signs in
/// `user@example.com` by the client-credentials flow.
pub async fn client_credentials_org(
    consumer_key: &str,
    consumer_secret: &str,
) -> salesforce_fake::FakeOrg {
    salesforce_fake::FakeOrg::builder()
        .consumer_key(consumer_key)
        .consumer_secret(consumer_secret)
        .client_credentials_user("user@example.com")
        .start()
        .await
        .expect("the fake org starts")
}

/// A plugin made of test nodes and polling triggers, nothing else.
pub struct NodesPlugin {
    pub nodes: Vec<Arc<dyn node_api::Node>>,
    pub triggers: Vec<Arc<dyn node_api::PollingTrigger>>,
}

impl node_api::Plugin for NodesPlugin {
    fn name(&self) -> &'static str {
        "test-nodes"
    }

    fn start(&self, _host: node_api::Host) -> Result<Arc<dyn node_api::PluginRuntime>, String> {
        Ok(Arc::new(NodesRuntime {
            nodes: self.nodes.clone(),
            triggers: self.triggers.clone(),
        }))
    }
}

struct NodesRuntime {
    nodes: Vec<Arc<dyn node_api::Node>>,
    triggers: Vec<Arc<dyn node_api::PollingTrigger>>,
}

impl node_api::PluginRuntime for NodesRuntime {
    fn nodes(&self) -> Vec<Arc<dyn node_api::Node>> {
        self.nodes.clone()
    }

    fn polling_triggers(&self) -> Vec<Arc<dyn node_api::PollingTrigger>> {
        self.triggers.clone()
    }
}

/// The built-in plugins plus one made of `nodes` and `triggers`.
pub fn with_test_nodes(
    nodes: Vec<Arc<dyn node_api::Node>>,
    triggers: Vec<Arc<dyn node_api::PollingTrigger>>,
) -> Vec<Arc<dyn node_api::Plugin>> {
    let mut plugins = switchyard::builtin();
    plugins.push(Arc::new(NodesPlugin { nodes, triggers }));
    plugins
}

/// Sends `request` and returns the status with the JSON body (`null` when the body is not
/// JSON, so the status assertion is the one that fails).
pub async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let res = request.send().await.expect("the server answers");
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// [`answer`] with the answer's headers.
pub async fn answer_with_headers(request: reqwest::RequestBuilder) -> FullAnswer {
    let res = request.send().await.expect("the server answers");
    let status = res.status();
    let headers = res.headers().clone();
    (
        status,
        headers,
        res.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Waits (checking every 100 ms, at most `secs`) until `check` gives a value; fails the
/// test naming `what` when it never does.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A throwaway PKCS#8 RSA private key (PEM) for this test run, made in-process.
pub fn test_private_key() -> String {
    testkit::RsaKey::generate().private_pem()
}

/// Runs each named story (an `async fn(Backend)`) as two tests, `sqlite::NAME` and
/// `postgres::NAME`; the Postgres one skips, saying so, when no server is configured
/// outside CI.
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")] async fn $story() { super::$story(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(
                #[cfg_attr(postgres_tests_unset, ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests")]
                #[tokio::test(flavor = "multi_thread")]
                async fn $story() { super::$story(super::Backend::Postgres).await }
            )*
        }
    };
}
pub(crate) use on_both_backends;
