//! Checking a webhook's caller before any execution starts, as n8n's Webhook node does: the
//! IP allow list (`options.ipWhitelist`), then the node's `authentication` against its
//! credential (`httpBasicAuth`, `httpHeaderAuth`, `jwtAuth`).
//!
//! The address that counts is the TCP peer's. `X-Forwarded-For` is read only when the
//! operator says how many proxies append to it (`SWITCHYARD_PROXY_HOPS`): any caller can send
//! the header, so only the entries our own proxies appended are believed.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use node_api::{CredentialProvider, CredentialRef, DecryptedCredential};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use workflow::model::WorkflowNode;
use workflow::webhook::parse_ip_allow_list;

/// Why a caller is turned away; answered before any execution starts.
#[derive(Debug)]
pub enum Refusal {
    /// No credentials were presented (401); `basic` adds the `WWW-Authenticate` challenge.
    Unauthorized {
        /// n8n's message.
        message: &'static str,
        /// Whether to challenge for HTTP Basic.
        basic: bool,
    },
    /// Wrong credentials, or an address not allowed (403).
    Forbidden(&'static str),
    /// The node cannot check callers (its credential is gone): refused, never served open.
    Misconfigured(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthorized { message, basic } => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({ "message": message })),
                )
                    .into_response();
                if basic {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"Webhook\""),
                    );
                }
                response
            }
            Refusal::Forbidden(message) => {
                (StatusCode::FORBIDDEN, Json(json!({ "message": message }))).into_response()
            }
            Refusal::Misconfigured(message) => {
                tracing::warn!(%message, "a webhook cannot check its callers");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({ "message": message })),
                )
                    .into_response()
            }
        }
    }
}

/// Checks the caller of `node` (a Webhook node). `Ok(Some(payload))` for a valid JWT, whose
/// claims the node's item carries as `jwtPayload`, as n8n's.
pub async fn check(
    node: &WorkflowNode,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    credentials: &dyn CredentialProvider,
) -> Result<Option<Value>, Refusal> {
    check_address(node, peer)?;
    let mode = node
        .parameters
        .get("authentication")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let credential_type = match workflow::webhook::WEBHOOK_AUTHENTICATION
        .iter()
        .find(|(m, _)| *m == mode)
    {
        Some((_, None)) => return Ok(None),
        Some((_, Some(type_name))) => *type_name,
        // Refused at save; a row saved before that check still never serves open.
        None => {
            return Err(Refusal::Misconfigured(format!(
                "Webhook \"{}\": authentication \"{mode}\" is not supported",
                node.name
            )))
        }
    };
    let credential = credential_of(node, credential_type, credentials).await?;
    match mode {
        "basicAuth" => check_basic(headers, &credential).map(|()| None),
        "headerAuth" => check_header(headers, &credential).map(|()| None),
        _ => check_jwt(headers, &credential).map(Some),
    }
}

fn check_address(node: &WorkflowNode, peer: Option<IpAddr>) -> Result<(), Refusal> {
    let Some(list) = node
        .parameters
        .get("options")
        .and_then(|o| o.get("ipWhitelist"))
        .and_then(Value::as_str)
        .filter(|l| !l.trim().is_empty())
    else {
        return Ok(());
    };
    const NOT_ALLOWED: &str = "IP is not whitelisted to access the webhook!";
    let allowed = parse_ip_allow_list(list).map_err(|_| Refusal::Forbidden(NOT_ALLOWED))?;
    let peer = peer.ok_or(Refusal::Forbidden(NOT_ALLOWED))?.to_canonical();
    if allowed.iter().any(|net| net.contains(&peer)) {
        Ok(())
    } else {
        Err(Refusal::Forbidden(NOT_ALLOWED))
    }
}

async fn credential_of(
    node: &WorkflowNode,
    credential_type: &str,
    credentials: &dyn CredentialProvider,
) -> Result<DecryptedCredential, Refusal> {
    let missing = |why: String| {
        Refusal::Misconfigured(format!(
            "Webhook \"{}\" cannot check callers: {why}",
            node.name
        ))
    };
    let reference = node
        .credentials
        .as_ref()
        .and_then(|c| c.get(credential_type))
        .map(CredentialRef::from)
        .ok_or_else(|| missing(format!("no {credential_type} credential is set")))?;
    credentials
        .get(&reference, credential_type)
        .await
        .map_err(|e| missing(e.message))
}

