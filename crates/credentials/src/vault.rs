//! The vault: AES-256-GCM encryption keys, the key ring used for rotation, and loading
//! the key from the environment, a file, or a generated file in the data directory.
//!
//! A sealed blob is `nonce (12 bytes) || ciphertext || tag (16 bytes)`; the id of the key
//! that sealed it is stored beside it, so a ring holding the current key and any previous
//! keys can open every blob written before a rotation finished.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Length of the random nonce that starts every sealed blob.
pub const NONCE_LEN: usize = 12;
/// Length of the GCM authentication tag that ends every sealed blob.
pub const TAG_LEN: usize = 16;

/// The variable holding the current key.
pub const KEY_VAR: &str = "SWITCHYARD_ENCRYPTION_KEY";
/// The variable naming a file holding the current key.
pub const KEY_FILE_VAR: &str = "SWITCHYARD_ENCRYPTION_KEY_FILE";
/// The variable holding previous keys (comma separated), accepted for decryption only.
pub const PREVIOUS_KEYS_VAR: &str = "SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS";
/// Name of the key file generated in the data directory when no key is configured.
pub const GENERATED_KEY_FILE: &str = "encryption.key";

/// What a key must look like; shown in every key format error instead of the value.
const EXPECTED_FORM: &str =
    "expected 32 bytes as 64 hex characters or base64; generate one with `openssl rand -hex 32`";

/// A key given in a form other than 32 bytes of hex or base64. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid encryption key: {detail}{EXPECTED_FORM}")]
pub struct KeyFormatError {
    // What was wrong, e.g. "it decodes to 31 bytes; " (a length, never content).
    detail: String,
}

/// Errors from loading keys, sealing or opening blobs.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A configured key has the wrong form; `source` names the variable or file it came from.
    #[error("{source_name}: {error}")]
    KeyFormat {
        /// Where the key came from (a variable name, or a variable and a file path).
        source_name: String,
        /// What was wrong with it.
        error: KeyFormatError,
    },
    /// Both the key and the key file were configured; only one may be.
    #[error("both {KEY_VAR} and {KEY_FILE_VAR} are set; set only one of them")]
    BothKeySources,
    /// The key file (configured or generated) could not be read or written.
    #[error("encryption key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A blob was sealed with a key the ring does not hold.
    #[error(
        "no encryption key with id {key_id} is configured; set it as {KEY_VAR} or add it to {PREVIOUS_KEYS_VAR}"
    )]
    UnknownKey {
        /// The public id of the missing key.
        key_id: String,
    },
    /// The blob did not authenticate: it was altered, truncated, or belongs to another record.
    #[error("decryption failed: the data was altered or belongs to another record")]
    Decrypt,
}

/// A 32-byte AES-256 key. Zeroized on drop; `Debug` shows only its public id.
#[derive(Clone)]
pub struct EncryptionKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl EncryptionKey {
    /// Parses 64 hex characters or base64 (standard or URL-safe, padded or not) of exactly
    /// 32 bytes; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyFormatError {
                detail: "it is empty; ".into(),
            });
        }
        let all_hex = text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let decoded = if all_hex && text.len() == 64 {
            Zeroizing::new(hex::decode(text).map_err(|_| KeyFormatError {
                detail: String::new(),
            })?)
        } else {
            match decode_base64(text) {
                Some(bytes) if bytes.len() == 32 || !all_hex => bytes,
                // Hex of the wrong length (say, 31 bytes): report the length it meant.
                _ if all_hex => Zeroizing::new(vec![0; text.len() / 2]),
                _ => {
                    return Err(KeyFormatError {
                        detail: "it is neither hex nor base64; ".into(),
                    })
                }
            }
        };
        if decoded.len() != 32 {
            return Err(KeyFormatError {
                detail: format!("it decodes to {} bytes; ", decoded.len()),
            });
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&decoded);
        Ok(Self::from_bytes(bytes))
    }

    /// A new random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self::from_bytes(bytes)
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        // Domain separation keeps the public id unrelated to any other hash of the key.
        let mut hasher = Sha256::new();
        hasher.update(b"switchyard encryption key id v1\0");
        hasher.update(bytes.as_ref());
        let id = hex::encode(&hasher.finalize()[..8]);
        Self { bytes, id }
    }

    /// A short, stable, public identifier of this key (16 hex characters), stored beside
    /// every blob it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as 64 lowercase hex characters, for writing a generated key file.
    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.bytes.as_ref()))
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey([redacted], id={})", self.id)
    }
}

fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .map(Zeroizing::new)
}

