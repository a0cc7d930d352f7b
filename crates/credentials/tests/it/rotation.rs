//! Key rotation on both backends: 1,000 credentials moved from an old key to a new one,
//! a run stopped part-way and resumed, concurrent writers during a run.

use db::Db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credentials::{
    Actor, AuditAction, CredentialPatch, CredentialStore, EncryptionKey, Error, ExportedCredential,
    KeyRing, RotateOptions, RotateReport,
};
use serde_json::json;

use crate::both_backends;
use crate::common::{count, store};

const N: usize = 1000;

/// Stores `N` OAuth2 credentials sealed with `old`; every 10th has token data.
async fn seed(db: &Db, old: &EncryptionKey) -> CredentialStore {
    let old_store = store(db, Arc::new(KeyRing::new(old.clone(), vec![])));
    let items = (0..N)
        .map(|i| {
            let mut data = json!({"environment": "production", "clientId": format!("client-{i}"), "clientSecret": format!("secret-{i}")});
            if i % 10 == 0 {
                data["oauthTokenData"] = json!({"access_token": format!("access-{i}"), "instance_url": "https://acme.my.salesforce.com"});
            }
            ExportedCredential { id: format!("cred{i:05}"), name: format!("credential {i}"), type_name: "salesforceOAuth2Api".into(), data }
        })
        .collect();
    old_store.import(items, &Actor::Cli).await.unwrap();
    old_store
}

/// Every credential reads back with `key` alone, with the values it was seeded with.
async fn assert_all_readable_with(db: &Db, key: &EncryptionKey) {
    let only_new = store(db, Arc::new(KeyRing::new(key.clone(), vec![])));
    only_new.check_keys().await.unwrap();
    let current = key.id();
    let sql_old = format!(
        "SELECT COUNT(*) FROM credentials WHERE data_key_id <> '{current}' OR (token_key_id IS NOT NULL AND token_key_id <> '{current}')"
    );
    assert_eq!(count(db, &sql_old).await, 0);
    for i in (0..N).step_by(7).chain([N - 1]) {
        let c = only_new.get(&format!("cred{i:05}")).await.unwrap();
        assert_eq!(
            c.data.get_str("clientSecret"),
            Some(format!("secret-{i}").as_str())
        );
        assert_eq!(c.token_data.is_some(), i % 10 == 0, "{i}");
    }
    assert_eq!(only_new.list().await.unwrap().len(), N, "none lost");
}

async fn rotation_of_1000_credentials(db: Db) {
    let old = EncryptionKey::generate();
    let new = EncryptionKey::generate();
    seed(&db, &old).await;
    let rotating = store(&db, Arc::new(KeyRing::new(new.clone(), vec![old.clone()])));
    let mut seen = Vec::new();
    let report = rotating
        .rotate(
            RotateOptions {
                batch_size: 128,
                pause: Duration::ZERO,
            },
            |n| seen.push(n),
        )
        .await
        .unwrap();
    assert_eq!(
        report,
        RotateReport {
            moved: N as u64,
            already_current: 0,
            changed_concurrently: 0
        }
    );
    assert_eq!(seen.len(), N.div_ceil(128));
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]) && *seen.last().unwrap() == N as u64,
        "{seen:?}"
    );
    assert_all_readable_with(&db, &new).await;
    let rotated = count(
        &db,
        "SELECT COUNT(*) FROM credential_audit WHERE action = 'rotated' AND actor = 'system'",
    )
    .await;
    assert_eq!(rotated, N as i64, "one audit row per credential");

    // Nothing left to do on a second run.
    let again = rotating
        .rotate(RotateOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(
        again,
        RotateReport {
            moved: 0,
            already_current: N as u64,
            changed_concurrently: 0
        }
    );

    // The old key alone no longer opens anything, and start-up would say so.
    let old_only = store(&db, Arc::new(KeyRing::new(old, vec![])));
    assert!(
        matches!(old_only.check_keys().await, Err(Error::MissingKey { key_id, rows }) if key_id == new.id() && rows == (N + N / 10) as u64)
    );
}
both_backends!(rotation_of_1000_credentials);

