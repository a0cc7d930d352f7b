//! Sign-in and the token lifecycle against the fake org over real HTTP, on SQLite and
//! Postgres.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use credentials::{
    Actor, CredentialPatch, CredentialStore, CredentialTypes, EncryptionKey, KeyRing,
    NewCredential, ValidateOptions,
};
use db::Db;
use salesforce_fake::FakeOrg;
use salesforce_node::auth::Method;
use salesforce_node::{
    AuthSettings, Client, Error, SignInProblem, TokenProvider, DEFAULT_API_VERSION,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

const KEY: &str = "test-consumer-key";
const SECRET: &str = "test-consumer-secret";
const USER: &str = "user@example.com";
const TOKEN: &str = "POST /services/oauth2/token";
const SETTINGS: AuthSettings = AuthSettings {
    allow_insecure_hosts: true,
};

struct KeyPair {
    private_pem: String,
    certificate_pem: String,
}

fn keypair(dir: &Path, name: &str) -> KeyPair {
    let (key, crt) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.crt")),
    );
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=sf-node-test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl must be installed to make test keys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    KeyPair {
        private_pem: std::fs::read_to_string(key).unwrap(),
        certificate_pem: std::fs::read_to_string(crt).unwrap(),
    }
}

fn store(db: Db) -> CredentialStore {
    CredentialStore::new(
        db,
        Arc::new(KeyRing::new(EncryptionKey::generate(), vec![])),
        Arc::new(
            CredentialTypes::new(salesforce_node::credential_types::credential_types())
                .expect("distinct types"),
        ),
        ValidateOptions {
            allow_insecure_loopback: true,
        },
    )
}

async fn create(store: &CredentialStore, type_name: &str, data: Value) -> String {
    let new = NewCredential {
        id: None,
        name: "sf".into(),
        type_name: type_name.into(),
        data,
    };
    store.create(new, &Actor::Cli).await.unwrap().id
}

fn client(store: &CredentialStore) -> Client {
    let provider = TokenProvider::new(Arc::new(store.clone()), reqwest::Client::new(), SETTINGS);
    Client::new(Arc::new(provider), DEFAULT_API_VERSION)
}

fn jwt_data(org: &FakeOrg, key: &KeyPair, client_id: &str) -> Value {
    json!({"environment": "production", "clientId": client_id, "username": USER,
           "privateKey": key.private_pem, "myDomainUrl": org.base_url()})
}

/// Each story runs on SQLite, then on Postgres when a server is configured.
async fn backends(test: &str) -> Vec<(Db, Option<tempfile::TempDir>)> {
    let (db, dir) = db::testing::sqlite().await;
    let mut all = vec![(db, Some(dir))];
    if let Some(pg) = db::testing::postgres(test).await {
        all.push((pg, None));
    }
    all
}

#[tokio::test]
async fn jwt_signs_in_once_for_many_calls_and_a_restart_reuses_the_stored_token() {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "jwt");
    for (db, _guard) in backends("jwt_signs_in_once").await {
        let org = FakeOrg::builder()
            .consumer_key(KEY)
            .consumer_secret(SECRET)
            .certificate_pem(&key.certificate_pem)
            .start()
            .await
            .unwrap();
        let store = store(db);
        let id = create(&store, "salesforceJwtApi", jwt_data(&org, &key, KEY)).await;
        let api = client(&store);
        for _ in 0..1000 {
            let r = api.get(&id, "/limits").await.unwrap();
            assert_eq!(r.status, 200);
        }
        assert_eq!(
            org.counter(TOKEN),
            1,
            "1,000 calls within a token's lifetime sign in once"
        );
        let stored = store
            .get(&id)
            .await
            .unwrap()
            .token_data
            .expect("token data stored");
        assert!(stored.get_str("access_token").is_some());
        assert_eq!(stored.get_str("instance_url"), Some(org.base_url()));

        // A new process: same store, new provider.
        let restarted = client(&store);
        let who = restarted.userinfo(&id).await.unwrap();
        assert_eq!(who["preferred_username"], USER);
        assert_eq!(org.counter(TOKEN), 1, "a restart reuses the stored token");
    }
}