/// A blob sealed by [`KeyRing::seal`]: the id of the key used and `nonce || ciphertext || tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that sealed the blob.
    pub key_id: String,
    /// `nonce || ciphertext || tag`.
    pub blob: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("len", &self.blob.len())
            .finish()
    }
}

struct RingKey {
    key: EncryptionKey,
    cipher: Aes256Gcm,
}

impl RingKey {
    fn new(key: EncryptionKey) -> Self {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes.as_ref()));
        Self { key, cipher }
    }
}

/// The current key (used to seal) and previous keys (accepted to open), for rotation
/// without downtime.
pub struct KeyRing {
    current: RingKey,
    previous: Vec<RingKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let previous: Vec<&str> = self.previous.iter().map(|k| k.key.id()).collect();
        f.debug_struct("KeyRing")
            .field("current", &self.current.key.id())
            .field("previous", &previous)
            .finish()
    }
}

/// Where [`KeyRing::load`] found the current key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// From `SWITCHYARD_ENCRYPTION_KEY`.
    Env,
    /// From a file: `SWITCHYARD_ENCRYPTION_KEY_FILE`, or a key file generated by an earlier start.
    File(PathBuf),
    /// Generated just now into this file; the operator should back it up.
    Generated(PathBuf),
}

/// Where to find the keys; built by the engine from the environment and flags.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// `SWITCHYARD_ENCRYPTION_KEY`.
    pub key: Option<SecretString>,
    /// `SWITCHYARD_ENCRYPTION_KEY_FILE`.
    pub key_file: Option<PathBuf>,
    /// `SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS`: a comma separated list.
    pub previous: Option<SecretString>,
    /// The data directory, where a key is generated when none is configured.
    pub data_dir: PathBuf,
}

impl KeyRing {
    /// A ring sealing with `current` and opening with it or any of `previous`.
    pub fn new(current: EncryptionKey, previous: Vec<EncryptionKey>) -> Self {
        let mut seen = vec![current.id().to_owned()];
        let previous = previous
            .into_iter()
            .filter(|k| {
                let new = !seen.iter().any(|id| id == k.id());
                seen.push(k.id().to_owned());
                new
            })
            .map(RingKey::new)
            .collect();
        Self {
            current: RingKey::new(current),
            previous,
        }
    }

    /// Loads the ring as `cfg` says: the current key from the variable, else the key file,
    /// else `data_dir/encryption.key` (generated with mode 0600 when absent), and the
    /// previous keys from their comma list.
    pub fn load(cfg: &KeyConfig) -> Result<(KeyRing, KeySource), VaultError> {
        let (current, source) = match (&cfg.key, &cfg.key_file) {
            (Some(_), Some(_)) => return Err(VaultError::BothKeySources),
            (Some(key), None) => {
                let key = EncryptionKey::parse(key.expose_secret()).map_err(|error| {
                    VaultError::KeyFormat {
                        source_name: KEY_VAR.into(),
                        error,
                    }
                })?;
                (key, KeySource::Env)
            }
            (None, Some(path)) => {
                let key = read_key_file(path, &format!("{KEY_FILE_VAR} ({})", path.display()))?;
                (key, KeySource::File(path.clone()))
            }
            (None, None) => load_or_generate(&cfg.data_dir)?,
        };
        let mut previous = Vec::new();
        if let Some(list) = &cfg.previous {
            for (index, item) in list.expose_secret().split(',').enumerate() {
                if item.trim().is_empty() {
                    continue;
                }
                let key = EncryptionKey::parse(item).map_err(|error| VaultError::KeyFormat {
                    source_name: format!("{PREVIOUS_KEYS_VAR} (item {})", index + 1),
                    error,
                })?;
                previous.push(key);
            }
        }
        Ok((KeyRing::new(current, previous), source))
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        self.current.key.id()
    }

    /// The ids of the previous keys, accepted for opening only.
    pub fn previous_ids(&self) -> Vec<&str> {
        self.previous.iter().map(|k| k.key.id()).collect()
    }

    /// Whether the ring holds the key with this id.
    pub fn has(&self, key_id: &str) -> bool {
        self.find(key_id).is_some()
    }

    fn find(&self, key_id: &str) -> Option<&RingKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.key.id() == key_id)
    }

    /// Encrypts `plaintext` under the current key with a fresh random nonce; `aad` binds
    /// the blob to its record (the credential id).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Encryption only fails for inputs beyond GCM's 64 GiB limit.
            .expect("AES-GCM encrypts any input below 64 GiB");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Sealed {
            key_id: self.current_id().to_owned(),
            blob,
        }
    }

    /// Decrypts a blob sealed by the key `key_id` with the same `aad`.
    pub fn open(
        &self,
        key_id: &str,
        blob: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let key = self.find(key_id).ok_or_else(|| VaultError::UnknownKey {
            key_id: key_id.to_owned(),
        })?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Decrypt);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Decrypt)
    }
}