/// The caller's address: the TCP `peer`, or with `hops` trusted proxies in front, the
/// `hops`th `X-Forwarded-For` entry from the right (the one the outermost proxy appended).
/// Fewer entries than proxies means the call did not come through them: the peer counts.
pub fn client_address(headers: &HeaderMap, peer: Option<IpAddr>, hops: u64) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let hops = usize::try_from(hops).unwrap_or(usize::MAX);
    if entries.len() < hops {
        return peer;
    }
    // An entry that is not an address (a proxy's own token) counts as no address at all.
    entries[entries.len() - hops].parse().ok()
}

/// Compares through SHA-256 digests, so the time taken says nothing about the secret.
fn same(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given) == Sha256::digest(expected)
}

const WRONG: &str = "Authorization data is wrong!";

fn check_basic(headers: &HeaderMap, credential: &DecryptedCredential) -> Result<(), Refusal> {
    let required = Refusal::Unauthorized {
        message: "Authorization is required!",
        basic: true,
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(required)?;
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(Refusal::Forbidden(WRONG))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Refusal::Forbidden(WRONG));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| Refusal::Forbidden(WRONG))?;
    let split = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or(Refusal::Forbidden(WRONG))?;
    let (user, password) = (&decoded[..split], &decoded[split + 1..]);
    let expected_user = credential
        .string("user")
        .map_err(|_| Refusal::Forbidden(WRONG))?;
    let expected_password = credential
        .secret("password")
        .map_err(|_| Refusal::Forbidden(WRONG))?;
    let user_ok = same(user, expected_user.as_bytes());
    let password_ok = same(password, expected_password.expose_secret().as_bytes());
    if user_ok && password_ok {
        Ok(())
    } else {
        Err(Refusal::Forbidden(WRONG))
    }
}

fn check_header(headers: &HeaderMap, credential: &DecryptedCredential) -> Result<(), Refusal> {
    let name = credential
        .string("name")
        .map_err(|_| Refusal::Forbidden(WRONG))?;
    let expected = credential
        .secret("value")
        .map_err(|_| Refusal::Forbidden(WRONG))?;
    let given = headers
        .get(name.trim())
        .map(HeaderValue::as_bytes)
        .ok_or(Refusal::Forbidden(WRONG))?;
    if same(given, expected.expose_secret().as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::Forbidden(WRONG))
    }
}

fn check_jwt(headers: &HeaderMap, credential: &DecryptedCredential) -> Result<Value, Refusal> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    const INVALID: &str = "Invalid token";
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(Refusal::Unauthorized {
            message: "No token provided",
            basic: false,
        })?;
    let algorithm: Algorithm = credential
        .string("algorithm")
        .unwrap_or("HS256")
        .parse()
        .map_err(|_| Refusal::Forbidden(INVALID))?;
    let key = match credential.string("keyType").unwrap_or("passphrase") {
        "pemKey" => {
            let pem = credential
                .string("publicKey")
                .map_err(|_| Refusal::Forbidden(INVALID))?;
            let pem = pem.replace("\\n", "\n");
            match algorithm {
                Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()),
                Algorithm::EdDSA => DecodingKey::from_ed_pem(pem.as_bytes()),
                _ => DecodingKey::from_rsa_pem(pem.as_bytes()),
            }
            .map_err(|_| Refusal::Forbidden(INVALID))?
        }
        _ => {
            let secret = credential
                .secret("secret")
                .map_err(|_| Refusal::Forbidden(INVALID))?;
            DecodingKey::from_secret(secret.expose_secret().as_bytes())
        }
    };
    // As n8n's `jwt.verify`: the algorithm is fixed by the credential, `exp` and `nbf` are
    // checked when present, and no claim is required.
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| Refusal::Forbidden(INVALID))
}
