//! Switchyard's database: the handle every part that stores rows shares (credentials,
//! workflows, executions, API keys), and the schema's migrations, embedded and applied on
//! connect. It belongs to the whole application, not to any one store.
//!
//! One `sqlx::AnyPool` serves both backends so that each query is written once, in
//! portable SQL with `$1`-style placeholders (SQLite accepts them too). The schema lives
//! in `migrations/sqlite` and `migrations/postgres`, one folder per backend with the same
//! meaning; both are embedded in the binary and applied on connect.
//!
//! Portability rules for the schema and queries: text ids, timestamps as RFC 3339 UTC
//! text (they sort as strings), `BIGINT` for integers, `BLOB`/`BYTEA` for ciphertext,
//! booleans stored as `BIGINT` 0/1.

use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (the default), in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Errors from connecting to or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names neither `sqlite:` nor `postgres:`.
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got scheme `{scheme}`)")]
    UnsupportedScheme {
        /// The scheme that was given (never the whole URL, which may hold a password).
        scheme: String,
    },
    /// The database could not be reached or refused a query.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A connection pool to the Switchyard database, migrated and ready.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password, so only the backend is shown.
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`), creating a SQLite file
    /// if it does not exist, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        install_default_drivers();
        let backend = backend_of(url)?;
        let (url, max) = match backend {
            Backend::Sqlite => {
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                (url, 8)
            }
            Backend::Postgres => (url.to_owned(), 10),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Writers wait for each other instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the file: readers never block the writer.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        let db = Self { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    fn migrator(&self) -> sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("../../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../../migrations/postgres"),
        }
    }

    async fn migrate(&self) -> Result<(), DbError> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database holds the schema this build migrates to: every embedded migration
    /// applied successfully. `false` for a database dropped and recreated empty, or one
    /// another build migrated further or not as far.
    pub async fn schema_is_current(&self) -> Result<bool, DbError> {
        let expected: Vec<i64> = self.migrator().iter().map(|m| m.version).collect();
        let applied: Vec<i64> = match sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(v) => v,
            // No migrations table at all: the schema is gone.
            Err(sqlx::Error::Database(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Ok(applied == expected)
    }

    /// The pool, for running queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Answers `Ok` when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Waits for checked-out connections to return, then closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The backend a database URL names, or why it names none.
pub fn backend_of(url: &str) -> Result<Backend, DbError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(DbError::UnsupportedScheme {
            scheme: other.to_owned(),
        }),
    }
}

/// Databases for tests: a SQLite file in a temporary directory, and a fresh database on
/// the Postgres server named by `SWITCHYARD_TEST_POSTGRES_URL`.
///
/// Postgres tests are required in CI: when `CI=true` and the URL is not set, asking for a
/// Postgres database panics instead of skipping.
#[cfg(feature = "testing")]
pub mod testing {
    use super::Db;

    /// The variable naming the Postgres server used by tests.
    pub const POSTGRES_URL_VAR: &str = "SWITCHYARD_TEST_POSTGRES_URL";

    /// Whether the tests run in CI (`CI` set to a usual truthy value: `true`, `1`, `yes`,
    /// `on`, any case). There, a test that would skip for a missing part fails instead.
    pub fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        })
    }

    /// A URL for a SQLite file in `dir`.
    pub fn sqlite_url(dir: &std::path::Path) -> String {
        format!("sqlite://{}", dir.join("switchyard.db").display())
    }

    /// A migrated SQLite database in a new temporary directory (kept alive by the guard).
    pub async fn sqlite() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Db::connect(&sqlite_url(dir.path()))
            .await
            .expect("sqlite connects");
        (db, dir)
    }

    /// The URL of a new, empty database on the test Postgres server, or `None` (with a
    /// line on stderr saying the test was skipped) when no server is configured outside CI.
    pub async fn fresh_postgres_url(test: &str) -> Option<String> {
        let base = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                if in_ci() {
                    panic!("{POSTGRES_URL_VAR} is not set: the Postgres tests are required in CI");
                }
                eprintln!("SKIPPED {test} on Postgres: set {POSTGRES_URL_VAR} to run it");
                return None;
            }
        };
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test Postgres server: {e}"));
        drop_old_test_databases(&mut conn).await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("sy_test_{now}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let (head, _) = base
            .rsplit_once('/')
            .expect("postgres URL with a database name");
        Some(format!("{head}/{name}"))
    }

    /// How long a test database is kept: older ones are dropped by later test runs.
    const KEEP_TEST_DATABASES: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);

    /// Drops, once per process, the test databases earlier runs left behind: those named
    /// with a creation time over [`KEEP_TEST_DATABASES`] ago, and those of the older naming
    /// that carried no time. A database still in use is left alone (the drop fails, quietly).
    async fn drop_old_test_databases(conn: &mut sqlx::PgConnection) {
        use std::sync::atomic::{AtomicBool, Ordering};
        static DONE: AtomicBool = AtomicBool::new(false);
        if DONE.swap(true, Ordering::SeqCst) {
            return;
        }
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'sy\\_test\\_%'",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for name in names {
            let created = name
                .strip_prefix("sy_test_")
                .and_then(|rest| rest.split_once('_'))
                .and_then(|(secs, _)| secs.parse::<u64>().ok());
            let old = match created {
                Some(secs) => now.saturating_sub(secs) > KEEP_TEST_DATABASES.as_secs(),
                None => true,
            };
            // Only names this module made reach the statement (checked by the pattern above
            // and made of [a-z0-9_]).
            if old && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut *conn)
                    .await;
            }
        }
    }

    /// A migrated, empty Postgres database, or `None` when skipped (see [`fresh_postgres_url`]).
    pub async fn postgres(test: &str) -> Option<Db> {
        let url = fresh_postgres_url(test).await?;
        Some(Db::connect(&url).await.expect("postgres connects"))
    }
}