fn read_key_file(path: &Path, source_name: &str) -> Result<EncryptionKey, VaultError> {
    let mut text = std::fs::read_to_string(path).map_err(|source| VaultError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    let key = EncryptionKey::parse(&text).map_err(|error| VaultError::KeyFormat {
        source_name: source_name.to_owned(),
        error,
    });
    text.zeroize();
    key
}

fn load_or_generate(data_dir: &Path) -> Result<(EncryptionKey, KeySource), VaultError> {
    let path = data_dir.join(GENERATED_KEY_FILE);
    let io_err = |source| VaultError::KeyFile {
        path: path.clone(),
        source,
    };
    let describe = format!("generated key file {}", path.display());
    if path.exists() {
        return Ok((read_key_file(&path, &describe)?, KeySource::File(path)));
    }
    std::fs::create_dir_all(data_dir).map_err(io_err)?;
    let key = EncryptionKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created with 0600 directly, so the key is never readable by others, not even briefly.
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            let mut line = key.to_hex();
            line.push('\n');
            file.write_all(line.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_err)?;
            Ok((key, KeySource::Generated(path)))
        }
        // Another process generated it between our check and our create: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_key_file(&path, &describe)?, KeySource::File(path)))
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(EncryptionKey::generate(), vec![])
    }

    #[test]
    fn round_trip_with_aad() {
        let ring = ring();
        let sealed = ring.seal(b"hello", b"id1");
        assert_eq!(sealed.key_id, ring.current_id());
        assert_eq!(sealed.blob.len(), NONCE_LEN + 5 + TAG_LEN);
        let opened = ring.open(&sealed.key_id, &sealed.blob, b"id1").unwrap();
        assert_eq!(opened.as_slice(), b"hello");
    }

    #[test]
    fn fresh_nonce_per_seal() {
        let ring = ring();
        let a = ring.seal(b"same", b"id");
        let b = ring.seal(b"same", b"id");
        assert_ne!(a.blob, b.blob);
        assert_ne!(a.blob[..NONCE_LEN], b.blob[..NONCE_LEN]);
    }

    #[test]
    fn every_flipped_byte_fails_without_panic() {
        let ring = ring();
        let sealed = ring.seal(b"secret value", b"id");
        for i in 0..sealed.blob.len() {
            let mut blob = sealed.blob.clone();
            blob[i] ^= 0x01;
            assert!(
                matches!(
                    ring.open(&sealed.key_id, &blob, b"id"),
                    Err(VaultError::Decrypt)
                ),
                "byte {i}"
            );
        }
        assert!(matches!(
            ring.open(&sealed.key_id, &sealed.blob[..20], b"id"),
            Err(VaultError::Decrypt)
        ));
        assert!(matches!(
            ring.open(&sealed.key_id, &[], b"id"),
            Err(VaultError::Decrypt)
        ));
    }

    #[test]
    fn wrong_aad_fails() {
        let ring = ring();
        let sealed = ring.seal(b"x", b"id1");
        assert!(matches!(
            ring.open(&sealed.key_id, &sealed.blob, b"id2"),
            Err(VaultError::Decrypt)
        ));
    }

    #[test]
    fn unknown_key_id_fails_naming_it() {
        let old = KeyRing::new(EncryptionKey::generate(), vec![]);
        let sealed = old.seal(b"x", b"id");
        let other = ring();
        let err = other.open(&sealed.key_id, &sealed.blob, b"id").unwrap_err();
        assert!(matches!(&err, VaultError::UnknownKey { key_id } if *key_id == sealed.key_id));
        assert!(err.to_string().contains(&sealed.key_id));
    }

    #[test]
    fn previous_key_opens_and_current_seals() {
        let old = EncryptionKey::generate();
        let new = EncryptionKey::generate();
        let old_ring = KeyRing::new(old.clone(), vec![]);
        let sealed = old_ring.seal(b"x", b"id");
        let ring = KeyRing::new(new.clone(), vec![old.clone(), new.clone(), old.clone()]);
        assert_eq!(
            ring.previous_ids(),
            vec![old.id()],
            "duplicates and the current key are dropped"
        );
        assert_eq!(
            ring.open(&sealed.key_id, &sealed.blob, b"id")
                .unwrap()
                .as_slice(),
            b"x"
        );
        assert_eq!(ring.seal(b"x", b"id").key_id, new.id());
        assert!(ring.has(old.id()) && ring.has(new.id()) && !ring.has("0000000000000000"));
    }
}
