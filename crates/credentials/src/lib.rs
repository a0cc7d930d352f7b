//! Credentials for Switchyard: credential types and their fields, the AES-256-GCM vault,
//! and the encrypted credential store on SQLite or Postgres.
//!
//! # Layout
//! - [`db`]: the database handle (one pool for both backends) and the embedded migrations.

pub mod db;

pub use db::{Backend, Db, DbError};