async fn rotation_stopped_part_way_resumes(db: Db) {
    let old = EncryptionKey::generate();
    let new = EncryptionKey::generate();
    seed(&db, &old).await;
    let rotating = store(&db, Arc::new(KeyRing::new(new.clone(), vec![old.clone()])));
    let stop = Arc::new(tokio::sync::Notify::new());
    let signal = stop.clone();
    let opts = RotateOptions {
        batch_size: 100,
        pause: Duration::from_millis(20),
    };
    // Like a process killed after the first batches: the future is dropped mid-run.
    tokio::select! {
        result = rotating.rotate(opts, move |moved| if moved >= 300 { signal.notify_one() }) => {
            panic!("rotation finished before it was stopped: {result:?}")
        }
        () = stop.notified() => {}
    }
    let done = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM credentials WHERE data_key_id = '{}'",
            new.id()
        ),
    )
    .await;
    assert!(
        (300..N as i64).contains(&done) && done % 100 == 0,
        "whole batches only: {done}"
    );
    let audit = count(
        &db,
        "SELECT COUNT(*) FROM credential_audit WHERE action = 'rotated'",
    )
    .await;
    assert_eq!(audit, done);

    // Mid-rotation, a server holding both keys reads everything.
    let server = store(&db, Arc::new(KeyRing::new(new.clone(), vec![old.clone()])));
    server.check_keys().await.unwrap();
    assert!(server.get("cred00000").await.is_ok() && server.get("cred00999").await.is_ok());

    let report = rotating
        .rotate(
            RotateOptions {
                batch_size: 100,
                pause: Duration::ZERO,
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.moved + report.already_current, N as u64);
    assert_eq!(report.already_current as i64, done);
    assert_all_readable_with(&db, &new).await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM credential_audit WHERE action = 'rotated'"
        )
        .await,
        N as i64
    );
}
both_backends!(rotation_stopped_part_way_resumes);

async fn concurrent_updates_during_rotation_are_kept(db: Db) {
    let old = EncryptionKey::generate();
    let new = EncryptionKey::generate();
    seed(&db, &old).await;
    let ring = Arc::new(KeyRing::new(new.clone(), vec![old.clone()]));
    let rotating = store(&db, ring.clone());
    // A running server with the new key, updating credentials while the rotation runs.
    let server = store(&db, ring);
    let progress = Arc::new(AtomicU64::new(0));
    let written = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (server, progress, written) = (server.clone(), progress.clone(), written.clone());
        tokio::spawn(async move {
            // Spread over the id range, so some land ahead of the rotation and some behind.
            for step in 0..60usize {
                let i = (step * 337) % N;
                let id = format!("cred{i:05}");
                let patch = CredentialPatch {
                    name: None,
                    data: Some(json!({"clientSecret": format!("rotated-while-running-{i}")})),
                };
                server.update(&id, patch, &Actor::Cli).await.unwrap();
                server
                    .set_token_data(&id, Some(json!({"access_token": format!("fresh-{i}")})))
                    .await
                    .unwrap();
                written.lock().unwrap().push(i);
                if progress.load(Ordering::Relaxed) >= N as u64 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let report = rotating
        .rotate(
            RotateOptions {
                batch_size: 50,
                pause: Duration::from_millis(2),
            },
            |n| progress.store(n, Ordering::Relaxed),
        )
        .await
        .unwrap();
    writer.await.unwrap();
    // Rows the server rewrote before the rotation reached them are current already and
    // counted nowhere; the rest were moved, or skipped because the server won the race.
    assert!(
        report.moved > 0 && report.moved + report.changed_concurrently <= N as u64,
        "{report:?}"
    );
    let written = written.lock().unwrap().clone();
    assert!(!written.is_empty());
    for i in written {
        let c = server.get(&format!("cred{i:05}")).await.unwrap();
        assert_eq!(
            c.data.get_str("clientSecret"),
            Some(format!("rotated-while-running-{i}").as_str()),
            "{i}"
        );
        assert_eq!(
            c.token_data.unwrap().get_str("access_token"),
            Some(format!("fresh-{i}").as_str()),
            "{i}"
        );
    }
    let only_new = store(&db, Arc::new(KeyRing::new(new, vec![])));
    only_new.check_keys().await.unwrap();
    let audit = only_new.audit(None, 10_000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == AuditAction::Rotated));
}
both_backends!(concurrent_updates_during_rotation_are_kept);

async fn rotation_stops_before_writing_when_a_key_is_missing(db: Db) {
    let a = EncryptionKey::generate();
    let b = EncryptionKey::generate();
    let store_a = store(&db, Arc::new(KeyRing::new(a.clone(), vec![])));
    let store_b = store(&db, Arc::new(KeyRing::new(b.clone(), vec![])));
    let item = |id: &str| ExportedCredential {
        id: id.into(),
        name: id.into(),
        type_name: "salesforceOAuth2Api".into(),
        data: json!({"clientId": "c", "clientSecret": "s"}),
    };
    store_a
        .import(vec![item("a1"), item("a2")], &Actor::Cli)
        .await
        .unwrap();
    store_b.import(vec![item("b1")], &Actor::Cli).await.unwrap();
    // The new key, with only `a` as previous: `b1` cannot be opened.
    let new = EncryptionKey::generate();
    let rotating = store(&db, Arc::new(KeyRing::new(new.clone(), vec![a])));
    let err = rotating
        .rotate(RotateOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key_id, rows: 1 } if key_id == b.id()),
        "{err}"
    );
    let moved = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM credentials WHERE data_key_id = '{}'",
            new.id()
        ),
    )
    .await;
    assert_eq!(moved, 0, "nothing half-written");
}
both_backends!(rotation_stops_before_writing_when_a_key_is_missing);