#[tokio::test]
async fn fifty_concurrent_calls_on_an_expired_token_sign_in_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "jwt");
    for (db, _guard) in backends("fifty_concurrent").await {
        let org = FakeOrg::builder()
            .consumer_key(KEY)
            .consumer_secret(SECRET)
            .certificate_pem(&key.certificate_pem)
            .start()
            .await
            .unwrap();
        let store = store(db);
        let id = create(&store, "salesforceJwtApi", jwt_data(&org, &key, KEY)).await;
        let api = client(&store);
        // Cold start: 50 callers, one sign-in.
        let calls = (0..50).map(|_| {
            let (api, id) = (api.clone(), id.clone());
            tokio::spawn(async move { api.get(&id, "/limits").await })
        });
        for r in futures_join(calls).await {
            assert_eq!(r.unwrap().status, 200);
        }
        assert_eq!(org.counter(TOKEN), 1);
        // Expired token: every caller gets 401 INVALID_SESSION_ID, one sign-in, all retry.
        org.expire_tokens_now();
        let calls = (0..50).map(|_| {
            let (api, id) = (api.clone(), id.clone());
            tokio::spawn(async move { api.get(&id, "/limits").await })
        });
        for r in futures_join(calls).await {
            assert_eq!(r.unwrap().status, 200);
        }
        assert_eq!(
            org.counter(TOKEN),
            2,
            "one new sign-in shared by 50 callers"
        );
    }
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

fn problem(e: &Error) -> SignInProblem {
    match e {
        Error::SignIn { problem, .. } => *problem,
        other => panic!("expected a sign-in error, got {other}"),
    }
}

#[tokio::test]
async fn jwt_errors_name_the_setup_step() {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "jwt");
    let other = keypair(dir.path(), "other");
    let (db, _guard) = db::testing::sqlite().await;
    let store = store(db);
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .certificate_pem(&key.certificate_pem)
        .start()
        .await
        .unwrap();
    let api = client(&store);

    let id = create(&store, "salesforceJwtApi", jwt_data(&org, &other, KEY)).await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert_eq!(problem(&e), SignInProblem::CertificateMismatch);
    assert!(
        e.to_string()
            .contains("certificate uploaded to the Salesforce app does not match"),
        "{e}"
    );
    assert!(!e.to_string().contains("PRIVATE KEY"));

    let id = create(
        &store,
        "salesforceJwtApi",
        jwt_data(&org, &key, "wrong-key"),
    )
    .await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert_eq!(problem(&e), SignInProblem::UnknownClientId);
    assert!(e.to_string().contains("check the Client ID"), "{e}");

    let locked = FakeOrg::builder()
        .consumer_key(KEY)
        .certificate_pem(&key.certificate_pem)
        .pre_authorize_none()
        .start()
        .await
        .unwrap();
    let id = create(&store, "salesforceJwtApi", jwt_data(&locked, &key, KEY)).await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert_eq!(problem(&e), SignInProblem::UserNotPreAuthorized);
    let admin = FakeOrg::builder()
        .consumer_key(KEY)
        .certificate_pem(&key.certificate_pem)
        .pre_authorize_none()
        .admin_approval_required(true)
        .start()
        .await
        .unwrap();
    let id = create(&store, "salesforceJwtApi", jwt_data(&admin, &key, KEY)).await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert_eq!(problem(&e), SignInProblem::UserNotPreAuthorized);
    assert!(e.to_string().contains("invalid_app_access"), "{e}");

    // An org that accepts only its My Domain as audience, signed for the login host.
    let strict = FakeOrg::builder()
        .consumer_key(KEY)
        .certificate_pem(&key.certificate_pem)
        .my_domain_audience_only()
        .start()
        .await
        .unwrap();
    let method = Method::Jwt {
        client_id: KEY.into(),
        username: USER.into(),
        private_key: key.private_pem.clone().into(),
        login_url: strict.base_url().into(),
        audience: "https://login.salesforce.com".into(),
    };
    let e = method
        .sign_in(&reqwest::Client::new(), &SETTINGS)
        .await
        .unwrap_err();
    assert_eq!(problem(&e), SignInProblem::WrongAudience);
    assert!(e.to_string().contains("set the My Domain URL"), "{e}");
}

