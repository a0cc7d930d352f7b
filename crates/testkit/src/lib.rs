//! Helpers shared by the workspace's integration tests (a dev-dependency only).
//!
//! # Layout
//! - [`keys`]: throwaway RSA keys (PKCS#8 PEM), their public halves and self-signed
//!   certificates, made in-process with the `rsa` and `rcgen` crates.
//! - [`logs`]: `tracing` output captured into a buffer a test can read.

pub mod keys;
pub mod logs;

pub use keys::RsaKey;
pub use logs::LogCapture;
