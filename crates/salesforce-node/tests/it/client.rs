//! The REST client against the fake org over real HTTP: retries, typed errors, API usage
//! and counters, query paging, the API version, and a sign-in racing a credential update.

use std::sync::Arc;
use std::time::Duration;

use credentials::{
    Actor, CredentialPatch, CredentialStore, CredentialTypes, EncryptionKey, KeyRing,
    NewCredential, ValidateOptions,
};
use db::Db;
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use salesforce_fake::{FakeOrg, RetryAfter};
use salesforce_node::{
    ApiUsage, AuthSettings, Call, Client, Error, QueryOptions, RetryPolicy, SignInProblem,
    TokenProvider, TransportKind,
};
use serde_json::{json, Value};

const KEY: &str = "test-consumer-key";
const SECRET: &str = "test-consumer-secret";
const USER: &str = "user@example.com";
const TOKEN: &str = "POST /services/oauth2/token";
const RECORD: &str = "/services/data/{v}/sobjects/{object}/{id}";
const OBJECT: &str = "/services/data/{v}/sobjects/{object}";
const SETTINGS: AuthSettings = AuthSettings {
    allow_insecure_hosts: true,
};

/// Retries without long waits, so the tests stay quick; the rules are the same.
const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    min_delay: Duration::from_millis(1),
    max_delay: Duration::from_millis(5),
    max_total_delay: Duration::from_secs(1),
    timeout: Duration::from_secs(30),
};

async fn org() -> FakeOrg {
    FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user(USER)
        .start()
        .await
        .unwrap()
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

async fn sqlite_store() -> (CredentialStore, tempfile::TempDir) {
    let (db, dir) = db::testing::sqlite().await;
    (store(db), dir)
}

async fn credential(store: &CredentialStore, org: &FakeOrg) -> String {
    let new = NewCredential {
        id: None,
        name: "cc".into(),
        type_name: "salesforceClientCredentialsApi".into(),
        data: json!({"url": org.base_url(), "clientId": KEY, "clientSecret": SECRET}),
    };
    store.create(new, &Actor::Cli).await.unwrap().id
}

fn client(store: &CredentialStore, version: &str, retry: RetryPolicy) -> Client {
    let provider = TokenProvider::new(Arc::new(store.clone()), reqwest::Client::new(), SETTINGS);
    Client::new(Arc::new(provider), version).with_retry(retry)
}

fn counter(org: &FakeOrg, method: &str, route: &str) -> u64 {
    org.counter(&format!("{method} {route}"))
}

#[tokio::test]
async fn a_get_is_retried_after_503s_and_succeeds() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    let account = org.insert("Account", json!({"Name": "Acme"})).unwrap();

    org.fail_next_calls(2);
    let res = sf
        .get(&id, &format!("/sobjects/Account/{account}"))
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.body["Name"], "Acme");
    // Two 503s, then the answer: the org saw three requests, the client counted three.
    assert_eq!(counter(&org, "GET", RECORD), 3);
    assert_eq!(sf.metrics()[0].api_calls, 3);
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_with_the_last_error() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let three = RetryPolicy {
        max_attempts: 3,
        ..FAST
    };
    let sf = client(&store, "v64.0", three);
    let account = org.insert("Account", json!({"Name": "Acme"})).unwrap();

    org.fail_next_calls(10);
    let e = sf
        .get(&id, &format!("/sobjects/Account/{account}"))
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Api { status: 503, .. }), "{e:?}");
    assert_eq!(e.error_codes(), vec!["SERVER_UNAVAILABLE"]);
    assert_eq!(counter(&org, "GET", RECORD), 3);
}

#[tokio::test]
async fn a_create_is_not_retried_unless_the_caller_marks_it_safe() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    let fields = json!({"Name": "Once"});

    org.fail_next_calls(1);
    let e = sf
        .post(&id, "/sobjects/Account", &fields)
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Api { status: 503, .. }), "{e:?}");
    assert_eq!(counter(&org, "POST", OBJECT), 1);
    assert_eq!(org.count("Account"), 0);

    // A write that failed on a locked row is not sent again either.
    org.lock_next_writes(1);
    let e = sf
        .post(&id, "/sobjects/Account", &fields)
        .await
        .unwrap_err();
    assert_eq!(e.error_codes(), vec!["UNABLE_TO_LOCK_ROW"]);
    assert_eq!(counter(&org, "POST", OBJECT), 2);
    assert_eq!(org.count("Account"), 0);

    // Marked safe to repeat, the same POST is retried and creates one record.
    org.fail_next_calls(1);
    let call = Call::new(Method::POST, "/sobjects/Account")
        .json(&fields)
        .idempotent(true);
    let res = sf.call(&id, &call).await.unwrap();
    assert_eq!(res.status, 201);
    assert_eq!(counter(&org, "POST", OBJECT), 4);
    assert_eq!(org.count("Account"), 1);
}

