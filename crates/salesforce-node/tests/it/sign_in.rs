//! Sign-in and the token lifecycle against the fake org over real HTTP, on SQLite and
//! Postgres.

use std::path::Path;
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

fn keypair(_dir: &Path, name: &str) -> KeyPair {
    let key = testkit::RsaKey::generate();
    KeyPair {
        private_pem: key.private_pem(),
        certificate_pem: key.self_signed_certificate(&format!("sf-node-test-{name}")),
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

// Each story below runs on SQLite and on Postgres, as two tests.
crate::both_backends!(jwt_signs_in_once_for_many_calls_and_a_restart_reuses_the_stored_token);

async fn jwt_signs_in_once_for_many_calls_and_a_restart_reuses_the_stored_token(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "jwt");
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

/// Waits (polling every 20 ms, up to 30 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// 50 callers at once, on the test's worker threads, while the org holds the first token
/// request unanswered until all 50 have started: every caller asks for a token while that
/// one is in flight. Returns once all 50 calls have succeeded.
async fn fifty_at_once(org: &FakeOrg, api: &Client, id: &str) {
    let tokens_before = org.counter(TOKEN);
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    org.hold_token_requests();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (api, id) = (api.clone(), id.to_owned());
            let (started, barrier) = (started.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                api.get(&id, "/limits").await
            })
        })
        .collect();
    until("a token request reaches the org", || {
        org.counter(TOKEN) > tokens_before
    })
    .await;
    until("all 50 callers start", || {
        started.load(std::sync::atomic::Ordering::SeqCst) == 50
    })
    .await;
    org.release_token_requests();
    for r in futures_join(calls.into_iter()).await {
        assert_eq!(r.unwrap().status, 200);
    }
}

/// Cold start, then an expired token, 50 callers each time: one sign-in each time.
async fn fifty_callers_sign_in_once_each_time(org: &FakeOrg, store: &CredentialStore, id: &str) {
    let api = client(store);
    fifty_at_once(org, &api, id).await;
    assert_eq!(org.counter(TOKEN), 1, "one sign-in shared by 50 callers");
    // Expired token: callers get 401 INVALID_SESSION_ID, one sign-in, all retry.
    org.expire_tokens_now();
    fifty_at_once(org, &api, id).await;
    assert_eq!(
        org.counter(TOKEN),
        2,
        "one new sign-in shared by 50 callers"
    );
    let m = api.metrics();
    assert_eq!((m[0].sign_ins, m[0].refreshes), (2, 0));
}

crate::both_backends!(fifty_concurrent_calls_on_an_expired_jwt_token_sign_in_exactly_once);

async fn fifty_concurrent_calls_on_an_expired_jwt_token_sign_in_exactly_once(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let key = keypair(dir.path(), "jwt");
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .certificate_pem(&key.certificate_pem)
        .start()
        .await
        .unwrap();
    let store = store(db);
    let id = create(&store, "salesforceJwtApi", jwt_data(&org, &key, KEY)).await;
    fifty_callers_sign_in_once_each_time(&org, &store, &id).await;
}

crate::both_backends!(
    fifty_concurrent_calls_on_an_expired_client_credentials_token_sign_in_exactly_once
);

async fn fifty_concurrent_calls_on_an_expired_client_credentials_token_sign_in_exactly_once(
    db: Db,
) {
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user(USER)
        .start()
        .await
        .unwrap();
    let store = store(db);
    let id = create(
        &store,
        "salesforceClientCredentialsApi",
        json!({"url": org.base_url(), "clientId": KEY, "clientSecret": SECRET}),
    )
    .await;
    fifty_callers_sign_in_once_each_time(&org, &store, &id).await;
}

crate::both_backends!(
    fifty_concurrent_oauth2_calls_on_an_expired_token_refresh_once_and_keep_the_rotated_token
);

/// A fake org with refresh-token rotation on, approving every authorization.
async fn rotating_org() -> FakeOrg {
    FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .auto_approve(true)
        .refresh_token_rotation(true)
        .start()
        .await
        .unwrap()
}

/// An org with refresh-token rotation on, and an OAuth2 credential connected to it.
struct Rotating {
    org: FakeOrg,
    store: CredentialStore,
    id: String,
    api: Client,
    /// The refresh token the connection stored.
    first_refresh: String,
}

impl Rotating {
    async fn connect(db: Db) -> Self {
        let org = rotating_org().await;
        let store = store(db);
        let id = create(&store, "salesforceOAuth2Api", oauth2_data(&org)).await;
        let api = client(&store);
        let first_refresh = connect(&store, &api, &id).await;
        Rotating {
            org,
            store,
            id,
            api,
            first_refresh,
        }
    }
}

