//! Pending connect attempts: the `state` handed to the service and the row behind it.
//!
//! The `state` is `sy1.{key id}.{sealed}`: `{sid, cid, exp}` sealed with the credential
//! store's key ring (AES-256-GCM, so it is both secret and tamper-proof), bound to the
//! credential it was issued for. The row keyed by `sid` holds the PKCE verifier (sealed
//! too) and the redirect URI; deleting it is what consumes the state, so of two callbacks
//! carrying one state exactly one finds the row. Both the server and `switchyard
//! credentials connect` write rows; the server's callback completes either.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use credentials::CredentialStore;
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long an authorize URL can be completed.
pub const STATE_TTL: TimeDelta = TimeDelta::minutes(5);

/// Binds a sealed state to its purpose: no other blob sealed by the ring opens as a state.
const STATE_AAD: &[u8] = b"switchyard oauth2 state v1";
const STATE_PREFIX: &str = "sy1";

/// Why a callback's state was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not a state this Switchyard issued, or altered on the way.
    #[error("the state is not one this Switchyard issued, or it was altered")]
    Invalid,
    /// Older than [`STATE_TTL`].
    #[error("the connect attempt expired")]
    Expired,
    /// Consumed by an earlier callback (or its credential was deleted).
    #[error("the connect attempt was already completed")]
    AlreadyUsed,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What the sealed state holds.
#[derive(Serialize, Deserialize)]
struct Claims {
    sid: String,
    cid: String,
    exp: i64,
}

/// A new attempt: the state and the PKCE challenge to put in the authorize URL. `Debug`
/// hides the state, which completes the attempt for whoever holds it.
pub struct Started {
    /// The `state` parameter.
    pub state: String,
    /// The S256 challenge of the verifier kept in the row.
    pub challenge: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("state", &"[redacted]")
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// A consumed attempt: what the code exchange needs. `Debug` hides the verifier.
#[derive(Debug)]
pub struct Pending {
    /// The credential the attempt was started for.
    pub credential_id: String,
    /// The PKCE verifier.
    pub verifier: SecretString,
    /// The redirect URI the authorize URL named (the exchange must repeat it).
    pub redirect_uri: String,
}

fn stamp(at: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order on both backends.
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn verifier_aad(sid: &str) -> Vec<u8> {
    format!("oauth_states/{sid}").into_bytes()
}

/// Records a new attempt for `credential_id` and returns its state and PKCE challenge.
/// Expired attempts of any credential are removed on the way.
pub async fn start(
    store: &CredentialStore,
    credential_id: &str,
    redirect_uri: &str,
    now: DateTime<Utc>,
) -> Result<Started, StateError> {
    let pool = store.db().pool();
    sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
        .bind(stamp(now))
        .execute(pool)
        .await?;
    let mut sid = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut sid);
    let sid = URL_SAFE_NO_PAD.encode(sid);
    // PKCE (RFC 7636): 32 random bytes as the verifier, its S256 hash as the challenge.
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let pkce_verifier = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes));
    let expires = now + STATE_TTL;
    let verifier = store
        .keys()
        .seal(pkce_verifier.as_bytes(), &verifier_aad(&sid));
    sqlx::query(
        "INSERT INTO oauth_states (id, credential_id, verifier_key_id, verifier, redirect_uri, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&sid)
    .bind(credential_id)
    .bind(&verifier.key_id)
    .bind(verifier.blob)
    .bind(redirect_uri)
    .bind(stamp(now))
    .bind(stamp(expires))
    .execute(pool)
    .await?;
    let claims = serde_json::to_vec(&Claims {
        sid,
        cid: credential_id.to_owned(),
        exp: expires.timestamp(),
    })
    .expect("claims serialize");
    let sealed = store.keys().seal(&claims, STATE_AAD);
    Ok(Started {
        state: format!(
            "{STATE_PREFIX}.{}.{}",
            sealed.key_id,
            URL_SAFE_NO_PAD.encode(sealed.blob)
        ),
        challenge: challenge(&pkce_verifier),
    })
}

/// The PKCE S256 challenge of `verifier`: `BASE64URL(SHA256(verifier))`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Opens a state without consuming it: the credential it names and its claims.
fn open(store: &CredentialStore, state: &str) -> Result<Claims, StateError> {
    let mut parts = state.splitn(3, '.');
    let (Some(STATE_PREFIX), Some(key_id), Some(blob)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(StateError::Invalid);
    };
    let blob = URL_SAFE_NO_PAD
        .decode(blob)
        .map_err(|_| StateError::Invalid)?;
    let plain = store
        .keys()
        .open(key_id, &blob, STATE_AAD)
        .map_err(|_| StateError::Invalid)?;
    serde_json::from_slice(&plain).map_err(|_| StateError::Invalid)
}

/// The credential a genuine state was issued for, without consuming it.
pub fn peek(store: &CredentialStore, state: &str) -> Result<String, StateError> {
    open(store, state).map(|claims| claims.cid)
}

