//! Integration tests for the credentials crate, in one binary so it links once.
//!
//! CredentialStore stories run against both backends: a SQLite file, and a fresh database on the
//! Postgres server named by `SWITCHYARD_TEST_POSTGRES_URL` (skipped with a printed line
//! when unset outside CI).

mod common;
mod no_secrets;
mod rotation;
mod store;
mod transfer;
mod validation;
mod vault;
