//! Benchmarks: reading and decrypting one credential (the issue's target: median at most
//! 20 µs), the vault open + parse alone, and rotating 10,000 credentials on SQLite (target:
//! at most 10 s).
//!
//! Run with `cargo bench -p credentials --bench credentials`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use credentials::{
    Actor, CredentialStore, CredentialTypes, EncryptionKey, ExportedCredential, KeyRing,
    NewCredential, RotateOptions, ValidateOptions,
};
use criterion::{criterion_group, criterion_main, Criterion};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Map, Value};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn jwt_data() -> Value {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    json!({"environment": "production", "clientId": "3MVG9-benchmark-consumer-key", "username": "bench@acme.com", "privateKey": pem})
}

fn store(db: &db::Db, ring: KeyRing) -> CredentialStore {
    CredentialStore::new(
        db.clone(),
        Arc::new(ring),
        Arc::new(
            CredentialTypes::new(salesforce_node::credential_types::credential_types())
                .expect("distinct types"),
        ),
        ValidateOptions::default(),
    )
}

fn get_one(c: &mut Criterion) {
    let rt = runtime();
    let (db, _dir) = rt.block_on(db::testing::sqlite());
    let cached = store(&db, KeyRing::new(EncryptionKey::generate(), vec![]));
    let uncached = cached.clone().with_cache_ttl(Duration::ZERO);
    let data = jwt_data();
    let id = rt
        .block_on(cached.create(
            NewCredential {
                id: None,
                name: "bench".into(),
                type_name: "salesforceJwtApi".into(),
                data: data.clone(),
            },
            &Actor::Cli,
        ))
        .unwrap()
        .id;
    let mut group = c.benchmark_group("get");
    group.bench_function("sqlite_full_path_cached", |b| {
        b.to_async(&rt)
            .iter(|| async { cached.get(&id).await.unwrap() })
    });
    group.bench_function("sqlite_full_path_uncached", |b| {
        b.to_async(&rt)
            .iter(|| async { uncached.get(&id).await.unwrap() })
    });
    let ring = KeyRing::new(EncryptionKey::generate(), vec![]);
    let plain = serde_json::to_vec(&data).unwrap();
    let sealed = ring.seal(&plain, id.as_bytes());
    group.bench_function("vault_open_and_parse", |b| {
        b.iter(|| {
            let plain = ring
                .open(&sealed.key_id, &sealed.blob, id.as_bytes())
                .unwrap();
            serde_json::from_slice::<Map<String, Value>>(&plain).unwrap()
        })
    });
    group.finish();
}

fn rotate_10000(c: &mut Criterion) {
    const N: usize = 10_000;
    let rt = runtime();
    let mut group = c.benchmark_group("rotate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("sqlite_10000_credentials", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (db, _dir) = rt.block_on(db::testing::sqlite());
                let old = EncryptionKey::generate();
                let items = (0..N)
                    .map(|i| {
                        let mut data = json!({"clientId": format!("client-{i}"), "clientSecret": format!("secret-{i}")});
                        if i % 4 == 0 {
                            data["oauthTokenData"] = json!({"access_token": format!("token-{i}"), "refresh_token": "r"});
                        }
                        ExportedCredential {
                            id: format!("c{i:06}"),
                            name: format!("credential {i}"),
                            type_name: "salesforceOAuth2Api".into(),
                            data,
                        }
                    })
                    .collect();
                rt.block_on(store(&db, KeyRing::new(old.clone(), vec![])).import(items, &Actor::Cli)).unwrap();
                let rotating = store(&db, KeyRing::new(EncryptionKey::generate(), vec![old]));
                let start = Instant::now();
                let report = rt.block_on(rotating.rotate(RotateOptions::default(), |_| {})).unwrap();
                total += start.elapsed();
                assert_eq!(report.moved, N as u64);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, get_one, rotate_10000);
criterion_main!(benches);