#[tokio::test]
async fn an_update_on_a_locked_row_is_retried() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    let account = org.insert("Account", json!({"Name": "Before"})).unwrap();

    org.lock_next_writes(2);
    let res = sf
        .patch(
            &id,
            &format!("/sobjects/Account/{account}"),
            &json!({"Name": "After"}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 204);
    assert_eq!(counter(&org, "PATCH", RECORD), 3);
    assert_eq!(org.record(&account).unwrap()["Name"], "After");
}

#[tokio::test]
async fn the_daily_limit_is_reported_and_not_retried() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);

    org.set_daily_limit(100);
    org.set_api_usage(100);
    let e = sf.get(&id, "/limits").await.unwrap_err();
    assert!(matches!(e, Error::RequestLimitExceeded), "{e:?}");
    assert!(e.to_string().contains("REQUEST_LIMIT_EXCEEDED"), "{e}");
    assert_eq!(counter(&org, "GET", "/services/data/{v}/limits"), 1);
    // The refusal still carried the usage: the operator sees the org at its limit.
    assert_eq!(
        sf.metrics()[0].api_usage,
        Some(ApiUsage {
            used: 100,
            max: 100
        })
    );
}

#[tokio::test]
async fn a_timeout_is_retried_for_a_get() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    sf.get(&id, "/limits").await.unwrap(); // signed in before the org stops answering

    // The org keeps every request far longer than the timeout, so each attempt times out
    // whatever the machine's load; the timeout is long enough for a loaded machine to
    // connect and send within it (a connection not made in time would be another error).
    org.set_latency(Duration::from_secs(600));
    let short = sf.clone().with_retry(RetryPolicy {
        max_attempts: 2,
        timeout: Duration::from_secs(3),
        ..FAST
    });
    let e = short.get(&id, "/limits").await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    // Sent twice (retried once), then the timeout is reported: the org saw both attempts
    // (waited for, in case the last one is still on its way in) besides the first call.
    wait_for(|| counter(&org, "GET", "/services/data/{v}/limits") >= 3).await;
    assert_eq!(counter(&org, "GET", "/services/data/{v}/limits"), 3);
    assert_eq!(sf.metrics()[0].api_calls, 3);
}

/// Waits (up to a generous 30 s) until `done` holds.
async fn wait_for(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fails one GET with a 503 carrying `retry_after` (asking for 2 s) and checks the client
/// waited that long before the retry that succeeded, measured where the org received them.
async fn the_asked_wait_comes_before_the_retry(retry_after: RetryAfter) {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    // Room for the wait asked; the backoff alone would wait a few milliseconds.
    let patient = RetryPolicy {
        max_total_delay: Duration::from_secs(30),
        ..FAST
    };
    let sf = client(&store, "v64.0", patient);
    sf.get(&id, "/limits").await.unwrap();
    org.clear_requests();

    org.set_retry_after(Some(retry_after));
    org.fail_next_calls(1);
    let res = sf.get(&id, "/limits").await.unwrap();
    assert_eq!(res.status, 200);
    let arrivals: Vec<std::time::Instant> = org.requests().iter().map(|r| r.received()).collect();
    assert_eq!(arrivals.len(), 2, "one 503, one retry");
    let waited = arrivals[1] - arrivals[0];
    // A lower bound only: the client may well be slower on a loaded machine.
    assert!(waited >= Duration::from_millis(1950), "{waited:?}");
}

#[tokio::test]
async fn a_retry_after_in_seconds_is_waited_before_the_retry() {
    the_asked_wait_comes_before_the_retry(RetryAfter::Seconds(2)).await;
}

#[tokio::test]
async fn a_retry_after_as_an_http_date_is_waited_before_the_retry() {
    the_asked_wait_comes_before_the_retry(RetryAfter::HttpDate(2)).await;
}

#[tokio::test]
async fn a_retry_after_past_the_retry_budget_fails_at_once_naming_the_wait() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST); // 1 s of waiting allowed in all
    sf.get(&id, "/limits").await.unwrap();

    org.set_retry_after(Some(RetryAfter::Seconds(120)));
    org.fail_next_calls(1);
    let e = sf.get(&id, "/limits").await.unwrap_err();
    let Error::RetryAfterTooLong {
        wait,
        allowed,
        last,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (*wait, *allowed),
        (Duration::from_secs(120), FAST.max_total_delay)
    );
    assert!(matches!(**last, Error::Api { status: 503, .. }), "{last:?}");
    assert_eq!(e.error_codes(), vec!["SERVER_UNAVAILABLE"]);
    let text = e.to_string();
    for words in [
        "asked to wait 120 s",
        "(Retry-After)",
        "of the 1 s allowed",
        "SWITCHYARD_SALESFORCE_MAX_RETRY_WAIT_SECS",
        "SERVER_UNAVAILABLE",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    // Not sent again: the warm-up and the one refused try.
    assert_eq!(counter(&org, "GET", "/services/data/{v}/limits"), 2);
}

