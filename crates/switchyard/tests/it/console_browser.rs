//! The console in a real browser: Debian's chromium, driven through chromedriver with
//! fantoccini, against the real server on a free port and the fake org over real HTTP. Set
//! up the owner, sign out and in, create a JWT credential and test it, connect an OAuth2
//! credential through the fake org's authorize page in the popup, import and run a
//! workflow, open its execution and see a node's output, create and revoke an API key.
//! Screenshots of each page go to `target/console-screenshots/` for a person to look at.
//!
//! Without chromium and chromedriver the test says plainly that it skipped; in CI (`CI`
//! truthy) that is a failure: `.ci/run` installs them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use salesforce_fake::FakeOrg;
use serde_json::json;

use crate::common::{self, Backend, TestEnv, TestServer, KEY_A};
use crate::console::{workflow_json, EMAIL, PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const KEY: &str = "console-consumer-key";
const SECRET: &str = "console-consumer-secret";
const USER: &str = "user@example.com";
const CALLBACK: &str = "/rest/oauth2-credential/callback";
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let driver = Driver { child, url };
        let deadline = Instant::now() + WAIT;
        let http = reqwest::Client::new();
        loop {
            if let Ok(res) = http.get(format!("{}/status", driver.url)).send().await {
                if res.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        driver
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,900"]
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the current page's source contains `needle`.
async fn wait_source(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let source = c.source().await.unwrap_or_default();
        if source.contains(needle) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {needle:?}; it shows: {source}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Whether chromium and chromedriver are here; in CI their absence fails the test.
fn browser_installed() -> bool {
    let here = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !here {
        assert!(
            !db::testing::in_ci(),
            "CI must run the browser test: install chromium and chromium-driver (.ci/run does)"
        );
        eprintln!(
            "SKIPPED console browser test: {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install -y chromium chromium-driver)"
        );
    }
    here
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_chromium() {
    if !browser_installed() {
        return;
    }
    let env = TestEnv::new(Backend::Sqlite, "console_browser")
        .await
        .unwrap();
    let mut settings = env.settings(KEY_A, None);
    settings.allow_insecure_hosts = true;
    let server = TestServer::start_public(settings).await;
    let (private_pem, certificate_pem) = keypair();
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .certificate_pem(&certificate_pem)
        .authorize_as(USER)
        .callback_url(&server.url(CALLBACK))
        .start()
        .await
        .unwrap();
    let driver = Driver::start().await;
    let c = driver.browser().await;
    let outcome = tokio::time::timeout(
        Duration::from_secs(300),
        story(&c, &server, &org, &private_pem),
    )
    .await;
    let _ = c.close().await;
    drop(driver);
    outcome.expect("the browser story finished within 5 minutes");
    server.stop().await;
}

async fn story(c: &Client, server: &TestServer, org: &FakeOrg, private_pem: &str) {
    // First visit: the setup form.
    c.goto(&server.url("/")).await.unwrap();
    wait_source(c, "Set up Switchyard").await;
    shot(c, "01-setup").await;
    fill(c, "input[name=email]", EMAIL).await;
    fill(c, "input[name=name]", "Olive Owner").await;
    fill(c, "input[name=password]", PASSWORD).await;
    click(c, "form[action='/setup'] button[type=submit]").await;
    wait_source(c, "No workflows yet").await;

    // Sign out, and in again.
    click(c, "form.signout button").await;
    wait_source(c, "Sign in</h1>").await;
    shot(c, "02-signin").await;
    fill(c, "input[name=email]", EMAIL).await;
    fill(c, "input[name=password]", PASSWORD).await;
    click(c, "form[action='/signin'] button[type=submit]").await;
    wait_source(c, "No workflows yet").await;

    // A JWT credential, created from its form and tested against the fake org.
    c.goto(&server.url("/credentials/new?type=salesforceJwtApi"))
        .await
        .unwrap();
    wait_source(c, "name=\"f_privateKey\"").await;
    fill(c, "input[name=name]", "Org JWT").await;
    fill(c, "input[name=f_clientId]", KEY).await;
    fill(c, "input[name=f_username]", USER).await;
    fill(c, "textarea[name=f_privateKey]", private_pem).await;
    fill(c, "input[name=f_myDomainUrl]", org.base_url()).await;
    shot(c, "03-credential-form").await;
    click(c, "form.credential button[type=submit]").await;
    wait_source(c, "Created credential").await;
    let jwt = credential_id(server, "Org JWT").await;
    click(c, &format!("form[action='/credentials/{jwt}/test'] button")).await;
    let page = wait_source(c, "Test of \"Org JWT\" passed.").await;
    assert!(
        !page.contains("BEGIN PRIVATE KEY"),
        "the key is never shown"
    );

    // An OAuth2 credential, connected through the fake org's authorize page in the popup.
    c.goto(&server.url("/credentials/new?type=salesforceOAuth2Api"))
        .await
        .unwrap();
    wait_source(c, "name=\"f_clientSecret\"").await;
    fill(c, "input[name=name]", "Org OAuth2").await;
    fill(c, "input[name=f_clientId]", KEY).await;
    fill(c, "input[name=f_clientSecret]", SECRET).await;
    fill(c, "input[name=f_myDomainUrl]", org.base_url()).await;
    click(c, "form.credential button[type=submit]").await;
    wait_source(c, "Created credential").await;
    let oauth2 = credential_id(server, "Org OAuth2").await;
    let main = c.window().await.unwrap();
    click(
        c,
        &format!("form[action='/credentials/{oauth2}/connect'] button"),
    )
    .await;
    let deadline = Instant::now() + WAIT;
    let popup = loop {
        let windows = c.windows().await.unwrap();
        if let Some(other) = windows.into_iter().find(|w| *w != main) {
            break other;
        }
        assert!(Instant::now() < deadline, "the Connect popup never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    c.switch_to_window(popup).await.unwrap();
    wait_source(c, "Allow Access?").await;
    shot(c, "04-authorize-popup").await;
    click(c, "#oaapprove").await;
    // The callback page tells the console and closes itself.
    let deadline = Instant::now() + WAIT;
    while c.windows().await.unwrap().len() > 1 {
        assert!(Instant::now() < deadline, "the popup never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.switch_to_window(main).await.unwrap();
    let page = wait_source(c, "Connected: the service granted access").await;
    assert!(page.contains("badge success connection"), "{page}");
    assert!(!page.contains(SECRET));
    shot(c, "05-credentials").await;

    // Import a workflow (pasted), run it, open the execution and see a node's output.
    c.goto(&server.url("/workflows/import")).await.unwrap();
    wait_source(c, "Import a workflow").await;
    fill(c, "textarea#json", &workflow_json().to_string()).await;
    shot(c, "06-import").await;
    click(c, "form.import button[type=submit]").await;
    wait_source(c, "Imported.").await;
    shot(c, "07-workflow").await;
    click(c, "form[action$='/run'] button").await;
    wait_source(c, "badge success\">success").await;
    click(c, "section.node-run details summary").await;
    let output = c
        .find(Locator::XPath(
            "//section[h3[contains(., 'Double')]]//details[summary[starts-with(., 'Output')]]",
        ))
        .await
        .expect("the Double node's output");
    output
        .find(Locator::Css("summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let text = output
        .find(Locator::Css("pre"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"doubled\": 42"), "{text}");
    shot(c, "08-execution").await;
    c.goto(&server.url("/executions")).await.unwrap();
    wait_source(c, "Console double").await;
    shot(c, "09-executions").await;
    c.goto(&server.url("/workflows")).await.unwrap();
    wait_source(c, "console-hook").await;
    shot(c, "10-workflows").await;
    c.set_window_size(390, 844).await.unwrap();
    shot(c, "11-workflows-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // An API key: created (shown once), then revoked.
    c.goto(&server.url("/operators")).await.unwrap();
    wait_source(c, "API keys").await;
    fill(c, "form.inline input[name=name]", "browser-key").await;
    click(c, "form.inline button[type=submit]").await;
    wait_source(c, "It is shown only this once").await;
    let key = c
        .find(Locator::Css("#new-api-key"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let api = common::Api::keyed(&server.url(""), &key);
    assert_eq!(api.get("/api/v1/workflows").await.0, 200);
    shot(c, "12-operators").await;
    click(c, "form[action$='/revoke'] button").await;
    // The confirm dialog.
    let deadline = Instant::now() + WAIT;
    while c.accept_alert().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the revoke confirmation never showed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_source(c, "Revoked API key \"browser-key\"").await;
    assert_eq!(api.get("/api/v1/workflows").await.0, 401);
    shot(c, "13-operators-revoked").await;
}

async fn credential_id(server: &TestServer, name: &str) -> String {
    server
        .state
        .credentials
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("credential {name} stored"))
        .id
}

fn keypair() -> (String, String) {
    let key = testkit::RsaKey::generate();
    (key.private_pem(), key.self_signed_certificate("console"))
}