/// Checks and consumes a state: at most one caller ever gets `Ok` for one state.
pub async fn take(
    store: &CredentialStore,
    state: &str,
    now: DateTime<Utc>,
) -> Result<Pending, StateError> {
    let claims = open(store, state)?;
    let row: Option<(String, Vec<u8>, String, String)> = sqlx::query_as(
        "DELETE FROM oauth_states WHERE id = $1 AND credential_id = $2 \
         RETURNING verifier_key_id, verifier, redirect_uri, expires_at",
    )
    .bind(&claims.sid)
    .bind(&claims.cid)
    .fetch_optional(store.db().pool())
    .await?;
    // The sealed expiry is checked too: a row outliving its state (a clock set back) does not help.
    let expired =
        |expires_at: &str| expires_at < stamp(now).as_str() || claims.exp < now.timestamp();
    let Some((key_id, blob, redirect_uri, expires_at)) = row else {
        return Err(if claims.exp < now.timestamp() {
            StateError::Expired
        } else {
            StateError::AlreadyUsed
        });
    };
    if expired(&expires_at) {
        return Err(StateError::Expired);
    }
    let verifier = store
        .keys()
        .open(&key_id, &blob, &verifier_aad(&claims.sid))
        .map_err(|_| StateError::Invalid)?;
    let verifier = String::from_utf8(verifier.to_vec()).map_err(|_| StateError::Invalid)?;
    Ok(Pending {
        credential_id: claims.cid,
        verifier: SecretString::from(verifier),
        redirect_uri,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use credentials::{
        Actor, CredentialType, CredentialTypes, EncryptionKey, FieldKind, FieldSpec, KeyRing,
        NewCredential, ValidateOptions,
    };
    use serde_json::json;

    use super::*;
    use secrecy::ExposeSecret;

    fn oauth2_type() -> CredentialType {
        CredentialType {
            oauth2: true,
            ..CredentialType::new(
                "testOAuth2Api",
                "Test OAuth2",
                vec![FieldSpec {
                    name: "clientId",
                    kind: FieldKind::Text,
                    required: true,
                    secret: false,
                    description: "",
                    default: None,
                }],
            )
        }
    }

    async fn store() -> (CredentialStore, tempfile::TempDir, String) {
        let (db, dir) = db::testing::sqlite().await;
        let keys = KeyRing::new(EncryptionKey::generate(), vec![]);
        let store = CredentialStore::new(
            db,
            Arc::new(keys),
            Arc::new(CredentialTypes::new([oauth2_type()]).expect("distinct types")),
            ValidateOptions::default(),
        );
        let meta = store
            .create(
                NewCredential {
                    id: None,
                    name: "svc".into(),
                    type_name: "testOAuth2Api".into(),
                    data: json!({"clientId": "k"}),
                },
                &Actor::Cli,
            )
            .await
            .unwrap();
        (store, dir, meta.id)
    }

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        // Expected value computed with `openssl dgst -sha256 -binary | base64url`.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFAEjXk"),
            "45XvN4R_7A9kchqu77ariGP4_g2syBYofEi-lcR5joM"
        );
    }

    #[tokio::test]
    async fn a_state_works_once_and_gives_back_its_verifier() {
        let (store, _dir, id) = store().await;
        let now = Utc::now();
        let started = start(&store, &id, "https://sy.example/cb", now)
            .await
            .unwrap();
        let pending = take(&store, &started.state, now).await.unwrap();
        assert_eq!(pending.credential_id, id);
        assert_eq!(pending.redirect_uri, "https://sy.example/cb");
        assert_eq!(
            challenge(pending.verifier.expose_secret()),
            started.challenge
        );
        assert!(!format!("{pending:?}").contains(pending.verifier.expose_secret()));
        assert!(!format!("{started:?}").contains(&started.state));
        assert!(matches!(
            take(&store, &started.state, now).await,
            Err(StateError::AlreadyUsed)
        ));
    }

    #[tokio::test]
    async fn a_state_expires_after_five_minutes() {
        let (store, _dir, id) = store().await;
        let then = Utc::now();
        let started = start(&store, &id, "https://sy.example/cb", then)
            .await
            .unwrap();
        let later = then + STATE_TTL + TimeDelta::seconds(1);
        assert!(matches!(
            take(&store, &started.state, later).await,
            Err(StateError::Expired)
        ));
        let fresh = start(&store, &id, "https://sy.example/cb", then)
            .await
            .unwrap();
        let just_in_time = then + STATE_TTL - TimeDelta::seconds(1);
        assert!(take(&store, &fresh.state, just_in_time).await.is_ok());
    }

    #[tokio::test]
    async fn an_altered_or_foreign_state_is_invalid() {
        let (store, _dir, id) = store().await;
        let now = Utc::now();
        let started = start(&store, &id, "https://sy.example/cb", now)
            .await
            .unwrap();
        let mut flipped = started.state.clone().into_bytes();
        let last = flipped.len() - 5;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in ["", "sy1", "sy1.x.y", "nonsense", flipped.as_str()] {
            assert!(
                matches!(take(&store, bad, now).await, Err(StateError::Invalid)),
                "{bad}"
            );
        }
        // Sealed by another Switchyard's key.
        let (other, _dir2, other_id) = self::store().await;
        let foreign = start(&other, &other_id, "https://sy.example/cb", now)
            .await
            .unwrap();
        assert!(matches!(
            take(&store, &foreign.state, now).await,
            Err(StateError::Invalid)
        ));
        // The genuine one still works: the failures consumed nothing.
        assert!(take(&store, &started.state, now).await.is_ok());
    }
}
