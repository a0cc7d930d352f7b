//! Shared helpers: test RSA keys, key rings, stores on both backends.

use db::Db;
use std::sync::{Arc, OnceLock};

use credentials::{CredentialStore, CredentialTypes, EncryptionKey, KeyRing, ValidateOptions};
use db::testing;

/// Runs a story (an `async fn(Db)`) once on SQLite and once on Postgres, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($story:ident) => {
        mod $story {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _dir) = db::testing::sqlite().await;
                super::$story(db).await;
            }

            #[cfg_attr(
                postgres_tests_unset,
                ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
            )]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::postgres(stringify!($story)).await {
                    super::$story(db).await;
                }
            }
        }
    };
}

/// A fresh Postgres database, or `None` (after a printed "SKIPPED" line) without a server.
pub async fn postgres(test: &str) -> Option<Db> {
    testing::postgres(test).await
}

/// A second, empty database on the same backend as `db` (for export/import round trips).
pub async fn another_db_like(db: &Db, dirs: &mut Vec<tempfile::TempDir>) -> Db {
    match db.backend() {
        db::Backend::Sqlite => {
            let (db, dir) = testing::sqlite().await;
            dirs.push(dir);
            db
        }
        db::Backend::Postgres => testing::postgres("another")
            .await
            .expect("postgres configured"),
    }
}

struct TestKeys {
    pkcs1: String,
    pkcs8: String,
}

/// One 2048-bit RSA key generated per test run (never committed), in both encodings.
fn test_keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = testkit::RsaKey::generate();
        TestKeys {
            pkcs1: key.private_pkcs1_pem(),
            pkcs8: key.private_pem(),
        }
    })
}

/// The test key as PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), 64-column lines.
pub fn rsa_pkcs1_pem() -> &'static str {
    &test_keys().pkcs1
}

/// The test key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), 64-column lines.
pub fn rsa_pkcs8_pem() -> &'static str {
    &test_keys().pkcs8
}

/// A distinctive slice of the key body, to look for in output that must not hold it.
pub fn key_fragment(pem: &str) -> String {
    pem.lines().nth(3).expect("a PEM body line")[..32].to_owned()
}

/// A ring with a fresh random key and no previous keys.
pub fn ring() -> Arc<KeyRing> {
    Arc::new(KeyRing::new(EncryptionKey::generate(), vec![]))
}

/// A store over `db` sealing with `keys`, the built-in registry, strict URL rules.
pub fn store(db: &Db, keys: Arc<KeyRing>) -> CredentialStore {
    CredentialStore::new(
        db.clone(),
        keys,
        Arc::new(
            CredentialTypes::new(salesforce_node::credential_types::credential_types())
                .expect("distinct types"),
        ),
        ValidateOptions::default(),
    )
}

/// Counts rows of a table (or a filtered view of it) with a static query.
pub async fn count(db: &Db, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(db.pool())
        .await
        .expect("count query");
    n
}