#[tokio::test]
async fn a_429_is_retried_like_a_503() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    org.script(
        "GET",
        "/limits",
        429,
        json!([{"errorCode": "TOO_MANY_REQUESTS", "message": "Too many requests"}]),
    );
    let e = sf.get(&id, "/limits").await.unwrap_err();
    assert!(matches!(&e, Error::Api { status: 429, .. }), "{e:?}");
    assert_eq!(
        counter(&org, "GET", "/services/data/{v}/limits"),
        FAST.max_attempts as u64
    );
    // Not for a call that is unsafe to repeat.
    org.script("POST", "/sobjects/Account", 429, json!([]));
    sf.post(&id, "/sobjects/Account", &json!({"Name": "X"}))
        .await
        .unwrap_err();
    assert_eq!(counter(&org, "POST", OBJECT), 1);
}

#[tokio::test]
async fn a_connection_that_was_never_made_is_retried_even_for_a_post() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    // No pooled connections: every attempt opens a new one, so each finds the port closed
    // (a pooled one might instead fail mid-request, which is not safe to repeat for a POST).
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let provider = TokenProvider::new(Arc::new(store.clone()), http, SETTINGS);
    let sf = Client::new(Arc::new(provider), "v64.0").with_retry(FAST);
    sf.get(&id, "/limits").await.unwrap();
    org.shutdown().await;

    let e = sf
        .post(&id, "/sobjects/Account", &json!({"Name": "X"}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    // One sent before the shutdown, then four attempts at the POST.
    assert_eq!(sf.metrics()[0].api_calls, 5);
}

#[tokio::test]
async fn errors_carry_salesforce_codes_messages_and_fields() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);

    let e = sf
        .get(&id, "/sobjects/Account/001000000000000AAA")
        .await
        .unwrap_err();
    let Error::Api { status, errors } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*status, 404);
    assert_eq!(errors[0].error_code, "NOT_FOUND");

    let e = sf
        .post(&id, "/sobjects/Contact", &json!({"FirstName": "Ada"}))
        .await
        .unwrap_err();
    let Error::Api { status, errors } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*status, 400);
    assert_eq!(errors[0].error_code, "REQUIRED_FIELD_MISSING");
    assert_eq!(errors[0].fields, vec!["LastName".to_string()]);
    assert!(e.to_string().contains("(fields: LastName)"), "{e}");

    let e = sf.get(&id, "/query?q=SELECT+Nope+FROM").await.unwrap_err();
    assert_eq!(e.error_codes(), vec!["MALFORMED_QUERY"]);
    // None of these were retried.
    assert_eq!(sf.metrics()[0].api_calls, 3);
}

#[tokio::test]
async fn usage_and_counters_are_kept_per_credential() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let (a, b) = (
        credential(&store, &org).await,
        credential(&store, &org).await,
    );
    let sf = client(&store, "v64.0", FAST);
    org.set_daily_limit(15000);
    org.set_api_usage(41);

    for _ in 0..3 {
        sf.get(&a, "/limits").await.unwrap();
    }
    sf.get(&b, "/limits").await.unwrap();
    let (used, max) = org.api_usage();
    assert_eq!((used, max), (45, 15000));

    let m = sf.metrics();
    let of = |id: &str| m.iter().find(|c| c.credential_id == id).unwrap().clone();
    let (ma, mb) = (of(&a), of(&b));
    assert_eq!((ma.api_calls, ma.sign_ins, ma.refreshes), (3, 1, 0));
    assert_eq!((mb.api_calls, mb.sign_ins, mb.refreshes), (1, 1, 0));
    assert_eq!(ma.api_usage, Some(ApiUsage { used: 44, max }));
    assert_eq!(mb.api_usage, Some(ApiUsage { used, max }));
    assert_eq!(org.counter(TOKEN), 2);
}

#[tokio::test]
async fn the_configured_api_version_is_in_every_url() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v62.0", FAST);
    sf.get(&id, "/limits").await.unwrap();
    let paths: Vec<String> = org
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/services/data"))
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, vec!["/services/data/v62.0/limits".to_string()]);
}