/// OAuth2 with refresh-token rotation: the refresh that matters most in production. A
/// second refresh with the rotated-out token would make the org revoke the whole grant.
async fn fifty_concurrent_oauth2_calls_on_an_expired_token_refresh_once_and_keep_the_rotated_token(
    db: Db,
) {
    let Rotating {
        org,
        store,
        id,
        api,
        first_refresh,
    } = Rotating::connect(db).await;
    let stored_refresh = |store: CredentialStore, id: String| async move {
        let data = store.get(&id).await.unwrap().token_data.unwrap();
        data.get_str("refresh_token").unwrap().to_owned()
    };
    let exchanged = org.counter(TOKEN); // the authorization code exchange

    // The stored token serves 50 callers with no token request at all.
    api.get(&id, "/limits").await.unwrap();
    assert_eq!(org.counter(TOKEN), exchanged);
    // Expired: 50 callers, one refresh, and the rotated refresh token is stored.
    org.expire_tokens_now();
    fifty_at_once(&org, &api, &id).await;
    assert_eq!(
        org.counter(TOKEN),
        exchanged + 1,
        "one refresh for 50 callers"
    );
    let rotated = stored_refresh(store.clone(), id.clone()).await;
    assert_ne!(
        rotated, first_refresh,
        "the rotated refresh token is stored"
    );
    let m = api.metrics();
    assert_eq!((m[0].refreshes, m[0].sign_ins), (1, 0));

    // Again, from a restarted process: the stored (rotated) refresh token still works,
    // and is rotated once more.
    org.expire_tokens_now();
    let restarted = client(&store);
    fifty_at_once(&org, &restarted, &id).await;
    assert_eq!(org.counter(TOKEN), exchanged + 2);
    let again = stored_refresh(store.clone(), id.clone()).await;
    assert!(again != rotated && again != first_refresh);
    // And the credential still works afterwards, in the first process too.
    assert_eq!(api.userinfo(&id).await.unwrap()["preferred_username"], USER);
}

// A refresh with rotation on, racing an operator's new client secret: the store drops the
// access token and keeps the refresh token, but that is the one the refresh just spent. The
// rotated one must take its place, or the credential needs connecting again.
crate::both_backends!(a_rotated_refresh_token_survives_a_secret_change_during_the_refresh);

