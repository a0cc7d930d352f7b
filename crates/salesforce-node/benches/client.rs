//! The REST client's own cost per authenticated call, and sign-ins per 10,000 calls.
//!
//! `authenticated_get/client` is `Client::get` of one record from the fake org on loopback;
//! `authenticated_get/bare_reqwest` is a plain reqwest GET of the same URL with the same
//! token, in the same run. Their difference is what the client adds: token cache, URL and
//! headers, usage and counters, JSON parsing, the retry wrapper. After the benchmarks,
//! 10,000 calls within one token's lifetime are made and the org's token endpoint counter
//! printed (target: 1 sign-in).
//!
//! Run: `cargo bench -p salesforce-node --bench client`.

use std::sync::Arc;
use std::time::Duration;

use credentials::{
    Actor, CredentialStore, CredentialTypes, EncryptionKey, KeyRing, NewCredential, ValidateOptions,
};
use criterion::{criterion_group, Criterion};
use salesforce_fake::FakeOrg;
use salesforce_node::{AuthSettings, Client, TokenProvider};
use serde_json::json;

const KEY: &str = "bench-consumer-key";
const SECRET: &str = "bench-consumer-secret";
const TOKEN: &str = "POST /services/oauth2/token";

struct Setup {
    org: FakeOrg,
    client: Client,
    id: String,
    path: String,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user("user@example.com")
        .start()
        .await
        .expect("the fake org starts");
    // Usage never runs out during the benchmark.
    org.set_daily_limit(u64::MAX / 2);
    let (db, dir) = db::testing::sqlite().await;
    let store = CredentialStore::new(
        db,
        Arc::new(KeyRing::new(EncryptionKey::generate(), vec![])),
        Arc::new(
            CredentialTypes::new(salesforce_node::credential_types::credential_types())
                .expect("distinct types"),
        ),
        ValidateOptions {
            allow_insecure_loopback: true,
        },
    );
    let id = store
        .create(
            NewCredential {
                id: None,
                name: "bench".into(),
                type_name: "salesforceClientCredentialsApi".into(),
                data: json!({"url": org.base_url(), "clientId": KEY, "clientSecret": SECRET}),
            },
            &Actor::Cli,
        )
        .await
        .expect("the credential is stored")
        .id;
    let settings = AuthSettings {
        allow_insecure_hosts: true,
    };
    let provider = TokenProvider::new(Arc::new(store), reqwest::Client::new(), settings);
    let client = Client::new(Arc::new(provider), "v64.0");
    let account = org
        .insert("Account", json!({"Name": "Acme", "Industry": "Energy"}))
        .expect("a record");
    let path = format!("/sobjects/Account/{account}");
    client.get(&id, &path).await.expect("a first call signs in");
    Setup {
        org,
        client,
        id,
        path,
        _dir: dir,
    }
}

fn authenticated_get(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup());
    let token = rt.block_on(s.client.provider().token(&s.id)).unwrap();
    let url = format!("{}/services/data/v64.0{}", token.instance_url, s.path);
    let bearer = {
        use secrecy::ExposeSecret;
        format!("Bearer {}", token.access_token.expose_secret())
    };
    // The same connection pool settings as the client's own.
    let bare = s.client.provider().http().clone();

    let mut group = c.benchmark_group("authenticated_get");
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("bare_reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let res = bare
                .get(&url)
                .header("authorization", &bearer)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.bytes().await.unwrap()
        })
    });
    group.bench_function("client", |b| {
        b.to_async(&rt)
            .iter(|| async { s.client.get(&s.id, &s.path).await.unwrap() })
    });
    group.finish();
    rt.block_on(s.org.shutdown());
}

/// 10,000 calls within one token's lifetime; prints how many sign-ins the org saw.
fn sign_ins_per_10k_calls() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = setup().await;
        for _ in 0..10_000 {
            s.client.get(&s.id, &s.path).await.unwrap();
        }
        let sign_ins = s.org.counter(TOKEN);
        let calls = s.client.metrics()[0].api_calls;
        println!(
            "sign-ins for {calls} calls (first included) within one token's lifetime: {sign_ins}"
        );
        assert_eq!(sign_ins, 1, "a token's lifetime needs exactly one sign-in");
        s.org.shutdown().await;
    });
}

criterion_group!(benches, authenticated_get);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    sign_ins_per_10k_calls();
}