#[tokio::test]
async fn client_credentials_sign_in_and_errors() {
    let (db, _guard) = db::testing::sqlite().await;
    let store = store(db);
    let api = client(&store);
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user(USER)
        .start()
        .await
        .unwrap();
    let data = |secret: &str, org: &FakeOrg| json!({"url": org.base_url(), "clientId": KEY, "clientSecret": secret});
    let id = create(&store, "salesforceClientCredentialsApi", data(SECRET, &org)).await;
    assert_eq!(api.userinfo(&id).await.unwrap()["preferred_username"], USER);

    let id = create(
        &store,
        "salesforceClientCredentialsApi",
        data("not-the-secret", &org),
    )
    .await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert_eq!(problem(&e), SignInProblem::WrongClientSecret);
    assert!(
        e.to_string().contains("check the Client Secret")
            && !e.to_string().contains("not-the-secret"),
        "{e}"
    );

    let no_user = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .start()
        .await
        .unwrap();
    let id = create(
        &store,
        "salesforceClientCredentialsApi",
        data(SECRET, &no_user),
    )
    .await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert_eq!(problem(&e), SignInProblem::NoRunAsUser);
    assert!(e.to_string().contains("Run As user"), "{e}");

    // https only, unless the operator allows loopback http.
    let strict = TokenProvider::new(
        Arc::new(store.clone()),
        reqwest::Client::new(),
        AuthSettings::default(),
    );
    let e = strict.token(&id).await.unwrap_err();
    assert!(matches!(e, Error::InsecureUrl { what: "url", .. }), "{e}");
}

#[tokio::test]
async fn a_credential_update_takes_effect_on_the_next_call() {
    for (db, _guard) in backends("credential_update").await {
        let store = store(db);
        let api = client(&store);
        let org = FakeOrg::builder()
            .consumer_key(KEY)
            .consumer_secret(SECRET)
            .client_credentials_user(USER)
            .start()
            .await
            .unwrap();
        let id = create(
            &store,
            "salesforceClientCredentialsApi",
            json!({"url": org.base_url(), "clientId": KEY, "clientSecret": SECRET}),
        )
        .await;
        api.userinfo(&id).await.unwrap();
        // The operator pastes a new (here: wrong) secret; the engine tells the provider.
        let patch = CredentialPatch {
            name: None,
            data: Some(json!({"clientSecret": "rotated-wrong"})),
        };
        store.update(&id, patch, &Actor::Cli).await.unwrap();
        api.provider().invalidate(&id);
        let e = api.userinfo(&id).await.unwrap_err();
        assert_eq!(problem(&e), SignInProblem::WrongClientSecret);
        let patch = CredentialPatch {
            name: None,
            data: Some(json!({"clientSecret": SECRET})),
        };
        store.update(&id, patch, &Actor::Cli).await.unwrap();
        api.provider().invalidate(&id);
        api.userinfo(&id).await.unwrap();
        assert_eq!(org.counter(TOKEN), 3);
    }
}

/// Approves an authorize URL on the fake (auto-approve) and returns the code.
async fn authorize(url: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http.get(url).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("a code")
        .1
        .into_owned();
    code
}