async fn a_rotated_refresh_token_survives_a_secret_change_during_the_refresh(db: Db) {
    let Rotating {
        org,
        store,
        id,
        api,
        first_refresh,
    } = Rotating::connect(db).await;
    api.get(&id, "/limits").await.unwrap();
    let exchanged = org.counter(TOKEN);

    // A call finds its token refused, and its refresh reaches the org and is held there
    // while the secret changes.
    org.expire_tokens_now();
    org.hold_token_requests();
    let in_flight = {
        let (api, id) = (api.clone(), id.clone());
        tokio::spawn(async move { api.get(&id, "/limits").await })
    };
    until("the refresh reaches the org", || {
        org.counter(TOKEN) == exchanged + 1
    })
    .await;
    let secret_patch = |secret: &str| CredentialPatch {
        name: None,
        data: Some(json!({"clientSecret": secret})),
    };
    store
        .update(&id, secret_patch("a-mistyped-secret"), &Actor::Cli)
        .await
        .unwrap();
    api.provider().invalidate(&id);
    assert!(!in_flight.is_finished(), "the refresh is still held");
    org.release_token_requests();
    // The caller that was waiting gets its answer with the refreshed token.
    in_flight.await.unwrap().unwrap();

    // Stored: the rotated refresh token, no access token (the update dropped it), no claim.
    let stored = store.get(&id).await.unwrap().token_data.unwrap();
    let rotated = stored.get_str("refresh_token").unwrap().to_owned();
    assert_ne!(rotated, first_refresh, "the spent refresh token was kept");
    assert_eq!(stored.get_str("access_token"), None);
    assert!(!stored.expose().contains_key("refreshing_until"));

    // The operator puts the right secret back: the credential works without reconnecting,
    // refreshing with the rotated token.
    store
        .update(&id, secret_patch(SECRET), &Actor::Cli)
        .await
        .unwrap();
    api.provider().invalidate(&id);
    assert_eq!(api.userinfo(&id).await.unwrap()["preferred_username"], USER);
    assert_eq!(org.counter(TOKEN), exchanged + 2);
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

crate::both_backends!(a_credential_update_takes_effect_on_the_next_call);

async fn a_credential_update_takes_effect_on_the_next_call(db: Db) {
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

fn oauth2_data(org: &FakeOrg) -> Value {
    json!({"environment": "production", "clientId": KEY, "clientSecret": SECRET,
           "myDomainUrl": org.base_url()})
}

/// Connects an OAuth2 credential as the engine's connect flow does (authorize, exchange
/// the code, store the token data, tell the plugin); returns the first refresh token.
async fn connect(store: &CredentialStore, api: &Client, id: &str) -> String {
    let provider = api.provider();
    let method = provider.method(id).await.unwrap();
    // A fixed PKCE pair (the engine makes fresh ones): the S256 hash of the verifier.
    let verifier = SecretString::from("switchyard-test-verifier-0123456789abcdefghijklmnop");
    let challenge = "0Abwq48oJR-YNuvgDJ9GAqtCCD9vUZ5yrD7hXQ8IgKg";
    let redirect = "http://127.0.0.1:9/rest/oauth2-credential/callback";
    let code = authorize(&method.authorize_url(redirect, "s", challenge).unwrap()).await;
    let token = method
        .exchange_code(provider.http(), &SETTINGS, &code, &verifier, redirect)
        .await
        .unwrap();
    store
        .set_token_data(id, Some(token.to_token_data()))
        .await
        .unwrap();
    provider.invalidate(id);
    token
        .refresh_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned()
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

crate::both_backends!(
    oauth2_refresh_keeps_instance_url_stores_rotated_token_and_dead_token_says_reconnect
);

async fn oauth2_refresh_keeps_instance_url_stores_rotated_token_and_dead_token_says_reconnect(
    db: Db,
) {
    let store = store(db);
    let api = client(&store);
    let org = rotating_org().await;
    let id = create(&store, "salesforceOAuth2Api", oauth2_data(&org)).await;
    let e = api.userinfo(&id).await.unwrap_err();
    assert!(matches!(e, Error::NotConnected), "{e}");
    assert!(e.to_string().contains("connect it first"));

    let first_refresh = connect(&store, &api, &id).await;
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

// One thread, so the org, the client and the HTTP stack all log to the captured subscriber.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_or_token_reaches_the_logs_at_trace_level() {
    let captured = testkit::LogCapture::this_thread(tracing::Level::TRACE);

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

    let logs = captured.text();
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

crate::both_backends!(two_processes_refreshing_one_rotating_credential_at_once_keep_it_working);

/// Two processes on one database (each its own store cache and token provider, as two
/// servers, or a server and a command, have) find the same expired token at once. With
/// refresh-token rotation on, a second refresh with the same refresh token makes the org
/// revoke the grant: exactly one refresh may happen, and both must use its token.
async fn two_processes_refreshing_one_rotating_credential_at_once_keep_it_working(db: Db) {
    let org = rotating_org().await;
    let keys = Arc::new(KeyRing::new(EncryptionKey::generate(), vec![]));
    let process = |db: Db| {
        CredentialStore::new(
            db,
            keys.clone(),
            Arc::new(
                CredentialTypes::new(salesforce_node::credential_types::credential_types())
                    .expect("distinct types"),
            ),
            ValidateOptions {
                allow_insecure_loopback: true,
            },
        )
    };
    let (store_a, store_b) = (process(db.clone()), process(db));
    let id = create(&store_a, "salesforceOAuth2Api", oauth2_data(&org)).await;
    let (a, b) = (client(&store_a), client(&store_b));
    let first_refresh = connect(&store_a, &a, &id).await;
    // Both processes hold the same access token, and the same refresh token behind it.
    a.get(&id, "/limits").await.unwrap();
    b.userinfo(&id).await.unwrap();
    let exchanged = org.counter(TOKEN);

    org.expire_tokens_now();
    org.hold_token_requests();
    let (limits, userinfo) = (
        "GET /services/data/{v}/limits",
        "GET /services/oauth2/userinfo",
    );
    let (limits_before, userinfo_before) = (org.counter(limits), org.counter(userinfo));
    // Process a calls /limits, process b userinfo: ten callers each.
    let mut calls = Vec::new();
    for _ in 0..10 {
        let (a, a_id) = (a.clone(), id.clone());
        calls.push(tokio::spawn(async move {
            a.get(&a_id, "/limits").await.map(drop)
        }));
        let (b, b_id) = (b.clone(), id.clone());
        calls.push(tokio::spawn(
            async move { b.userinfo(&b_id).await.map(drop) },
        ));
    }
    // Both processes have sent the expired token (and are on their way to a new one)
    // while the first refresh is held unanswered.
    until("process a sends the expired token", || {
        org.counter(limits) > limits_before
    })
    .await;
    until("process b sends the expired token", || {
        org.counter(userinfo) > userinfo_before
    })
    .await;
    until("a refresh reaches the org", || {
        org.counter(TOKEN) > exchanged
    })
    .await;
    org.release_token_requests();
    for call in calls {
        call.await.unwrap().expect("every call succeeds");
    }
    assert_eq!(
        org.counter(TOKEN),
        exchanged + 1,
        "one refresh between the two processes"
    );
    // Read from the database itself, not through either process's cache.
    let uncached = store_a.clone().with_cache_ttl(std::time::Duration::ZERO);
    let stored = uncached.get(&id).await.unwrap().token_data.unwrap();
    let rotated = stored.get_str("refresh_token").unwrap().to_owned();
    assert_ne!(
        rotated, first_refresh,
        "the rotated refresh token is stored"
    );
    assert!(
        stored.expose().get("refreshing_until").is_none(),
        "the refresh claim is gone"
    );

    // The credential still works in both, through the next expiry and refresh too.
    org.expire_tokens_now();
    b.userinfo(&id).await.unwrap();
    a.get(&id, "/limits").await.unwrap();
    assert_eq!(org.counter(TOKEN), exchanged + 2);
    let again = uncached.get(&id).await.unwrap().token_data.unwrap();
    assert_ne!(again.get_str("refresh_token").unwrap(), rotated);
}