#[tokio::test]
async fn a_query_streams_page_by_page_along_next_records_url() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    for i in 0..4500 {
        org.insert("Account", json!({"Name": format!("Account {i:04}")}))
            .unwrap();
    }
    let more = "/services/data/{v}/query/{locator}";

    let mut pages =
        Box::pin(sf.query_pages(&id, "SELECT Id, Name FROM Account", QueryOptions::default()));
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(
        (first.total_size, first.records.len(), first.done),
        (4500, 2000, false)
    );
    // Nothing beyond the first page has been asked for yet.
    assert_eq!(counter(&org, "GET", more), 0);
    let rest: Vec<_> = pages.try_collect().await.unwrap();
    let sizes: Vec<usize> = rest.iter().map(|p| p.records.len()).collect();
    assert_eq!(sizes, vec![2000, 500]);
    assert!(rest[1].done && rest[1].next_records_url.is_none());
    assert_eq!(counter(&org, "GET", more), 2);

    let mut names: Vec<String> = sf
        .query_records(
            &id,
            "SELECT Name FROM Account",
            QueryOptions {
                batch_size: Some(1000),
                ..QueryOptions::default()
            },
        )
        .map_ok(|r| r["Name"].as_str().unwrap().to_owned())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4500);
    // 1,000 a page: 5 pages, 4 of them through nextRecordsUrl.
    assert_eq!(counter(&org, "GET", more), 6);
}

// A sign-in under way when the operator changes the credential must not store its token:
// the next call signs in with the new settings. On SQLite and on Postgres.
crate::both_backends!(a_sign_in_racing_a_credential_update_does_not_store_its_token);

async fn a_sign_in_racing_a_credential_update_does_not_store_its_token(db: Db) {
    let store = store(db);
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);

    // The org holds the sign-in unanswered until the update has landed.
    org.hold_token_requests();
    let in_flight = {
        let (sf, id) = (sf.clone(), id.clone());
        tokio::spawn(async move { sf.provider().token(&id).await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while org.counter(TOKEN) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no sign-in reached the org"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store
        .update(
            &id,
            CredentialPatch {
                name: None,
                data: Some(json!({"clientSecret": "the-new-wrong-secret"})),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    sf.provider().invalidate(&id);
    assert!(
        !in_flight.is_finished(),
        "the sign-in must still be in flight when the update lands"
    );
    org.release_token_requests();
    // The caller that was already waiting still gets its answer.
    in_flight.await.unwrap().unwrap();

    assert!(
        store.get(&id).await.unwrap().token_data.is_none(),
        "the old sign-in's token was written back after the update"
    );
    // The next call signs in with the new (wrong) secret instead of using the old token.
    let e = sf.get(&id, "/limits").await.unwrap_err();
    let Error::SignIn { problem, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(problem, SignInProblem::WrongClientSecret);
    assert_eq!(org.counter(TOKEN), 2);
}

// The same race when the sign-in's write lands after the update cleared the token data
// but before the engine invalidated: the token written under the old settings is not used.
crate::both_backends!(a_token_written_back_after_an_update_is_not_used);

async fn a_token_written_back_after_an_update_is_not_used(db: Db) {
    let store = store(db);
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    sf.get(&id, "/limits").await.unwrap();
    let old = store.get(&id).await.unwrap().token_data.unwrap();
    let old = Value::Object(old.expose().clone());

    store
        .update(
            &id,
            CredentialPatch {
                name: None,
                data: Some(json!({"clientSecret": "the-new-wrong-secret"})),
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    // The late write of the sign-in that started before the update.
    store.set_token_data(&id, Some(old)).await.unwrap();
    sf.provider().invalidate(&id);

    let e = sf.get(&id, "/limits").await.unwrap_err();
    let Error::SignIn { problem, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(problem, SignInProblem::WrongClientSecret);
    assert_eq!(org.counter(TOKEN), 2);
}

#[tokio::test]
async fn metrics_errors_and_the_client_show_no_secret_or_token() {
    let (store, _dir) = sqlite_store().await;
    let org = org().await;
    let id = credential(&store, &org).await;
    let sf = client(&store, "v64.0", FAST);
    sf.get(&id, "/limits").await.unwrap();
    let stored = store.get(&id).await.unwrap().token_data.unwrap();
    let access = stored.get_str("access_token").unwrap().to_owned();
    let e = sf
        .get(&id, "/sobjects/Account/001000000000000AAA")
        .await
        .unwrap_err();
    for shown in [
        format!("{:?}", sf.metrics()),
        format!("{sf:?}"),
        format!("{e:?}"),
        e.to_string(),
    ] {
        assert!(!shown.contains(&access), "{shown}");
        assert!(!shown.contains(SECRET), "{shown}");
    }
    assert!(format!("{:?}", sf.metrics()).contains(&id));
}