#[tokio::test]
async fn oauth2_refresh_keeps_instance_url_stores_rotated_token_and_dead_token_says_reconnect() {
    for (db, _guard) in backends("oauth2_refresh").await {
        let store = store(db);
        let api = client(&store);
        let org = FakeOrg::builder()
            .consumer_key(KEY)
            .consumer_secret(SECRET)
            .auto_approve(true)
            .refresh_token_rotation(true)
            .start()
            .await
            .unwrap();
        let id = create(&store, "salesforceOAuth2Api", json!({"environment": "production", "clientId": KEY, "clientSecret": SECRET, "myDomainUrl": org.base_url()})).await;
        let e = api.userinfo(&id).await.unwrap_err();
        assert!(matches!(e, Error::NotConnected), "{e}");
        assert!(e.to_string().contains("connect it first"));

        let provider = api.provider();
        let method = provider.method(&id).await.unwrap();
        // A fixed PKCE pair (the engine makes fresh ones): the S256 hash of the verifier.
        let verifier = SecretString::from("switchyard-test-verifier-0123456789abcdefghijklmnop");
        let challenge = "0Abwq48oJR-YNuvgDJ9GAqtCCD9vUZ5yrD7hXQ8IgKg";
        let redirect = "http://127.0.0.1:9/rest/oauth2-credential/callback";
        let code = authorize(&method.authorize_url(redirect, "s", challenge).unwrap()).await;
        let token = method
            .exchange_code(provider.http(), &SETTINGS, &code, &verifier, redirect)
            .await
            .unwrap();
        let first_refresh = token
            .refresh_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        // What the engine's callback does: store the token data, then tell the plugin.
        store
            .set_token_data(&id, Some(token.to_token_data()))
            .await
            .unwrap();
        provider.invalidate(&id);
        assert_eq!(api.userinfo(&id).await.unwrap()["preferred_username"], USER);

        org.expire_tokens_now();
        assert_eq!(api.userinfo(&id).await.unwrap()["preferred_username"], USER);
        let stored = store.get(&id).await.unwrap().token_data.unwrap();
        assert_eq!(stored.get_str("instance_url"), Some(org.base_url()));
        // One refresh counted for this credential, and no sign-in: OAuth2 only refreshes.
        let m = api
            .metrics()
            .into_iter()
            .find(|m| m.credential_id == id)
            .unwrap();
        assert_eq!((m.refreshes, m.sign_ins), (1, 0));
        let rotated = stored.get_str("refresh_token").unwrap().to_owned();
        assert_ne!(
            rotated, first_refresh,
            "the rotated refresh token is stored"
        );

        // A restart after rotation still refreshes with the stored (new) refresh token.
        org.expire_tokens_now();
        let restarted = client(&store);
        assert_eq!(
            restarted.userinfo(&id).await.unwrap()["preferred_username"],
            USER
        );

        org.revoke_all_tokens();
        let e = restarted.userinfo(&id).await.unwrap_err();
        assert_eq!(problem(&e), SignInProblem::ReconnectNeeded);
        assert!(e.to_string().contains("reconnect this credential"), "{e}");
    }
}

/// A `tracing` writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread, so the org, the client and the HTTP stack all log to the captured subscriber.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_or_token_reaches_the_logs_at_trace_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _logs = tracing::subscriber::set_default(subscriber);

    let (db, _guard) = db::testing::sqlite().await;
    let store = store(db);
    let api = client(&store);
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user(USER)
        .start()
        .await
        .unwrap();
    let id = create(
        &store,
        "salesforceClientCredentialsApi",
        json!({"url": org.base_url(), "clientId": KEY, "clientSecret": SECRET}),
    )
    .await;
    api.get(&id, "/limits").await.unwrap();
    let first = store.get(&id).await.unwrap().token_data.unwrap();
    let first = first.get_str("access_token").unwrap().to_owned();
    // An expired session: one new sign-in and a retry, both logged.
    org.expire_tokens_now();
    api.get(&id, "/limits").await.unwrap();
    let second = store.get(&id).await.unwrap().token_data.unwrap();
    let second = second.get_str("access_token").unwrap().to_owned();
    assert_ne!(first, second);
    // A 503 and a retry, logged with the error.
    org.fail_next_calls(1);
    api.get(&id, "/limits").await.unwrap();
    // A failed sign-in with a wrong secret.
    let wrong = create(
        &store,
        "salesforceClientCredentialsApi",
        json!({"url": org.base_url(), "clientId": KEY, "clientSecret": "wrong-secret-5d1e"}),
    )
    .await;
    assert!(api.userinfo(&wrong).await.is_err());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("signing in"),
        "the sign-ins were logged:\n{logs}"
    );
    assert!(
        logs.contains("session expired"),
        "the re-sign-in was logged"
    );
    assert!(
        logs.contains("retrying") && logs.contains("SERVER_UNAVAILABLE"),
        "the retry was logged"
    );
    for secret in [SECRET, "wrong-secret-5d1e", first.as_str(), second.as_str()] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}
